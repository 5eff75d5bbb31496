"""Tests for evpn.wire.jsonform: the JSON form of messages, attributes, routes, communities."""

from __future__ import annotations

import json
import struct

import pytest

from evpn.wire import (
    AFI,
    SAFI,
    AddPath,
    Aggregator,
    ArpNd,
    As4Aggregator,
    As4Path,
    AsPath,
    AsPathSegment,
    AtomicAggregate,
    ClusterList,
    Communities,
    Context,
    DefaultGateway,
    Encapsulation,
    EnhancedRouteRefresh,
    EsiLabel,
    EsImportRouteTarget,
    EthernetADRoute,
    EthernetSegmentRoute,
    ExtendedCommunities,
    ExtendedMessage,
    FourOctetAS,
    Fqdn,
    GracefulRestart,
    InclusiveMulticastRoute,
    IPPrefixRoute,
    Keepalive,
    LargeCommunities,
    LocalPref,
    MacIpRoute,
    MacMobility,
    MpReach,
    MpUnreach,
    MultiExitDisc,
    Multiprotocol,
    NextHop,
    Notification,
    OpaqueNlri,
    Open,
    Origin,
    OriginatorId,
    PmsiTunnel,
    Prefix,
    RouteRefresh,
    RouteRefreshCapability,
    RouterMac,
    RouteTarget,
    UnknownAttribute,
    UnknownCapability,
    UnknownExtCommunity,
    UnknownRoute,
    Update,
    decode_message,
    encode_attribute,
    end_of_rib,
)
from evpn.wire.jsonform import (
    afi_name,
    attributes_json,
    capability_json,
    error_json,
    ext_community_json,
    message_json,
    next_hop_json,
    nlri_json,
    pmsi_tunnel_json,
    safi_name,
    tunnel_type_name,
)

MARKER = b"\xff" * 16
ZERO_ESI = "00:00:00:00:00:00:00:00:00:00"
ESI1 = "00:11:22:33:44:55:66:77:88:99"
EVPN_NH = bytes((198, 18, 0, 2))


def roundtrip(
    message: Open | Update | Notification | RouteRefresh | Keepalive, ctx: Context | None = None
) -> dict[str, object]:
    """Encode, decode and return the JSON form (checked to survive json.dumps/loads)."""
    ctx = ctx or Context()
    obj = message_json(decode_message(message.encode(ctx), ctx))
    assert json.loads(json.dumps(obj)) == obj
    return obj


def update_bytes(attributes: bytes, nlri: bytes = b"") -> bytes:
    """An UPDATE with a hand-made path attributes field."""
    body = b"\0\0" + struct.pack("!H", len(attributes)) + attributes + nlri
    return MARKER + struct.pack("!HB", 19 + len(body), 2) + body


# --- names --------------------------------------------------------------------------


def test_family_names() -> None:
    assert [afi_name(a) for a in (1, 2, 25, 16388)] == ["ipv4", "ipv6", "l2vpn", 16388]
    assert [safi_name(s) for s in (1, 2, 70, 128, 133)] == ["unicast", "multicast", "evpn", "mpls-vpn", 133]


def test_tunnel_type_names() -> None:
    assert tunnel_type_name(8) == "vxlan"
    assert tunnel_type_name(11) == "mpls-in-gre"
    assert tunnel_type_name(200) == 200


# --- routes -------------------------------------------------------------------------


def test_type2_route_with_ip() -> None:
    route = MacIpRoute(rd="198.18.0.2:2", mac="02:00:00:00:00:01", ip="198.19.0.1", label1=100)
    assert nlri_json(route) == {
        "route_type": 2,
        "rd": "198.18.0.2:2",
        "esi": ZERO_ESI,
        "ethernet_tag": 0,
        "mac": "02:00:00:00:00:01",
        "ip": "198.19.0.1",
        "label1": 100,
        "label2": None,
    }


