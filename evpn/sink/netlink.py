"""Program a Linux VTEP over rtnetlink: remote MACs, flood lists, neighbours and VRF routes.

:class:`NetlinkSink` writes the entries of :mod:`evpn.sink.ops` into the kernel the way FRR's
zebra does (``docs/dataplane.md``):

=================  ==========================================================================
``FdbEntry``       ``RTM_NEWNEIGH`` ``AF_BRIDGE`` on the VXLAN device, ``NLM_F_CREATE|NLM_F_REPLACE``,
                   ``NTF_SELF|NTF_MASTER|NTF_EXT_LEARNED``, ``NUD_REACHABLE``, ``NDA_LLADDR``,
                   ``NDA_DST`` (the VTEP), ``NDA_MASTER`` (the bridge): one message fills the
                   VXLAN FDB and the bridge FDB.  Sticky: ``NTF_STICKY`` and
                   ``NUD_REACHABLE|NUD_NOARP`` instead of ``NTF_EXT_LEARNED``.
``FloodEntry``     ``RTM_NEWNEIGH`` ``AF_BRIDGE`` on the VXLAN device, ``NLM_F_CREATE|NLM_F_APPEND``,
                   ``NTF_SELF|NTF_EXT_LEARNED``, ``NUD_NOARP|NUD_PERMANENT``, the all-zero MAC and
                   ``NDA_DST`` (the VTEP).  Removal deletes exactly that (MAC, VTEP) pair.
``NeighborEntry``  ``RTM_NEWNEIGH`` ``AF_INET``/``AF_INET6`` on the SVI (the bridge),
                   ``NLM_F_CREATE|NLM_F_REPLACE``, ``NTF_EXT_LEARNED``, ``NUD_NOARP``,
                   ``NDA_PROTOCOL`` = :data:`RTPROT_EVPN`.
``RouteEntry``     ``RTM_NEWROUTE`` ``NLM_F_CREATE|NLM_F_REPLACE`` in the entry's table, protocol
                   :data:`RTPROT_EVPN`, metric :data:`ROUTE_METRIC`, ``RTA_GATEWAY`` +
                   ``RTA_OIF`` with ``RTNH_F_ONLINK``, or ``RTA_MULTIPATH`` of onlink next hops.
=================  ==========================================================================

Every entry carries our mark, by which :meth:`NetlinkSink.reconcile` tells it from others':
``NTF_EXT_LEARNED`` on FDB and flood entries, ``NTF_EXT_LEARNED`` and ``NDA_PROTOCOL``
:data:`RTPROT_EVPN` (both needed) on neighbours, protocol :data:`RTPROT_EVPN` on routes.  Two
kernel rules shape this:

* The VXLAN device never lets an ``NTF_EXT_LEARNED`` update take over an entry added without it
  (its flags and state stay), and the bridge keeps a static entry static.  So a sticky MAC, which
  cannot carry the mark, counts as ours only when the desired state names it or this sink
  installed it, and turning a sticky MAC into an ordinary one removes it first.
* The flags of a VXLAN FDB entry are per MAC, shared by all the destinations of the all-zero
  flood entry: the flood list of a VXLAN device evpn manages is evpn's as a whole.  Once marked,
  a destination added to it by hand is removed by :meth:`NetlinkSink.reconcile` unless desired;
  a flood list started by hand stays unmarked, and evpn then cannot recognise its own stale
  destinations in it after a restart.  Do not add flood entries by hand to such devices.

**Batching.**  :meth:`NetlinkSink.apply` does not wait for the kernel after each entry: it packs
the messages itself (plain :mod:`struct`, much faster than a generic encoder), sends up to
8 KiB of them per ``send`` and asks for acknowledgements of errors only, closing every batch with
an ``NLMSG_NOOP`` that does ask for one; rtnetlink handles a batch synchronously within ``send``,
so when that acknowledgement arrives every error of the batch is already queued before it.  Each
error is mapped back to its operation by sequence number.  The socket's receive buffer is
enlarged, and the number of messages per batch bounded by it, so that no error can be lost.

**Threads.**  pyroute2 is used for its constants and to parse links and routes; neighbour dumps
(possibly hundreds of thousands of entries) are parsed by hand for speed.  Every netlink call
runs on one worker thread per sink, so trio never blocks; a sink for another network namespace
opens its socket there (``setns`` in a short-lived thread: sockets keep the namespace they were
made in) and the worker thread itself never changes namespace.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import errno
import logging
import os
import queue
import socket
import struct
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import trio
from pyroute2 import netns as pr_netns
from pyroute2.netlink import (
    NETLINK_EXT_ACK,
    NETLINK_GET_STRICT_CHK,
    NLM_F_ACK,
    NLM_F_ACK_TLVS,
    NLM_F_APPEND,
    NLM_F_CAPPED,
    NLM_F_CREATE,
    NLM_F_DUMP,
    NLM_F_DUMP_INTR,
    NLM_F_REPLACE,
    NLM_F_REQUEST,
    NLMSG_DONE,
    NLMSG_ERROR,
    NLMSG_NOOP,
    SOL_NETLINK,
)
from pyroute2.netlink.rtnl import (
    RTM_DELLINK,
    RTM_DELNEIGH,
    RTM_DELROUTE,
    RTM_GETLINK,
    RTM_GETNEIGH,
    RTM_GETROUTE,
    RTM_NEWLINK,
    RTM_NEWNEIGH,
    RTM_NEWROUTE,
)
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
from pyroute2.netlink.rtnl.ndmsg import (
    NTF_EXT_LEARNED,
    NTF_MASTER,
    NTF_SELF,
    NTF_STICKY,
    NUD_NOARP,
    NUD_PERMANENT,
    NUD_REACHABLE,
)
from pyroute2.netlink.rtnl.rtmsg import RT_SCOPE_NOWHERE, RT_SCOPE_UNIVERSE, RTNH_F_ONLINK, rtmsg

from evpn.sink.base import OpError
from evpn.sink.learn import LinkState, NeighborState
from evpn.sink.ops import Action, Entry, FdbEntry, FloodEntry, NeighborEntry, Op, RouteEntry
from evpn.sink.translate import L2Devices

__all__ = ["ROUTE_METRIC", "RTPROT_EVPN", "NetlinkSink", "NetlinkWatcher", "discover_l2_devices", "vrf_table"]

log = logging.getLogger("evpn.sink.netlink")

RTPROT_EVPN = 235
"""The routing protocol number on the routes (and neighbours) :class:`NetlinkSink` installs: how
they are told apart from everyone else's.  Not among iproute2's ``rt_protos`` (nor FRR's, 186-197);
``ip route show proto 235`` lists them (add ``235 evpn`` to ``/etc/iproute2/rt_protos.d/`` for
a name)."""

ROUTE_METRIC = 20
"""The metric (``RTA_PRIORITY``) of the routes :class:`NetlinkSink` installs, as zebra's: a
connected or static route for the same prefix (metric 0) keeps precedence and is never replaced."""

T = TypeVar("T")

# Netlink/rtnetlink values that pyroute2 does not export.
_NETLINK_CAP_ACK = 10  # error acknowledgements without the request's payload
_SO_SNDBUFFORCE = 32
_SO_RCVBUFFORCE = 33
_NLMSGERR_ATTR_MSG = 1
_NETLINK_ADD_MEMBERSHIP = 1
_SO_ATTACH_FILTER = 26
_SOCK_FILTER = struct.Struct("=HBBI")  # struct sock_filter
_RTNLGRP_LINK, _RTNLGRP_NEIGH = 1, 3
_IFF_UP = 1
_IFLA_IFNAME, _IFLA_MASTER = 3, 10
_NDA_DST, _NDA_LLADDR, _NDA_VLAN, _NDA_IFINDEX, _NDA_MASTER, _NDA_PROTOCOL = 1, 2, 5, 8, 9, 12
_RTA_DST, _RTA_OIF, _RTA_GATEWAY, _RTA_PRIORITY, _RTA_MULTIPATH, _RTA_TABLE = 1, 4, 5, 6, 9, 15
_RTN_UNICAST = 1
_AF_BRIDGE = socket.AF_BRIDGE
_ZERO_MAC = bytes(6)

_HDR = struct.Struct("=IHHII")  # struct nlmsghdr
_NDMSG = struct.Struct("=BxxxiHBB")  # struct ndmsg
_RTMSG = struct.Struct("=BBBBBBBBI")  # struct rtmsg
_IFINFO = struct.Struct("=BxHiII")  # struct ifinfomsg
_NLA = struct.Struct("=HH")
_RTNH = struct.Struct("=HBBi")  # struct rtnexthop
_I32 = struct.Struct("=i")
_U32 = struct.Struct("=I")
_U16 = struct.Struct("=H")

# One-call packers for the hot path: header, ndmsg, NDA_LLADDR (6 + 2 pad), NDA_DST, [NDA_MASTER].
_FDB4 = struct.Struct("=IHHIIBxxxiHBBHH6s2xHH4s")
_FDB4_MASTER = struct.Struct("=IHHIIBxxxiHBBHH6s2xHH4sHHI")
_FDB6 = struct.Struct("=IHHIIBxxxiHBBHH6s2xHH16s")
_FDB6_MASTER = struct.Struct("=IHHIIBxxxiHBBHH6s2xHH16sHHI")
# Header, ndmsg, NDA_DST, NDA_LLADDR, NDA_PROTOCOL (1 + 3 pad).
_NEIGH4 = struct.Struct("=IHHIIBxxxiHBBHH4sHH6s2xHHB3x")
_NEIGH6 = struct.Struct("=IHHIIBxxxiHBBHH16sHH6s2xHHB3x")

_BATCH_BYTES = 8 * 1024
"""At most this much is sent per ``send`` (about 140 FDB entries).  Larger batches are slower, not
faster: the kernel copies a request of more than a page into a high-order or vmalloc'd buffer
(measured here, 100,000 FDB entries: 0.36 s of kernel time in 2-16 KiB sends, 0.7-1.2 s in
64 KiB ones, 1.6 s in 200 KiB ones)."""
_RCVBUF = 8 * 1024 * 1024
"""Receive buffer asked for (``SO_RCVBUFFORCE``; ``SO_RCVBUF`` up to ``rmem_max`` without it)."""
_WATCH_RCVBUF = 32 * 1024 * 1024
"""Receive buffer of :class:`NetlinkWatcher` (notifications pile up while routes are installed)."""
_TIMEOUT = 60.0
"""Seconds to wait for the kernel (which answers within a send): never forever."""
_ACK_TRUESIZE = 2048
"""A generous bound on the receive-buffer space one error acknowledgement takes (its skb)."""
_SEQ_WRAP = 0xF0000000
"""Batches are numbered from 1 up to about this (a batch that starts below it never wraps);
dumps use the numbers from 0xF8000000 on."""
_MISSING = frozenset({errno.ENOENT, errno.ESRCH})
"""Errors that removing an entry that is not there gives: a removal is done when it is gone."""
_FDB_FLAGS = NTF_SELF | NTF_MASTER | NTF_EXT_LEARNED
_STICKY_FLAGS = NTF_SELF | NTF_MASTER | NTF_STICKY
_STICKY_STATE = NUD_REACHABLE | NUD_NOARP
_FLOOD_FLAGS = NTF_SELF | NTF_EXT_LEARNED
_FLOOD_STATE = NUD_NOARP | NUD_PERMANENT
_REPLACE = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE
_APPEND = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_APPEND
_REMOVE_RANK = {RouteEntry: 0, NeighborEntry: 1, FdbEntry: 2, FloodEntry: 2}
_INSTALL_RANK = {FdbEntry: 0, FloodEntry: 0, NeighborEntry: 1, RouteEntry: 2}


def _nla(kind: int, value: bytes) -> bytes:
    size = 4 + len(value)
    return _NLA.pack(size, kind) + value + bytes(-size % 4)


def _message(kind: int, flags: int, seq: int, body: bytes) -> bytes:
    return _HDR.pack(16 + len(body), kind, flags, seq, 0) + body


def _renumber(message: bytes, seq: int) -> bytes:
    return message[:8] + _U32.pack(seq) + message[12:]


def _family(address: bytes) -> int:
    return socket.AF_INET if len(address) == 4 else socket.AF_INET6


def _ip(text: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text)


# --- the socket ----------------------------------------------------------------------------------


def _open_netlink(netns: str | None) -> socket.socket:
    """An rtnetlink socket in network namespace ``netns`` (the current one for ``None``).

    For a named namespace a short-lived thread enters it and makes the socket: the socket stays
    in that namespace wherever it is used, and no thread of ours is left in another namespace.
    """
    if netns is None:
        return _configure(socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE))
    made: list[socket.socket] = []
    failed: list[BaseException] = []

    def enter() -> None:
        try:
            pr_netns.setns(netns, flags=0)  # flags=0: never create it
            made.append(socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE))
        except BaseException as exc:
            failed.append(exc)

    thread = threading.Thread(target=enter, name=f"evpn-netns-{netns}", daemon=True)
    thread.start()
    thread.join()
    if failed:
        raise OSError(f"cannot open a netlink socket in network namespace {netns!r}: {failed[0]}") from failed[0]
    return _configure(made[0])


def _configure(sock: socket.socket) -> socket.socket:
    try:
        sock.bind((0, 0))
        for option in (_NETLINK_CAP_ACK, NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK):
            # Short error acknowledgements, the kernel's error text, filtered dumps: all optional
            # (older kernels lack some; the dumps are filtered here as well).
            with contextlib.suppress(OSError):
                sock.setsockopt(SOL_NETLINK, option, 1)
        try:
            sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, _RCVBUF)
        except OSError:  # no CAP_NET_ADMIN: as much as rmem_max allows
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)
        try:
            sock.setsockopt(socket.SOL_SOCKET, _SO_SNDBUFFORCE, 4 * _BATCH_BYTES)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * _BATCH_BYTES)
        sock.settimeout(_TIMEOUT)
    except BaseException:
        sock.close()
        raise
    return sock


class _Link:
    __slots__ = ("index", "kind", "master", "name", "table", "vni")

    def __init__(self, index: int, name: str, master: int, kind: str, vni: int | None, table: int | None) -> None:
        self.index = index
        self.name = name
        self.master = master
        self.kind = kind
        self.vni = vni
        self.table = table


class _Rtnl:
    """Blocking rtnetlink work on one socket; only ever used by one thread at a time."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.seq = 1
        self.dump_seq = 0xF8000000
        self.buffer = bytearray(256 * 1024)  # dump chunks are at most 32 KiB
        rcvbuf = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        self.max_messages = max(16, rcvbuf // _ACK_TRUESIZE - 1)
        """Messages per batch: even if each of them fails, their errors fit in the receive buffer."""
        self.links: dict[str, _Link] = {}
        self.by_index: dict[int, _Link] = {}
        self.links_fresh = False
        self.stale_links = False
        self.sticky: set[object] = set()
        """Keys of sticky FDB entries this sink installed (sticky entries carry no mark)."""

    def close(self) -> None:
        self.sock.close()

    def next_dump_seq(self) -> int:
        """Dumps are numbered apart from batches (see :data:`_SEQ_WRAP`): a dump made while a batch
        is being built (to look a device up) never takes one of its numbers."""
        seq = self.dump_seq
        self.dump_seq = seq + 1 if seq < 0xFFFFFFFF else 0xF8000000
        return seq

    # -- receiving --

    def _recv(self) -> tuple[bytes, int]:
        size = self.sock.recv_into(self.buffer)
        return bytes(memoryview(self.buffer)[:size]), size

    def dump(self, kind: int, body: bytes) -> list[tuple[bytes, int, int, int]]:
        """Every message of a dump: ``(data, offset, length, type)``; redone when interrupted."""
        for _ in range(10):
            seq = self.next_dump_seq()
            self.sock.send(_message(kind, NLM_F_REQUEST | NLM_F_DUMP, seq, body))
            out: list[tuple[bytes, int, int, int]] = []
            interrupted = False
            done = False
            while not done:
                data, size = self._recv()
                offset = 0
                while offset + 16 <= size:
                    length, mtype, flags, mseq, _ = _HDR.unpack_from(data, offset)
                    if length < 16:
                        break
                    if mseq == seq:
                        if flags & NLM_F_DUMP_INTR:
                            interrupted = True
                        if mtype in (NLMSG_DONE, NLMSG_ERROR):
                            code = -_I32.unpack_from(data, offset + 16)[0] if length >= 20 else 0
                            if code:
                                raise OSError(code, f"netlink dump: {os.strerror(code)}")
                            done = True
                        else:
                            out.append((data, offset, length, mtype))
                    offset += (length + 3) & ~3
            if not interrupted:
                return out
        raise OSError(errno.EAGAIN, "netlink dump interrupted ten times in a row")

    # -- links --

    def refresh_links(self) -> None:
        links: dict[str, _Link] = {}
        by_index: dict[int, _Link] = {}
        for data, offset, _, _ in self.dump(RTM_GETLINK, _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0)):
            msg = ifinfmsg(data, offset=offset)
            msg.decode()
            name = msg.get_attr("IFLA_IFNAME")
            if name is None:
                continue
            kind, vni, table = "", None, None
            info = msg.get_attr("IFLA_LINKINFO")
            if info is not None:
                kind = info.get_attr("IFLA_INFO_KIND") or ""
                data_attr = info.get_attr("IFLA_INFO_DATA")
                if kind == "vxlan" and data_attr is not None and not data_attr.get_attr("IFLA_VXLAN_COLLECT_METADATA"):
                    vni = data_attr.get_attr("IFLA_VXLAN_ID")
                elif kind == "vrf" and data_attr is not None:
                    table = data_attr.get_attr("IFLA_VRF_TABLE")
            link = _Link(msg["index"], name, msg.get_attr("IFLA_MASTER") or 0, kind, vni, table)
            links[name] = link
            by_index[link.index] = link
        self.links, self.by_index, self.links_fresh = links, by_index, True

    def link(self, name: str) -> _Link | None:
        link = self.links.get(name)
        if link is None and not self.links_fresh:
            self.refresh_links()
            link = self.links.get(name)
        return link

    def l2_devices(self) -> dict[int, L2Devices]:
        self.refresh_links()
        out: dict[int, L2Devices] = {}
        for link in sorted(self.links.values(), key=lambda item: item.index):
            master = self.by_index.get(link.master)
            if link.vni is not None and master is not None and master.kind == "bridge":
                out.setdefault(link.vni, L2Devices(link.name, master.name))
        return out

    # -- applying operations --

    def encode(self, op: Op, seq: int) -> list[tuple[bytes, bool]]:
        """The messages for ``op`` (numbered from ``seq``), each with whether "not there" is fine;
        raises OSError(ENODEV) for an unknown device."""
        entry = op.entry
        replace = op.action is Action.REPLACE
        if isinstance(entry, RouteEntry):
            return [(self._route(entry, replace, seq), not replace)]
        link = self.link(entry.device)
        if link is None:
            raise OSError(errno.ENODEV, f"no device {entry.device!r}")
        if isinstance(entry, FdbEntry):
            if not replace:
                self.sticky.discard(entry.key)
                body = _NDMSG.pack(_AF_BRIDGE, link.index, 0, NTF_SELF, 0) + _nla(_NDA_LLADDR, entry.mac)
                master = _NDMSG.pack(_AF_BRIDGE, link.index, 0, NTF_MASTER, 0) + _nla(_NDA_LLADDR, entry.mac)
                return [(_message(RTM_DELNEIGH, NLM_F_REQUEST, seq, body), True)] + (
                    [(_message(RTM_DELNEIGH, NLM_F_REQUEST, seq + 1, master), True)] if link.master else []
                )
            out: list[tuple[bytes, bool]] = []
            if entry.sticky:
                flags, state = _STICKY_FLAGS, _STICKY_STATE
                self.sticky.add(entry.key)
            else:
                flags, state = _FDB_FLAGS, NUD_REACHABLE
                if self.sticky and entry.key in self.sticky:
                    # An externally learned entry never takes over a static one (neither the bridge's nor
                    # the VXLAN device's keeps its flags and state): remove the sticky entry first.
                    self.sticky.discard(entry.key)
                    out = self.encode(Op(Action.REMOVE, entry), seq)
                    seq += len(out)
            if link.master:
                packer = _FDB4_MASTER if len(entry.vtep) == 4 else _FDB6_MASTER
                message = packer.pack(
                    packer.size, RTM_NEWNEIGH, _REPLACE, seq, 0, _AF_BRIDGE, link.index, state, flags, 0,
                    10, _NDA_LLADDR, entry.mac, 4 + len(entry.vtep), _NDA_DST, entry.vtep, 8, _NDA_MASTER, link.master,
                )  # fmt: skip
            else:
                packer = _FDB4 if len(entry.vtep) == 4 else _FDB6
                message = packer.pack(
                    packer.size, RTM_NEWNEIGH, _REPLACE, seq, 0, _AF_BRIDGE, link.index, state, flags, 0,
                    10, _NDA_LLADDR, entry.mac, 4 + len(entry.vtep), _NDA_DST, entry.vtep,
                )  # fmt: skip
            out.append((message, False))
            return out
        if isinstance(entry, FloodEntry):
            packer = _FDB4 if len(entry.vtep) == 4 else _FDB6
            if replace:
                kind, flags, state, nl_flags = RTM_NEWNEIGH, _FLOOD_FLAGS, _FLOOD_STATE, _APPEND
            else:
                kind, flags, state, nl_flags = RTM_DELNEIGH, NTF_SELF, 0, NLM_F_REQUEST
            message = packer.pack(
                packer.size, kind, nl_flags, seq, 0, _AF_BRIDGE, link.index, state, flags, 0,
                10, _NDA_LLADDR, _ZERO_MAC, 4 + len(entry.vtep), _NDA_DST, entry.vtep,
            )  # fmt: skip
            return [(message, not replace)]
        # NeighborEntry
        family = _family(entry.ip)
        if not replace:
            body = _NDMSG.pack(family, link.index, 0, 0, 0) + _nla(_NDA_DST, entry.ip)
            return [(_message(RTM_DELNEIGH, NLM_F_REQUEST, seq, body), True)]
        packer = _NEIGH4 if family == socket.AF_INET else _NEIGH6
        message = packer.pack(
            packer.size, RTM_NEWNEIGH, _REPLACE, seq, 0, family, link.index, NUD_NOARP, NTF_EXT_LEARNED, 0,
            4 + len(entry.ip), _NDA_DST, entry.ip, 10, _NDA_LLADDR, entry.mac, 5, _NDA_PROTOCOL, RTPROT_EVPN,
        )  # fmt: skip
        return [(message, False)]

    def _route(self, entry: RouteEntry, replace: bool, seq: int) -> bytes:
        family = _family(entry.prefix)
        table = entry.table
        attrs = [_nla(_RTA_TABLE, _U32.pack(table)), _nla(_RTA_PRIORITY, _U32.pack(ROUTE_METRIC))]
        if entry.length:
            attrs.append(_nla(_RTA_DST, entry.prefix))
        if not replace:
            header = _RTMSG.pack(family, entry.length, 0, 0, table if table < 256 else 0, RTPROT_EVPN,
                                 RT_SCOPE_NOWHERE, 0, 0)  # fmt: skip
            return _message(RTM_DELROUTE, NLM_F_REQUEST, seq, header + b"".join(attrs))
        link = self.link(entry.device)
        if link is None:
            raise OSError(errno.ENODEV, f"no device {entry.device!r}")
        flags = 0
        if len(entry.next_hops) == 1:
            flags = RTNH_F_ONLINK
            attrs += [_nla(_RTA_GATEWAY, entry.next_hops[0]), _nla(_RTA_OIF, _I32.pack(link.index))]
        else:
            hops = []
            for hop in entry.next_hops:
                gateway = _nla(_RTA_GATEWAY, hop)
                hops.append(_RTNH.pack(8 + len(gateway), RTNH_F_ONLINK, 0, link.index) + gateway)
            attrs.append(_nla(_RTA_MULTIPATH, b"".join(hops)))
        header = _RTMSG.pack(family, entry.length, 0, 0, table if table < 256 else 0, RTPROT_EVPN,
                             RT_SCOPE_UNIVERSE, _RTN_UNICAST, flags)  # fmt: skip
        return _message(RTM_NEWROUTE, _REPLACE, seq, header + b"".join(attrs))

    def apply(self, ops: Sequence[Op]) -> list[OpError]:
        """Send ``ops`` in order, in batches; the ones the kernel refused."""
        self.links_fresh = False  # an unknown device may have appeared since: look once more
        errors: dict[int, str] = {}
        parts: list[bytes] = []
        owners: list[int] = []  # op index per message of the batch (message n has sequence first + n)
        lenient: list[bool] = []
        size = 0
        first = self.seq
        limit = self.max_messages
        encode = self.encode
        for index, op in enumerate(ops):
            if not owners:
                if self.seq >= _SEQ_WRAP:
                    self.seq = 1
                first = self.seq
            seq = self.seq
            try:
                messages = encode(op, seq)
            except OSError as exc:
                errors[index] = os.strerror(exc.errno or errno.EINVAL)
                continue
            length = sum(len(message) for message, _ in messages) if len(messages) > 1 else len(messages[0][0])
            if owners and (size + length > _BATCH_BYTES or len(owners) + len(messages) > limit):
                self._send(parts, first, owners, lenient, errors)
                parts, owners, lenient, size = [], [], [], 0
                if self.seq >= _SEQ_WRAP:
                    self.seq = 1
                first = seq = self.seq  # the op opens the next batch: number its messages anew
                messages = [(_renumber(message, seq + n), ok) for n, (message, ok) in enumerate(messages)]
            for message, missing_ok in messages:
                parts.append(message)
                owners.append(index)
                lenient.append(missing_ok)
            size += length
            self.seq = seq + len(messages)
        if owners:
            self._send(parts, first, owners, lenient, errors)
        if self.stale_links:
            self.links, self.by_index, self.stale_links = {}, {}, False  # a device went away: look again
        return [OpError(ops[index], reason) for index, reason in sorted(errors.items())]

    def _send(
        self, parts: list[bytes], first: int, owners: list[int], lenient: list[bool], errors: dict[int, str]
    ) -> None:
        """Send one batch and collect its errors.  Only the closing NOOP asks for an acknowledgement;
        rtnetlink handles the batch within ``send`` and queues every error before that one."""
        fence = self.seq
        self.seq = fence + 1
        parts.append(_HDR.pack(16, NLMSG_NOOP, NLM_F_REQUEST | NLM_F_ACK, fence, 0))
        self.sock.send(b"".join(parts))
        count = len(owners)
        lost = draining = False
        finished = False
        while not finished:
            try:
                data, size = self._recv()
            except BlockingIOError:
                # Drained after a loss: a new NOOP marks the end of the batch.
                self.sock.settimeout(_TIMEOUT)
                draining = False
                fence = self.seq
                self.seq = fence + 1
                self.sock.send(_HDR.pack(16, NLMSG_NOOP, NLM_F_REQUEST | NLM_F_ACK, fence, 0))
                continue
            except OSError as exc:
                if exc.errno != errno.ENOBUFS:
                    raise
                # Acknowledgements were dropped, the NOOP's too maybe, and the kernel drops (and
                # no longer reports) more until the queue is empty: read it empty first.
                lost = draining = True
                self.sock.setblocking(False)
                continue
            offset = 0
            while offset + 16 <= size:
                length, mtype, flags, seq, _ = _HDR.unpack_from(data, offset)
                if length < 16:
                    break
                if mtype == NLMSG_ERROR:
                    if seq == fence:
                        finished = True
                    else:
                        position = seq - first
                        code = -_I32.unpack_from(data, offset + 16)[0]
                        if code and 0 <= position < count:
                            index = owners[position]
                            if code == errno.ENODEV:
                                self.stale_links = True
                            if not (lenient[position] and code in _MISSING) and index not in errors:
                                errors[index] = _reason(data, offset, length, flags, code)
                offset += (length + 3) & ~3
        if draining:
            self.sock.settimeout(_TIMEOUT)
        if lost:
            self.max_messages = max(16, self.max_messages // 2)
            for index in dict.fromkeys(owners):
                errors.setdefault(index, f"{os.strerror(errno.ENOBUFS)} (acknowledgements lost: outcome unknown)")

    # -- reading what is installed --

    def owned(self, desired: Mapping[object, Entry], devices: Iterable[str]) -> tuple[dict[object, Entry], set[object]]:
        """The entries of ours in the kernel on ``devices`` (plus every route of ours), by key, and
        the keys whose kernel state is incomplete or inconsistent (to be installed again)."""
        self.refresh_links()
        current: dict[object, Entry] = {}
        broken: set[object] = set()
        for name in dict.fromkeys(devices):
            link = self.links.get(name)
            if link is None:
                continue
            if link.kind == "vxlan":
                self._owned_fdb(link, desired, current, broken)
            self._owned_neighbors(link, current, broken)
        self._owned_routes(current, broken)
        return current, broken

    def _owned_fdb(
        self, link: _Link, desired: Mapping[object, Entry], current: dict[object, Entry], broken: set[object]
    ) -> None:
        body = _NDMSG.pack(_AF_BRIDGE, link.index, 0, 0, 0)
        bridge: dict[bytes, int] = {}  # MAC -> flags of the bridge's entry on this port
        found: list[FdbEntry] = []
        name, sticky = link.name, self.sticky
        for data, offset, length, mtype in self.dump(RTM_GETNEIGH, body):
            if mtype != RTM_NEWNEIGH:
                continue
            _, index, _, flags, _ = _NDMSG.unpack_from(data, offset + 16)
            if index != link.index:
                continue
            nlas = _attributes(data, offset + 28, offset + length)
            mac, dst = nlas.get(_NDA_LLADDR), nlas.get(_NDA_DST)
            vlan = _U16.unpack_from(nlas[_NDA_VLAN])[0] if len(nlas.get(_NDA_VLAN, b"")) >= 2 else 0
            if mac is None or len(mac) != 6 or vlan:
                continue
            if not flags & NTF_SELF:  # the bridge's entry for the port (it has NDA_MASTER, not NTF_SELF)
                bridge[mac] = flags
                continue
            if dst is None:
                continue
            if mac == _ZERO_MAC:
                if flags & NTF_EXT_LEARNED:
                    current[("flood", name, dst)] = FloodEntry(name, dst)
                continue
            key = ("fdb", name, mac)
            if flags & NTF_EXT_LEARNED:
                entry = FdbEntry(name, mac, dst)
            elif flags & NTF_STICKY and (key in desired or key in sticky):
                entry = FdbEntry(name, mac, dst, sticky=True)
                sticky.add(key)
            else:
                continue
            if key in current:
                broken.add(key)  # several destinations for one MAC: not what we install
            current[key] = entry
            found.append(entry)
        for entry in found:
            flags = bridge.pop(entry.mac, 0)
            if link.master and not flags & (NTF_STICKY if entry.sticky else NTF_EXT_LEARNED):
                broken.add(entry.key)  # the bridge's half is missing (or is not ours)
        for mac, flags in bridge.items():  # a bridge half of ours without its VXLAN half
            key = ("fdb", name, mac)
            if flags & NTF_EXT_LEARNED or (flags & NTF_STICKY and (key in desired or key in sticky)):
                current[key] = FdbEntry(name, mac, bytes(4), sticky=not flags & NTF_EXT_LEARNED)
                broken.add(key)

    def _owned_neighbors(self, link: _Link, current: dict[object, Entry], broken: set[object]) -> None:
        body = _NDMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + _nla(_NDA_IFINDEX, _U32.pack(link.index))
        for data, offset, length, mtype in self.dump(RTM_GETNEIGH, body):
            if mtype != RTM_NEWNEIGH:
                continue
            family, index, state, flags, _ = _NDMSG.unpack_from(data, offset + 16)
            if index != link.index or family not in (socket.AF_INET, socket.AF_INET6) or not flags & NTF_EXT_LEARNED:
                continue
            nlas = _attributes(data, offset + 28, offset + length)
            mac, dst = nlas.get(_NDA_LLADDR), nlas.get(_NDA_DST)
            if nlas.get(_NDA_PROTOCOL, b"")[:1] != bytes((RTPROT_EVPN,)) or dst is None:
                continue
            key = ("neigh", link.name, dst)
            current[key] = NeighborEntry(link.name, dst, mac if mac is not None and len(mac) == 6 else _ZERO_MAC)
            if state != NUD_NOARP or mac is None or len(mac) != 6:
                broken.add(key)

    def _owned_routes(self, current: dict[object, Entry], broken: set[object]) -> None:
        body = _RTMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0, RTPROT_EVPN, 0, 0, 0)
        routes: dict[tuple[str, int, bytes, int], list[tuple[bytes, int, int]]] = {}
        for data, offset, _, mtype in self.dump(RTM_GETROUTE, body):
            if mtype != RTM_NEWROUTE:
                continue
            msg = rtmsg(data, offset=offset)
            msg.decode()
            if msg["proto"] != RTPROT_EVPN:
                continue
            dst = msg.get_attr("RTA_DST")
            prefix = _ip(dst) if dst else bytes(4 if msg["family"] == socket.AF_INET else 16)
            key = ("route", msg.get_attr("RTA_TABLE") or msg["table"], prefix, msg["dst_len"])
            hops = routes.setdefault(key, [])  # a route may come as one message per next hop
            multipath = msg.get_attr("RTA_MULTIPATH")
            if multipath:
                for hop in multipath:
                    gateway = hop.get_attr("RTA_GATEWAY")
                    hops.append((_ip(gateway) if gateway else b"", hop["oif"], hop["flags"]))
            else:
                gateway = msg.get_attr("RTA_GATEWAY")
                hops.append((_ip(gateway) if gateway else b"", msg.get_attr("RTA_OIF") or 0, msg["flags"]))
        for key, hops in routes.items():
            _, table, prefix, length = key
            link = self.by_index.get(hops[0][1])
            current[key] = RouteEntry(table, prefix, length, link.name if link else "", tuple(hop[0] for hop in hops))
            if link is None or any(not hop[0] or hop[1] != link.index or not hop[2] & RTNH_F_ONLINK for hop in hops):
                broken.add(key)

    def reconcile(self, desired: Mapping[object, Entry], managed: Sequence[str]) -> list[OpError]:
        wanted: dict[object, Entry] = {entry.key: entry for entry in desired.values()}
        devices = [*managed]
        for entry in wanted.values():
            if not isinstance(entry, RouteEntry):
                devices.append(entry.device)
        current, broken = self.owned(wanted, devices)
        removes = [Op(Action.REMOVE, entry) for key, entry in current.items() if key not in wanted]
        installs = [
            Op(Action.REPLACE, entry)
            for key, entry in wanted.items()
            if key in broken or not _same(current.get(key), entry)
        ]
        removes.sort(key=lambda op: _REMOVE_RANK[type(op.entry)])
        installs.sort(key=lambda op: _INSTALL_RANK[type(op.entry)])
        if removes or installs:
            log.info("reconcile: %d stale entries to remove, %d to install", len(removes), len(installs))
        return self.apply(removes + installs)


def _same(current: Entry | None, wanted: Entry) -> bool:
    if isinstance(current, RouteEntry) and isinstance(wanted, RouteEntry):
        return (current.table, current.prefix, current.length, current.device, sorted(current.next_hops)) == (
            wanted.table,
            wanted.prefix,
            wanted.length,
            wanted.device,
            sorted(wanted.next_hops),
        )
    return current == wanted


def _reason(data: bytes, offset: int, length: int, flags: int, code: int) -> str:
    """``strerror(code)``, and the kernel's extended acknowledgement message if it gave one."""
    text = os.strerror(code)
    if not flags & NLM_F_ACK_TLVS:
        return text
    request_length = _U32.unpack_from(data, offset + 20)[0]
    position = offset + 20 + (16 if flags & NLM_F_CAPPED else (request_length + 3) & ~3)
    raw = _attributes(data, position, offset + length).get(_NLMSGERR_ATTR_MSG, b"")
    message = raw.split(b"\0", 1)[0].decode(errors="replace")
    return f"{text} ({message})" if message else text


def _attributes(data: bytes, position: int, end: int) -> dict[int, bytes]:
    """The netlink attributes (type without the nested/byte-order bits → value) from
    ``position`` to ``end``; a malformed one ends the walk."""
    out: dict[int, bytes] = {}
    while position + 4 <= end:
        size, kind = _NLA.unpack_from(data, position)
        if size < 4 or position + size > end:
            break
        out[kind & 0x3FFF] = data[position + 4 : position + size]
        position += (size + 3) & ~3
    return out


# --- watching the kernel (local learning) --------------------------------------------------------

Record = LinkState | NeighborState


def _record(data: bytes, offset: int, length: int, mtype: int) -> Record | None:
    """The link or neighbour message at ``offset`` as an :mod:`evpn.sink.learn` record, or
    ``None`` for other messages and for a device's own FDB entries (no ``NDA_MASTER``: the
    VXLAN device's remote entries)."""
    if mtype in (RTM_NEWNEIGH, RTM_DELNEIGH) and length >= 28:
        family, index, state, flags, _ = _NDMSG.unpack_from(data, offset + 16)
        if family == _AF_BRIDGE and flags & NTF_SELF:
            return None  # a device's own FDB (the bridge's entries never carry NTF_SELF)
        nlas = _attributes(data, offset + 28, offset + length)
        master = nlas.get(_NDA_MASTER, b"")
        if family == _AF_BRIDGE and len(master) != 4:
            return None
        return NeighborState(
            family,
            index,
            _U32.unpack(master)[0] if len(master) == 4 else 0,
            nlas.get(_NDA_LLADDR, b""),
            b"" if family == _AF_BRIDGE else nlas.get(_NDA_DST, b""),
            state,
            flags,
            mtype == RTM_NEWNEIGH,
        )
    if mtype in (RTM_NEWLINK, RTM_DELLINK) and length >= 32:
        _, _, index, flags, _ = _IFINFO.unpack_from(data, offset + 16)
        nlas = _attributes(data, offset + 32, offset + length)
        name = nlas.get(_IFLA_IFNAME, b"").split(b"\0", 1)[0].decode(errors="replace")
        master = nlas.get(_IFLA_MASTER, b"")
        return LinkState(
            index, name, _U32.unpack(master)[0] if len(master) == 4 else 0, bool(flags & _IFF_UP), mtype == RTM_NEWLINK
        )
    return None


def _notifications(data: bytes, size: int) -> list[Record]:
    """The records of the notifications in ``data[:size]``."""
    out: list[Record] = []
    offset = 0
    while offset + 16 <= size:
        length, mtype, _, _, _ = _HDR.unpack_from(data, offset)
        if length < 16 or offset + length > size:
            break
        if (record := _record(data, offset, length, mtype)) is not None:
            out.append(record)
        offset += (length + 3) & ~3
    return out


_SNAPSHOT = (
    (RTM_GETLINK, _IFINFO.pack(0, 0, 0, 0, 0)),
    (RTM_GETNEIGH, _NDMSG.pack(_AF_BRIDGE, 0, 0, 0, 0)),
    (RTM_GETNEIGH, _NDMSG.pack(0, 0, 0, 0, 0)),
)


def _own_entries_filter() -> bytes:
    """A classic BPF program (``SO_ATTACH_FILTER``) that drops, in the kernel, the neighbour
    notifications local learning never needs: entries marked ``NTF_EXT_LEARNED`` (every
    entry this sink installs: two or three notifications per remote MAC) and a device's own FDB
    entries (``AF_BRIDGE`` with ``NTF_SELF``).  Without it, installing a large table floods the
    watcher; the learner is told of our installs directly instead (:meth:`Learner.installed`)."""
    load_half, load_byte, jump_eq, jump_set, ret = 0x28, 0x30, 0x15, 0x45, 0x06

    def big_endian(value: int) -> int:  # a BPF half-word load reads network order
        return int.from_bytes(_U16.pack(value), "big")

    program = [
        (load_half, 0, 0, 4),  # nlmsg_type
        (jump_eq, 2, 0, big_endian(RTM_NEWNEIGH)),
        (jump_eq, 1, 0, big_endian(RTM_DELNEIGH)),
        (ret, 0, 0, 0xFFFFFFFF),  # links: keep
        (load_byte, 0, 0, 16 + 10),  # ndm_flags
        (jump_set, 5, 0, NTF_EXT_LEARNED),  # -> drop
        (load_byte, 0, 0, 16),  # ndm_family
        (jump_eq, 0, 2, _AF_BRIDGE),  # not the bridge: -> keep
        (load_byte, 0, 0, 16 + 10),
        (jump_set, 1, 0, NTF_SELF),  # -> drop
        (ret, 0, 0, 0xFFFFFFFF),
        (ret, 0, 0, 0),
    ]
    return b"".join(_SOCK_FILTER.pack(*instruction) for instruction in program)


def _attach_filter(sock: socket.socket, program: bytes) -> None:
    code = ctypes.create_string_buffer(program)
    sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, struct.pack("@HP", len(program) // 8, ctypes.addressof(code)))


class NetlinkWatcher:
    """Reports the kernel's links, bridge FDB entries and neighbours for local learning
    (:class:`evpn.sink.learn.Learner`), in network namespace ``netns`` (``None``: the current one).

    Iterating gives ``(snapshot, records)`` pairs: first a full dump (``snapshot`` true), then
    the notifications of ``RTMGRP_LINK`` and ``RTMGRP_NEIGH`` as they come.  A thread of the
    watcher's own does nothing but drain the socket (installing a table makes the kernel send
    a few notifications per entry, faster than they could be parsed as they come); they are
    parsed when taken.  If the kernel still drops some (``ENOBUFS``), a new full dump follows,
    so nothing is silently missed.
    """

    def __init__(self, *, netns: str | None = None) -> None:
        self.netns = netns

    def __repr__(self) -> str:
        return f"NetlinkWatcher(netns={self.netns!r})"

    async def changes(self) -> AsyncIterator[tuple[bool, list[Record]]]:
        """Yield ``(snapshot, records)`` until the iteration is closed (see the class)."""
        listener = _open_netlink(self.netns)
        dumper = _Rtnl(_open_netlink(self.netns))
        try:
            listener.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, _WATCH_RCVBUF)
        except OSError:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _WATCH_RCVBUF)
        _attach_filter(listener, _own_entries_filter())
        for group in (_RTNLGRP_LINK, _RTNLGRP_NEIGH):
            listener.setsockopt(SOL_NETLINK, _NETLINK_ADD_MEMBERSHIP, group)
        listener.settimeout(0.5)
        token = trio.lowlevel.current_trio_token()
        chunks: collections.deque[bytes | None] = collections.deque()  # None: notifications were lost
        wake = trio.Event()
        stopped = threading.Event()
        failed: list[OSError] = []

        def drain() -> None:
            buffer = bytearray(256 * 1024)
            while not stopped.is_set():
                try:
                    size = listener.recv_into(buffer)
                except TimeoutError:
                    continue
                except OSError as exc:
                    if exc.errno != errno.ENOBUFS:
                        failed.append(exc)
                        stopped.set()
                    chunks.append(None)
                else:
                    chunks.append(bytes(buffer[:size]))
                with contextlib.suppress(trio.RunFinishedError):
                    token.run_sync_soon(wake.set)

        thread = threading.Thread(target=drain, name="evpn-netlink-watch", daemon=True)
        thread.start()
        try:
            snapshot = True
            while not failed:
                if snapshot:
                    yield True, await trio.to_thread.run_sync(self._dump, dumper)
                    snapshot = False
                await wake.wait()
                wake = trio.Event()
                records: list[Record] = []
                while chunks and not snapshot:
                    chunk = chunks.popleft()
                    if chunk is None:
                        log.info("netlink notifications were lost (receive buffer overflow): reading all again")
                        snapshot = True
                    else:
                        records += _notifications(chunk, len(chunk))
                if snapshot:
                    chunks.clear()
                elif records:
                    yield False, records
        finally:
            stopped.set()
            await trio.to_thread.run_sync(thread.join)
            listener.close()
            dumper.close()
        raise OSError(failed[0].errno, f"watching netlink: {failed[0].strerror}") from failed[0]

    @staticmethod
    def _dump(dumper: _Rtnl) -> list[Record]:
        """Links, the bridges' FDBs (``AF_BRIDGE``), then ARP and ND neighbours (``AF_UNSPEC``)."""
        records: list[Record] = []
        for kind, body in _SNAPSHOT:
            for data, offset, length, mtype in dumper.dump(kind, body):
                if (record := _record(data, offset, length, mtype)) is not None:
                    records.append(record)
        return records


