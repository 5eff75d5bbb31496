"""``evpn show`` and the control socket (:mod:`evpn.control`), and the progress of ``evpn run``.

1. The answers, pure functions of a speaker's state: peers (uptime from ``established_since``),
   routes per VNI/VRF with every path and the best path's reason, VTEPs per VNI, the dataplane.
   The state comes from a lab of three in-process speakers wired with memory streams: B (the one
   asked; VNI 100 and VRF t1, the memory sink) peers with A (VNI 100 and VRF t1 with a MAC+IP and
   a prefix) and C (which sends A's type-5 route again from another VTEP: two paths, and the best
   wins on the router ID).  The lab runs on a ``MockClock`` that moves only when told: uptimes are
   exact, and a client in a thread does not make virtual time run.
2. The socket: mode 0600, several requests per connection, bad requests answered with an error,
   a live socket refused, a stale one replaced, the socket removed on exit.
3. ``evpn show`` through :func:`evpn.cli.main.main`: tables and JSON against a live server, errors,
   and every ``$ evpn show`` example of ``docs/cli.md`` run as written.
4. ``evpn run --control`` in two processes over loopback, and the status line ``run`` shows on a
   terminal (never when stderr is not one).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing
from test_cli_run import CONNECTOR, LISTENER, Run, free_port

import evpn.cli.run
import evpn.cli.show
import evpn.control
from evpn.cli.main import main
from evpn.cli.run import StatusLine, TableTransfers, control_path, progress_text, report_progress
from evpn.cli.show import format_uptime, table
from evpn.config import Config, parse_config
from evpn.control import (
    ControlError,
    ProcessState,
    answer,
    dataplane_answer,
    peers_answer,
    process_answer,
    query,
    routes_answer,
    serve_control,
    vteps_answer,
)
from evpn.events import EndOfRib, PeerDown, PeerUp
from evpn.rib import Rib, Source
from evpn.sink import Action, Entry, MemorySink, Op, OpError
from evpn.sink.dataplane import DataplaneStatistics
from evpn.speaker import PeerStatistics, Speaker, SpeakerStatistics, open_speaker
from evpn.types import ip_bytes
from evpn.wire import (
    Encapsulation,
    ExtendedCommunities,
    InclusiveMulticastRoute,
    IPPrefixRoute,
    MacIpRoute,
    PmsiTunnel,
    Prefix,
    RouterMac,
    RouteTarget,
    TunnelType,
)

ASN = 65001
A_ID, B_ID, C_ID = "192.0.2.1", "192.0.2.2", "192.0.2.3"
EVPN = (25, 70)
DOCS = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def lab_config(router_id: str, peers: Sequence[str], **tables: Any) -> Config:
    return parse_config(
        {
            "speaker": {"asn": ASN, "router_id": router_id},
            "peers": [{"address": p, "asn": ASN, "passive": True} for p in peers],
            **tables,
        }
    )


A = lab_config(
    A_ID,
    [B_ID],
    vnis=[
        {"vni": 100, "vtep": "198.18.0.1", "vrf": "t1", "macs": [{"mac": "02:aa:00:00:00:01", "ip": "198.19.100.11"}]}
    ],
    vrfs=[
        {
            "name": "t1",
            "l3vni": 5000,
            "router_mac": "02:aa:00:00:50:01",
            "prefixes": ["198.19.50.0/24"],
            "vtep": "198.18.0.1",
        }
    ],
)
B = lab_config(
    B_ID,
    [A_ID, C_ID],
    vnis=[{"vni": 100, "vtep": "198.18.0.2", "vrf": "t1"}],
    vrfs=[
        {
            "name": "t1",
            "l3vni": 5000,
            "router_mac": "02:aa:00:00:50:02",
            "prefixes": ["198.19.60.0/24"],
            "vtep": "198.18.0.2",
        }
    ],
    dataplane={"sink": "memory"},
)
C = lab_config(C_ID, [B_ID])
# C sends A's type-5 route (same RD, so the same route) from VTEP 198.18.0.3.
SHARED = IPPrefixRoute(rd="192.0.2.1:2", prefix="198.19.50.0", prefix_length=24, label=5000)
SHARED_ATTRIBUTES = [
    ExtendedCommunities([RouteTarget(ASN, 5000), Encapsulation(TunnelType.VXLAN), RouterMac("02:aa:00:00:50:03")])
]


async def settle(condition: Any) -> None:
    """Let every task run until all are blocked and ``condition()`` holds (no clock needed:
    memory streams only)."""
    for _ in range(1000):
        await trio.testing.wait_all_tasks_blocked()
        if condition():
            return
    raise AssertionError("the lab did not settle")


def programmed(b: Speaker, entries: int) -> bool:
    """B's sink holds ``entries`` entries, with nothing pending."""
    dataplane = b.dataplane
    assert dataplane is not None
    stats = dataplane.statistics()
    return stats.entries == entries and stats.pending == 0 and dataplane.sink.state == dataplane.translator.entries  # type: ignore[attr-defined]


@contextlib.asynccontextmanager
async def lab() -> AsyncIterator[Speaker]:
    """B with A, then C, up and every route in; the clock at 0 (sessions up at 0).

    A comes up first and its routes are installed before C comes up, so that the counters are
    the same in every run (B reconciles at C's End-of-RIB, with nothing left to do).
    """
    async with open_speaker(A) as a, open_speaker(B) as b, open_speaker(C) as c:
        c.announce([SHARED], attributes=SHARED_ATTRIBUTES, next_hop="198.18.0.3")
        for other, address in ((a, A_ID), (c, C_ID)):
            left, right = trio.testing.memory_stream_pair()
            await other.attach(B_ID, left)
            await b.attach(address, right)
            await b.wait_established(address)
            await settle(lambda: programmed(b, 7) and b.rib.count(address) > 0)  # noqa: B023 (called at once)
        assert b.dataplane is not None
        await settle(lambda: b.dataplane is not None and b.dataplane.statistics().reconciled)
        assert len(b.rib) == 5
        yield b


