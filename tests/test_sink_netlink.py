"""NetlinkSink against the real kernel, in network namespaces of our own.

Each test gets a fresh namespace ``evpnsink-PID-N`` (deleted afterwards, pass or fail) with
198.18.0.1/32 on ``lo`` (the VTEP address), an L2 VNI (``br100`` + ``vxlan100``, SVI
198.18.100.1/24) and an L3 VNI (``br5000`` + ``vxlan5000``, address 198.18.50.1/24, routes in
table 5000), as ``tests/interop/lab.py`` builds them.  Nothing is sent anywhere: the VXLAN
devices have no peers.  The kernel state is read back with ``bridge -j`` and ``ip -j``.

Needs root and pyroute2; without them the tests are skipped, except under ``CI=true`` where that
is a failure.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import trio
from interop.lab import Namespace

from evpn.sink.base import OpError
from evpn.sink.ops import Action, Entry, FdbEntry, FloodEntry, NeighborEntry, Op, RouteEntry
from evpn.sink.translate import L2Devices

VTEP = "198.18.0.1"
TABLE = 5000


def _missing() -> list[str]:
    missing = []
    if os.geteuid() != 0:
        missing.append("not root (network namespaces need it)")
    if importlib.util.find_spec("pyroute2") is None:
        missing.append("pyroute2 (pip install evpn[netlink])")
    for tool in ("ip", "bridge"):
        if shutil.which(tool) is None:
            missing.append(f"the {tool} command (iproute2)")
    return missing


def _require(missing: list[str]) -> None:
    if not missing:
        return
    reason = "netlink sink prerequisites missing: " + "; ".join(missing)
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason + " (CI=true: these tests must run)")
    pytest.skip(reason)


def ip(text: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text)


def mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


@pytest.fixture
def ns() -> Iterator[Namespace]:
    _require(_missing())
    space = Namespace("evpnsink")
    try:
        space.create()
        try:
            space.ip("addr", "add", f"{VTEP}/32", "dev", "lo")
            for vni in (100, 5000):
                space.add_vxlan_bridge(vni, VTEP)
        except RuntimeError as exc:
            _require([f"bridge/vxlan devices ({exc})"])
        space.ip("addr", "add", "198.18.100.1/24", "dev", "br100")
        space.ip("addr", "add", "198.18.50.1/24", "dev", "br5000")
        space.ip("link", "add", "brdown", "type", "bridge")  # left down: routes through it are refused
        yield space
    finally:
        space.delete()


@pytest.fixture
async def sink(ns: Namespace) -> Any:
    from evpn.sink.netlink import NetlinkSink

    the_sink = NetlinkSink(netns=ns.name)
    try:
        yield the_sink
    finally:
        await the_sink.aclose()


async def test_missing_namespace_is_an_error_and_is_not_created() -> None:
    _require(_missing())
    from evpn.sink.netlink import NetlinkSink

    name = f"evpnsink-{os.getpid()}-absent"
    with pytest.raises(OSError, match=name):
        NetlinkSink(netns=name)
    assert not os.path.exists(f"/run/netns/{name}")


# --- reading the kernel back ----------------------------------------------------------------------


def _json(ns: Namespace, *args: str, check: bool = True) -> list[dict[str, Any]]:
    result = ns.run(*args, check=check)
    return json.loads(result.stdout or "[]") if result.returncode == 0 else []  # type: ignore[no-any-return]


def fdb(ns: Namespace, dev: str = "vxlan100") -> set[tuple[str, str, tuple[str, ...], str]]:
    """The FDB entries on ``dev`` other than its own MAC: (mac, dst or master, flags, state)."""
    own = _json(ns, "ip", "-j", "link", "show", "dev", dev)[0]["address"]
    out = set()
    for e in _json(ns, "bridge", "-j", "fdb", "show", "dev", dev):
        if e["mac"] == own:
            continue
        where = e.get("dst") or f"master {e['master']}"
        out.add((e["mac"], where, tuple(sorted(e.get("flags", []))), e.get("state", "")))
    return out


def neighbours(ns: Namespace, dev: str = "br100") -> set[tuple[str, str, bool, tuple[str, ...], str]]:
    """(ip, lladdr, extern_learn, state, protocol) of the IPv4 and IPv6 neighbours on ``dev``."""
    out = set()
    for family in ("-4", "-6"):
        for e in _json(ns, "ip", "-j", family, "neigh", "show", "dev", dev):
            if e["dst"].startswith("fe80:"):
                continue
            out.add(
                (e["dst"], e.get("lladdr", ""), "extern_learn" in e, tuple(e.get("state", [])), e.get("protocol", ""))
            )
    return out


def routes(ns: Namespace, table: int = TABLE) -> dict[str, dict[str, Any]]:
    """The routes of ``table`` by destination (IPv4 and IPv6), kernel-made ones left out."""
    out = {}
    for family in ("-4", "-6"):
        # (check=False: "ip -6 route show table T" fails while the table has no IPv6 route yet)
        for r in _json(ns, "ip", "-j", family, "route", "show", "table", str(table), check=False):
            if r.get("protocol") != "kernel":
                out[r["dst"]] = r
    return out


def hops(route: dict[str, Any]) -> list[tuple[str, str, tuple[str, ...]]]:
    """(gateway, dev, flags) of each next hop."""
    nexthops = route.get("nexthops") or [route]
    return [(h["gateway"], h["dev"], tuple(h.get("flags", []))) for h in nexthops]


def replace(*entries: Entry) -> list[Op]:
    return [Op(Action.REPLACE, entry) for entry in entries]


def remove(*entries: Entry) -> list[Op]:
    return [Op(Action.REMOVE, entry) for entry in entries]


M1, M2, M3 = mac("02:00:00:00:00:01"), mac("02:00:00:00:00:02"), mac("02:00:00:00:00:03")
RMAC = mac("02:50:00:00:00:02")
V2, V3, V4 = ip("198.18.0.2"), ip("198.18.0.3"), ip("198.18.0.4")


# --- entry kinds --------------------------------------------------------------------------------------


async def test_fdb_replace_move_and_remove(ns: Namespace, sink: Any) -> None:
    assert await sink.apply(replace(FdbEntry("vxlan100", M1, V2))) == []
    assert fdb(ns) == {
        ("02:00:00:00:00:01", "198.18.0.2", ("extern_learn", "self"), ""),
        ("02:00:00:00:00:01", "master br100", ("extern_learn",), ""),
    }
    # The MAC moves to another VTEP: replaced in place.
    assert await sink.apply(replace(FdbEntry("vxlan100", M1, V3))) == []
    assert fdb(ns) == {
        ("02:00:00:00:00:01", "198.18.0.3", ("extern_learn", "self"), ""),
        ("02:00:00:00:00:01", "master br100", ("extern_learn",), ""),
    }
    assert await sink.apply(remove(FdbEntry("vxlan100", M1, V3))) == []
    assert fdb(ns) == set()
    # Removing what is not there is not an error.
    assert await sink.apply(remove(FdbEntry("vxlan100", M1, V3))) == []


async def test_sticky_fdb(ns: Namespace, sink: Any) -> None:
    assert await sink.apply(replace(FdbEntry("vxlan100", M2, V2, sticky=True))) == []
    assert fdb(ns) == {
        ("02:00:00:00:00:02", "198.18.0.2", ("self", "sticky"), "static"),
        ("02:00:00:00:00:02", "master br100", ("sticky",), "static"),
    }
    # No longer sticky: an ordinary remote MAC again, in both FDBs.
    assert await sink.apply(replace(FdbEntry("vxlan100", M2, V2))) == []
    assert fdb(ns) == {
        ("02:00:00:00:00:02", "198.18.0.2", ("extern_learn", "self"), ""),
        ("02:00:00:00:00:02", "master br100", ("extern_learn",), ""),
    }
    assert await sink.apply(replace(FdbEntry("vxlan100", M2, V2, sticky=True))) == []
    assert await sink.apply(remove(FdbEntry("vxlan100", M2, V2, sticky=True))) == []
    assert fdb(ns) == set()


async def test_flood_list_append_and_remove_one(ns: Namespace, sink: Any) -> None:
    assert await sink.apply(replace(FloodEntry("vxlan100", V2), FloodEntry("vxlan100", V3))) == []
    assert fdb(ns) == {
        ("00:00:00:00:00:00", "198.18.0.2", ("extern_learn", "self"), "permanent"),
        ("00:00:00:00:00:00", "198.18.0.3", ("extern_learn", "self"), "permanent"),
    }
    assert await sink.apply(remove(FloodEntry("vxlan100", V2))) == []
    assert fdb(ns) == {("00:00:00:00:00:00", "198.18.0.3", ("extern_learn", "self"), "permanent")}
    # Appending what is there changes nothing.
    assert await sink.apply(replace(FloodEntry("vxlan100", V3))) == []
    assert fdb(ns) == {("00:00:00:00:00:00", "198.18.0.3", ("extern_learn", "self"), "permanent")}


async def test_neighbours(ns: Namespace, sink: Any) -> None:
    n4 = NeighborEntry("br100", ip("198.18.100.11"), M1)
    n6 = NeighborEntry("br100", ip("2001:db8:100::11"), M2)
    assert await sink.apply(replace(n4, n6)) == []
    assert neighbours(ns) == {
        ("198.18.100.11", "02:00:00:00:00:01", True, ("NOARP",), "235"),
        ("2001:db8:100::11", "02:00:00:00:00:02", True, ("NOARP",), "235"),
    }
    assert await sink.apply(replace(NeighborEntry("br100", ip("198.18.100.11"), M3))) == []
    assert ("198.18.100.11", "02:00:00:00:00:03", True, ("NOARP",), "235") in neighbours(ns)
    assert await sink.apply(remove(n4, n6)) == []
    assert neighbours(ns) == set()


async def test_a_prefix_of_a_connected_subnet_leaves_the_connected_route(ns: Namespace, sink: Any) -> None:
    """A remote VTEP advertising our own subnet (198.18.100.0/24 on br100 here) as a type-5
    prefix in the main table: our route goes beside the kernel's connected one, below it
    (metric 20, as zebra), and removing ours leaves the connected route."""

    def main_table() -> list[tuple[str, str, int]]:
        return sorted(
            (r.get("protocol", ""), r["dev"], r.get("metric", 0))
            for r in _json(ns, "ip", "-j", "-4", "route", "show", "table", "main")
            if r["dst"] == "198.18.100.0/24"
        )

    assert main_table() == [("kernel", "br100", 0)]
    ours = RouteEntry(254, ip("198.18.100.0"), 24, "br5000", (V2,))
    assert await sink.apply(replace(ours)) == []
    assert main_table() == [("235", "br5000", 20), ("kernel", "br100", 0)]
    assert await sink.apply(remove(ours)) == []
    assert main_table() == [("kernel", "br100", 0)]


async def test_l3_vni_routes(ns: Namespace, sink: Any) -> None:
    single = RouteEntry(TABLE, ip("198.19.1.0"), 24, "br5000", (V2,))
    multi = RouteEntry(TABLE, ip("198.19.2.0"), 24, "br5000", (V2, V3))
    single6 = RouteEntry(TABLE, ip("2001:db8:1::"), 48, "br5000", (ip("::ffff:198.18.0.2"),))
    multi6 = RouteEntry(TABLE, ip("2001:db8:2::"), 48, "br5000", (ip("::ffff:198.18.0.2"), ip("::ffff:198.18.0.3")))
    ops = replace(
        FdbEntry("vxlan5000", RMAC, V2),
        NeighborEntry("br5000", V2, RMAC),
        NeighborEntry("br5000", ip("::ffff:198.18.0.2"), RMAC),
        single,
        multi,
        single6,
        multi6,
    )
    assert await sink.apply(ops) == []
    assert fdb(ns, "vxlan5000") == {
        ("02:50:00:00:00:02", "198.18.0.2", ("extern_learn", "self"), ""),
        ("02:50:00:00:00:02", "master br5000", ("extern_learn",), ""),
    }
    assert ("198.18.0.2", "02:50:00:00:00:02", True, ("NOARP",), "235") in neighbours(ns, "br5000")
    table = routes(ns)
    assert set(table) == {"198.19.1.0/24", "198.19.2.0/24", "2001:db8:1::/48", "2001:db8:2::/48"}
    assert all(r["protocol"] == "235" for r in table.values())
    assert hops(table["198.19.1.0/24"]) == [("198.18.0.2", "br5000", ("onlink",))]
    assert sorted(hops(table["198.19.2.0/24"])) == [
        ("198.18.0.2", "br5000", ("onlink",)),
        ("198.18.0.3", "br5000", ("onlink",)),
    ]
    assert hops(table["2001:db8:1::/48"]) == [("::ffff:198.18.0.2", "br5000", ("onlink",))]
    assert sorted(hops(table["2001:db8:2::/48"])) == [
        ("::ffff:198.18.0.2", "br5000", ("onlink",)),
        ("::ffff:198.18.0.3", "br5000", ("onlink",)),
    ]
    # Multipath to single path and back, in place.
    assert await sink.apply(replace(RouteEntry(TABLE, ip("198.19.2.0"), 24, "br5000", (V3,)))) == []
    assert hops(routes(ns)["198.19.2.0/24"]) == [("198.18.0.3", "br5000", ("onlink",))]
    assert await sink.apply(remove(single, multi, single6, multi6)) == []
    assert routes(ns) == {}
    assert await sink.apply(remove(single)) == []  # already gone: fine


async def test_refused_ops_are_reported_and_the_rest_applies(ns: Namespace, sink: Any) -> None:
    missing_device = Op(Action.REPLACE, FdbEntry("vxlan999", M1, V2))
    device_down = Op(Action.REPLACE, RouteEntry(TABLE, ip("198.19.3.0"), 24, "brdown", (V2,)))
    bad_prefix = Op(Action.REPLACE, RouteEntry(TABLE, ip("198.19.4.1"), 24, "br5000", (V2,)))
    ops = [
        Op(Action.REPLACE, FdbEntry("vxlan100", M1, V2)),
        missing_device,
        device_down,
        Op(Action.REPLACE, FloodEntry("vxlan100", V2)),
        bad_prefix,
        Op(Action.REPLACE, NeighborEntry("br100", ip("198.18.100.12"), M1)),
        Op(Action.REPLACE, RouteEntry(TABLE, ip("198.19.5.0"), 24, "br5000", (V2,))),
    ]
    errors = await sink.apply(ops)
    assert [e.op for e in errors] == [missing_device, device_down, bad_prefix]
    assert errors[0].reason == "No such device"
    assert errors[1].reason.startswith("Network is down")
    assert errors[2].reason.startswith("Invalid argument")
    assert all(isinstance(e, OpError) for e in errors)
    assert ("02:00:00:00:00:01", "198.18.0.2", ("extern_learn", "self"), "") in fdb(ns)
    assert ("00:00:00:00:00:00", "198.18.0.2", ("extern_learn", "self"), "permanent") in fdb(ns)
    assert ("198.18.100.12", "02:00:00:00:00:01", True, ("NOARP",), "235") in neighbours(ns)
    assert set(routes(ns)) == {"198.19.5.0/24"}


async def test_many_entries_in_several_batches(ns: Namespace, sink: Any) -> None:
    """Enough entries for many sends, with refused ones spread among them (error mapping by sequence)."""
    ops = []
    for i in range(6000):
        device = "vxlan100" if i % 1000 != 999 else "vxlan5000x"
        ops.append(Op(Action.REPLACE, FdbEntry(device, mac(f"02:aa:00:00:{i >> 8:02x}:{i & 255:02x}"), V2)))
        if i % 1500 == 0:  # refused by the kernel, not by us
            ops.append(Op(Action.REPLACE, RouteEntry(TABLE, ip("198.19.6.1"), 24, "br5000", (V2,))))
    errors = await sink.apply(ops)
    assert len(errors) == 6 + 4
    assert all(e.op.entry.device == "vxlan5000x" or isinstance(e.op.entry, RouteEntry) for e in errors)
    installed = await sink.installed(["vxlan100"])
    assert len([k for k in installed if k[0] == "fdb"]) == 6000 - 6


async def test_batches_sequence_wrap_and_lost_acknowledgements(ns: Namespace, sink: Any) -> None:
    """Small batches, sequence numbers wrapping around, and a receive buffer too small for the
    errors: every refused op is still reported, and nothing hangs."""
    from evpn.sink import netlink

    rtnl = sink._rtnl
    rtnl.max_messages = 20
    rtnl.seq = netlink._SEQ_WRAP - 30
    bad = [Op(Action.REPLACE, RouteEntry(TABLE, ip(f"198.19.7.{i}"), 24, "br5000", (V2,))) for i in range(1, 60, 7)]
    ops = [Op(Action.REPLACE, FloodEntry("vxlan100", ip(f"198.18.7.{i}"))) for i in range(1, 61)]
    for n, op in enumerate(bad):
        ops.insert(n * 7, op)
    errors = await sink.apply(ops)
    assert [e.op for e in errors] == bad
    assert rtnl.seq < 1000
    assert len([k for k in await sink.installed(["vxlan100"]) if k[0] == "flood"]) == 60

    rtnl.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)  # the kernel's minimum: a few messages
    rtnl.max_messages = 10_000
    errors = await sink.apply(bad * 20)
    assert len(errors) == len(bad) * 20
    assert any("acknowledgements lost" in e.reason for e in errors)
    assert rtnl.max_messages < 10_000
    # The socket still works: the next batch's outcome is known again.
    assert await sink.apply([Op(Action.REMOVE, FloodEntry("vxlan100", ip("198.18.7.1")))]) == []


# --- reconcile and restart ----------------------------------------------------------------------------


def _desired(*entries: Entry) -> dict[object, Entry]:
    return {entry.key: entry for entry in entries}


async def test_reconcile_and_restart(ns: Namespace, sink: Any, caplog: pytest.LogCaptureFixture) -> None:
    from evpn.sink.netlink import NetlinkSink, discover_l2_devices, vrf_table

    assert discover_l2_devices(ns.name) == {
        100: L2Devices("vxlan100", "br100"),
        5000: L2Devices("vxlan5000", "br5000"),
    }
    assert await sink.discover_l2_devices() == discover_l2_devices(ns.name)
    with pytest.raises(LookupError, match="not a VRF"):
        vrf_table("br5000", ns.name)  # (no VRF devices in this kernel: only the refusals are tested)
    with pytest.raises(LookupError, match="no device"):
        vrf_table("vrf-absent", ns.name)
    # Entries of a user's, which are never touched.
    ns.run("bridge", "fdb", "add", "02:00:00:00:00:99", "dev", "vxlan100", "dst", "198.18.9.9", "self", "permanent")
    ns.run("bridge", "fdb", "add", "02:00:00:00:00:98", "dev", "vxlan100", "master", "static")
    ns.ip("neigh", "add", "198.18.100.99", "lladdr", "02:00:00:00:00:97", "dev", "br100", "nud", "permanent")
    ns.ip("route", "add", "198.19.99.0/24", "via", "198.18.0.9", "dev", "br5000", "onlink", "table", str(TABLE))
    user_fdb, user_neigh, user_routes = fdb(ns), neighbours(ns), routes(ns)

    route = RouteEntry(TABLE, ip("198.19.1.0"), 24, "br5000", (V2,))
    first = [
        FdbEntry("vxlan100", M1, V2),
        FdbEntry("vxlan100", M2, V2),
        FdbEntry("vxlan100", M3, V3, sticky=True),
        FloodEntry("vxlan100", V2),
        FloodEntry("vxlan100", V3),
        NeighborEntry("br100", ip("198.18.100.11"), M1),
        NeighborEntry("br100", ip("198.18.100.12"), M2),
        FdbEntry("vxlan5000", RMAC, V2),
        NeighborEntry("br5000", V2, RMAC),
        route,
        RouteEntry(TABLE, ip("198.19.2.0"), 24, "br5000", (V2,)),
    ]
    assert await sink.reconcile(_desired(*first)) == []
    assert await sink.installed(["vxlan100", "br100", "vxlan5000", "br5000"]) == _desired(*first)

    # Our entries drift: one goes away behind our back, one is changed by hand.
    ns.run("bridge", "fdb", "del", "02:00:00:00:00:01", "dev", "vxlan100", "master")
    ns.ip("neigh", "replace", "198.18.100.12", "lladdr", "02:00:00:00:00:01", "dev", "br100", "nud", "noarp",
          "extern_learn", "proto", "235")  # fmt: skip

    second = [
        FdbEntry("vxlan100", M1, V2),  # its bridge half is put back
        FdbEntry("vxlan100", M3, V4, sticky=True),  # moved
        FloodEntry("vxlan100", V3),
        FloodEntry("vxlan100", V4),
        NeighborEntry("br100", ip("198.18.100.12"), M2),  # changed back
        NeighborEntry("br100", ip("198.18.100.13"), M3),
        FdbEntry("vxlan5000", RMAC, V2),
        NeighborEntry("br5000", V2, RMAC),
        RouteEntry(TABLE, ip("198.19.1.0"), 24, "br5000", (V2, V3)),
        RouteEntry(TABLE, ip("2001:db8:3::"), 48, "br5000", (ip("::ffff:198.18.0.2"),)),
    ]
    assert await sink.reconcile(_desired(*second)) == []
    await _check(ns, second, user_fdb, user_neigh, user_routes)

    # A restart (the first process killed): a new sink knows nothing but what the kernel shows.
    restarted = NetlinkSink(netns=ns.name, managed_devices=["vxlan100", "br100", "vxlan5000", "br5000"])
    try:
        third = [entry for entry in second if not isinstance(entry, (NeighborEntry, RouteEntry))]
        third.append(NeighborEntry("br100", ip("198.18.100.14"), M1))
        assert await restarted.reconcile(_desired(*third)) == []
        await _check(ns, third, user_fdb, user_neigh, user_routes)
        assert await restarted.installed() == _desired(*third)
        # Nothing left to do: reconciling again sends nothing and changes nothing.
        before = (fdb(ns), neighbours(ns), routes(ns))
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="evpn.sink.netlink"):
            assert await restarted.reconcile(_desired(*third)) == []
        assert not [r for r in caplog.records if "reconcile:" in r.getMessage()]
        assert (fdb(ns), neighbours(ns), routes(ns)) == before
        # Everything withdrawn: only the user's entries stay.
        assert await restarted.reconcile({}) == []
        assert (fdb(ns), neighbours(ns), routes(ns)) == (user_fdb, user_neigh, user_routes)
        assert fdb(ns, "vxlan5000") == set()
        assert neighbours(ns, "br5000") == set()
    finally:
        await restarted.aclose()


async def _check(ns: Namespace, entries: list[Entry], user_fdb: Any, user_neigh: Any, user_routes: Any) -> None:
    """The kernel holds exactly ``entries`` plus the user's entries."""
    want_fdb = set(user_fdb)
    want_neigh = set(user_neigh)
    want_routes = dict(user_routes)
    for entry in entries:
        if isinstance(entry, FdbEntry) and entry.device == "vxlan100":
            flags, state = (("self", "sticky"), "static") if entry.sticky else (("extern_learn", "self"), "")
            vtep = socket.inet_ntop(socket.AF_INET, entry.vtep)
            want_fdb.add((entry.mac.hex(":"), vtep, flags, state))
            want_fdb.add((entry.mac.hex(":"), "master br100", tuple(f for f in flags if f != "self"), state))
        elif isinstance(entry, FloodEntry):
            vtep = socket.inet_ntop(socket.AF_INET, entry.vtep)
            want_fdb.add(("00:00:00:00:00:00", vtep, ("extern_learn", "self"), "permanent"))
        elif isinstance(entry, NeighborEntry) and entry.device == "br100":
            address = socket.inet_ntop(socket.AF_INET if len(entry.ip) == 4 else socket.AF_INET6, entry.ip)
            want_neigh.add((address, entry.mac.hex(":"), True, ("NOARP",), "235"))
        elif isinstance(entry, RouteEntry):
            family = socket.AF_INET if len(entry.prefix) == 4 else socket.AF_INET6
            want_routes[f"{socket.inet_ntop(family, entry.prefix)}/{entry.length}"] = sorted(
                (socket.inet_ntop(family, hop), entry.device, ("onlink",)) for hop in entry.next_hops
            )
    assert fdb(ns) == want_fdb
    assert neighbours(ns) == want_neigh
    table = routes(ns)
    assert {dst: sorted(hops(r)) for dst, r in table.items()} == {
        dst: value if isinstance(value, list) else sorted(hops(value)) for dst, value in want_routes.items()
    }
    assert all(table[dst]["protocol"] == "235" for dst in table if dst not in user_routes)


