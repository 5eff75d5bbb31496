"""The interop tests' speaker: ``python -u speaker_driver.py CONFIG.toml [--announce ROUTES.json]``.

It runs :func:`evpn.open_speaker` on CONFIG (which originates the routes of its ``[[vnis]]``
and ``[[vrfs]]`` tables by itself), announces the routes of ROUTES.json
(``{"next_hop": ADDR, "routes": [ROUTE, ...]}`` in the decode JSON shape, optionally with a
``"vni"`` key) to every peer, and prints each event as ``python -m evpn run --json --routes``
does.  Each route gets the route target ``ASN:VNI`` and the VXLAN encapsulation community
(RFC 8365 §5.1.2); type-3 routes also get a PMSI tunnel attribute (ingress replication,
label = VNI, RFC 8365 §5.1.3).  SIGTERM sends a Cease to every peer and exits 0.

Commands on stdin, one JSON object per line, applied in order:
``{"op": "add_mac", "vni": 100, "mac": "02:aa:00:00:00:21", "ip": "198.19.100.21"}`` and
``{"op": "remove_mac", ...}`` (``ip`` optional) call ``Speaker.add_mac``/``remove_mac``.  Each
command is answered with ``{"event": "command", "op": OP, "ok": true}`` (or ``"ok": false`` and
an ``"error"``) once it is applied.  End of file on stdin (``stdin=DEVNULL``) only ends the
command channel, never the driver.
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


def _apply(speaker: Any, line: bytes) -> dict[str, Any]:
    """Apply one stdin command to ``speaker`` and return the answer to print."""
    op = None
    try:
        command = json.loads(line)
        op = command.get("op")
        args = (int(command["vni"]), str(command["mac"]), command.get("ip"))
        if op == "add_mac":
            speaker.add_mac(*args)
        elif op == "remove_mac":
            speaker.remove_mac(*args)
        else:
            raise ValueError(f"unknown op {op!r} (known: add_mac, remove_mac)")
    except Exception as exc:  # a bad command is reported, and the driver goes on
        return {"event": "command", "op": op, "ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return {"event": "command", "op": op, "ok": True}


async def commands(speaker: Any) -> None:
    """Apply the JSON commands of stdin to ``speaker`` (see the module docstring)."""

    def run(line: bytes) -> None:
        if line.strip():
            print(json.dumps(_apply(speaker, line)), flush=True)

    if os.isatty(0):  # FdStream would make the terminal non-blocking: read in a thread instead
        with os.fdopen(os.dup(0), "rb") as tty:
            while line := await trio.to_thread.run_sync(tty.readline, abandon_on_cancel=True):
                run(line)
        return
    buffer = b""
    async with trio.lowlevel.FdStream(os.dup(0)) as stream:
        while chunk := await stream.receive_some():
            *lines, buffer = (buffer + chunk).split(b"\n")
            for line in lines:
                run(line)
    run(buffer)  # a last line without a newline


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
