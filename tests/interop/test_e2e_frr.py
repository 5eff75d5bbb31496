"""End to end: our speaker programs a Linux VTEP through the netlink sink, FRR (zebra + bgpd) the
other, and hosts in namespaces talk across VXLAN.

Topology (namespaces only; underlay 198.18.0.0/16, hosts 198.19.0.0/16)::

    h1 198.19.100.11 ─ hp1 ┐                                  ┌ hp2 ─ h2 198.19.100.12
                    br100 (SVI .1) ─ vxlan100 ══ VNI 100 ══ vxlan100 ─ br100 (SVI .2)
                    br5000 (RMAC_US) ─ vxlan5000 ══ L3 VNI 5000 ══ vxlan5000 ─ br5000 (RMAC_FRR)
                                                              br200 (SVI 198.19.200.1) ─ vxlan200 (VNI 200)
                                                                  └ hp3 ─ h3 198.19.200.13
    VTEP-1 evv1-* 198.18.0.1, AS 65001: our speaker        VTEP-2 evv2-* 198.18.0.2, AS 65002: FRR
    (speaker_driver.py, [dataplane] sink = "netlink",      (advertise-all-vni, advertise ipv4 unicast,
     learning on: nothing static about h1)                  zebra `vni 5000`: L3 VNI in the main table)

Every VXLAN port has ``neigh_suppress on learning off`` and every VXLAN device ``nolearning``, so
remote MACs, the flood lists, ARP suppression entries and the symmetric-IRB routes on both VTEPs
can only come from EVPN routes.  VNI 200 exists on VTEP-2 only: h1 reaches h3 only by routing
through the L3 VNI (symmetric IRB, RFC 9135), which is what makes test 5 meaningful.  The two SVIs
of 198.19.100.0/24 have different addresses (no anycast gateway), and each host's default route is
its own VTEP's SVI.

FRR redistributes only 198.19.200.0/24 as a type-5 route, until the last test adds 198.19.100.0/24,
which is also VTEP-1's connected subnet (:func:`test_type5_for_a_local_subnet_keeps_the_connected_route`).

The tests share one topology (a module fixture, about 10 s to build; the whole module takes about
20 s) and run in order: each leaves it as the next one expects (test 4 moves h2 to VTEP-1 for good,
test 6 replaces h3 with h4).  Failures carry FRR's JSON, both kernels' FDB, neighbours and routes,
the speaker's stderr and the daemons' log tails.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from interop.lab import (
    Capture,
    Frr,
    Lab,
    Namespace,
    Speaker,
    find_routes,
    frr_bgpd_conf,
    is_event,
    wait_for,
)

pytestmark = pytest.mark.interop

DRIVER = Path(__file__).parent / "speaker_driver.py"  # the netlink sink is ours: no EVPN_INTEROP_DRIVER here

US, FRR = "198.18.0.1", "198.18.0.2"  # VTEP-1 (our speaker) and VTEP-2 (FRR)
US_AS, FRR_AS = 65001, 65002
L2VNI, L3VNI, FRR_ONLY_VNI = 100, 5000, 200
RMAC_US, RMAC_FRR = "02:aa:00:00:50:01", "02:bb:00:00:50:02"  # the br5000 MACs: each VTEP's Router's MAC
ZERO_MAC = "00:00:00:00:00:00"
VRF = "tenant"

SVI_US, SVI_FRR, SVI_FRR_200 = "198.19.100.1", "198.19.100.2", "198.19.200.1"
SVI_MAC_US, SVI_MAC_FRR = "02:aa:00:00:01:00", "02:bb:00:00:01:00"  # the br100 MACs, never advertised
H1_MAC, H1_IP = "02:00:00:00:01:11", "198.19.100.11"  # behind VTEP-1
H2_MAC, H2_IP = "02:00:00:00:01:12", "198.19.100.12"  # behind VTEP-2, moves to VTEP-1 in test 4
H3_MAC, H3_IP = "02:00:00:00:02:13", "198.19.200.13"  # behind VTEP-2 in VNI 200, leaves in test 6
H4_MAC, H4_IP = "02:00:00:00:01:14", "198.19.100.14"  # joins VTEP-2 while our speaker is dead (test 6)
UNUSED_IP = "198.19.100.99"  # nobody has it: an ARP for it must be flooded

OUR_RD = f"{US}:1"  # the automatic RD of our [[vnis]] table
SESSION_UP = 20  # seconds
SETTLE = 15  # seconds for a change to go through bgpd/zebra or our speaker into the other kernel


# --- the topology ----------------------------------------------------------------------------------


def _require(missing: list[str]) -> None:
    if not missing:
        return
    reason = "end-to-end prerequisites missing: " + "; ".join(missing)
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason + " (CI=true: the interop tests must run)")
    pytest.skip(reason)


class E2eNet:
    """The namespaces, FRR and our speaker (see the module docstring), and what the tests read."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.v1, self.v2 = lab.namespace("evv1"), lab.namespace("evv2")
        self.h1, self.h2, self.h3 = lab.namespace("evh1"), lab.namespace("evh2"), lab.namespace("evh3")
        self.frr: Frr
        self.speaker: Speaker
        for vtep in (self.v1, self.v2):
            vtep.sysctl("net.ipv6.conf.all.disable_ipv6", "1")  # no ND/MLD noise on the bridges
            vtep.sysctl("net.ipv6.conf.default.disable_ipv6", "1")
            vtep.sysctl("net.ipv4.ip_forward", "1")  # symmetric IRB routes between the SVIs
        self.v1.veth_to(self.v2, ("eth0", f"{US}/24"), ("eth0", f"{FRR}/24"))
        self.v1.add_evpn_vni(L2VNI, US, bridge_mac=SVI_MAC_US, svi=f"{SVI_US}/24")
        self.v1.add_evpn_vni(L3VNI, US, bridge_mac=RMAC_US)
        self.v2.add_evpn_vni(L2VNI, FRR, bridge_mac=SVI_MAC_FRR, svi=f"{SVI_FRR}/24")
        self.v2.add_evpn_vni(FRR_ONLY_VNI, FRR, bridge_mac="02:bb:00:00:02:00", svi=f"{SVI_FRR_200}/24")
        self.v2.add_evpn_vni(L3VNI, FRR, bridge_mac=RMAC_FRR)
        # The ARP table is shared by every namespace of the machine: past gc_thresh1 entries in all,
        # the kernel drops STALE neighbours after gc_stale_time (60 s), and with them the MAC+IP
        # routes of the hosts.  The tests must not depend on what else runs here.
        for vtep, svis in ((self.v1, ("br100",)), (self.v2, ("br100", "br200"))):
            for svi in svis:
                vtep.sysctl(f"net.ipv4.neigh.{svi}.gc_stale_time", "3600")
        self.add_host(self.v1, self.h1, "br100", "hp1", H1_MAC, H1_IP, SVI_US)
        self.add_host(self.v2, self.h2, "br100", "hp2", H2_MAC, H2_IP, SVI_FRR)
        self.add_host(self.v2, self.h3, "br200", "hp3", H3_MAC, H3_IP, SVI_FRR_200)

    @staticmethod
    def add_host(vtep: Namespace, host: Namespace, bridge: str, port: str, mac: str, ip: str, gateway: str) -> None:
        """``host`` on ``bridge`` of ``vtep``, default route via ``gateway``; no static FDB entry:
        the bridge learns the MAC from the host's traffic (:meth:`greet`)."""
        vtep.add_bridge_host(bridge, host, port=port, mac=mac, address=f"{ip}/24", static_fdb=False)
        host.ip("route", "add", "default", "via", gateway)

    @staticmethod
    def greet(host: Namespace, gateway: str) -> None:
        """``host`` pings its gateway: its VTEP's bridge learns its MAC and the SVI its IP
        (what zebra and our speaker advertise as type-2 MAC and MAC+IP routes)."""
        wait_for(lambda: host.ping(gateway), SETTLE, what=f"{host.name} to ping its gateway {gateway}")

    def start_frr(self) -> Frr:
        conf = frr_bgpd_conf(
            asn=FRR_AS,
            router_id=FRR,
            neighbors=[{"address": US, "asn": US_AS}],
            extra_evpn=f"""
                advertise ipv4 unicast
                route-target import {US_AS}:{L3VNI}
                route-target export {US_AS}:{L3VNI}
                vni {L2VNI}
                 rd {FRR}:{L2VNI}
                 route-target import {US_AS}:{L2VNI}
                 route-target export {US_AS}:{L2VNI}
                exit-vni
            """,
            extra_bgp="""
                address-family ipv4 unicast
                 redistribute connected route-map TENANT
                exit-address-family
            """,
            trailer="""
                ip prefix-list TENANT seq 5 permit 198.19.200.0/24
                route-map TENANT permit 10
                 match ip address prefix-list TENANT
            """,
        )
        self.frr = self.lab.frr(self.v2, conf, zebra_conf=f"vni {L3VNI}")
        return self.frr

    def start_speaker(self) -> Speaker:
        """Our speaker on VTEP-1: VNI 100 bound to the VRF of L3 VNI 5000 in the main table, the
        netlink sink with learning (the default), and nothing static about the hosts."""
        self.speaker = self.lab.driver(
            self.v1,
            DRIVER,
            {"asn": US_AS, "router_id": US, "listen": "none", "hold_time": 9, "connect_retry": 1},
            [{"address": FRR, "asn": FRR_AS, "families": ["l2vpn-evpn"]}],
            vnis=[{"vni": L2VNI, "vtep": US, "vrf": VRF}],
            vrfs=[{"name": VRF, "l3vni": L3VNI, "router_mac": RMAC_US, "table": 254}],
            dataplane={"sink": "netlink"},
        )
        self.speaker.wait_event(is_event("peer_up", peer=FRR), SESSION_UP, what="the session with FRR")
        return self.speaker

    # --- what FRR and the kernels hold --------------------------------------------------------------

    def frr_routes(self) -> list[dict[str, Any]]:
        return self.frr.evpn_routes()

    def our_routes_in_frr(self, **fields: Any) -> list[dict[str, Any]]:
        """Our routes as FRR received them (valid ones only)."""
        return find_routes(self.frr_routes(), rd=OUR_RD, peer=US, valid=True, **fields)

    def frr_mac(self, mac: str) -> dict[str, Any]:
        data = self.frr.vtysh_json(f"show evpn mac vni {L2VNI} mac {mac} json")
        return data.get(mac, {}) if isinstance(data, dict) else {}

    @contextlib.contextmanager
    def explained(self) -> Iterator[None]:
        """An AssertionError inside gets FRR's EVPN state, both kernels' state and the speaker's
        stderr appended (the lab's log tails too)."""
        try:
            yield
        except AssertionError as exc:
            parts = [str(exc)]
            for command in (
                "show bgp l2vpn evpn route json",
                "show evpn mac vni all json",
                "show evpn arp-cache vni all json",
                "show evpn vni detail json",
            ):
                try:
                    text = json.dumps(self.lab.frrs[0].vtysh_json(command), separators=(",", ":"))
                except Exception as why:  # keep the original failure
                    text = f"<{type(why).__name__}: {why}>"
                parts.append(f"--- FRR: {command}\n{text[:8000]}")
            for vtep in (self.v1, self.v2):
                with contextlib.suppress(Exception):
                    parts.append(vtep.kernel_state())
            parts.append(self.lab.diagnostics())
            raise AssertionError("\n".join(parts)) from exc


