"""Codec benchmark: evpn against ExaBGP 5.0 and os-ken 4.2 on the same UPDATE bytes.

Run from the repository root (``tox -e bench`` does)::

    python benchmarks/bench_codec.py [--routes N] [--repeats N] [--json FILE] [--profile]

The workload is ``--routes`` EVPN type-2 MAC/IPv4 routes (default 99,990) in
UPDATEs of 90 routes each, planned by :func:`make_updates.type2_plan` and
encoded with ``evpn``'s own :func:`~evpn.wire.pack_updates` (ORIGIN, 4-octet
AS_PATH, EXTENDED_COMMUNITIES [route target, VXLAN encapsulation],
MP_REACH_NLRI with the VTEP as IPv4 next hop, Label1 = VNI).  Before timing
anything the script checks that those bytes match, attribute by attribute,
the independent hand-written encoding of :func:`make_updates.encode_update`,
that ``evpn`` decodes them back to the very objects that were encoded, and
that each reference library reads the first route as it was written.

Timed, on the same list of message bytes, in one run:

* decode with ``evpn``: :func:`~evpn.wire.decode_message` on each message,
  and the same through :class:`~evpn.wire.MessageReader` fed the
  concatenated stream in 64 KiB chunks (as a socket delivers it);
* decode with ExaBGP and os-ken, through their own message parsers
  (:mod:`reference`), when they are installed;
* encode with ``evpn``: :func:`~evpn.wire.pack_updates` from prebuilt route
  and attribute objects, and the same including building those objects with
  their public constructors.

Every decoder walks every route, reading its RD, MAC, IP and label, and
checks the next hop, AS_PATH and EXTENDED_COMMUNITIES are there; every run's
route count (or encoded bytes) is checked.  Each case runs once to warm up,
then ``--repeats`` times, the cases taking turns so that noise on the machine
hits them alike; the best time counts.  The garbage collector stays enabled
(as in a real speaker) and is run before each timing.

``--profile`` then profiles ``evpn``'s decode with :mod:`cProfile` and prints
where the time goes, per route.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import platform
import pstats
import struct
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata, util
from typing import Any

# benchmarks/ is on sys.path when this runs as a script.
from make_updates import PEER_AS, RT_AS, UpdatePlan, encode_update, leaf_as, type2_plan, vtep_address
from reference import decode_exabgp, decode_osken, sample_exabgp, sample_osken

from evpn.types import RouteDistinguisher, format_ip, ip_bytes
from evpn.wire import (
    AsPath,
    AsPathSegment,
    Attribute,
    AttrType,
    Context,
    Encapsulation,
    ExtendedCommunities,
    MacIpRoute,
    MessageReader,
    Origin,
    RouteTarget,
    TunnelType,
    Update,
    decode_message,
    pack_updates,
)
from evpn.wire.attributes import AS_SEQUENCE

ROUTES_PER_UPDATE = 90
DEFAULT_ROUTES = 1111 * ROUTES_PER_UPDATE
DEFAULT_REPEATS = 5
STREAM_CHUNK = 65536

DECODE_TARGET = 300_000
"""Required evpn decode rate, routes/s."""
PEER_RATIO_TARGET = 10.0
"""Required evpn decode rate over the fastest reference decoder's."""
ENCODE_TARGET = 200_000
"""Required evpn encode rate, routes/s."""

CTX = Context(four_octet_as=True)
"""The session the messages belong to (see :mod:`make_updates`): 4-octet AS, no ADD-PATH, 4096 octets."""

EncodeInput = tuple[tuple[Attribute, ...], list[MacIpRoute], bytes]
"""The arguments of one :func:`pack_updates` call: attributes, routes, next hop."""


# --- workload ----------------------------------------------------------------------


def evpn_input(plan: UpdatePlan) -> EncodeInput:
    """Build one UPDATE's attributes, routes and next hop with evpn's public constructors."""
    rd = RouteDistinguisher.parse(f"{vtep_address(plan.vtep)}:{plan.rd_number}")
    attributes = (
        Origin(0),
        AsPath([AsPathSegment(AS_SEQUENCE, (PEER_AS, leaf_as(plan.vtep)))]),
        ExtendedCommunities([RouteTarget(RT_AS, plan.vni), Encapsulation(TunnelType.VXLAN)]),
    )
    routes = [MacIpRoute(rd=rd, mac=mac, ip=ip, label1=plan.vni) for mac, ip in plan.hosts]
    return attributes, routes, ip_bytes(vtep_address(plan.vtep))


