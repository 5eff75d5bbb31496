"""``evpn run -c FILE [--json] [--routes] [--control PATH | --no-control]``: run a speaker
until SIGINT/SIGTERM.

Events go to stdout (one JSON object per line with ``--json``, a readable line otherwise);
logs go to stderr.  While the speaker runs, ``evpn show`` can ask it about its state through
its control socket (:mod:`evpn.control`).  When stderr is a terminal, one status line at its
bottom shows the initial table transfers (routes received per peer until End-of-RIB) and the
dataplane's reconciliation; otherwise nothing is added.  On SIGINT/SIGTERM every peer gets a
Cease (Administrative Shutdown) and the command exits 0.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import sys
from collections.abc import Collection
from typing import Any, TextIO

import trio

from evpn.config import Config, load_config
from evpn.control import ControlError, default_control_dir, serve_control
from evpn.errors import ConfigError
from evpn.events import EndOfRib, Event, PeerDown, PeerUp, RouteAdded, RouteWithdrawn, event_json
from evpn.sink.dataplane import DataplaneStatistics
from evpn.speaker import Speaker, SpeakerStatistics, open_speaker

__all__ = [
    "PROGRESS_INTERVAL",
    "StatusLine",
    "TableTransfers",
    "add_parser",
    "control_path",
    "format_event",
    "progress_text",
    "report_progress",
    "run",
]

log = logging.getLogger("evpn")

PROGRESS_INTERVAL = 0.25
"""Seconds between two updates of the status line."""


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
    control = parser.add_mutually_exclusive_group()
    control.add_argument(
        "--control",
        metavar="PATH",
        help="serve `evpn show` on this Unix socket (default: /run/evpn/ROUTER_ID.sock as root, "
        "$XDG_RUNTIME_DIR/evpn/ROUTER_ID.sock otherwise)",
    )
    control.add_argument("--no-control", action="store_true", help="serve no control socket")
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


def control_path(config: Config) -> str | None:
    """The default control socket of a speaker with ``config``: ``ROUTER_ID.sock`` in
    :func:`~evpn.control.default_control_dir`, or ``None`` when there is no such directory."""
    directory = default_control_dir()
    return None if directory is None else str(directory / f"{config.speaker.router_id}.sock")


class StatusLine:
    """One line of progress at the bottom of a terminal (``stream``), rewritten in place.

    :meth:`clear` it before writing anything else to the terminal; the next :meth:`show`
    draws it again.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.text = ""
        """What the line shows now (``""``: nothing)."""

    def show(self, text: str) -> None:
        """Show ``text`` (cut to the terminal's width); ``""`` clears the line."""
        text = text[: max(self._columns() - 1, 10)]
        if text == self.text:
            return
        self.stream.write(f"\r{text}\x1b[K" if text else "\r\x1b[K")
        self.stream.flush()
        self.text = text

    def clear(self) -> None:
        """Remove the line (the cursor stays at the start of the empty line)."""
        self.show("")

    def _columns(self) -> int:
        """The width of the stream's terminal (a longer line would wrap and not be rewritten)."""
        try:
            return os.get_terminal_size(self.stream.fileno()).columns
        except (OSError, ValueError):  # not a real terminal (io.UnsupportedOperation is both)
            return shutil.get_terminal_size().columns