# --- watching for local learning ------------------------------------------------------------------


async def test_watcher_reports_a_snapshot_then_notifications(ns: Namespace) -> None:
    from evpn.sink.learn import LinkState, NeighborState
    from evpn.sink.netlink import NetlinkWatcher

    ns.ip("link", "add", "hp1", "type", "veth", "peer", "name", "hh1")
    ns.ip("link", "set", "hp1", "master", "br100")
    ns.ip("link", "set", "hp1", "up")
    ns.run("bridge", "fdb", "replace", "02:00:00:00:07:01", "dev", "hp1", "master", "static")
    ns.run("bridge", "fdb", "append", "00:00:00:00:00:00", "dev", "vxlan100", "dst", "198.18.0.9", "self")
    changes = NetlinkWatcher(netns=ns.name).changes()
    try:
        with trio.fail_after(20):
            snapshot, records = await changes.__anext__()
            assert snapshot
            links = {r.name: r for r in records if isinstance(r, LinkState)}
            bridge, vxlan, port = links["br100"], links["vxlan100"], links["hp1"]
            assert vxlan.master == bridge.index and vxlan.up and port.master == bridge.index
            entries = [r for r in records if isinstance(r, NeighborState) and r.family == socket.AF_BRIDGE]
            assert any(
                r.mac == mac("02:00:00:00:07:01") and (r.index, r.master) == (port.index, bridge.index) for r in entries
            )
            assert all(r.master for r in entries)  # a device's own FDB (the flood entry) is not reported

            # Entries a control plane installs (extern_learn) are filtered out in the kernel.
            ns.run("bridge", "fdb", "replace", "02:00:00:00:07:03", "dev", "vxlan100", "dst", "198.18.0.9",
                   "self", "master", "extern_learn")  # fmt: skip
            ns.ip("neigh", "replace", "198.18.100.9", "lladdr", "02:00:00:00:07:03", "dev", "br100", "nud", "noarp",
                  "extern_learn")  # fmt: skip
            ns.run("bridge", "fdb", "replace", "02:00:00:00:07:02", "dev", "hp1", "master", "static")
            ns.ip("link", "set", "vxlan100", "down")
            seen: list[object] = []
            while not (
                NeighborState(socket.AF_BRIDGE, port.index, bridge.index, mac("02:00:00:00:07:02"), b"", 0x40, 0)
                in seen
                and LinkState(vxlan.index, "vxlan100", bridge.index, False) in seen
            ):
                snapshot, records = await changes.__anext__()
                assert not snapshot
                seen += records
            assert not [r for r in seen if isinstance(r, NeighborState) and r.mac == mac("02:00:00:00:07:03")], seen
    finally:
        await changes.aclose()
