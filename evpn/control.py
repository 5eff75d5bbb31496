"""The control socket: what ``evpn show`` asks a running speaker, and its answers.

:func:`serve_control` listens on a Unix stream socket (mode 0600) next to a running
:class:`~evpn.speaker.Speaker`.  Each request is one JSON object on a line, each answer one
JSON object on a line; a connection may ask several times.

===================================================  ===============================================
request                                              answer
===================================================  ===============================================
``{"show": "peers"}``                                :func:`peers_answer`: state, uptime, counters
``{"show": "routes"}``, with ``"vni"`` or ``"vrf"``  :func:`routes_answer`: the Loc-RIB per VNI/VRF,
                                                     every path, why the best one won
``{"show": "vteps"}``, with ``"vni"``                :func:`vteps_answer`: the remote VTEPs per VNI
``{"show": "dataplane"}``                            :func:`dataplane_answer`: the sink's counters
                                                     and the entries the RIB calls for
``{"show": "process"}``                              :func:`process_answer`: PID, memory, open file
                                                     descriptors, threads, trio tasks, uptime
===================================================  ===============================================

A bad request gets ``{"error": "..."}`` naming what was wrong.  The answers are built by
pure functions of the speaker's state (no I/O), so they can be tested without sockets;
:func:`query` is the client side, a plain blocking function for the command line.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import stat
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path as FsPath
from typing import Any

import attrs
import trio

from evpn.config import SpeakerConfig
from evpn.rib import IpVrf, MacVrf, Path, Reason, Rib
from evpn.sink.dataplane import Dataplane
from evpn.sink.ops import Entry, FdbEntry, FloodEntry, NeighborEntry, RouteEntry
from evpn.speaker import Speaker, SpeakerStatistics
from evpn.types import format_ip, format_mac
from evpn.wire.attributes import Nlri
from evpn.wire.jsonform import attributes_json, nlri_json
from evpn.wire.routes import InclusiveMulticastRoute, IPPrefixRoute, MacIpRoute

__all__ = [
    "MAX_REQUEST",
    "SHOWS",
    "ControlError",
    "ProcessState",
    "RequestError",
    "answer",
    "dataplane_answer",
    "default_control_dir",
    "entry_json",
    "peers_answer",
    "process_answer",
    "query",
    "read_process_state",
    "routes_answer",
    "serve_control",
    "vteps_answer",
]

log = logging.getLogger("evpn.control")

SHOWS = ("peers", "routes", "vteps", "dataplane", "process")
"""What ``{"show": ...}`` may ask for."""
MAX_REQUEST = 65536
"""The longest request line accepted, in bytes."""
_FILTERS = {"peers": (), "routes": ("vni", "vrf"), "vteps": ("vni",), "dataplane": (), "process": ()}
_BACKLOG = 16


class ControlError(Exception):
    """The control socket cannot be served or reached; the message names the path and why."""


class RequestError(ValueError):
    """A request the speaker cannot answer; the message says what was wrong with it."""


# --- answers: pure functions of the speaker's state ---------------------------------------


def peers_answer(speaker: SpeakerConfig, statistics: SpeakerStatistics, now: float) -> dict[str, Any]:
    """``show peers``: who we are, and per peer its state, uptime and counters.

    ``uptime`` is ``now - established_since`` in seconds (``now`` on the same clock,
    ``trio.current_time()``), ``None`` while the session is not Established.
    """
    return {
        "router_id": speaker.router_id,
        "asn": speaker.asn,
        "local_routes": statistics.local_routes,
        "peers": [
            {
                "address": peer.address,
                "asn": peer.asn,
                "state": peer.state,
                "uptime": None if peer.established_since is None else round(now - peer.established_since, 3),
                "messages_in": peer.messages_in,
                "messages_out": peer.messages_out,
                "updates_in": peer.updates_in,
                "updates_out": peer.updates_out,
                "routes_received": peer.routes_received,
                "routes_advertised": peer.routes_advertised,
            }
            for peer in statistics.peers
        ],
    }


def _route_order(route: Nlri) -> tuple[Any, ...]:
    """EVPN routes by RIB key (route type, RD, then the type's fields), then prefixes."""
    key = getattr(route, "key", None)
    if isinstance(key, bytes):
        return (0, key)
    return (1, len(route.network), route.network, route.length)  # type: ignore[union-attr]  # a Prefix


def _tables_of(rib: Rib, path: Path) -> tuple[list[int], list[str]]:
    """The VNIs and VRFs (names) whose table shows ``path``, a best path.

    A received path is where the RIB imports it: by route target, type-2 and type-3 routes into
    L2 VNIs, type-5 routes and MAC+IP routes with label2 and a Router's MAC into VRFs (RFC 7432
    §9.2.1, RFC 9136 §5; :meth:`IpVrf.prefix_of`).  A path we originate is shown in the tables
    of its labels: label1 (type 2) or the PMSI tunnel label (type 3) is its L2 VNI, label2
    (type 2) or the label (type 5) the L3 VNI of its VRF.
    """
    route = path.route
    if path.source.is_local:
        l3 = {vrf.l3vni: name for name, vrf in rib.vrfs.items()}
        if isinstance(route, MacIpRoute):
            vnis = [route.label1] if route.label1 in rib.vnis else []
            return vnis, [l3[route.label2]] if route.label2 in l3 else []
        if isinstance(route, InclusiveMulticastRoute):
            pmsi = path.attributes.pmsi
            return ([pmsi.label] if pmsi is not None and pmsi.label in rib.vnis else []), []
        if isinstance(route, IPPrefixRoute):
            return [], [l3[route.label]] if route.label in l3 else []
        return [], []
    targets = path.attributes.route_targets
    vnis = [vni for vni, mac_vrf in rib.vnis.items() if mac_vrf.import_targets & targets]
    vrfs = [name for name, ip_vrf in rib.vrfs.items() if ip_vrf.import_targets & targets]
    if isinstance(route, MacIpRoute):
        return vnis, vrfs if IpVrf.prefix_of(path) is not None else []
    if isinstance(route, InclusiveMulticastRoute):
        return vnis, []
    if isinstance(route, IPPrefixRoute):
        return [], vrfs if IpVrf.prefix_of(path) is not None else []
    return [], []


def _path_json(path: Path, best: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"from": path.source.name, "best": best}
    if len(path.next_hop) in (4, 16):
        out["next_hop"] = format_ip(path.next_hop)
    out["attributes"] = attributes_json(path.attributes.attributes)
    return out


def _route_json(rib: Rib, key: object, best: Path, reason: Reason) -> dict[str, Any]:
    paths = rib.paths(key)
    return {
        "route": nlri_json(best.route),
        "reason": reason.text,
        "paths": [_path_json(path, path is best) for path in paths],
    }


def _check_vni(rib: Rib, vni: object) -> int:
    if not isinstance(vni, int) or isinstance(vni, bool):
        raise RequestError(f'"vni" must be an integer, not {json.dumps(vni)}')
    if vni not in rib.vnis:
        configured = ", ".join(str(v) for v in sorted(rib.vnis)) or "none"
        raise RequestError(f"VNI {vni} is not configured (configured VNIs: {configured})")
    return vni


def _check_vrf(rib: Rib, vrf: object) -> str:
    if not isinstance(vrf, str):
        raise RequestError(f'"vrf" must be a string, not {json.dumps(vrf)}')
    if vrf not in rib.vrfs:
        configured = ", ".join(sorted(rib.vrfs)) or "none"
        raise RequestError(f"VRF {vrf!r} is not configured (configured VRFs: {configured})")
    return vrf


def routes_answer(rib: Rib, *, vni: int | None = None, vrf: str | None = None) -> dict[str, Any]:
    """``show routes``: the Loc-RIB, one table per L2 VNI (``vnis``) and per VRF (``vrfs``),
    and the routes in none of them (``other``: other families, route types and route targets).

    Each route has every path (best first, ``"best": true``; ``from`` is the peer address or
    ``"local"``) and ``reason``, the step of the decision process that made the best path win
    (:class:`~evpn.rib.Reason`).  A received route is in the tables the RIB imports its best
    path into (by route target); a route we originate in those of its labels (the L2 VNI in
    label1 or the PMSI tunnel label, the L3 VNI in label2 or a type-5 label).  ``vni`` or
    ``vrf`` keeps only that table (and leaves ``other`` empty); :class:`RequestError` for a
    VNI or VRF that is not configured.
    """
    wanted_vnis = sorted(rib.vnis) if vni is None and vrf is None else []
    wanted_vrfs = list(rib.vrfs) if vni is None and vrf is None else []
    if vni is not None:
        wanted_vnis = [_check_vni(rib, vni)]
    if vrf is not None:
        wanted_vrfs = [_check_vrf(rib, vrf)]
    everything = vni is None and vrf is None
    by_vni: dict[int, list[tuple[Nlri, object, Path, Reason]]] = {v: [] for v in wanted_vnis}
    by_vrf: dict[str, list[tuple[Nlri, object, Path, Reason]]] = {v: [] for v in wanted_vrfs}
    other: list[tuple[Nlri, object, Path, Reason]] = []
    for key, best, reason in rib.best_paths():
        entry = (best.route, key, best, reason)
        l2, l3 = _tables_of(rib, best)
        for number in l2:
            if number in by_vni:
                by_vni[number].append(entry)
        for name in l3:
            if name in by_vrf:
                by_vrf[name].append(entry)
        if everything and not l2 and not l3:
            other.append(entry)

    def rows(entries: list[tuple[Nlri, object, Path, Reason]]) -> list[dict[str, Any]]:
        entries.sort(key=lambda e: _route_order(e[0]))
        return [_route_json(rib, key, best, reason) for _, key, best, reason in entries]

    return {
        "vnis": [{"vni": number, "routes": rows(by_vni[number])} for number in wanted_vnis],
        "vrfs": [{"vrf": name, "l3vni": rib.vrfs[name].l3vni, "routes": rows(by_vrf[name])} for name in wanted_vrfs],
        "other": rows(other),
    }


def _vteps_json(mac_vrf: MacVrf) -> list[dict[str, Any]]:
    macs: dict[bytes, int] = {}
    for remote in mac_vrf.macs.values():
        macs[remote.vtep] = macs.get(remote.vtep, 0) + 1
    vteps = sorted(set(mac_vrf.flood) | set(macs), key=lambda v: (len(v), v))
    out = []
    for vtep in vteps:
        flood = mac_vrf.flood.get(vtep)
        out.append(
            {"vtep": format_ip(vtep), "flood": None if flood is None else {"vni": flood.vni}, "macs": macs.get(vtep, 0)}
        )
    return out


def vteps_answer(rib: Rib, *, vni: int | None = None) -> dict[str, Any]:
    """``show vteps``: per L2 VNI, the remote VTEPs: those in its flood list (from their type-3
    routes, RFC 7432 §11; ``flood`` has the VNI to send BUM traffic with) and those that remote
    MACs are behind (``macs``: how many).  A VTEP with MACs and ``"flood": null`` sent no
    type-3 route for the VNI.  ``vni`` keeps only that VNI (:class:`RequestError` if it is not
    configured)."""
    numbers = sorted(rib.vnis) if vni is None else [_check_vni(rib, vni)]
    return {"vnis": [{"vni": number, "vteps": _vteps_json(rib.vnis[number])} for number in numbers]}


def entry_json(entry: Entry) -> dict[str, Any]:
    """A sink entry (:mod:`evpn.sink.ops`) as JSON, with its ``kind``: ``fdb``, ``flood``,
    ``neighbor`` or ``route``."""
    if isinstance(entry, FdbEntry):
        return {
            "kind": "fdb",
            "device": entry.device,
            "mac": format_mac(entry.mac),
            "vtep": format_ip(entry.vtep),
            "sticky": entry.sticky,
        }
    if isinstance(entry, FloodEntry):
        return {"kind": "flood", "device": entry.device, "vtep": format_ip(entry.vtep)}
    if isinstance(entry, NeighborEntry):
        return {"kind": "neighbor", "device": entry.device, "ip": format_ip(entry.ip), "mac": format_mac(entry.mac)}
    if isinstance(entry, RouteEntry):
        return {
            "kind": "route",
            "table": entry.table,
            "prefix": f"{format_ip(entry.prefix)}/{entry.length}",
            "device": entry.device,
            "next_hops": [format_ip(hop) for hop in entry.next_hops],
        }
    raise TypeError(f"not a sink entry: {entry!r}")  # pragma: no cover - every Entry type is handled above


_KIND_ORDER = {"fdb": 0, "flood": 1, "neigh": 2, "route": 3}


def _entry_order(entry: Entry) -> tuple[Any, ...]:
    kind, *rest = entry.key
    return (_KIND_ORDER[kind], *((len(v), v) if isinstance(v, bytes) else (0, v) for v in rest))


def dataplane_answer(dataplane: Dataplane | None) -> dict[str, Any]:
    """``show dataplane``: the sink (its class name; ``None`` without a dataplane), its counters
    (:meth:`Dataplane.statistics`), every entry the RIB's state calls for, and the most recent
    refused operations with the reason (``failures``, at most 1000).

    ``entries`` is the desired state (:attr:`Translator.entries`): the sink holds it once
    ``reconciled`` is true and ``pending`` is 0, except the entries of failed operations.
    """
    if dataplane is None:
        return {"sink": None}
    statistics = dataplane.statistics()
    return {
        "sink": type(dataplane.sink).__name__,
        "reconciled": statistics.reconciled,
        "applied": statistics.applied,
        "failed": statistics.failed,
        "pending": statistics.pending,
        "entries": [entry_json(e) for e in sorted(dataplane.translator.entries.values(), key=_entry_order)],
        "failures": [
            {"action": error.op.action.value, "entry": entry_json(error.op.entry), "reason": error.reason}
            for error in dataplane.failed
        ],
    }


@attrs.frozen
class ProcessState:
    """What ``show process`` reports about the speaker's process (:func:`read_process_state`).

    ``None`` for what the system does not tell (``/proc`` is Linux's).
    """

    pid: int
    rss_bytes: int | None
    """Resident set size (``VmRSS`` of ``/proc/self/status``)."""
    open_fds: int | None
    """Open file descriptors (entries of ``/proc/self/fd``, without the one that lists them)."""
    threads: int | None
    """OS threads (entries of ``/proc/self/task``): the main one, the netlink sink's, trio's workers."""
    tasks: int
    """Live trio tasks, counted from the root task down through every nursery."""
    uptime: float | None
    """Seconds since the process started."""
    task_names: tuple[tuple[str, int], ...] = ()
    """How many of the live tasks run each function (trio's task name), most first."""


def _walk_tasks(task: trio.lowlevel.Task) -> Iterator[trio.lowlevel.Task]:
    yield task
    for nursery in task.child_nurseries:
        for child in nursery.child_tasks:
            yield from _walk_tasks(child)


def _proc_status_kib(key: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _proc_entries(path: str, own: int = 0) -> int | None:
    try:
        return len(os.listdir(path)) - own
    except OSError:
        return None


def _process_uptime() -> float | None:
    """Seconds since this process started: the system's uptime minus the process start time
    (field 22 of ``/proc/self/stat``, in clock ticks since boot)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as stat_file:
            fields = stat_file.read().rsplit(")", 1)[1].split()  # the command name may hold spaces
        with open("/proc/uptime", encoding="ascii") as uptime_file:
            system = float(uptime_file.read().split()[0])
        return max(round(system - int(fields[19]) / os.sysconf("SC_CLK_TCK"), 2), 0.0)
    except (OSError, ValueError, IndexError):
        return None


def read_process_state() -> ProcessState:
    """The speaker's process as it is now (reads ``/proc/self``; call it from the trio thread)."""
    kib = _proc_status_kib("VmRSS") if sys.platform.startswith("linux") else None
    root = trio.lowlevel.current_root_task()
    tasks = [] if root is None else list(_walk_tasks(root))
    return ProcessState(
        pid=os.getpid(),
        rss_bytes=None if kib is None else kib * 1024,
        open_fds=_proc_entries("/proc/self/fd", own=1),  # listing the directory opens one more
        threads=_proc_entries("/proc/self/task"),
        tasks=len(tasks),
        uptime=_process_uptime(),
        task_names=tuple(sorted(Counter(task.name for task in tasks).items(), key=lambda item: (-item[1], item[0]))),
    )


def process_answer(state: ProcessState) -> dict[str, Any]:
    """``show process``: the speaker's PID, resident memory (bytes), open file descriptors,
    OS threads, live trio tasks (and how many run each function) and uptime (seconds) -- what
    to watch for leaks."""
    return {
        "pid": state.pid,
        "rss_bytes": state.rss_bytes,
        "open_fds": state.open_fds,
        "threads": state.threads,
        "tasks": state.tasks,
        "uptime": state.uptime,
        "task_names": dict(state.task_names),
    }


def answer(speaker: Speaker, request: object, now: float) -> dict[str, Any]:
    """The answer to ``request`` (a decoded JSON request) from ``speaker`` at ``now``
    (``trio.current_time()``): one of the ``*_answer`` functions, or ``{"error": ...}``."""
    try:
        if not isinstance(request, dict):
            raise RequestError(f"a request is a JSON object, not {type(request).__name__}: {json.dumps(request)}")
        show = request.get("show")
        if show not in _FILTERS:
            got = 'no "show" key' if "show" not in request else f'unknown "show": {json.dumps(show)}'
            raise RequestError(f"{got} (one of: {', '.join(SHOWS)})")
        allowed = ("show", *_FILTERS[show])
        unknown = [key for key in request if key not in allowed]
        if unknown:
            raise RequestError(
                f'unknown key {json.dumps(unknown[0])} in a "{show}" request (allowed: {", ".join(allowed)})'
            )
        if show == "peers":
            return peers_answer(speaker.config.speaker, speaker.statistics(), now)
        if show == "routes":
            return routes_answer(speaker.rib, vni=request.get("vni"), vrf=request.get("vrf"))
        if show == "vteps":
            return vteps_answer(speaker.rib, vni=request.get("vni"))
        if show == "process":
            return process_answer(read_process_state())
        return dataplane_answer(speaker.dataplane)
    except RequestError as exc:
        return {"error": str(exc)}


# --- the server ---------------------------------------------------------------------------


def default_control_dir() -> FsPath | None:
    """Where ``evpn run`` puts its control socket and ``evpn show`` looks for one:
    ``/run/evpn`` for root, else ``$XDG_RUNTIME_DIR/evpn``; ``None`` when neither applies."""
    if os.geteuid() == 0:
        return FsPath("/run/evpn")
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return FsPath(runtime) / "evpn" if runtime else None


async def _check_free(path: str) -> None:
    """Remove a stale socket at ``path``; :class:`ControlError` if a live one or another file is there."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ControlError(f"control socket {path}: {exc.strerror}") from None
    if not stat.S_ISSOCK(mode):
        raise ControlError(f"control socket {path}: a file that is not a socket is there; not replacing it")
    probe = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with probe:
        try:
            await probe.connect(path)
        except ConnectionRefusedError:
            log.info("control socket %s: removing a stale socket (nothing listens on it)", path)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            return
        except OSError as exc:
            raise ControlError(f"control socket {path}: {exc.strerror}") from None
    raise ControlError(f"control socket {path}: another process is listening on it (is a speaker running?)")


async def _bind(path: str) -> tuple[trio.socket.SocketType, tuple[int, int]]:
    await _check_free(path)
    sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        await sock.bind(path)
        # Nobody can connect before listen(): the mode is set before anyone could.
        os.chmod(path, 0o600)
        info = os.stat(path)
        sock.listen(_BACKLOG)
    except OSError as exc:
        sock.close()
        raise ControlError(f"control socket {path}: {exc.strerror or exc}") from None
    return sock, (info.st_dev, info.st_ino)


def _respond(speaker: Speaker, line: bytes) -> dict[str, Any]:
    try:
        request = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        return {"error": f"a request is one JSON object per line: {exc}"}
    try:
        return answer(speaker, request, trio.current_time())
    except Exception as exc:  # a bug here must not take the speaker down
        log.exception("control socket: answering %s failed", line[:200])
        return {"error": f"internal error: {exc!r}"}


async def _handle(speaker: Speaker, stream: trio.SocketStream) -> None:
    """Answer each request line on ``stream`` until the client closes it."""
    async with stream:
        buffer = bytearray()
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            while data := await stream.receive_some(MAX_REQUEST):
                buffer += data
                while (end := buffer.find(b"\n")) >= 0:
                    line = bytes(buffer[:end])
                    del buffer[: end + 1]
                    if line.strip():
                        out = json.dumps(_respond(speaker, line)) + "\n"
                        await stream.send_all(out.encode())
                if len(buffer) > MAX_REQUEST:
                    error = {"error": f"request longer than {MAX_REQUEST} bytes without a newline"}
                    await stream.send_all(json.dumps(error).encode() + b"\n")
                    return


async def serve_control(
    speaker: Speaker, path: str | os.PathLike[str], *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """Answer control requests for ``speaker`` on the Unix socket ``path`` until cancelled.

    The socket is created with mode 0600 (only the speaker's user may ask) and removed on
    exit.  A stale socket at ``path`` (nothing listens) is replaced; :class:`ControlError`
    naming ``path`` if a process listens there, if another kind of file is there, or if the
    socket cannot be made (missing directory, permissions, path too long).  With
    ``nursery.start()`` the error comes before the start, and the start returns once
    requests are accepted.
    """
    name = os.fspath(path)
    sock, identity = await _bind(name)
    try:
        listener = trio.SocketListener(sock)
        async with trio.open_nursery() as nursery:
            await nursery.start(trio.serve_listeners, lambda stream: _handle(speaker, stream), [listener])
            log.info("control socket on %s", name)
            task_status.started()
    finally:
        sock.close()
        with contextlib.suppress(OSError):
            info = os.stat(name)
            if (info.st_dev, info.st_ino) == identity:  # still ours: not replaced by another process
                os.unlink(name)


# --- the client ---------------------------------------------------------------------------


def _read_line(conn: socket.socket) -> bytes | None:
    """The first line ``conn`` sends, without its newline; ``None`` if it closes before one."""
    buffer = bytearray()
    while True:
        start = len(buffer)
        data = conn.recv(1 << 20)
        if not data:
            return None
        buffer += data
        end = buffer.find(b"\n", start)
        if end >= 0:
            return bytes(buffer[:end])


def query(path: str | os.PathLike[str], request: dict[str, Any], *, timeout: float = 30.0) -> dict[str, Any]:
    """Send ``request`` to the speaker listening on ``path``; its answer (``{"error": ...}``
    when it refused the request).

    :class:`ControlError` naming ``path`` when no speaker answers there: no such socket,
    nothing listening (a stale socket), no permission, or no answer within ``timeout``
    seconds of silence.
    """
    name = os.fspath(path)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(name)
            conn.sendall(json.dumps(request).encode() + b"\n")
            conn.shutdown(socket.SHUT_WR)
            line = _read_line(conn)
            result = None if line is None else json.loads(line)
    except FileNotFoundError:
        raise ControlError(f"control socket {name}: no such socket (is `evpn run` running with it?)") from None
    except ConnectionRefusedError:
        raise ControlError(f"control socket {name}: nothing listens on it (the speaker is not running)") from None
    except PermissionError:
        raise ControlError(f"control socket {name}: permission denied (it is for the speaker's user only)") from None
    except TimeoutError:
        raise ControlError(f"control socket {name}: no answer within {timeout:g} s") from None
    except ValueError as exc:
        raise ControlError(f"control socket {name}: the answer is not JSON: {exc}") from None
    except OSError as exc:
        raise ControlError(f"control socket {name}: {exc.strerror or exc}") from None
    if line is None:
        raise ControlError(f"control socket {name}: the speaker closed the connection without answering")
    if not isinstance(result, dict):
        raise ControlError(f"control socket {name}: the answer is not a JSON object")
    return result
