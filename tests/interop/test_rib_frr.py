"""The RIB behind our speaker against FRR: per-VNI state from FRR's routes, MAC mobility both ways,
and route reflection between two FRR clients.

Topologies (namespaces only, addresses from 198.18.0.0/15, see ``shared/notes/interop-lab.md``):

* :class:`VtepNet`: our speaker ``evspk-*`` at 198.18.0.1 (AS 65001) and FRR ``evfrr-*`` at 198.18.0.2
  (AS 65002, zebra + bgpd, ``advertise-all-vni``) on one veth; FRR's ``br100`` holds ``vxlan100``
  (VTEP 198.18.0.2) and the port ``hp100`` of a host in its own namespace ``evhost-*`` (MAC
  :data:`HOST_MAC`, 198.19.100.12).  FRR's VNI 100 imports and exports RT 65001:100, so it and our
  ``[[vnis]] vni = 100`` (automatic RT 65001:100) take each other's routes over eBGP.
* :class:`ReflectorNet`: our speaker as the route reflector of AS 65001 with two FRR clients, each on its
  own veth (198.18.1.0/24, 198.18.2.0/24) with its own VTEP and VNI 100 and routes to the other's subnet
  through our namespace; the FRRs peer only with us.

On failure the assertion messages carry FRR's JSON and the speaker's ``describe()``; the lab fixture
adds every log's tail.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from interop.lab import (
    PEER,
    PEER_AS,
    US,
    US_AS,
    VNI,
    Frr,
    Lab,
    Namespace,
    PeerNet,
    Speaker,
    find_routes,
    frr_bgpd_conf,
    is_event,
    wait_for,
)

pytestmark = pytest.mark.interop

FRR, FRR_AS = PEER, PEER_AS
HOST_MAC, HOST_IP = "02:00:00:00:02:01", "198.19.100.12"  # a host behind FRR's br100
SVI_IP = "198.19.100.1/24"  # FRR's br100 address: neighbours on it become MAC+IP routes
OUR_RD = f"{US}:1"  # the automatic RD of our first [[vnis]] table
SESSION_UP = 20  # seconds: FRR retries every second and advertises at once (datacenter defaults)
SETTLE = 15  # seconds for a route or a MAC move to go through bgpd, zebra and our speaker


def mobility(route: dict[str, Any]) -> int:
    """The MAC Mobility sequence number of an FRR route: FRR shows the community as ``MM:N``
    (``MM:N, sticky MAC`` for a sticky one) in ``extendedCommunity.string``; none means 0
    (RFC 7432 §7.7)."""
    found = [int(m.group(1)) for c in route["communities"] if (m := re.fullmatch(r"MM:(\d+),?", c))]
    return found[0] if found else 0


def is_change(kind: str, **fields: object) -> Any:
    """A predicate for a RIB delta event (``mac``, ``neighbor``, ``flood``) whose top-level fields
    equal ``fields`` and whose ``new``/``old`` entries, given as ``new=``/``old=`` dicts (or
    ``None``), have those items."""
    entries = {k: fields.pop(k) for k in ("new", "old") if k in fields}
    base = is_event(kind, **fields)

    def check(event: dict[str, Any]) -> bool:
        if not base(event):
            return False
        for key, want in entries.items():
            got = event.get(key)
            if want is None or got is None:
                if got is not want:
                    return False
            elif not all(got.get(k) == v for k, v in want.items()):
                return False
        return True

    return check


@contextlib.contextmanager
def explained(lab: Lab) -> Iterator[None]:
    """An AssertionError inside gets every FRR's EVPN state (bgpd's routes, zebra's MACs and VNI, as
    JSON) and every speaker's ``describe()`` appended."""
    try:
        yield
    except AssertionError as exc:
        parts = [str(exc)]
        for frr in lab.frrs:
            for command in ("show bgp l2vpn evpn route detail json", f"show evpn mac vni {VNI} json",
                            f"show evpn vni {VNI} json"):  # fmt: skip
                try:
                    text = frr.vtysh(command, timeout=5)
                except Exception as why:  # the daemon may be gone: say so, keep the original failure
                    text = f"<{type(why).__name__}: {why}>"
                parts.append(f"--- FRR {frr.name}: {command}:\n{text.strip()[:20000]}")
        parts += [f"--- speaker in {speaker.ns.name}: {speaker.describe()}" for speaker in lab.speakers]
        raise AssertionError("\n".join(parts)) from exc


