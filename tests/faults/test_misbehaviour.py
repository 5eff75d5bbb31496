"""A peer misbehaves in the middle of its session; another peer of the same speaker must not notice.

Each scenario runs ``evpn run`` (netlink sink, VNI 100) with two peers: peer 1 is a well-behaved
:mod:`bgp_peer` with a table, peer 2 misbehaves.  The speaker must end peer 2's session the way the
RFCs say -- a NOTIFICATION with the right code and subcode (RFC 4271 §6), or no reset at all where
RFC 7606 asks for treat-as-withdraw -- while peer 1's session stays Established (it never went down:
no new session, uptime not reset), its routes stay in the RIB and its kernel entries stay exactly as
they were.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

import bgp_peer
import pytest
from interop.lab import Speaker, is_event
from scenario_lab import (
    MIB,
    RawPeer,
    ScenarioLab,
    expected_kernel,
    leak_report,
    mib,
    notification_bytes,
    peer_address,
    peer_asn,
    peer_table,
)

from evpn.wire import end_of_rib

GOOD, BAD = 1, 2
GOOD_MACS = 200
BAD_MACS = 40
BAD_HOLD = 3  # the speaker's hold time for the misbehaving peer: a silent peer is dropped in 3 s


def raw_routes(table: dict[str, Any], asn: int) -> bytes:
    """The UPDATEs announcing ``table``, then End-of-RIB, as :mod:`bgp_peer` would send them."""
    t = bgp_peer.Table(table, asn)
    return b"".join([*t.announce(list(t.routes)), end_of_rib().encode()])


class Setup:
    """The speaker, the good peer (converged) and the expectations for both tables."""

    def __init__(self, lab: ScenarioLab, *, bad_hold: int = BAD_HOLD) -> None:
        self.lab = lab
        lab.build({GOOD: {"hold_time": 9}, BAD: {"hold_time": bad_hold}})
        lab.start_speaker()
        self.good_table = peer_table(GOOD, GOOD_MACS)
        self.bad_table = peer_table(BAD, BAD_MACS)
        self.good: Speaker = lab.start_peer(GOOD, self.good_table)
        self.good.wait_event(is_event("table_sent"), 30, what="peer 1's table sent")
        lab.wait_state(peer_address(GOOD), "ESTABLISHED")
        self.good_kernel = expected_kernel(self.good_table)
        lab.wait_kernel(*self.good_kernel)

    def bad_session(self) -> RawPeer:
        """Peer 2 by hand: Established, its table sent, and its routes in the kernel."""
        raw = RawPeer(self.lab.peers[BAD], peer_address(BAD), asn=peer_asn(BAD)).connect().establish()
        raw.send(raw_routes(self.bad_table, peer_asn(BAD)))
        self.lab.wait_state(peer_address(BAD), "ESTABLISHED")
        both = expected_kernel(self.good_table, self.bad_table)
        self.lab.wait_kernel(*both)
        return raw

    def snapshot(self) -> dict[str, Any]:
        good = self.lab.peer_state(peer_address(GOOD))
        return {"good": good, "kernel": self.lab.kernel(), "good_mark": self.good.mark()}

    def check_good_untouched(
        self, before: dict[str, Any], kernel: tuple[set[tuple[str, str]], set[str]] | None = None
    ) -> dict[str, Any]:
        """Peer 1 never went down: Established, the same session (bgp_peer saw no other one), its
        uptime not reset, its routes all there; the kernel holds exactly ``kernel`` (default: peer
        1's entries and nothing else)."""
        kernel = kernel or self.good_kernel
        self.lab.wait_kernel(*kernel)
        after = self.lab.peer_state(peer_address(GOOD))
        assert after["state"] == "ESTABLISHED", after
        assert after["uptime"] >= before["good"]["uptime"], (before["good"], after)
        assert after["routes_received"] == before["good"]["routes_received"] == GOOD_MACS + 2
        assert (
            self.good.find_events(lambda e: e.get("event") in ("down", "established"), since=before["good_mark"]) == []
        )
        macs, flood = self.lab.kernel()
        assert macs >= self.good_kernel[0] and flood >= self.good_kernel[1]
        return after


def speaker_down(lab: ScenarioLab, peer: str, since: int) -> dict[str, Any]:
    assert lab.speaker is not None
    return lab.speaker.wait_event(
        lambda e: e.get("event") == "peer_down" and e.get("peer") == peer, 20, since=since, what=f"{peer} down"
    )


@pytest.fixture
def setup(fault_lab: ScenarioLab) -> Setup:
    return Setup(fault_lab)


def test_garbage_bytes(setup: Setup, fault_summary: Callable[..., None]) -> None:
    """Bytes that are no BGP message: Message Header Error / Connection Not Synchronized (RFC 4271
    §6.1: the marker is not all ones), and the session ends."""
    lab = setup.lab
    raw = setup.bad_session()
    before = setup.snapshot()
    assert lab.speaker is not None
    mark = lab.speaker.mark()
    raw.send(bytes(range(0x20, 0x80)) * 4)
    got = raw.notification()
    raw.close()
    assert got == (1, 1), got
    down = speaker_down(lab, peer_address(BAD), mark)
    assert "CONNECTION_NOT_SYNCHRONIZED" in down["reason"], down
    after = setup.check_good_untouched(before)
    fault_summary(
        "garbage",
        f"NOTIFICATION {got[0]}/{got[1]}, peer 1 {after['state']} uptime {before['good']['uptime']:.1f}→"
        f"{after['uptime']:.1f} s, {len(setup.good_kernel[0])} MACs kept",
        notification=list(got),
        good_state=after["state"],
    )


def test_truncated_then_silence(setup: Setup, fault_summary: Callable[..., None]) -> None:
    """The first 40 bytes of a 100-byte UPDATE, then nothing (no KEEPALIVE either): the speaker can
    only wait; its hold timer expires (RFC 4271 §6.5): Hold Timer Expired 4/0."""
    lab = setup.lab
    raw = setup.bad_session()
    before = setup.snapshot()
    assert lab.speaker is not None
    mark = lab.speaker.mark()
    message = raw_routes(setup.bad_table, peer_asn(BAD))[:100]
    header = b"\xff" * 16 + (100).to_bytes(2, "big") + b"\x02"
    raw.send((header + message[19:])[:40])
    started = time.monotonic()
    got = raw.notification()
    waited = time.monotonic() - started
    raw.close()
    assert got == (4, 0), got
    down = speaker_down(lab, peer_address(BAD), mark)
    assert "HOLD_TIMER_EXPIRED" in down["reason"], down
    after = setup.check_good_untouched(before)
    fault_summary(
        "truncated-silence",
        f"NOTIFICATION {got[0]}/{got[1]} after {waited:.1f} s (hold {BAD_HOLD} s), peer 1 {after['state']}, "
        f"{len(setup.good_kernel[0])} MACs kept",
        notification=list(got),
        waited=round(waited, 2),
    )


def test_malformed_attribute_is_treat_as_withdraw(setup: Setup, fault_summary: Callable[..., None]) -> None:
    """An UPDATE whose ORIGIN attribute has a bad length re-announces peer 2's MACs: RFC 7606 §7.1
    treat-as-withdraw -- the routes go, the session stays up, no NOTIFICATION."""
    lab = setup.lab
    raw = setup.bad_session()
    before = setup.snapshot()
    table = bgp_peer.Table(setup.bad_table, peer_asn(BAD))
    keys = [k for k in table.routes if k[1]]  # the type-2 routes
    updates = table.announce(keys)
    broken = []
    for update in updates:
        body = bytearray(update)
        # The path attributes start after the withdrawn routes length (0) and their own length:
        # ORIGIN comes first (flags 0x40, type 1, length 1, value 0); make its length 2 and pad.
        start = 19 + 2 + 2
        assert body[start : start + 4] == b"\x40\x01\x01\x00", body[start : start + 4].hex()
        body[start + 2] = 2
        body[start + 4 : start + 4] = b"\x00"
        total = int.from_bytes(body[19 + 2 : 19 + 4], "big") + 1
        body[19 + 2 : 19 + 4] = total.to_bytes(2, "big")
        body[16:18] = len(body).to_bytes(2, "big")
        broken.append(bytes(body))
    raw.send(b"".join(broken))
    # Peer 2's MACs are withdrawn; its type-3 routes (not in the broken UPDATEs) stay.
    lab.wait_kernel(setup.good_kernel[0], setup.good_kernel[1] | set(setup.bad_table["vteps"]))
    state = lab.peer_state(peer_address(BAD))
    assert state["state"] == "ESTABLISHED", state
    assert state["routes_received"] == 2, state
    raw.send(notification_bytes(6, 2))
    raw.close()
    after = setup.check_good_untouched(before)
    fault_summary(
        "treat-as-withdraw",
        f"{len(broken)} UPDATEs with a bad ORIGIN length: {BAD_MACS} routes withdrawn, session kept, "
        f"peer 1 {after['state']}",
        withdrawn=BAD_MACS,
    )


def test_notification_storm(setup: Setup, fault_summary: Callable[..., None]) -> None:
    """Peer 2 connects 150 times as fast as it can: OPEN then several NOTIFICATIONs at once, or a
    NOTIFICATION before any OPEN, or an Established session ended by a Cease.  The speaker must take
    each (one session at a time, collisions refused), keep peer 1 up, leak nothing, and still bring
    peer 2 up afterwards."""
    lab = setup.lab
    assert lab.speaker is not None
    baseline = lab.settled_process()
    before = setup.snapshot()
    events_mark = lab.speaker.mark()
    storms = 150
    refused = 0
    kinds = {"open+notifications": 0, "notification-only": 0, "established+cease": 0, "established+reset": 0}
    for i in range(storms):
        raw = RawPeer(lab.peers[BAD], peer_address(BAD), asn=peer_asn(BAD), timeout=10)
        try:
            raw.connect()
        except OSError:
            raw.close()
            continue
        kind = list(kinds)[i % len(kinds)]
        try:
            if kind == "open+notifications":
                raw.send(raw.open_message() + notification_bytes(6, 4) * 5)
            elif kind == "notification-only":
                raw.send(notification_bytes(2, 0) * 3)
            else:
                try:
                    raw.establish()
                except AssertionError:
                    refused += 1  # a collision with the previous connection, still being closed
                if kind == "established+cease":
                    raw.send(notification_bytes(6, 4))
        except OSError:
            pass
        raw.close(reset=kind == "established+reset")
        kinds[kind] += 1
    # Peer 2 must still be able to come up, with its routes.
    deadline = time.monotonic() + 60
    while True:
        raw = RawPeer(lab.peers[BAD], peer_address(BAD), asn=peer_asn(BAD))
        try:
            raw.connect().establish()
            break
        except (AssertionError, OSError):
            raw.close()
            assert time.monotonic() < deadline, f"peer 2 never came up again after the storm; {lab.describe()}"
            time.sleep(0.5)
    # Every session that came up went down again, on the NOTIFICATION or the reset.
    ups = lab.speaker.find_events(is_event("peer_up", peer=peer_address(BAD)), since=events_mark)
    downs = lab.speaker.find_events(is_event("peer_down", peer=peer_address(BAD)), since=events_mark)
    assert len(ups) >= kinds["established+cease"] + kinds["established+reset"] - refused, (len(ups), refused)
    assert len(downs) >= len(ups), (len(ups), len(downs))
    raw.send(raw_routes(setup.bad_table, peer_asn(BAD)))
    lab.wait_kernel(*expected_kernel(setup.good_table, setup.bad_table))
    raw.send(notification_bytes(6, 2))
    raw.close()
    setup.check_good_untouched(before)
    lab.wait_idle(peer_address(BAD))
    after = lab.settled_process()
    assert (after["fds"], after["tasks"]) == (baseline["fds"], baseline["tasks"]), leak_report(baseline, after)
    fault_summary(
        "notification-storm",
        f"{storms} connections ({', '.join(f'{k} {v}' for k, v in kinds.items())}; {refused} refused), fds {baseline['fds']}→"
        f"{after['fds']}, tasks {baseline['tasks']}→{after['tasks']}, rss {mib(baseline['rss'])}→"
        f"{mib(after['rss'])} MiB, {len(ups)} sessions up and {len(downs)} down, peer 1 kept, peer 2 up again",
        connections=storms,
        kinds=kinds,
        refused=refused,
        before=baseline,
        after=after,
    )


def test_update_flood(fault_lab: ScenarioLab, fault_summary: Callable[..., None]) -> None:
    """Peer 2 sends 60,000 routes as fast as TCP lets it, then moves every one of them to its other
    VTEP, twice (a table-sized churn each time), faster than the speaker installs them.  The speaker
    reads no faster than it processes (TCP backpressure), so its memory follows the table, not what
    peer 2 sends: the churns add no second copy.  Peer 1's KEEPALIVEs are still read in time (its
    session never drops) and the kernel ends up with exactly both tables after each wave."""
    lab = fault_lab
    setup = Setup(lab, bad_hold=9)
    before = setup.snapshot()
    baseline = lab.settled_process()
    routes = 60_000
    samples: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError, StopIteration):
                samples.append(lab.rss())
            stop.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        table = peer_table(BAD, routes, with_ip=False)
        bad = lab.start_peer(BAD, table, hold_time=9)
        lab.wait_kernel(*expected_kernel(setup.good_table, table), timeout=120, interval=2.0)
        loaded = lab.settled_process()["rss"]
        first_peak = max(samples)
        churn_from = len(samples)
        for seq in (1, 2):
            table = peer_table(BAD, routes, seq=seq, with_ip=False)
            lab.load_table(bad, BAD, table)
            lab.wait_kernel(*expected_kernel(setup.good_table, table), timeout=120, interval=2.0)
        churn_peak = max(samples[churn_from:])
    finally:
        stop.set()
        sampler.join(5)
    both = expected_kernel(setup.good_table, table)
    assert lab.peer_state(peer_address(BAD))["routes_received"] == routes + 2
    settled = lab.settled_process()
    after = setup.check_good_untouched(before, both)
    table_size = loaded - baseline["rss"]
    # The table costs what it costs (stated bound: 4 KiB a route, for the RIB, the Adj-RIB-In,
    # the translator's entries and the sink)...
    assert table_size < routes * 4096, (mib(baseline["rss"]), mib(loaded))
    # ...while it arrives, the transient state (decoded UPDATEs, pending kernel operations) stays
    # within 1.5 tables more, however fast peer 2 sends (measured: 0 to 0.7)...
    for peak in (first_peak, churn_peak):
        assert peak - baseline["rss"] < 2.5 * table_size + 16 * MIB, (mib(baseline["rss"]), mib(loaded), mib(peak))
    # ...and two moves of the whole table leave no second copy of it behind (measured: 0.85 to 1.1).
    assert settled["rss"] - baseline["rss"] < 1.5 * table_size + 16 * MIB, (mib(loaded), mib(settled["rss"]))
    fault_summary(
        "update-flood",
        f"{routes} routes then 2 moves of all of them ({3 * routes} announcements), rss "
        f"{mib(baseline['rss'])}→{mib(loaded)} loaded (peak {mib(first_peak)}, "
        f"{table_size / routes:.0f} B/route)→churn peak {mib(churn_peak)}→{mib(settled['rss'])} MiB "
        f"({len(samples)} samples), peer 1 {after['state']} uptime {before['good']['uptime']:.1f}→"
        f"{after['uptime']:.1f} s, converged",
        routes=routes,
        rss_baseline=baseline["rss"],
        rss_loaded=loaded,
        rss_first_peak=first_peak,
        rss_churn_peak=churn_peak,
        rss_after=settled["rss"],
        samples=len(samples),
    )


def test_reset_before_accept(setup: Setup, fault_summary: Callable[..., None]) -> None:
    """Peer 2 connects and resets the connection at once, 20 times, before the speaker can accept
    it.  The speaker must drop each one and go on: still running, still listening, peer 1 kept.
    (It used to exit: ``getpeername()`` raised ENOTCONN in the listener, tests/test_listener_reset.py.)"""
    lab = setup.lab
    assert lab.speaker is not None
    before = setup.snapshot()
    for _ in range(20):
        raw = RawPeer(lab.peers[BAD], peer_address(BAD), asn=peer_asn(BAD))
        raw.connect()
        raw.close(reset=True)
    time.sleep(1)
    assert lab.speaker.running(), lab.describe()
    raw = setup.bad_session()
    raw.send(notification_bytes(6, 2))
    raw.close()
    after = setup.check_good_untouched(before)
    fault_summary("reset-before-accept", f"20 connections reset before accept, speaker up, peer 1 {after['state']}")
