"""The RIB (:class:`evpn.rib.Rib`): Adj-RIB-In and Loc-RIB, MAC mobility across VTEPs, local
origination, and import into L2 VNIs and VRFs by route target."""

from __future__ import annotations

from typing import Any

import pytest
from rib_helpers import (
    EVPN,
    HOST1,
    L3VNI,
    MAC1,
    OUR_ID,
    RD_A,
    RD_B,
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
    attrs_,
    ebgp,
    ibgp,
    imet,
    ip,
    mac_route,
    make_rib,
    prefix,
    seq_path,
)

from evpn.rib import (
    Delta,
    FloodChange,
    FloodEntry,
    MacChange,
    Neighbor,
    NeighborChange,
    Path,
    PrefixChange,
    Reason,
    RemoteMac,
    Rib,
    Source,
    VrfNextHop,
    VrfRoute,
    route_key,
)
from evpn.types import mac_bytes
from evpn.wire import AsPathSegment, Attribute, ExtendedCommunities, MacIpRoute, MacMobility, Nlri, RouteTarget

P1 = ibgp("198.18.0.11", client=True)
P2 = ibgp("198.18.0.12")
EB = ebgp("198.18.0.13")
OUR_VTEP = ip(OUR_ID)
M1 = mac_bytes(MAC1)


def announce(rib: Rib, source: Source, route: Nlri, attributes: tuple[Attribute, ...], vtep: str = VTEP_A) -> None:
    rib.update(source, EVPN, [route], attributes, ip(vtep))


def remote_mac(vtep: str, sequence: int = 0, sticky: bool = False) -> RemoteMac:
    return RemoteMac(ip(vtep), VNI, sequence, sticky)


def mac_changes(deltas: list[Delta]) -> list[MacChange]:
    return [d for d in deltas if isinstance(d, MacChange)]


# --- Adj-RIB-In and Loc-RIB --------------------------------------------------------------


def test_a_new_path_from_the_same_source_replaces_the_old_one() -> None:
    rib = make_rib()
    route = mac_route()
    announce(rib, P1, route, attrs_(RT_L2, local_pref=100))
    first = rib.take_changes()
    announce(rib, P1, route, attrs_(RT_L2, local_pref=200))
    (key, best), *rest = rib.take_changes().items()
    assert not rest
    assert key == route_key(route) and first.keys() == {key}
    assert best is not None and best.local_pref == 200
    assert list(rib.adj_in(P1.address, EVPN).values()) == [best]
    assert rib.best(key) == (best, Reason.ONLY_PATH)
    assert len(rib) == 1


def test_withdraw_removes_the_path_and_records_the_route_gone() -> None:
    rib = make_rib()
    route = mac_route()
    announce(rib, P1, route, attrs_(RT_L2))
    rib.take_changes()
    rib.withdraw(P2, EVPN, [route])  # another source never sent it: ignored
    rib.withdraw(P1, EVPN, [mac_route(mac="02:00:00:00:00:99")])  # never sent: ignored
    assert rib.take_changes() == {}
    assert [p.route for p in rib.withdraw(P1, EVPN, [route])] == [route]
    assert rib.take_changes() == {route_key(route): None}
    assert rib.best(route_key(route)) is None
    assert rib.adj_in(P1.address, EVPN) == {}
    assert len(rib) == 0


def test_two_peers_with_the_same_route() -> None:
    rib = make_rib()
    route = prefix(RD_A)
    key = route_key(route)
    announce(rib, P1, route, attrs_(RT_L3, local_pref=100))
    announce(rib, P2, route, attrs_(RT_L3, local_pref=200))
    best = rib.adj_in(P2.address, EVPN)[key]
    assert rib.best(key) == (best, Reason.LOCAL_PREF)
    assert rib.take_changes() == {key: best}
    assert [p.source for p in rib.paths(key)] == [P2, P1]

    rib.withdraw(P1, EVPN, [route])  # not the best: nothing changes
    assert rib.take_changes() == {}
    assert rib.best(key) == (best, Reason.ONLY_PATH)

    announce(rib, P1, route, attrs_(RT_L3, local_pref=300))  # the other one becomes best
    assert rib.take_changes() == {key: rib.adj_in(P1.address, EVPN)[key]}
    announce(rib, P1, route, attrs_(RT_L3, local_pref=50))  # and loses again
    assert rib.take_changes() == {key: best}
    rib.withdraw(P2, EVPN, [route])
    assert rib.take_changes() == {key: rib.adj_in(P1.address, EVPN)[key]}