# --- one FRR VTEP with a host in its own namespace -------------------------------------------------


class VtepNet(PeerNet):
    """Our namespace, FRR's and its host's (see the module docstring)."""

    def __init__(self, lab: Lab, driver: Path) -> None:
        super().__init__(lab, driver, "evfrr")
        self.host: Namespace = lab.namespace("evhost")

    def start_frr(self, *, neighbor_on_svi: bool = False) -> Frr:
        self.peer.add_vxlan_bridge(VNI, FRR)
        self.peer.add_bridge_host(f"br{VNI}", self.host, port=f"hp{VNI}", mac=HOST_MAC, address=f"{HOST_IP}/24")
        if neighbor_on_svi:  # zebra learns HOST_IP -> HOST_MAC on the SVI: FRR adds a MAC+IP route
            self.peer.ip("addr", "add", SVI_IP, "dev", f"br{VNI}")
            self.peer.ip("neigh", "replace", HOST_IP, "lladdr", HOST_MAC, "dev", f"br{VNI}", "nud", "reachable")
        extra = f"""
            vni {VNI}
             rd {FRR}:{VNI}
             route-target import {US_AS}:{VNI}
             route-target export {US_AS}:{VNI}
            exit-vni
        """
        conf = frr_bgpd_conf(asn=FRR_AS, router_id=FRR, neighbors=[{"address": US, "asn": US_AS}], extra_evpn=extra)
        return self.lab.frr(self.peer, conf)

    def start_our_vtep(self) -> Speaker:
        """Our speaker with ``[[vnis]] vni = 100`` (VTEP 198.18.0.1, automatic RD and RTs) and its
        command channel open."""
        return self.start_speaker(vnis=[{"vni": VNI, "vtep": US}], stdin=True)


@pytest.fixture
def vtep_net(lab: Lab, require_frr: None, driver: Path) -> VtepNet:
    return VtepNet(lab, driver)


def frr_mac(frr: Frr, mac: str) -> dict[str, Any]:
    """zebra's ``show evpn mac vni 100 mac MAC json`` entry: ``type`` local/remote, ``remoteVtep``,
    ``localSequence``, ``remoteSequence`` (``{}`` while zebra does not know the MAC)."""
    data = frr.vtysh_json(f"show evpn mac vni {VNI} mac {mac} json")
    return data.get(mac, {}) if isinstance(data, dict) else {}


def routes_for(frr: Frr, mac: str) -> list[dict[str, Any]]:
    """FRR's type-2 paths for ``mac`` (MAC-only and MAC+IP), in :func:`interop.lab.frr_routes` form."""
    return find_routes(frr.evpn_routes(), route_type=2, mac=mac)


