"""The per-VNI and per-VRF tables that paths are imported into by route target.

A :class:`MacVrf` is an L2 VNI (a MAC-VRF, RFC 7432 §9.2; RFC 8365 §5.1.2): it collects
type-2 routes per MAC and per IP, with MAC mobility deciding between VTEPs (RFC 7432 §15),
and type-3 routes as the VNI's flood list (RFC 7432 §11).  An :class:`IpVrf` is an L3 VNI
(an IP-VRF, RFC 9135 §4.2; RFC 9136 §4.4.1): type-5 prefixes and type-2 host routes with
the VTEP and Router's MAC to route through.  Both report what changed as deltas.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

from evpn.rib.bestpath import Reason, compare, select, sequence_newer
from evpn.rib.deltas import (
    Delta,
    FloodChange,
    FloodEntry,
    MacChange,
    Neighbor,
    NeighborChange,
    PrefixChange,
    RemoteMac,
    VrfNextHop,
    VrfRoute,
)
from evpn.rib.paths import Path, route_key
from evpn.wire.extcommunities import RouteTarget
from evpn.wire.routes import InclusiveMulticastRoute, IPPrefixRoute, MacIpRoute

__all__ = ["Candidates", "IpVrf", "MacVrf"]

K = TypeVar("K")
V = TypeVar("V")

Candidates = Path | dict[object, Path]
"""One path (the common case, kept without a container) or several, by their RIB key."""


def _add(table: dict[bytes, Candidates], slot: bytes, key: object, path: Path) -> Candidates:
    current = table.get(slot)
    if current is None or (isinstance(current, Path) and route_key(current.route) == key):
        table[slot] = path
        return path
    if isinstance(current, Path):
        current = {route_key(current.route): current}
        table[slot] = current
    current[key] = path
    return current


def _remove(table: dict[bytes, Candidates], slot: bytes, key: object) -> Candidates | None:
    current = table.get(slot)
    if current is None:
        return None
    if isinstance(current, Path):
        if route_key(current.route) != key:
            return current
        del table[slot]
        return None
    current.pop(key, None)
    if len(current) == 1:
        (only,) = current.values()
        table[slot] = only
        return only
    return current


def _select(candidates: dict[object, Path]) -> tuple[Path, Reason]:
    """:func:`select` over the paths of several RIB keys, taken in key order: paths of one source
    that tie on every step then win by key, not by the order they arrived in."""
    return select([candidates[key] for key in sorted(candidates)])  # type: ignore[type-var]  # bytes keys


def _store(table: dict[K, V], key: K, old: V | None, new: V | None) -> bool:
    """Change ``table[key]`` from ``old`` (its value) to ``new`` (``None``: remove it); False
    when they are equal and nothing changed."""
    if old is new or old == new:
        return False
    if new is None:
        del table[key]
    else:
        table[key] = new
    return True


def _best(candidates: Candidates | None) -> Path | None:
    if candidates is None:
        return None
    if isinstance(candidates, Path):
        return candidates
    return _select(candidates)[0]


def _paths(candidates: Candidates | None) -> list[Path]:
    if candidates is None:
        return []
    return [candidates] if isinstance(candidates, Path) else list(candidates.values())


class MacVrf:
    """An L2 VNI's imported routes and the remote state they make (RFC 7432 §9.2, §11, §15)."""

    def __init__(self, vni: int, import_targets: tuple[RouteTarget, ...], deltas: list[Delta]) -> None:
        self.vni = vni
        self.import_targets = frozenset(import_targets)
        self._deltas = deltas
        self._by_mac: dict[bytes, Candidates] = {}
        self._by_ip: dict[bytes, Candidates] = {}
        self._by_vtep: dict[bytes, Candidates] = {}
        self._entries: dict[tuple[bytes, int, int, bool], RemoteMac] = {}
        self.macs: dict[bytes, RemoteMac] = {}
        """Remote MACs: where each MAC not won by a local path is."""
        self.neighbors: dict[bytes, Neighbor] = {}
        """IP → MAC bindings for ARP/ND suppression, from remote MAC+IP routes."""
        self.flood: dict[bytes, FloodEntry] = {}
        """The flood list: remote VTEPs that sent a type-3 route for this VNI."""

    def add(self, key: object, path: Path) -> list[Path]:
        """Import ``path`` (the best path of RIB key ``key``); returns the local paths it beat
        on MAC mobility, which the owner must withdraw (RFC 7432 §15.1)."""
        route = path.route
        if isinstance(route, MacIpRoute):
            if path.source.is_local and any(
                not other.source.is_local and compare(other, path) in ((True, Reason.SEQUENCE), (True, Reason.STICKY))
                for other in _paths(self._by_mac.get(route.mac))
            ):
                # A local MAC that a remote one already beats (sticky): the owner withdraws it.
                # Not imported at all, so that its IP's neighbour entry does not go and come back.
                return [path]
            candidates = _add(self._by_mac, route.mac, key, path)
            self._publish_mac(route.mac, candidates)
            if route.ip:
                self._publish_ip(route.ip, _add(self._by_ip, route.ip, key, path))
            if isinstance(candidates, dict) and not path.source.is_local:
                return [
                    other
                    for other in candidates.values()
                    if other.source.is_local
                    and compare(path, other) in ((True, Reason.SEQUENCE), (True, Reason.STICKY))
                ]
        elif isinstance(route, InclusiveMulticastRoute) and not path.source.is_local:
            vtep = _flood_vtep(path)
            self._publish_vtep(vtep, _add(self._by_vtep, vtep, key, path))
        return []

    def remove(self, key: object, path: Path) -> None:
        """Forget ``path``, no longer the best of RIB key ``key``."""
        route = path.route
        if isinstance(route, MacIpRoute):
            self._publish_mac(route.mac, _remove(self._by_mac, route.mac, key))
            if route.ip:
                self._publish_ip(route.ip, _remove(self._by_ip, route.ip, key))
        elif isinstance(route, InclusiveMulticastRoute) and not path.source.is_local:
            vtep = _flood_vtep(path)
            self._publish_vtep(vtep, _remove(self._by_vtep, vtep, key))

    @staticmethod
    def same_place(old: Path, new: Path | None) -> bool:
        """Whether ``new``, a path for the same RIB key as ``old``, lands where ``old`` is: then
        :meth:`add` replaces ``old`` and it need not be removed first."""
        if new is None or not isinstance(old.route, InclusiveMulticastRoute):
            return new is not None  # a type-2 key holds its MAC and IP
        return not new.source.is_local and not old.source.is_local and _flood_vtep(old) == _flood_vtep(new)

    def sequence(self, mac: bytes, *, local: bool) -> int | None:
        """The highest MAC mobility sequence number of the paths for ``mac`` that are ours
        (``local``) or remote VTEPs', or ``None`` if there is none (RFC 7432 §15.1: a local MAC
        must beat the remote one; all our routes for one MAC carry one sequence number)."""
        best: int | None = None
        for path in _paths(self._by_mac.get(mac)):
            sequence = path.attributes.sequence
            if path.source.is_local == local and (best is None or sequence_newer(sequence, best)):
                best = sequence
        return best

    def mac_paths(self) -> Iterator[tuple[bytes, Path, Reason]]:
        """Every MAC with its winning path and why it won (RFC 7432 §15)."""
        for mac, candidates in self._by_mac.items():
            if isinstance(candidates, Path):
                yield mac, candidates, Reason.ONLY_PATH
            else:
                yield mac, *_select(candidates)

    def _publish_mac(self, mac: bytes, candidates: Candidates | None) -> None:
        best = _best(candidates)
        new: RemoteMac | None = None
        if best is not None and not best.source.is_local:
            attributes = best.attributes
            label = best.route.label1  # type: ignore[union-attr]  # a MacIpRoute
            entry = (best.next_hop, label, attributes.sequence, attributes.sticky)
            new = self._entries.get(entry)
            if new is None:
                new = self._entries[entry] = RemoteMac(*entry)
        old = self.macs.get(mac)
        if _store(self.macs, mac, old, new):
            self._deltas.append(MacChange(self.vni, mac, old, new))

    def _publish_ip(self, ip: bytes, candidates: Candidates | None) -> None:
        best = _best(candidates)
        new: Neighbor | None = None
        if best is not None and not best.source.is_local:
            new = Neighbor(best.route.mac, best.next_hop)  # type: ignore[union-attr]  # a MacIpRoute
        old = self.neighbors.get(ip)
        if _store(self.neighbors, ip, old, new):
            self._deltas.append(NeighborChange(self.vni, ip, old, new))

    def _publish_vtep(self, vtep: bytes, candidates: Candidates | None) -> None:
        best = _best(candidates)
        new: FloodEntry | None = None
        if best is not None:
            pmsi = best.attributes.pmsi
            new = FloodEntry(pmsi.label if pmsi is not None and pmsi.label else self.vni)
        old = self.flood.get(vtep)
        if _store(self.flood, vtep, old, new):
            self._deltas.append(FloodChange(self.vni, vtep, old, new))