@pytest.fixture(scope="module")
def net(require_frr: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2eNet]:
    missing = [] if importlib.util.find_spec("pyroute2") else ["pyroute2 (pip install evpn[netlink])"]
    missing += [f"{tool} (apt-get install {tool})" for tool in ("tcpdump", "ping", "bridge") if not shutil.which(tool)]
    _require(missing)
    lab = Lab(tmp_path_factory.mktemp("e2e"))
    try:
        net = E2eNet(lab)
        net.start_frr()
        with net.explained():
            net.greet(net.h2, SVI_FRR)  # zebra: h2's MAC and MAC+IP
            net.greet(net.h3, SVI_FRR_200)
            net.start_speaker()
            net.greet(net.h1, SVI_US)  # learned while the speaker runs: the notifications path
            wait_for(
                lambda: net.our_routes_in_frr(mac=H1_MAC, ip=H1_IP),
                SETTLE,
                what="our speaker to learn h1 and FRR to receive its MAC+IP route",
            )
        yield net
    finally:
        lab.close()


# --- reading the kernels ---------------------------------------------------------------------------


def flood_list(vtep: Namespace, dev: str = "vxlan100") -> set[str]:
    """The VTEPs of ``dev``'s all-zero FDB entries: where BUM traffic goes (type-3 routes)."""
    return {e["dst"] for e in vtep.fdb(dev) if e["mac"] == ZERO_MAC and "dst" in e}