class _StatusAwareHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Logs to the terminal that shows ``status``: the status line is cleared first."""

    def __init__(self, status: StatusLine) -> None:
        super().__init__(status.stream)
        self.status = status

    def emit(self, record: logging.LogRecord) -> None:
        self.status.clear()
        super().emit(record)


def progress_text(
    statistics: SpeakerStatistics, transferring: Collection[str], dataplane: DataplaneStatistics | None
) -> str:
    """The status line: the routes received so far from each peer in ``transferring`` (up and
    still short of an End-of-RIB), and the dataplane until it is reconciled and while
    operations are pending; ``""`` when nothing is in progress."""
    parts = []
    receiving = [f"{p.address} {p.routes_received} routes" for p in statistics.peers if p.address in transferring]
    if receiving:
        parts.append(f"initial transfer: {', '.join(receiving)}")
    if dataplane is not None:
        if not dataplane.reconciled:
            parts.append(f"dataplane: {dataplane.entries} entries, not reconciled yet")
        elif dataplane.pending:
            parts.append(f"dataplane: {dataplane.pending} operations pending, {dataplane.applied} applied")
    return "; ".join(parts)


class TableTransfers:
    """The peers whose initial table transfer is under way: up, and still short of an
    End-of-RIB for some negotiated family (RFC 4724 §2).  Feed it the speaker's
    :class:`PeerUp`, :class:`PeerDown` and :class:`EndOfRib` events."""

    def __init__(self) -> None:
        self._waiting: dict[str, set[str]] = {}  # peer -> families whose End-of-RIB is to come

    @property
    def peers(self) -> frozenset[str]:
        """The addresses of the peers still sending their table."""
        return frozenset(self._waiting)

    def update(self, event: Event) -> None:
        """Take ``event`` into account (other events are ignored)."""
        if isinstance(event, PeerUp):
            self._waiting[event.peer] = set(event.families)
        elif isinstance(event, PeerDown):
            self._waiting.pop(event.peer, None)
        elif isinstance(event, EndOfRib) and event.peer in self._waiting:
            families = self._waiting[event.peer]
            families.discard(event.family)
            if not families:
                del self._waiting[event.peer]


async def report_progress(speaker: Speaker, status: StatusLine, *, interval: float = PROGRESS_INTERVAL) -> None:
    """Until cancelled, keep ``status`` showing :func:`progress_text` for ``speaker``, every
    ``interval`` seconds; the line is cleared when nothing is in progress, and at the end."""
    transfers = TableTransfers()

    async def follow() -> None:
        async for event in speaker.events(PeerUp, PeerDown, EndOfRib):
            transfers.update(event)

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(follow)
            while True:
                dataplane = speaker.dataplane.statistics() if speaker.dataplane is not None else None
                status.show(progress_text(speaker.statistics(), transfers.peers, dataplane))
                await trio.sleep(interval)
    finally:
        status.clear()


async def _start_control(nursery: trio.Nursery, speaker: Speaker, path: str, explicit: bool) -> bool:
    """Serve the control socket at ``path``; False if that failed for an ``explicit`` path (a
    default one only gets a warning)."""
    try:
        if not explicit:
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        await nursery.start(serve_control, speaker, path)
    except ControlError as exc:
        if explicit:
            print(f"evpn run: {exc}", file=sys.stderr)
            return False
        log.warning("%s: running without a control socket (pass --control PATH)", exc)
    except OSError as exc:  # the default directory
        log.warning("cannot create %s (%s): running without a control socket", exc.filename, exc.strerror)
    return True


async def _serve(
    config: Config, as_json: bool, routes: bool, control: str | None, explicit: bool, status: StatusLine | None
) -> int:
    async with open_speaker(config) as speaker:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with trio.open_nursery() as nursery:
                clear = status is not None and sys.stdout.isatty()  # events and the status line share a terminal

                async def print_events() -> None:
                    kinds = () if routes else (PeerUp, PeerDown, EndOfRib)
                    async for event in speaker.events(*kinds):
                        line = json.dumps(event_json(event)) if as_json else format_event(event)
                        if clear and status is not None:
                            status.clear()
                        print(line, flush=True)

                nursery.start_soon(print_events)  # first: it subscribes before any session is up
                if status is not None:
                    nursery.start_soon(report_progress, speaker, status)
                if control is not None and not await _start_control(nursery, speaker, control, explicit):
                    nursery.cancel_scope.cancel()
                    return 1
                async for signum in signals:
                    log.info("%s: shutting down", signal.Signals(signum).name)
                    nursery.cancel_scope.cancel()
                    break
    return 0


def run(args: argparse.Namespace) -> int:
    """Load the configuration and run the speaker; 0 after a clean shutdown, 1 when the
    ``--control`` socket cannot be served, 2 for a bad config."""
    status = StatusLine(sys.stderr) if sys.stderr.isatty() else None
    handler = logging.StreamHandler(sys.stderr) if status is None else _StatusAwareHandler(status)
    logging.basicConfig(handlers=[handler], level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"evpn run: {exc}", file=sys.stderr)
        return 2
    control = None if args.no_control else args.control or control_path(config)
    status_code: int = trio.run(_serve, config, args.json, args.routes, control, args.control is not None, status)
    return status_code