def test_replacing_the_best_path_with_an_equal_one_is_still_a_change() -> None:
    # The Adj-RIBs-Out must see the new path object (it may carry other attributes or next hop).
    rib = make_rib()
    route = prefix(RD_A)
    announce(rib, P1, route, attrs_(RT_L3))
    announce(rib, P2, route, attrs_(RT_L3))
    rib.take_changes()
    announce(rib, P1, route, attrs_(RT_L3, origin=0), VTEP_B)
    new = rib.adj_in(P1.address, EVPN)[route_key(route)]
    assert rib.take_changes() == {route_key(route): new}


def test_peer_down_withdraws_everything_and_leaves_every_flood_list() -> None:
    rib = make_rib(two_vnis=True)
    routes: list[Nlri] = [imet(RD_A), imet("198.18.0.2:2"), mac_route(RD_A), prefix(RD_A)]
    announce(rib, P1, routes[0], attrs_(RT_L2, pmsi=VTEP_A))
    announce(rib, P1, routes[1], attrs_(RT_L2B, pmsi=VTEP_A))
    announce(rib, P1, routes[2], attrs_(RT_L2))
    announce(rib, P1, routes[3], attrs_(RT_L3, rmac=RMAC_A))
    announce(rib, P2, imet(RD_B, VTEP_B), attrs_(RT_L2, pmsi=VTEP_B), VTEP_B)
    assert set(rib.vnis[VNI].flood) == {ip(VTEP_A), ip(VTEP_B)}
    assert set(rib.vnis[VNI_B].flood) == {ip(VTEP_A)}
    rib.take_changes()
    rib.take_deltas()

    assert sorted(p.route.encode() for p in rib.peer_down(P1.address)) == sorted(r.encode() for r in routes)
    assert rib.count(P1.address) == 0
    assert rib.take_changes() == {route_key(r): None for r in routes}
    assert set(rib.vnis[VNI].flood) == {ip(VTEP_B)}
    assert rib.vnis[VNI_B].flood == {}
    assert rib.vnis[VNI].macs == {}
    assert rib.vrfs[VRF].routes == {}
    floods = sorted((d.vni, d.vtep, d.new) for d in rib.take_deltas() if isinstance(d, FloodChange))
    assert floods == [(VNI, ip(VTEP_A), None), (VNI_B, ip(VTEP_A), None)]
    assert rib.count(P2.address) == 1


def test_peer_down_keeps_what_another_peer_still_sends() -> None:
    rib = make_rib()
    route = imet(RD_A)
    announce(rib, P1, route, attrs_(RT_L2, pmsi=VTEP_A))
    announce(rib, P2, route, attrs_(RT_L2, pmsi=VTEP_A))
    rib.take_deltas()
    rib.take_changes()
    rib.peer_down(P1.address)
    assert rib.take_deltas() == []
    assert rib.take_changes() == {route_key(route): rib.adj_in(P2.address, EVPN)[route_key(route)]}
    assert rib.vnis[VNI].flood == {ip(VTEP_A): FloodEntry(VNI)}


def test_graceful_restart_keeps_stale_paths_until_the_sweep() -> None:
    rib = make_rib()
    kept, gone = mac_route(mac="02:00:00:00:00:01"), mac_route(mac="02:00:00:00:00:02")
    announce(rib, P1, kept, attrs_(RT_L2))
    announce(rib, P1, gone, attrs_(RT_L2))
    rib.take_changes()
    rib.take_deltas()

    rib.peer_down(P1.address, keep=[EVPN])
    assert rib.count(P1.address, EVPN) == 2
    assert rib.stale_families(P1.address) == (EVPN,)
    assert rib.take_changes() == {}
    assert rib.take_deltas() == []

    announce(rib, P1, kept, attrs_(RT_L2))  # the restarted session sends one of them again
    rib.take_changes()
    assert [p.route for p in rib.sweep(P1.address, EVPN)] == [gone]
    assert rib.take_changes() == {route_key(gone): None}
    assert list(rib.adj_in(P1.address, EVPN)) == [route_key(kept)]
    assert rib.stale_families(P1.address) == ()
    assert set(rib.vnis[VNI].macs) == {M1}
    assert rib.sweep(P1.address, EVPN) == []


def test_peer_down_drops_the_families_not_kept() -> None:
    rib = make_rib()
    route = mac_route()
    announce(rib, P1, route, attrs_(RT_L2))
    rib.mark_stale(P1.address, EVPN)
    rib.peer_down(P1.address, keep=[(1, 1)])
    assert rib.count(P1.address) == 0
    assert rib.stale_families(P1.address) == ()
    assert rib.vnis[VNI].macs == {}


def test_peer_down_forgets_a_stale_mark_without_paths() -> None:
    rib = make_rib()
    rib.mark_stale(P1.address, EVPN)  # a route refresh begun before the peer sent anything
    rib.peer_down(P1.address)
    assert rib.stale_families(P1.address) == ()
    rib.mark_stale(P1.address, EVPN)
    rib.peer_down(P1.address, keep=[EVPN])
    assert rib.stale_families(P1.address) == (EVPN,)