def test_type2_route_mac_only_with_label2_esi_tag_and_path_id() -> None:
    route = MacIpRoute(
        rd="65001:7", esi=ESI1, ethernet_tag=5, mac="02:00:00:00:00:02", label1=0xFFFFFF, label2=4001, path_id=9
    )
    assert nlri_json(route) == {
        "route_type": 2,
        "rd": "65001:7",
        "esi": ESI1,
        "ethernet_tag": 5,
        "mac": "02:00:00:00:00:02",
        "ip": None,
        "label1": 0xFFFFFF,
        "label2": 4001,
        "path_id": 9,
    }


def test_type2_route_ipv6() -> None:
    route = MacIpRoute(rd="198.18.0.2:2", mac="02:00:00:00:00:01", ip="2001:db8::1", label1=1)
    assert nlri_json(route)["ip"] == "2001:db8::1"  # type: ignore[index]


def test_type1_route() -> None:
    route = EthernetADRoute(rd="198.18.0.1:3", esi=ESI1, ethernet_tag=0xFFFFFFFF, label=0)
    assert nlri_json(route) == {
        "route_type": 1,
        "rd": "198.18.0.1:3",
        "esi": ESI1,
        "ethernet_tag": 0xFFFFFFFF,
        "label": 0,
    }


def test_type3_route() -> None:
    route = InclusiveMulticastRoute(rd="198.18.0.2:2", ethernet_tag=0, originator_ip="198.18.0.2")
    assert nlri_json(route) == {
        "route_type": 3,
        "rd": "198.18.0.2:2",
        "ethernet_tag": 0,
        "originator_ip": "198.18.0.2",
    }


def test_type4_route() -> None:
    route = EthernetSegmentRoute(rd="198.18.0.1:0", esi=ESI1, originator_ip="2001:db8::7")
    assert nlri_json(route) == {"route_type": 4, "rd": "198.18.0.1:0", "esi": ESI1, "originator_ip": "2001:db8::7"}


def test_type5_route() -> None:
    route = IPPrefixRoute(rd="198.18.0.2:5", prefix="198.19.5.0", prefix_length=24, label=100)
    assert nlri_json(route) == {
        "route_type": 5,
        "rd": "198.18.0.2:5",
        "esi": ZERO_ESI,
        "ethernet_tag": 0,
        "prefix": "198.19.5.0/24",
        "gateway": "0.0.0.0",
        "label": 100,
    }


def test_type5_route_ipv6_with_gateway_and_path_id() -> None:
    route = IPPrefixRoute(
        rd="4200000000:1", prefix="2001:db8:5::", prefix_length=48, gateway="2001:db8::1", label=7, path_id=1
    )
    assert nlri_json(route) == {
        "route_type": 5,
        "rd": "4200000000:1",
        "esi": ZERO_ESI,
        "ethernet_tag": 0,
        "prefix": "2001:db8:5::/48",
        "gateway": "2001:db8::1",
        "label": 7,
        "path_id": 1,
    }


def test_unknown_route_type() -> None:
    assert nlri_json(UnknownRoute(route_type=9, raw=b"\x01\x02")) == {"route_type": 9, "raw": "0102"}
    assert nlri_json(UnknownRoute(route_type=9, raw=b"", path_id=3)) == {"route_type": 9, "raw": "", "path_id": 3}


def test_prefixes_and_opaque_nlri() -> None:
    assert nlri_json(Prefix.parse("198.19.0.0/24")) == "198.19.0.0/24"
    assert nlri_json(Prefix.parse("2001:db8::/32")) == "2001:db8::/32"
    with_id = Prefix(Prefix.parse("10.0.0.0/8").network, 8, path_id=4)
    assert nlri_json(with_id) == {"prefix": "10.0.0.0/8", "path_id": 4}
    assert nlri_json(OpaqueNlri(b"\x20\x0a\x00\x00\x01")) == {"raw": "200a000001"}


