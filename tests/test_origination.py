"""Local origination (:mod:`evpn.origination`): the routes and attributes a configuration makes us send."""

from __future__ import annotations

import tomllib

import attrs
import pytest
from test_config import EVPN_EXAMPLE

from evpn.config import Config, SpeakerConfig, VniConfig, VrfConfig, parse_config
from evpn.origination import find_vni, local_routes, mac_ip_route
from evpn.types import ip_bytes
from evpn.wire import (
    Encapsulation,
    ExtendedCommunities,
    InclusiveMulticastRoute,
    IPPrefixRoute,
    MacIpRoute,
    PmsiTunnel,
    RouterMac,
    RouteTarget,
    TunnelType,
)
from evpn.wire.attributes import INGRESS_REPLICATION
from evpn.wire.routes import decode_evpn_nlri

# The example (docs/configuration.md, "Local VNIs and VRFs") under a [speaker] table.
CONFIG = (
    """\
[speaker]
asn = 65001
router_id = "198.18.2.1"

"""
    + EVPN_EXAMPLE
)

VXLAN = Encapsulation(TunnelType.VXLAN)
RT100, RT5000 = RouteTarget(65001, 100, kind=0), RouteTarget(65001, 5000, kind=0)
RMAC = RouterMac("02:aa:00:00:50:00")


def config(**vni_changes: object) -> Config:
    data = tomllib.loads(CONFIG)
    data["vnis"][0].update(vni_changes)
    return parse_config(data)


def test_the_example_originates_exactly_these_routes() -> None:
    routes = local_routes(config())
    assert routes == [
        (
            InclusiveMulticastRoute(rd="198.18.2.1:1", ethernet_tag=0, originator_ip="198.18.2.1"),
            (
                ExtendedCommunities([RT100, VXLAN]),
                PmsiTunnel(tunnel_type=INGRESS_REPLICATION, label=100, tunnel_id=ip_bytes("198.18.2.1")),
            ),
            "198.18.2.1",
        ),
        (
            MacIpRoute(rd="198.18.2.1:1", mac="02:aa:00:00:00:01", ip="198.19.100.11", label1=100),
            (ExtendedCommunities([RT100, VXLAN]),),
            "198.18.2.1",
        ),
        (
            MacIpRoute(rd="198.18.2.1:1", mac="02:aa:00:00:00:02", label1=100),
            (ExtendedCommunities([RT100, VXLAN]),),
            "198.18.2.1",
        ),
        (
            IPPrefixRoute(rd="198.18.2.1:2", prefix="198.19.50.0", prefix_length=24, gateway="0.0.0.0", label=5000),
            (ExtendedCommunities([RT5000, VXLAN, RMAC]),),
            "198.18.2.1",
        ),
    ]


def test_wire_values() -> None:
    """What a peer decodes: RD type 1, RT 65001:100 as a 2-octet-AS RT, PMSI endpoint and label."""
    (imet, (communities, pmsi), _), (mac_ip, _, _), (mac_only, _, _), (prefix, _, _) = local_routes(config())
    assert isinstance(imet, InclusiveMulticastRoute) and isinstance(pmsi, PmsiTunnel)
    assert imet.rd.raw == bytes.fromhex("0001c61202010001")  # type 1, 198.18.2.1, index 1
    assert str(imet.originator_address) == "198.18.2.1"
    assert communities.communities[0].encode() == bytes.fromhex("0002fde900000064")  # 65001:100
    assert VXLAN.encode() == bytes.fromhex("030c000000000008")
    assert (pmsi.tunnel_type, pmsi.label, str(pmsi.endpoint), pmsi.tunnel_flags) == (6, 100, "198.18.2.1", 0)
    assert isinstance(mac_ip, MacIpRoute) and isinstance(mac_only, MacIpRoute)
    assert (mac_ip.vni, mac_ip.label2, str(mac_ip.ip_address)) == (100, None, "198.19.100.11")
    assert (mac_only.vni, mac_only.label2, mac_only.ip_address) == (100, None, None)
    assert isinstance(prefix, IPPrefixRoute)
    assert (str(prefix.network), str(prefix.gateway_address), prefix.vni, str(prefix.rd)) == (
        "198.19.50.0/24",
        "0.0.0.0",
        5000,
        "198.18.2.1:2",
    )