def test_route_refresh_sweeps_what_the_peer_did_not_send_again() -> None:
    rib = make_rib()
    kept, gone = prefix(RD_A, "198.19.50.0"), prefix(RD_A, "198.19.60.0")
    announce(rib, P1, kept, attrs_(RT_L3, rmac=RMAC_A))
    announce(rib, P1, gone, attrs_(RT_L3, rmac=RMAC_A))
    rib.take_deltas()
    rib.mark_stale(P1.address, EVPN)
    assert rib.stale_families(P1.address) == (EVPN,)
    announce(rib, P1, kept, attrs_(RT_L3, rmac=RMAC_B))  # sent again, with a new Router's MAC
    assert [p.route for p in rib.sweep(P1.address, EVPN)] == [gone]
    assert set(rib.vrfs[VRF].routes) == {(ip("198.19.50.0"), 24)}
    assert rib.vrfs[VRF].routes[(ip("198.19.50.0"), 24)].next_hops[0].router_mac == bytes.fromhex("02aa00000003")
    assert [type(d) for d in rib.take_deltas()] == [PrefixChange, PrefixChange]


LOOPS = {
    "own-as-in-ebgp-as-path": (EB, {"as_path": seq_path(65001, 65000)}, None),
    "own-as-in-ebgp-as-set": (EB, {"as_path": (AsPathSegment(2, (65001,)), AsPathSegment(1, (65000, 65002)))}, None),
    "own-router-id-as-originator": (P1, {"originator": OUR_ID}, None),
    "own-cluster-id-default": (P1, {"originator": "198.18.0.2", "cluster": ("198.18.0.40", OUR_ID)}, None),
    "own-cluster-id-configured": (P1, {"originator": "198.18.0.2", "cluster": ("198.18.0.99",)}, "198.18.0.99"),
}


@pytest.mark.parametrize(("source", "fields", "cluster_id"), LOOPS.values(), ids=LOOPS.keys())
def test_a_looping_path_is_rejected_and_treated_as_withdraw(
    source: Source, fields: dict[str, object], cluster_id: str | None
) -> None:
    rib = make_rib(cluster_id=cluster_id)
    routes = [mac_route(), mac_route(mac="02:00:00:00:00:02")]
    rib.update(source, EVPN, routes[:1], attrs_(RT_L2, as_path=seq_path(65001)), ip(VTEP_A))
    rib.take_changes()
    rib.take_deltas()
    rib.update(source, EVPN, routes, attrs_(RT_L2, **fields), ip(VTEP_A))  # type: ignore[arg-type]
    assert rib.rejected == 2
    assert rib.take_changes() == {route_key(routes[0]): None}
    assert rib.adj_in(source.address, EVPN) == {}
    assert rib.vnis[VNI].macs == {}
    assert mac_changes(rib.take_deltas()) == [MacChange(VNI, M1, remote_mac(VTEP_A), None)]


NOT_LOOPS = {
    "own-as-in-ibgp-as-path": (P1, {"as_path": seq_path(65001, 65000)}, None),
    "router-id-in-cluster-list-with-other-cluster-id": (P1, {"cluster": (OUR_ID,)}, "198.18.0.99"),
    "other-originator": (P1, {"originator": "198.18.0.2"}, None),
}


@pytest.mark.parametrize(("source", "fields", "cluster_id"), NOT_LOOPS.values(), ids=NOT_LOOPS.keys())
def test_paths_that_do_not_loop_are_accepted(source: Source, fields: dict[str, object], cluster_id: str | None) -> None:
    rib = make_rib(cluster_id=cluster_id)
    announce(rib, source, mac_route(), attrs_(RT_L2, **fields))  # type: ignore[arg-type]
    assert rib.rejected == 0
    assert len(rib) == 1


# --- MAC mobility across VTEPs (each VTEP with its own RD) --------------------------------


def advertise_mac(
    rib: Rib, vtep: str, seq: int | None, *, sticky: bool = False, host: str | None = None, source: Source = P1
) -> MacIpRoute:
    route = mac_route("198.18.0.2:1" if vtep == VTEP_A else "198.18.0.3:1", MAC1, host)
    announce(rib, source, route, attrs_(RT_L2, seq=seq, sticky=sticky), vtep)
    return route