def fdb_where(vtep: Namespace, mac: str, dev: str = "br100") -> list[dict[str, Any]]:
    """Every FDB entry for ``mac`` in the bridge ``dev`` and on its ports (``bridge fdb show br``)."""
    return [e for e in vtep.json("bridge", "-j", "fdb", "show", "br", dev) if e["mac"] == mac]


def neighbor(vtep: Namespace, dev: str, ip: str) -> dict[str, Any]:
    found = [n for n in vtep.neighbors(dev) if n.get("dst") == ip]
    return found[0] if found else {}


def is_ours(entry: dict[str, Any]) -> bool:
    """An ``ip -j neigh`` entry installed by a control plane with protocol 235 (``evpn``)."""
    return "extern_learn" in entry and entry.get("protocol") == "235" and entry.get("state") == ["NOARP"]


def owned_state(vtep: Namespace) -> set[tuple[str, ...]]:
    """Every kernel entry on VTEP-1 that a control plane installed: ``extern_learn`` FDB entries of
    the VXLAN devices (and their bridge ports), ``extern_learn`` neighbours with protocol 235 on the
    bridges, routes with protocol 235 in the main table (zebra does not run there: they are ours)."""
    state: set[tuple[str, ...]] = set()
    for dev in ("vxlan100", "vxlan5000"):
        for e in vtep.fdb(dev):
            if "extern_learn" in e.get("flags", []):
                state.add(("fdb", dev, e["mac"], e.get("dst") or f"master {e.get('master')}"))
    for dev in ("br100", "br5000"):
        for n in vtep.neighbors(dev):
            if "extern_learn" in n:
                assert is_ours(n), f"an extern_learn neighbour that is not ours: {n}"
                state.add(("neigh", dev, n["dst"], n.get("lladdr", "")))
    for r in vtep.routes("table", "main", "proto", "235"):
        hops = [r] if "gateway" in r else r.get("nexthops", [])
        gateways = ",".join(sorted(f"{h.get('gateway')} dev {h.get('dev')}" for h in hops))
        onlink = all("onlink" in h.get("flags", []) for h in hops)
        dst = r["dst"] if "/" in r["dst"] else f"{r['dst']}/32"
        state.add(("route", dst, gateways, "onlink" if onlink else "NOT onlink"))
    return state


