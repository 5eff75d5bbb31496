"""What the scripted peers (:mod:`bgp_peer`, :mod:`loadgen`) share: their tables of EVPN routes,
the UPDATEs that carry them, and their JSON lines on stdin and stdout.

A table in JSON: ``{"vteps": [VTEP, ...], "macs": [[MAC, IP or "", VTEP, SEQUENCE], ...]}``: a
type-3 route per VTEP (PMSI ingress replication, label the VNI) and a type-2 route per MAC
(MAC-only when IP is empty), each with RD ``VTEP:VNI``, next hop the VTEP, label1 the VNI, ORIGIN
IGP, the route target, the VXLAN encapsulation community and, when SEQUENCE is not 0, MAC mobility
(RFC 7432 §7.7).  In memory a table maps each route's :data:`Key` to its sequence number.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

from evpn.types import RouteDistinguisher
from evpn.wire import (
    Encapsulation,
    ExtendedCommunities,
    InclusiveMulticastRoute,
    MacIpRoute,
    MacMobility,
    Origin,
    PmsiTunnel,
    RouteTarget,
    pack_updates,
    pack_withdrawals,
)

Key = tuple[str, str, str]
"""(VTEP, MAC, IP or "") of a type-2 route; (VTEP, "", "") of a type-3 route."""


def emit(event: str, **fields: Any) -> None:
    """Write one event to stdout as a JSON line, with the ``time.time()`` it happened."""
    sys.stdout.write(json.dumps({"event": event, "time": time.time(), **fields}) + "\n")
    sys.stdout.flush()


def read_commands(buffer: bytearray, command: Callable[[dict[str, Any]], None]) -> bool:
    """Read what stdin has, and run ``command`` on each complete JSON line that ``buffer`` then
    holds (a failed command is answered by a ``command`` event with ``ok`` false).  False once
    stdin is closed."""
    chunk = os.read(sys.stdin.fileno(), 65536)
    if not chunk:
        return False
    buffer += chunk
    while (end := buffer.find(b"\n")) >= 0:
        line = bytes(buffer[:end])
        del buffer[: end + 1]
        if line.strip():
            try:
                command(json.loads(line))
            except Exception as exc:
                emit("command", ok=False, error=f"{type(exc).__name__}: {exc}")
    return True


def load_table(data: dict[str, Any]) -> dict[Key, int]:
    """The routes of a table in JSON."""
    table: dict[Key, int] = {(vtep, "", ""): 0 for vtep in data.get("vteps", [])}
    for mac, ip, vtep, seq in data.get("macs", []):
        table[(vtep, mac, ip or "")] = int(seq)
    return table


def table_json(table: dict[Key, int]) -> dict[str, Any]:
    """``table`` in JSON, as :func:`load_table` reads it."""
    return {
        "vteps": [vtep for vtep, mac, _ in table if not mac],
        "macs": [[mac, ip, vtep, seq] for (vtep, mac, ip), seq in table.items() if mac],
    }


class Encoder:
    """UPDATEs for the routes of one VNI, each with ``session_attributes`` (AS_PATH, LOCAL_PREF:
    what the kind of session wants) besides its own; each route's NLRI object is made once."""

    def __init__(self, vni: int, route_target: str, session_attributes: list[Any]) -> None:
        self.vni = vni
        self.route_target = RouteTarget.parse(route_target)
        self.session_attributes = session_attributes
        self.rds: dict[str, RouteDistinguisher] = {}
        self.routes: dict[Key, MacIpRoute | InclusiveMulticastRoute] = {}

    def route(self, key: Key) -> MacIpRoute | InclusiveMulticastRoute:
        """The NLRI of ``key``."""
        route = self.routes.get(key)
        if route is None:
            vtep, mac, ip = key
            rd = self.rds.get(vtep)
            if rd is None:
                rd = self.rds[vtep] = RouteDistinguisher.coerce(f"{vtep}:{self.vni}")
            if not mac:
                route = InclusiveMulticastRoute(rd=rd, originator_ip=socket.inet_aton(vtep))
            else:
                route = MacIpRoute(
                    rd=rd,
                    mac=bytes.fromhex(mac.replace(":", "")),
                    ip=socket.inet_aton(ip) if ip else b"",
                    label1=self.vni,
                )
            self.routes[key] = route
        return route

    def announce(self, table: dict[Key, int], keys: list[Key]) -> list[bytes]:
        """UPDATEs announcing ``keys`` of ``table``: one group of messages per (VTEP, sequence
        number, route type)."""
        groups: dict[tuple[str, int, bool], list[Key]] = {}
        for key in keys:
            groups.setdefault((key[0], table[key], not key[1]), []).append(key)
        out: list[bytes] = []
        for (vtep, seq, imet), members in groups.items():
            communities: list[Any] = [self.route_target, Encapsulation()]
            if seq:
                communities.append(MacMobility(seq))
            attributes = [Origin(0), *self.session_attributes, ExtendedCommunities(tuple(communities))]
            if imet:
                attributes.append(PmsiTunnel(label=self.vni, tunnel_id=socket.inet_aton(vtep)))
            out += pack_updates(attributes, [self.route(k) for k in members], next_hop=socket.inet_aton(vtep))
        return out

    def withdraw(self, keys: list[Key]) -> list[bytes]:
        """UPDATEs withdrawing ``keys``."""
        return pack_withdrawals([self.route(k) for k in keys]) if keys else []