def test_a_mac_moves_in_one_change_without_a_gap() -> None:
    rib = make_rib()
    at_a = advertise_mac(rib, VTEP_A, 0)
    assert rib.take_deltas() == [MacChange(VNI, M1, None, remote_mac(VTEP_A))]
    advertise_mac(rib, VTEP_B, 1)
    assert rib.take_deltas() == [MacChange(VNI, M1, remote_mac(VTEP_A), remote_mac(VTEP_B, 1))]
    rib.withdraw(P1, EVPN, [at_a])  # A withdraws its stale route afterwards: nothing to do
    assert rib.take_deltas() == []
    assert rib.vnis[VNI].macs == {M1: remote_mac(VTEP_B, 1)}


def test_a_mac_moves_back_with_a_higher_sequence_number() -> None:
    rib = make_rib()
    advertise_mac(rib, VTEP_A, 0)
    advertise_mac(rib, VTEP_B, 1)
    rib.take_deltas()
    advertise_mac(rib, VTEP_A, 2)
    assert rib.take_deltas() == [MacChange(VNI, M1, remote_mac(VTEP_B, 1), remote_mac(VTEP_A, 2))]


def test_a_sticky_mac_does_not_move() -> None:
    rib = make_rib()
    advertise_mac(rib, VTEP_A, 0, sticky=True)
    rib.take_deltas()
    advertise_mac(rib, VTEP_B, 1)
    assert rib.take_deltas() == []
    assert rib.vnis[VNI].macs == {M1: remote_mac(VTEP_A, 0, sticky=True)}


def test_the_sequence_number_wraps() -> None:
    rib = make_rib()
    advertise_mac(rib, VTEP_A, 0xFFFFFFFF)
    rib.take_deltas()
    advertise_mac(rib, VTEP_B, 0)
    assert rib.take_deltas() == [MacChange(VNI, M1, remote_mac(VTEP_A, 0xFFFFFFFF), remote_mac(VTEP_B, 0))]


def test_a_lower_sequence_number_does_not_move_the_mac() -> None:
    rib = make_rib()
    advertise_mac(rib, VTEP_A, 3)
    rib.take_deltas()
    advertise_mac(rib, VTEP_B, 2)
    assert rib.take_deltas() == []


@pytest.mark.parametrize("first", [VTEP_A, VTEP_B])
def test_equal_sequence_numbers_the_lower_vtep_wins(first: str) -> None:
    rib = make_rib()
    second = VTEP_B if first == VTEP_A else VTEP_A
    advertise_mac(rib, first, 3)
    advertise_mac(rib, second, 3)
    changes = mac_changes(rib.take_deltas())
    assert rib.vnis[VNI].macs == {M1: remote_mac(VTEP_A, 3)}
    assert changes[-1].new == remote_mac(VTEP_A, 3)
    assert len(changes) == (1 if first == VTEP_A else 2)


def test_mac_only_and_mac_ip_routes_make_one_mac() -> None:
    rib = make_rib()
    mac_only = advertise_mac(rib, VTEP_A, 0)
    with_ip = advertise_mac(rib, VTEP_A, 0, host=HOST1)
    assert route_key(mac_only) != route_key(with_ip)
    assert len(rib) == 2
    assert rib.take_deltas() == [
        MacChange(VNI, M1, None, remote_mac(VTEP_A)),
        NeighborChange(VNI, ip(HOST1), None, Neighbor(M1, ip(VTEP_A))),
    ]
    # The MAC+IP route moves: the MAC and its neighbour entry follow, each in one change.
    advertise_mac(rib, VTEP_B, 1, host=HOST1)
    assert rib.take_deltas() == [
        MacChange(VNI, M1, remote_mac(VTEP_A), remote_mac(VTEP_B, 1)),
        NeighborChange(VNI, ip(HOST1), Neighbor(M1, ip(VTEP_A)), Neighbor(M1, ip(VTEP_B))),
    ]
    rib.withdraw(P1, EVPN, [with_ip])  # A's own MAC+IP route: already lost, nothing changes
    rib.withdraw(P1, EVPN, [mac_only])
    assert rib.take_deltas() == []
    rib.withdraw(P1, EVPN, [mac_route(RD_B, MAC1, HOST1)])
    assert rib.take_deltas() == [
        MacChange(VNI, M1, remote_mac(VTEP_B, 1), None),
        NeighborChange(VNI, ip(HOST1), Neighbor(M1, ip(VTEP_B)), None),
    ]


def test_withdrawing_the_mac_ip_route_keeps_the_mac() -> None:
    rib = make_rib()
    advertise_mac(rib, VTEP_A, 0)
    with_ip = advertise_mac(rib, VTEP_A, 0, host=HOST1)
    rib.take_deltas()
    rib.withdraw(P1, EVPN, [with_ip])
    assert rib.take_deltas() == [NeighborChange(VNI, ip(HOST1), Neighbor(M1, ip(VTEP_A)), None)]
    assert rib.vnis[VNI].macs == {M1: remote_mac(VTEP_A)}