def test_route_decoded_from_the_wire_matches_constructed() -> None:
    route = MacIpRoute(rd="198.18.0.2:2", mac="02:00:00:00:00:01", ip="198.19.0.1", label1=100, label2=200)
    update = Update(attributes=[Origin(0), AsPath(), MpReach(AFI.L2VPN, SAFI.EVPN, EVPN_NH, [route])])
    obj = roundtrip(update)
    assert obj["mp_reach"]["nlri"] == [nlri_json(route)]  # type: ignore[index]


# --- extended communities and PMSI ----------------------------------------------------


@pytest.mark.parametrize(
    ("community", "expected"),
    [
        (RouteTarget(65001, 100), {"type": "route-target", "value": "65001:100"}),
        (RouteTarget("198.18.0.1", 7), {"type": "route-target", "value": "198.18.0.1:7"}),
        (RouteTarget(4200000000, 7), {"type": "route-target", "value": "4200000000:7"}),
        (Encapsulation(8), {"type": "encapsulation", "tunnel_type": "vxlan"}),
        (Encapsulation(999), {"type": "encapsulation", "tunnel_type": 999}),
        (MacMobility(5, sticky=True), {"type": "mac-mobility", "sequence": 5, "sticky": True}),
        (MacMobility(0), {"type": "mac-mobility", "sequence": 0, "sticky": False}),
        (RouterMac("02:00:00:00:00:aa"), {"type": "router-mac", "mac": "02:00:00:00:00:aa"}),
        (DefaultGateway(), {"type": "default-gateway"}),
        (EsiLabel(100, single_active=True), {"type": "esi-label", "label": 100, "single_active": True}),
        (EsImportRouteTarget("00:11:22:33:44:55"), {"type": "es-import-route-target", "mac": "00:11:22:33:44:55"}),
        (
            ArpNd(router=True, immutable=True),
            {"type": "arp-nd", "router": True, "override": False, "immutable": True, "other_flags": 0},
        ),
        (UnknownExtCommunity(bytes.fromhex("0604000000000001")), {"type": "unknown", "raw": "0604000000000001"}),
    ],
)
def test_ext_community(community: object, expected: dict[str, object]) -> None:
    assert ext_community_json(community) == expected  # type: ignore[arg-type]


def test_pmsi_ingress_replication() -> None:
    pmsi = PmsiTunnel(6, 100, bytes((198, 18, 0, 2)))
    assert pmsi_tunnel_json(pmsi) == {"tunnel_type": "ingress-replication", "label": 100, "endpoint": "198.18.0.2"}


def test_pmsi_other_tunnel_types() -> None:
    assert pmsi_tunnel_json(PmsiTunnel(3, 0, b"\x01\x02\x03")) == {
        "tunnel_type": "pim-ssm",
        "label": 0,
        "tunnel_id": "010203",
    }
    assert pmsi_tunnel_json(PmsiTunnel(42, 5, b"", tunnel_flags=1)) == {
        "tunnel_type": 42,
        "label": 5,
        "tunnel_id": "",
        "tunnel_flags": 1,
    }


# --- attributes -----------------------------------------------------------------------


