"""The interop tests' speaker: ``python -u speaker_driver.py CONFIG.toml [--announce ROUTES.json]``.

It runs :func:`evpn.open_speaker` on CONFIG (which originates the routes of its ``[[vnis]]``
and ``[[vrfs]]`` tables by itself), announces the routes of ROUTES.json
(``{"next_hop": ADDR, "routes": [ROUTE, ...]}`` in the decode JSON shape, optionally with a
``"vni"`` key) to every peer, and prints each event as ``python -m evpn run --json --routes``
does.  Each route gets the route target ``ASN:VNI`` and the VXLAN encapsulation community
(RFC 8365 §5.1.2); type-3 routes also get a PMSI tunnel attribute (ingress replication,
label = VNI, RFC 8365 §5.1.3).  SIGTERM sends a Cease to every peer and exits 0.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from typing import Any

import trio

from evpn.config import load_config
from evpn.events import event_json
from evpn.speaker import open_speaker
from evpn.types import ip_bytes
from evpn.wire import Encapsulation, ExtendedCommunities, InclusiveMulticastRoute, PmsiTunnel, RouteTarget
from evpn.wire.jsonform import evpn_route_from_json


def _vni(obj: dict[str, Any]) -> int:
    if "vni" in obj:
        return int(obj["vni"])
    if "label1" in obj:
        return int(obj["label1"])
    if "label" in obj:
        return int(obj["label"])
    return int(str(obj["rd"]).rpartition(":")[2])


async def main(config_path: str, announce: str | None) -> None:
    config = load_config(config_path)
    plan = json.loads(Path(announce).read_text()) if announce else {"routes": []}
    async with open_speaker(config) as speaker, trio.open_nursery() as nursery:

        async def report() -> None:
            async for event in speaker.events():
                print(json.dumps(event_json(event)), flush=True)

        nursery.start_soon(report)
        await trio.sleep(0)
        for obj in plan["routes"]:
            route = evpn_route_from_json(obj)
            vni = _vni(obj)
            attributes: list[Any] = [ExtendedCommunities([RouteTarget(config.speaker.asn, vni), Encapsulation()])]
            if isinstance(route, InclusiveMulticastRoute):
                attributes.append(PmsiTunnel(label=vni, tunnel_id=ip_bytes(plan["next_hop"])))
            speaker.announce([route], attributes=attributes, next_hop=plan.get("next_hop"))
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for _ in signals:
                break
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config")
    parser.add_argument("--announce")
    args = parser.parse_args()
    trio.run(main, args.config, args.announce)
    sys.exit(0)