# --- local origination ----------------------------------------------------------------------

LOCAL_MAC = mac_route(RD_LOCAL, MAC1)


def originate(rib: Rib, attributes: tuple[Attribute, ...], route: Nlri = LOCAL_MAC) -> Path:
    local = rib.originate(route, attributes, OUR_VTEP)
    assert local is not None
    assert rib.adj_in("", EVPN)[route_key(route)] is local
    return local


def mobility(attributes: tuple[Attribute, ...]) -> list[MacMobility]:
    return [
        c for a in attributes if isinstance(a, ExtendedCommunities) for c in a.communities if isinstance(c, MacMobility)
    ]


def test_originating_a_remote_mac_takes_the_next_sequence_number() -> None:
    rib = make_rib()
    advertise_mac(rib, VTEP_A, 3)
    advertise_mac(rib, VTEP_B, 1, source=P2)
    rib.take_deltas()
    rib.take_changes()
    local = originate(rib, attrs_(RT_L2))
    assert local.attributes.sequence == 4
    assert mobility(local.attributes.attributes) == [MacMobility(4, False)]
    assert RT_L2 in local.attributes.route_targets  # the rest of the communities stays
    assert rib.take_changes() == {route_key(LOCAL_MAC): local}
    assert rib.best(route_key(LOCAL_MAC)) == (local, Reason.ONLY_PATH)
    # The MAC moved to us: the dataplane learns local MACs itself.
    assert rib.take_deltas() == [MacChange(VNI, M1, remote_mac(VTEP_A, 3), None)]
    assert rib.vnis[VNI].macs == {}


@pytest.mark.parametrize(
    ("remote", "expected"), [(None, 0), (0, 1), (0xFFFFFFFE, 0xFFFFFFFF), (0xFFFFFFFF, 0)], ids=str
)
def test_originated_sequence_numbers(remote: int | None, expected: int) -> None:
    rib = make_rib()
    if remote is not None:
        advertise_mac(rib, VTEP_A, remote)
    local = originate(rib, attrs_(RT_L2, sticky=False))
    assert local.attributes.sequence == expected
    assert mobility(local.attributes.attributes) == ([] if remote is None else [MacMobility(expected)])


def test_originating_keeps_the_sticky_flag() -> None:
    rib = make_rib()
    advertise_mac(rib, VTEP_A, 7)
    local = originate(rib, attrs_(RT_L2, seq=0, sticky=True))
    assert mobility(local.attributes.attributes) == [MacMobility(8, True)]


def test_our_routes_for_one_mac_share_its_sequence_number() -> None:
    """The MAC moved here (sequence 4 over the remote 3), the remote VTEP withdrew its route,
    then the host's IP is learned: the MAC+IP route carries the MAC's 4, not 0 (FRR keeps one
    sequence number per MAC and ignores a MAC+IP route below it)."""
    rib = make_rib()
    remote = advertise_mac(rib, VTEP_A, 3)
    assert originate(rib, attrs_(RT_L2)).attributes.sequence == 4
    rib.withdraw(P1, EVPN, [remote])
    with_ip = originate(rib, attrs_(RT_L2), mac_route(RD_LOCAL, MAC1, "198.19.100.12"))
    assert with_ip.attributes.sequence == 4
    assert originate(rib, attrs_(RT_L2)).attributes.sequence == 4  # announced again: unchanged
    rib.remove_local(LOCAL_MAC)
    assert originate(rib, attrs_(RT_L2)).attributes.sequence == 4  # the MAC+IP route still holds it


def test_a_remote_mac_in_another_vni_does_not_bump_the_sequence() -> None:
    rib = make_rib(two_vnis=True)
    announce(rib, P1, mac_route(RD_A, MAC1), attrs_(RT_L2B, seq=5))
    assert rib.vnis[VNI_B].macs
    assert originate(rib, attrs_(RT_L2)).attributes.sequence == 0


def test_a_remote_mac_with_a_higher_sequence_number_withdraws_ours() -> None:
    rib = make_rib()
    advertise_mac(rib, VTEP_A, 3)
    originate(rib, attrs_(RT_L2))
    rib.take_changes()
    rib.take_deltas()
    advertise_mac(rib, VTEP_B, 5)
    changes = rib.take_changes()
    assert changes[route_key(LOCAL_MAC)] is None
    assert route_key(LOCAL_MAC) not in rib.adj_in("", EVPN)
    assert rib.best(route_key(LOCAL_MAC)) is None
    assert rib.take_deltas() == [MacChange(VNI, M1, None, remote_mac(VTEP_B, 5))]
    assert rib.remove_local(LOCAL_MAC) is False