@pytest.fixture
def sockdir() -> Iterator[Path]:
    """A short directory for sockets (AF_UNIX paths are limited to 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="evpn-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# --- 1. the answers -------------------------------------------------------------------------


def peer(address: str, state: str, since: float | None) -> PeerStatistics:
    return PeerStatistics(address, 65002, state, since, 10, 11, 3, 4, 2, 1)


def test_peers_answer_uptime_from_established_since() -> None:
    stats = SpeakerStatistics((peer("127.0.0.2", "ESTABLISHED", 100.0), peer("127.0.0.3", "ACTIVE", None)), 3)
    got = peers_answer(B.speaker, stats, now=190061.5)
    assert got == {
        "router_id": B_ID,
        "asn": ASN,
        "local_routes": 3,
        "peers": [
            {
                "address": "127.0.0.2",
                "asn": 65002,
                "state": "ESTABLISHED",
                "uptime": 189961.5,
                "messages_in": 10,
                "messages_out": 11,
                "updates_in": 3,
                "updates_out": 4,
                "routes_received": 2,
                "routes_advertised": 1,
            },
            {
                "address": "127.0.0.3",
                "asn": 65002,
                "state": "ACTIVE",
                "uptime": None,
                "messages_in": 10,
                "messages_out": 11,
                "updates_in": 3,
                "updates_out": 4,
                "routes_received": 2,
                "routes_advertised": 1,
            },
        ],
    }
    text = evpn.cli.show.peers_text(got)
    assert text[2].split() == [
        "Neighbor",
        "AS",
        "State",
        "Up/Down",
        "MsgRcvd",
        "MsgSent",
        "UpdRcvd",
        "UpdSent",
        "PfxRcd",
        "PfxSnt",
    ]
    assert text[3].split() == ["127.0.0.2", "65002", "ESTABLISHED", "2d04h46m", "10", "11", "3", "4", "2", "1"]
    assert text[4].split()[3] == "-"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "-"),
        (0.4, "00:00:00"),
        (65, "00:01:05"),
        (86399, "23:59:59"),
        (86400, "1d00h00m"),
        (7 * 86400 + 3600, "01w0d01h"),
    ],
)
def test_format_uptime(seconds: float | None, text: str) -> None:
    assert format_uptime(seconds) == text


def test_table_aligns_numbers_right_and_text_left() -> None:
    assert table(("Name", "N"), [("a", 1), ("long name", 100)]) == [
        "Name         N",
        "a            1",
        "long name  100",
    ]
    assert table(("Name", "N"), []) == ["Name  N"]


def texts(group: Mapping[str, Any]) -> list[tuple[str, str, list[tuple[str, bool]]]]:
    """(route text, reason, [(from, best)]) per route of a group."""
    return [
        (
            evpn.cli.decode.route_text(r["route"]).split(" ")[0],
            r["reason"],
            [(p["from"], p["best"]) for p in r["paths"]],
        )
        for r in group["routes"]
    ]


T2 = "[2][192.0.2.1:1][0][48][02:aa:00:00:00:01][32][198.19.100.11]"
T3_A, T3_B = "[3][192.0.2.1:1][0][32][198.18.0.1]", "[3][192.0.2.2:1][0][32][198.18.0.2]"
T5_A, T5_B = "[5][192.0.2.1:2][0][24][198.19.50.0]", "[5][192.0.2.2:2][0][24][198.19.60.0]"


async def test_answers_from_a_running_speaker(mock_clock: trio.testing.MockClock) -> None:
    async with lab() as b:
        mock_clock.jump(65)
        got = answer(b, {"show": "peers"}, trio.current_time())
        assert [(p["address"], p["state"], p["uptime"], p["routes_received"]) for p in got["peers"]] == [
            (A_ID, "ESTABLISHED", 65.0, 3),
            (C_ID, "ESTABLISHED", 65.0, 1),
        ]
        assert got["local_routes"] == 2

        routes = answer(b, {"show": "routes"}, 0)
        (vni,) = routes["vnis"]
        assert vni["vni"] == 100
        assert texts(vni) == [
            (T2, "only-path", [(A_ID, True)]),
            (T3_A, "only-path", [(A_ID, True)]),
            (T3_B, "only-path", [("local", True)]),
        ]
        (vrf,) = routes["vrfs"]
        assert (vrf["vrf"], vrf["l3vni"]) == ("t1", 5000)
        assert texts(vrf) == [
            (T2, "only-path", [(A_ID, True)]),  # the MAC+IP route is in the VNI and, as a host route, in the VRF
            (T5_A, "router-id", [(A_ID, True), (C_ID, False)]),
            (T5_B, "only-path", [("local", True)]),
        ]
        assert routes["other"] == []
        shared = vrf["routes"][1]
        assert [p["next_hop"] for p in shared["paths"]] == ["198.18.0.1", "198.18.0.3"]
        assert shared["paths"][1]["attributes"]["extended_communities"][-1] == {
            "type": "router-mac",
            "mac": "02:aa:00:00:50:03",
        }
        assert answer(b, {"show": "routes", "vni": 100}, 0) == {"vnis": [vni], "vrfs": [], "other": []}
        assert answer(b, {"show": "routes", "vrf": "t1"}, 0) == {"vnis": [], "vrfs": [vrf], "other": []}

        assert answer(b, {"show": "vteps"}, 0) == {
            "vnis": [{"vni": 100, "vteps": [{"vtep": "198.18.0.1", "flood": {"vni": 100}, "macs": 1}]}]
        }
        assert answer(b, {"show": "vteps", "vni": 100}, 0) == answer(b, {"show": "vteps"}, 0)

        plane = answer(b, {"show": "dataplane"}, 0)
        assert {k: v for k, v in plane.items() if k not in ("entries",)} == {
            "sink": "MemorySink",
            "reconciled": True,
            "applied": 7,
            "failed": 0,
            "pending": 0,
            "failures": [],
        }
        assert [(e["kind"], e["device"]) for e in plane["entries"]] == [
            ("fdb", "vxlan100"),
            ("fdb", "vxlan5000"),
            ("flood", "vxlan100"),
            ("neighbor", "br100"),
            ("neighbor", "br5000"),
            ("route", "br5000"),
            ("route", "br5000"),
        ]
        assert plane["entries"][5] == {
            "kind": "route",
            "table": 254,
            "prefix": "198.19.50.0/24",
            "device": "br5000",
            "next_hops": ["198.18.0.1"],
        }
        # The desired entries are what the sink holds once nothing is pending.
        assert b.dataplane is not None
        sink = b.dataplane.sink
        assert isinstance(sink, MemorySink)
        assert sorted(map(json.dumps, plane["entries"])) == sorted(
            json.dumps(evpn.control.entry_json(e)) for e in sink.state.values()
        )


def received(
    rib: Rib, address: str, router_id: str, routes: Sequence[Any], communities: Sequence[Any], hop: str
) -> None:
    source = Source(address, ASN, int.from_bytes(ip_bytes(router_id), "big"), ibgp=True)
    rib.update(source, EVPN, routes, (ExtendedCommunities(tuple(communities)),), ip_bytes(hop))


def test_routes_answer_places_routes_by_import_and_by_label() -> None:
    rib = Rib(
        ASN,
        B_ID,
        vnis=[(100, [RouteTarget(ASN, 100)]), (200, [RouteTarget(ASN, 200)])],
        vrfs=[("t1", 5000, [RouteTarget(ASN, 5000)])],
    )
    # Received: by route target; a type-3 route that no VNI imports, and a type-5 route without a
    # Router's MAC (not imported: it could not be routed), are in no table.
    received(
        rib,
        A_ID,
        A_ID,
        [InclusiveMulticastRoute(rd="192.0.2.1:1", originator_ip="198.18.0.1")],
        [RouteTarget(ASN, 100), RouteTarget(ASN, 200)],
        "198.18.0.1",
    )
    received(
        rib,
        A_ID,
        A_ID,
        [InclusiveMulticastRoute(rd="192.0.2.1:9", originator_ip="198.18.0.1")],
        [RouteTarget(ASN, 999)],
        "198.18.0.1",
    )
    received(
        rib,
        A_ID,
        A_ID,
        [IPPrefixRoute(rd="192.0.2.1:2", prefix="10.0.0.0", prefix_length=8, label=5000)],
        [RouteTarget(ASN, 5000)],
        "198.18.0.1",
    )
    received(
        rib,
        A_ID,
        A_ID,
        [MacIpRoute(rd="192.0.2.1:1", mac="02:aa:00:00:00:01", label1=100)],
        [RouteTarget(ASN, 100)],
        "198.18.0.1",
    )
    # Ours: by label (label1, the PMSI tunnel label, label2 and the type-5 label).
    hop = ip_bytes("198.18.0.2")
    rib.originate(
        InclusiveMulticastRoute(rd="192.0.2.2:2", originator_ip="198.18.0.2"),
        (PmsiTunnel(label=200, tunnel_id=hop),),
        hop,
    )
    rib.originate(
        MacIpRoute(rd="192.0.2.2:1", mac="02:bb:00:00:00:01", ip="198.19.100.12", label1=100, label2=5000), (), hop
    )
    rib.originate(IPPrefixRoute(rd="192.0.2.2:3", prefix="10.2.0.0", prefix_length=16, label=5000), (), hop)
    rib.originate(Prefix.parse("198.51.100.0/24"), (), hop)

    def routes_of(group: Mapping[str, Any]) -> list[str]:
        return [evpn.cli.decode.route_text(r["route"]).split(" ")[0] for r in group["routes"]]

    got = routes_answer(rib)
    assert [routes_of(v) for v in got["vnis"]] == [
        [
            "[2][192.0.2.1:1][0][48][02:aa:00:00:00:01]",
            "[2][192.0.2.2:1][0][48][02:bb:00:00:00:01][32][198.19.100.12]",
            "[3][192.0.2.1:1][0][32][198.18.0.1]",
        ],
        ["[3][192.0.2.1:1][0][32][198.18.0.1]", "[3][192.0.2.2:2][0][32][198.18.0.2]"],
    ]
    assert [routes_of(v) for v in got["vrfs"]] == [
        ["[2][192.0.2.2:1][0][48][02:bb:00:00:00:01][32][198.19.100.12]", "[5][192.0.2.2:3][0][16][10.2.0.0]"]
    ]
    assert routes_of({"routes": got["other"]}) == [
        "[3][192.0.2.1:9][0][32][198.18.0.1]",
        "[5][192.0.2.1:2][0][8][10.0.0.0]",
        "198.51.100.0/24",
    ]
    text = evpn.cli.show.routes_text(got)
    assert "In no VNI or VRF: 3 routes" in text
    assert routes_answer(rib, vni=200)["vnis"] == [got["vnis"][1]]
    with pytest.raises(ValueError, match=r"VNI 300 is not configured \(configured VNIs: 100, 200\)"):
        routes_answer(rib, vni=300)
    with pytest.raises(ValueError, match=r"VRF 't2' is not configured \(configured VRFs: t1\)"):
        routes_answer(rib, vrf="t2")
    with pytest.raises(ValueError, match="VNI 300 is not configured"):
        vteps_answer(rib, vni=300)
    empty = Rib(ASN, B_ID)
    assert evpn.cli.show.routes_text(routes_answer(empty)) == ["no VNIs or VRFs configured, no routes"]
    assert evpn.cli.show.vteps_text(vteps_answer(empty)) == ["no VNIs configured"]


def test_vteps_answer_lists_vteps_with_macs_but_no_type_3_route() -> None:
    rib = Rib(ASN, B_ID, vnis=[(100, [RouteTarget(ASN, 100)])])
    target = [RouteTarget(ASN, 100)]
    received(
        rib, A_ID, A_ID, [InclusiveMulticastRoute(rd="192.0.2.1:1", originator_ip="198.18.0.1")], target, "198.18.0.1"
    )
    received(
        rib,
        C_ID,
        C_ID,
        [MacIpRoute(rd="192.0.2.3:1", mac=f"02:cc:00:00:00:0{n}", label1=100) for n in (1, 2)],
        target,
        "198.18.0.3",
    )
    got = vteps_answer(rib)
    assert got == {
        "vnis": [
            {
                "vni": 100,
                "vteps": [
                    {"vtep": "198.18.0.1", "flood": {"vni": 100}, "macs": 0},
                    {"vtep": "198.18.0.3", "flood": None, "macs": 2},
                ],
            }
        ]
    }
    assert evpn.cli.show.vteps_text(got) == [
        "VNI 100: 2 remote VTEPs",
        "VTEP        Flood    MACs",
        "198.18.0.1  VNI 100     0",
        "198.18.0.3  -           2",
    ]


async def test_answer_names_what_is_wrong_with_a_request() -> None:
    async with open_speaker(lab_config(B_ID, [], vnis=[{"vni": 100, "vtep": "198.18.0.2"}])) as b:
        cases = [
            ([1], "a request is a JSON object, not list: [1]"),
            ({}, 'no "show" key (one of: peers, routes, vteps, dataplane, process)'),
            ({"show": "bgp"}, 'unknown "show": "bgp" (one of: peers, routes, vteps, dataplane, process)'),
            ({"show": "process", "vni": 100}, 'unknown key "vni" in a "process" request (allowed: show)'),
            ({"show": "peers", "vni": 100}, 'unknown key "vni" in a "peers" request (allowed: show)'),
            ({"show": "vteps", "vrf": "t1"}, 'unknown key "vrf" in a "vteps" request (allowed: show, vni)'),
            ({"show": "routes", "vni": "100"}, '"vni" must be an integer, not "100"'),
            ({"show": "routes", "vni": True}, '"vni" must be an integer, not true'),
            ({"show": "routes", "vrf": 5}, '"vrf" must be a string, not 5'),
            ({"show": "routes", "vni": 200}, "VNI 200 is not configured (configured VNIs: 100)"),
            ({"show": "routes", "vrf": "t1"}, "VRF 't1' is not configured (configured VRFs: none)"),
        ]
        for request, error in cases:
            assert answer(b, request, 0) == {"error": error}
        assert answer(b, {"show": "dataplane"}, 0) == {"sink": None}
        assert dataplane_answer(None) == {"sink": None}
        assert evpn.cli.show.dataplane_text({"sink": None}) == ['no dataplane ([dataplane] sink = "none")']
        assert evpn.cli.show.peers_text(answer(b, {"show": "peers"}, 0))[-1] == "no peers configured"


DOC_PROCESS = ProcessState(
    pid=4242,
    rss_bytes=49352704,
    open_fds=15,
    threads=5,
    tasks=20,
    uptime=65.0,
    task_names=(
        ("evpn.speaker.Speaker._event_task", 2),
        ("evpn.speaker.Speaker._peer_task", 2),
        ("evpn.speaker.Speaker._writer", 2),
        ("<TrioToken.run_sync_soon task>", 1),
        ("<init>", 1),
        ("evpn.cli.run._serve", 1),
        ("evpn.cli.run._serve.<locals>.print_events", 1),
        ("evpn.control.serve_control", 1),
        ("evpn.sink.dataplane.Dataplane.run", 1),
        ("evpn.speaker.Speaker._learn", 1),
        ("evpn.speaker.Speaker._listen", 1),
        ("evpn.speaker.Speaker._local_changes_task", 1),
        ("evpn.speaker.Speaker._reader", 1),
        ("evpn.speaker.Speaker._run", 1),
        ("trio._highlevel_serve_listeners._run_handler", 1),
        ("trio._highlevel_serve_listeners._serve_one_listener", 1),
        ("trio.serve_listeners", 1),
    ),
)
"""The figures docs/cli.md shows for ``evpn show process``."""


def own_fds() -> int:
    return len(os.listdir("/proc/self/fd")) - 1  # without the descriptor that lists them


def vm_rss() -> int:
    status = Path("/proc/self/status").read_text()
    return next(int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:"))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux /proc")
async def test_process_answer() -> None:
    """``show process`` counts what is there: a socket opened is one more descriptor, tasks
    started are that many more tasks, and both go back when they are closed and done."""
    async with open_speaker(lab_config(B_ID, [A_ID])) as b:
        await trio.sleep(0)
        first = answer(b, {"show": "process"}, 0)
        assert set(first) == {"pid", "rss_bytes", "open_fds", "threads", "tasks", "uptime", "task_names"}
        assert sum(first["task_names"].values()) == first["tasks"]
        assert first["pid"] == os.getpid()
        assert first["open_fds"] == own_fds()
        assert 0 < first["rss_bytes"] <= 2 * vm_rss()
        assert first["threads"] >= 1 and first["uptime"] >= 0
        # The speaker's own tasks are there: listener-less B has its peer's task, writer and event task.
        assert first["tasks"] >= 4

        release = trio.Event()
        with socket.socket() as extra:
            assert extra.fileno() >= 0
            async with trio.open_nursery() as nursery:
                for _ in range(5):
                    nursery.start_soon(release.wait)
                await trio.sleep(0)
                during = answer(b, {"show": "process"}, 0)
                # The nursery's own task (this one) was already counted: 5 children more.
                assert during["tasks"] == first["tasks"] + 5
                assert during["task_names"]["trio.Event.wait"] == 5
                assert during["open_fds"] == first["open_fds"] + 1
                release.set()
        after = answer(b, {"show": "process"}, 0)
        assert (after["tasks"], after["open_fds"]) == (first["tasks"], first["open_fds"])
        assert after["uptime"] >= first["uptime"]


def test_process_text() -> None:
    lines = evpn.cli.show.process_text(process_answer(DOC_PROCESS))
    assert lines[:7] == [
        "PID         4242",
        "Uptime      00:01:05",
        "RSS         47.1 MiB (49352704 bytes)",
        "Open fds    15",
        "Threads     5",
        "Trio tasks  20",
        "",
    ]
    assert lines[7:10] == [
        "Tasks  Function",
        "    2  evpn.speaker.Speaker._event_task",
        "    2  evpn.speaker.Speaker._peer_task",
    ]
    assert len(lines) == 8 + len(DOC_PROCESS.task_names)
    unknown = ProcessState(pid=7, rss_bytes=None, open_fds=None, threads=None, tasks=3, uptime=None)
    assert evpn.cli.show.process_text(process_answer(unknown))[1:5] == [
        "Uptime      -",
        "RSS         -",
        "Open fds    -",
        "Threads     -",
    ]


class RefusingSink(MemorySink):
    """A sink that refuses every operation, as a kernel without the devices would."""

    async def apply(self, ops: Sequence[Op]) -> list[OpError]:
        return [OpError(op, "No such device") for op in ops]

    async def reconcile(self, desired: Mapping[object, Entry]) -> list[OpError]:
        return [OpError(Op(Action.REPLACE, entry), "No such device") for entry in desired.values()]


async def test_dataplane_answer_reports_failed_operations(autojump_clock: trio.testing.MockClock) -> None:
    a = lab_config(A_ID, [B_ID], vnis=[{"vni": 100, "vtep": "198.18.0.1", "macs": [{"mac": "02:aa:00:00:00:01"}]}])
    b = lab_config(B_ID, [A_ID], vnis=[{"vni": 100, "vtep": "198.18.0.2"}])
    with trio.fail_after(60):
        async with open_speaker(a) as one, open_speaker(b, sink=RefusingSink()) as two:
            left, right = trio.testing.memory_stream_pair()
            await one.attach(B_ID, left)
            await two.attach(A_ID, right)
            assert two.dataplane is not None
            while not two.dataplane.statistics().reconciled:
                await trio.sleep(0.01)
            got = dataplane_answer(two.dataplane)
    assert (got["sink"], got["reconciled"], got["applied"], got["pending"]) == ("RefusingSink", True, 0, 0)
    assert got["failed"] == len(got["failures"]) >= 2
    flood = {"kind": "flood", "device": "vxlan100", "vtep": "198.18.0.1"}
    fdb = {"kind": "fdb", "device": "vxlan100", "mac": "02:aa:00:00:00:01", "vtep": "198.18.0.1", "sticky": False}
    assert got["entries"] == [fdb, flood]
    assert got["failures"][-1]["reason"] == "No such device"
    assert {json.dumps(f["entry"]) for f in got["failures"]} == {json.dumps(fdb), json.dumps(flood)}
    text = evpn.cli.show.dataplane_text(got)
    assert (
        text[0] == f"sink RefusingSink: reconciled, 2 entries, 0 operations applied, {got['failed']} failed, 0 pending"
    )
    failures = text.index("Failed operations (most recent last)")
    assert text[failures + 1].split() == ["Action", "Entry", "Reason"]
    assert "replace  fdb 02:aa:00:00:00:01 dev vxlan100 dst 198.18.0.1  No such device" in text[failures + 2 :]
    assert "replace  fdb 00:00:00:00:00:00 dev vxlan100 dst 198.18.0.1  No such device" in text[failures + 2 :]


# --- 2. the socket --------------------------------------------------------------------------


def exchange(path: Path, data: bytes) -> list[dict[str, Any]]:
    """Send ``data`` as it is, close our side, and read every answer line."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(10)
        conn.connect(str(path))
        conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return [json.loads(line) for line in b"".join(chunks).splitlines()]


