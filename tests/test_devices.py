"""evpn.sink.devices: creating (or fixing up) the bridges, VXLAN devices and VRF devices.

The plan is pure and tested without a kernel, against hand-made snapshots and a small model of
what each change does to one.  The root tests run :func:`ensure_devices` in a network namespace
of their own (``evpndev-PID-N``, deleted afterwards, pass or fail) and read the result back with
``ip -d -j link show`` and ``bridge -d -j link show``.  The kernel here has no VRF devices
(CONFIG_NET_VRF is off), so the VRF path is tested through :func:`plan`, and in the kernel only
as far as it goes.

The root tests need root, pyroute2 and iproute2; without them they are skipped, except under
``CI=true`` where that is a failure.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs
import pytest
from interop.lab import Namespace

from evpn.config import Config, parse_config
from evpn.sink.devices import VXLAN_PORT, Change, ChangeAction, DeviceError, Link, ensure_devices, plan, read_links

VTEP = "198.18.0.1"
ROUTER_ID = "198.18.0.9"


def config(vnis: Iterable[Mapping[str, Any]] = (), vrfs: Iterable[Mapping[str, Any]] = ()) -> Config:
    return parse_config(
        {
            "speaker": {"asn": 65001, "router_id": ROUTER_ID},
            "vnis": [{"vtep": VTEP, **vni} for vni in vnis],
            "vrfs": [{"router_mac": "02:aa:00:00:50:00", **vrf} for vrf in vrfs],
        }
    )


L2 = config([{"vni": 100}])
L3 = config(vrfs=[{"name": "t1", "l3vni": 5000, "table": 5000}])
VRF = config(vrfs=[{"name": "t1", "l3vni": 5000, "vrf": "vrf-t1", "table": 1001}])


def bridge(name: str, **fields: Any) -> Link:
    return Link(name, "bridge", **{"up": True, "stp_state": 0, **fields})


def vxlan(name: str, vni: int, **fields: Any) -> Link:
    defaults = {
        "up": True,
        "master": f"br{vni}",
        "vxlan_id": vni,
        "vxlan_local": VTEP,
        "vxlan_dstport": VXLAN_PORT,
        "vxlan_learning": False,
        "port_learning": False,
        "port_neigh_suppress": True,
    }
    return Link(name, "vxlan", **{**defaults, **fields})


def links(*items: Link) -> dict[str, Link]:
    return {link.name: link for link in items}


def simulate(before: Mapping[str, Link], changes: Iterable[Change]) -> dict[str, Link]:
    """What ``changes`` make of ``before``, as the kernel would; each change's device (and master)
    must exist when its turn comes."""
    now = dict(before)
    for change in changes:
        values = dict(change.settings)
        if change.action is ChangeAction.CREATE:
            assert change.device not in now, change
            now[change.device] = Link(change.device, change.kind)
            change = attrs.evolve(change, action=ChangeAction.CONFIGURE)
        link = now[change.device]
        if change.action is ChangeAction.CONFIGURE:
            renames = {"stp_state": "stp_state", "table": "vrf_table", "vni": "vxlan_id"}
            renames |= {"local": "vxlan_local", "dstport": "vxlan_dstport", "learning": "vxlan_learning"}
            link = attrs.evolve(link, **{renames[name]: value for name, value in values.items()})
        elif change.action is ChangeAction.MASTER:
            master = now[str(values["master"])]
            port = master.kind == "bridge"  # a new bridge port has the kernel's defaults
            link = attrs.evolve(
                link,
                master=master.name,
                port_learning=True if port else None,
                port_neigh_suppress=False if port else None,
            )
        elif change.action is ChangeAction.PORT:
            assert link.master is not None and now[link.master].kind == "bridge", change
            renames = {"learning": "port_learning", "neigh_suppress": "port_neigh_suppress"}
            link = attrs.evolve(link, **{renames[name]: value for name, value in values.items()})
        else:
            link = attrs.evolve(link, up=True)
        now[change.device] = link
    return now


def described(changes: Iterable[Change]) -> list[str]:
    return [str(change) for change in changes]


# --- plan: from nothing ---------------------------------------------------------------------------


def test_plan_creates_an_l2_vni_from_nothing() -> None:
    assert described(plan(L2, {})) == [
        "create br100 (bridge, stp_state 0)",
        "create vxlan100 (VXLAN 100, local 198.18.0.1, dstport 4789, nolearning)",
        "set vxlan100 master br100",
        "set vxlan100 neigh_suppress on learning off",
        "set br100 up",
        "set vxlan100 up",
    ]


def test_plan_orders_vrfs_bridges_vxlans_then_masters_and_ports_then_up() -> None:
    both = config(
        [{"vni": 100, "vrf": "t1"}, {"vni": 200, "bridge": "brb", "vxlan": "vxb"}],
        [{"name": "t1", "l3vni": 5000, "vrf": "vrf-t1", "table": 1001, "vtep": "198.18.0.2"}],
    )
    assert described(plan(both, links(Link("lo")))) == [
        "create vrf-t1 (VRF, table 1001)",
        "create br100 (bridge, stp_state 0)",
        "create brb (bridge, stp_state 0)",
        "create br5000 (bridge, stp_state 0)",
        "create vxlan100 (VXLAN 100, local 198.18.0.1, dstport 4789, nolearning)",
        "create vxb (VXLAN 200, local 198.18.0.1, dstport 4789, nolearning)",
        "create vxlan5000 (VXLAN 5000, local 198.18.0.2, dstport 4789, nolearning)",
        # The L2 VNI routed through t1 (symmetric IRB): its bridge, the SVI, goes into the VRF too.
        "set br100 master vrf-t1",
        "set br5000 master vrf-t1",
        "set vxlan100 master br100",
        "set vxlan100 neigh_suppress on learning off",
        "set vxb master brb",
        "set vxb neigh_suppress on learning off",
        "set vxlan5000 master br5000",
        "set vxlan5000 neigh_suppress on learning off",
        "set vrf-t1 up",
        "set br100 up",
        "set brb up",
        "set br5000 up",
        "set vxlan100 up",
        "set vxb up",
        "set vxlan5000 up",
    ]


def test_plan_l3_vni_without_vrf_device_uses_the_router_id() -> None:
    changes = plan(L3, {})
    assert described(changes)[:2] == [
        "create br5000 (bridge, stp_state 0)",
        f"create vxlan5000 (VXLAN 5000, local {ROUTER_ID}, dstport 4789, nolearning)",
    ]
    assert not any(change.kind == "vrf" for change in changes)


def test_change_values() -> None:
    (create, *_) = [change for change in plan(L2, {}) if change.kind == "vxlan"]
    assert create == Change(
        ChangeAction.CREATE,
        "vxlan100",
        "vxlan",
        (("vni", 100), ("local", VTEP), ("dstport", 4789), ("learning", False)),
    )
    assert create.setting("vni") == 100
    assert create.setting("table") is None
    assert create.describe() == str(create)


def test_ipv6_vtep() -> None:
    v6 = config([{"vni": 100, "vtep": "2001:DB8:0::1"}])
    assert "create vxlan100 (VXLAN 100, local 2001:db8::1, dstport 4789, nolearning)" in described(plan(v6, {}))
    assert plan(v6, links(bridge("br100"), vxlan("vxlan100", 100, vxlan_local="2001:db8::1"))) == []


# --- plan: idempotence and fixing ----------------------------------------------------------------


def test_plan_is_empty_when_the_kernel_matches() -> None:
    assert plan(L2, links(Link("lo", up=True), bridge("br100"), vxlan("vxlan100", 100))) == []
    vrf = links(
        Link("vrf-t1", "vrf", up=True, vrf_table=1001),
        bridge("br5000", master="vrf-t1"),
        vxlan("vxlan5000", 5000, vxlan_local=ROUTER_ID),
    )
    assert plan(VRF, vrf) == []
    # Without a table in the configuration, the VRF device's own table is taken as it is.
    untabled = config(vrfs=[{"name": "t1", "l3vni": 5000, "vrf": "vrf-t1"}])
    assert plan(untabled, vrf) == []


@pytest.mark.parametrize(
    "the_config",
    [
        L2,
        L3,
        VRF,
        config([{"vni": 100, "vrf": "t1"}], [{"name": "t1", "l3vni": 5000, "vrf": "vrf-t1", "table": 1001}]),
        config([{"vni": 100, "bridge": "shared"}, {"vni": 200, "bridge": "shared"}]),
    ],
)
@pytest.mark.parametrize(
    "before",
    [
        {},
        links(bridge("br100", up=False, stp_state=1)),
        links(vxlan("vxlan100", 100, master="elsewhere", up=False), bridge("elsewhere")),
        links(vxlan("vxlan5000", 5000, master=None, vxlan_local=ROUTER_ID, vxlan_learning=True)),
        links(Link("vrf-t1", "vrf", vrf_table=1001)),
    ],
)
def test_a_second_plan_is_empty(the_config: Config, before: dict[str, Link]) -> None:
    changes = plan(the_config, before)
    after = simulate(before, changes)
    assert plan(the_config, after) == []
    # Only the devices the configuration names are changed.
    assert {change.device for change in changes} <= {change.device for change in plan(the_config, {})}


def test_plan_fixes_only_what_is_missing() -> None:
    kernel = links(
        bridge("br100", stp_state=1, up=False),
        vxlan("vxlan100", 100, vxlan_learning=True, port_learning=True, port_neigh_suppress=False),
    )
    assert described(plan(L2, kernel)) == [
        "set br100 type bridge stp_state 0",
        "set vxlan100 type vxlan nolearning",
        "set vxlan100 neigh_suppress on learning off",
        "set br100 up",
    ]
    assert described(plan(L2, links(bridge("br100"), vxlan("vxlan100", 100, port_neigh_suppress=False)))) == [
        "set vxlan100 neigh_suppress on"
    ]
    assert described(plan(L2, links(bridge("br100"), vxlan("vxlan100", 100, port_learning=True)))) == [
        "set vxlan100 learning off"
    ]


def test_a_vxlan_device_in_another_bridge_is_moved_and_gets_its_port_flags_again() -> None:
    kernel = links(bridge("br100"), bridge("other"), vxlan("vxlan100", 100, master="other"))
    assert described(plan(L2, kernel)) == [
        "set vxlan100 master br100",
        "set vxlan100 neigh_suppress on learning off",
    ]


def test_plan_never_touches_devices_it_was_not_asked_for() -> None:
    kernel = links(
        Link("lo"),
        Link("eth0", None, up=False),
        bridge("br7", stp_state=1, up=False),
        vxlan("vxlan7", 7, vxlan_learning=True, master="br7", up=False),
    )
    changes = plan(L2, kernel)
    assert {change.device for change in changes} == {"br100", "vxlan100"}


# --- plan: errors ----------------------------------------------------------------------------------


def error(the_config: Config, kernel: Mapping[str, Link]) -> str:
    with pytest.raises(DeviceError) as info:
        plan(the_config, kernel)
    assert isinstance(info.value, ValueError)
    return str(info.value)


def test_wrong_kind_is_an_error() -> None:
    assert error(L2, links(Link("br100", "veth", up=True))) == (
        "br100 (vnis[0]): must be a bridge, but the kernel's br100 is a veth device"
    )
    named = config([{"vni": 100, "vxlan": "eth0"}])
    assert error(named, links(Link("eth0", None))) == (
        "eth0 (vnis[0].vxlan): must be a VXLAN device, but the kernel's eth0 is a device of no kind "
        "(physical or loopback)"
    )
    assert "vrf-t1 (vrfs[0].vrf): must be a VRF device, but the kernel's vrf-t1 is a bridge device" in error(
        VRF, links(bridge("vrf-t1"))
    )


def test_another_vni_local_address_or_port_is_an_error() -> None:
    assert error(L2, links(vxlan("vxlan100", 200))) == (
        "vxlan100 (vnis[0]): the kernel's vxlan100 has VNI 200, but vnis[0].vni is 100"
    )
    assert error(L2, links(vxlan("vxlan100", 100, vxlan_local="198.18.0.7"))) == (
        "vxlan100 (vnis[0]): the kernel's vxlan100 has local address 198.18.0.7, "
        "but the VTEP address (vnis[0].vtep) is 198.18.0.1"
    )
    assert error(L3, links(vxlan("vxlan5000", 5000))) == (
        "vxlan5000 (vrfs[0]): the kernel's vxlan5000 has local address 198.18.0.1, "
        "but the VTEP address (speaker.router_id) is 198.18.0.9"
    )
    assert error(L2, links(vxlan("vxlan100", 100, vxlan_local=None))).startswith(
        "vxlan100 (vnis[0]): the kernel's vxlan100 has local address None"
    )
    assert error(L2, links(vxlan("vxlan100", 100, vxlan_dstport=8472))) == (
        "vxlan100 (vnis[0]): the kernel's vxlan100 has dstport 8472, but EVPN's VXLAN needs dstport 4789 (RFC 7348 §5)"
    )
    named = config(vrfs=[{"name": "t1", "l3vni": 5000, "vxlan": "l3vx", "vtep": VTEP}])
    assert error(named, links(vxlan("l3vx", 5001))) == (
        "l3vx (vrfs[0].vxlan): the kernel's l3vx has VNI 5001, but vrfs[0].l3vni is 5000"
    )


def test_vrf_device_with_another_table_is_an_error() -> None:
    assert error(VRF, links(Link("vrf-t1", "vrf", up=True, vrf_table=1002))) == (
        "vrf-t1 (vrfs[0].vrf): the kernel's vrf-t1 has table 1002, but vrfs[0].table is 1001"
    )


def test_a_missing_vrf_device_needs_a_table() -> None:
    untabled = config(vrfs=[{"name": "t1", "l3vni": 5000, "vrf": "vrf-t1"}])
    assert error(untabled, {}) == (
        "vrf-t1 (vrfs[0].vrf): there is no such VRF device and it cannot be created without a table: set vrfs[0].table"
    )


def test_errors_come_before_any_change() -> None:
    # br100 alone could be created, but vxlan100 is in the way: nothing is planned at all.
    with pytest.raises(DeviceError, match="vxlan100"):
        plan(L2, links(Link("vxlan100", "bridge")))


def test_one_device_named_two_ways_is_an_error() -> None:
    clash = config([{"vni": 100, "bridge": "dev1"}, {"vni": 200, "vxlan": "dev1"}])
    assert error(clash, {}) == "dev1 is a bridge for vnis[0].bridge but a VXLAN device for vnis[1].vxlan"
    two_vnis = config([{"vni": 100, "vxlan": "vx"}, {"vni": 200, "vxlan": "vx"}])
    assert error(two_vnis, {}) == "vx is named twice, with VNI 100 (vnis[0].vni) and 200 (vnis[1].vni)"
    two_tables = config(
        vrfs=[
            {"name": "a", "l3vni": 5000, "vrf": "vrf-x", "table": 1001},
            {"name": "b", "l3vni": 5001, "vrf": "vrf-x", "table": 1002},
        ]
    )
    assert error(two_tables, {}) == "vrf-x is named twice, with table 1001 (vrfs[0].table) and 1002 (vrfs[1].table)"
    two_vrfs = config(
        [{"vni": 100, "bridge": "br", "vrf": "a"}, {"vni": 200, "bridge": "br", "vrf": "b"}],
        [
            {"name": "a", "l3vni": 5000, "vrf": "vrf-a", "table": 1},
            {"name": "b", "l3vni": 5001, "vrf": "vrf-b", "table": 2},
        ],
    )
    assert error(two_vrfs, {}) == "br is named twice, with master vrf-a (vnis[0].vrf) and vrf-b (vnis[1].vrf)"


def test_one_vrf_device_for_two_vrfs_takes_the_table_given() -> None:
    shared = config(
        vrfs=[
            {"name": "a", "l3vni": 5000, "vrf": "vrf-x"},
            {"name": "b", "l3vni": 5001, "vrf": "vrf-x", "table": 1002},
        ]
    )
    assert described(plan(shared, {}))[0] == "create vrf-x (VRF, table 1002)"


# --- the kernel ------------------------------------------------------------------------------------


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
    reason = "device setup prerequisites missing: " + "; ".join(missing)
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason + " (CI=true: these tests must run)")
    pytest.skip(reason)


@pytest.fixture
def ns() -> Iterator[Namespace]:
    _require(_missing())
    space = Namespace("evpndev")
    try:
        space.create()
        space.ip("addr", "add", f"{VTEP}/32", "dev", "lo")
        yield space
    finally:
        space.delete()


def show(ns: Namespace, dev: str) -> dict[str, Any]:
    """``ip -d -j link show dev DEV``: the device, or {} when there is none."""
    result = ns.run("ip", "-d", "-j", "link", "show", "dev", dev, check=False)
    return json.loads(result.stdout)[0] if result.returncode == 0 else {}  # type: ignore[no-any-return]


def port(ns: Namespace, dev: str) -> dict[str, Any]:
    """``bridge -d -j link show dev DEV``: the bridge port's flags."""
    return json.loads(ns.run("bridge", "-d", "-j", "link", "show", "dev", dev).stdout)[0]  # type: ignore[no-any-return]