def test_every_attribute_by_name() -> None:
    update = Update(
        attributes=[
            Origin(2),
            AsPath([AsPathSegment(2, [65001, 4200000001]), AsPathSegment(1, [65003, 65004])]),
            NextHop("198.18.0.9"),
            MultiExitDisc(10),
            LocalPref(200),
            AtomicAggregate(),
            Aggregator(65001, "198.18.0.1"),
            Communities([(65001 << 16) | 100, 0xFFFFFF01]),
            OriginatorId("198.18.0.4"),
            ClusterList(["198.18.0.5", "198.18.0.6"]),
            ExtendedCommunities([RouteTarget(65001, 100), Encapsulation(8)]),
            PmsiTunnel(6, 100, bytes((198, 18, 0, 2))),
            LargeCommunities([(65001, 1, 2)]),
            UnknownAttribute(99, b"\xab\xcd", flags=0xC0),
        ],
        nlri=[Prefix.parse("198.19.0.0/24")],
    )
    obj = roundtrip(update)
    assert obj["attributes"] == {
        "origin": "incomplete",
        "as_path": [{"type": "as-sequence", "asns": [65001, 4200000001]}, {"type": "as-set", "asns": [65003, 65004]}],
        "next_hop": "198.18.0.9",
        "med": 10,
        "local_pref": 200,
        "atomic_aggregate": True,
        "aggregator": {"asn": 65001, "address": "198.18.0.1"},
        "communities": ["65001:100", "65535:65281"],
        "originator_id": "198.18.0.4",
        "cluster_list": ["198.18.0.5", "198.18.0.6"],
        "extended_communities": [
            {"type": "route-target", "value": "65001:100"},
            {"type": "encapsulation", "tunnel_type": "vxlan"},
        ],
        "pmsi_tunnel": {"tunnel_type": "ingress-replication", "label": 100, "endpoint": "198.18.0.2"},
        "large_communities": ["65001:1:2"],
        "attribute_99": {"flags": 0xC0, "value": "abcd"},
    }
    assert obj["nlri"] == ["198.19.0.0/24"]
    assert obj["withdrawn"] == []
    assert "mp_reach" not in obj and "errors" not in obj and "end_of_rib" not in obj


def test_origin_names() -> None:
    assert [attributes_json([Origin(v)])["origin"] for v in (0, 1, 2)] == ["igp", "egp", "incomplete"]


def test_confederation_segments() -> None:
    obj = attributes_json([AsPath([AsPathSegment(3, [1, 2]), AsPathSegment(4, [3]), AsPathSegment(2, [4])])])
    assert [s["type"] for s in obj["as_path"]] == ["as-confed-sequence", "as-confed-set", "as-sequence"]


def test_as_path_is_merged_with_as4_path() -> None:
    """A 2-octet session: AS_PATH carries AS_TRANS, AS4_PATH the real ASNs (RFC 6793 §4.2.3)."""
    ctx = Context(four_octet_as=False)
    update = Update(
        attributes=[
            Origin(0),
            AsPath([AsPathSegment(2, [65001, 23456])]),
            NextHop("198.18.0.1"),
            Aggregator(23456, "198.18.0.7"),
            As4Path([AsPathSegment(2, [4200000001])]),
            As4Aggregator(4200000002, "198.18.0.7"),
        ],
        nlri=[Prefix.parse("198.19.0.0/24")],
    )
    attrs = roundtrip(update, ctx)["attributes"]
    # the AS_PATH head and the AS4_PATH sequence join into one segment
    assert attrs["as_path"] == [{"type": "as-sequence", "asns": [65001, 4200000001]}]  # type: ignore[index]
    assert attrs["aggregator"] == {"asn": 4200000002, "address": "198.18.0.7"}  # type: ignore[index]
    assert attrs["as4_path"] == [{"type": "as-sequence", "asns": [4200000001]}]  # type: ignore[index]
    assert attrs["as4_aggregator"] == {"asn": 4200000002, "address": "198.18.0.7"}  # type: ignore[index]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (bytes((198, 18, 0, 2)), ["198.18.0.2"]),
        (bytes(15) + b"\x01", ["::1"]),
        (bytes.fromhex("20010db8000000000000000000000001fe800000000000000000000000000001"), ["2001:db8::1", "fe80::1"]),
        (bytes(8) + bytes((198, 18, 0, 2)), ["198.18.0.2"]),
        (b"\x01\x02\x03", ["010203"]),
        (b"", []),
    ],
)
def test_next_hop(raw: bytes, expected: list[str]) -> None:
    assert next_hop_json(raw) == expected


# --- messages ---------------------------------------------------------------------------