def expected_state(routes: list[dict[str, Any]]) -> set[tuple[str, ...]]:
    """What VTEP-1's kernel should hold for FRR's own routes (``docs/dataplane.md``): per type-3 of
    VNI 100 a flood entry; per type-2 of VNI 100 the MAC on vxlan100 (and its bridge port) at FRR's
    VTEP, and with an IP the ARP suppression neighbour on br100; per type-2 with label2 5000 a host
    route and per type-5 a prefix route through FRR's VTEP on br5000, on-link; with any of those,
    FRR's Router's MAC on vxlan5000 and FRR's VTEP → that MAC on br5000."""
    state: set[tuple[str, ...]] = set()
    l3 = False
    for r in routes:
        if not (r["local"] and r["valid"]):
            continue
        if r["route_type"] == 3 and r["vni"] == L2VNI:
            state.add(("fdb", "vxlan100", ZERO_MAC, FRR))
        elif r["route_type"] == 2 and r["vni"] == L2VNI:
            state |= {("fdb", "vxlan100", r["mac"], FRR), ("fdb", "vxlan100", r["mac"], "master br100")}
            if r["ip"]:
                state.add(("neigh", "br100", r["ip"], r["mac"]))
        if r["route_type"] == 2 and r["l3vni"] == L3VNI and r["ip"]:
            state.add(("route", f"{r['ip']}/32", f"{FRR} dev br5000", "onlink"))
            l3 = True
        elif r["route_type"] == 5 and r["vni"] == L3VNI:
            prefix = re.fullmatch(r"\[5\]:\[\d+\]:\[(\d+)\]:\[([\d.]+)\]", r["prefix"])
            assert prefix, f"unexpected type-5 prefix {r['prefix']!r}"
            state.add(("route", f"{prefix.group(2)}/{prefix.group(1)}", f"{FRR} dev br5000", "onlink"))
            l3 = True
    if l3:
        state |= {
            ("fdb", "vxlan5000", RMAC_FRR, FRR),
            ("fdb", "vxlan5000", RMAC_FRR, "master br5000"),
            ("neigh", "br5000", FRR, RMAC_FRR),
        }
    return state


def mobility(route: dict[str, Any]) -> int:
    """The MAC Mobility sequence number FRR shows for a route (``MM:N``; none means 0)."""
    found = [int(m.group(1)) for c in route["communities"] if (m := re.fullmatch(r"MM:(\d+),?", c))]
    return found[0] if found else 0


def vxlan_icmp(packets: list[dict[str, Any]], src: str, dst: str, icmp_type: int = 8) -> list[dict[str, Any]]:
    return [p for p in packets if (p.get("ip_src"), p.get("ip_dst"), p.get("icmp_type")) == (src, dst, icmp_type)]


# --- the tests -------------------------------------------------------------------------------------