def _flood_vtep(path: Path) -> bytes:
    """The VTEP of a type-3 route: the PMSI tunnel endpoint, else the originator IP (RFC 8365 §5.1.3)."""
    pmsi = path.attributes.pmsi
    if pmsi is not None and len(pmsi.tunnel_id) in (4, 16):
        return pmsi.tunnel_id
    return path.route.originator_ip  # type: ignore[union-attr]  # an InclusiveMulticastRoute


def _masked(prefix: bytes, length: int) -> bytes:
    bits = len(prefix) * 8
    value = int.from_bytes(prefix, "big") >> (bits - length) << (bits - length) if length else 0
    return value.to_bytes(len(prefix), "big")


class IpVrf:
    """An L3 VNI's imported routes: type-5 prefixes and type-2 host routes (RFC 9135 §4.2,
    RFC 9136 §4.4.1), each with the VTEPs and Router's MACs to route through."""

    def __init__(self, name: str, l3vni: int, import_targets: tuple[RouteTarget, ...], deltas: list[Delta]) -> None:
        self.name = name
        self.l3vni = l3vni
        self.import_targets = frozenset(import_targets)
        self._deltas = deltas
        self._by_prefix: dict[tuple[bytes, int], Candidates] = {}
        self.routes: dict[tuple[bytes, int], VrfRoute] = {}
        """Remote routes by (prefix, length)."""

    @staticmethod
    def prefix_of(path: Path) -> tuple[bytes, int] | None:
        """The VRF prefix ``path`` makes, or ``None`` if it makes none: a type-5 route's prefix,
        a type-2 route's IP as a host route when it has label2 (symmetric IRB, RFC 9135 §5.1).
        Either needs the Router's MAC (RFC 9135 §8.1)."""
        route = path.route
        if path.attributes.router_mac is None:
            return None
        if isinstance(route, IPPrefixRoute):
            return _masked(route.prefix, route.prefix_length), route.prefix_length
        if isinstance(route, MacIpRoute) and route.ip and route.label2 is not None:
            return route.ip, len(route.ip) * 8
        return None

    def add(self, key: object, path: Path) -> None:
        """Import ``path`` (the best path of RIB key ``key``)."""
        prefix = self.prefix_of(path)
        if prefix is not None:
            self._publish(prefix, _add(self._by_prefix, prefix, key, path))  # type: ignore[arg-type]

    def remove(self, key: object, path: Path) -> None:
        """Forget ``path``, no longer the best of RIB key ``key``."""
        prefix = self.prefix_of(path)
        if prefix is not None:
            self._publish(prefix, _remove(self._by_prefix, prefix, key))  # type: ignore[arg-type]

    def prefix_paths(self) -> Iterator[tuple[tuple[bytes, int], Path, Reason]]:
        """Every prefix with its winning path and why it won."""
        for prefix, candidates in self._by_prefix.items():
            if isinstance(candidates, Path):
                yield prefix, candidates, Reason.ONLY_PATH
            else:
                yield prefix, *_select(candidates)

    def _publish(self, prefix: tuple[bytes, int], candidates: Candidates | None) -> None:
        new = None
        best = _best(candidates)
        if best is not None and not best.source.is_local:
            # Multipath: paths that tie with the best up to the router-ID step (as FRR's ECMP).
            paths = _paths(candidates)
            group = [best] + [p for p in paths if p is not best and compare(best, p)[1] >= Reason.ROUTER_ID]
            hops = sorted(
                {_next_hop(p) for p in group if not p.source.is_local},
                key=lambda h: (len(h.vtep), h.vtep, h.router_mac, h.vni),
            )
            new = VrfRoute(tuple(hops))
        old = self.routes.get(prefix)
        if _store(self.routes, prefix, old, new):
            self._deltas.append(PrefixChange(self.name, prefix[0], prefix[1], old, new))


def _next_hop(path: Path) -> VrfNextHop:
    route = path.route
    vni = route.label if isinstance(route, IPPrefixRoute) else route.label2  # type: ignore[union-attr]
    return VrfNextHop(path.next_hop, path.attributes.router_mac, vni)  # type: ignore[arg-type]