def test_frr_macs_and_vteps_reach_our_vni(vtep_net: VtepNet) -> None:
    """FRR's type-3 puts its VTEP on our VNI 100 flood list, its host's type-2 puts the MAC there at
    FRR's VTEP, and its MAC+IP route adds a neighbour entry; our own routes, which FRR sends back
    with our AS in the path, are not imported."""
    with explained(vtep_net.lab):
        frr = vtep_net.start_frr(neighbor_on_svi=True)
        speaker = vtep_net.start_our_vtep()
        speaker.wait_event(is_event("peer_up", peer=FRR), SESSION_UP, what="peer_up")

        flood = speaker.wait_event(is_change("flood", vni=VNI, vtep=FRR), SETTLE, what="FRR's VTEP on our flood list")
        assert (flood["old"], flood["new"]) == (None, {"vni": VNI}), f"{flood}; {speaker.describe()}"

        mac = speaker.wait_event(
            is_change("mac", vni=VNI, mac=HOST_MAC, new={"vtep": FRR}), SETTLE, what="FRR's host MAC at FRR's VTEP"
        )
        assert mac["old"] is None, f"{mac}; {speaker.describe()}"
        assert mac["new"] == {"vtep": FRR, "vni": VNI, "sequence": 0, "sticky": False}, f"{mac}; {speaker.describe()}"

        neighbor = speaker.wait_event(
            is_change("neighbor", vni=VNI, ip=HOST_IP), SETTLE, what="the neighbour entry of FRR's MAC+IP route"
        )
        assert (neighbor["old"], neighbor["new"]) == (None, {"mac": HOST_MAC, "vtep": FRR}), (
            f"{neighbor}; {speaker.describe()}"
        )

        # FRR (eBGP) advertises our type-3 back to us with AS_PATH 65002 65001: once it has, our AS in
        # the path must have kept it out of VNI 100 (RFC 4271 §9.1.2), so our own VTEP never floods.
        wait_for(
            lambda table: US in table.get(OUR_RD, {}).get(f"[3]:[0]:[32]:[{US}]", {}).get("advertisedTo", {}),
            SESSION_UP,
            probe=lambda: frr.vtysh_json(f"show bgp l2vpn evpn route rd {OUR_RD} json"),
            what="FRR to send our type-3 back to us",
        )
        time.sleep(1)  # for our speaker to read it: a bug shows within that time, a pass does not depend on it

        def at_our_vtep(event: dict[str, Any]) -> bool:
            vtep = event.get("vtep") or (event.get("new") or {}).get("vtep")
            return event.get("event") in ("flood", "mac", "neighbor") and vtep == US

        looped = speaker.find_events(at_our_vtep)
        assert not looped, f"our own routes imported into our VNI: {looped}; {speaker.describe()}"


def test_mac_moves_from_frr_to_us_and_back(vtep_net: VtepNet) -> None:
    """The issue: "a MAC moved from FRR's side to ours shows sequence numbers increasing on both" (RFC 7432 §15):

    1. the host's MAC is local to FRR (sequence s, no MAC Mobility community: 0) and in our VNI at FRR's VTEP;
    2. we ``add_mac`` it: our route carries MM:s+1, FRR's zebra takes the MAC as remote behind our VTEP
       (remoteSequence s+1) and bgpd withdraws FRR's own route; our VNI drops the remote MAC;
    3. the host comes back behind FRR (FDB entry on its port again): zebra makes it local with sequence
       s+2, FRR advertises MM:s+2, our VNI has the MAC at FRR's VTEP with s+2, and we withdraw our route.
    """
    with explained(vtep_net.lab):
        frr = vtep_net.start_frr()
        speaker = vtep_net.start_our_vtep()
        speaker.wait_event(is_event("peer_up", peer=FRR), SESSION_UP, what="peer_up")

        # 1. local to FRR
        first = speaker.wait_event(
            is_change("mac", vni=VNI, mac=HOST_MAC, new={"vtep": FRR}), SETTLE, what="FRR's host MAC in our VNI"
        )
        s = first["new"]["sequence"]
        zebra = frr_mac(frr, HOST_MAC)
        assert zebra.get("type") == "local" and zebra.get("localSequence") == s, f"zebra: {zebra}; ours: {first}"

        # 2. the MAC moves to us
        mark = speaker.mark()
        speaker.command({"op": "add_mac", "vni": VNI, "mac": HOST_MAC})

        def moved_to_us(routes: list[dict[str, Any]]) -> bool:
            return bool(find_routes(routes, rd=OUR_RD, peer=US, valid=True)) and not find_routes(routes, local=True)

        routes = wait_for(
            moved_to_us,
            SETTLE,
            probe=lambda: routes_for(frr, HOST_MAC),
            what="our route for the MAC in FRR, and FRR's own withdrawn",
        )
        [ours] = find_routes(routes, rd=OUR_RD, peer=US)
        ours_seq = mobility(ours)
        context = f"FRR's routes: {routes}; zebra: {frr_mac(frr, HOST_MAC)}; {speaker.describe()}"
        assert ours_seq == s + 1, f"our route should carry MM:{s + 1} (RFC 7432 §15.1); {context}"
        assert (ours["next_hop"], ours["vni"], ours["ip"]) == (US, VNI, None), context
        zebra = wait_for(
            lambda m: m.get("type") == "remote",
            SETTLE,
            probe=lambda: frr_mac(frr, HOST_MAC),
            what="zebra to take the MAC as remote",
        )
        assert (zebra.get("remoteVtep"), zebra.get("remoteSequence")) == (US, ours_seq), f"zebra: {zebra}; {context}"
        gone = speaker.wait_event(
            is_change("mac", vni=VNI, mac=HOST_MAC, new=None), SETTLE, since=mark, what="the MAC to leave FRR's VTEP"
        )
        assert gone["old"] == {"vtep": FRR, "vni": VNI, "sequence": s, "sticky": False}, f"{gone}; {context}"

        # 3. the host is back behind FRR
        mark = speaker.mark()
        vtep_net.peer.fdb_learn(HOST_MAC, f"hp{VNI}")
        back = speaker.wait_event(
            is_change("mac", vni=VNI, mac=HOST_MAC, new={"vtep": FRR}),
            SETTLE,
            since=mark,
            what="the MAC back at FRR's VTEP",
        )
        routes = wait_for(
            lambda rs: find_routes(rs, local=True) and not find_routes(rs, rd=OUR_RD),
            SETTLE,
            probe=lambda: routes_for(frr, HOST_MAC),
            what="FRR's own route again, and ours withdrawn",
        )
        [theirs] = find_routes(routes, local=True)
        context = f"FRR's routes: {routes}; zebra: {frr_mac(frr, HOST_MAC)}; {speaker.describe()}"
        their_seq = mobility(theirs)
        assert their_seq == ours_seq + 1, f"FRR should advertise MM:{ours_seq + 1}; {context}"
        assert back["old"] is None, f"{back}; {context}"  # the MAC was ours (local) until then
        assert back["new"] == {"vtep": FRR, "vni": VNI, "sequence": their_seq, "sticky": False}, f"{back}; {context}"
        assert s < ours_seq < their_seq, context
        zebra = frr_mac(frr, HOST_MAC)
        assert (zebra.get("type"), zebra.get("localSequence")) == ("local", their_seq), context