def test_1_hosts_ping_across_vxlan_with_control_plane_macs_only(net: E2eNet) -> None:
    """h1 (VTEP-1, learned by our speaker) and h2 (VTEP-2, learned by zebra) ping each other both
    ways, and every remote MAC on either VTEP came from EVPN: each FDB entry on vxlan100 with a
    destination is ``extern_learn`` (ours on VTEP-1, zebra's on VTEP-2; zebra's flood entries are
    plain ``permanent``), no MAC was learned from the tunnel (not even the SVIs' MACs, which nobody
    advertises, from ARP requests each VTEP floods to the other), and each host's MAC is where the
    other VTEP's type-2 route says."""
    with net.explained():
        wait_for(lambda: net.h1.ping(H2_IP), SETTLE, what="h1 to ping h2")
        wait_for(lambda: net.h2.ping(H1_IP), SETTLE, what="h2 to ping h1")
        for vtep in (net.v1, net.v2):  # an ARP broadcast from each SVI's MAC crosses the tunnel
            assert not vtep.ping(UNUSED_IP, wait=0.3)
        for vtep, other_svi in ((net.v1, SVI_MAC_FRR), (net.v2, SVI_MAC_US)):
            assert not fdb_where(vtep, other_svi), f"{vtep.name} learned the other SVI's MAC from the tunnel"

        # Our speaker learned h1 from the bridge and the SVI and advertised it (no static MAC anywhere).
        [mac_only] = net.our_routes_in_frr(mac=H1_MAC, ip=None)
        [mac_ip] = net.our_routes_in_frr(mac=H1_MAC, ip=H1_IP)
        assert (mac_only["vni"], mac_only["next_hop"]) == (L2VNI, US), mac_only
        assert (mac_ip["vni"], mac_ip["l3vni"]) == (L2VNI, L3VNI), f"MAC+IP with label2 {L3VNI}: {mac_ip}"
        assert {f"RT:{US_AS}:{L3VNI}", f"Rmac:{RMAC_US}"} <= mac_ip["communities"], mac_ip

        for vtep, own_port, here, there, peer_vtep in (
            (net.v1, "hp1", H1_MAC, H2_MAC, FRR),
            (net.v2, "hp2", H2_MAC, H1_MAC, US),
        ):
            own = {e["mac"] for e in vtep.fdb("vxlan100") if e.get("state") == "permanent" and "dst" not in e}
            for e in vtep.fdb("vxlan100"):
                context = f"{vtep.name} vxlan100: {e}; all: {vtep.fdb('vxlan100')}"
                if "dst" in e:
                    if vtep is net.v2 and e["mac"] == ZERO_MAC:
                        continue  # zebra's flood entries: "self permanent"
                    assert "extern_learn" in e["flags"], f"an entry with a destination not from EVPN: {context}"
                else:  # an entry of the bridge on the VXLAN port: learned from the tunnel unless extern_learn
                    assert "extern_learn" in e["flags"] or e["mac"] in own, f"data-plane learning: {context}"
            remote = fdb_where(vtep, there)
            assert {(e.get("dst"), "extern_learn" in e["flags"]) for e in remote} == {
                (peer_vtep, True),
                (None, True),
            }, f"{vtep.name}: {there} should be behind {peer_vtep}, from EVPN: {remote}"
            local = fdb_where(vtep, here)
            assert [(e.get("ifname"), e["flags"]) for e in local] == [(own_port, [])], (
                f"{vtep.name}: {here} should be learned on {own_port}: {local}"
            )


def test_2_flood_list_follows_frr_type3(net: E2eNet) -> None:
    """VTEP discovery (RFC 7432 §11): VTEP-1's flood list of VNI 100 is exactly FRR's VTEP while FRR
    advertises its type-3 route, and empty once FRR withdraws it (VTEP-2's vxlan100 down); FRR's
    zebra floods to us from our type-3.  When vxlan100 is up again all comes back."""
    with net.explained():
        assert wait_for(lambda s: s == {FRR}, SETTLE, probe=lambda: flood_list(net.v1), what="flood list {FRR}")
        vni = net.frr.vtysh_json(f"show evpn vni {L2VNI} json")
        assert vni.get("numRemoteVteps") == [US] or [v.get("ip") for v in vni.get("remoteVteps", [])] == [US], (
            f"zebra should flood VNI {L2VNI} to us from our type-3: {vni}"
        )

        mark = net.speaker.mark()
        net.v2.ip("link", "set", "vxlan100", "down")
        try:
            wait_for(
                lambda: not find_routes(net.frr_routes(), route_type=3, rd=f"{FRR}:{L2VNI}"),
                SETTLE,
                what="FRR to withdraw its type-3 of VNI 100",
            )
            wait_for(lambda s: s == set(), SETTLE, probe=lambda: flood_list(net.v1), what="an empty flood list")
            net.speaker.wait_event(
                lambda e: e.get("event") == "flood" and e.get("vtep") == FRR and e.get("new") is None,
                SETTLE,
                since=mark,
                what="the flood change",
            )
        finally:
            net.v2.ip("link", "set", "vxlan100", "up")
        wait_for(lambda s: s == {FRR}, SETTLE, probe=lambda: flood_list(net.v1), what="FRR's VTEP back")
        wait_for(  # zebra re-reads h2's MAC and neighbour: test 3 needs them
            lambda: is_ours(neighbor(net.v1, "br100", H2_IP)) and neighbor(net.v1, "br100", H2_IP)["lladdr"] == H2_MAC,
            SETTLE,
            what="h2's MAC+IP back on VTEP-1",
        )


