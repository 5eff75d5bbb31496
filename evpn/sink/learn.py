"""Local learning: from the kernel's bridges and neighbour tables to the routes we originate.

:class:`Learner` is pure: it is fed what netlink reports (:class:`LinkState` and
:class:`NeighborState`, read by :class:`evpn.sink.netlink.NetlinkWatcher`) and tells which
local routes should exist (:meth:`Learner.take`), as FRR's zebra does for bgpd:

* a **local MAC** is an entry of a VNI's bridge FDB on a host port: not the VXLAN port, not
  the bridge's own addresses (``NUD_PERMANENT``), not an entry some control plane installed
  (``NTF_EXT_LEARNED``: ours are never learned back) → a type-2 MAC route (RFC 7432 §9);
* a **local MAC+IP** is a valid neighbour (``NUD_VALID``) on the VNI's SVI (its bridge), not
  ``NTF_EXT_LEARNED``, not IPv6 link-local, *whose MAC is a local MAC* (a neighbour of a host
  behind a remote VTEP is not ours to advertise) → a type-2 MAC+IP route;
* a **VNI is up** while its VXLAN device exists, is up and is a port of its bridge → its
  type-3 route (RFC 7432 §11.1).

A MAC that leaves the VXLAN port for a host port (a host moved here) becomes local; the RIB
gives its route the next MAC mobility sequence number (RFC 7432 §15.1).
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Mapping

import attrs

from evpn.sink.translate import L2Devices

__all__ = ["Learner", "LinkState", "LocalMacChange", "NeighborState", "VniChange"]

_NUD_VALID = 0x02 | 0x04 | 0x08 | 0x10 | 0x40 | 0x80  # REACHABLE STALE DELAY PROBE NOARP PERMANENT
_NUD_PERMANENT = 0x80
_NTF_EXT_LEARNED = 0x10
_ZERO_MAC = bytes(6)


@attrs.frozen(slots=True)
class LinkState:
    """A network device as ``RTM_NEWLINK``/``RTM_DELLINK`` reports it."""

    index: int
    name: str
    master: int
    """The ifindex of its master (the bridge it is a port of), or 0."""
    up: bool
    """Administratively up (``IFF_UP``)."""
    present: bool = True
    """False for ``RTM_DELLINK``."""


@attrs.frozen(slots=True)
class NeighborState:
    """A neighbour or bridge FDB entry as ``RTM_NEWNEIGH``/``RTM_DELNEIGH`` reports it."""

    family: int
    """``AF_BRIDGE`` for FDB entries, ``AF_INET``/``AF_INET6`` for neighbours."""
    index: int
    """The device: the bridge port of an FDB entry, the SVI of a neighbour."""
    master: int
    """``NDA_MASTER``: the bridge of a bridge FDB entry (0 for a device's own FDB)."""
    mac: bytes
    ip: bytes
    """The neighbour's address (empty for FDB entries)."""
    state: int
    flags: int
    present: bool = True
    """False for ``RTM_DELNEIGH``."""


@attrs.frozen(slots=True)
class LocalMacChange:
    """A local type-2 route to originate (``present``) or withdraw: ``ip`` is empty for the
    MAC-only route."""

    vni: int
    mac: bytes
    ip: bytes
    present: bool


@attrs.frozen(slots=True)
class VniChange:
    """An L2 VNI's VXLAN device came up in its bridge (``up``) or went away."""

    vni: int
    up: bool


LearnedChange = LocalMacChange | VniChange


def _is_host_mac(mac: bytes) -> bool:
    return len(mac) == 6 and mac != _ZERO_MAC and not mac[0] & 1


def _is_host_ip(ip: bytes) -> bool:
    if len(ip) == 4:
        return ip[0] < 224 and ip != bytes(4)
    return len(ip) == 16 and ip[0] != 0xFF and ip[:2] != b"\xfe\x80" and ip != bytes(16)


class Learner:
    """The local MACs, MAC+IPs and VNIs of the kernel devices ``vnis`` (by VNI).

    Every VNI starts as up, as the speaker announces every configured VNI's type-3 route at
    start.  Feed it with :meth:`link`, :meth:`neighbor` or a whole :meth:`snapshot`; collect
    what changed with :meth:`take`.
    """

    def __init__(self, vnis: Mapping[int, L2Devices]) -> None:
        self._devices = dict(vnis)
        self._links: dict[int, LinkState] = {}
        self._by_name: dict[str, LinkState] = {}
        self._bridge_vni: dict[int, int] = {}
        self._vxlan_ports: set[int] = set()
        self._macs: set[tuple[int, bytes]] = set()
        self._ips: dict[tuple[int, bytes], bytes] = {}  # (vni, IP) -> MAC
        self._ips_of: dict[tuple[int, bytes], set[bytes]] = {}  # (vni, MAC) -> IPs
        self._dirty: set[tuple[int, bytes]] = set()
        self._reported: dict[tuple[int, bytes], frozenset[bytes]] = {}
        self._vni_up = dict.fromkeys(vnis, True)
        self._withdrawn: list[LocalMacChange] = []

    def snapshot(self, links: Iterable[LinkState], neighbors: Iterable[NeighborState]) -> None:
        """Replace everything known with a full dump (at start, and after lost notifications)."""
        self._links = {link.index: link for link in links if link.present}
        self._index_devices()
        self._dirty.update(self._reported)
        self._macs.clear()
        self._ips.clear()
        self._ips_of.clear()
        for neighbor in neighbors:
            self.neighbor(neighbor)

    def link(self, state: LinkState) -> None:
        """A device appeared, changed or went away."""
        if state.present:
            self._links[state.index] = state
        else:
            self._links.pop(state.index, None)
        self._index_devices()

    def neighbor(self, state: NeighborState) -> None:
        """A bridge FDB entry or a neighbour appeared, changed or went away."""
        if state.family == socket.AF_BRIDGE:
            vni = self._bridge_vni.get(state.master)
            if vni is None:
                return
            key = (vni, state.mac)
            local = (
                state.present
                and state.index != state.master
                and state.index not in self._vxlan_ports
                and not state.state & _NUD_PERMANENT
                and not state.flags & _NTF_EXT_LEARNED
                and _is_host_mac(state.mac)
            )
            if local != (key in self._macs):
                if local:
                    self._macs.add(key)
                else:
                    self._macs.discard(key)
                self._dirty.add(key)
            return
        vni = self._bridge_vni.get(state.index)
        if vni is None:
            return
        where = (vni, state.ip)
        old = self._ips.pop(where, None)
        if old is not None:
            self._ips_of[(vni, old)].discard(state.ip)
            self._dirty.add((vni, old))
        if (
            state.present
            and state.state & _NUD_VALID
            and not state.flags & _NTF_EXT_LEARNED
            and _is_host_mac(state.mac)
            and _is_host_ip(state.ip)
        ):
            self._ips[where] = state.mac
            self._ips_of.setdefault((vni, state.mac), set()).add(state.ip)
            self._dirty.add((vni, state.mac))

    def installed(self, vni: int, mac: bytes, ip: bytes = b"") -> None:
        """A remote entry for ``mac`` (with ``ip``: its neighbour entry) is being installed in
        ``vni``: the kernel's local entry, if any, is replaced by it.  The notifications of our own
        entries are not watched (:class:`~evpn.sink.netlink.NetlinkWatcher` filters them), so the
        dataplane says so here.  The RIB has already withdrawn our routes for it (a remote route
        won on MAC mobility); they are reported withdrawn, so that learning the MAC again
        announces it again."""
        if ip:
            local = self._ips.pop((vni, ip), None)
            if local is None:
                return
            key = (vni, local)
            self._ips_of[key].discard(ip)
            gone = frozenset({ip})
        else:
            key = (vni, mac)
            if key not in self._macs:
                return
            self._macs.discard(key)
            gone = self._reported.get(key, frozenset())
        reported = self._reported.pop(key, frozenset())
        if reported - gone:
            self._reported[key] = reported - gone
        for address in sorted(reported & gone):
            self._withdrawn.append(LocalMacChange(vni, key[1], address, False))

    def take(self) -> list[LearnedChange]:
        """What changed since the last call: VNIs first, then withdrawals, then announcements
        (each in (VNI, MAC, IP) order)."""
        changes: list[LearnedChange] = []
        for vni, devices in self._devices.items():
            up = self._is_up(devices)
            if up != self._vni_up[vni]:
                self._vni_up[vni] = up
                changes.append(VniChange(vni, up))
        gone: list[LearnedChange] = []
        new: list[LearnedChange] = []
        for key in sorted(self._dirty):
            vni, mac = key
            want = frozenset({b"", *self._ips_of.get(key, ())}) if key in self._macs else frozenset()
            have = self._reported.get(key, frozenset())
            gone += (LocalMacChange(vni, mac, ip, False) for ip in sorted(have - want))
            new += (LocalMacChange(vni, mac, ip, True) for ip in sorted(want - have))
            if want:
                self._reported[key] = want
            else:
                self._reported.pop(key, None)
            if not self._ips_of.get(key, True):
                del self._ips_of[key]
        self._dirty.clear()
        withdrawn, self._withdrawn = self._withdrawn, []
        return changes + withdrawn + gone + new

    def _index_devices(self) -> None:
        self._by_name = by_name = {link.name: link for link in self._links.values()}
        self._bridge_vni = {}
        self._vxlan_ports = set()
        for vni, devices in self._devices.items():
            if (bridge := by_name.get(devices.bridge)) is not None:
                self._bridge_vni[bridge.index] = vni
            if (vxlan := by_name.get(devices.vxlan)) is not None:
                self._vxlan_ports.add(vxlan.index)

    def _is_up(self, devices: L2Devices) -> bool:
        vxlan, bridge = self._by_name.get(devices.vxlan), self._by_name.get(devices.bridge)
        return vxlan is not None and bridge is not None and vxlan.up and vxlan.master == bridge.index
