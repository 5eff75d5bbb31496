"""The dataplane sinks (:mod:`evpn.sink`): the delta translator, the memory sink, the RIB through a
translator into a sink, and the speaker's :class:`~evpn.sink.dataplane.Dataplane` end to end.

1. :class:`Translator`, one delta kind at a time: the kernel entries and the order of the operations.
2. :class:`MemorySink`: ``state``, ``log``, ``redundant``; ``reconcile`` touches only what differs.
3. A :class:`~evpn.rib.Rib` fed random announcements, withdrawals and session losses (hypothesis):
   after every step the sink holds what the translator wants, no operation was redundant, and the
   state equals both a from-scratch translation of a RIB rebuilt from the current routes and the
   entries computed directly from the RIB's VNI/VRF tables.
4. Two in-process speakers (memory streams, ``MockClock``): B's memory sink follows A's routes;
   start-up reconciliation after End-of-RIB, with no peers, and after ``RECONCILE_AFTER``.
"""

from __future__ import annotations

import logging
import random
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs
import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import evpn.sink.dataplane
from evpn.config import Config, DataplaneConfig, PeerConfig, SpeakerConfig, parse_config
from evpn.rib import Rib, Source
from evpn.rib import deltas as d
from evpn.sink import (
    Action,
    Entry,
    FdbEntry,
    FloodEntry,
    L2Devices,
    L3Devices,
    MemorySink,
    NeighborEntry,
    Op,
    RouteEntry,
    Translator,
    mapped_ipv6,
)
from evpn.sink.base import OpError
from evpn.sink.dataplane import RECONCILE_AFTER
from evpn.speaker import Speaker, open_speaker
from evpn.types import ip_bytes, mac_bytes
from evpn.wire import (
    AsPath,
    AsPathSegment,
    Attribute,
    Encapsulation,
    ExtendedCommunities,
    InclusiveMulticastRoute,
    IPPrefixRoute,
    MacIpRoute,
    MacMobility,
    Nlri,
    PmsiTunnel,
    RouterMac,
    RouteTarget,
    TunnelType,
)
from evpn.wire.attributes import AS_SEQUENCE

REPLACE, REMOVE = Action.REPLACE, Action.REMOVE
EVPN = (25, 70)

VXLAN, BRIDGE = "vxlan100", "br100"
L3_VXLAN, L3_BRIDGE, TABLE = "vxlan5000", "br5000", 1005
L2 = {100: L2Devices(VXLAN, BRIDGE)}
L3 = {"t1": L3Devices(L3_VXLAN, L3_BRIDGE, TABLE)}

V1, V2, V3 = ip_bytes("198.18.0.2"), ip_bytes("198.18.0.3"), ip_bytes("198.18.0.4")
M1, M2 = mac_bytes("02:00:00:00:00:01"), mac_bytes("02:00:00:00:00:02")
R1, R2 = mac_bytes("02:aa:00:00:00:01"), mac_bytes("02:aa:00:00:00:02")
H1 = ip_bytes("198.19.100.11")
P1, P2 = ip_bytes("10.1.0.0"), ip_bytes("10.2.0.0")
P6 = ip_bytes("2001:db8:1::")


def translator() -> Translator:
    return Translator(L2, L3)


def ops(*pairs: tuple[Action, Entry]) -> list[Op]:
    return [Op(action, entry) for action, entry in pairs]


def remote(vtep: bytes, sticky: bool = False, sequence: int = 0) -> d.RemoteMac:
    return d.RemoteMac(vtep, 100, sequence, sticky)


def hop(vtep: bytes, router_mac: bytes) -> d.VrfNextHop:
    return d.VrfNextHop(vtep, router_mac, 5000)


def route(*hops: d.VrfNextHop) -> d.VrfRoute:
    return d.VrfRoute(tuple(hops))


def prefix_change(
    old: d.VrfRoute | None, new: d.VrfRoute | None, prefix: bytes = P1, length: int = 24
) -> d.PrefixChange:
    return d.PrefixChange("t1", prefix, length, old, new)


# --- 1. the translator, one delta kind at a time ------------------------------------------------