def test_3_arp_suppression_answers_h1_locally(net: E2eNet, tmp_path: Path) -> None:
    """FRR's MAC+IP route for h2 (zebra learned it on VTEP-2's SVI) becomes an ``extern_learn``
    NOARP neighbour on VTEP-1's br100; with ``neigh_suppress`` VTEP-1's bridge answers h1's ARP
    request for h2 itself: the underlay carries h1's ping to h2 but no ARP request for h2's IP,
    while an ARP request for an address nobody advertised (the control) is flooded to FRR's VTEP."""
    with net.explained():
        entry = wait_for(is_ours, SETTLE, probe=lambda: neighbor(net.v1, "br100", H2_IP), what="h2's neighbour")
        assert entry["lladdr"] == H2_MAC, entry

        net.h1.ip("neigh", "flush", "all")
        with Capture(net.v1, "eth0", tmp_path / "arp.pcap") as capture:
            assert net.h1.ping(H2_IP), f"h1 cannot ping h2; h1's neighbours: {net.h1.neighbors('eth0')}"
            assert not net.h1.ping(UNUSED_IP, wait=0.5)
        packets = capture.vxlan()
        assert neighbor(net.h1, "eth0", H2_IP).get("lladdr") == H2_MAC, net.h1.neighbors("eth0")
        arps = [p for p in packets if p.get("arp_op") == 1]
        context = f"captured on VTEP-1's underlay: {packets}"
        assert vxlan_icmp(packets, H1_IP, H2_IP), f"the capture missed h1's ping to h2; {context}"
        assert [p for p in arps if p["arp_target"] == UNUSED_IP and p["outer_dst"] == FRR and p["vni"] == L2VNI], (
            f"the control: an ARP request for {UNUSED_IP} must be flooded to FRR; {context}"
        )
        assert not [p for p in arps if p["arp_target"] == H2_IP], f"ARP for h2 went over VXLAN; {context}"


def test_4_mac_moves_from_frr_to_us(net: E2eNet) -> None:
    """h2 moves from VTEP-2 to VTEP-1 (RFC 7432 §15.1): the old h2 falls silent (its address is
    flushed; VTEP-2 keeps its MAC, so FRR keeps advertising it with sequence s), a new host with
    h2's MAC and IP appears on VTEP-1's br100 and pings VTEP-1's SVI.  Our speaker learns the MAC and
    advertises it with MM s+1; zebra takes it as remote behind VTEP-1 and FRR withdraws its own routes;
    VTEP-1 has the MAC on the new port only, VTEP-2 behind 198.18.0.1; h1 (bridged) and h3 (routed
    through the L3 VNI) reach h2 at its new place."""
    with net.explained():
        [theirs] = find_routes(net.frr_routes(), route_type=2, mac=H2_MAC, ip=None, local=True)
        s = mobility(theirs)
        zebra = net.frr_mac(H2_MAC)
        assert (zebra.get("type"), zebra.get("localSequence")) == ("local", s), zebra

        net.h2.ip("addr", "flush", "dev", "eth0")  # the old h2 sends and answers nothing any more
        h2_new = net.lab.namespace("evh2new")
        net.add_host(net.v1, h2_new, "br100", "hp2new", H2_MAC, H2_IP, SVI_US)
        net.greet(h2_new, SVI_US)

        def moved(routes: list[dict[str, Any]]) -> bool:
            ours = find_routes(routes, rd=OUR_RD, peer=US, valid=True, route_type=2, mac=H2_MAC, ip=None)
            return bool(ours) and not find_routes(routes, route_type=2, mac=H2_MAC, local=True)

        routes = wait_for(moved, SETTLE, probe=net.frr_routes, what="our route for h2's MAC, FRR's withdrawn")
        [ours] = find_routes(routes, rd=OUR_RD, route_type=2, mac=H2_MAC, ip=None)
        assert mobility(ours) == s + 1, f"our route should carry MM:{s + 1}: {ours}"
        zebra = wait_for(lambda m: m.get("type") == "remote", SETTLE, probe=lambda: net.frr_mac(H2_MAC), what="zebra")
        assert (zebra.get("remoteVtep"), zebra.get("remoteSequence")) == (US, s + 1), zebra

        # VTEP-2's kernel: the MAC behind VTEP-1 (zebra's extern_learn entries), not on hp2 any more.
        there = wait_for(
            lambda es: {(e.get("ifname"), e.get("dst")) for e in es} == {("vxlan100", US), ("vxlan100", None)},
            SETTLE,
            probe=lambda: fdb_where(net.v2, H2_MAC),
            what="VTEP-2's FDB to send h2's MAC to VTEP-1",
        )
        assert all("extern_learn" in e["flags"] for e in there), there
        # VTEP-1's kernel: local on the new port, our remote entries and ARP suppression entry gone.
        wait_for(
            lambda es: [(e.get("ifname"), e["flags"]) for e in es] == [("hp2new", [])],
            SETTLE,
            probe=lambda: fdb_where(net.v1, H2_MAC),
            what="VTEP-1's FDB to have h2's MAC on hp2new only",
        )
        wait_for(
            lambda n: not is_ours(n),
            SETTLE,
            probe=lambda: neighbor(net.v1, "br100", H2_IP),
            what="FRR's MAC+IP neighbour for h2 to leave VTEP-1",
        )
        net.v2.ip("link", "del", "hp2")  # the old h2 is gone for good

        wait_for(lambda: net.h1.ping(H2_IP), SETTLE, what="h1 to ping h2 at VTEP-1")
        wait_for(lambda: net.h3.ping(H2_IP), SETTLE, what="h3 to ping h2 at VTEP-1 (routed)")
        ours_ip = net.our_routes_in_frr(mac=H2_MAC, ip=H2_IP)
        assert ours_ip, "our speaker should advertise h2's MAC+IP from VTEP-1's SVI neighbour"


