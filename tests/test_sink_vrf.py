"""The VRF-device path of the dataplane without the kernel feature (``CONFIG_NET_VRF`` is off on
the machines the tests run on): a VRF device's table read from a recorded ``RTM_NEWLINK``, taken
over by :func:`~evpn.sink.dataplane.open_sink` (checked against the configured table), and the
``RTM_NEWROUTE`` the netlink sink then sends into that table.  With the memory sink the table
comes from the configuration.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

import pytest

from evpn.config import Config, parse_config
from evpn.sink.dataplane import open_sink
from evpn.sink.ops import Action, Op, RouteEntry
from evpn.sink.translate import L2Devices
from evpn.types import ip_bytes

netlink = pytest.importorskip("evpn.sink.netlink")
ifinfmsg = pytest.importorskip("pyroute2.netlink.rtnl.ifinfmsg").ifinfmsg
rtmsg = pytest.importorskip("pyroute2.netlink.rtnl.rtmsg").rtmsg

TABLE = 1001
RTM_NEWLINK, NLMSG_DONE = 16, 3


def config(sink: str, table: int | None) -> Config:
    vrf: dict[str, Any] = {"name": "tenant1", "l3vni": 5000, "router_mac": "02:aa:00:00:50:00", "vrf": "vrf-t1"}
    if table is not None:
        vrf["table"] = table
    return parse_config(
        {
            "speaker": {"asn": 65001, "router_id": "198.18.0.1"},
            "vnis": [{"vni": 100, "vtep": "198.18.0.1", "vrf": "tenant1"}],
            "vrfs": [vrf],
            "dataplane": {"sink": sink, "learn": False},
        }
    )


def vrf_link(index: int, name: str, table: int) -> bytes:
    """An ``RTM_NEWLINK`` of a VRF device as the kernel sends it (pyroute2 encodes it)."""
    msg = ifinfmsg()
    msg["index"] = index
    msg["attrs"] = [
        ("IFLA_IFNAME", name),
        (
            "IFLA_LINKINFO",
            {"attrs": [("IFLA_INFO_KIND", "vrf"), ("IFLA_INFO_DATA", {"attrs": [("IFLA_VRF_TABLE", table)]})]},
        ),
    ]
    msg.encode()
    data = bytearray(msg.data)
    struct.pack_into("=H", data, 4, RTM_NEWLINK)
    return bytes(data)


class RecordedKernel:
    """Plays a netlink socket: answers every dump request with ``messages`` and NLMSG_DONE."""

    def __init__(self, *messages: bytes) -> None:
        self.messages = messages
        self.replies: list[bytes] = []

    def send(self, request: bytes) -> int:
        seq = struct.unpack_from("=I", request, 8)[0]
        out = b"".join(m[:8] + struct.pack("=I", seq) + m[12:] for m in self.messages)
        self.replies.append(out + struct.pack("=IHHIIi", 20, NLMSG_DONE, 2, seq, 0, 0))
        return len(request)

    def recv_into(self, buffer: bytearray) -> int:
        data = self.replies.pop(0)
        buffer[: len(data)] = data
        return len(data)

    def getsockopt(self, *_: object) -> int:
        return 8 * 1024 * 1024

    def close(self) -> None:
        pass


def test_vrf_table_is_read_from_the_vrf_device(monkeypatch: pytest.MonkeyPatch) -> None:
    kernel = RecordedKernel(vrf_link(7, "vrf-t1", TABLE), vrf_link(8, "vrf-t2", 1002))
    monkeypatch.setattr(netlink, "_open_netlink", lambda netns: kernel)
    assert netlink.vrf_table("vrf-t1") == TABLE
    with pytest.raises(LookupError, match="no device 'vrf-t9'"):
        netlink.vrf_table("vrf-t9")


class FakeNetlinkSink:
    """Stands in for :class:`~evpn.sink.netlink.NetlinkSink`: the L2 devices 'found' in the kernel."""

    def __init__(self) -> None:
        self.managed_devices: tuple[str, ...] = ()

    async def discover_l2_devices(self) -> dict[int, L2Devices]:
        return {100: L2Devices("vxlan100", "br100"), 5000: L2Devices("vxlan5000", "br5000")}


@pytest.mark.parametrize("configured", [None, TABLE])
async def test_open_sink_takes_the_vrf_devices_table(monkeypatch: pytest.MonkeyPatch, configured: int | None) -> None:
    monkeypatch.setattr(netlink, "NetlinkSink", FakeNetlinkSink)
    monkeypatch.setattr(netlink, "vrf_table", lambda name: {"vrf-t1": TABLE}[name])
    dataplane = await open_sink(config("netlink", configured))
    assert dataplane is not None
    devices = dataplane.translator.vrfs["tenant1"]
    assert (devices.vxlan, devices.bridge, devices.table) == ("vxlan5000", "br5000", TABLE)
    assert dataplane.sink.managed_devices == ("br100", "br5000", "vxlan100", "vxlan5000")  # type: ignore[attr-defined]


async def test_open_sink_refuses_a_vrf_device_with_another_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(netlink, "NetlinkSink", FakeNetlinkSink)
    monkeypatch.setattr(netlink, "vrf_table", lambda name: 1002)
    with pytest.raises(ValueError, match="VRF device 'vrf-t1' has table 1002, not 1001"):
        await open_sink(config("netlink", TABLE))


async def test_memory_sink_uses_the_configured_table_of_a_vrf_device() -> None:
    dataplane = await open_sink(config("memory", TABLE))
    assert dataplane is not None and dataplane.translator.vrfs["tenant1"].table == TABLE


@pytest.mark.parametrize("hops", [("198.18.0.2",), ("198.18.0.2", "198.18.0.3")])
def test_route_message_goes_to_the_vrf_table(hops: tuple[str, ...]) -> None:
    """The RTM_NEWROUTE for a type-5 prefix in a VRF: table in RTA_TABLE (the header's byte holds
    only ids below 256), protocol 235, onlink next hops through the L3 SVI."""
    kernel = RecordedKernel()
    rtnl = netlink._Rtnl(kernel)
    rtnl.links = {"br5000": netlink._Link(42, "br5000", 7, "bridge", None, None)}
    rtnl.links_fresh = True
    entry = RouteEntry(TABLE, ip_bytes("198.19.50.0"), 24, "br5000", tuple(ip_bytes(h) for h in hops))
    ((message, _),) = rtnl.encode(Op(Action.REPLACE, entry), 5)
    msg = rtmsg(message)
    msg.decode()
    assert (msg["header"]["type"], msg["header"]["sequence_number"]) == (24, 5)  # RTM_NEWROUTE
    assert (msg["family"], msg["dst_len"], msg["table"], msg["proto"]) == (socket.AF_INET, 24, 0, netlink.RTPROT_EVPN)
    assert msg.get_attr("RTA_TABLE") == TABLE and msg.get_attr("RTA_DST") == "198.19.50.0"
    assert msg.get_attr("RTA_PRIORITY") == netlink.ROUTE_METRIC == 20  # below connected routes, as zebra
    if len(hops) == 1:
        assert msg["flags"] & 4  # RTNH_F_ONLINK
        assert (msg.get_attr("RTA_GATEWAY"), msg.get_attr("RTA_OIF")) == (hops[0], 42)
    else:
        nexthops = msg.get_attr("RTA_MULTIPATH")
        assert [(h.get_attr("RTA_GATEWAY"), h["oif"], h["flags"] & 4) for h in nexthops] == [(h, 42, 4) for h in hops]