def test_mac_add_move_remove() -> None:
    t = translator()
    assert t.translate(d.MacChange(100, M1, None, remote(V1))) == ops((REPLACE, FdbEntry(VXLAN, M1, V1, False)))
    # A move is one REPLACE with the new VTEP: no REMOVE first (that would be a gap in forwarding).
    assert t.translate(d.MacChange(100, M1, remote(V1), remote(V2, sequence=1))) == ops(
        (REPLACE, FdbEntry(VXLAN, M1, V2, False))
    )
    # Only the sequence number changes: the kernel entry is the same, nothing to do.
    assert t.translate(d.MacChange(100, M1, remote(V2, sequence=1), remote(V2, sequence=2))) == []
    assert t.entries == {("fdb", VXLAN, M1): FdbEntry(VXLAN, M1, V2, False)}
    assert t.translate(d.MacChange(100, M1, remote(V2, sequence=2), None)) == ops(
        (REMOVE, FdbEntry(VXLAN, M1, V2, False))
    )
    assert t.entries == {}


def test_sticky_flag_is_carried() -> None:
    t = translator()
    assert t.translate(d.MacChange(100, M1, None, remote(V1, sticky=True))) == ops(
        (REPLACE, FdbEntry(VXLAN, M1, V1, True))
    )
    # The same MAC and VTEP turning non-sticky is a change of the entry.
    assert t.translate(d.MacChange(100, M1, remote(V1, sticky=True), remote(V1))) == ops(
        (REPLACE, FdbEntry(VXLAN, M1, V1, False))
    )


def test_flood_entries_per_vtep() -> None:
    t = translator()
    joined = d.FloodEntry(100)
    assert t.translate(d.FloodChange(100, V1, None, joined)) == ops((REPLACE, FloodEntry(VXLAN, V1)))
    assert t.translate(d.FloodChange(100, V2, None, joined)) == ops((REPLACE, FloodEntry(VXLAN, V2)))
    assert set(t.entries.values()) == {FloodEntry(VXLAN, V1), FloodEntry(VXLAN, V2)}
    # V1 leaving the flood list does not touch V2's entry (they share the all-zero MAC in the kernel).
    assert t.translate(d.FloodChange(100, V1, joined, None)) == ops((REMOVE, FloodEntry(VXLAN, V1)))
    assert set(t.entries.values()) == {FloodEntry(VXLAN, V2)}
    assert t.translate(d.FloodChange(100, V2, joined, None)) == ops((REMOVE, FloodEntry(VXLAN, V2)))
    assert t.entries == {}


def test_neighbor_entries_on_the_bridge() -> None:
    t = translator()
    assert t.translate(d.NeighborChange(100, H1, None, d.Neighbor(M1, V1))) == ops(
        (REPLACE, NeighborEntry(BRIDGE, H1, M1))
    )
    # The host moving to another VTEP keeps its MAC: the neighbour entry stays as it is.
    assert t.translate(d.NeighborChange(100, H1, d.Neighbor(M1, V1), d.Neighbor(M1, V2))) == []
    assert t.translate(d.NeighborChange(100, H1, d.Neighbor(M1, V2), d.Neighbor(M2, V2))) == ops(
        (REPLACE, NeighborEntry(BRIDGE, H1, M2))
    )
    assert t.translate(d.NeighborChange(100, H1, d.Neighbor(M2, V2), None)) == ops(
        (REMOVE, NeighborEntry(BRIDGE, H1, M2))
    )
    assert t.entries == {}


def test_vni_or_vrf_without_devices_is_not_programmed() -> None:
    t = translator()
    assert t.translate(d.MacChange(200, M1, None, remote(V1))) == []
    assert t.translate(d.FloodChange(200, V1, None, d.FloodEntry(200))) == []
    assert t.translate(d.NeighborChange(200, H1, None, d.Neighbor(M1, V1))) == []
    assert t.translate(d.PrefixChange("other", P1, 24, None, route(hop(V1, R1)))) == []
    assert t.entries == {}
    # Nothing was remembered either: the removals give nothing.
    assert t.translate(d.MacChange(200, M1, remote(V1), None)) == []
    assert t.translate(d.PrefixChange("other", P1, 24, route(hop(V1, R1)), None)) == []


ROUTER_MAC_1 = FdbEntry(L3_VXLAN, R1, V1)
NEIGHBOR_1 = NeighborEntry(L3_BRIDGE, V1, R1)


def test_prefix_installs_router_mac_then_neighbor_then_route() -> None:
    t = translator()
    assert t.translate(prefix_change(None, route(hop(V1, R1)))) == ops(
        (REPLACE, ROUTER_MAC_1),
        (REPLACE, NEIGHBOR_1),
        (REPLACE, RouteEntry(TABLE, P1, 24, L3_BRIDGE, (V1,))),
    )