def encode_evpn(inputs: Sequence[EncodeInput]) -> list[bytes]:
    """Encode prebuilt objects: one :func:`pack_updates` call (one UPDATE) per input."""
    messages: list[bytes] = []
    for attributes, routes, next_hop in inputs:
        messages += pack_updates(attributes, routes, next_hop=next_hop, ctx=CTX)
    return messages


def build_and_encode_evpn(plans: Sequence[UpdatePlan]) -> list[bytes]:
    """Build the objects from the plans, then encode them (construction included)."""
    return encode_evpn([evpn_input(plan) for plan in plans])


def _sorted_attributes(message: bytes) -> list[bytes]:
    """The path attributes of an UPDATE with no withdrawn routes nor IPv4 NLRI, as sorted raw TLVs."""
    withdrawn, length = struct.unpack_from("!HH", message, 19)
    if withdrawn or 23 + length != len(message):
        raise ValueError("UPDATE with withdrawn routes or IPv4 NLRI")
    tlvs, pos = [], 23
    while pos < len(message):
        extended = message[pos] & 0x10
        size = 4 + struct.unpack_from("!H", message, pos + 2)[0] if extended else 3 + message[pos + 2]
        tlvs.append(message[pos : pos + size])
        pos += size
    return sorted(tlvs)


def check_workload(plans: Sequence[UpdatePlan], inputs: Sequence[EncodeInput], messages: Sequence[bytes]) -> None:
    """Check evpn's encoding against the hand-written one, and that evpn decodes it back."""
    if len(messages) != len(plans):
        raise SystemExit(f"evpn packed {len(plans)} groups of routes into {len(messages)} UPDATEs, expected one each")
    for index, (plan, (attributes, routes, next_hop), message) in enumerate(zip(plans, inputs, messages, strict=True)):
        by_hand = encode_update(plan)
        if message[:19] != by_hand[:19] or _sorted_attributes(message) != _sorted_attributes(by_hand):
            raise SystemExit(f"UPDATE {index}: evpn's encoding differs from make_updates.encode_update")
        update = decode_message(message, CTX)
        reach = update.mp_reach if isinstance(update, Update) else None
        if (
            reach is None
            or update.errors
            or reach.nlri != tuple(routes)
            or reach.next_hop != next_hop
            or update.attributes[:-1] != attributes
        ):
            raise SystemExit(f"UPDATE {index}: evpn does not decode what it encoded")


def check_reference(name: str, sample: Callable[[bytes], dict[str, Any]], plan: UpdatePlan, message: bytes) -> None:
    """Check a reference library reads ``message``'s first route and attributes as planned."""
    mac, ip = plan.hosts[0]
    expected = {
        "routes": len(plan.hosts),
        "rd": f"{vtep_address(plan.vtep)}:{plan.rd_number}",
        "etag": 0,
        "mac": mac.hex(":"),
        "ip": format_ip(ip),
        "label": plan.vni,
        "next_hop": vtep_address(plan.vtep),
        "as_path": [[PEER_AS, leaf_as(plan.vtep)]],
        "communities": [f"target:{RT_AS}:{plan.vni}", "encap:VXLAN"],
    }
    got = sample(message)
    wrong = {key: (got[key], value) for key, value in expected.items() if got[key] != value}
    if wrong:
        raise SystemExit(f"{name} read the first route wrongly (got, expected): {wrong}")


# --- evpn decoders -----------------------------------------------------------------


def read_update(update: object) -> int:
    """Walk a decoded UPDATE as the reference decoders do; return its number of MAC/IP routes."""
    if type(update) is not Update or update.errors:
        raise ValueError(f"not a clean UPDATE: {update!r}")
    reach = update.mp_reach
    if reach is None or not reach.next_hop:
        raise ValueError("no MP_REACH_NLRI or no next hop")
    if update.attribute(AttrType.AS_PATH) is None or update.attribute(AttrType.EXTENDED_COMMUNITIES) is None:
        raise ValueError("AS_PATH or EXTENDED_COMMUNITIES missing")
    routes = 0
    for route in reach.nlri:
        if type(route) is not MacIpRoute:
            raise ValueError(f"unexpected NLRI {route!r}")
        if route.rd is None or route.mac is None or route.ip is None or route.label1 is None:
            raise ValueError("route with a missing field")
        routes += 1
    return routes


def decode_evpn(messages: Sequence[bytes]) -> int:
    """Decode each message with :func:`decode_message`; return the number of routes."""
    return sum(read_update(decode_message(message, CTX)) for message in messages)