def test_a_remote_mac_with_a_lower_sequence_number_leaves_ours() -> None:
    rib = make_rib()
    advertise_mac(rib, VTEP_A, 3)
    originate(rib, attrs_(RT_L2))
    rib.take_changes()
    rib.take_deltas()
    advertise_mac(rib, VTEP_B, 2)
    assert route_key(LOCAL_MAC) not in rib.take_changes()
    assert route_key(LOCAL_MAC) in rib.adj_in("", EVPN)
    assert rib.take_deltas() == []


def test_a_mac_a_remote_vtep_holds_sticky_is_not_originated() -> None:
    rib = make_rib()
    advertise_mac(rib, VTEP_A, 0, sticky=True)
    rib.take_deltas()
    rib.take_changes()
    assert rib.originate(LOCAL_MAC, attrs_(RT_L2), OUR_VTEP) is None
    assert route_key(LOCAL_MAC) not in rib.adj_in("", EVPN)
    assert rib.take_changes().get(route_key(LOCAL_MAC)) is None
    assert rib.take_deltas() == []
    assert rib.vnis[VNI].macs == {M1: remote_mac(VTEP_A, 0, sticky=True)}
    # The same state whichever came first: a sticky MAC arriving withdraws ours.
    other = make_rib()
    originate(other, attrs_(RT_L2))
    advertise_mac(other, VTEP_A, 0, sticky=True)
    assert other.adj_in("", EVPN) == {}
    assert other.vnis[VNI].macs == rib.vnis[VNI].macs


def test_a_sticky_local_mac_is_kept_against_a_sticky_remote_one() -> None:
    rib = make_rib()
    advertise_mac(rib, VTEP_A, 2, sticky=True)
    local = originate(rib, attrs_(RT_L2, sticky=True))
    assert mobility(local.attributes.attributes) == [MacMobility(3, True)]
    assert rib.vnis[VNI].macs == {}


def test_remove_local() -> None:
    rib = make_rib()
    originate(rib, attrs_(RT_L2))
    rib.take_changes()
    assert rib.remove_local(LOCAL_MAC) is True
    assert rib.take_changes() == {route_key(LOCAL_MAC): None}
    assert rib.remove_local(LOCAL_MAC) is False


def test_removing_a_local_mac_brings_the_remote_one_back() -> None:
    rib = make_rib()
    advertise_mac(rib, VTEP_A, 3)
    originate(rib, attrs_(RT_L2))
    rib.take_deltas()
    rib.remove_local(LOCAL_MAC)
    assert rib.take_deltas() == [MacChange(VNI, M1, None, remote_mac(VTEP_A, 3))]


def test_local_routes_are_not_imported_by_route_target() -> None:
    rib = make_rib()
    rib.originate(imet(RD_LOCAL, OUR_ID), attrs_(RT_L2, pmsi=OUR_ID), OUR_VTEP)
    rib.originate(prefix(RD_LOCAL), attrs_(RT_L3, rmac=RMAC_A), OUR_VTEP)
    rib.originate(mac_route(RD_LOCAL, MAC1, HOST1, label2=L3VNI), attrs_(RT_L2, RT_L3, rmac=RMAC_A), OUR_VTEP)
    assert len(rib) == 3
    assert rib.take_deltas() == []
    assert rib.vnis[VNI].flood == {} and rib.vnis[VNI].macs == {} and rib.vnis[VNI].neighbors == {}
    assert rib.vrfs[VRF].routes == {}


# --- import by route target ---------------------------------------------------------------

HOST_ROUTE = mac_route(RD_A, MAC1, HOST1, label2=L3VNI)
KINDS: dict[str, tuple[Nlri, dict[str, object]]] = {
    "mac": (mac_route(RD_A, MAC1), {}),
    "mac-ip": (HOST_ROUTE, {"rmac": RMAC_A}),
    "imet": (imet(RD_A, VTEP_A), {"pmsi": VTEP_A}),
    "prefix": (prefix(RD_A), {"rmac": RMAC_A}),
}
TARGETS: dict[str, tuple[RouteTarget, ...]] = {
    "l2": (RT_L2,),
    "l3": (RT_L3,),
    "both": (RT_L2, RT_L3),
    "none": (RT_OTHER,),
}
IMPORTS: dict[tuple[str, str], set[str]] = {
    ("mac", "l2"): {"macs"},
    ("mac", "l3"): set(),
    ("mac", "both"): {"macs"},
    ("mac-ip", "l2"): {"macs", "neighbors"},
    ("mac-ip", "l3"): {"routes"},
    ("mac-ip", "both"): {"macs", "neighbors", "routes"},
    ("imet", "l2"): {"flood"},
    ("imet", "l3"): set(),
    ("imet", "both"): {"flood"},
    ("prefix", "l2"): set(),
    ("prefix", "l3"): {"routes"},
    ("prefix", "both"): {"routes"},
}
DELTA_OF = {"macs": MacChange, "neighbors": NeighborChange, "flood": FloodChange, "routes": PrefixChange}
EXPECTED_ENTRY: dict[str, tuple[object, object]] = {
    "macs": (M1, remote_mac(VTEP_A)),
    "neighbors": (ip(HOST1), Neighbor(M1, ip(VTEP_A))),
    "flood": (ip(VTEP_A), FloodEntry(VNI)),
}
NEXT_HOP_A = VrfNextHop(ip(VTEP_A), bytes.fromhex("02aa00000002"), L3VNI)