def test_prefixes_share_the_vteps_entries() -> None:
    t = translator()
    t.translate(prefix_change(None, route(hop(V1, R1))))
    # A second prefix through the same VTEP: only its route.
    assert t.translate(prefix_change(None, route(hop(V1, R1)), P2, 16)) == ops(
        (REPLACE, RouteEntry(TABLE, P2, 16, L3_BRIDGE, (V1,)))
    )
    # Removing one keeps the shared entries (the other prefix still needs them).
    assert t.translate(prefix_change(route(hop(V1, R1)), None)) == ops(
        (REMOVE, RouteEntry(TABLE, P1, 24, L3_BRIDGE, (V1,)))
    )
    assert set(t.entries.values()) == {ROUTER_MAC_1, NEIGHBOR_1, RouteEntry(TABLE, P2, 16, L3_BRIDGE, (V1,))}
    # Removing the last one removes them, after the route that used them.
    removed = t.translate(prefix_change(route(hop(V1, R1)), None, P2, 16))
    assert removed[0] == Op(REMOVE, RouteEntry(TABLE, P2, 16, L3_BRIDGE, (V1,)))
    assert sorted(removed[1:], key=repr) == sorted(ops((REMOVE, ROUTER_MAC_1), (REMOVE, NEIGHBOR_1)), key=repr)
    assert t.entries == {}


def test_multipath_route_and_losing_one_next_hop() -> None:
    t = translator()
    both = route(hop(V1, R1), hop(V2, R2))
    assert t.translate(prefix_change(None, both)) == ops(
        (REPLACE, ROUTER_MAC_1),
        (REPLACE, NEIGHBOR_1),
        (REPLACE, FdbEntry(L3_VXLAN, R2, V2)),
        (REPLACE, NeighborEntry(L3_BRIDGE, V2, R2)),
        (REPLACE, RouteEntry(TABLE, P1, 24, L3_BRIDGE, (V1, V2))),
    )
    # V2 withdraws: the route shrinks to V1 first, then V2's entries go.
    shrunk = t.translate(prefix_change(both, route(hop(V1, R1))))
    assert shrunk[0] == Op(REPLACE, RouteEntry(TABLE, P1, 24, L3_BRIDGE, (V1,)))
    assert sorted(shrunk[1:], key=repr) == sorted(
        ops((REMOVE, FdbEntry(L3_VXLAN, R2, V2)), (REMOVE, NeighborEntry(L3_BRIDGE, V2, R2))), key=repr
    )
    assert set(t.entries.values()) == {ROUTER_MAC_1, NEIGHBOR_1, RouteEntry(TABLE, P1, 24, L3_BRIDGE, (V1,))}


def test_ipv6_prefix_over_ipv4_vtep_uses_the_mapped_gateway() -> None:
    mapped = mapped_ipv6(V1)
    assert mapped == bytes(10) + b"\xff\xff" + V1 and mapped_ipv6(P6) == P6
    t = translator()
    assert t.translate(prefix_change(None, route(hop(V1, R1)), P6, 48)) == ops(
        (REPLACE, ROUTER_MAC_1),
        (REPLACE, NeighborEntry(L3_BRIDGE, mapped, R1)),
        (REPLACE, RouteEntry(TABLE, P6, 48, L3_BRIDGE, (mapped,))),
    )
    # An IPv4 prefix through the same VTEP shares the Router's MAC but needs its own neighbour.
    assert t.translate(prefix_change(None, route(hop(V1, R1)))) == ops(
        (REPLACE, NEIGHBOR_1), (REPLACE, RouteEntry(TABLE, P1, 24, L3_BRIDGE, (V1,)))
    )
    # Removing the IPv6 prefix removes the mapped neighbour, keeps the Router's MAC.
    assert t.translate(prefix_change(route(hop(V1, R1)), None, P6, 48)) == ops(
        (REMOVE, RouteEntry(TABLE, P6, 48, L3_BRIDGE, (mapped,))), (REMOVE, NeighborEntry(L3_BRIDGE, mapped, R1))
    )
    assert set(t.entries.values()) == {ROUTER_MAC_1, NEIGHBOR_1, RouteEntry(TABLE, P1, 24, L3_BRIDGE, (V1,))}


