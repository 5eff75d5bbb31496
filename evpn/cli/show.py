"""``evpn show {peers,routes,vteps,dataplane,process}``: ask a running speaker through its control socket.

The answers are those of :mod:`evpn.control`; they are printed as aligned tables (the default)
or as the JSON object the speaker sent (``--json``).  Exit status 1 when no speaker answers on
the socket or the speaker refuses the request (the message says why), 2 for usage errors.
"""

from __future__ import annotations

import argparse
import json
import stat
import sys
from collections.abc import Sequence
from typing import Any

from evpn.cli.decode import route_text
from evpn.control import ControlError, default_control_dir, query

__all__ = [
    "add_parser",
    "dataplane_text",
    "find_socket",
    "format_uptime",
    "peers_text",
    "process_text",
    "routes_text",
    "run",
    "table",
    "vteps_text",
]


def add_parser(subparsers: Any) -> None:
    """Add the ``show`` subcommand and its ``peers``, ``routes``, ``vteps``, ``dataplane``, ``process``."""
    parser = subparsers.add_parser(
        "show",
        help="show a running speaker's peers, routes, VTEPs, dataplane or process",
        description="Ask a running `evpn run` through its control socket; print tables, or JSON with --json.",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--socket",
        metavar="PATH",
        help="the speaker's control socket (default: the only one in /run/evpn, or $XDG_RUNTIME_DIR/evpn when not root)",
    )
    common.add_argument("--json", action="store_true", help="print the speaker's JSON answer on one line")
    kinds = parser.add_subparsers(dest="what", metavar="WHAT", required=True)
    kinds.add_parser("peers", parents=[common], help="peers: state, uptime, messages and routes in/out")
    routes = kinds.add_parser(
        "routes", parents=[common], help="the routes per VNI and VRF, every path, and why the best one won"
    )
    routes.add_argument("--vni", type=int, metavar="N", help="only the routes of L2 VNI N")
    routes.add_argument("--vrf", metavar="NAME", help="only the routes of VRF NAME")
    vteps = kinds.add_parser("vteps", parents=[common], help="the remote VTEPs per VNI: flood list and MACs")
    vteps.add_argument("--vni", type=int, metavar="N", help="only L2 VNI N")
    kinds.add_parser("dataplane", parents=[common], help="what the sink was asked to install, and its counters")
    kinds.add_parser(
        "process", parents=[common], help="the speaker's process: PID, memory, open files, threads, trio tasks, uptime"
    )
    parser.set_defaults(run=run)


