"""Adj-RIB-Out rules (:mod:`evpn.rib.export`): who gets a best path, and with which attributes."""

from __future__ import annotations

import pytest
from rib_helpers import (
    AS_SEQUENCE,
    AS_SET,
    OUR_ASN,
    OUR_ID,
    RT_L2,
    as_int,
    attrs_,
    ebgp,
    ibgp,
    ip,
    mac_route,
    path,
    seq_path,
)

from evpn.rib import Source, advertises, export_attributes, path_attributes
from evpn.wire import (
    AsPath,
    AsPathSegment,
    Attribute,
    ClusterList,
    ExtendedCommunities,
    LocalPref,
    MultiExitDisc,
    Origin,
    OriginatorId,
)
from evpn.wire.codes import AttrType

CLUSTER = ip("198.18.0.1")
SOURCES = {
    "local": Source.local(OUR_ASN, as_int(OUR_ID)),
    "ebgp": ebgp("198.18.0.21"),
    "client": ibgp("198.18.0.22", client=True),
    "non-client": ibgp("198.18.0.23"),
}
PEERS = {
    "ebgp": ebgp("198.18.0.31", asn=65002),
    "client": ibgp("198.18.0.32", client=True),
    "non-client": ibgp("198.18.0.33"),
}
# source kind -> the peer kinds it is advertised to (RFC 4271 §9.2, RFC 4456 §6).
ADVERTISED = {
    "local": {"ebgp", "client", "non-client"},
    "ebgp": {"ebgp", "client", "non-client"},
    "client": {"ebgp", "client", "non-client"},
    "non-client": {"ebgp", "client"},
}


@pytest.mark.parametrize("peer", PEERS.keys())
@pytest.mark.parametrize("source", SOURCES.keys())
def test_advertises(source: str, peer: str) -> None:
    best = path(SOURCES[source], mac_route(), attrs_(RT_L2))
    assert advertises(best, PEERS[peer]) is (peer in ADVERTISED[source])


@pytest.mark.parametrize("source", ["ebgp", "client", "non-client"])
def test_never_back_to_the_source(source: str) -> None:
    best = path(SOURCES[source], mac_route(), attrs_(RT_L2))
    assert advertises(best, SOURCES[source]) is False


def export(
    source: str, peer: str | Source, attributes: tuple[Attribute, ...], *, asn: int = OUR_ASN
) -> tuple[Attribute, ...]:
    to = PEERS[peer] if isinstance(peer, str) else peer
    return export_attributes(path_attributes(attributes), SOURCES[source], to, asn=asn, cluster_id=CLUSTER)


def by_code(attributes: tuple[Attribute, ...]) -> dict[int, Attribute]:
    codes = [a.type_code for a in attributes]
    assert codes == sorted(codes), "sorted by type code, each once"
    assert len(set(codes)) == len(codes)
    return {a.type_code: a for a in attributes}


RECEIVED = attrs_(
    RT_L2,
    origin=1,
    as_path=seq_path(65001),
    med=50,
    local_pref=200,
    originator="198.18.0.7",
    cluster=("198.18.0.40",),
)


@pytest.mark.parametrize("source", ["client", "non-client", "ebgp"])
def test_to_ebgp_prepends_our_as_and_strips_ibgp_attributes(source: str) -> None:
    out = by_code(export(source, "ebgp", RECEIVED))
    assert set(out) == {AttrType.ORIGIN, AttrType.AS_PATH, AttrType.EXTENDED_COMMUNITIES}
    assert out[AttrType.AS_PATH] == AsPath((AsPathSegment(AS_SEQUENCE, (OUR_ASN, 65001)),))
    assert out[AttrType.ORIGIN] == Origin(1)
    assert out[AttrType.EXTENDED_COMMUNITIES] == RECEIVED[-1]


def test_to_ebgp_keeps_the_med_we_set() -> None:
    out = by_code(export("local", "ebgp", attrs_(RT_L2, med=50, local_pref=300)))
    assert out[AttrType.MULTI_EXIT_DISC] == MultiExitDisc(50)
    assert AttrType.LOCAL_PREF not in out
    assert out[AttrType.AS_PATH] == AsPath((AsPathSegment(AS_SEQUENCE, (OUR_ASN,)),))
    assert out[AttrType.ORIGIN] == Origin(0)  # added when missing


