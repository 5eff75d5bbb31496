"""What a VTEP namespace's kernel holds for one L2 VNI, read over raw rtnetlink.

Used by ``test_convergence.py`` and ``tests/soak/soak.py``.  No ``bridge``/``ip`` dumps and no
pyroute2 parsing: a dump of 400,000 FDB entries takes about a second here, and a notification
listener keeps up with a 200,000-route burst.

* :func:`netns_socket` opens a netlink socket *inside* a named network namespace (``setns`` on a
  short-lived thread of our own; the process stays where it is).
* :func:`read_vni` dumps the bridge FDB and the IPv4 neighbours and keeps what a control plane
  installs for the VNI (``docs/dataplane.md``): remote MACs on the VXLAN device (``NTF_SELF``,
  with a destination), their twins on the bridge (``NTF_MASTER``), the flood list (all-zero MAC)
  and the ``extern_learn`` neighbours of the bridge (the SVI).
* :func:`compare` checks that state entry by entry against the routes the peers advertise.
* :class:`Listener` reads ``RTM_NEWNEIGH``/``RTM_DELNEIGH`` notifications on a thread and hands
  each VXLAN-side FDB change to a callback with the ``time.time()`` it was read.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

CLONE_NEWNET = 0x40000000
SO_RCVBUFFORCE = 33
SO_ATTACH_FILTER = 26
RTM_NEWNEIGH, RTM_DELNEIGH, RTM_GETNEIGH = 28, 29, 30
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
RTMGRP_NEIGH = 0x4
NDA_DST, NDA_LLADDR, NDA_MASTER, NDA_PROTOCOL = 1, 2, 9, 12
NTF_SELF, NTF_MASTER, NTF_EXT_LEARNED, NTF_STICKY = 0x02, 0x04, 0x10, 0x40
NUD_NOARP, NUD_PERMANENT = 0x40, 0x80
ZERO_MAC = "00:00:00:00:00:00"

_HDR = struct.Struct("=IHHII")
_NDMSG = struct.Struct("=BxxxiHBB")
_NLA = struct.Struct("=HH")
_libc = ctypes.CDLL(None, use_errno=True)


def in_netns(name: str, function: Callable[[], Any]) -> Any:
    """Call ``function`` on a thread that has entered network namespace ``name``; return its result."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    code = ctypes.get_errno()
                    raise OSError(code, f"setns({name}): {os.strerror(code)}")
            finally:
                os.close(fd)
            box["value"] = function()
        except BaseException as exc:  # handed to the caller
            box["error"] = exc

    thread = threading.Thread(target=run, name=f"netns-{name}")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def netns_socket(name: str, groups: int = 0, rcvbuf: int = 64 << 20) -> socket.socket:
    """An rtnetlink socket of namespace ``name`` (it stays there), bound to ``groups``."""

    def make() -> socket.socket:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf)
        sock.bind((0, groups))
        return sock

    return in_netns(name, make)


def ifindex(netns: str, device: str) -> int:
    out = subprocess.run(["ip", "-n", netns, "-j", "link", "show", "dev", device], capture_output=True, check=True)
    return int(json.loads(out.stdout)[0]["ifindex"])


def format_mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def _attributes(data: bytes | bytearray | memoryview, position: int, end: int) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    while position + 4 <= end:
        length, kind = _NLA.unpack_from(data, position)
        if length < 4:
            break
        out[kind & 0x3FFF] = bytes(data[position + 4 : position + length])
        position += (length + 3) & ~3
    return out


@dataclass(frozen=True)
class Neigh:
    """One neighbour message: an FDB entry (``family`` AF_BRIDGE) or an IP neighbour."""

    kind: int  # RTM_NEWNEIGH or RTM_DELNEIGH
    family: int
    ifindex: int
    state: int
    flags: int
    lladdr: str | None
    dst: str | None
    master: int | None


def parse(data: bytes | bytearray | memoryview, size: int) -> list[Neigh]:
    """The neighbour messages in ``data[:size]``."""
    out: list[Neigh] = []
    offset = 0
    while offset + 16 <= size:
        length, mtype, _, _, _ = _HDR.unpack_from(data, offset)
        if length < 16:
            break
        if mtype in (RTM_NEWNEIGH, RTM_DELNEIGH) and length >= 28:
            family, index, state, flags, _ = _NDMSG.unpack_from(data, offset + 16)
            nlas = _attributes(data, offset + 28, offset + length)
            lladdr = nlas.get(NDA_LLADDR)
            dst = nlas.get(NDA_DST)
            master = nlas.get(NDA_MASTER)
            out.append(
                Neigh(
                    mtype,
                    family,
                    index,
                    state,
                    flags,
                    format_mac(lladdr) if lladdr is not None and len(lladdr) == 6 else None,
                    socket.inet_ntop(socket.AF_INET if len(dst) == 4 else socket.AF_INET6, dst) if dst else None,
                    struct.unpack("=I", master)[0] if master and len(master) == 4 else None,
                )
            )
        offset += (length + 3) & ~3
    return out