def summary(ns: Namespace, dev: str) -> dict[str, Any]:
    """What ensure_devices could change on ``dev``."""
    link = show(ns, dev)
    info = link.get("linkinfo", {})
    data, slave = info.get("info_data", {}), info.get("info_slave_data", {})
    return {
        "kind": info.get("info_kind"),
        "up": "UP" in link["flags"],
        "master": link.get("master"),
        **{key: data.get(key) for key in ("stp_state", "id", "local", "port", "learning", "table")},
        **{f"port_{key}": slave.get(key) for key in ("learning", "neigh_suppress")},
    }


def names(ns: Namespace) -> set[str]:
    return {link["ifname"] for link in json.loads(ns.run("ip", "-j", "link", "show").stdout)}


def test_ensure_devices_creates_an_l2_vni(ns: Namespace, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="evpn.sink"):
        done = ensure_devices(L2, netns=ns.name)
    assert done == described(plan(L2, {}))
    assert [record.getMessage() for record in caplog.records] == [f"devices: {text}" for text in done]

    br100 = show(ns, "br100")
    assert br100["linkinfo"]["info_kind"] == "bridge"
    assert br100["linkinfo"]["info_data"]["stp_state"] == 0
    assert "UP" in br100["flags"]
    vxlan100 = show(ns, "vxlan100")
    assert vxlan100["linkinfo"]["info_kind"] == "vxlan"
    assert vxlan100["master"] == "br100"
    assert "UP" in vxlan100["flags"]
    data = vxlan100["linkinfo"]["info_data"]
    assert (data["id"], data["local"], data["port"], data["learning"]) == (100, VTEP, 4789, False)
    flags = port(ns, "vxlan100")
    assert (flags["learning"], flags["neigh_suppress"]) == (False, True)

    caplog.clear()
    assert ensure_devices(L2, netns=ns.name) == []
    assert caplog.records == []