def test_4b_moved_mac_ip_route_carries_the_mac_sequence(net: E2eNet) -> None:
    """After the move of test 4, our MAC+IP route for h2 must carry the MAC's sequence number, as
    FRR's do (one sequence per MAC, RFC 7432 §15.1): FRR's zebra ignores a MAC+IP route whose
    sequence is below the MAC's ("rem-macip ignore ... as existing has higher seq"), so VTEP-2
    never gets h2's ARP suppression entry from us."""
    with net.explained():
        [mac_ip] = wait_for(lambda: net.our_routes_in_frr(mac=H2_MAC, ip=H2_IP), SETTLE, what="our MAC+IP route for h2")
        [mac_only] = net.our_routes_in_frr(mac=H2_MAC, ip=None)
        assert mobility(mac_ip) == mobility(mac_only), f"MAC+IP {mac_ip}; MAC {mac_only}"
        arp = net.frr.vtysh_json(f"show evpn arp-cache vni {L2VNI} ip {H2_IP} json")
        assert (arp.get("type"), arp.get("remoteVtep")) == ("remote", US), f"zebra's entry for h2's IP: {arp}"


def test_5_symmetric_irb_through_the_l3_vni(net: E2eNet, tmp_path: Path) -> None:
    """h1 (198.19.100.0/24, VTEP-1) and h3 (198.19.200.0/24, VNI 200 on VTEP-2 only) reach each other
    routed through L3 VNI 5000 (RFC 9135): on VTEP-1, FRR's type-5 for 198.19.200.0/24 and its
    MAC+IP host route for h3 are on-link routes through FRR's VTEP on br5000 in the main table, FRR's
    Router's MAC is on vxlan5000 and FRR's VTEP → Router's MAC on br5000; VTEP-2 got the same from
    our MAC+IP route for h1; the underlay carries the pings in VNI 5000 both ways."""
    with net.explained():
        want_routes = {
            ("route", "198.19.200.0/24", f"{FRR} dev br5000", "onlink"),
            ("route", f"{H3_IP}/32", f"{FRR} dev br5000", "onlink"),
        }
        state = wait_for(
            lambda st: want_routes <= st, SETTLE, probe=lambda: owned_state(net.v1), what="VTEP-1's IRB routes"
        )
        assert ("fdb", "vxlan5000", RMAC_FRR, FRR) in state, state
        assert ("neigh", "br5000", FRR, RMAC_FRR) in state, state
        local = {"198.19.100.0/24", f"{H1_IP}/32", f"{H2_IP}/32"}  # h2 moved here in test 4
        assert not [e for e in state if e[0] == "route" and e[1] in local], (
            f"no route of ours for VTEP-1's own subnet or hosts: {state}"
        )

        # VTEP-2 (zebra) from our MAC+IP route with label2 5000 and our Router's MAC.
        def frr_side() -> bool:
            routes = net.v2.routes(f"{H1_IP}/32")
            return bool(routes) and routes[0].get("gateway") == US and routes[0].get("dev") == "br5000"

        wait_for(frr_side, SETTLE, what=f"VTEP-2's host route to h1 via {US} dev br5000")
        assert [e for e in fdb_where(net.v2, RMAC_US, "br5000") if e.get("dst") == US], "our RMAC on VTEP-2"
        assert neighbor(net.v2, "br5000", US).get("lladdr") == RMAC_US, net.v2.neighbors("br5000")

        with Capture(net.v1, "eth0", tmp_path / "irb.pcap") as capture:
            wait_for(lambda: net.h1.ping(H3_IP), SETTLE, what="h1 to ping h3")
            wait_for(lambda: net.h3.ping(H1_IP), SETTLE, what="h3 to ping h1")
        packets = capture.vxlan()
        context = f"captured on VTEP-1's underlay: {packets}"
        for src, dst, outer in ((H1_IP, H3_IP, FRR), (H3_IP, H1_IP, US)):
            seen = vxlan_icmp(packets, src, dst)
            assert seen, f"no echo request {src} -> {dst} over VXLAN; {context}"
            assert {(p["vni"], p["outer_dst"]) for p in seen} == {(L3VNI, outer)}, f"{src} -> {dst}: {seen}"
        to_h3 = vxlan_icmp(packets, H1_IP, H3_IP)[0]
        assert (to_h3["inner_src"], to_h3["inner_dst"]) == (RMAC_US, RMAC_FRR), f"Router's MACs: {to_h3}"