async def test_socket_round_trip(mock_clock: trio.testing.MockClock, sockdir: Path) -> None:
    path = sockdir / "b.sock"
    async with lab() as b, trio.open_nursery() as nursery:
        await nursery.start(serve_control, b, path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_ISSOCK(path.stat().st_mode)
        mock_clock.jump(5)
        peers = await trio.to_thread.run_sync(query, path, {"show": "peers"})
        assert peers == answer(b, {"show": "peers"}, trio.current_time())
        assert peers["peers"][0]["uptime"] == 5.0
        # Several requests on one connection, blank lines skipped, bad ones answered with an error.
        many = b'{"show": "vteps"}\n\n{"show": "dataplane"}\nnot json\n{"show": "routes", "vni": 7}\n'
        got = await trio.to_thread.run_sync(exchange, path, many)
        assert got[0] == vteps_answer(b.rib)
        assert got[1] == dataplane_answer(b.dataplane)
        assert got[2]["error"].startswith("a request is one JSON object per line: Expecting value")
        assert got[3] == {"error": "VNI 7 is not configured (configured VNIs: 100)"}
        too_long = b'{"show": "' + b"x" * 70000
        assert await trio.to_thread.run_sync(exchange, path, too_long) == [
            {"error": "request longer than 65536 bytes without a newline"}
        ]
        nursery.cancel_scope.cancel()
    assert not path.exists()


async def test_a_live_socket_is_refused_and_a_stale_one_replaced(
    mock_clock: trio.testing.MockClock, sockdir: Path
) -> None:
    path = sockdir / "s.sock"
    async with open_speaker(lab_config(B_ID, [])) as b, trio.open_nursery() as nursery:
        # A stale socket: a file nobody listens on (a speaker that was killed).
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(str(path))
        stale.close()
        assert path.exists()
        await nursery.start(serve_control, b, path)
        assert (await trio.to_thread.run_sync(query, path, {"show": "dataplane"})) == {"sink": None}

        with pytest.raises(ControlError, match=f"control socket {path}: another process is listening on it"):
            await nursery.start(serve_control, b, path)
        assert path.exists()  # the failed start left the live socket alone

        plain = sockdir / "file"
        plain.write_text("")
        with pytest.raises(ControlError, match=f"control socket {plain}: a file that is not a socket is there"):
            await nursery.start(serve_control, b, plain)
        missing = sockdir / "no" / "x.sock"
        with pytest.raises(ControlError, match=f"control socket {missing}: No such file or directory"):
            await nursery.start(serve_control, b, missing)
        nursery.cancel_scope.cancel()
    assert not path.exists()


def test_query_names_the_socket_when_no_speaker_answers(sockdir: Path) -> None:
    missing = sockdir / "none.sock"
    with pytest.raises(ControlError, match=f"control socket {missing}: no such socket"):
        query(missing, {"show": "peers"})
    stale = sockdir / "stale.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind(str(stale))
    with pytest.raises(ControlError, match=f"control socket {stale}: nothing listens on it"):
        query(stale, {"show": "peers"})


def test_query_reports_a_server_that_does_not_answer_properly(sockdir: Path) -> None:
    path = sockdir / "odd.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen(4)

        def serve(answers: list[bytes]) -> None:
            for data in answers:
                conn, _ = server.accept()
                with conn:
                    conn.recv(65536)
                    conn.sendall(data)

        thread = threading.Thread(target=serve, args=([b"", b"[1]\n", b"{nope\n"],))
        thread.start()
        with pytest.raises(
            ControlError, match=f"control socket {path}: the speaker closed the connection without answering"
        ):
            query(path, {"show": "peers"})
        with pytest.raises(ControlError, match=f"control socket {path}: the answer is not a JSON object"):
            query(path, {"show": "peers"})
        with pytest.raises(ControlError, match=f"control socket {path}: the answer is not JSON"):
            query(path, {"show": "peers"})
        thread.join()


# --- 3. evpn show ---------------------------------------------------------------------------


def run_main(argv: list[str]) -> tuple[int, str, str]:
    """``main(argv)`` with its stdout and stderr (in a thread: the server runs in trio)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


@contextlib.asynccontextmanager
async def serving(clock: trio.testing.MockClock, path: Path) -> AsyncIterator[Speaker]:
    """The lab's B answering on ``path``, 65 s after its sessions came up."""
    async with lab() as b, trio.open_nursery() as nursery:
        await nursery.start(serve_control, b, path)
        clock.jump(65)
        await settle(lambda: True)  # the keepalives due by then are exchanged
        yield b
        nursery.cancel_scope.cancel()


async def test_show_tables_and_json(mock_clock: trio.testing.MockClock, sockdir: Path) -> None:
    path = sockdir / "b.sock"
    async with serving(mock_clock, path) as b:
        for what, extra in (
            ("peers", []),
            ("routes", ["--vni", "100"]),
            ("routes", ["--vrf", "t1"]),
            ("vteps", []),
            ("dataplane", []),
        ):
            status, out, err = await trio.to_thread.run_sync(
                run_main, ["show", what, "--socket", str(path), *extra, "--json"]
            )
            assert (status, err) == (0, "")
            request: dict[str, Any] = {"show": what}
            if extra:
                request[extra[0][2:]] = int(extra[1]) if extra[1].isdigit() else extra[1]
            assert out.count("\n") == 1
            assert json.loads(out) == answer(b, request, trio.current_time())

        status, out, err = await trio.to_thread.run_sync(run_main, ["show", "routes", "--socket", str(path)])
        assert (status, err) == (0, "")
        lines = out.splitlines()
        assert lines[0] == "VNI 100: 3 routes"
        assert lines[1].split() == ["Route", "Next", "hop", "From", "Reason"]
        assert lines[2].split() == ["*>", T2, "198.18.0.1", A_ID, "only-path"]
        vrf = lines.index("VRF t1 (L3 VNI 5000): 3 routes")
        assert lines[vrf + 3].split() == ["*>", T5_A, "198.18.0.1", A_ID, "router-id"]
        assert lines[vrf + 4].split() == ["*", "198.18.0.3", C_ID]
        # Columns line up: every "From" starts where its header does.
        column = lines[1].index("From")
        assert all(line[column - 2 : column] == "  " for line in lines[2:5])

        status, out, err = await trio.to_thread.run_sync(
            run_main, ["show", "vteps", "--socket", str(path), "--vni", "100"]
        )
        assert (status, out.splitlines()[0], err) == (0, "VNI 100: 1 remote VTEP", "")

        status, out, err = await trio.to_thread.run_sync(
            run_main, ["show", "routes", "--socket", str(path), "--vni", "300"]
        )
        assert (status, out, err) == (1, "", "evpn show: VNI 300 is not configured (configured VNIs: 100)\n")


def test_show_without_a_speaker_exits_1(sockdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = sockdir / "none.sock"
    status, out, err = run_main(["show", "peers", "--socket", str(missing)])
    assert (status, out) == (1, "")
    assert err == f"evpn show: control socket {missing}: no such socket (is `evpn run` running with it?)\n"
    stale = sockdir / "stale.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind(str(stale))
    status, _, err = run_main(["show", "dataplane", "--socket", str(stale)])
    assert status == 1
    assert err == f"evpn show: control socket {stale}: nothing listens on it (the speaker is not running)\n"

    # Without --socket: the only socket in the default directory.
    empty = sockdir / "empty"
    empty.mkdir()
    monkeypatch.setattr(evpn.cli.show, "default_control_dir", lambda: empty)
    status, _, err = run_main(["show", "peers"])
    assert (status, err) == (
        1,
        f"evpn show: no control socket in {empty} (is `evpn run` running?): pass --socket PATH\n",
    )
    several = sockdir / "several"
    several.mkdir()
    for name in ("a.sock", "b.sock"):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.bind(str(several / name))
    (several / "c.sock").write_text("")  # not a socket: not a candidate
    monkeypatch.setattr(evpn.cli.show, "default_control_dir", lambda: several)
    status, _, err = run_main(["show", "peers"])
    assert (status, err) == (
        1,
        f"evpn show: several control sockets in {several}: pass --socket with one of {several / 'a.sock'}, {several / 'b.sock'}\n",
    )
    monkeypatch.setattr(evpn.cli.show, "default_control_dir", lambda: stale.parent)
    status, _, err = run_main(["show", "peers"])  # the only socket there: the stale one
    assert (status, err) == (
        1,
        f"evpn show: control socket {stale}: nothing listens on it (the speaker is not running)\n",
    )
    monkeypatch.setattr(evpn.cli.show, "default_control_dir", lambda: None)
    status, _, err = run_main(["show", "peers"])
    assert (status, err) == (
        1,
        "evpn show: no default control socket directory (not root, no XDG_RUNTIME_DIR): pass --socket PATH\n",
    )


def test_show_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show"]) == 2
    assert "WHAT" in capsys.readouterr().err
    assert main(["show", "peers", "--vni", "100"]) == 2
    assert "unrecognized arguments: --vni 100" in capsys.readouterr().err
    assert main(["show", "vteps", "--vrf", "t1"]) == 2
    assert main(["show", "routes", "--vni", "x"]) == 2


def doc_examples() -> list[tuple[str, list[str]]]:
    """Every ``$ evpn show ...`` command in docs/cli.md's code blocks, with the lines after it."""
    examples: list[tuple[str, list[str]]] = []
    in_block = False
    current: list[str] | None = None
    for line in DOCS.read_text().splitlines():
        if line.startswith("```"):
            in_block, current = not in_block, None
        elif in_block and line.startswith("$ "):
            current = None
            if line.startswith("$ evpn show"):
                current = []
                examples.append((line[2:], current))
        elif current is not None:
            current.append(line)
    return examples


def test_docs_have_show_examples() -> None:
    commands = [command for command, _ in doc_examples()]
    assert {shlex.split(c)[2] for c in commands} == {"peers", "routes", "vteps", "dataplane", "process"}
    assert any("--json" in c for c in commands)


async def test_docs_show_examples_are_what_show_prints(
    mock_clock: trio.testing.MockClock, sockdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(evpn.cli.show, "default_control_dir", lambda: sockdir)  # as /run/evpn
    # The page's process figures are an example's: the real ones are checked in test_process_answer.
    monkeypatch.setattr(evpn.control, "read_process_state", lambda: DOC_PROCESS)
    async with serving(mock_clock, sockdir / f"{B_ID}.sock"):
        for command, expected in doc_examples():
            status, out, err = await trio.to_thread.run_sync(run_main, shlex.split(command)[1:])
            assert (out + err).splitlines() == expected, command
            assert status == (1 if err else 0)


# --- 4. evpn run --control, and the status line --------------------------------------------


def test_run_control_end_to_end(sockdir: Path) -> None:
    port = free_port()
    listener_config, connector_config = sockdir / "listener.toml", sockdir / "connector.toml"
    listener_config.write_text(LISTENER.format(port=port))
    connector_config.write_text(CONNECTOR.format(port=port))
    listener_socket, connector_socket = sockdir / "l.sock", sockdir / "c.sock"
    runs: list[Run] = []
    try:
        runs.append(Run(listener_config, "--json", "--control", str(listener_socket)))
        runs[0].wait_stderr(f"listening on 127.0.0.1 port {port}")
        runs[0].wait_stderr(f"control socket on {listener_socket}")
        runs.append(Run(connector_config, "--json", "--control", str(connector_socket)))
        runs[0].event("end_of_rib")
        runs[1].event("end_of_rib")
        status, out, err = run_main(["show", "peers", "--socket", str(listener_socket), "--json"])
        assert (status, err) == (0, "")
        (up,) = json.loads(out)["peers"]
        assert (up["address"], up["state"], up["routes_received"]) == ("127.0.0.2", "ESTABLISHED", 0)
        assert 0 <= up["uptime"] < 10
        status, out, _ = run_main(["show", "peers", "--socket", str(connector_socket)])
        assert status == 0
        assert out.splitlines()[0] == "BGP router identifier 198.18.2.2, local AS 65002, 0 local routes"
        assert out.splitlines()[3].split()[:3] == ["127.0.0.1", "65001", "ESTABLISHED"]
        assert stat.S_IMODE(listener_socket.stat().st_mode) == 0o600

        # A second speaker on a socket in use does not start.
        result = subprocess.run(
            [sys.executable, "-m", "evpn", "run", "-c", str(connector_config), "--control", str(listener_socket)],
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert result.returncode == 1
        assert f"evpn run: control socket {listener_socket}: another process is listening on it" in result.stderr

        for run in runs:
            assert run.stop(signal.SIGTERM) < 5
            assert run.proc.returncode == 0, run.stderr
            assert "\r" not in run.stderr and "\x1b[" not in run.stderr  # stderr is a file: no status line
        assert not listener_socket.exists() and not connector_socket.exists()
    finally:
        for run in runs:
            run.kill()


async def test_run_control_paths(
    sockdir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(evpn.cli.run, "default_control_dir", lambda: sockdir / "run")
    assert control_path(B) == str(sockdir / "run" / f"{B_ID}.sock")
    monkeypatch.setattr(evpn.cli.run, "default_control_dir", lambda: None)
    assert control_path(B) is None

    path = str(sockdir / "run" / "b.sock")
    async with open_speaker(lab_config(B_ID, [])) as b, trio.open_nursery() as nursery:
        # The default path: the directory is made (0700), a busy socket only gets a warning.
        assert await evpn.cli.run._start_control(nursery, b, path, explicit=False)
        assert stat.S_IMODE((sockdir / "run").stat().st_mode) == 0o700
        with caplog.at_level(logging.WARNING, logger="evpn"):
            assert await evpn.cli.run._start_control(nursery, b, path, explicit=False)
        assert (
            f"control socket {path}: another process is listening on it (is a speaker running?): running without a control socket (pass --control PATH)"
            in caplog.text
        )
        unmakeable = str(sockdir / "file" / "x" / "b.sock")
        (sockdir / "file").write_text("")
        with caplog.at_level(logging.WARNING, logger="evpn"):
            assert await evpn.cli.run._start_control(nursery, b, unmakeable, explicit=False)
        assert f"cannot create {sockdir / 'file' / 'x'}" in caplog.text
        # An explicit path: the speaker must not run without it.
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            assert not await evpn.cli.run._start_control(nursery, b, path, explicit=True)
        assert (
            err.getvalue()
            == f"evpn run: control socket {path}: another process is listening on it (is a speaker running?)\n"
        )
        nursery.cancel_scope.cancel()


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_status_line_rewrites_one_line() -> None:
    terminal = Terminal()
    status = StatusLine(terminal)
    status.show("initial transfer: 127.0.0.2 10 routes")
    status.show("initial transfer: 127.0.0.2 10 routes")  # unchanged: not written again
    status.show("initial transfer: 127.0.0.2 20 routes")
    status.clear()
    status.clear()
    assert terminal.getvalue() == (
        "\rinitial transfer: 127.0.0.2 10 routes\x1b[K\rinitial transfer: 127.0.0.2 20 routes\x1b[K\r\x1b[K"
    )
    status.show("x" * 1000)
    assert len(status.text) < 1000  # cut to the terminal's width: a wrapped line could not be rewritten


def test_progress_text_and_table_transfers() -> None:
    stats = SpeakerStatistics((peer("127.0.0.2", "ESTABLISHED", 0.0), peer("127.0.0.3", "ESTABLISHED", 0.0)), 0)
    transfers = TableTransfers()
    transfers.update(PeerUp("127.0.0.2", 65002, ("l2vpn-evpn", "ipv4-unicast")))
    transfers.update(PeerUp("127.0.0.3", 65002, ("l2vpn-evpn",)))
    transfers.update(EndOfRib("127.0.0.2", "l2vpn-evpn", 2))
    assert transfers.peers == {"127.0.0.2", "127.0.0.3"}
    waiting = DataplaneStatistics(entries=5, applied=0, failed=0, pending=5, reconciled=False)
    assert progress_text(stats, transfers.peers, waiting) == (
        "initial transfer: 127.0.0.2 2 routes, 127.0.0.3 2 routes; dataplane: 5 entries, not reconciled yet"
    )
    transfers.update(EndOfRib("127.0.0.2", "ipv4-unicast", 0))
    transfers.update(PeerDown("127.0.0.3", "Hold Timer expired"))
    assert transfers.peers == set()
    applying = DataplaneStatistics(entries=5, applied=3, failed=0, pending=2, reconciled=True)
    assert progress_text(stats, transfers.peers, applying) == "dataplane: 2 operations pending, 3 applied"
    done = DataplaneStatistics(entries=5, applied=5, failed=0, pending=0, reconciled=True)
    assert progress_text(stats, transfers.peers, done) == ""
    assert progress_text(stats, (), None) == ""


async def test_report_progress_until_reconciled(autojump_clock: trio.testing.MockClock) -> None:
    terminal = Terminal()
    status = StatusLine(terminal)
    with trio.fail_after(60):
        b_config = lab_config(B_ID, [A_ID], dataplane={"sink": "memory"})
        async with open_speaker(A) as a, open_speaker(b_config) as b, trio.open_nursery() as nursery:
            nursery.start_soon(report_progress, b, status)
            await trio.sleep(1)
            assert status.text == "dataplane: 0 entries, not reconciled yet"  # A is not up yet
            left, right = trio.testing.memory_stream_pair()
            await a.attach(B_ID, left)
            await b.attach(A_ID, right)
            await trio.sleep(1)
            assert status.text == ""  # A sent its table and End-of-RIB; reconciled
            nursery.cancel_scope.cancel()
    assert terminal.getvalue().endswith("\r\x1b[K")