def test_ensure_devices_creates_an_l3_vni_with_the_router_id(ns: Namespace) -> None:
    assert ensure_devices(L3, netns=ns.name)
    assert summary(ns, "vxlan5000") == {
        "kind": "vxlan",
        "up": True,
        "master": "br5000",
        "stp_state": None,
        "id": 5000,
        "local": ROUTER_ID,
        "port": 4789,
        "learning": False,
        "table": None,
        "port_learning": False,
        "port_neigh_suppress": True,
    }
    assert ensure_devices(L3, netns=ns.name) == []


def test_ensure_devices_fixes_a_vxlan_device_that_learns(ns: Namespace) -> None:
    ns.ip("link", "add", "br100", "type", "bridge", "stp_state", "0")
    # As iproute2 makes it by default: learning on, on the device and on its bridge port.
    ns.ip("link", "add", "vxlan100", "type", "vxlan", "id", "100", "local", VTEP, "dstport", "4789")
    ns.ip("link", "set", "vxlan100", "master", "br100")
    ns.ip("link", "set", "br100", "up")
    assert (summary(ns, "vxlan100")["learning"], port(ns, "vxlan100")["learning"]) == (True, True)

    assert ensure_devices(L2, netns=ns.name) == [
        "set vxlan100 type vxlan nolearning",
        "set vxlan100 neigh_suppress on learning off",
        "set vxlan100 up",
    ]
    assert summary(ns, "vxlan100")["learning"] is False
    flags = port(ns, "vxlan100")
    assert (flags["learning"], flags["neigh_suppress"]) == (False, True)
    assert ensure_devices(L2, netns=ns.name) == []