def tables(rib: Rib) -> dict[str, dict[object, object]]:
    vni, vrf = rib.vnis[VNI], rib.vrfs[VRF]
    found: dict[str, dict[Any, object]] = {
        "macs": dict(vni.macs),
        "neighbors": dict(vni.neighbors),
        "flood": dict(vni.flood),
        "routes": dict(vrf.routes),
    }
    return {name: table for name, table in found.items() if table}


@pytest.mark.parametrize("targets", TARGETS.keys())
@pytest.mark.parametrize("kind", KINDS.keys())
def test_import_matrix(kind: str, targets: str) -> None:
    rib = make_rib()
    route, fields = KINDS[kind]
    announce(rib, P1, route, attrs_(*TARGETS[targets], **fields))  # type: ignore[arg-type]
    expected = IMPORTS.get((kind, targets), set())
    assert set(tables(rib)) == expected
    for name in expected:
        entries = tables(rib)[name]
        if name == "routes":
            length = 32 if kind == "mac-ip" else 24
            network = HOST1 if kind == "mac-ip" else "198.19.50.0"
            assert entries == {(ip(network), length): VrfRoute((NEXT_HOP_A,))}
        else:
            assert entries == dict([EXPECTED_ENTRY[name]])
    added = rib.take_deltas()
    assert sorted(type(d).__name__ for d in added) == sorted(DELTA_OF[name].__name__ for name in expected)
    assert all(d.old is None for d in added)
    # The Loc-RIB holds the route whatever it imports into.
    assert rib.take_changes().keys() == {route_key(route)}

    rib.withdraw(P1, EVPN, [route])
    assert tables(rib) == {}
    removed = rib.take_deltas()
    assert [type(d) for d in removed] == [type(d) for d in added]
    assert all(d.new is None for d in removed)


def test_a_route_moving_between_targets_moves_between_tables() -> None:
    rib = make_rib(two_vnis=True)
    route = imet(RD_A, VTEP_A)
    announce(rib, P1, route, attrs_(RT_L2, pmsi=VTEP_A))
    rib.take_deltas()
    announce(rib, P1, route, attrs_(RT_L2B, pmsi=VTEP_A))
    assert rib.take_deltas() == [
        FloodChange(VNI, ip(VTEP_A), FloodEntry(VNI), None),
        FloodChange(VNI_B, ip(VTEP_A), None, FloodEntry(VNI)),  # the PMSI label is the VNI to use
    ]


def test_sending_a_route_again_changes_nothing_in_the_tables() -> None:
    rib = make_rib()
    routes: list[Nlri] = [HOST_ROUTE, imet(RD_A), prefix(RD_A)]
    attributes = attrs_(RT_L2, RT_L3, rmac=RMAC_A, pmsi=VTEP_A)
    rib.update(P1, EVPN, routes, attributes, ip(VTEP_A))
    before = tables(rib)
    assert len(rib.take_deltas()) == 5  # MAC, neighbour, host route, flood entry, prefix
    rib.update(P1, EVPN, routes, attributes, ip(VTEP_A))
    assert rib.take_deltas() == []
    assert tables(rib) == before