def test_conflicting_router_mac_is_left_out_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    t = translator()
    t.translate(prefix_change(None, route(hop(V1, R1))))
    with caplog.at_level(logging.ERROR, logger="evpn.sink"):
        # V1 with another Router's MAC than the installed one: that next hop is left out ...
        assert t.translate(prefix_change(None, route(hop(V1, R2)), P2, 16)) == []
        # ... in a multipath route too, where the other next hop is still installed.
        assert t.translate(prefix_change(None, route(hop(V1, R2), hop(V2, R2)), P6, 48)) == ops(
            (REPLACE, FdbEntry(L3_VXLAN, R2, V2)),
            (REPLACE, NeighborEntry(L3_BRIDGE, mapped_ipv6(V2), R2)),
            (REPLACE, RouteEntry(TABLE, P6, 48, L3_BRIDGE, (mapped_ipv6(V2),))),
        )
    errors = [r for r in caplog.records if r.name == "evpn.sink" and r.levelno == logging.ERROR]
    assert len(errors) == 2
    assert all("198.18.0.2" in r.getMessage() and "02:aa:00:00:00:02" in r.getMessage() for r in errors)
    assert t.entries[("neigh", L3_BRIDGE, V1)] == NEIGHBOR_1
    assert t.entries[("fdb", L3_VXLAN, R1)] == ROUTER_MAC_1


def test_router_mac_change_of_the_only_user_moves_the_route() -> None:
    # V1 re-advertises P1 with a new Router's MAC (a replaced box keeping the VTEP address, the
    # RMAC of the L3 SVI changed, graceful restart re-advertising): the RIB reports one change.
    # Nothing else uses R1, so the route must follow: the state a fresh translation of the new
    # route gives, not no route at all.
    t = translator()
    sink = MemorySink()
    sink.apply_now(t.translate(prefix_change(None, route(hop(V1, R1)))))
    sink.apply_now(t.translate(prefix_change(route(hop(V1, R1)), route(hop(V1, R2)))))
    fresh = translator()
    fresh.translate(prefix_change(None, route(hop(V1, R2))))
    assert (
        set(sink.state.values())
        == set(fresh.entries.values())
        == {
            FdbEntry(L3_VXLAN, R2, V1),
            NeighborEntry(L3_BRIDGE, V1, R2),
            RouteEntry(TABLE, P1, 24, L3_BRIDGE, (V1,)),
        }
    )


def test_ipv6_conflicting_router_mac_is_left_out_too(caplog: pytest.LogCaptureFixture) -> None:
    # Two IPv6 prefixes through V1 with different Router's MACs: the second must be left out (and
    # logged) as for IPv4.  Otherwise it overwrites the first prefix's ::ffff:V1 neighbour, and
    # once it is withdrawn the first prefix resolves to R2, whose FDB entry is gone: a blackhole.
    t = translator()
    sink = MemorySink()
    second = ip_bytes("2001:db8:2::")
    with caplog.at_level(logging.ERROR, logger="evpn.sink"):
        sink.apply_now(t.translate(prefix_change(None, route(hop(V1, R1)), P6, 48)))
        sink.apply_now(t.translate(prefix_change(None, route(hop(V1, R2)), second, 48)))
        sink.apply_now(t.translate(prefix_change(route(hop(V1, R2)), None, second, 48)))
    mapped = mapped_ipv6(V1)
    assert set(sink.state.values()) == {
        FdbEntry(L3_VXLAN, R1, V1),
        NeighborEntry(L3_BRIDGE, mapped, R1),
        RouteEntry(TABLE, P6, 48, L3_BRIDGE, (mapped,)),
    }
    assert any(r.name == "evpn.sink" and r.levelno == logging.ERROR for r in caplog.records)


# --- 2. the memory sink ---------------------------------------------------------------------------


async def test_memory_sink_state_log_redundant() -> None:
    sink = MemorySink()
    a, a2 = FdbEntry(VXLAN, M1, V1), FdbEntry(VXLAN, M1, V2)
    flood = FloodEntry(VXLAN, V1)
    batch = ops((REPLACE, a), (REPLACE, flood), (REPLACE, a), (REPLACE, a2), (REMOVE, flood), (REMOVE, flood))
    assert await sink.apply(batch) == []
    assert sink.log == batch
    assert sink.state == {a.key: a2}  # the same key replaced in place
    # Installing what is there as it is, and removing what is not there, changed nothing.
    assert sink.redundant == [batch[2], batch[5]]
    assert sink.apply_now(ops((REMOVE, FdbEntry(VXLAN, M1, V1)))) == []
    assert sink.state == {} and sink.redundant == [batch[2], batch[5]]  # removal goes by key
    await sink.aclose()


