"""The decision process (:mod:`evpn.rib.bestpath`): each step on its own, then ``select`` as a whole.

Every pair in the tables differs only in the field its step reads, and the winner is set up
to lose every *later* step (higher router ID, higher peer address), so a step that is skipped
or misordered shows up as the wrong winner or the wrong reason.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rib_helpers import (
    AS_SEQUENCE,
    AS_SET,
    OUR_ASN,
    RT_L2,
    VTEP_A,
    VTEP_B,
    as_int,
    attrs_,
    ebgp,
    ibgp,
    imet,
    mac_route,
    path,
    prefix,
    seq_path,
)

from evpn.rib import Path, Reason, Source, compare, select, sequence_newer
from evpn.wire import AsPathSegment, Nlri

HI = ibgp("198.18.0.20")  # the winners' source: would lose ROUTER_ID and PEER_ADDRESS
LO = ibgp("198.18.0.10")
LOCAL = Source.local(OUR_ASN, as_int("198.18.0.100"))

Case = tuple[Callable[[Nlri], Path], Callable[[Nlri], Path], Reason]


def case(winner: tuple[Source, dict[str, object]], loser: tuple[Source, dict[str, object]], reason: Reason) -> Case:
    def build(side: tuple[Source, dict[str, object]]) -> Callable[[Nlri], Path]:
        source, fields = side
        fields = dict(fields)
        next_hop = str(fields.pop("next_hop", VTEP_A))
        return lambda route: path(source, route, attrs_(RT_L2, **fields), next_hop)  # type: ignore[arg-type]

    return build(winner), build(loser), reason


AS1 = seq_path(65001)

# Steps that apply to every route type.
GENERAL: dict[str, Case] = {
    "local-pref": case((HI, {"local_pref": 200}), (LO, {"local_pref": 100}), Reason.LOCAL_PREF),
    "local-pref-absent-is-100": case((HI, {}), (LO, {"local_pref": 99}), Reason.LOCAL_PREF),
    "local-pref-absent-loses-to-101": case((HI, {"local_pref": 101}), (LO, {}), Reason.LOCAL_PREF),
    "local": case((LOCAL, {"as_path": AS1}), (ebgp("198.18.0.10"), {"as_path": AS1}), Reason.LOCAL),
    "as-path": case((HI, {"as_path": AS1}), (LO, {"as_path": seq_path(65001, 65002)}), Reason.AS_PATH),
    "as-path-empty": case((HI, {}), (LO, {"as_path": AS1}), Reason.AS_PATH),
    "as-set-counts-one": case(
        (HI, {"as_path": (AsPathSegment(AS_SEQUENCE, (65001,)), AsPathSegment(AS_SET, (65002, 65003, 65004)))}),
        (LO, {"as_path": seq_path(65001, 65002, 65003)}),
        Reason.AS_PATH,
    ),
    "origin": case((HI, {"origin": 0}), (LO, {"origin": 2}), Reason.ORIGIN),
    "origin-absent-is-igp": case((HI, {}), (LO, {"origin": 1}), Reason.ORIGIN),
    "med": case((HI, {"as_path": AS1, "med": 10}), (LO, {"as_path": AS1, "med": 20}), Reason.MED),
    "med-absent-is-0": case((HI, {"as_path": AS1}), (LO, {"as_path": AS1, "med": 1}), Reason.MED),
    "ebgp": case((ebgp("198.18.0.20"), {"as_path": AS1}), (LO, {"as_path": AS1}), Reason.EBGP),
    "router-id": case(
        (ibgp("198.18.0.20", router_id="198.18.0.5"), {}),
        (ibgp("198.18.0.10", router_id="198.18.0.6"), {}),
        Reason.ROUTER_ID,
    ),
    "originator-id-replaces-router-id": case(
        (ibgp("198.18.0.20", router_id="198.18.0.30"), {"originator": "198.18.0.5"}),
        (ibgp("198.18.0.10", router_id="198.18.0.6"), {"originator": "198.18.0.7"}),
        Reason.ROUTER_ID,
    ),
    "originator-id-against-router-id": case(
        (ibgp("198.18.0.20", router_id="198.18.0.30"), {"originator": "198.18.0.5"}),
        (ibgp("198.18.0.10", router_id="198.18.0.6"), {}),
        Reason.ROUTER_ID,
    ),
    "cluster-list": case(
        (HI, {"originator": "198.18.0.5", "cluster": ("198.18.0.40",)}),
        (LO, {"originator": "198.18.0.5", "cluster": ("198.18.0.40", "198.18.0.41")}),
        Reason.CLUSTER_LIST,
    ),
    "peer-address": case(
        (ibgp("198.18.0.10", router_id="198.18.0.5"), {}),
        (ibgp("198.18.0.20", router_id="198.18.0.5"), {}),
        Reason.PEER_ADDRESS,
    ),
}

# MAC mobility steps (RFC 7432 §15): type-2 routes only.
MOBILITY: dict[str, Case] = {
    "sticky": case((HI, {"seq": 0, "sticky": True}), (LO, {"seq": 0}), Reason.STICKY),
    "sticky-beats-higher-sequence": case((HI, {"seq": 0, "sticky": True}), (LO, {"seq": 5}), Reason.STICKY),
    "both-sticky-higher-sequence": case(
        (HI, {"seq": 2, "sticky": True}), (LO, {"seq": 1, "sticky": True}), Reason.SEQUENCE
    ),
    "sequence": case((HI, {"seq": 5}), (LO, {"seq": 3}), Reason.SEQUENCE),
    "sequence-absent-is-0": case((HI, {"seq": 1}), (LO, {}), Reason.SEQUENCE),
    "sequence-wraps": case((HI, {"seq": 0}), (LO, {"seq": 0xFFFFFFFF}), Reason.SEQUENCE),
    "sequence-before-local-pref": case((HI, {"seq": 1}), (LO, {"local_pref": 200}), Reason.SEQUENCE),
    "vtep-address": case((HI, {"seq": 4}), (LO, {"seq": 4, "next_hop": VTEP_B}), Reason.VTEP_ADDRESS),
    "vtep-address-before-local-pref": case(
        (HI, {}), (LO, {"local_pref": 200, "next_hop": VTEP_B}), Reason.VTEP_ADDRESS
    ),
    "vtep-address-before-local": case((HI, {}), (LOCAL, {"next_hop": VTEP_B}), Reason.VTEP_ADDRESS),
}

ROUTES: dict[str, Nlri] = {
    "type2": mac_route(),
    "type2-ip": mac_route(host="198.19.100.11"),
    "type3": imet(),
    "type5": prefix(),
}


def check(winner: Path, loser: Path, reason: Reason) -> None:
    assert compare(winner, loser) == (True, reason)
    assert compare(loser, winner) == (False, reason)
    assert select([winner, loser]) == (winner, reason)
    assert select([loser, winner]) == (winner, reason)


@pytest.mark.parametrize("route", ROUTES.values(), ids=ROUTES.keys())
@pytest.mark.parametrize("step", GENERAL.values(), ids=GENERAL.keys())
def test_general_step(step: Case, route: Nlri) -> None:
    make_winner, make_loser, reason = step
    check(make_winner(route), make_loser(route), reason)


@pytest.mark.parametrize("route", [ROUTES["type2"], ROUTES["type2-ip"]], ids=["mac", "mac-ip"])
@pytest.mark.parametrize("step", MOBILITY.values(), ids=MOBILITY.keys())
def test_mobility_step(step: Case, route: Nlri) -> None:
    make_winner, make_loser, reason = step
    check(make_winner(route), make_loser(route), reason)


@pytest.mark.parametrize("route", [ROUTES["type3"], ROUTES["type5"]], ids=["type3", "type5"])
def test_mobility_steps_do_not_apply_to_other_route_types(route: Nlri) -> None:
    # Higher sequence, sticky and lower VTEP address on one side, higher LOCAL_PREF on the other.
    mobile = path(LO, route, attrs_(RT_L2, seq=5, sticky=True), VTEP_A)
    preferred = path(HI, route, attrs_(RT_L2, seq=3, local_pref=200), VTEP_B)
    check(preferred, mobile, Reason.LOCAL_PREF)
    # Different next hops, everything else equal: the router ID decides, not the VTEP address.
    low_id = path(LO, route, attrs_(RT_L2), VTEP_B)
    high_id = path(HI, route, attrs_(RT_L2), VTEP_A)
    check(low_id, high_id, Reason.ROUTER_ID)


def test_med_is_not_compared_between_neighbouring_ases() -> None:
    route = prefix()
    low_med = path(HI, route, attrs_(RT_L2, as_path=seq_path(65002), med=10))
    high_med = path(LO, route, attrs_(RT_L2, as_path=seq_path(65001), med=20))
    check(high_med, low_med, Reason.ROUTER_ID)


def test_identical_paths_fall_through_to_the_peer_address() -> None:
    one = path(HI, mac_route(), attrs_(RT_L2))
    assert compare(one, one) == (False, Reason.PEER_ADDRESS)
    assert select([one]) == (one, Reason.ONLY_PATH)


@pytest.mark.parametrize(
    ("a", "b", "newer"),
    [
        (5, 3, True),
        (3, 5, False),
        (7, 7, False),
        (0, 0xFFFFFFFF, True),
        (0xFFFFFFFF, 0, False),
        (1, 0xFFFFFFFE, True),
        ((1 << 31) - 1, 0, True),
        (0, (1 << 31) - 1, False),
        (1 << 31, 0, False),  # exactly half the space apart: undefined, neither is newer (RFC 1982 §3.2)
        (0, 1 << 31, False),
    ],
)
def test_sequence_newer(a: int, b: int, newer: bool) -> None:
    assert sequence_newer(a, b) is newer


def test_reason_is_the_step_against_the_runner_up() -> None:
    route = mac_route()
    best = path(ibgp("198.18.0.30", router_id="198.18.0.5"), route, attrs_(RT_L2, local_pref=200))
    runner_up = path(ibgp("198.18.0.20", router_id="198.18.0.6"), route, attrs_(RT_L2, local_pref=200))
    far_behind = path(ibgp("198.18.0.10", router_id="198.18.0.7"), route, attrs_(RT_L2))
    for order in itertools.permutations([best, runner_up, far_behind]):
        assert select(order) == (best, Reason.ROUTER_ID)
    assert select([best, far_behind]) == (best, Reason.LOCAL_PREF)


# --- select over random sets of paths ---------------------------------------------------

PEERS = [
    ibgp("198.18.0.10"),
    ibgp("198.18.0.11", client=True),
    ibgp("198.18.0.12", router_id="198.18.0.5"),
    ebgp("198.18.0.13"),
    ebgp("198.18.0.14", asn=65002),
    LOCAL,
]


@st.composite
def path_sets(draw: st.DrawFn, *, one_neighbour_as: bool) -> list[Path]:
    route = draw(st.sampled_from([mac_route(), prefix()]))
    sources = draw(st.lists(st.sampled_from(PEERS), min_size=1, max_size=len(PEERS), unique=True))
    paths = []
    for source in sources:
        neighbour = 65001 if one_neighbour_as else draw(st.sampled_from([65001, 65002]))
        fields = {
            "seq": draw(st.sampled_from([None, 0, 1, 2, 0xFFFFFFFF])),
            "sticky": draw(st.booleans()),
            "local_pref": draw(st.sampled_from([None, 100, 200])),
            "as_path": draw(st.sampled_from([seq_path(neighbour), seq_path(neighbour, 65003)])),
            "origin": draw(st.sampled_from([None, 0, 2])),
            "med": draw(st.sampled_from([None, 10, 20])),
            "originator": draw(st.sampled_from([None, "198.18.0.5", "198.18.0.9"])),
            "cluster": draw(st.sampled_from([(), ("198.18.0.40",)])),
        }
        next_hop = draw(st.sampled_from([VTEP_A, VTEP_B]))
        paths.append(path(source, route, attrs_(RT_L2, **fields), next_hop))  # type: ignore[arg-type]
    return paths


@given(path_sets(one_neighbour_as=False), st.randoms(use_true_random=False))
def test_select_does_not_depend_on_the_input_order(paths: list[Path], rng: random.Random) -> None:
    shuffled = list(paths)
    rng.shuffle(shuffled)
    best, reason = select(paths)
    assert select(shuffled) == (best, reason)
    assert select(reversed(paths)) == (best, reason)


@given(path_sets(one_neighbour_as=True))
def test_select_is_a_total_order_when_med_is_always_comparable(paths: list[Path]) -> None:
    best, reason = select(paths)
    others = [p for p in paths if p is not best]
    for other in others:
        assert compare(best, other)[0], (best, other)
        assert not compare(other, best)[0]
    if others:
        runner_up, _ = select(others)
        assert reason == compare(best, runner_up)[1]
    else:
        assert reason == Reason.ONLY_PATH