# --- route reflection --------------------------------------------------------------------------------


RR_AS = US_AS
CLUSTER_ID = "198.18.255.1"  # not our router ID, so FRR's CLUSTER_LIST shows it came from the config


class ReflectorNet:
    """Our speaker (route reflector, AS 65001) and two FRR clients, each on its own veth:
    FRR-k at 198.18.k.2 (router ID and VTEP), we at 198.18.k.1."""

    def __init__(self, lab: Lab, driver: Path) -> None:
        self.lab, self.driver = lab, driver
        self.us = lab.namespace("evrr")
        self.us.sysctl("net.ipv4.ip_forward", "1")  # the underlay between the two VTEPs
        self.frr_ns: dict[int, Namespace] = {}
        for k in (1, 2):
            ns = self.frr_ns[k] = lab.namespace(f"evfrr{k}")
            self.us.veth_to(ns, (f"eth{k}", f"{self.our_address(k)}/24"), ("eth0", f"{self.address(k)}/24"))
            ns.ip("route", "add", "198.18.0.0/16", "via", self.our_address(k))  # the other VTEP via us

    @staticmethod
    def address(k: int) -> str:
        return f"198.18.{k}.2"

    @staticmethod
    def our_address(k: int) -> str:
        return f"198.18.{k}.1"

    @staticmethod
    def host_mac(k: int) -> str:
        return f"02:00:00:00:0{k}:01"

    def start_frr(self, k: int) -> Frr:
        ns = self.frr_ns[k]
        ns.add_vxlan_bridge(VNI, self.address(k), host_mac=self.host_mac(k))
        conf = frr_bgpd_conf(
            asn=RR_AS,
            router_id=self.address(k),
            neighbors=[{"address": self.our_address(k), "asn": RR_AS}],
            extra_evpn=f"vni {VNI}\n rd {self.address(k)}:{VNI}\nexit-vni",
        )
        return self.lab.frr(ns, conf)

    def start_reflector(self) -> Speaker:
        speaker = {
            "asn": RR_AS, "router_id": self.our_address(1), "cluster_id": CLUSTER_ID, "listen": "none",
            "hold_time": 9,
        }  # fmt: skip
        peers = [
            {"address": self.address(k), "asn": RR_AS, "route_reflector_client": True, "families": ["l2vpn-evpn"]}
            for k in (1, 2)
        ]
        return self.lab.driver(self.us, self.driver, speaker, peers)