async def test_memory_sink_reconcile_touches_only_what_differs() -> None:
    sink = MemorySink()
    extra = FdbEntry(VXLAN, M2, V3)
    same = FloodEntry(VXLAN, V1)
    old, new = NeighborEntry(BRIDGE, H1, M1), NeighborEntry(BRIDGE, H1, M2)
    missing = RouteEntry(TABLE, P1, 24, L3_BRIDGE, (V1,))
    sink.apply_now(ops((REPLACE, extra), (REPLACE, same), (REPLACE, old)))
    before = len(sink.log)
    desired = {e.key: e for e in (same, new, missing)}
    assert await sink.reconcile(desired) == []
    assert sink.state == desired
    done = sink.log[before:]
    assert sorted(done, key=repr) == sorted(ops((REMOVE, extra), (REPLACE, new), (REPLACE, missing)), key=repr)
    assert all(op.entry != same for op in done)  # the matching entry is left alone
    assert sink.redundant == []
    # Reconciling again with the same state does nothing.
    assert await sink.reconcile(desired) == []
    assert len(sink.log) == before + 3


# --- 3. a RIB through a translator into a sink ----------------------------------------------------

ASN, ROUTER_ID = 65000, "198.18.0.1"
RT_L2, RT_L3, RT_OTHER = RouteTarget(ASN, 100), RouteTarget(ASN, 5000), RouteTarget(ASN, 999)


def new_rib() -> Rib:
    return Rib(ASN, ROUTER_ID, vnis=[(100, [RT_L2])], vrfs=[("t1", 5000, [RT_L3])])


def _source(address: str, *, ibgp: bool = True) -> Source:
    return Source(address, ASN if ibgp else 65001, int.from_bytes(ip_bytes(address), "big"), ibgp=ibgp)


PEERS = [_source("198.18.0.11"), _source("198.18.0.12"), _source("198.18.0.13", ibgp=False)]
VTEPS = ["198.18.0.2", "198.18.0.3", "198.18.0.4"]
# One Router's MAC per VTEP: a VTEP changing its Router's MAC is the case tested above, and
# with it the translation depends on the order of the deltas.
ROUTER_MACS = {ip_bytes(v): f"02:aa:00:00:00:0{i}" for i, v in enumerate(VTEPS, 1)}
HOSTS = [None, "198.19.100.11", "198.19.100.12", "2001:db8:100::11"]
RDS = ["198.18.0.2:1", "198.18.0.3:1"]

type2 = st.builds(
    MacIpRoute,
    rd=st.sampled_from(RDS),
    mac=st.sampled_from(["02:00:00:00:00:01", "02:00:00:00:00:02"]),
    ip=st.sampled_from(HOSTS),
    label1=st.just(100),
    label2=st.sampled_from([None, 5000]),
)
type3 = st.builds(InclusiveMulticastRoute, rd=st.sampled_from(RDS), originator_ip=st.sampled_from(VTEPS))
type5 = st.builds(
    lambda rd, network: IPPrefixRoute(rd=rd, prefix=network[0], prefix_length=network[1], label=5000),
    rd=st.sampled_from(["198.18.0.2:2", "198.18.0.3:2"]),
    network=st.sampled_from([("10.1.0.0", 24), ("10.2.0.0", 16), ("198.19.100.11", 32), ("2001:db8:1::", 48)]),
)
routes = st.one_of(type2, type3, type5)


@st.composite
def attribute_sets(draw: st.DrawFn, source: Source, next_hop: bytes) -> tuple[Attribute, ...]:
    targets = draw(st.sampled_from([(RT_L2, RT_L3), (RT_L2, RT_L3), (RT_L2,), (RT_L3,), (RT_OTHER,)]))
    communities: list[Any] = [*targets, Encapsulation(TunnelType.VXLAN)]
    sequence = draw(st.sampled_from([None, 0, 1, 2]))
    if sequence is not None:
        communities.append(MacMobility(sequence, draw(st.integers(0, 6)) == 0))
    if draw(st.integers(0, 5)):  # mostly with the VTEP's Router's MAC
        communities.append(RouterMac(ROUTER_MACS[next_hop]))
    out: list[Attribute] = []
    if not source.ibgp:
        out.append(AsPath([AsPathSegment(AS_SEQUENCE, (65001,))]))
    out.append(ExtendedCommunities(tuple(communities)))
    tunnel = draw(st.sampled_from([None, *VTEPS]))
    if tunnel is not None:
        out.append(PmsiTunnel(label=100, tunnel_id=ip_bytes(tunnel)))
    return tuple(out)


