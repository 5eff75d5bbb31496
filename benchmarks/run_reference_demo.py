"""Time ExaBGP and os-ken decoding the benchmark UPDATEs (temporary demo).

Run from the repository root or from ``benchmarks/``::

    python benchmarks/run_reference_demo.py [n_routes]

It builds ``n_routes`` (default 20,000) EVPN MAC/IPv4 routes with
:func:`make_updates.type2_updates`, checks that both libraries decode all of
them and read the first route the way it was written, then times each
decoder with :func:`time.perf_counter`, best of 3, and prints routes/s.
A library that is not installed is reported and skipped.
"""

from __future__ import annotations

import ipaddress
import struct
import sys
import time
from collections.abc import Callable
from importlib import metadata
from typing import Any

# benchmarks/ is on sys.path when this runs as a script, or under pytest.
from make_updates import PEER_AS, RT_AS, VNI_BASE, leaf_as, type2_updates, vtep_address
from reference import decode_exabgp, decode_osken, sample_exabgp, sample_osken

REPEATS = 3
_NEUTRAL_KEYS = (
    "routes",
    "rd",
    "etag",
    "mac",
    "ip",
    "label",
    "label_as_mpls",
    "next_hop",
    "as_path",
)


def first_route_from_wire(message: bytes) -> dict[str, Any]:
    """Read the first route's RD, MAC, IP and label straight from the bytes."""
    attributes_length = struct.unpack_from("!H", message, 21)[0]
    offset, end = 23, 23 + attributes_length
    while offset < end:
        flags, code = message[offset], message[offset + 1]
        if flags & 0x10:
            length, header = struct.unpack_from("!H", message, offset + 2)[0], 4
        else:
            length, header = message[offset + 2], 3
        if code == 14:
            value = message[offset + header : offset + header + length]
            nlri = value[5 + value[3] :]
            rd_type, rd_ip, rd_number = struct.unpack_from("!H4sH", nlri, 2)
            assert rd_type == 1
            return {
                "rd": f"{ipaddress.IPv4Address(rd_ip)}:{rd_number}",
                "mac": nlri[25:31].hex(":"),
                "ip": str(ipaddress.IPv4Address(nlri[32:36])),
                "label": int.from_bytes(nlri[36:39], "big"),
            }
        offset += header + length
    raise ValueError("no MP_REACH_NLRI")


def check(messages: list[bytes], n_routes: int) -> list[tuple[str, Callable[[list[bytes]], int]]]:
    """Check each installed library's count and first route; return usable decoders."""
    wire = first_route_from_wire(messages[0])
    expected = {
        **wire,
        "etag": 0,
        "next_hop": vtep_address(0),
        "as_path": [[PEER_AS, leaf_as(0)]],
        "communities": [f"target:{RT_AS}:{VNI_BASE}", "encap:VXLAN"],
    }
    print(f"first route on the wire: {wire}")
    usable: list[tuple[str, Callable[[list[bytes]], int]]] = []
    for name, dist, decode, sample in (
        ("ExaBGP", "exabgp", decode_exabgp, sample_exabgp),
        ("os-ken", "os-ken", decode_osken, sample_osken),
    ):
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:
            print(f"{name}: not installed, skipped")
            continue
        got = sample(messages[0])
        print(f"{name} {version} first route: {got['route']}")
        print(f"  { ({k: got[k] for k in (*_NEUTRAL_KEYS, 'communities')}) }")
        wrong = {k: (got[k], v) for k, v in expected.items() if got[k] != v}
        if wrong:
            raise SystemExit(f"{name} decoded the first route wrongly (got, expected): {wrong}")
        count = decode(messages)
        if count != n_routes:
            raise SystemExit(f"{name} decoded {count} routes, expected {n_routes}")
        usable.append((name, decode))
    return usable


def best_of(decode: Callable[[list[bytes]], int], messages: list[bytes], repeats: int = REPEATS) -> float:
    """Return the shortest of ``repeats`` timings of ``decode(messages)``, in s."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        decode(messages)
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str]) -> int:
    """Check and time both reference decoders; print routes/s."""
    n_routes = int(argv[1]) if len(argv) > 1 else 20_000
    messages = type2_updates(n_routes)
    sizes = [len(m) for m in messages]
    print(
        f"{n_routes} routes in {len(messages)} UPDATEs "
        f"({sum(sizes)} octets, largest {max(sizes)}, "
        f"{n_routes / len(messages):.1f} routes/UPDATE)"
    )
    print(f"Python {sys.version.split()[0]}")
    for name, decode in check(messages, n_routes):
        seconds = best_of(decode, messages)
        print(
            f"{name:8} {n_routes / seconds:10,.0f} routes/s   "
            f"{seconds * 1e3:8.1f} ms   {seconds / n_routes * 1e6:6.1f} us/route  "
            f"(best of {REPEATS})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