def test_a_veth_named_like_the_bridge_is_an_error(ns: Namespace) -> None:
    ns.ip("link", "add", "br100", "type", "veth", "peer", "name", "br100peer")
    with pytest.raises(DeviceError, match=r"^br100 \(vnis\[0\]\): must be a bridge, but .* is a veth device$"):
        ensure_devices(L2, netns=ns.name)
    assert show(ns, "vxlan100") == {}  # nothing was done


def test_a_vxlan_device_with_another_vni_is_an_error(ns: Namespace) -> None:
    ns.ip("link", "add", "vxlan100", "type", "vxlan", "id", "101", "local", VTEP, "dstport", "4789")
    with pytest.raises(DeviceError, match=r"vxlan100 has VNI 101, but vnis\[0\]\.vni is 100"):
        ensure_devices(L2, netns=ns.name)
    assert show(ns, "br100") == {}


def test_unrelated_devices_are_untouched(ns: Namespace) -> None:
    ns.ip("link", "add", "brx", "type", "bridge", "stp_state", "1")
    ns.ip("link", "add", "vxlan900", "type", "vxlan", "id", "900", "local", VTEP, "dstport", "4789")
    ns.ip("link", "set", "vxlan900", "master", "brx")
    before = {dev: summary(ns, dev) for dev in ("brx", "vxlan900")}
    assert before["brx"]["stp_state"] == 1 and before["vxlan900"]["port_learning"] is True
    all_before = names(ns)

    assert ensure_devices(L2, netns=ns.name)
    assert {dev: summary(ns, dev) for dev in ("brx", "vxlan900")} == before
    assert names(ns) == all_before | {"br100", "vxlan100"}


