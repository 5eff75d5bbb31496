"""Our speaker (through ``speaker_driver.py``) against FRR's bgpd, over a veth between two namespaces.

Namespace ``evspk-*`` holds our speaker at 198.18.0.1 (AS 65001); ``evfrr-*`` holds FRR (zebra + bgpd)
at 198.18.0.2 (AS 65002) with ``timers bgp 3 9`` and ``timers connect 1``.  The driver contract is in ``conftest.py``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from interop.lab import (
    OUR_ROUTES,
    PEER,
    PEER_AS,
    US,
    US_AS,
    VNI,
    ZERO_ESI,
    Frr,
    Lab,
    PeerNet,
    Speaker,
    find_routes,
    frr_bgpd_conf,
    is_event,
    is_route_event,
    normalize_reason,
    wait_for,
)

pytestmark = pytest.mark.interop

FRR, FRR_AS = PEER, PEER_AS
FRR_HOST_MAC = "02:00:00:00:02:01"  # a host behind FRR's br100: FRR advertises it as a type-2
SESSION_UP = 20  # seconds: FRR retries every second, so this is generous


class Net(PeerNet):
    """The two namespaces, and how to start FRR in them."""

    def __init__(self, lab: Lab, driver: Path) -> None:
        super().__init__(lab, driver, "evfrr")

    def start_frr(
        self, *, passive: bool = False, password: str | None = None, remote_as: int = US_AS, vni: bool = False
    ) -> Frr:
        extra = ""
        if vni:  # VNI 100 with a local host: FRR originates a type-3 and a MAC-only type-2 for it
            self.peer.add_vxlan_bridge(VNI, FRR, host_mac=FRR_HOST_MAC)
            extra = f"vni {VNI}\n rd {FRR}:{VNI}\nexit-vni"
        neighbor = {"address": US, "asn": remote_as, "passive": passive, "password": password}
        conf = frr_bgpd_conf(asn=FRR_AS, router_id=FRR, neighbors=[neighbor], extra_evpn=extra)
        return self.lab.frr(self.peer, conf)


@pytest.fixture
def net(lab: Lab, require_frr: None, driver: Path) -> Net:
    return Net(lab, driver)


def wait_established(frr: Frr, timeout: float = SESSION_UP) -> dict[str, Any]:
    return wait_for(
        lambda n: n.get("bgpState") == "Established", timeout, probe=lambda: frr.neighbor(US), what="FRR Established"
    )


def frr_notifications(frr: Frr) -> list[str]:
    """bgpd's ``%NOTIFICATION: sent to / received from neighbor ...`` log lines, normalized.

    The log, not ``show bgp neighbors json``: FRR 8.4 fills ``lastNotificationReason`` only for
    sessions that got to Established, and a later connection attempt's reset overwrites it."""
    return [normalize_reason(line) for line in frr.log().splitlines() if "%NOTIFICATION" in line]


def assert_peer_up(speaker: Speaker, since: int = 0) -> dict[str, Any]:
    up = speaker.wait_event(is_event("peer_up", peer=FRR), SESSION_UP, since=since, what="peer_up")
    assert up["asn"] == FRR_AS
    assert "l2vpn-evpn" in up["families"]
    return up


# --- sessions --------------------------------------------------------------------------------------


def test_session_we_connect(net: Net) -> None:
    """FRR is passive, our speaker does not listen: the session is ours to open.  A SIGTERM then
    closes it with a Cease and exit status 0."""
    frr = net.start_frr(passive=True)
    speaker = net.start_speaker()
    assert_peer_up(speaker)
    neighbor = wait_established(frr)
    assert neighbor["portLocal"] == 179, "FRR should have accepted our connection"

    assert speaker.stop() == 0
    wait_for(
        lambda lines: any("received from neighbor" in line and "cease" in line for line in lines),
        10,
        probe=lambda: frr_notifications(frr),
        what="bgpd to log our Cease",
    )
    wait_for(lambda state: state != "Established", 10, probe=lambda: frr.neighbor_state(US), what="FRR down")


def test_session_they_connect(net: Net) -> None:
    """Our speaker is passive and listens on 198.18.0.1:179: FRR opens the session."""
    frr = net.start_frr()
    speaker = net.start_speaker(passive=True, listen=True)
    assert_peer_up(speaker)
    neighbor = wait_established(frr)
    assert neighbor["portForeign"] == 179, "FRR should have connected to our listener"


