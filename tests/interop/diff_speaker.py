"""The differential tests' speaker: ``python -u diff_speaker.py CONFIG.toml [--announce ROUTES.json]``.

Like ``speaker_driver.py`` (same CONFIG.toml, same event lines on stdout), except that every route of
ROUTES.json carries its own next hop and path attributes, already encoded by the test with evpn.wire,
so that the test controls each field that goes on the wire::

    {"routes": [{"nlri": HEX,                      # one EVPN NLRI (RFC 7432 §7), type|length|value
                 "next_hop": "198.18.0.1",
                 "ext_communities": [HEX, ...],    # 8 bytes each (RFC 4360 §2)
                 "pmsi": null | {"tunnel_type": 6, "label": N, "tunnel_id": HEX}}]}

The routes are decoded with :func:`evpn.wire.routes.decode_evpn_nlri` and
:func:`evpn.wire.extcommunities.decode_ext_community` and announced with ``Speaker.announce``, one
call per distinct (next hop, attributes).  Commands on stdin, one JSON object per line:

* ``{"op": "adj_in", "peer": ADDR}`` prints ``{"event": "adj_in", "peer": ADDR, "routes": [...]}``,
  the speaker's Adj-RIB-In of that peer for L2VPN EVPN, each path as ``{"route", "next_hop",
  "attributes"}`` in the JSON shapes of ``evpn.wire.jsonform``;
* ``{"op": "withdraw", "nlri": [HEX, ...]}`` withdraws those routes (``Speaker.withdraw``) and
  answers ``{"event": "command", "op": "withdraw", "ok": true, "count": N}``.

SIGTERM sends a Cease and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import trio

from evpn.config import load_config
from evpn.events import event_json
from evpn.session.session import EVPN
from evpn.speaker import Speaker, open_speaker
from evpn.types import format_ip, ip_bytes
from evpn.wire import ExtendedCommunities, PmsiTunnel
from evpn.wire.attributes import Attribute
from evpn.wire.extcommunities import decode_ext_community
from evpn.wire.jsonform import attributes_json, nlri_json
from evpn.wire.routes import EvpnRoute, decode_evpn_nlri


def plan_groups(plan: dict[str, Any]) -> dict[tuple[str, tuple[Attribute, ...]], list[EvpnRoute]]:
    """The routes of ROUTES.json grouped by (next hop, attributes)."""
    groups: dict[tuple[str, tuple[Attribute, ...]], list[EvpnRoute]] = {}
    for entry in plan["routes"]:
        [route] = decode_evpn_nlri(bytes.fromhex(entry["nlri"]))
        attributes: list[Attribute] = []
        communities = [decode_ext_community(bytes.fromhex(c)) for c in entry.get("ext_communities", [])]
        if communities:
            attributes.append(ExtendedCommunities(communities))
        pmsi = entry.get("pmsi")
        if pmsi is not None:
            attributes.append(
                PmsiTunnel(
                    tunnel_type=pmsi["tunnel_type"], label=pmsi["label"], tunnel_id=bytes.fromhex(pmsi["tunnel_id"])
                )
            )
        groups.setdefault((entry["next_hop"], tuple(attributes)), []).append(route)
    return groups


def adj_in_json(speaker: Speaker, peer: str) -> dict[str, Any]:
    paths = speaker.rib.adj_in(peer, EVPN).values()
    routes = [
        {
            "route": nlri_json(p.route),
            "next_hop": format_ip(p.next_hop) if len(p.next_hop) in (4, 16) else p.next_hop.hex(),
            "attributes": attributes_json(p.attributes.attributes),
        }
        for p in paths
    ]
    return {"event": "adj_in", "peer": peer, "routes": routes}


async def commands(speaker: Speaker) -> None:
    buffer = b""
    async with trio.lowlevel.FdStream(os.dup(0)) as stream:
        while chunk := await stream.receive_some():
            *lines, buffer = (buffer + chunk).split(b"\n")
            for line in lines:
                if not line.strip():
                    continue
                command = json.loads(line)
                op = command.get("op")
                if op == "adj_in":
                    answer = adj_in_json(speaker, command["peer"])
                elif op == "withdraw":
                    routes = [r for raw in command["nlri"] for r in decode_evpn_nlri(bytes.fromhex(raw))]
                    speaker.withdraw(routes)
                    answer = {"event": "command", "op": op, "ok": True, "count": len(routes)}
                else:
                    answer = {"event": "command", "op": op, "ok": False, "error": f"unknown op {op!r}"}
                print(json.dumps(answer), flush=True)


async def main(config_path: str, announce: str | None) -> None:
    config = load_config(config_path)
    plan = json.loads(Path(announce).read_text()) if announce else {"routes": []}
    async with open_speaker(config) as speaker, trio.open_nursery() as nursery:

        async def report() -> None:
            async for event in speaker.events():
                print(json.dumps(event_json(event)), flush=True)

        nursery.start_soon(report)
        nursery.start_soon(commands, speaker)
        await trio.sleep(0)
        for (next_hop, attributes), routes in plan_groups(plan).items():
            ip_bytes(next_hop)  # a bad address fails here, not in the speaker
            speaker.announce(routes, attributes=attributes, next_hop=next_hop)
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