def test_update_evpn_reach_and_unreach() -> None:
    t2 = MacIpRoute(rd="198.18.0.2:2", mac="02:00:00:00:00:01", ip="198.19.0.1", label1=100)
    t3 = InclusiveMulticastRoute(rd="198.18.0.2:2", originator_ip="198.18.0.2")
    update = Update(
        attributes=[
            MpUnreach(AFI.L2VPN, SAFI.EVPN, [t3]),
            Origin(0),
            AsPath([AsPathSegment(2, [65002])]),
            MpReach(AFI.L2VPN, SAFI.EVPN, EVPN_NH, [t2]),
        ]
    )
    obj = roundtrip(update)
    assert obj == {
        "type": "UPDATE",
        "attributes": {"origin": "igp", "as_path": [{"type": "as-sequence", "asns": [65002]}]},
        "withdrawn": [],
        "nlri": [],
        "mp_reach": {"afi": "l2vpn", "safi": "evpn", "next_hop": ["198.18.0.2"], "nlri": [nlri_json(t2)]},
        "mp_unreach": {"afi": "l2vpn", "safi": "evpn", "nlri": [nlri_json(t3)]},
    }


def test_update_ipv4_withdrawn_and_ipv6_mp_reach() -> None:
    update = Update(
        withdrawn=[Prefix.parse("10.0.0.0/8")],
        attributes=[
            Origin(0),
            AsPath(),
            MpReach(AFI.IPV6, SAFI.UNICAST, bytes(15) + b"\x01", [Prefix.parse("2001:db8::/32")]),
        ],
    )
    obj = roundtrip(update)
    assert obj["withdrawn"] == ["10.0.0.0/8"]
    assert obj["mp_reach"] == {"afi": "ipv6", "safi": "unicast", "next_hop": ["::1"], "nlri": ["2001:db8::/32"]}


def test_update_undecoded_family_is_raw() -> None:
    update = Update(attributes=[Origin(0), AsPath(), MpReach(1, 133, EVPN_NH, [OpaqueNlri(b"\x05\x01\x02")])])
    assert roundtrip(update)["mp_reach"] == {
        "afi": "ipv4",
        "safi": 133,
        "next_hop": ["198.18.0.2"],
        "nlri": [{"raw": "050102"}],
    }


def test_update_with_add_path() -> None:
    ctx = Context(add_path={(AFI.L2VPN, SAFI.EVPN)})
    route = InclusiveMulticastRoute(rd="198.18.0.2:2", originator_ip="198.18.0.2", path_id=7)
    update = Update(attributes=[Origin(0), AsPath(), MpReach(AFI.L2VPN, SAFI.EVPN, EVPN_NH, [route])])
    assert roundtrip(update, ctx)["mp_reach"]["nlri"][0]["path_id"] == 7  # type: ignore[index]


def test_end_of_rib() -> None:
    assert roundtrip(end_of_rib())["end_of_rib"] == {"afi": "l2vpn", "safi": "evpn"}
    obj = roundtrip(end_of_rib(AFI.IPV4, SAFI.UNICAST))
    assert obj == {
        "type": "UPDATE",
        "attributes": {},
        "withdrawn": [],
        "nlri": [],
        "end_of_rib": {"afi": "ipv4", "safi": "unicast"},
    }
    assert roundtrip(end_of_rib())["mp_unreach"] == {"afi": "l2vpn", "safi": "evpn", "nlri": []}


def test_update_rfc7606_errors() -> None:
    ctx = Context()
    good = b"".join(encode_attribute(a, ctx) for a in (Origin(0), AsPath(), NextHop("198.18.0.1")))
    bad_local_pref = bytes((0x40, 5, 3, 0, 0, 100))  # LOCAL_PREF of 3 bytes
    raw = update_bytes(good + bad_local_pref, Prefix.parse("198.19.0.0/24").encode())
    obj = message_json(decode_message(raw, ctx))
    assert obj["errors"] == [
        {
            "code": 3,
            "subcode": 5,
            "name": "UPDATE_MESSAGE/ATTRIBUTE_LENGTH_ERROR",
            "action": "treat-as-withdraw",
            "field": "LOCAL_PREF length 3 (must be 4)",
        }
    ]
    assert "local_pref" not in obj["attributes"]
    assert "end_of_rib" not in obj