# --- routes ----------------------------------------------------------------------------------------


def test_our_routes_reach_frr(net: Net) -> None:
    frr = net.start_frr()
    speaker = net.start_speaker(routes=OUR_ROUTES)
    assert_peer_up(speaker)
    # "valid" once FRR's next-hop tracking has resolved 198.18.0.1 (a moment after the routes arrive)
    routes = wait_for(
        lambda rs: len(find_routes(rs, peer=US, valid=True)) >= 3,
        SESSION_UP,
        probe=frr.evpn_routes,
        what="our 3 routes, valid, in FRR",
    )
    ours = find_routes(routes, peer=US)
    assert len(ours) == 3, ours
    for r in ours:
        assert r["rd"] == f"{US}:{VNI}"
        assert r["ethernet_tag"] == 0
        assert r["next_hop"] == US
        assert r["valid"], r
        assert "ET:8" in r["communities"], r  # encapsulation VXLAN

    [mac_ip] = find_routes(ours, route_type=2, mac="02:aa:00:00:00:01")
    assert mac_ip["ip"] == "198.19.100.11"
    assert mac_ip["vni"] == VNI
    assert f"RT:{US_AS}:{VNI}" in mac_ip["communities"]
    [mac_only] = find_routes(ours, route_type=2, mac="02:aa:00:00:00:02")
    assert mac_only["ip"] is None
    assert mac_only["vni"] == VNI
    assert f"RT:{US_AS}:{VNI}" in mac_only["communities"]
    [imet] = find_routes(ours, route_type=3)
    assert imet["originator_ip"] == US
    assert imet["pmsi"] is not None and imet["pmsi"]["tunnelType"] == "Ingress Replication", imet
    assert any(c.startswith(f"RT:{US_AS}:") for c in imet["communities"]), imet


def test_configured_vni_routes_reach_frr(net: Net) -> None:
    """Local origination: a ``[[vnis]]`` table (auto RD and RTs, two MACs) and no ``--announce``.
    FRR shows the type-3 with RT 65001:100, encapsulation VXLAN and a PMSI tunnel (ingress
    replication, label 100), and the type-2 routes with label1 100 (RFC 8365 §5.1.3)."""
    frr = net.start_frr()
    vni = {
        "vni": VNI, "vtep": US, "rd": "auto", "import_targets": ["auto"], "export_targets": ["auto"],
        "macs": [{"mac": "02:aa:00:00:00:01", "ip": "198.19.100.11"}, {"mac": "02:aa:00:00:00:02"}],
    }  # fmt: skip
    speaker = net.start_speaker(vnis=[vni])
    assert_peer_up(speaker)
    routes = wait_for(
        lambda rs: len(find_routes(rs, peer=US, valid=True)) >= 3,
        SESSION_UP,
        probe=frr.evpn_routes,
        what="our 3 configured routes, valid, in FRR",
    )
    ours = find_routes(routes, peer=US)
    assert len(ours) == 3, ours
    for r in ours:
        assert r["rd"] == f"{US}:1", r  # auto: router-id:index of the VNI
        assert (r["ethernet_tag"], r["next_hop"]) == (0, US), r
        assert r["communities"] == {f"RT:{US_AS}:{VNI}", "ET:8"}, r  # auto RT ASN:VNI, VXLAN
    [imet] = find_routes(ours, route_type=3)
    assert imet["originator_ip"] == US
    assert imet["pmsi"]["tunnelType"] == "Ingress Replication", imet
    assert imet["pmsi"] == {"tunnelType": "Ingress Replication", "label": VNI}, imet
    [mac_ip] = find_routes(ours, route_type=2, mac="02:aa:00:00:00:01")
    assert (mac_ip["ip"], mac_ip["vni"]) == ("198.19.100.11", VNI)
    [mac_only] = find_routes(ours, route_type=2, mac="02:aa:00:00:00:02")
    assert (mac_only["ip"], mac_only["vni"]) == (None, VNI)