def test_to_ebgp_before_an_as_set_adds_a_sequence() -> None:
    as_set = (AsPathSegment(AS_SET, (65001, 65002)),)
    out = by_code(export("ebgp", "ebgp", attrs_(RT_L2, as_path=as_set)))
    assert out[AttrType.AS_PATH] == AsPath((AsPathSegment(AS_SEQUENCE, (OUR_ASN,)), *as_set))


def test_to_ebgp_a_full_sequence_gets_a_new_segment() -> None:
    full = seq_path(*range(64600, 64855))  # 255 ASes
    out = by_code(export("ebgp", "ebgp", attrs_(RT_L2, as_path=full)))
    assert out[AttrType.AS_PATH] == AsPath((AsPathSegment(AS_SEQUENCE, (OUR_ASN,)), *full))


def test_from_ebgp_to_ibgp_adds_local_pref_and_leaves_the_path() -> None:
    received = attrs_(RT_L2, as_path=seq_path(65001), med=50)
    for peer in ("client", "non-client"):
        out = by_code(export("ebgp", peer, received))
        assert out[AttrType.LOCAL_PREF] == LocalPref(100)
        assert out[AttrType.AS_PATH] == AsPath(seq_path(65001))
        assert out[AttrType.MULTI_EXIT_DISC] == MultiExitDisc(50)
        assert AttrType.ORIGINATOR_ID not in out and AttrType.CLUSTER_LIST not in out


def test_local_to_ibgp() -> None:
    out = by_code(export("local", "non-client", attrs_(RT_L2)))
    assert set(out) == {AttrType.ORIGIN, AttrType.AS_PATH, AttrType.LOCAL_PREF, AttrType.EXTENDED_COMMUNITIES}
    assert out[AttrType.AS_PATH] == AsPath(())
    assert out[AttrType.LOCAL_PREF] == LocalPref(100)


@pytest.mark.parametrize(("source", "peer"), [("client", "non-client"), ("client", "client"), ("non-client", "client")])
def test_reflection_sets_originator_id_and_prepends_our_cluster_id(source: str, peer: str) -> None:
    out = by_code(export(source, peer, attrs_(RT_L2, local_pref=200)))
    assert out[AttrType.ORIGINATOR_ID] == OriginatorId(SOURCES[source].router_id.to_bytes(4, "big"))
    assert out[AttrType.CLUSTER_LIST] == ClusterList((CLUSTER,))
    assert out[AttrType.LOCAL_PREF] == LocalPref(200)


def test_reflection_keeps_an_existing_originator_id_and_cluster_list() -> None:
    out = by_code(export("client", "non-client", RECEIVED))
    assert out[AttrType.ORIGINATOR_ID] == OriginatorId(ip("198.18.0.7"))
    assert out[AttrType.CLUSTER_LIST] == ClusterList((CLUSTER, ip("198.18.0.40")))
    assert out[AttrType.MULTI_EXIT_DISC] == MultiExitDisc(50)
    assert out[AttrType.AS_PATH] == AsPath(seq_path(65001))


def test_the_next_hop_is_never_part_of_the_output() -> None:
    # The next hop travels in MP_REACH_NLRI, built from the path's next hop, which export leaves alone.
    for source in SOURCES:
        for peer in PEERS:
            codes = {a.type_code for a in export(source, peer, RECEIVED)}
            assert not codes & {AttrType.NEXT_HOP, AttrType.MP_REACH_NLRI, AttrType.MP_UNREACH_NLRI}


def test_export_does_not_change_the_received_attributes() -> None:
    shared = path_attributes(RECEIVED)
    export_attributes(shared, SOURCES["client"], PEERS["ebgp"], asn=OUR_ASN, cluster_id=CLUSTER)
    export_attributes(shared, SOURCES["client"], PEERS["client"], asn=OUR_ASN, cluster_id=CLUSTER)
    assert shared.attributes == RECEIVED
    assert isinstance(RECEIVED[-1], ExtendedCommunities)