def test_update_missing_attribute_error() -> None:
    raw = update_bytes(b"", Prefix.parse("198.19.0.0/24").encode())
    errors = message_json(decode_message(raw))["errors"]
    assert [e["subcode"] for e in errors] == [3, 3, 3]
    assert all(e["action"] == "treat-as-withdraw" for e in errors)
    assert "ORIGIN" in errors[0]["field"]


def test_error_json_names_session_reset() -> None:
    from evpn.errors import BGPError

    error = BGPError(1, 2, "header says 5 bytes")
    assert error_json(error) == {
        "code": 1,
        "subcode": 2,
        "name": "MESSAGE_HEADER/BAD_MESSAGE_LENGTH",
        "action": "session-reset",
        "field": "header says 5 bytes",
    }


def test_open() -> None:
    message = Open.build(
        4200000001,
        90,
        "198.18.0.1",
        [
            Multiprotocol(AFI.L2VPN, SAFI.EVPN),
            RouteRefreshCapability(),
            EnhancedRouteRefresh(),
            ExtendedMessage(),
            FourOctetAS(4200000001),
            GracefulRestart(120, restarting=True, families=[(AFI.L2VPN, SAFI.EVPN, 0x80)]),
            AddPath([(AFI.L2VPN, SAFI.EVPN, 3), (AFI.IPV4, SAFI.UNICAST, 1)]),
            Fqdn("leaf1", "example.net"),
            UnknownCapability(71, b"\x00\x01"),
        ],
    )
    assert roundtrip(message) == {
        "type": "OPEN",
        "version": 4,
        "asn": 4200000001,
        "hold_time": 90,
        "router_id": "198.18.0.1",
        "capabilities": [
            {"type": "multiprotocol", "afi": "l2vpn", "safi": "evpn"},
            {"type": "route-refresh"},
            {"type": "enhanced-route-refresh"},
            {"type": "extended-message"},
            {"type": "four-octet-as", "asn": 4200000001},
            {
                "type": "graceful-restart",
                "restart_time": 120,
                "restarting": True,
                "notification": False,
                "families": [{"afi": "l2vpn", "safi": "evpn", "forwarding_state": True}],
            },
            {
                "type": "add-path",
                "families": [
                    {"afi": "l2vpn", "safi": "evpn", "send_receive": "both"},
                    {"afi": "ipv4", "safi": "unicast", "send_receive": "receive"},
                ],
            },
            {"type": "fqdn", "hostname": "leaf1", "domain": "example.net"},
            {"type": "unknown", "code": 71, "value": "0001"},
        ],
    }


def test_open_two_octet_asn_without_capability() -> None:
    obj = roundtrip(Open.build(65001, 180, "198.18.0.1", []))
    assert obj["asn"] == 65001 and obj["capabilities"] == []


def test_capability_json_unknown_code() -> None:
    assert capability_json(UnknownCapability(200)) == {"type": "unknown", "code": 200, "value": ""}


def test_notification_with_shutdown_communication() -> None:
    assert roundtrip(Notification.cease(2, "maintenance")) == {
        "type": "NOTIFICATION",
        "code": 6,
        "subcode": 2,
        "name": "CEASE/ADMINISTRATIVE_SHUTDOWN",
        "data": "0b" + b"maintenance".hex(),
        "shutdown_communication": "maintenance",
    }


def test_notification_plain() -> None:
    assert roundtrip(Notification(3, 11, b"\x01")) == {
        "type": "NOTIFICATION",
        "code": 3,
        "subcode": 11,
        "name": "UPDATE_MESSAGE/MALFORMED_AS_PATH",
        "data": "01",
    }
    assert roundtrip(Notification(9, 9))["name"] == "code 9/subcode 9"


def test_route_refresh_and_keepalive() -> None:
    assert roundtrip(RouteRefresh(AFI.L2VPN, SAFI.EVPN, 1)) == {
        "type": "ROUTE-REFRESH",
        "afi": "l2vpn",
        "safi": "evpn",
        "subtype": 1,
    }
    assert roundtrip(Keepalive()) == {"type": "KEEPALIVE"}