def test_configured_vrf_routes_reach_frr(net: Net) -> None:
    """Symmetric IRB (RFC 9135) and prefixes (RFC 9136): VNI 100 bound to VRF tenant1 (L3 VNI
    5000).  FRR shows the MAC+IP route with labels 100/5000, both RTs and the router MAC, the
    MAC-only route without them, and a type-5 route for the VRF prefix with label 5000."""
    frr = net.start_frr()
    vni = {
        "vni": VNI, "vtep": US, "vrf": "tenant1",
        "macs": [{"mac": "02:aa:00:00:00:01", "ip": "198.19.100.11"}, {"mac": "02:aa:00:00:00:02"}],
    }  # fmt: skip
    vrf = {"name": "tenant1", "l3vni": 5000, "router_mac": "02:aa:00:00:50:00", "prefixes": ["198.19.50.0/24"]}
    speaker = net.start_speaker(vnis=[vni], vrfs=[vrf])
    assert_peer_up(speaker)
    routes = wait_for(
        lambda rs: len(find_routes(rs, peer=US, valid=True)) >= 4,
        SESSION_UP,
        probe=frr.evpn_routes,
        what="our 4 configured routes, valid, in FRR",
    )
    ours = find_routes(routes, peer=US)
    assert len(ours) == 4, ours
    rmac = "Rmac:02:aa:00:00:50:00"
    [mac_ip] = find_routes(ours, route_type=2, mac="02:aa:00:00:00:01")
    assert (mac_ip["rd"], mac_ip["vni"], mac_ip["l3vni"]) == (f"{US}:1", VNI, 5000), mac_ip
    assert mac_ip["communities"] == {f"RT:{US_AS}:{VNI}", f"RT:{US_AS}:5000", "ET:8", rmac}, mac_ip
    [mac_only] = find_routes(ours, route_type=2, mac="02:aa:00:00:00:02")
    assert (mac_only["vni"], mac_only["l3vni"]) == (VNI, None), mac_only
    assert mac_only["communities"] == {f"RT:{US_AS}:{VNI}", "ET:8"}, mac_only
    [prefix] = find_routes(ours, route_type=5)
    assert (prefix["rd"], prefix["prefix"], prefix["vni"]) == (f"{US}:2", "[5]:[0]:[24]:[198.19.50.0]", 5000), prefix
    assert (prefix["next_hop"], prefix["communities"]) == (US, {f"RT:{US_AS}:5000", "ET:8", rmac}), prefix


def test_frr_routes_reach_us(net: Net) -> None:
    """FRR with ``advertise-all-vni`` and VNI 100 (RD 198.18.0.2:100) originates a type-3 and a
    MAC-only type-2 for its local host; both arrive as our route events."""
    net.start_frr(vni=True)
    speaker = net.start_speaker()
    assert_peer_up(speaker)
    imet = speaker.wait_event(
        is_route_event("add", FRR, route_type=3, originator_ip=FRR), SESSION_UP, what="FRR's type-3"
    )
    assert imet["route"] == {"route_type": 3, "rd": f"{FRR}:{VNI}", "ethernet_tag": 0, "originator_ip": FRR}
    mac = speaker.wait_event(
        is_route_event("add", FRR, route_type=2, mac=FRR_HOST_MAC), SESSION_UP, what="FRR's type-2"
    )
    assert mac["route"] == {
        "route_type": 2, "rd": f"{FRR}:{VNI}", "esi": ZERO_ESI, "ethernet_tag": 0,
        "mac": FRR_HOST_MAC, "ip": None, "label1": VNI, "label2": None,
    }  # fmt: skip


# --- timers and restarts ---------------------------------------------------------------------------


def test_session_survives_three_hold_times_idle(net: Net) -> None:
    """Hold time 3 (ours; FRR offers 9): nothing but KEEPALIVEs for 10 s, and the session stays up."""
    frr = net.start_frr()
    speaker = net.start_speaker(hold_time=3)
    assert_peer_up(speaker)
    neighbor = wait_established(frr)
    assert neighbor["bgpTimerHoldTimeMsecs"] == 3000, "the negotiated hold time should be ours"
    keepalives = neighbor["messageStats"]["keepalivesRecv"]
    mark = speaker.mark()
    time.sleep(10)
    assert not speaker.find_events(is_event("peer_down"), since=mark), speaker.describe()
    neighbor = frr.neighbor(US)
    assert neighbor["bgpState"] == "Established"
    assert neighbor["bgpTimerUpMsec"] >= 10_000, "FRR's session flapped"
    assert neighbor["messageStats"]["keepalivesRecv"] - keepalives >= 3, "too few KEEPALIVEs from us"