def remote_vteps(vni: dict[str, Any]) -> list[str]:
    """The remote VTEPs of zebra's ``show evpn vni N json``: FRR 8.4 prints their list under
    ``numRemoteVteps`` (sic), later versions under ``remoteVteps`` (entries may be ``{"ip": ...}``)."""
    for key in ("remoteVteps", "numRemoteVteps"):
        value = vni.get(key)
        if isinstance(value, list):
            return [v if isinstance(v, str) else str(v.get("ip")) for v in value]
    return []


@pytest.fixture
def reflector_net(lab: Lab, require_frr: None, driver: Path) -> ReflectorNet:
    return ReflectorNet(lab, driver)


def test_route_reflection_between_frr_clients(reflector_net: ReflectorNet) -> None:
    """RFC 4456: each FRR client gets the other's type-3 and type-2 routes from us with the next hop
    unchanged (the other FRR's VTEP), ORIGINATOR_ID the other FRR's router ID and our cluster ID in
    the CLUSTER_LIST; zebra then has the other VTEP on VNI 100's flood list."""
    with explained(reflector_net.lab):
        net = reflector_net
        frrs = {k: net.start_frr(k) for k in (1, 2)}
        speaker = net.start_reflector()
        for k in (1, 2):
            speaker.wait_event(is_event("peer_up", peer=net.address(k)), SESSION_UP, what=f"peer_up from FRR-{k}")

        for k, other in ((1, 2), (2, 1)):
            frr, vtep = frrs[k], net.address(other)

            def reflected(routes: list[dict[str, Any]], vtep: str = vtep, other: int = other) -> bool:
                got = find_routes(routes, rd=f"{vtep}:{VNI}", valid=True)
                return bool(find_routes(got, route_type=3)) and bool(find_routes(got, mac=net.host_mac(other)))

            routes = wait_for(reflected, SETTLE, probe=frr.evpn_routes, what=f"FRR-{other}'s routes, valid, in FRR-{k}")
            got = find_routes(routes, rd=f"{vtep}:{VNI}")
            context = f"FRR-{k} has: {got}; {speaker.describe()}"
            [imet] = find_routes(got, route_type=3)
            [mac] = find_routes(got, route_type=2, mac=net.host_mac(other))
            for route in (imet, mac):
                assert route["peer"] == net.our_address(k), f"learned from us, the reflector; {context}"
                assert route["next_hop"] == vtep, f"next hop must stay FRR-{other}'s VTEP (RFC 4456 §10); {context}"
                assert route["originator_id"] == vtep, f"ORIGINATOR_ID must be FRR-{other}'s router ID; {context}"
                assert route["cluster_list"] == [CLUSTER_ID], f"CLUSTER_LIST must hold our cluster ID; {context}"
                assert f"RT:{RR_AS}:{VNI}" in route["communities"], context
            assert imet["originator_ip"] == vtep, context
            assert imet["pmsi"] == {"tunnelType": "Ingress Replication", "label": VNI}, context
            assert mac["vni"] == VNI, context

            vteps = wait_for(
                lambda found, vtep=vtep: vtep in found,
                SETTLE,
                probe=lambda frr=frr: remote_vteps(frr.vtysh_json(f"show evpn vni {VNI} json")),
                what=f"zebra of FRR-{k} to flood VNI {VNI} to FRR-{other}",
            )
            assert vteps == [vtep], f"zebra of FRR-{k}: remote VTEPs {vteps}; {context}"