def decode_evpn_stream(chunks: Sequence[bytes]) -> int:
    """Reassemble messages from stream chunks with :class:`MessageReader`, then decode them."""
    reader = MessageReader(CTX.max_message_size)
    routes = 0
    for chunk in chunks:
        reader.feed(chunk)
        for message in reader:
            routes += read_update(decode_message(message, CTX))
    if reader.pending:
        raise ValueError(f"{reader.pending} octets left in the reader")
    return routes


# --- timing ------------------------------------------------------------------------


@dataclass
class Case:
    """One timed operation over the whole workload."""

    operation: str
    implementation: str
    run: Callable[[], object]
    expected: object
    seconds: list[float] = field(default_factory=list)

    def once(self) -> float:
        """Run once, check the result, return the time taken in s."""
        gc.collect()
        start = time.perf_counter()
        result = self.run()
        elapsed = time.perf_counter() - start
        if result != self.expected:
            what = "routes" if isinstance(self.expected, int) else "bytes"
            raise SystemExit(f"{self.operation} {self.implementation}: wrong {what}")
        return elapsed

    @property
    def best(self) -> float:
        """The shortest time, s."""
        return min(self.seconds)


def measure(cases: Sequence[Case], repeats: int) -> None:
    """Warm every case up once, then time each ``repeats`` times, taking turns."""
    for case in cases:
        case.once()
    for _ in range(repeats):
        for case in cases:
            case.seconds.append(case.once())


def _reference_version(module: str, dist: str) -> str | None:
    if util.find_spec(module) is None:
        return None
    return metadata.version(dist)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(cases: Sequence[Case], n_routes: int) -> dict[str, Any]:
    """Print the results table and the requirement checks; return them for JSON."""
    rates = {(c.operation, c.implementation): n_routes / c.best for c in cases}
    evpn_decode = rates[("decode", "evpn decode_message")]
    evpn_encode = rates[("encode", "evpn pack_updates")]
    rows = []
    print(f"{'operation':9}  {'implementation':36} {'routes/s':>10} {'µs/route':>9} {'best ms':>8}  ratio")
    for case in cases:
        rate = rates[(case.operation, case.implementation)]
        if case.operation == "decode":
            ratio, meaning = evpn_decode / rate, "evpn decode_message ÷ this"
        else:
            ratio, meaning = evpn_encode / rate, "evpn pack_updates ÷ this"
        print(
            f"{case.operation:9}  {case.implementation:36} {rate:10,.0f} {1e6 / rate:9.2f} "
            f"{case.best * 1e3:8.1f}  {ratio:5.2f}x"
        )
        rows.append(
            {
                "operation": case.operation,
                "implementation": case.implementation,
                "routes_per_second": round(rate),
                "us_per_route": round(1e6 / rate, 3),
                "best_seconds": case.best,
                "seconds": case.seconds,
                "ratio": round(ratio, 3),
                "ratio_meaning": meaning,
            }
        )
    print("ratio: evpn decode_message's rate ÷ this row's (decode), evpn pack_updates' ÷ this row's (encode)")

    peers = {c.implementation: rates[("decode", c.implementation)] for c in cases if c.operation == "decode"}
    peers = {name: rate for name, rate in peers.items() if not name.startswith("evpn")}
    requirements = [
        {
            "requirement": f"evpn decode ≥ {DECODE_TARGET:,} routes/s",
            "value": round(evpn_decode),
            "ratio": round(evpn_decode / DECODE_TARGET, 3),
            "ok": evpn_decode >= DECODE_TARGET,
        },
        {
            "requirement": f"evpn encode ≥ {ENCODE_TARGET:,} routes/s",
            "value": round(evpn_encode),
            "ratio": round(evpn_encode / ENCODE_TARGET, 3),
            "ok": evpn_encode >= ENCODE_TARGET,
        },
    ]
    if peers:
        fastest = max(peers, key=peers.__getitem__)
        ratio = evpn_decode / peers[fastest]
        requirements.append(
            {
                "requirement": f"evpn decode ≥ {PEER_RATIO_TARGET:g}x fastest peer ({fastest})",
                "value": round(ratio, 3),
                "ratio": round(ratio / PEER_RATIO_TARGET, 3),
                "ok": ratio >= PEER_RATIO_TARGET,
            }
        )
    else:
        print("no reference library installed: the ratio to the fastest peer is not measured")
    print()
    for item in requirements:
        value = item["value"]
        shown = f"{value:,}" if isinstance(value, int) else f"{value:.2f}x"
        print(f"{_verdict(item['ok'])}  {item['requirement']:44} {shown:>10}   ({item['ratio']:.2f} of the target)")
    return {"results": rows, "requirements": requirements}