def test_a_changed_path_is_one_change_per_entry() -> None:
    rib = make_rib()
    announce(rib, P1, HOST_ROUTE, attrs_(RT_L2, RT_L3, rmac=RMAC_A, seq=1))
    rib.take_deltas()
    announce(rib, P1, HOST_ROUTE, attrs_(RT_L2, RT_L3, rmac=RMAC_B, seq=2))
    hop_b = VrfNextHop(ip(VTEP_A), bytes.fromhex("02aa00000003"), L3VNI)
    assert rib.take_deltas() == [
        MacChange(VNI, M1, remote_mac(VTEP_A, 1), remote_mac(VTEP_A, 2)),
        PrefixChange(VRF, ip(HOST1), 32, VrfRoute((NEXT_HOP_A,)), VrfRoute((hop_b,))),
    ]
    # Without the Router's MAC it leaves the VRF, and stays in the VNI.
    announce(rib, P1, HOST_ROUTE, attrs_(RT_L2, RT_L3, seq=2))
    assert rib.take_deltas() == [PrefixChange(VRF, ip(HOST1), 32, VrfRoute((hop_b,)), None)]
    # A type-3 route whose tunnel endpoint changes leaves one flood entry for another.
    announce(rib, P1, imet(RD_A), attrs_(RT_L2, pmsi=VTEP_A))
    rib.take_deltas()
    announce(rib, P1, imet(RD_A), attrs_(RT_L2, pmsi=VTEP_B))
    assert rib.take_deltas() == [
        FloodChange(VNI, ip(VTEP_A), FloodEntry(VNI), None),
        FloodChange(VNI, ip(VTEP_B), None, FloodEntry(VNI)),
    ]


@pytest.mark.parametrize("order", [1, -1])
def test_ties_between_routes_of_one_peer_do_not_depend_on_arrival_order(order: int) -> None:
    # One peer sends an IP bound to two MACs (one route stale), and a prefix from two RDs whose
    # paths differ only in the Router's MAC: equal on every step, the RIB key decides.
    rib = make_rib()
    hosts = [mac_route(RD_A, MAC1, HOST1, label2=L3VNI), mac_route(RD_A, "02:00:00:00:00:02", HOST1, label2=L3VNI)]
    for host in hosts[::order]:
        announce(rib, P1, host, attrs_(RT_L2, RT_L3, rmac=RMAC_A))
    prefixes = [(prefix(RD_A), RMAC_A), (prefix(RD_B), RMAC_B)]
    for network, rmac in prefixes[::order]:
        announce(rib, P1, network, attrs_(RT_L3, rmac=rmac))
    assert rib.vnis[VNI].neighbors == {ip(HOST1): Neighbor(M1, ip(VTEP_A))}  # RD, tag, MAC order: MAC1 first
    hop_b = VrfNextHop(ip(VTEP_A), bytes.fromhex("02aa00000003"), L3VNI)
    assert rib.vrfs[VRF].routes[(ip("198.19.50.0"), 24)] == VrfRoute((NEXT_HOP_A, hop_b))
    assert rib.vrfs[VRF].routes[(ip(HOST1), 32)] == VrfRoute((NEXT_HOP_A,))


def test_flood_entry_without_pmsi_uses_the_originator_and_the_vni() -> None:
    rib = make_rib()
    announce(rib, P1, imet(RD_B, VTEP_B), attrs_(RT_L2), VTEP_A)
    assert rib.vnis[VNI].flood == {ip(VTEP_B): FloodEntry(VNI)}


def test_type5_without_router_mac_is_not_imported() -> None:
    rib = make_rib()
    announce(rib, P1, prefix(RD_A), attrs_(RT_L3))
    announce(rib, P1, HOST_ROUTE, attrs_(RT_L3))
    assert rib.vrfs[VRF].routes == {}
    assert rib.take_deltas() == []
    assert len(rib) == 2


def test_type5_prefix_host_bits_are_cleared() -> None:
    rib = make_rib()
    announce(rib, P1, prefix(RD_A, "198.19.50.7", 24), attrs_(RT_L3, rmac=RMAC_A))
    assert set(rib.vrfs[VRF].routes) == {(ip("198.19.50.0"), 24)}


def test_vrf_multipath_over_equal_paths_from_two_vteps() -> None:
    rib = make_rib()
    network = (ip("198.19.50.0"), 24)
    at_b = prefix(RD_B)
    announce(rib, P2, at_b, attrs_(RT_L3, rmac=RMAC_B), VTEP_B)
    announce(rib, P1, prefix(RD_A), attrs_(RT_L3, rmac=RMAC_A), VTEP_A)
    hop_b = VrfNextHop(ip(VTEP_B), bytes.fromhex("02aa00000003"), L3VNI)
    both = VrfRoute((NEXT_HOP_A, hop_b))  # sorted by VTEP address
    assert rib.vrfs[VRF].routes == {network: both}
    assert rib.take_deltas() == [
        PrefixChange(VRF, *network, None, VrfRoute((hop_b,))),
        PrefixChange(VRF, *network, VrfRoute((hop_b,)), both),
    ]
    # A path that is better before the router-ID step is the only next hop.
    announce(rib, P2, at_b, attrs_(RT_L3, rmac=RMAC_B, local_pref=200), VTEP_B)
    assert rib.vrfs[VRF].routes == {network: VrfRoute((hop_b,))}
    rib.withdraw(P2, EVPN, [at_b])
    assert rib.vrfs[VRF].routes == {network: VrfRoute((NEXT_HOP_A,))}