def translated(rib: Rib, tr: Translator, sink: MemorySink) -> None:
    for delta in rib.take_deltas():
        sink.apply_now(tr.translate(delta))


def rebuilt(rib: Rib, shuffle: Callable[[list[Any]], None]) -> set[Entry]:
    """A RIB fed only the current paths (in another order) through a fresh translator and sink."""
    paths = [p for peer in PEERS for p in rib.adj_in(peer.address, EVPN).values()]
    shuffle(paths)
    fresh = new_rib()
    for path in paths:
        fresh.update(path.source, EVPN, [path.route], path.attributes, path.next_hop)
    sink = MemorySink()
    translated(fresh, translator(), sink)
    assert sink.redundant == []
    return set(sink.state.values())


def expected(rib: Rib) -> set[Entry]:
    """The entries the RIB's VNI and VRF tables call for, computed directly from them."""
    out: set[Entry] = set()
    vni = rib.vnis[100]
    out |= {FdbEntry(VXLAN, mac, m.vtep, m.sticky) for mac, m in vni.macs.items()}
    out |= {FloodEntry(VXLAN, vtep) for vtep in vni.flood}
    out |= {NeighborEntry(BRIDGE, address, n.mac) for address, n in vni.neighbors.items()}
    for (network, length), vrf_route in rib.vrfs["t1"].routes.items():
        gateways = []
        for h in vrf_route.next_hops:
            gateway = mapped_ipv6(h.vtep) if len(network) == 16 else h.vtep
            gateways.append(gateway)
            out |= {FdbEntry(L3_VXLAN, h.router_mac, h.vtep), NeighborEntry(L3_BRIDGE, gateway, h.router_mac)}
        out.add(RouteEntry(TABLE, network, length, L3_BRIDGE, tuple(gateways)))
    return out


STEPS = ["announce"] * 3 + ["twice"] + ["withdraw"] * 2 + ["down", "graceful", "sweep"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), rnd=st.randoms(use_true_random=False))
def test_rib_deltas_through_a_translator_are_minimal_and_converge(data: st.DataObject, rnd: random.Random) -> None:
    rib, tr, sink = new_rib(), translator(), MemorySink()
    for _ in range(data.draw(st.integers(1, 20), label="steps")):
        step = data.draw(st.sampled_from(STEPS))
        peer = data.draw(st.sampled_from(PEERS))
        if step == "announce":
            next_hop = ip_bytes(data.draw(st.sampled_from(VTEPS)))
            batch = data.draw(st.lists(routes, min_size=1, max_size=3))
            rib.update(peer, EVPN, batch, data.draw(attribute_sets(peer, next_hop)), next_hop)
        elif step == "twice":  # the same routes from two VTEPs (each its own RD), via two peers: multipath, MAC moves
            batch = data.draw(st.lists(routes, min_size=1, max_size=2))
            for source, vtep in zip(PEERS[:2], data.draw(st.permutations(VTEPS)), strict=False):
                next_hop = ip_bytes(vtep)
                own = [attrs.evolve(r, rd=f"{vtep}:{2 if isinstance(r, IPPrefixRoute) else 1}") for r in batch]
                rib.update(source, EVPN, own, data.draw(attribute_sets(source, next_hop)), next_hop)
        elif step == "withdraw":
            held = [p.route for p in rib.adj_in(peer.address, EVPN).values()]
            pool = st.sampled_from(held) | routes if held else routes
            rib.withdraw(peer, EVPN, data.draw(st.lists(pool, min_size=1, max_size=3)))
        elif step == "down":
            rib.peer_down(peer.address)
        elif step == "graceful":  # its routes stay as stale until a sweep
            rib.peer_down(peer.address, keep=[EVPN])
        else:
            rib.sweep(peer.address, EVPN)
        translated(rib, tr, sink)
        assert sink.state == tr.entries
        assert sink.redundant == [], "an operation that changed nothing"
        state = set(sink.state.values())
        assert state == expected(rib)
        assert state == rebuilt(rib, rnd.shuffle)
        for entry in state:  # what the pools reach (shown by --hypothesis-show-statistics)
            if isinstance(entry, RouteEntry):
                event(f"route: IPv{4 if len(entry.prefix) == 4 else 6}, {len(entry.next_hops)} next hop(s)")
            elif isinstance(entry, FdbEntry) and entry.sticky:
                event("sticky MAC")


