"""Two EVPN speakers in one process, on loopback: each learns the other's VTEPs and hosts.

leaf1 (AS 65001, VTEP 198.18.0.1) and leaf2 (AS 65002, VTEP 198.18.0.2) each have VNIs 100
and 200, configured in code.  For each VNI, ``open_speaker()`` announces a type-3 (Inclusive
Multicast Ethernet Tag) route: "flood BUM traffic of this VNI to my VTEP" (RFC 7432 §7.3,
RFC 8365 §5.1.3).  Each leaf then adds a host through the API with ``speaker.add_mac()``, a
type-2 (MAC/IP Advertisement) route (RFC 7432 §7.2).  Each leaf prints the remote VTEPs as
the other's type-3 routes arrive and the remote MACs as its VNIs learn them.  A real
orchestrator would program the kernel there (``bridge fdb append 00:00:00:00:00:00 dev
vxlan100 dst 198.18.0.2``); this one prints a line.  Finally leaf1 stops: leaf2 gets its
Cease NOTIFICATION and prints the peer going down.

leaf2 listens on 127.0.0.2; leaf1 connects to it from 127.0.0.1::

    python examples/orchestrator.py [--port 21790]

Linux routes all of 127.0.0.0/8 to ``lo``, so 127.0.0.2 works without any setup.
"""

from __future__ import annotations

import argparse
from typing import Any

import trio

from evpn.config import Config, PeerConfig, SpeakerConfig, VniConfig
from evpn.events import MacChange, PeerDown, PeerUp, RouteAdded, RouteWithdrawn
from evpn.speaker import Speaker, open_speaker
from evpn.types import format_ip, format_mac
from evpn.wire import ExtendedCommunities, InclusiveMulticastRoute, RouteTarget

VNIS = (100, 200)
HOSTS = {  # the host each leaf adds through the API: (VNI, MAC, IP)
    "leaf1": (100, "02:aa:00:00:00:01", "198.19.100.11"),
    "leaf2": (200, "02:bb:00:00:00:02", "198.19.200.12"),
}


def vnis(vtep: str) -> tuple[VniConfig, ...]:
    """VNIs 100 and 200 on ``vtep``.  Every leaf imports and exports route target 65000:VNI
    (RFC 4360 §4; one per VNI for the whole fabric), so the leaves' ASes do not matter."""
    return tuple(VniConfig(vni, vtep, f"{vtep}:{vni}", [f"65000:{vni}"], [f"65000:{vni}"]) for vni in VNIS)


def vni_of(event: RouteAdded) -> int | None:
    """The VNI a type-3 route is for: the route target's assigned number (ASN:VNI)."""
    for attribute in event.attributes:
        if isinstance(attribute, ExtendedCommunities):
            for community in attribute.communities:
                if isinstance(community, RouteTarget):
                    return community.assigned
    return None


class Leaf:
    """What one leaf has learned, and events for the main task to wait on."""

    def __init__(self, name: str, expected_macs: int) -> None:
        self.name = name
        self.vteps: set[tuple[int, str]] = set()
        self.macs: set[tuple[int, str]] = set()
        self.expected_macs = expected_macs
        self.complete = trio.Event()
        """Set once a remote VTEP is known for every VNI, and the expected remote MACs."""
        self.peer_down = trio.Event()

    def check(self) -> None:
        """Set :attr:`complete` when everything expected is known."""
        if {vni for vni, _ in self.vteps} >= set(VNIS) and len(self.macs) >= self.expected_macs:
            self.complete.set()


async def follow(leaf: Leaf, speaker: Speaker, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    """Print what ``speaker`` hears, and keep ``leaf`` up to date."""
    name = leaf.name
    events = speaker.events()
    task_status.started()  # subscribed at the first iteration, which follows at once
    async for event in events:
        if isinstance(event, PeerUp):
            print(f"{name}: peer {event.peer} up (AS {event.asn}, {', '.join(event.families)})")
        elif isinstance(event, PeerDown):
            print(f"{name}: peer {event.peer} down: {event.reason}")
            leaf.peer_down.set()
        elif isinstance(event, RouteAdded) and isinstance(event.route, InclusiveMulticastRoute):
            vni, vtep = vni_of(event), format_ip(event.next_hop)
            if vni is not None:
                leaf.vteps.add((vni, vtep))
                print(f"{name}: VNI {vni}: remote VTEP {vtep} (from {event.peer})")
        elif isinstance(event, RouteWithdrawn) and isinstance(event.route, InclusiveMulticastRoute):
            print(f"{name}: VTEP {format_ip(event.route.originator_ip)} left ({event.route.rd})")
        elif isinstance(event, MacChange) and event.new is not None:
            # The RIB's view of the VNI (docs/rib.md): the best path for the MAC, from any peer.
            leaf.macs.add((event.vni, format_mac(event.mac)))
            print(f"{name}: VNI {event.vni}: remote MAC {format_mac(event.mac)} at VTEP {format_ip(event.new.vtep)}")
        leaf.check()


def print_statistics(name: str, speaker: Speaker) -> None:
    """One line per peer: its state and counters."""
    for peer in speaker.statistics().peers:
        print(
            f"{name}: {peer.address} {peer.state}: {peer.routes_received} routes in, "
            f"{peer.routes_advertised} out, {peer.messages_in}/{peer.messages_out} messages in/out"
        )


async def main(port: int) -> None:
    """Run leaf2 and leaf1 until each knows the other's VTEPs and host, then stop leaf1."""
    config1 = Config(
        SpeakerConfig(65001, "198.18.0.1", hold_time=9),
        (PeerConfig("127.0.0.2", 65002, port=port, local_address="127.0.0.1", connect_retry=1),),
        vnis=vnis("198.18.0.1"),
    )
    config2 = Config(
        SpeakerConfig(65002, "198.18.0.2", listen=("127.0.0.2", port), hold_time=9),
        (PeerConfig("127.0.0.1", 65001, passive=True),),
        vnis=vnis("198.18.0.2"),
    )
    leaf1, leaf2 = Leaf("leaf1", expected_macs=1), Leaf("leaf2", expected_macs=1)
    with trio.fail_after(15):
        async with open_speaker(config2) as two, trio.open_nursery() as nursery2:
            await nursery2.start(follow, leaf2, two)
            async with open_speaker(config1) as one, trio.open_nursery() as nursery1:
                await nursery1.start(follow, leaf1, one)
                # Hosts added before the session is up are sent as soon as it is.
                for name, speaker in (("leaf1", one), ("leaf2", two)):
                    vni, mac, ip = HOSTS[name]
                    speaker.add_mac(vni, mac, ip)
                    print(f"{name}: added host {mac} {ip} in VNI {vni}")
                await leaf1.complete.wait()
                await leaf2.complete.wait()
                print_statistics("leaf1", one)
                print_statistics("leaf2", two)
                nursery1.cancel_scope.cancel()
            # Leaving open_speaker() sent leaf2 a Cease (Administrative Shutdown, RFC 4486 §4).
            await leaf2.peer_down.wait()
            nursery2.cancel_scope.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=21790, help="leaf2's BGP port on 127.0.0.2")
    trio.run(main, parser.parse_args().port)
