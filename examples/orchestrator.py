"""Two EVPN speakers in one process, on loopback: each learns the other's VTEPs.

leaf1 (AS 65001, VTEP 198.18.0.1) listens on 127.0.0.1; leaf2 (AS 65002, VTEP 198.18.0.2)
connects to it from 127.0.0.2.  Each announces one type-3 (Inclusive Multicast Ethernet
Tag) route per VNI -- "flood BUM traffic of this VNI to my VTEP" (RFC 7432 §7.3, RFC 8365
§5.1.3) -- and prints the remote VTEPs as the other's routes arrive.  Where a real
orchestrator would program the kernel's VXLAN flood list (``bridge fdb append
00:00:00:00:00:00 dev vxlan100 dst 198.18.0.2``), this one prints a line.

    python examples/orchestrator.py [--port 21790]

Linux routes all of 127.0.0.0/8 to ``lo``, so 127.0.0.2 works without any setup.
"""

from __future__ import annotations

import argparse
import socket

import trio

from evpn.config import Config, PeerConfig, SpeakerConfig
from evpn.events import PeerDown, PeerUp, RouteAdded, RouteWithdrawn
from evpn.speaker import Speaker, open_speaker
from evpn.types import format_ip
from evpn.wire import (
    Encapsulation,
    ExtendedCommunities,
    InclusiveMulticastRoute,
    PmsiTunnel,
    RouteTarget,
    TunnelType,
)

VNIS = (100, 200)


def announce_vnis(speaker: Speaker, vtep: str) -> None:
    """Originate one type-3 route per VNI, with next hop ``vtep``."""
    asn = speaker.config.speaker.asn
    for vni in VNIS:
        route = InclusiveMulticastRoute(rd=f"{vtep}:{vni}", originator_ip=vtep)
        speaker.announce(
            [route],
            attributes=[
                # Import/export by route target ASN:VNI (RFC 8365 §5.1.2.1), VXLAN encapsulation (RFC 9012).
                ExtendedCommunities([RouteTarget(asn, vni), Encapsulation(TunnelType.VXLAN)]),
                # Ingress replication to this VTEP, label = the VNI (RFC 8365 §5.1.3).
                PmsiTunnel(label=vni, tunnel_id=socket.inet_aton(vtep)),
            ],
            next_hop=vtep,
        )


def vni_of(event: RouteAdded) -> int | None:
    """The VNI a type-3 route is for: the route target's assigned number (ASN:VNI)."""
    for attribute in event.attributes:
        if isinstance(attribute, ExtendedCommunities):
            for community in attribute.communities:
                if isinstance(community, RouteTarget):
                    return community.assigned
    return None


async def follow(name: str, speaker: Speaker, learned: set[tuple[int, str]], done: trio.Event) -> None:
    """Print what ``speaker`` hears; set ``done`` once the remote VTEP of every VNI is known."""
    async for event in speaker.events():
        if isinstance(event, PeerUp):
            print(f"{name}: peer {event.peer} up (AS {event.asn}, {', '.join(event.families)})")
        elif isinstance(event, PeerDown):
            print(f"{name}: peer {event.peer} down: {event.reason}")
        elif isinstance(event, RouteAdded) and isinstance(event.route, InclusiveMulticastRoute):
            vni, vtep = vni_of(event), format_ip(event.next_hop)
            if vni is not None:
                learned.add((vni, vtep))
                print(f"{name}: VNI {vni}: remote VTEP {vtep} (from {event.peer})")
        elif isinstance(event, RouteWithdrawn) and isinstance(event.route, InclusiveMulticastRoute):
            print(f"{name}: VTEP {format_ip(event.route.originator_ip)} left ({event.route.rd})")
        if {vni for vni, _ in learned} >= set(VNIS):
            done.set()


async def main(port: int) -> None:
    """Run leaf1 and leaf2 until each knows the other's VTEP for every VNI."""
    leaf1 = Config(
        SpeakerConfig(65001, "198.18.0.1", listen=("127.0.0.1", port), hold_time=9),
        (PeerConfig("127.0.0.2", 65002, passive=True),),
    )
    leaf2 = Config(
        SpeakerConfig(65002, "198.18.0.2", hold_time=9),
        (PeerConfig("127.0.0.1", 65001, port=port, local_address="127.0.0.2", connect_retry=1),),
    )
    with trio.fail_after(15):
        async with open_speaker(leaf1) as one, open_speaker(leaf2) as two, trio.open_nursery() as nursery:
            done1, done2 = trio.Event(), trio.Event()
            nursery.start_soon(follow, "leaf1", one, set(), done1)
            nursery.start_soon(follow, "leaf2", two, set(), done2)
            # Routes announced before the session is up are sent as soon as it is.
            announce_vnis(one, "198.18.0.1")
            announce_vnis(two, "198.18.0.2")
            await done1.wait()
            await done2.wait()
            for name, speaker in (("leaf1", one), ("leaf2", two)):
                for peer in speaker.statistics().peers:
                    print(
                        f"{name}: {peer.address} {peer.state}: {peer.routes_received} routes in, "
                        f"{peer.routes_advertised} out, {peer.messages_in}/{peer.messages_out} messages in/out"
                    )
            nursery.cancel_scope.cancel()
    # Leaving open_speaker() sent each peer a Cease (Administrative Shutdown).


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=21790, help="leaf1's BGP port on 127.0.0.1")
    trio.run(main, parser.parse_args().port)