def test_read_links(ns: Namespace) -> None:
    from pyroute2 import IPRoute

    ns.ip("link", "add", "brx", "type", "bridge", "stp_state", "1")
    ns.ip("link", "add", "vethx", "type", "veth", "peer", "name", "vethy")
    ensure_devices(L2, netns=ns.name)
    with IPRoute(netns=ns.name, flags=0) as ipr:
        found = read_links(ipr)
    assert found["lo"] == Link("lo", None, up=True)
    assert found["brx"] == Link("brx", "bridge", stp_state=1)
    assert found["vethx"] == Link("vethx", "veth")
    assert found["br100"] == bridge("br100")
    assert found["vxlan100"] == vxlan("vxlan100", 100)


def test_vrf_devices(ns: Namespace) -> None:
    """Created when the kernel has VRF devices (CONFIG_NET_VRF); otherwise refused, naming the change."""
    if ns.ip("link", "add", "vrfprobe", "type", "vrf", "table", "10", check=False).returncode == 0:
        ns.ip("link", "delete", "vrfprobe")
        assert ensure_devices(VRF, netns=ns.name)[0] == "create vrf-t1 (VRF, table 1001)"
        assert summary(ns, "vrf-t1")["table"] == 1001
        assert summary(ns, "br5000")["master"] == "vrf-t1"
        assert ensure_devices(VRF, netns=ns.name) == []
    else:
        with pytest.raises(OSError, match=r"^\[Errno \d+\] cannot create vrf-t1 \(VRF, table 1001\): ") as info:
            ensure_devices(VRF, netns=ns.name)
        assert info.value.errno is not None
        assert show(ns, "br5000") == {}  # the VRF device comes first: nothing else was done


def test_a_missing_namespace_is_an_error_and_is_not_created() -> None:
    _require(_missing())
    name = f"evpndev-{os.getpid()}-absent"
    with pytest.raises(OSError, match=name):
        ensure_devices(L2, netns=name)
    assert not os.path.exists(f"/run/netns/{name}")