def dump(sock: socket.socket, family: int, seq: int) -> list[Neigh]:
    """Every neighbour entry of ``family`` (AF_BRIDGE: the FDB) in the socket's namespace."""
    sock.send(_HDR.pack(28, RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + _NDMSG.pack(family, 0, 0, 0, 0))
    buffer = bytearray(1 << 20)
    out: list[Neigh] = []
    while True:
        size = sock.recv_into(buffer)
        out += parse(buffer, size)
        offset = 0
        while offset + 16 <= size:
            length, mtype, _, mseq, _ = _HDR.unpack_from(buffer, offset)
            if length < 16:
                break
            if mseq == seq and mtype == NLMSG_DONE:
                return out
            if mseq == seq and mtype == NLMSG_ERROR:
                (code,) = struct.unpack_from("=i", buffer, offset + 16)
                if code:
                    raise OSError(-code, f"netlink dump: {os.strerror(-code)}")
                return out
            offset += (length + 3) & ~3


# --- the state of one VNI ----------------------------------------------------------------------------


@dataclass
class VniState:
    """What the kernel holds for one L2 VNI (the entries a control plane owns, and anomalies)."""

    fdb: dict[str, str] = field(default_factory=dict)
    """Remote MACs: MAC -> VTEP (VXLAN device, NTF_SELF, extern_learn, with a destination)."""
    twins: set[str] = field(default_factory=set)
    """MACs with an extern_learn entry on the bridge for the VXLAN port (NTF_MASTER)."""
    flood: set[str] = field(default_factory=set)
    """VTEPs of the all-zero MAC entries on the VXLAN device."""
    neigh: dict[str, str] = field(default_factory=dict)
    """extern_learn IPv4 neighbours on the bridge: IP -> MAC."""
    odd: list[str] = field(default_factory=list)
    """Entries no control plane should leave like this (duplicates, wrong flags)."""

    @property
    def entries(self) -> int:
        return len(self.fdb) + len(self.twins) + len(self.flood) + len(self.neigh)


class Vtep:
    """A VTEP namespace's VXLAN device and bridge, and a dump socket in it."""

    def __init__(self, netns: str, vxlan: str = "vxlan100", bridge: str = "br100") -> None:
        self.netns = netns
        self.vxlan, self.bridge = ifindex(netns, vxlan), ifindex(netns, bridge)
        self.sock = netns_socket(netns)
        self.seq = 0

    def close(self) -> None:
        self.sock.close()

    def count_fdb(self) -> int:
        """How many remote MACs (extern_learn, with a destination) the VXLAN device holds."""
        self.seq += 1
        return sum(
            1
            for n in dump(self.sock, socket.AF_BRIDGE, self.seq)
            if n.ifindex == self.vxlan and n.flags & NTF_SELF and n.dst and n.lladdr != ZERO_MAC
        )

    def read(self) -> VniState:
        state = VniState()
        self.seq += 1
        for n in dump(self.sock, socket.AF_BRIDGE, self.seq):
            if n.ifindex != self.vxlan or n.lladdr is None:
                continue
            ours = bool(n.flags & NTF_EXT_LEARNED)
            if n.flags & NTF_SELF and n.dst:
                if n.lladdr == ZERO_MAC:
                    if n.dst in state.flood:
                        state.odd.append(f"flood entry to {n.dst} twice")
                    state.flood.add(n.dst)
                    continue
                if not ours or n.flags & NTF_STICKY:
                    state.odd.append(f"remote MAC {n.lladdr} dst {n.dst}: flags {n.flags:#x}")
                if n.lladdr in state.fdb:
                    state.odd.append(f"remote MAC {n.lladdr} at {state.fdb[n.lladdr]} and {n.dst}")
                state.fdb[n.lladdr] = n.dst
            elif n.flags & NTF_MASTER or n.master == self.bridge:
                if ours:
                    state.twins.add(n.lladdr)
                elif not n.state & NUD_PERMANENT:  # the port's own address is permanent
                    state.odd.append(f"MAC {n.lladdr} learned on the VXLAN port: state {n.state:#x}")
        self.seq += 1
        for n in dump(self.sock, socket.AF_INET, self.seq):
            if n.ifindex != self.bridge or not n.flags & NTF_EXT_LEARNED or n.dst is None:
                continue
            if n.lladdr is None or not n.state & NUD_NOARP:
                state.odd.append(f"neighbour {n.dst}: lladdr {n.lladdr} state {n.state:#x}")
            state.neigh[n.dst] = n.lladdr or ""
        return state


@dataclass
class Expected:
    """The kernel state a set of advertised routes calls for (``docs/dataplane.md``)."""

    fdb: dict[str, str] = field(default_factory=dict)
    flood: set[str] = field(default_factory=set)
    neigh: dict[str, str] = field(default_factory=dict)

    @property
    def entries(self) -> int:
        return 2 * len(self.fdb) + len(self.flood) + len(self.neigh)


def compare(kernel: VniState, want: Expected, limit: int = 20) -> tuple[int, list[str]]:
    """Entries compared and every difference (the first ``limit`` described, the count exact):
    each remote MAC at its VTEP and its bridge twin, each flood entry, each neighbour; nothing more."""
    problems: list[str] = list(kernel.odd)
    count = len(problems)

    def note(text: str) -> None:
        nonlocal count
        count += 1
        if len(problems) < limit:
            problems.append(text)

    for mac, vtep in want.fdb.items():
        got = kernel.fdb.get(mac)
        if got != vtep:
            note(f"fdb {mac}: kernel {got or 'missing'}, advertised {vtep}")
        if mac not in kernel.twins:
            note(f"bridge entry for {mac} missing")
    for mac in kernel.fdb.keys() - want.fdb.keys():
        note(f"fdb {mac} dst {kernel.fdb[mac]}: stale (not advertised)")
    for mac in kernel.twins - want.fdb.keys():
        note(f"bridge entry for {mac}: stale")
    for vtep in want.flood ^ kernel.flood:
        note(f"flood {vtep}: {'missing' if vtep in want.flood else 'stale'}")
    for ip, mac in want.neigh.items():
        got = kernel.neigh.get(ip)
        if got != mac:
            note(f"neighbour {ip}: kernel {got or 'missing'}, advertised {mac}")
    for ip in kernel.neigh.keys() - want.neigh.keys():
        note(f"neighbour {ip} lladdr {kernel.neigh[ip]}: stale")
    compared = len(kernel.fdb.keys() | want.fdb.keys()) + len(kernel.twins | want.fdb.keys())
    compared += len(kernel.flood | want.flood) + len(kernel.neigh.keys() | want.neigh.keys())
    return compared, problems if count <= len(problems) else [*problems, f"... {count} differences in all"]


# --- notifications -----------------------------------------------------------------------------------


def _drop_bridge_twins() -> tuple[bytes, Any]:
    """A classic BPF filter keeping every message except AF_BRIDGE ones without NTF_SELF (the
    bridge twin of each remote MAC): half the messages, dropped in the kernel."""
    program = [
        (0x30, 0, 0, 16),  # ldb [16]: ndm_family
        (0x15, 0, 2, socket.AF_BRIDGE),  # AF_BRIDGE? go on : keep
        (0x30, 0, 0, 26),  # ldb [26]: ndm_flags
        (0x45, 0, 1, NTF_SELF),  # NTF_SELF? keep : drop
        (0x06, 0, 0, 0x40000),  # keep
        (0x06, 0, 0, 0),  # drop
    ]
    code = ctypes.create_string_buffer(b"".join(struct.pack("=HBBI", *insn) for insn in program))
    return struct.pack("=HxxxxxxQ", len(program), ctypes.addressof(code)), code


class Listener:
    """Calls ``callback(time, neigh)`` for each VXLAN-side FDB notification of ``vtep``'s VXLAN
    device (``time.time()`` when read; with ``everything``, for every neighbour notification but the
    bridge twins), on a thread; :attr:`overflows` counts lost batches."""

    def __init__(
        self, netns: str, vxlan_index: int, callback: Callable[[float, Neigh], None], *, everything: bool = False
    ) -> None:
        self.sock = netns_socket(netns, RTMGRP_NEIGH, rcvbuf=256 << 20)
        self._prog, self._code = _drop_bridge_twins()
        self.sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, self._prog)
        self.sock.settimeout(0.5)
        self.vxlan = vxlan_index
        self.callback = callback
        self.everything = everything  # also the other neighbour messages (not the bridge twins)
        self.overflows = 0
        self.messages = 0
        self._stop = False
        self.thread = threading.Thread(target=self._run, name="kstate-listener", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        buffer = bytearray(1 << 20)
        while not self._stop:
            try:
                size = self.sock.recv_into(buffer)
            except TimeoutError:
                continue
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:
                    self.overflows += 1
                    continue
                if self._stop:
                    return
                raise
            now = time.time()
            for n in parse(buffer, size):
                self.messages += 1
                if self.everything or (n.family == socket.AF_BRIDGE and n.ifindex == self.vxlan and n.flags & NTF_SELF):
                    self.callback(now, n)

    def close(self) -> None:
        self._stop = True
        self.thread.join(timeout=5)
        self.sock.close()