# --- 4. through the speaker -----------------------------------------------------------------------

A_ID, B_ID, C_ID = "192.0.2.1", "192.0.2.2", "192.0.2.3"
VTEP_A, VTEP_B = "198.18.0.1", "198.18.0.2"
SPEAKER_ASN = 65001
MAC, HOST = "02:00:00:00:00:0a", "198.19.100.10"
STALE = FdbEntry(VXLAN, mac_bytes("02:00:00:00:00:99"), ip_bytes("198.18.0.99"))


def a_config() -> Config:
    return Config(SpeakerConfig(SPEAKER_ASN, A_ID), (PeerConfig(B_ID, SPEAKER_ASN, passive=True),))


def b_config(*peers: str) -> Config:
    """B: VNI 100 with "auto" RD and route targets (ASN:100), the memory sink, ``peers`` (passive, iBGP)."""
    return parse_config(
        {
            "speaker": {"asn": SPEAKER_ASN, "router_id": B_ID},
            "peers": [{"address": p, "asn": SPEAKER_ASN, "passive": True} for p in peers],
            "vnis": [{"vni": 100, "vtep": VTEP_B}],
            "dataplane": {"sink": "memory"},
        }
    )


def a_routes() -> tuple[list[Nlri], list[Attribute]]:
    """A's routes for VNI 100: type-3 with a PMSI tunnel, type-2 MAC and MAC+IP."""
    rd = f"{VTEP_A}:100"
    nlri: list[Nlri] = [
        InclusiveMulticastRoute(rd=rd, originator_ip=VTEP_A),
        MacIpRoute(rd=rd, mac=MAC, label1=100),
        MacIpRoute(rd=rd, mac=MAC, ip=HOST, label1=100),
    ]
    attributes: list[Attribute] = [
        ExtendedCommunities([RouteTarget(SPEAKER_ASN, 100), Encapsulation(TunnelType.VXLAN)]),
        PmsiTunnel(label=100, tunnel_id=socket.inet_aton(VTEP_A)),
    ]
    return nlri, attributes


DESIRED = {
    FloodEntry("vxlan100", ip_bytes(VTEP_A)),
    FdbEntry("vxlan100", mac_bytes(MAC), ip_bytes(VTEP_A), False),
    NeighborEntry("br100", ip_bytes(HOST), mac_bytes(MAC)),
}


def sink_of(speaker: Speaker) -> MemorySink:
    assert speaker.dataplane is not None
    sink = speaker.dataplane.sink
    assert isinstance(sink, MemorySink)
    return sink


async def until(condition: Callable[[], object]) -> None:
    """Poll ``condition`` on the (mock) clock; the caller's ``fail_after`` bounds it."""
    while not condition():
        await trio.sleep(0.01)


async def attach(a: Speaker, b: Speaker) -> None:
    left, right = trio.testing.memory_stream_pair()
    await a.attach(B_ID, left)
    await b.attach(A_ID, right)
    await a.wait_established(B_ID)
    await b.wait_established(A_ID)


def entries(values: Iterable[Entry]) -> set[Entry]:
    return set(values)


async def test_speaker_programs_a_peers_routes_and_removes_them(autojump_clock: trio.testing.MockClock) -> None:
    nlri, attributes = a_routes()
    with trio.fail_after(60):
        async with open_speaker(a_config()) as a, open_speaker(b_config(A_ID)) as b:
            sink = sink_of(b)
            assert sink.state == {}
            await attach(a, b)
            a.announce(nlri, attributes=attributes, next_hop=VTEP_A)
            await until(lambda: entries(sink.state.values()) == DESIRED)
            assert b.dataplane is not None and b.dataplane.translator.entries == sink.state
            assert sink.redundant == []
            a.withdraw(nlri)
            await until(lambda: not sink.state)
            assert b.dataplane.translator.entries == {}
            stats = b.dataplane.statistics()
            assert stats.entries == 0 and stats.pending == 0 and stats.failed == 0 and stats.reconciled


