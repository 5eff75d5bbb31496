"""The RIB: Adj-RIB-In per source, the Loc-RIB with the decision process, import into VNIs/VRFs.

:class:`Rib` is pure and synchronous.  The speaker feeds it what sessions receive
(:meth:`Rib.update`, :meth:`Rib.withdraw`, :meth:`Rib.peer_down`) and what we originate
(:meth:`Rib.originate`); it keeps every path, picks the best per route (RFC 4271 §9.1,
RFC 7432 §15), imports best paths into the configured L2 VNIs and VRFs by route target
(RFC 4364 §4.3.1 as applied by RFC 7432 §9.2.1 and RFC 9136 §5) and reports two things:

* :meth:`Rib.take_changes`: the routes whose best path changed, for the Adj-RIBs-Out;
* :meth:`Rib.take_deltas`: per-VNI/VRF :mod:`~evpn.rib.deltas` for the dataplane.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence

from evpn.rib.bestpath import Reason, select, sequence_newer
from evpn.rib.deltas import Delta
from evpn.rib.paths import Path, PathAttributes, Source, new_path, path_attributes, route_key
from evpn.rib.tables import IpVrf, MacVrf
from evpn.session.negotiation import Family
from evpn.session.session import EVPN
from evpn.types import ip_bytes
from evpn.wire.attributes import Attribute, ExtendedCommunities, Nlri
from evpn.wire.codes import AFI, SAFI
from evpn.wire.extcommunities import MacMobility, RouteTarget
from evpn.wire.routes import InclusiveMulticastRoute, IPPrefixRoute, MacIpRoute

__all__ = ["Family", "Rib", "family_of"]

log = logging.getLogger("evpn.rib")

_MASK = (1 << 32) - 1
_IMPORT_MEMO = 4096


def family_of(route: Nlri) -> Family:
    """The (AFI, SAFI) a route travels in: L2VPN EVPN (RFC 7432 §7), else IPv4/IPv6 unicast."""
    if hasattr(route, "route_type"):
        return EVPN
    return (AFI.IPV6 if len(route.network) == 16 else AFI.IPV4, SAFI.UNICAST)  # type: ignore[union-attr]


class _Contest:
    """Several paths for one route, by source address, with the best one and why."""

    __slots__ = ("best", "paths", "reason")

    def __init__(self, paths: dict[str, Path]) -> None:
        self.paths = paths
        self.best, self.reason = select(paths.values())


class Rib:
    """Routes from every source, the best per route, and the VNI/VRF state they make.

    ``vnis`` are ``(vni, import targets)`` pairs, ``vrfs`` ``(name, l3vni, import targets)``
    triples (normally from the configuration's ``[[vnis]]`` and ``[[vrfs]]``).
    ``cluster_id`` is our route-reflector cluster ID (RFC 4456 §7), the router ID by default.
    """

    def __init__(
        self,
        asn: int,
        router_id: str,
        *,
        cluster_id: str | None = None,
        vnis: Sequence[tuple[int, Sequence[RouteTarget]]] = (),
        vrfs: Sequence[tuple[str, int, Sequence[RouteTarget]]] = (),
    ) -> None:
        self.asn = asn
        self.router_id = int.from_bytes(ip_bytes(router_id), "big")
        self.cluster_id = ip_bytes(cluster_id or router_id)
        self.local = Source.local(asn, self.router_id)
        self._deltas: list[Delta] = []
        self.vnis = {vni: MacVrf(vni, tuple(targets), self._deltas) for vni, targets in vnis}
        """The L2 VNIs by VNI."""
        self.vrfs = {name: IpVrf(name, l3vni, tuple(targets), self._deltas) for name, l3vni, targets in vrfs}
        """The VRFs by name."""
        self._adj_in: dict[str, dict[Family, dict[object, Path]]] = {"": {}}
        self._loc: dict[object, Path | _Contest] = {}
        self._changes: dict[object, Path | None] = {}
        self._stale: dict[str, dict[Family, set[object]]] = {}
        self._imports: dict[int, tuple[PathAttributes, tuple[MacVrf, ...], tuple[IpVrf, ...]]] = {}
        self.rejected = 0
        """Received routes ignored because their path loops back to us (RFC 4271 §9.1.2, RFC 4456 §8)."""

    # --- input -------------------------------------------------------------------------

    def update(
        self,
        source: Source,
        family: Family,
        routes: Sequence[Nlri],
        attributes: tuple[Attribute, ...] | PathAttributes,
        next_hop: bytes,
    ) -> list[Path] | None:
        """Routes received from ``source`` (or originated, for :attr:`local`) with shared
        ``attributes``; each replaces that source's earlier path for it (RFC 4271 §3.1).

        Paths that loop back to us are treated as withdrawn: our AS in the AS_PATH of an
        eBGP path (RFC 4271 §9.1.2), our router ID as ORIGINATOR_ID or our cluster ID in
        the CLUSTER_LIST (RFC 4456 §8).  Returns ``None`` when the routes were taken, else
        the paths of ``source`` they withdrew so.
        """
        shared = attributes if isinstance(attributes, PathAttributes) else path_attributes(attributes)
        if not source.is_local and self._loops(source, shared):
            self.rejected += len(routes)
            return self.withdraw(source, family, routes)
        table = self._adj_in.setdefault(source.address, {}).setdefault(family, {})
        stale = self._stale.get(source.address, {}).get(family)
        loc = self._loc
        changes = self._changes
        importing = bool(self.vnis or self.vrfs)
        for route in routes:
            key = getattr(route, "key", route)
            path = new_path(source, route, shared, next_hop)
            old = table.get(key)
            table[key] = path
            if stale:
                stale.discard(key)
            entry = loc.get(key)
            if entry is None:  # the common case: a route no other source sent
                loc[key] = changes[key] = path
                if importing:
                    self._import(key, None, path)
            elif entry is old:
                loc[key] = changes[key] = path
                if importing:
                    self._import(key, old, path)
            else:
                self._contest(key, entry, source.address, path)
        return None

    def withdraw(self, source: Source, family: Family, routes: Iterable[Nlri]) -> list[Path]:
        """``source`` withdrew ``routes`` (RFC 4271 §3.1); returns the paths that were there
        (routes it never sent are ignored)."""
        table = self._adj_in.get(source.address, {}).get(family)
        gone: list[Path] = []
        if table:
            for route in routes:
                old = table.pop(getattr(route, "key", route), None)
                if old is not None:
                    gone.append(old)
                    self._drop(old)
        return gone

    def peer_down(self, address: str, *, keep: Iterable[Family] = ()) -> list[Path]:
        """Withdraw every path from peer ``address`` (RFC 4271 §9.1: its routes are gone when
        the session ends), except those of the ``keep`` families: a restarting peer's routes
        that stay as stale until :meth:`sweep` (RFC 4724 §4.2).  Returns the withdrawn paths."""
        kept = set(keep)
        gone: list[Path] = []
        for family in list(self._adj_in.get(address, {})):
            if family in kept:
                self.mark_stale(address, family)
            else:
                gone.extend(self.remove_family(address, family))
        stale = self._stale.get(address, {})
        for family in [f for f in stale if f not in kept]:  # marked, with no paths (left)
            del stale[family]
        return gone

    def remove_family(self, address: str, family: Family) -> list[Path]:
        """Withdraw every path of ``address`` in ``family`` (RFC 7606 §2 AFI/SAFI disable, or
        its session ended); returns them."""
        table = self._adj_in.get(address, {}).pop(family, {})
        self._stale.get(address, {}).pop(family, None)
        for old in table.values():
            self._drop(old)
        return list(table.values())

    def mark_stale(self, address: str, family: Family) -> None:
        """Mark every path of ``address`` in ``family`` stale: paths it does not send again
        before :meth:`sweep` are withdrawn then (RFC 4724 §4.2; RFC 7313 §4 for route refresh)."""
        table = self._adj_in.get(address, {}).get(family, {})
        self._stale.setdefault(address, {})[family] = set(table)

    def sweep(self, address: str, family: Family) -> list[Path]:
        """Withdraw the paths of ``address`` in ``family`` still stale; returns them."""
        keys = self._stale.get(address, {}).pop(family, set())
        table = self._adj_in.get(address, {}).get(family, {})
        swept: list[Path] = []
        for key in keys:
            old = table.pop(key, None)
            if old is not None:
                swept.append(old)
                self._drop(old)
        return swept

    def stale_families(self, address: str) -> tuple[Family, ...]:
        """The families of ``address`` with stale paths waiting for :meth:`sweep`."""
        return tuple(self._stale.get(address, {}))

    def originate(self, route: Nlri, attributes: tuple[Attribute, ...], next_hop: bytes) -> Path | None:
        """Originate ``route`` (RFC 4271 §9.4) and return its path.

        A MAC that a remote VTEP advertises with sequence number *s* is originated with
        *s + 1* (RFC 7432 §15.1), so that it moves to us; a route for a MAC we already
        advertise with a higher number (its MAC-only or another MAC+IP route) gets that one, as
        the sequence number belongs to the MAC.  A MAC that still loses, to a remote sticky MAC
        (RFC 7432 §15.2), is not originated: ``None``.
        """
        if isinstance(route, MacIpRoute) and (vrf := self.vnis.get(route.label1)) is not None:
            remote = vrf.sequence(route.mac, local=False)
            ours = vrf.sequence(route.mac, local=True)
            sequence = None if remote is None else (remote + 1) & _MASK
            if ours is not None and (sequence is None or sequence_newer(ours, sequence)):
                sequence = ours
            if sequence is not None:
                attributes = _with_sequence(attributes, sequence)
        family = family_of(route)
        self.update(self.local, family, (route,), attributes, next_hop)
        return self.adj_in("", family).get(route_key(route))

    def remove_local(self, route: Nlri) -> bool:
        """Stop originating ``route``; False if it was not originated."""
        return bool(self.withdraw(self.local, family_of(route), (route,)))

    # --- output ------------------------------------------------------------------------

    def take_changes(self) -> dict[object, Path | None]:
        """The routes whose best path changed since the last call: RIB key → new best path,
        ``None`` when the route is gone (what the Adj-RIBs-Out must follow, RFC 4271 §9.1.3)."""
        changes, self._changes = self._changes, {}
        return changes

    def take_deltas(self) -> list[Delta]:
        """The VNI/VRF changes since the last call, in order."""
        deltas = self._deltas[:]
        self._deltas.clear()
        return deltas

    def best(self, key: object) -> tuple[Path, Reason] | None:
        """The best path of RIB key ``key`` and why it won, or ``None``."""
        entry = self._loc.get(key)
        if entry is None:
            return None
        if isinstance(entry, _Contest):
            return entry.best, entry.reason
        return entry, Reason.ONLY_PATH

    def paths(self, key: object) -> list[Path]:
        """Every path of RIB key ``key``, best first."""
        entry = self._loc.get(key)
        if entry is None:
            return []
        if isinstance(entry, Path):
            return [entry]
        return [entry.best, *(p for p in entry.paths.values() if p is not entry.best)]

    def best_paths(self) -> Iterator[tuple[object, Path, Reason]]:
        """The Loc-RIB: every route's key, best path and reason."""
        for key, entry in self._loc.items():
            if isinstance(entry, Path):
                yield key, entry, Reason.ONLY_PATH
            else:
                yield key, entry.best, entry.reason

    def adj_in(self, address: str, family: Family) -> dict[object, Path]:
        """The Adj-RIB-In of ``address`` for ``family`` (``""``: our own routes); do not modify."""
        return self._adj_in.get(address, {}).get(family, {})

    def count(self, address: str, family: Family | None = None) -> int:
        """How many paths ``address`` has in the RIB, in ``family`` or in all."""
        tables = self._adj_in.get(address, {})
        if family is not None:
            return len(tables.get(family, ()))
        return sum(len(t) for t in tables.values())

    def __len__(self) -> int:
        """The number of routes in the Loc-RIB."""
        return len(self._loc)

    # --- internals ---------------------------------------------------------------------

    def _loops(self, source: Source, shared: PathAttributes) -> bool:
        if not source.ibgp and self.asn in shared.as_numbers:
            return True
        if shared.originator_id == self.router_id:
            return True
        return self.cluster_id in shared.cluster_list

    def _contest(self, key: object, entry: Path | _Contest, address: str, path: Path) -> None:
        if isinstance(entry, Path):
            contest = _Contest({entry.source.address: entry, address: path})
            self._loc[key] = contest
            if contest.best is not entry:
                self._best_changed(key, entry, contest.best)
            return
        previous = entry.best
        entry.paths[address] = path
        entry.best, entry.reason = select(entry.paths.values())
        if entry.best is not previous:
            self._best_changed(key, previous, entry.best)

    def _drop(self, old: Path) -> None:
        """Remove ``old`` from the Loc-RIB candidates of its route."""
        key = getattr(old.route, "key", old.route)
        entry = self._loc.get(key)
        if entry is old:
            del self._loc[key]
            self._best_changed(key, old, None)
        elif isinstance(entry, _Contest) and entry.paths.get(old.source.address) is old:
            del entry.paths[old.source.address]
            previous = entry.best
            if len(entry.paths) == 1:
                (only,) = entry.paths.values()
                self._loc[key] = only
                best = only
            else:
                entry.best, entry.reason = select(entry.paths.values())
                best = entry.best
            if best is not previous:
                self._best_changed(key, previous, best)

    def _best_changed(self, key: object, old: Path | None, new: Path | None) -> None:
        self._changes[key] = new
        if self.vnis or self.vrfs:
            self._import(key, old, new)

    def _import(self, key: object, old: Path | None, new: Path | None) -> None:
        """Move RIB key ``key`` in the VNIs and VRFs from best path ``old`` to ``new``."""
        new_l2, new_l3 = self._tables(new) if new is not None else ((), ())
        if old is not None:
            # Where ``new`` takes the same place, add() replaces ``old`` in one change: removing
            # it first would report the entry gone and back (a gap in the dataplane).
            l2, l3 = self._tables(old)
            for mac_vrf in l2:
                if mac_vrf not in new_l2 or not MacVrf.same_place(old, new):
                    mac_vrf.remove(key, old)
            for ip_vrf in l3:
                if ip_vrf not in new_l3 or IpVrf.prefix_of(old) != IpVrf.prefix_of(new):  # type: ignore[arg-type]
                    ip_vrf.remove(key, old)
        if new is not None:
            l2, l3 = new_l2, new_l3
            beaten: list[Path] = []
            for mac_vrf in l2:
                beaten.extend(mac_vrf.add(key, new))
            for ip_vrf in l3:
                ip_vrf.add(key, new)
            for local in beaten:
                log.info(
                    "MAC %s: a remote VTEP's route wins on MAC mobility: withdrawing ours (RFC 7432 §15)",
                    local.route.mac.hex(":"),  # type: ignore[union-attr]
                )
                self.remove_local(local.route)

    def _tables(self, path: Path) -> tuple[tuple[MacVrf, ...], tuple[IpVrf, ...]]:
        """The VNIs and VRFs ``path`` imports into: by route target (RFC 7432 §9.2.1,
        RFC 9136 §5); a local MAC route into the VNI of its label1."""
        route = path.route
        if path.source.is_local:
            if isinstance(route, MacIpRoute) and (vrf := self.vnis.get(route.label1)) is not None:
                return (vrf,), ()
            return (), ()
        shared = path.attributes
        memo = self._imports.get(id(shared))
        if memo is None or memo[0] is not shared:
            if len(self._imports) >= _IMPORT_MEMO:
                self._imports.clear()
            targets = shared.route_targets
            l2 = tuple(v for v in self.vnis.values() if v.import_targets & targets)
            l3 = tuple(v for v in self.vrfs.values() if v.import_targets & targets)
            memo = self._imports[id(shared)] = (shared, l2, l3)
        _, l2, l3 = memo
        if isinstance(route, MacIpRoute):
            return l2, l3 if route.ip else ()
        if isinstance(route, InclusiveMulticastRoute):
            return l2, ()
        if isinstance(route, IPPrefixRoute):
            return (), l3
        return (), ()


def _with_sequence(attributes: tuple[Attribute, ...], sequence: int) -> tuple[Attribute, ...]:
    """``attributes`` with the MAC mobility community's sequence number set (RFC 7432 §7.7)."""
    out: list[Attribute] = []
    found = False
    for attribute in attributes:
        if isinstance(attribute, ExtendedCommunities):
            found = True
            communities = [c for c in attribute.communities if not isinstance(c, MacMobility)]
            sticky = any(isinstance(c, MacMobility) and c.sticky for c in attribute.communities)
            attribute = ExtendedCommunities((*communities, MacMobility(sequence, sticky)))
        out.append(attribute)
    if not found:
        out.append(ExtendedCommunities((MacMobility(sequence),)))
    return tuple(out)
