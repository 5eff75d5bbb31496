"""The lab itself works: FRR and GoBGP, each in its own namespace, exchange EVPN routes.

No code of ours is involved; if this fails, the interop tests of our speaker cannot be trusted.
"""

from __future__ import annotations

import pytest

from interop.lab import Lab, find_routes, frr_bgpd_conf, gobgp_toml, wait_for

pytestmark = pytest.mark.interop

FRR_IP, GOBGP_IP = "198.18.0.1", "198.18.0.2"
FRR_AS, GOBGP_AS = 65001, 65002
VNI = 100
FRR_HOST_MAC = "02:00:00:00:01:01"


def test_frr_and_gobgp_exchange_evpn_routes(lab: Lab, require_frr: None, require_gobgp: None) -> None:
    frr_ns, gobgp_ns = lab.namespace("evsmoke-frr"), lab.namespace("evsmoke-gobgp")
    frr_ns.veth_to(gobgp_ns, ("eth0", f"{FRR_IP}/24"), ("eth0", f"{GOBGP_IP}/24"))
    frr_ns.add_vxlan_bridge(VNI, FRR_IP, host_mac=FRR_HOST_MAC)

    frr = lab.frr(
        frr_ns,
        frr_bgpd_conf(
            asn=FRR_AS,
            router_id=FRR_IP,
            neighbors=[{"address": GOBGP_IP, "asn": GOBGP_AS}],
            extra_evpn=f"vni {VNI}\n rd {FRR_IP}:{VNI}\nexit-vni",
        ),
    )
    gobgp = lab.gobgp(
        gobgp_ns,
        gobgp_toml(asn=GOBGP_AS, router_id=GOBGP_IP, neighbors=[{"address": FRR_IP, "asn": FRR_AS}]),
    )
    wait_for(lambda s: s == "established", 20, probe=lambda: gobgp.neighbor_state(FRR_IP), what="GoBGP Established")
    assert frr.neighbor_state(GOBGP_IP) == "Established"

    # FRR -> GoBGP: the type-3 of VNI 100 (PMSI ingress replication, label = VNI) and the local MAC.
    rd = f"{FRR_IP}:{VNI}"
    routes = wait_for(
        lambda rs: find_routes(rs, route_type=3, rd=rd) and find_routes(rs, route_type=2, mac=FRR_HOST_MAC),
        20,
        probe=gobgp.evpn_routes,
        what="FRR's type-3 and type-2 in GoBGP's RIB",
    )
    [imet] = find_routes(routes, route_type=3, rd=rd)
    assert imet["originator_ip"] == FRR_IP
    assert imet["ethernet_tag"] == 0
    assert imet["next_hop"] == FRR_IP
    assert {f"RT:{FRR_AS}:{VNI}", "ET:8"} <= imet["communities"]
    assert imet["pmsi"]["tunnel-type"] == 6  # ingress replication
    assert imet["pmsi"]["label"] == VNI
    assert imet["pmsi"]["tunnel-id"] == FRR_IP
    [macadv] = find_routes(routes, route_type=2, mac=FRR_HOST_MAC)
    assert macadv["rd"] == rd
    assert macadv["labels"] == [VNI]
    assert macadv["ip"] is None

    # GoBGP -> FRR: a MAC+IP type-2 and a type-3 injected through the API.
    gobgp.add_evpn_macadv(
        mac="02:aa:00:00:00:01", ip="198.19.100.11", rd=f"{GOBGP_IP}:{VNI}", rt=f"{GOBGP_AS}:{VNI}", label=VNI
    )
    gobgp.add_evpn_multicast(ip=GOBGP_IP, rd=f"{GOBGP_IP}:{VNI}", rt=f"{GOBGP_AS}:{VNI}")
    routes = wait_for(
        lambda rs: len(find_routes(rs, peer=GOBGP_IP)) >= 2,
        20,
        probe=frr.evpn_routes,
        what="GoBGP's routes in FRR's table",
    )
    [mac_ip] = find_routes(routes, peer=GOBGP_IP, route_type=2)
    assert mac_ip["rd"] == f"{GOBGP_IP}:{VNI}"
    assert (mac_ip["mac"], mac_ip["ip"], mac_ip["vni"]) == ("02:aa:00:00:00:01", "198.19.100.11", VNI)
    assert mac_ip["next_hop"] == GOBGP_IP
    assert mac_ip["valid"]
    assert {f"RT:{GOBGP_AS}:{VNI}", "ET:8"} <= mac_ip["communities"]
    [remote_imet] = find_routes(routes, peer=GOBGP_IP, route_type=3)
    assert remote_imet["originator_ip"] == GOBGP_IP