# --- the sink ------------------------------------------------------------------------------------


class NetlinkSink:
    """A :class:`~evpn.sink.base.Sink` that programs the Linux kernel over rtnetlink.

    ``netns`` names the network namespace to program (``ip netns`` name or path; ``None`` for
    the current one).  ``managed_devices`` are devices whose entries of ours :meth:`reconcile`
    removes even when ``desired`` names none of their entries (the VXLAN devices and bridges of
    every configured VNI, typically).  Blocking netlink work runs on a worker thread of the
    sink's own; :meth:`aclose` stops it (the entries stay installed).
    """

    def __init__(self, *, netns: str | None = None, managed_devices: Iterable[str] = ()) -> None:
        self.netns = netns
        self.managed_devices = tuple(managed_devices)
        self._rtnl = _Rtnl(_open_netlink(netns))
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="evpn-netlink", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"NetlinkSink(netns={self.netns!r})"

    def _serve(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            job()

    async def _call(self, function: Callable[[], T]) -> T:
        if self._closed:
            raise trio.ClosedResourceError("the netlink sink is closed")
        token = trio.lowlevel.current_trio_token()
        done = trio.Event()
        box: list[Any] = []

        def job() -> None:
            try:
                box.append((function(), None))
            except Exception as exc:
                box.append((None, exc))
            with contextlib.suppress(trio.RunFinishedError):  # the caller's trio run is over
                token.run_sync_soon(done.set)

        self._jobs.put(job)
        # Cancelled while waiting: the job still runs (in order with the rest); its result is dropped.
        await done.wait()
        result, error = box[0]
        if error is not None:
            raise error
        return result  # type: ignore[no-any-return]

    async def apply(self, ops: Sequence[Op]) -> list[OpError]:
        """Install ``ops`` in order (see :class:`~evpn.sink.base.Sink`); removing an entry that
        is not there is not an error."""
        batch = list(ops)
        if not batch:
            return []
        return await self._call(lambda: self._rtnl.apply(batch))

    async def reconcile(self, desired: Mapping[object, Entry]) -> list[OpError]:
        """Make our entries in the kernel exactly ``desired``: read the FDB and neighbours of the
        devices ``desired`` and :attr:`managed_devices` name and every route with protocol
        :data:`RTPROT_EVPN`, remove the entries of ours that are not desired and install the
        missing or different ones.  Entries without our marks are never touched."""
        wanted = dict(desired)
        return await self._call(lambda: self._rtnl.reconcile(wanted, self.managed_devices))

    async def installed(self, devices: Iterable[str] = ()) -> dict[object, Entry]:
        """The entries of ours in the kernel on ``devices`` and :attr:`managed_devices` (and every
        route of ours), by key, as :meth:`reconcile` reads them."""
        names = [*self.managed_devices, *devices]
        return await self._call(lambda: self._rtnl.owned({}, names)[0])

    async def discover_l2_devices(self) -> dict[int, L2Devices]:
        """:func:`discover_l2_devices` in the sink's namespace, on its worker thread."""
        return await self._call(self._rtnl.l2_devices)

    async def aclose(self) -> None:
        """Stop the worker thread and close the socket (the entries stay installed)."""
        if self._closed:
            return
        try:
            await self._call(self._rtnl.close)
        finally:
            self._closed = True
            self._jobs.put(None)


def discover_l2_devices(netns: str | None = None) -> dict[int, L2Devices]:
    """The L2 VNIs of network namespace ``netns`` (``None``: the current one): each VXLAN device
    with a VNI (``IFLA_VXLAN_ID``; not collect-metadata ones) that is a port of a bridge, by VNI
    (the first by interface index when two devices share a VNI)."""
    rtnl = _Rtnl(_open_netlink(netns))
    try:
        return rtnl.l2_devices()
    finally:
        rtnl.close()


def vrf_table(name: str, netns: str | None = None) -> int:
    """The routing table of VRF device ``name`` (``IFLA_VRF_TABLE``) in network namespace
    ``netns`` (``None``: the current one); LookupError when there is no such VRF device."""
    rtnl = _Rtnl(_open_netlink(netns))
    try:
        rtnl.refresh_links()
    finally:
        rtnl.close()
    link = rtnl.links.get(name)
    if link is None:
        raise LookupError(f"no device {name!r}")
    if link.kind != "vrf" or link.table is None:
        raise LookupError(f"{name!r} is not a VRF device (it is {link.kind or 'a plain device'!r})")
    return link.table