def test_6_sigkill_and_restart_converge(net: E2eNet) -> None:
    """Our speaker dies by SIGKILL, leaving its kernel entries behind; meanwhile h3 leaves VTEP-2
    (FRR withdraws its MAC+IP route and so its host route) and h4 joins VTEP-2's VNI 100 (FRR
    advertises its MAC and MAC+IP).  Restarted, the speaker re-learns VTEP-1's hosts and reconciles:
    VTEP-1's control-plane entries are exactly what FRR's routes call for, h3's stale route gone,
    h4's entries there, and h1 reaches h4."""
    with net.explained():
        before = wait_for(
            lambda st: st == expected_state(net.frr_routes()),
            SETTLE,
            probe=lambda: owned_state(net.v1),
            what="VTEP-1's entries to match FRR's routes before the kill",
        )
        assert ("route", f"{H3_IP}/32", f"{FRR} dev br5000", "onlink") in before, before

        old = net.speaker
        assert old.proc is not None
        pid = old.proc.pid
        assert old.kill() == -signal.SIGKILL, f"speaker {pid}: {old.describe()}"

        # While it is dead: h3 leaves VTEP-2, h4 joins it.
        net.v2.ip("link", "del", "hp3")
        h4 = net.lab.namespace("evh4")
        net.add_host(net.v2, h4, "br100", "hp4", H4_MAC, H4_IP, SVI_FRR)
        net.greet(h4, SVI_FRR)

        def frr_changed(routes: list[dict[str, Any]]) -> bool:
            local = find_routes(routes, local=True, route_type=2)
            return not find_routes(local, mac=H3_MAC) and bool(find_routes(local, mac=H4_MAC, ip=H4_IP))

        wait_for(frr_changed, SETTLE, probe=net.frr_routes, what="FRR to withdraw h3 and advertise h4")
        stale = owned_state(net.v1)
        assert stale == before, f"nothing changes VTEP-1's kernel while the speaker is dead: {stale ^ before}"

        mark = len(net.lab.speakers)
        net.start_speaker()
        assert net.speaker is not old and len(net.lab.speakers) == mark + 1
        net.speaker.wait_event(is_event("end_of_rib", peer=FRR), SETTLE, what="FRR's End-of-RIB")
        after = wait_for(
            lambda st: st == expected_state(net.frr_routes()),
            SETTLE,
            probe=lambda: owned_state(net.v1),
            what="VTEP-1's entries to match FRR's routes after the restart",
        )
        assert ("route", f"{H3_IP}/32", f"{FRR} dev br5000", "onlink") not in after, after
        assert {("fdb", "vxlan100", H4_MAC, FRR), ("neigh", "br100", H4_IP, H4_MAC)} <= after, after
        assert ("route", f"{H4_IP}/32", f"{FRR} dev br5000", "onlink") in after, after

        # The restarted speaker learned VTEP-1's hosts again from the kernel's dump.
        wait_for(
            lambda: net.our_routes_in_frr(mac=H1_MAC, ip=H1_IP) and net.our_routes_in_frr(mac=H2_MAC, ip=None),
            SETTLE,
            what="our routes for h1 and the moved h2 again",
        )
        wait_for(lambda: net.h1.ping(H4_IP), SETTLE, what="h1 to ping h4")


def test_type5_for_a_local_subnet_keeps_the_connected_route(net: E2eNet) -> None:
    """FRR also redistributes 198.19.100.0/24, the subnet both VTEPs have on br100 (a stretched
    subnet): its type-5 route must not take VTEP-1's connected route, or VTEP-1 routes its own
    hosts to VTEP-2 (zebra installs BGP routes with metric 20 next to the connected one).
    Last in the module."""

    def connected() -> list[dict[str, Any]]:
        routes = net.v1.routes("198.19.100.0/24", "table", "main")
        return [r for r in routes if r.get("dev") == "br100" and r.get("protocol") == "kernel"]

    with net.explained():
        mark = net.speaker.mark()
        net.frr.vtysh("configure terminal", "ip prefix-list TENANT seq 10 permit 198.19.100.0/24")
        try:
            net.speaker.wait_event(  # FRR applies route-map changes after its 5 s delay timer
                lambda e: e.get("event") == "prefix" and e.get("prefix") == "198.19.100.0/24" and bool(e.get("new")),
                SETTLE + 5,
                since=mark,
                what="FRR's type-5 for 198.19.100.0/24 in our VRF",
            )
            ours = net.v1.routes("198.19.100.0/24", "proto", "235")
            assert ours and all(r.get("metric") == 20 for r in ours), f"our route for the subnet: {ours}"
            assert connected(), "VTEP-1's connected route is gone"
        finally:
            net.frr.vtysh("configure terminal", "no ip prefix-list TENANT seq 10 permit 198.19.100.0/24")
        wait_for(
            lambda: not net.v1.routes("198.19.100.0/24", "proto", "235"), SETTLE + 5, what="the type-5 route to go"
        )
        assert connected(), "VTEP-1's connected route went with ours"
