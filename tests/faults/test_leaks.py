"""Resource leaks: sessions that keep failing must not leave anything behind in the speaker.

Each scenario measures the speaker (``evpn show process``: open file descriptors and live trio
tasks counted by the speaker itself, RSS) once it has settled before the fault, and again once it
has settled after recovery, and requires

* fds and tasks back to exactly their baseline (the measuring request's own connection and
  handler task are in both readings, so no tolerance is needed);
* RSS growth under a stated bound (Python does not give all freed memory back to the system, so a
  bound, not equality);
* the kernel's FDB on vxlan100 -- every remote MAC with its VTEP, and the flood list -- equal,
  entry by entry, to what the peers advertise after every recovery.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import pytest
from interop.lab import is_event, wait_for
from scenario_lab import (
    MIB,
    RawPeer,
    ScenarioLab,
    expected_kernel,
    in_netns,
    leak_report,
    mib,
    notification_bytes,
    peer_address,
    peer_asn,
    peer_table,
)

STEADY, FLAPPER = 1, 2
RSS_BOUND = 16 * MIB
"""How much the speaker's RSS may grow over a scenario: what stays after 100 sessions of a few
hundred routes each is arenas and caches the allocator keeps, not the sessions (a leak of one
table per flap would be 100 x 300 routes, far more)."""


def assert_no_leak(before: dict[str, Any], after: dict[str, Any]) -> None:
    assert (after["fds"], after["tasks"]) == (before["fds"], before["tasks"]), leak_report(before, after)
    assert after["rss"] - before["rss"] < RSS_BOUND, (mib(before["rss"]), mib(after["rss"]))


def figures(before: dict[str, Any], after: dict[str, Any]) -> str:
    return (
        f"fds {before['fds']}→{after['fds']}, tasks {before['tasks']}→{after['tasks']}, "
        f"rss {mib(before['rss'])}→{mib(after['rss'])} MiB"
    )


def test_flap_100(fault_lab: ScenarioLab, fault_summary: Callable[..., None]) -> None:
    """Peer 2 ends its session 100 times, at every stage (after the OPENs, halfway through its
    table, after its End-of-RIB) and every way (a Cease, a plain close, a TCP reset); peer 1 stays.
    After every 10 flaps, once peer 2 is back: fds and tasks at their baseline, and the kernel
    holding exactly both tables; at the end, RSS within its bound."""
    lab = fault_lab
    lab.build({STEADY: {}, FLAPPER: {}})
    lab.start_speaker()
    steady_table, flapper_table = peer_table(STEADY, 100), peer_table(FLAPPER, 300)
    steady = lab.start_peer(STEADY, steady_table)
    flapper = lab.start_peer(FLAPPER, flapper_table)
    both = expected_kernel(steady_table, flapper_table)
    lab.wait_state(peer_address(FLAPPER), "ESTABLISHED")
    lab.wait_kernel(*both)
    before = lab.settled_process()
    steady_up = lab.peer_state(peer_address(STEADY))

    plan = [
        {"stage": stage, "how": how, "wait": 0.0}
        for stage, how in [
            ("open", "cease"),
            ("transfer", "close"),
            ("eor", "reset"),
            ("open", "reset"),
            ("transfer", "cease"),
            ("eor", "close"),
            ("open", "close"),
            ("transfer", "reset"),
            ("eor", "cease"),
        ]
    ]
    flaps: list[dict[str, Any]] = []
    batches: list[dict[str, Any]] = []
    for _ in range(10):  # 10 x 10 flaps, checking everything after each recovery
        mark = flapper.mark()
        flapper.command({"cmd": "flaps", "plan": plan, "count": 10})
        flapper.wait_event(is_event("flaps_done"), 60, since=mark, what="10 flaps")
        done = next(i for i, e in enumerate(flapper.events) if i >= mark and e.get("event") == "flaps_done")
        flapper.wait_event(is_event("table_sent"), 60, since=done, what="the whole table, in the session after")
        flaps += flapper.find_events(is_event("flapped"), since=mark)
        lab.wait_state(peer_address(FLAPPER), "ESTABLISHED")
        lab.wait_kernel(*both)
        reading = lab.settled_process()
        lab.wait_kernel(*both)  # and still exactly that once everything has settled
        assert (reading["fds"], reading["tasks"]) == (before["fds"], before["tasks"]), (
            f"after {len(flaps)} flaps: {leak_report(before, reading)}"
        )
        batches.append({"flaps": len(flaps), **{k: reading[k] for k in ("fds", "proc_fds", "tasks", "rss")}})
    after = reading
    assert len(flaps) == 100
    steady_now = lab.peer_state(peer_address(STEADY))
    assert steady_now["state"] == "ESTABLISHED" and steady_now["uptime"] >= steady_up["uptime"]
    assert steady.find_events(lambda e: e.get("event") == "down") == []
    assert_no_leak(before, after)
    stages = {f"{s['stage']}/{s['how']}": 0 for s in plan}
    for event in flaps:
        stages[f"{event['stage']}/{event['how']}"] += 1
    fault_summary(
        "flap-100",
        f"{len(flaps)} flaps, {figures(before, after)}, converged ({len(both[0])} MACs, {len(both[1])} VTEPs)",
        flaps=len(flaps),
        by_stage=stages,
        batches=batches,
        before={k: before[k] for k in ("fds", "proc_fds", "tasks", "rss", "threads")},
        after={k: after[k] for k in ("fds", "proc_fds", "tasks", "rss", "threads")},
    )


def test_connections_that_never_send_open(fault_lab: ScenarioLab, fault_summary: Callable[..., None]) -> None:
    """Peer 2 opens a TCP connection and never sends its OPEN; while the speaker waits on it (in
    OpenSent), peer 2 opens 20 more that stay silent too.  Each extra one is a collision (RFC 4271
    §6.8) the speaker may hold only until its hold time: then all must be gone, fds and tasks with
    them.  Once peer 2 drops the first one, the speaker is back where it started and peer 2 can
    establish normally."""
    lab = fault_lab
    hold = 3
    lab.build({STEADY: {}, FLAPPER: {"hold_time": hold}})
    lab.start_speaker()
    steady_table = peer_table(STEADY, 100)
    lab.start_peer(STEADY, steady_table)
    lab.wait_kernel(*expected_kernel(steady_table))
    before = lab.settled_process()

    first = RawPeer(lab.peers[FLAPPER], peer_address(FLAPPER), asn=peer_asn(FLAPPER)).connect()
    message = first.next_message()
    assert message is not None and message[18] == 1, "the speaker sends its OPEN first (RFC 4271 §8.2.2)"
    lab.wait_state(peer_address(FLAPPER), "OPEN_SENT")
    silent = [RawPeer(lab.peers[FLAPPER], peer_address(FLAPPER), asn=peer_asn(FLAPPER)).connect() for _ in range(20)]
    time.sleep(0.5)
    during = lab.process()
    assert during["tasks"] >= before["tasks"] + 20, leak_report(before, during)  # held for now...
    for raw in silent:  # ...but each one only until the hold time: the speaker closes it
        raw.sock.settimeout(hold + 10)
        while raw.next_message() is not None:
            pass
        raw.close()
    # RFC 4271 §8.2.2: each one gets Hold Timer Expired (4/0) before it is closed
    notified = sum(1 for raw in silent if any(m[18] == 3 and m[19:21] == b"\x04\x00" for m in raw.received))
    assert notified == len(silent)
    assert lab.peer_state(peer_address(FLAPPER))["state"] == "OPEN_SENT"  # the first one is still waited on
    held = lab.settled_process()
    # Only the first connection is left: its socket and its reader task.
    assert (held["fds"], held["tasks"]) == (before["fds"] + 1, before["tasks"] + 1), leak_report(before, held)
    first.close()
    lab.wait_idle(peer_address(FLAPPER))
    after = lab.settled_process()
    assert_no_leak(before, after)
    # And peer 2 can still come up.
    raw = RawPeer(lab.peers[FLAPPER], peer_address(FLAPPER), asn=peer_asn(FLAPPER)).connect().establish()
    lab.wait_state(peer_address(FLAPPER), "ESTABLISHED")
    raw.send(notification_bytes(6, 2))
    raw.close()
    fault_summary(
        "never-open",
        f"1 + 20 silent connections (all 20 closed after the {hold} s hold time, {notified} with a "
        f"NOTIFICATION; tasks peaked at "
        f"{during['tasks']}), {figures(before, after)}, peer 2 establishes afterwards",
        silent=21,
        notified=notified,
        tasks_peak=during["tasks"],
        before={k: before[k] for k in ("fds", "proc_fds", "tasks", "rss")},
        after={k: after[k] for k in ("fds", "proc_fds", "tasks", "rss")},
    )


def test_accepting_peer_that_never_sends_open(fault_lab: ScenarioLab, fault_summary: Callable[..., None]) -> None:
    """The speaker connects out to peer 3, which accepts the TCP connection and never sends an
    OPEN; it closes each connection a few seconds later.  The speaker must hold one connection at
    a time (no second attempt piles up while it waits in OpenSent), and after each failure try
    again (with IdleHoldTime damping, RFC 4271 §8.1.1) with nothing left behind."""
    lab = fault_lab
    active = 3
    lab.build({STEADY: {}, active: {"passive": False, "connect_retry": 1}})
    assert lab.peers[active]
    with in_netns(lab.peers[active].name):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((peer_address(active), 179))
        listener.listen(8)
        listener.settimeout(40)
        lab.start_speaker()
        steady_table = peer_table(STEADY, 100)
        lab.start_peer(STEADY, steady_table)
        lab.wait_kernel(*expected_kernel(steady_table))
        readings = []
        attempts = 3
        for attempt in range(attempts):
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(10)
                data = conn.recv(4096)
                assert data[18:19] == b"\x01", f"attempt {attempt}: the speaker sends its OPEN first"
                lab.wait_state(peer_address(active), "OPEN_SENT")
                time.sleep(2)
                listener.settimeout(0)  # no second connection while the first is waited on
                with pytest.raises(BlockingIOError):
                    listener.accept()
                listener.settimeout(40)
                readings.append(lab.settled_process())
            # conn closed: the speaker gives this connection up and, after its idle hold time, retries
        final = lab.settled_process()
    finally:
        listener.close()
    first, last = readings[0], readings[-1]
    assert (last["fds"], last["tasks"]) == (first["fds"], first["tasks"]), leak_report(first, last)
    assert last["rss"] - first["rss"] < RSS_BOUND
    assert lab.peer_state(peer_address(STEADY))["state"] == "ESTABLISHED"
    fault_summary(
        "accept-no-open",
        f"{attempts} connections accepted and left without an OPEN, one at a time; while waiting "
        f"{figures(first, last)}; idle {final['fds']} fds, {final['tasks']} tasks",
        attempts=attempts,
        waiting=[{k: r[k] for k in ("fds", "tasks", "rss")} for r in readings],
    )


def test_underlay_link_down_up(fault_lab: ScenarioLab, fault_summary: Callable[..., None]) -> None:
    """Peer 2's veth goes down in the VTEP namespace: its session dies by the hold timer (Hold
    Timer Expired) and its routes leave the kernel; peer 1's stay.  The link comes back: the session
    comes back and the kernel converges to both tables again, with nothing left behind."""
    lab = fault_lab
    hold = 3
    lab.build({STEADY: {}, FLAPPER: {"hold_time": hold}})
    lab.start_speaker()
    steady_table, flapper_table = peer_table(STEADY, 100), peer_table(FLAPPER, 300)
    lab.start_peer(STEADY, steady_table)
    flapper = lab.start_peer(FLAPPER, flapper_table, hold_time=hold)
    both = expected_kernel(steady_table, flapper_table)
    lab.wait_state(peer_address(FLAPPER), "ESTABLISHED")
    lab.wait_kernel(*both)
    before = lab.settled_process()
    assert lab.vtep is not None and lab.speaker is not None
    cycles = 3
    for _ in range(cycles):
        mark = lab.speaker.mark()
        lab.vtep.ip("link", "set", f"p{FLAPPER}", "down")
        down = lab.speaker.wait_event(
            lambda e: e.get("event") == "peer_down" and e.get("peer") == peer_address(FLAPPER),
            hold + 15,
            since=mark,
            what="peer 2 down after its link",
        )
        assert "HOLD_TIMER_EXPIRED" in down["reason"], down
        lab.wait_kernel(*expected_kernel(steady_table))
        lab.vtep.ip("link", "set", f"p{FLAPPER}", "up")
        lab.wait_state(peer_address(FLAPPER), "ESTABLISHED", timeout=30)
        lab.wait_kernel(*both)
    after = lab.settled_process()
    lab.wait_kernel(*both)
    assert_no_leak(before, after)
    sessions = [e["session"] for e in flapper.find_events(is_event("established"))]
    assert sessions[-1] == cycles + 1, sessions
    wait_for(lambda: lab.peer_state(peer_address(STEADY))["state"] == "ESTABLISHED", 5, what="peer 1 up")
    fault_summary(
        "link-down-up",
        f"{cycles} link cycles (hold timer expired each time), {figures(before, after)}, converged "
        f"({len(both[0])} MACs, {len(both[1])} VTEPs)",
        cycles=cycles,
        before={k: before[k] for k in ("fds", "proc_fds", "tasks", "rss")},
        after={k: after[k] for k in ("fds", "proc_fds", "tasks", "rss")},
    )