def find_socket(explicit: str | None) -> str:
    """The control socket to ask: ``explicit``, else the only socket in the default directory
    (:func:`~evpn.control.default_control_dir`); :class:`ControlError` saying what to pass."""
    if explicit is not None:
        return explicit
    directory = default_control_dir()
    if directory is None:
        raise ControlError("no default control socket directory (not root, no XDG_RUNTIME_DIR): pass --socket PATH")
    try:
        found = sorted(str(p) for p in directory.glob("*.sock") if stat.S_ISSOCK(p.lstat().st_mode))
    except OSError as exc:
        raise ControlError(f"{directory}: {exc.strerror}: pass --socket PATH") from None
    if not found:
        raise ControlError(f"no control socket in {directory} (is `evpn run` running?): pass --socket PATH")
    if len(found) > 1:
        raise ControlError(f"several control sockets in {directory}: pass --socket with one of {', '.join(found)}")
    return found[0]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """``rows`` under ``headers`` in aligned columns, two spaces apart: integers on the right,
    the rest on the left (as ``vtysh`` prints its tables)."""
    cells = [[str(value) for value in row] for row in rows]
    widths = [max([len(headers[i]), *(len(row[i]) for row in cells)]) for i in range(len(headers))]
    numeric = [
        bool(rows) and all(isinstance(row[i], int) and not isinstance(row[i], bool) for row in rows)
        for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if right else v.ljust(w) for v, w, right in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    return [line(headers), *(line(row) for row in cells)]


def format_uptime(seconds: float | None) -> str:
    """An uptime as FRR prints it: ``hh:mm:ss`` under a day, ``NdNNhNNm`` under a week, then
    ``NNwNdNNh``; ``-`` for a session that is not up."""
    if seconds is None:
        return "-"
    total = int(seconds)
    minutes, secs = divmod(total, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days == 0:
        return f"{hours:02d}:{minutes:02d}:{secs:02d}"
    if days < 7:
        return f"{days}d{hours:02d}h{minutes:02d}m"
    return f"{days // 7:02d}w{days % 7}d{hours:02d}h"


def peers_text(answer: dict[str, Any]) -> list[str]:
    """``show peers`` as text: our identity, then one line per peer (``show bgp summary``)."""
    head = (
        f"BGP router identifier {answer['router_id']}, local AS {answer['asn']}, {answer['local_routes']} local routes"
    )
    if not answer["peers"]:
        return [head, "", "no peers configured"]
    headers = ("Neighbor", "AS", "State", "Up/Down", "MsgRcvd", "MsgSent", "UpdRcvd", "UpdSent", "PfxRcd", "PfxSnt")
    rows = [
        (
            p["address"],
            p["asn"],
            p["state"],
            format_uptime(p["uptime"]),
            p["messages_in"],
            p["messages_out"],
            p["updates_in"],
            p["updates_out"],
            p["routes_received"],
            p["routes_advertised"],
        )
        for p in answer["peers"]
    ]
    return [head, "", *table(headers, rows)]


def _routes_block(title: str, routes: list[dict[str, Any]]) -> list[str]:
    count = f"{len(routes)} route{'' if len(routes) == 1 else 's'}"
    if not routes:
        return [f"{title}: {count}"]
    rows: list[tuple[str, str, str, str]] = []
    for route in routes:
        prefix = route_text(route["route"]).split(" ")[0]
        for path in route["paths"]:
            best = path["best"]
            rows.append(
                (
                    ("*> " if best else "*  ") + (prefix if best else ""),
                    path.get("next_hop", "-"),
                    path["from"],
                    route["reason"] if best else "",
                )
            )
    return [f"{title}: {count}", *table(("   Route", "Next hop", "From", "Reason"), rows)]


def routes_text(answer: dict[str, Any]) -> list[str]:
    """``show routes`` as text: per VNI and VRF, every path of every route (``*>`` the best one,
    with the reason it won), then the routes in no VNI or VRF."""
    blocks = [_routes_block(f"VNI {v['vni']}", v["routes"]) for v in answer["vnis"]]
    blocks += [_routes_block(f"VRF {v['vrf']} (L3 VNI {v['l3vni']})", v["routes"]) for v in answer["vrfs"]]
    if answer["other"]:
        blocks.append(_routes_block("In no VNI or VRF", answer["other"]))
    if not blocks:
        return ["no VNIs or VRFs configured, no routes"]
    return _joined(blocks)


def vteps_text(answer: dict[str, Any]) -> list[str]:
    """``show vteps`` as text: per VNI its remote VTEPs, the VNI BUM traffic goes to each with
    (``-``: the VTEP sent no type-3 route) and how many remote MACs are behind it."""
    blocks = []
    for vni in answer["vnis"]:
        vteps = vni["vteps"]
        title = f"VNI {vni['vni']}: {len(vteps)} remote VTEP{'' if len(vteps) == 1 else 's'}"
        rows = [(v["vtep"], "-" if v["flood"] is None else f"VNI {v['flood']['vni']}", v["macs"]) for v in vteps]
        blocks.append([title, *table(("VTEP", "Flood", "MACs"), rows)] if rows else [title])
    return _joined(blocks) if blocks else ["no VNIs configured"]


def _entry_text(entry: dict[str, Any]) -> str:
    kind = entry["kind"]
    if kind == "fdb":
        return f"fdb {entry['mac']} dev {entry['device']} dst {entry['vtep']}{' sticky' if entry['sticky'] else ''}"
    if kind == "flood":
        return f"fdb 00:00:00:00:00:00 dev {entry['device']} dst {entry['vtep']}"
    if kind == "neighbor":
        return f"neigh {entry['ip']} lladdr {entry['mac']} dev {entry['device']}"
    return f"route {entry['prefix']} table {entry['table']} via {','.join(entry['next_hops'])} dev {entry['device']}"


def dataplane_text(answer: dict[str, Any]) -> list[str]:
    """``show dataplane`` as text: the counters, then the entries per kind (as ``bridge fdb``
    and ``ip neigh``/``ip route`` name them) and the recent failures."""
    if answer["sink"] is None:
        return ['no dataplane ([dataplane] sink = "none")']
    entries = answer["entries"]
    state = "reconciled" if answer["reconciled"] else "not reconciled yet"
    lines = [
        f"sink {answer['sink']}: {state}, {len(entries)} entries, {answer['applied']} operations applied, "
        f"{answer['failed']} failed, {answer['pending']} pending",
        "entries are the desired state: installed once reconciled with nothing pending, unless an operation failed",
    ]
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        by_kind.setdefault(entry["kind"], []).append(entry)
    blocks = [lines]
    sections = {
        "fdb": ("Remote MACs (bridge fdb)", ("Device", "MAC", "VTEP", "Sticky"), ("device", "mac", "vtep", "sticky")),
        "flood": ("Flood list (bridge fdb 00:00:00:00:00:00)", ("Device", "VTEP"), ("device", "vtep")),
        "neighbor": ("Neighbours (ip neigh)", ("Device", "IP", "MAC"), ("device", "ip", "mac")),
        "route": ("Routes (ip route)", ("Table", "Prefix", "Device", "Next hops"), ("table", "prefix", "device")),
    }
    for kind, (title, headers, keys) in sections.items():
        if kind not in by_kind:
            continue
        rows = []
        for entry in by_kind[kind]:
            row: list[object] = [("yes" if entry[k] else "no") if k == "sticky" else entry[k] for k in keys]
            if kind == "route":
                row.append(", ".join(entry["next_hops"]))
            rows.append(row)
        blocks.append([title, *table(headers, rows)])
    if answer["failures"]:
        failures = [(f["action"], _entry_text(f["entry"]), f["reason"]) for f in answer["failures"]]
        blocks.append(["Failed operations (most recent last)", *table(("Action", "Entry", "Reason"), failures)])
    return _joined(blocks)


def _mib(size: int | None) -> str:
    return "-" if size is None else f"{size / (1 << 20):.1f} MiB ({size} bytes)"


def process_text(answer: dict[str, Any]) -> list[str]:
    """``show process`` as text: one line per figure (``-`` for one the system does not give),
    then how many trio tasks run each function, most first."""
    uptime = answer["uptime"]
    rows = [
        ("PID", str(answer["pid"])),
        ("Uptime", "-" if uptime is None else format_uptime(uptime)),
        ("RSS", _mib(answer["rss_bytes"])),
        ("Open fds", "-" if answer["open_fds"] is None else str(answer["open_fds"])),
        ("Threads", "-" if answer["threads"] is None else str(answer["threads"])),
        ("Trio tasks", str(answer["tasks"])),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"{name.ljust(width)}  {value}" for name, value in rows]
    names = answer.get("task_names") or {}
    if names:
        lines += ["", *table(("Tasks", "Function"), [(count, name) for name, count in names.items()])]
    return lines


def _joined(blocks: list[list[str]]) -> list[str]:
    out: list[str] = []
    for block in blocks:
        if out:
            out.append("")
        out.extend(block)
    return out


_TEXT = {
    "peers": peers_text,
    "routes": routes_text,
    "vteps": vteps_text,
    "dataplane": dataplane_text,
    "process": process_text,
}


def run(args: argparse.Namespace) -> int:
    """Ask the speaker and print its answer; 0, or 1 when it cannot be asked or refuses."""
    request: dict[str, Any] = {"show": args.what}
    for key in ("vni", "vrf"):
        if getattr(args, key, None) is not None:
            request[key] = getattr(args, key)
    try:
        answer = query(find_socket(args.socket), request)
    except ControlError as exc:
        print(f"evpn show: {exc}", file=sys.stderr)
        return 1
    if "error" in answer:
        print(f"evpn show: {answer['error']}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(answer))
    else:
        for line in _TEXT[args.what](answer):
            print(line)
    return 0
