"""From the RIB's deltas to kernel operations: the dataplane mapping, pure and stateful.

:class:`Translator` knows which devices serve each L2 VNI and VRF and keeps the entries it
asked for (:attr:`Translator.entries`, the desired kernel state).  Per delta it returns the
operations that move the kernel from the old entry to the new one:

=================  ============================================================
``MacChange``      remote MAC in the L2 VNI's VXLAN device (``FdbEntry``)
``FloodChange``    flood-list entry for the VTEP (``FloodEntry``)
``NeighborChange`` IP → MAC on the L2 VNI's bridge, for ARP/ND suppression
``PrefixChange``   per next hop, the Router's MAC in the L3 VNI's VXLAN device and the
                   VTEP → Router's MAC neighbour on the L3 bridge (shared by every prefix
                   through that VTEP), then the route in the VRF's table
=================  ============================================================

A VNI or VRF without devices is not programmed (its deltas give no operations).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import attrs

from evpn.rib.deltas import Delta, FloodChange, MacChange, NeighborChange, PrefixChange, VrfNextHop
from evpn.sink.ops import Action, Entry, FdbEntry, FloodEntry, NeighborEntry, Op, RouteEntry
from evpn.types import format_ip, format_mac

__all__ = ["L2Devices", "L3Devices", "Translator", "mapped_ipv6"]

log = logging.getLogger("evpn.sink")

_MAPPED = bytes(10) + b"\xff\xff"


def mapped_ipv6(address: bytes) -> bytes:
    """``address`` as an IPv6 next hop: an IPv4 address becomes ``::ffff:a.b.c.d`` (RFC 4291
    §2.5.5.2), as an IPv6 route over an IPv4 underlay needs (RFC 9136 §4.4.1, as FRR)."""
    return _MAPPED + address if len(address) == 4 else address


@attrs.frozen
class L2Devices:
    """The kernel devices of an L2 VNI: its VXLAN device and the bridge it is a port of
    (the bridge is also the SVI that holds neighbour entries)."""

    vxlan: str
    bridge: str


@attrs.frozen
class L3Devices:
    """The kernel devices of a VRF's L3 VNI and the routing table its routes go to
    (the VRF device's table, or an explicit one such as 254, the main table)."""

    vxlan: str
    bridge: str
    table: int


class Translator:
    """Turns deltas into :class:`Op` lists and remembers the desired kernel state."""

    def __init__(self, vnis: Mapping[int, L2Devices], vrfs: Mapping[str, L3Devices]) -> None:
        self.vnis = dict(vnis)
        self.vrfs = dict(vrfs)
        self.entries: dict[object, Entry] = {}
        """Every entry the deltas so far call for, by key: what the kernel should hold."""
        self._users: dict[object, set[tuple[str, bytes, int]]] = {}  # shared L3 entry -> the routes using it
        self._used: dict[tuple[str, bytes, int], set[object]] = {}  # a route -> the shared entries it uses
        self._bound: dict[object, bytes] = {}  # ("router-mac", L3 bridge, VTEP) -> the VTEP's Router's MAC

    def translate(self, delta: Delta) -> list[Op]:
        """The operations that apply ``delta``."""
        if isinstance(delta, MacChange):
            devices = self.vnis.get(delta.vni)
            if devices is None:
                return []
            new = delta.new
            entry = None if new is None else FdbEntry(devices.vxlan, delta.mac, new.vtep, new.sticky)
            return self._set(("fdb", devices.vxlan, delta.mac), entry)
        if isinstance(delta, FloodChange):
            devices = self.vnis.get(delta.vni)
            if devices is None:
                return []
            return self._set(
                ("flood", devices.vxlan, delta.vtep), FloodEntry(devices.vxlan, delta.vtep) if delta.new else None
            )
        if isinstance(delta, NeighborChange):
            devices = self.vnis.get(delta.vni)
            if devices is None:
                return []
            new_neighbor = delta.new
            neighbor = None if new_neighbor is None else NeighborEntry(devices.bridge, delta.ip, new_neighbor.mac)
            return self._set(("neigh", devices.bridge, delta.ip), neighbor)
        return self._prefix(delta)

    def _set(self, key: object, entry: Entry | None) -> list[Op]:
        old = self.entries.get(key)
        if entry is None:
            if old is None:
                return []
            del self.entries[key]
            return [Op(Action.REMOVE, old)]
        if old == entry:
            return []
        self.entries[key] = entry
        return [Op(Action.REPLACE, entry)]

    def _prefix(self, delta: PrefixChange) -> list[Op]:
        devices = self.vrfs.get(delta.vrf)
        if devices is None:
            return []
        user = (delta.vrf, delta.prefix, delta.length)
        ipv6 = len(delta.prefix) == 16
        ops: list[Op] = []
        hops: list[VrfNextHop] = []
        used: set[object] = set()
        for hop in delta.new.next_hops if delta.new else ():
            binding = ("router-mac", devices.bridge, hop.vtep)  # one Router's MAC per VTEP, any family
            needs = self._shared(devices, hop, ipv6)
            bound = self._bound.get(binding)
            if bound is not None and bound != hop.router_mac and self._users.get(binding, set()) - {user}:
                clash = f"its Router's MAC {format_mac(bound)}"
            else:  # and one VTEP per Router's MAC
                clash = next((str(e) for k, e in needs if self._taken(k, e, user)), "")
            if clash:
                log.error(
                    "VRF %s: VTEP %s with Router's MAC %s clashes with %s: next hop left out",
                    delta.vrf,
                    format_ip(hop.vtep),
                    format_mac(hop.router_mac),
                    clash,
                )
                continue
            hops.append(hop)
            self._bound[binding] = hop.router_mac
            for key, entry in [(binding, None), *needs]:  # what the route needs first
                self._users.setdefault(key, set()).add(user)
                used.add(key)
                if entry is not None:
                    ops += self._set(key, entry)
        route_key = ("route", devices.table, delta.prefix, delta.length)
        if hops:
            gateways = tuple(mapped_ipv6(h.vtep) if ipv6 else h.vtep for h in hops)
            ops += self._set(route_key, RouteEntry(devices.table, delta.prefix, delta.length, devices.bridge, gateways))
        else:
            ops += self._set(route_key, None)
        for key in self._used.pop(user, ()):
            if key not in used:
                ops += self._release(key, user)
        if used:
            self._used[user] = used
        return ops

    def _taken(self, key: object, entry: Entry, user: tuple[str, bytes, int]) -> bool:
        """Whether ``key`` holds another entry than ``entry`` that other prefixes still use."""
        installed = self.entries.get(key)
        return installed is not None and installed != entry and bool(self._users.get(key, set()) - {user})

    def _shared(self, devices: L3Devices, hop: VrfNextHop, ipv6: bool) -> list[tuple[object, Entry]]:
        """The entries a route through ``hop`` needs: the Router's MAC behind the VTEP on the L3
        VXLAN device, and the VTEP's neighbour entry with that MAC on the L3 bridge."""
        gateway = mapped_ipv6(hop.vtep) if ipv6 else hop.vtep
        return [
            (("fdb", devices.vxlan, hop.router_mac), FdbEntry(devices.vxlan, hop.router_mac, hop.vtep)),
            (("neigh", devices.bridge, gateway), NeighborEntry(devices.bridge, gateway, hop.router_mac)),
        ]

    def _release(self, key: object, user: tuple[str, bytes, int]) -> list[Op]:
        users = self._users.get(key)
        if users is None:
            return []
        users.discard(user)
        if users:
            return []
        del self._users[key]
        if self._bound.pop(key, None) is not None:  # a binding, not an entry
            return []
        return self._set(key, None)
