"""``evpn run -c FILE [--json] [--routes]``: run a speaker until SIGINT/SIGTERM.

Events go to stdout (one JSON object per line with ``--json``, a readable line otherwise);
logs go to stderr.  On SIGINT/SIGTERM every peer gets a Cease (Administrative Shutdown)
and the command exits 0.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from typing import Any

import trio

from evpn.config import Config, load_config
from evpn.errors import ConfigError
from evpn.events import EndOfRib, Event, PeerDown, PeerUp, RouteAdded, RouteWithdrawn, event_json
from evpn.speaker import open_speaker

__all__ = ["add_parser", "format_event", "run"]


def add_parser(subparsers: Any) -> None:
    """Add the ``run`` subcommand."""
    parser = subparsers.add_parser(
        "run",
        help="run a BGP EVPN speaker from a config file",
        description="Run a speaker until SIGINT/SIGTERM; print its events on stdout.",
    )
    parser.add_argument(
        "-c", "--config", required=True, metavar="FILE", help="TOML configuration (docs/configuration.md)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per event and line")
    parser.add_argument(
        "--routes",
        action="store_true",
        help="also print every route added (with why it is best) or withdrawn, and every VNI/VRF change",
    )
    parser.set_defaults(run=run)


def format_event(event: Event) -> str:
    """A readable one-line form of ``event``."""
    data = event_json(event)
    if isinstance(event, PeerUp):
        return f"peer {event.peer} up: AS {event.asn}, {', '.join(event.families)}"
    if isinstance(event, PeerDown):
        return f"peer {event.peer} down: {event.reason}"
    if isinstance(event, RouteAdded):
        best = f" (best: {event.best})" if event.best else ""
        return f"+ {event.peer} {json.dumps(data['route'])}{best}"
    if isinstance(event, RouteWithdrawn):
        return f"- {event.peer} {json.dumps(data['route'])}"
    if isinstance(event, EndOfRib):
        return f"peer {data['peer']} End-of-RIB {data['family']}: {data['routes']} routes"
    where = f"vrf {data['vrf']}" if "vrf" in data else f"vni {data['vni']}"
    item = next(data[k] for k in ("mac", "ip", "vtep", "prefix") if k in data)
    return f"{data['event']} {where} {item}: {_entry_text(data['old'])} -> {_entry_text(data['new'])}"


def _entry_text(entry: dict[str, Any] | None) -> str:
    if entry is None:
        return "none"
    return " ".join(f"{key}={value}" for key, value in entry.items())


async def _serve(config: Config, as_json: bool, routes: bool) -> None:
    async with open_speaker(config) as speaker:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with trio.open_nursery() as nursery:

                async def print_events() -> None:
                    kinds = () if routes else (PeerUp, PeerDown, EndOfRib)
                    async for event in speaker.events(*kinds):
                        line = json.dumps(event_json(event)) if as_json else format_event(event)
                        print(line, flush=True)

                nursery.start_soon(print_events)
                async for signum in signals:
                    logging.getLogger("evpn").info("%s: shutting down", signal.Signals(signum).name)
                    nursery.cancel_scope.cancel()
                    break


def run(args: argparse.Namespace) -> int:
    """Load the configuration and run the speaker; 0 after a clean shutdown, 2 for a bad config."""
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"evpn run: {exc}", file=sys.stderr)
        return 2
    trio.run(_serve, config, args.json, args.routes)
    return 0