def test_frr_restart_reestablishes(net: Net) -> None:
    """bgpd stops (a Cease, then the TCP close) and starts again: a peer_down, then a new peer_up."""
    frr = net.start_frr()
    speaker = net.start_speaker(listen=True)
    assert_peer_up(speaker)
    wait_established(frr)
    mark = speaker.mark()
    frr.stop_bgpd()
    down = speaker.wait_event(is_event("peer_down", peer=FRR), 15, since=mark, what="peer_down after bgpd stopped")
    assert "reason" in down
    restarted = speaker.mark()  # the peer is down: no new peer_up can come before it starts again
    frr.start_bgpd()
    assert_peer_up(speaker, since=restarted)
    wait_established(frr)


# --- refused sessions ------------------------------------------------------------------------------


@pytest.mark.parametrize("wrong", ["ours", "theirs"])
def test_wrong_peer_as_gives_no_session(net: Net, wrong: str) -> None:
    """``ours``: we expect AS 65099 but FRR is 65002, so we refuse FRR's OPEN.  ``theirs``: FRR
    expects AS 65098 for us, so it refuses ours.  Either way an OPEN Message Error 2/2 (Bad Peer AS)
    must show: in one of our peer_down reasons, or in bgpd's log of NOTIFICATIONs sent/received."""
    frr = net.start_frr(passive=True, remote_as=65098 if wrong == "theirs" else US_AS)
    speaker = net.start_speaker(peer_as=65099 if wrong == "ours" else FRR_AS)

    def bad_peer_as_seen() -> bool:
        reasons = [normalize_reason(e.get("reason", "")) for e in speaker.find_events(is_event("peer_down"))]
        return any("bad peer as" in r for r in reasons + frr_notifications(frr))

    wait_for(bad_peer_as_seen, 15, what="a Bad Peer AS reason on either side")
    time.sleep(2)
    assert not speaker.find_events(is_event("peer_up")), speaker.describe()
    assert frr.neighbor_state(US) != "Established"


def test_max_prefixes_sends_cease_1_with_the_limit(net: Net) -> None:
    """FRR advertises two routes (type-3 and type-2 of VNI 100) and we accept one: we end the
    session with Cease/Maximum Number of Prefixes Reached (RFC 4486 §4), whose data FRR logs as
    AFI 25, SAFI 70 and the limit 1, and the session stays down."""
    frr = net.start_frr(vni=True)
    speaker = net.start_speaker(max_prefixes=1)
    down = speaker.wait_event(is_event("peer_down", peer=FRR), SESSION_UP, what="peer_down")
    assert "more than 1" in down["reason"] and "MAXIMUM_PREFIXES_REACHED" in down["reason"], down

    def logged() -> list[str]:
        return [line for line in frr.log().splitlines() if "%NOTIFICATION" in line and "received from" in line]

    lines = wait_for(lambda found: found, 10, probe=logged, what="FRR logging our NOTIFICATION")
    assert "6/1" in lines[-1] and "00 19 46 00 00 00 01" in lines[-1], lines
    time.sleep(6)  # longer than the idle hold time: no new session
    assert len(speaker.find_events(is_event("peer_up"))) == 1, speaker.describe()
    assert frr.neighbor_state(US) != "Established"


def test_md5_password_mismatch_gives_no_session(net: Net) -> None:
    """FRR signs with one TCP MD5 key and we with another: no TCP connection gets through, from
    either side (both actively connect, we also listen)."""
    frr = net.start_frr(password="evpn-frr-side")
    speaker = net.start_speaker(listen=True, password="evpn-our-side")
    time.sleep(8)
    assert not speaker.find_events(is_event("peer_up")), speaker.describe()
    neighbor = frr.neighbor(US)
    assert neighbor["bgpState"] != "Established"
    assert neighbor["messageStats"]["opensRecv"] == 0, "an OPEN got through despite the MD5 mismatch"
    assert speaker.running(), speaker.describe()


def test_md5_password_match_establishes(net: Net) -> None:
    """The same key on both sides: the session comes up (so the mismatch test means something)."""
    frr = net.start_frr(password="evpn-shared-key")
    speaker = net.start_speaker(listen=True, password="evpn-shared-key")
    assert_peer_up(speaker)
    wait_established(frr)