# --- profile -----------------------------------------------------------------------


def profile_decode(messages: Sequence[bytes], n_routes: int, top: int = 18) -> None:
    """Profile :func:`decode_evpn` with cProfile; print the costliest functions per route."""
    profiler = cProfile.Profile()
    profiler.runcall(decode_evpn, messages)
    stats = pstats.Stats(profiler, stream=io.StringIO())
    entries = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)
    total = sum(tottime for (_, _, tottime, _, _) in stats.stats.values())
    print(f"\ncProfile of evpn decode_message over {n_routes:,} routes (profiler overhead inflates small calls)")
    print(f"total {total * 1e6 / n_routes:.2f} µs/route under the profiler")
    print(f"{'own µs/route':>12} {'cum µs/route':>12} {'calls/route':>11}  function")
    for (filename, line, name), (_, calls, tottime, cumtime, _) in entries[:top]:
        where = f"{os.path.basename(filename)}:{line}({name})" if line else name
        print(f"{tottime * 1e6 / n_routes:12.3f} {cumtime * 1e6 / n_routes:12.3f} {calls / n_routes:11.3f}  {where}")


# --- main --------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Check the workload, time every case, print (and optionally save) the results."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--routes", type=int, default=DEFAULT_ROUTES, help="routes in the workload (default %(default)s)"
    )
    parser.add_argument(
        "--repeats", type=int, default=DEFAULT_REPEATS, help="timed runs per case (default %(default)s)"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the results to FILE as JSON")
    parser.add_argument("--profile", action="store_true", help="then profile evpn's decode with cProfile")
    args = parser.parse_args(argv)
    if args.routes < 1 or args.repeats < 1:
        parser.error("--routes and --repeats must be positive")

    plans = type2_plan(args.routes, ROUTES_PER_UPDATE)
    inputs = [evpn_input(plan) for plan in plans]
    messages = encode_evpn(inputs)
    check_workload(plans, inputs, messages)
    stream = b"".join(messages)
    chunks = [stream[i : i + STREAM_CHUNK] for i in range(0, len(stream), STREAM_CHUNK)]
    n_routes = args.routes

    versions = {"python": platform.python_version(), "evpn": metadata.version("evpn")}
    print(
        f"workload: {n_routes:,} EVPN MAC/IPv4 routes in {len(messages):,} UPDATEs "
        f"({ROUTES_PER_UPDATE} per UPDATE, {len(stream):,} octets, largest {max(map(len, messages)):,})"
    )
    print(
        f"machine: {os.cpu_count()} CPUs ({_cpu_model()}), {platform.python_implementation()} "
        f"{versions['python']} on {platform.platform()}"
    )
    print(f"timing: time.perf_counter, 1 warm-up + best of {args.repeats}, cases taking turns, gc enabled")

    cases = [
        Case("decode", "evpn decode_message", lambda: decode_evpn(messages), n_routes),
        Case("decode", "evpn MessageReader + decode_message", lambda: decode_evpn_stream(chunks), n_routes),
    ]
    for name, module, dist, decode, sample in (
        ("ExaBGP", "exabgp", "exabgp", decode_exabgp, sample_exabgp),
        ("os-ken", "os_ken", "os-ken", decode_osken, sample_osken),
    ):
        version = _reference_version(module, dist)
        if version is None:
            print(f"{name}: not installed, skipped")
            continue
        versions[dist] = version
        check_reference(name, sample, plans[0], messages[0])
        cases.append(Case("decode", f"{name} {version}", lambda decode=decode: decode(messages), n_routes))
    cases += [
        Case("encode", "evpn pack_updates", lambda: encode_evpn(inputs), messages),
        Case("encode", "evpn constructors + pack_updates", lambda: build_and_encode_evpn(plans), messages),
    ]
    print()

    measure(cases, args.repeats)
    results = report(cases, n_routes)

    if args.json:
        document = {
            "benchmark": "bench_codec",
            "versions": versions,
            "machine": {"cpus": os.cpu_count(), "cpu_model": _cpu_model(), "platform": platform.platform()},
            "workload": {
                "routes": n_routes,
                "updates": len(messages),
                "routes_per_update": ROUTES_PER_UPDATE,
                "octets": len(stream),
                "stream_chunk": STREAM_CHUNK,
            },
            "repeats": args.repeats,
            **results,
        }
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(document, out, indent=2)
            out.write("\n")
        print(f"\nresults written to {args.json}")

    if args.profile:
        profile_decode(messages, n_routes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
