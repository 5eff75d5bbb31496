"""Our speaker (through ``speaker_driver.py``) against GoBGP's gobgpd, over a veth between two namespaces.

Namespace ``evspk-*`` holds our speaker at 198.18.0.1 (AS 65001); ``evgobgp-*`` holds gobgpd at
198.18.0.2 (AS 65002; connect-retry 1, hold 9, keepalive 3) with its gRPC
API on the namespace's own 127.0.0.1.  The driver contract is in ``conftest.py``.

GoBGP 3.10 waits 5-10 s before its *first* active connection attempt to a neighbour (only later
attempts follow connect-retry), so tests where GoBGP must open the session allow for that; and after
any session reset it stays Idle for 5 s and closes connections it accepts.
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
    GoBgp,
    Lab,
    PeerNet,
    Speaker,
    find_routes,
    gobgp_toml,
    is_event,
    is_route_event,
    normalize_reason,
    wait_for,
)

pytestmark = pytest.mark.interop

GOBGP, GOBGP_AS = PEER, PEER_AS
SESSION_UP = 20  # seconds: covers GoBGP's 5-10 s first connect delay
SESSION_UP_WE_CONNECT = 10


class Net(PeerNet):
    """The two namespaces, and how to start gobgpd in them."""

    def __init__(self, lab: Lab, driver: Path) -> None:
        super().__init__(lab, driver, "evgobgp")

    def start_gobgp(self, *, passive: bool = False, password: str | None = None, remote_as: int = US_AS) -> GoBgp:
        neighbor = {"address": US, "asn": remote_as, "passive": passive, "password": password}
        return self.lab.gobgp(self.peer, gobgp_toml(asn=GOBGP_AS, router_id=GOBGP, neighbors=[neighbor]))


@pytest.fixture
def net(lab: Lab, require_gobgp: None, driver: Path) -> Net:
    return Net(lab, driver)


def wait_established(gobgp: GoBgp, timeout: float = SESSION_UP) -> dict[str, Any]:
    return wait_for(
        lambda n: n.get("state", {}).get("session_state") == 6,  # ESTABLISHED
        timeout,
        probe=lambda: gobgp.neighbor(US),
        what="GoBGP Established",
    )


def opens_received(gobgp: GoBgp) -> int:
    return int(gobgp.neighbor(US).get("state", {}).get("messages", {}).get("received", {}).get("open", 0))


def assert_peer_up(speaker: Speaker, timeout: float = SESSION_UP, since: int = 0) -> dict[str, Any]:
    up = speaker.wait_event(is_event("peer_up", peer=GOBGP), timeout, since=since, what="peer_up")
    assert up["asn"] == GOBGP_AS
    assert "l2vpn-evpn" in up["families"]
    return up


# --- sessions --------------------------------------------------------------------------------------


def test_session_we_connect(net: Net) -> None:
    """GoBGP is passive, our speaker does not listen: the session is ours to open.  A SIGTERM then
    closes it with a Cease and exit status 0."""
    gobgp = net.start_gobgp(passive=True)
    speaker = net.start_speaker()
    assert_peer_up(speaker, SESSION_UP_WE_CONNECT)
    wait_established(gobgp, 5)

    assert speaker.stop() == 0
    wait_for(
        lambda n: (
            n.get("state", {}).get("session_state") != 6
            and n.get("state", {}).get("messages", {}).get("received", {}).get("notification", 0) >= 1
        ),
        10,
        probe=lambda: gobgp.neighbor(US),
        what="GoBGP to receive our NOTIFICATION and drop the session",
    )
    assert "cease" in normalize_reason(gobgp.log()), gobgp.log_tail()


def test_session_they_connect(net: Net) -> None:
    """Our speaker is passive and listens on 198.18.0.1:179: GoBGP opens the session."""
    gobgp = net.start_gobgp()
    speaker = net.start_speaker(passive=True, listen=True)
    assert_peer_up(speaker)
    wait_established(gobgp, 5)


# --- routes ----------------------------------------------------------------------------------------


def test_our_routes_reach_gobgp(net: Net) -> None:
    gobgp = net.start_gobgp(passive=True)
    speaker = net.start_speaker(routes=OUR_ROUTES)
    assert_peer_up(speaker, SESSION_UP_WE_CONNECT)
    routes = wait_for(
        lambda rs: len(find_routes(rs, peer=US)) >= 3, 10, probe=gobgp.evpn_routes, what="our 3 routes in GoBGP"
    )
    ours = find_routes(routes, peer=US)
    assert len(ours) == 3, ours
    for r in ours:
        assert r["rd"] == f"{US}:{VNI}"
        assert r["ethernet_tag"] == 0
        assert r["next_hop"] == US
        assert "ET:8" in r["communities"], r  # encapsulation VXLAN

    [mac_ip] = find_routes(ours, route_type=2, mac="02:aa:00:00:00:01")
    assert mac_ip["ip"] == "198.19.100.11"
    assert mac_ip["labels"] == [VNI]
    assert mac_ip["esi"] == "single-homed"  # GoBGP's name for the zero ESI
    assert f"RT:{US_AS}:{VNI}" in mac_ip["communities"]
    [mac_only] = find_routes(ours, route_type=2, mac="02:aa:00:00:00:02")
    assert mac_only["ip"] is None
    assert mac_only["labels"] == [VNI]
    assert f"RT:{US_AS}:{VNI}" in mac_only["communities"]
    [imet] = find_routes(ours, route_type=3)
    assert imet["originator_ip"] == US
    assert imet["pmsi"] is not None, imet
    assert imet["pmsi"]["tunnel-type"] == 6, imet  # ingress replication
    assert imet["pmsi"]["tunnel-id"] == US
    assert any(c.startswith(f"RT:{US_AS}:") for c in imet["communities"]), imet


def test_gobgp_routes_reach_us(net: Net) -> None:
    """Routes injected through GoBGP's API (``global rib add -a evpn macadv`` / ``multicast``)
    arrive as our route events with the same fields."""
    gobgp = net.start_gobgp(passive=True)
    gobgp.add_evpn_macadv(
        mac="02:bb:00:00:00:01", ip="198.19.100.21", rd=f"{GOBGP}:{VNI}", rt=f"{GOBGP_AS}:{VNI}", label=VNI
    )
    gobgp.add_evpn_macadv(mac="02:bb:00:00:00:02", ip=None, rd=f"{GOBGP}:{VNI}", rt=f"{GOBGP_AS}:{VNI}", label=VNI)
    gobgp.add_evpn_multicast(ip=GOBGP, rd=f"{GOBGP}:{VNI}", rt=f"{GOBGP_AS}:{VNI}")
    speaker = net.start_speaker()
    assert_peer_up(speaker, SESSION_UP_WE_CONNECT)

    mac_ip = speaker.wait_event(
        is_route_event("add", GOBGP, route_type=2, mac="02:bb:00:00:00:01"), 10, what="GoBGP's MAC+IP type-2"
    )
    assert mac_ip["route"] == {
        "route_type": 2, "rd": f"{GOBGP}:{VNI}", "esi": ZERO_ESI, "ethernet_tag": 0,
        "mac": "02:bb:00:00:00:01", "ip": "198.19.100.21", "label1": VNI, "label2": None,
    }  # fmt: skip
    mac_only = speaker.wait_event(
        is_route_event("add", GOBGP, route_type=2, mac="02:bb:00:00:00:02"), 10, what="GoBGP's MAC-only type-2"
    )
    assert mac_only["route"]["ip"] is None
    assert mac_only["route"]["label1"] == VNI
    imet = speaker.wait_event(is_route_event("add", GOBGP, route_type=3), 10, what="GoBGP's type-3")
    assert imet["route"] == {"route_type": 3, "rd": f"{GOBGP}:{VNI}", "ethernet_tag": 0, "originator_ip": GOBGP}


# --- timers and restarts ---------------------------------------------------------------------------


def test_session_survives_three_hold_times_idle(net: Net) -> None:
    """Hold time 3 (ours; GoBGP offers 9): nothing but KEEPALIVEs for 10 s, and the session stays up."""
    gobgp = net.start_gobgp(passive=True)
    speaker = net.start_speaker(hold_time=3)
    assert_peer_up(speaker, SESSION_UP_WE_CONNECT)
    neighbor = wait_established(gobgp, 5)
    assert neighbor["timers"]["state"]["negotiated_hold_time"] == 3
    established_count = neighbor["state"].get("established_count", 1)
    keepalives = neighbor["state"]["messages"]["received"].get("keepalive", 0)
    mark = speaker.mark()
    time.sleep(10)
    assert not speaker.find_events(is_event("peer_down"), since=mark), speaker.describe()
    neighbor = gobgp.neighbor(US)
    assert neighbor["state"]["session_state"] == 6
    assert neighbor["state"].get("established_count", 1) == established_count, "GoBGP's session flapped"
    assert neighbor["state"]["messages"]["received"]["keepalive"] - keepalives >= 3, "too few KEEPALIVEs from us"


def test_gobgp_restart_reestablishes(net: Net) -> None:
    """gobgpd stops (a Cease, then the TCP close) and starts again: a peer_down, then a new peer_up
    (whoever reconnects first: our speaker, or GoBGP to our listener)."""
    gobgp = net.start_gobgp()
    speaker = net.start_speaker(listen=True)
    assert_peer_up(speaker, SESSION_UP_WE_CONNECT)
    mark = speaker.mark()
    gobgp.stop()
    down = speaker.wait_event(is_event("peer_down", peer=GOBGP), 10, since=mark, what="peer_down after gobgpd stopped")
    assert "reason" in down
    restarted = speaker.mark()  # the peer is down: no new peer_up can come before it starts again
    gobgp.start()
    assert_peer_up(speaker, since=restarted)
    wait_established(gobgp, 5)


# --- refused sessions ------------------------------------------------------------------------------


@pytest.mark.parametrize("wrong", ["ours", "theirs"])
def test_wrong_peer_as_gives_no_session(net: Net, wrong: str) -> None:
    """``ours``: we expect AS 65099 but GoBGP is 65002, so we refuse GoBGP's OPEN.  ``theirs``:
    GoBGP expects AS 65098 for us, so it refuses ours.  Either way an OPEN Message Error 2/2
    (Bad Peer AS) must show: in one of our peer_down reasons, or in gobgpd's log (GoBGP 3.10 logs only
    the 2/2 it sends, not one it receives)."""
    gobgp = net.start_gobgp(passive=True, remote_as=65098 if wrong == "theirs" else US_AS)
    speaker = net.start_speaker(peer_as=65099 if wrong == "ours" else GOBGP_AS)

    def bad_peer_as_seen() -> bool:
        reasons = [normalize_reason(e.get("reason", "")) for e in speaker.find_events(is_event("peer_down"))]
        # GoBGP logs the 2/2 it sends as "sent notification" Data="as number mismatch expected ..."
        log = normalize_reason(gobgp.log())
        return any("bad peer as" in r for r in reasons) or "bad peer as" in log or "as number mismatch" in log

    wait_for(bad_peer_as_seen, 10, what="a Bad Peer AS reason on either side")
    time.sleep(2)
    assert not speaker.find_events(is_event("peer_up")), speaker.describe()
    assert gobgp.neighbor_state(US) != "established"


def test_md5_password_mismatch_gives_no_session(net: Net) -> None:
    """GoBGP signs with one TCP MD5 key and we with another: no TCP connection gets through, from
    either side (both actively connect, we also listen; GoBGP's first attempt comes after 5-10 s)."""
    gobgp = net.start_gobgp(password="evpn-gobgp-side")
    speaker = net.start_speaker(listen=True, password="evpn-our-side")
    time.sleep(11)
    assert not speaker.find_events(is_event("peer_up")), speaker.describe()
    assert gobgp.neighbor_state(US) != "established"
    assert opens_received(gobgp) == 0, "an OPEN got through despite the MD5 mismatch"
    assert speaker.running(), speaker.describe()


def test_md5_password_match_establishes(net: Net) -> None:
    """The same key on both sides: the session comes up (so the mismatch test means something)."""
    gobgp = net.start_gobgp(password="evpn-shared-key")
    speaker = net.start_speaker(listen=True, password="evpn-shared-key")
    assert_peer_up(speaker)
    wait_established(gobgp, 5)
