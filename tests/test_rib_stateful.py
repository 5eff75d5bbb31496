"""The RIB against itself: after any sequence of announcements, withdrawals, session losses and
local originations, the incremental state equals a RIB rebuilt from the Adj-RIBs-In (the peers'
paths in any order, then ours), and the changes and deltas it reported, replayed, give that state."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from rib_helpers import (
    EVPN,
    HOST1,
    HOST2,
    L3VNI,
    MAC1,
    MAC2,
    OUR_ASN,
    OUR_ID,
    RD_LOCAL,
    RMAC_A,
    RMAC_B,
    RT_L2,
    RT_L2B,
    RT_L3,
    RT_OTHER,
    VNI,
    VNI_B,
    VRF,
    VTEP_A,
    VTEP_B,
    VTEP_C,
    attrs_,
    ebgp,
    ibgp,
    ip,
    seq_path,
)

from evpn.rib import (
    Delta,
    FloodChange,
    MacChange,
    NeighborChange,
    Path,
    PrefixChange,
    Reason,
    Rib,
    Source,
    compare,
    route_key,
)
from evpn.wire import InclusiveMulticastRoute, IPPrefixRoute, MacIpRoute, Nlri


def new_rib() -> Rib:
    return Rib(
        OUR_ASN,
        OUR_ID,
        vnis=[(VNI, [RT_L2]), (VNI_B, [RT_L2B])],
        vrfs=[(VRF, L3VNI, [RT_L3])],
    )


PEERS = [ibgp("198.18.0.11", client=True), ibgp("198.18.0.12"), ebgp("198.18.0.13")]
ADDRESSES = ["", *(p.address for p in PEERS)]

# Small pools, so that keys, MACs, IPs, prefixes and VTEPs collide.
REMOTE_RDS = ["198.18.0.2:1", "198.18.0.3:1"]
type2 = st.builds(
    MacIpRoute,
    rd=st.sampled_from(REMOTE_RDS),
    mac=st.sampled_from([MAC1, MAC2]),
    ip=st.sampled_from([None, HOST1, HOST2]),
    label1=st.sampled_from([VNI, VNI_B]),
    label2=st.sampled_from([None, L3VNI]),
)
type3 = st.builds(
    InclusiveMulticastRoute, rd=st.sampled_from(REMOTE_RDS), originator_ip=st.sampled_from([VTEP_A, VTEP_B])
)
type5 = st.builds(
    IPPrefixRoute,
    rd=st.sampled_from(["198.18.0.2:2", "198.18.0.3:2"]),
    prefix=st.sampled_from(["198.19.50.0", "198.19.60.0"]),
    prefix_length=st.just(24),
    label=st.just(L3VNI),
)
remote_routes = st.one_of(type2, type3, type5)

local_routes = st.one_of(
    st.builds(
        MacIpRoute,
        rd=st.just(RD_LOCAL),
        mac=st.sampled_from([MAC1, MAC2]),
        ip=st.sampled_from([None, HOST1]),
        label1=st.sampled_from([VNI, VNI_B, 300]),
    ),
    st.just(InclusiveMulticastRoute(rd=RD_LOCAL, originator_ip=OUR_ID)),
    st.just(IPPrefixRoute(rd=RD_LOCAL, prefix="198.19.70.0", prefix_length=24, label=L3VNI)),
)


def common_attribute_sets(source: Source) -> st.SearchStrategy[tuple[Any, ...]]:
    """A few attribute sets that recur, so that paths often tie (multipath, equal sequence numbers)."""
    as_path = None if source.ibgp else seq_path(65001)
    return st.sampled_from(
        [
            attrs_(RT_L2, RT_L3, rmac=RMAC_A, as_path=as_path),
            attrs_(RT_L2, RT_L3, rmac=RMAC_A, as_path=as_path, seq=1),
            attrs_(RT_L2B, RT_L3, rmac=RMAC_B, as_path=as_path, pmsi=VTEP_B),
            attrs_(RT_L2, as_path=as_path, seq=0, sticky=True),
        ]
    )


@st.composite
def attribute_sets(draw: st.DrawFn, source: Source) -> tuple[Any, ...]:
    if source.ibgp:
        as_path = draw(st.sampled_from([None, seq_path(65001)]))
    else:  # the last one loops: our AS in an eBGP AS_PATH
        as_path = draw(st.sampled_from([seq_path(65001), seq_path(65001, 65002), seq_path(65001, OUR_ASN)]))
    mobility = draw(st.sampled_from([None, 0, 1, 2, 0xFFFFFFFF]))
    return attrs_(
        *draw(st.lists(st.sampled_from([RT_L2, RT_L2B, RT_L3, RT_OTHER]), max_size=3, unique=True)),
        seq=mobility,
        sticky=mobility is not None and draw(st.integers(0, 5)) == 0,
        rmac=draw(st.sampled_from([None, RMAC_A, RMAC_B])),
        local_pref=draw(st.sampled_from([None, 100, 200])),
        as_path=as_path,
        originator=draw(st.sampled_from([None, None, None, "198.18.0.2", OUR_ID])),
        pmsi=draw(st.sampled_from([None, VTEP_A, VTEP_B])),
    )


@st.composite
def local_attribute_sets(draw: st.DrawFn) -> tuple[Any, ...]:
    return attrs_(
        *draw(st.lists(st.sampled_from([RT_L2, RT_L2B, RT_L3]), max_size=2, unique=True)),
        seq=draw(st.sampled_from([None, 0, 7])),
        sticky=draw(st.integers(0, 5)) == 0,
        rmac=RMAC_A,
        pmsi=OUR_ID,
    )


def summary(path: Path) -> tuple[object, ...]:
    return (path.source.address, path.route, path.attributes.attributes, path.next_hop)


def tables(rib: Rib) -> dict[tuple[object, ...], object]:
    """Every VNI and VRF entry, keyed as :func:`delta_key` keys deltas."""
    out: dict[tuple[object, ...], object] = {}
    for vni, mac_vrf in rib.vnis.items():
        out.update({("mac", vni, mac): entry for mac, entry in mac_vrf.macs.items()})
        out.update({("neighbor", vni, address): entry for address, entry in mac_vrf.neighbors.items()})
        out.update({("flood", vni, vtep): entry for vtep, entry in mac_vrf.flood.items()})
    for name, ip_vrf in rib.vrfs.items():
        out.update({("prefix", name, network): entry for network, entry in ip_vrf.routes.items()})
    return out


def delta_key(delta: Delta) -> tuple[object, ...]:
    if isinstance(delta, MacChange):
        return ("mac", delta.vni, delta.mac)
    if isinstance(delta, NeighborChange):
        return ("neighbor", delta.vni, delta.ip)
    if isinstance(delta, FloodChange):
        return ("flood", delta.vni, delta.vtep)
    assert isinstance(delta, PrefixChange)
    return ("prefix", delta.vrf, (delta.prefix, delta.length))


class RibMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.rib = new_rib()
        self.steps = 0
        self.replayed: dict[tuple[object, ...], object] = {}  # the deltas applied to an empty state
        self.loc: dict[object, Path] = {}  # take_changes() applied to an empty Loc-RIB
        self.originated: set[Nlri] = set()
        self.refused: set[object] = set()  # keys originate() took and withdrew at once
        self.one_route = False  # the last step changed one route: each entry changes at most once

    @rule(data=st.data(), peer=st.sampled_from(PEERS))
    def announce(self, data: st.DataObject, peer: Source) -> None:
        routes = data.draw(st.lists(remote_routes, min_size=1, max_size=3))
        attributes = data.draw(common_attribute_sets(peer) | attribute_sets(peer))
        next_hop = data.draw(st.sampled_from([VTEP_A, VTEP_B, VTEP_C]))
        self.rib.update(peer, EVPN, routes, attributes, ip(next_hop))
        self.one_route = len(routes) == 1

    @rule(data=st.data(), peer=st.sampled_from(PEERS))
    def withdraw(self, data: st.DataObject, peer: Source) -> None:
        held = [p.route for p in self.rib.adj_in(peer.address, EVPN).values()]
        pool = st.sampled_from(held) | remote_routes if held else remote_routes
        routes = data.draw(st.lists(pool, min_size=1, max_size=3))
        self.rib.withdraw(peer, EVPN, routes)
        self.one_route = len(routes) == 1

    @rule(peer=st.sampled_from(PEERS), graceful=st.booleans())
    def peer_down(self, peer: Source, graceful: bool) -> None:
        self.rib.peer_down(peer.address, keep=[EVPN] if graceful else [])

    @rule(peer=st.sampled_from(PEERS))
    def sweep(self, peer: Source) -> None:
        self.rib.sweep(peer.address, EVPN)

    @rule(peer=st.sampled_from(PEERS))
    def route_refresh(self, peer: Source) -> None:
        self.rib.mark_stale(peer.address, EVPN)

    @rule(route=local_routes, attributes=local_attribute_sets())
    def originate(self, route: Nlri, attributes: tuple[Any, ...]) -> None:
        path = self.rib.originate(route, attributes, ip(OUR_ID))
        # None when a remote MAC already wins on mobility; read back what the RIB holds.
        assert path is self.rib.adj_in("", EVPN).get(route_key(route))
        assert path is None or (path.route == route and path.source.is_local)
        if path is None:
            self.refused.add(route_key(route))
        self.originated.add(route)
        self.one_route = True

    @precondition(lambda self: self.originated)
    @rule(data=st.data())
    def remove_local(self, data: st.DataObject) -> None:
        route = data.draw(st.sampled_from(sorted(self.originated, key=repr)))
        held = route_key(route) in self.rib.adj_in("", EVPN)
        assert self.rib.remove_local(route) is held
        self.originated.discard(route)
        self.one_route = True

    @invariant()
    def changes_replay_the_loc_rib(self) -> None:
        for key, best in self.rib.take_changes().items():
            if best is None:
                assert key in self.loc or key in self.refused, "a route gone that was never there"
                self.loc.pop(key, None)
            else:
                self.loc[key] = best
        self.refused.clear()
        assert self.loc == {key: best for key, best, _ in self.rib.best_paths()}

    @invariant()
    def deltas_replay_the_tables(self) -> None:
        deltas = self.rib.take_deltas()
        if self.one_route:  # no gap: an entry that moves is one change, not a removal and an addition
            keys = [delta_key(d) for d in deltas]
            assert len(keys) == len(set(keys)), deltas
        self.one_route = False
        for delta in deltas:
            key = delta_key(delta)
            assert delta.old != delta.new, f"a delta that changes nothing: {delta}"
            assert self.replayed.get(key) == delta.old, delta
            if delta.new is None:
                del self.replayed[key]
            else:
                self.replayed[key] = delta.new
        assert self.replayed == tables(self.rib)

    @invariant()
    def equals_a_rib_rebuilt_from_the_adj_ribs_in(self) -> None:
        # The peers' paths in any order, then ours: a local MAC route is withdrawn when a remote
        # one beats it on mobility at some moment (RFC 7432 §15), which a rebuild feeding ours first
        # could see in a transient state the incremental RIB never had.  Ours are kept only if they
        # survive the final remote state, which no_local_mac_loses_on_mobility checks.
        shuffle = random.Random(self.steps).shuffle
        self.steps += 1
        remote = [p for address in ADDRESSES[1:] for p in self.rib.adj_in(address, EVPN).values()]
        local = list(self.rib.adj_in("", EVPN).values())
        shuffle(remote)
        shuffle(local)
        rebuilt = new_rib()
        for path in remote + local:
            rebuilt.update(path.source, EVPN, [path.route], path.attributes, path.next_hop)
        assert {p.route for p in rebuilt.adj_in("", EVPN).values()} == {
            p.route for p in self.rib.adj_in("", EVPN).values()
        }
        assert {key: summary(best) for key, best, _ in rebuilt.best_paths()} == {
            key: summary(best) for key, best, _ in self.rib.best_paths()
        }
        assert tables(rebuilt) == tables(self.rib)

    @invariant()
    def no_local_mac_loses_on_mobility(self) -> None:
        # RFC 7432 §15: a MAC route of ours that a remote one beats on sequence number or sticky
        # flag is withdrawn, whichever arrived first.
        remote = [best for _, best, _ in self.rib.best_paths() if isinstance(best.route, MacIpRoute)]
        for local in self.rib.adj_in("", EVPN).values():
            route = local.route
            if not isinstance(route, MacIpRoute) or route.label1 not in self.rib.vnis:
                continue
            targets = self.rib.vnis[route.label1].import_targets
            for other in remote:
                if other.source.is_local or other.route.mac != route.mac:  # type: ignore[union-attr]
                    continue
                if targets & other.attributes.route_targets:
                    assert compare(other, local) not in ((True, Reason.SEQUENCE), (True, Reason.STICKY))


RibMachine.TestCase.settings = settings(
    max_examples=300, stateful_step_count=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_rib_state_machine = RibMachine.TestCase