def test_a_vni_bound_to_a_vrf_gets_label2_on_mac_ip_routes_only() -> None:
    """Symmetric IRB (RFC 9135 §5.1, §8.1): MAC+IP gets the L3 VNI, the VRF's RTs and the router MAC."""
    _, (mac_ip, mac_ip_attrs, _), (mac_only, mac_only_attrs, _), _ = local_routes(config(vrf="tenant1"))
    assert isinstance(mac_ip, MacIpRoute) and isinstance(mac_only, MacIpRoute)
    assert (mac_ip.label1, mac_ip.label2) == (100, 5000)
    assert mac_ip_attrs == (ExtendedCommunities([RT100, RT5000, VXLAN, RMAC]),)
    assert (mac_only.label1, mac_only.label2) == (100, None)
    assert mac_only_attrs == (ExtendedCommunities([RT100, VXLAN]),)


def test_explicit_route_targets_and_rd() -> None:
    routes = local_routes(config(rd="65001:100", export_targets=["65001:1", "4200000000:7", "198.18.2.1:9"]))
    targets = (RouteTarget(65001, 1, kind=0), RouteTarget(4200000000, 7, kind=2), RouteTarget("198.18.2.1", 9))
    imet, attributes, _ = routes[0]
    assert isinstance(imet, InclusiveMulticastRoute) and str(imet.rd) == "65001:100"
    assert attributes[0] == ExtendedCommunities([*targets, VXLAN])
    # the import targets stay auto: they are not sent
    assert config(export_targets=["65001:1"]).vnis[0].import_targets == (RT100,)


def test_vtep_is_the_next_hop_originator_and_pmsi_endpoint() -> None:
    routes = local_routes(config(vtep="2001:db8::1"))
    imet, (_, pmsi), next_hop = routes[0]
    assert isinstance(imet, InclusiveMulticastRoute) and isinstance(pmsi, PmsiTunnel)
    assert (str(imet.originator_address), str(pmsi.endpoint), next_hop) == ("2001:db8::1",) * 3
    assert {hop for _, _, hop in routes[:3]} == {"2001:db8::1"}
    assert routes[3][2] == "198.18.2.1"  # the VRF has no vtep: the router ID


def test_vrf_vtep_and_ipv6_prefix() -> None:
    data = tomllib.loads(CONFIG)
    data["vrfs"][0] |= {"vtep": "198.18.2.9", "prefixes": ["2001:db8:50::/48"]}
    (route, _, next_hop) = local_routes(parse_config(data))[-1]
    assert isinstance(route, IPPrefixRoute)
    assert (str(route.network), str(route.gateway_address), next_hop) == ("2001:db8:50::/48", "::", "198.18.2.9")


def test_several_vnis_in_file_order() -> None:
    data = tomllib.loads(CONFIG)
    data["vnis"].append({"vni": 200, "vtep": "198.18.2.1"})
    routes = [route for route, _, _ in local_routes(parse_config(data))]
    assert [(r.route_type, str(r.rd)) for r in routes] == [
        (3, "198.18.2.1:1"),
        (2, "198.18.2.1:1"),
        (2, "198.18.2.1:1"),
        (3, "198.18.2.1:2"),
        (5, "198.18.2.1:3"),
    ]


def test_no_vnis_no_routes() -> None:
    assert local_routes(Config(SpeakerConfig(65001, "198.18.2.1"))) == []


def test_mac_ip_route_and_find_vni() -> None:
    cfg = config(vrf="tenant1")
    vni = find_vni(cfg, 100)
    assert mac_ip_route(cfg, vni, bytes.fromhex("02aa00000001"), ip_bytes("198.19.100.11")) == local_routes(cfg)[1]
    with pytest.raises(ValueError, match=r"^VNI 200 is not configured \(configured VNIs: 100\)$"):
        find_vni(cfg, 200)


def test_routes_survive_the_wire() -> None:
    """Every originated route encodes and decodes back to itself (RFC 7432 §7, RFC 9136 §3)."""
    for route, _, _ in local_routes(config(vrf="tenant1")):
        assert isinstance(route, MacIpRoute | InclusiveMulticastRoute | IPPrefixRoute)
        assert decode_evpn_nlri(route.encode()) == [route]


def test_a_config_built_in_code() -> None:
    vni = VniConfig(300, "198.18.2.3", "65001:300", ["65001:300"], ["65001:300"], [("02:00:00:00:03:01", None)])
    vrf = VrfConfig("v", 6000, "02:00:00:00:60:00", "65001:6000", ["65001:6000"], ["65001:6000"])
    cfg = Config(SpeakerConfig(65001, "198.18.2.1"), vnis=[attrs.evolve(vni, vrf="v")], vrfs=[vrf])
    routes = local_routes(cfg)
    assert [r.route_type for r, _, _ in routes] == [3, 2]
    assert routes[1][0] == MacIpRoute(rd="65001:300", mac="02:00:00:00:03:01", label1=300)  # MAC only: no label2