class StaleMemorySink(MemorySink):
    """A memory sink holding an entry of a "previous run" that no route justifies."""

    def __init__(self) -> None:
        super().__init__()
        self.state[STALE.key] = STALE


async def test_reconciliation_after_end_of_rib(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(evpn.sink.dataplane, "MemorySink", StaleMemorySink)
    nlri, attributes = a_routes()
    with trio.fail_after(60):
        async with open_speaker(a_config()) as a, open_speaker(b_config(A_ID)) as b:
            assert b.dataplane is not None
            sink = sink_of(b)
            assert isinstance(sink, StaleMemorySink) and sink.state == {STALE.key: STALE}
            a.announce(nlri, attributes=attributes, next_hop=VTEP_A)  # before the session: in A's initial table
            await trio.sleep(1)
            assert not b.dataplane.statistics().reconciled  # A's End-of-RIB is still to come
            await attach(a, b)
            await until(lambda: b.dataplane is not None and b.dataplane.statistics().reconciled)
            await until(lambda: entries(sink.state.values()) == DESIRED)
            assert STALE.key not in sink.state
            assert Op(REMOVE, STALE) in sink.log
            assert trio.current_time() < RECONCILE_AFTER  # by End-of-RIB, not by the timer


async def test_reconciliation_right_away_without_peers(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(evpn.sink.dataplane, "MemorySink", StaleMemorySink)
    with trio.fail_after(RECONCILE_AFTER * 2):
        async with open_speaker(b_config()) as b:
            assert b.dataplane is not None
            await until(lambda: b.dataplane is not None and b.dataplane.statistics().reconciled)
            assert sink_of(b).state == {}
            assert trio.current_time() < 1.0, f"reconciled only after {trio.current_time()} s"


async def test_reconciliation_after_the_timer_when_a_peer_never_sends_end_of_rib(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # B has two peers: A sends its table and End-of-RIB, C never comes up.
    monkeypatch.setattr(evpn.sink.dataplane, "MemorySink", StaleMemorySink)
    nlri, attributes = a_routes()
    with trio.fail_after(RECONCILE_AFTER * 2):
        async with open_speaker(a_config()) as a, open_speaker(b_config(A_ID, C_ID)) as b:
            start = trio.current_time()
            assert b.dataplane is not None
            sink = sink_of(b)
            a.announce(nlri, attributes=attributes, next_hop=VTEP_A)
            await attach(a, b)
            await until(lambda: entries(sink.state.values()) >= DESIRED)
            await trio.sleep_until(start + RECONCILE_AFTER - 1)
            assert not b.dataplane.statistics().reconciled
            assert entries(sink.state.values()) == DESIRED | {STALE}  # the stale entry waits for C
            await trio.sleep_until(start + RECONCILE_AFTER + 1)
            assert b.dataplane.statistics().reconciled
            assert entries(sink.state.values()) == DESIRED


class RecordingSink:
    """A sink of one's own (not a MemorySink): what it was asked to do."""

    def __init__(self) -> None:
        self.applied: list[Op] = []
        self.reconciled: list[dict[object, Entry]] = []
        self.closed = False

    async def apply(self, ops: Sequence[Op]) -> list[OpError]:
        self.applied += ops
        return []

    async def reconcile(self, desired: Mapping[object, Entry]) -> list[OpError]:
        self.reconciled.append(dict(desired))
        return []

    async def aclose(self) -> None:
        self.closed = True


async def test_open_speaker_feeds_a_sink_of_ones_own(autojump_clock: trio.testing.MockClock) -> None:
    nlri, attributes = a_routes()
    own = RecordingSink()
    config = attrs.evolve(b_config(A_ID), dataplane=DataplaneConfig(sink="none"))  # the sink given wins
    with trio.fail_after(60):
        async with open_speaker(a_config()) as a, open_speaker(config, sink=own) as b:
            assert b.dataplane is not None and b.dataplane.sink is own
            await attach(a, b)
            a.announce(nlri, attributes=attributes, next_hop=VTEP_A)
            await until(
                lambda: {op.entry for op in own.applied} | set().union(*map(dict.values, own.reconciled)) >= DESIRED
            )
    assert own.closed
