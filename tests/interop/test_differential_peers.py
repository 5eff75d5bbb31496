"""Differential fuzzing against the peers: random valid EVPN routes, compared field by field.

* evpn → FRR: routes drawn with a seeded :class:`random.Random`, encoded by evpn.wire and announced
  by our speaker (``diff_speaker.py``) to FRR's bgpd; every route is read back from
  ``show bgp l2vpn evpn route detail json`` and must be there, once, with the same route type, RD,
  Ethernet tag, MAC, IP or prefix, labels, next hop, route targets, encapsulation, MAC mobility,
  router's MAC, default gateway flag and PMSI tunnel; FRR must hold nothing else from us.
  Then a quarter is withdrawn, and exactly those must go.
* GoBGP → evpn: routes injected with ``gobgp global rib add -a evpn macadv|multicast|prefix``; what
  our speaker decoded (its route events and its Adj-RIB-In) must agree with what was injected and
  with ``gobgp global rib -a evpn -j``; then a quarter is deleted (``global rib del``), and exactly
  those must go.
* evpn → GoBGP: the first direction's routes without FRR's limits (ESIs, IPv6 originators, PMSI
  tunnel IDs and next hops), read back from ``gobgp global rib -a evpn -j``.

``EVPN_DIFF_SEED`` (default :data:`DEFAULT_SEED`) picks the routes and ``EVPN_DIFF_ROUTES`` (default
:data:`DEFAULT_ROUTES`) how many per direction.  A failure names the seed, the route and its
differing fields.  The constraints that keep the routes inside what each peer accepts are listed at
the generators, each with its reason.  IPv6 addresses and prefixes in the routes are taken from
2001:db8::/32 (RFC 3849): they are only route contents, never assigned to an interface, and nothing
is installed in a kernel (no VNI or VRF is configured on either side).
"""

from __future__ import annotations

import ipaddress
import json
import os
import random
import re
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import attrs
import pytest

from evpn.types import format_mac, ip_bytes
from evpn.wire import PmsiTunnel
from evpn.wire.extcommunities import DefaultGateway, Encapsulation, MacMobility, RouterMac, RouteTarget
from evpn.wire.jsonform import ext_community_json, nlri_json, pmsi_tunnel_json
from evpn.wire.routes import InclusiveMulticastRoute, IPPrefixRoute, MacIpRoute
from interop.lab import (
    PEER,
    PEER_AS,
    US,
    US_AS,
    GoBgp,
    Lab,
    PeerNet,
    Speaker,
    frr_bgpd_conf,
    gobgp_toml,
    is_event,
    speaker_toml,
)

pytestmark = pytest.mark.interop

DEFAULT_SEED = 7432
DEFAULT_ROUTES = 5000
SEED = int(os.environ.get("EVPN_DIFF_SEED") or DEFAULT_SEED)
ROUTES = int(os.environ.get("EVPN_DIFF_ROUTES") or DEFAULT_ROUTES)
DIFF_SPEAKER = Path(__file__).parent / "diff_speaker.py"
SESSION_UP = 20
INGRESS_REPLICATION = 6  # PMSI tunnel type (RFC 6514 §5, RFC 8365 §5.1.3)

Fields = dict[str, Any]
T = TypeVar("T")


# --- drawing values ------------------------------------------------------------------------------


def draw_mac(rng: random.Random) -> str:
    """A unicast, locally administered MAC: a type-2 route advertises a host's MAC (RFC 7432 §7.2),
    never a group address."""
    first = rng.randrange(0, 256) & 0xFC | 0x02
    return str(format_mac(bytes([first, *(rng.randrange(256) for _ in range(5))])))


def draw_ipv4(rng: random.Random) -> str:
    """An address of 198.18.0.0/15, the only IPv4 range the lab may use."""
    return str(ipaddress.IPv4Address(0xC6120000 + rng.randrange(1, 0x20000 - 1)))


def draw_ipv6(rng: random.Random) -> str:
    return str(ipaddress.IPv6Address((0x20010DB8 << 96) + rng.randrange(1, 1 << 96)))


def draw_prefix(rng: random.Random, version: int) -> tuple[str, int]:
    """A canonical prefix (host bits zero) inside 198.18.0.0/15 or 2001:db8::/32, or now and then
    the default route (0.0.0.0/0, ::/0: RFC 9136 §3.1 allows any length)."""
    if rng.random() < 0.03:
        return ("0.0.0.0" if version == 4 else "::"), 0
    if version == 4:
        length = rng.randint(15, 32)
        address = draw_ipv4(rng)
    else:
        length = rng.randint(32, 128)
        address = draw_ipv6(rng)
    return str(ipaddress.ip_network(f"{address}/{length}", strict=False).network_address), length


def draw_next_hop(rng: random.Random) -> str:
    """An IPv4 VTEP address in our veth's 198.18.0.0/24, never FRR's (.2: FRR drops a route whose
    next hop is its own address as martian), the network or the broadcast address.

    IPv4 only towards FRR: RFC 7432 §7 and RFC 8365 allow an IPv6 VTEP (a 16-byte MP_REACH_NLRI next
    hop, RFC 4760 §3), but FRR 8.4 accepts such a route and shows its next hop as 0.0.0.0,
    inaccessible (its EVPN code reads only an IPv4 next hop).  GoBGP takes both (see
    :func:`gobgp_case`)."""
    return f"198.18.0.{rng.choice([1, *range(3, 255)])}"


def draw_rd(rng: random.Random) -> str:
    """RD types 0, 1 and 2 (RFC 4364 §4.2), the ones FRR and GoBGP print (FRR 8.4 shows any other
    type as "Unknown Type: N", which says nothing about the value).  AS 0 is left out (RFC 7607),
    and a type-2 AS is above 65535 so that its text cannot be mistaken for a type-0 RD."""
    kind = rng.randrange(3)
    if kind == 0:
        return f"{rng.randint(1, 0xFFFF)}:{rng.randrange(1 << 32)}"
    if kind == 1:
        return f"{draw_ipv4(rng)}:{rng.randrange(1 << 16)}"
    return f"{rng.randint(0x10000, 0xFFFFFFFF)}:{rng.randrange(1 << 16)}"


def draw_route_target(rng: random.Random) -> RouteTarget:
    """Route targets of the three kinds (RFC 4360 §3.1, §3.2, §4; RFC 5668 §2), AS 0 left out."""
    kind = rng.randrange(3)
    if kind == 0:
        return RouteTarget(rng.randint(1, 0xFFFF), rng.randrange(1 << 32), kind=0)
    if kind == 1:
        return RouteTarget(draw_ipv4(rng), rng.randrange(1 << 16), kind=1)
    return RouteTarget(rng.randint(0x10000, 0xFFFFFFFF), rng.randrange(1 << 16), kind=2)


def draw_ethernet_tag(rng: random.Random) -> int:
    """0 (VLAN-based service, RFC 7432 §6.1), a VLAN ID (VLAN-aware bundle service, RFC 7432 §6.3)
    or a 24-bit VNI (VLAN-aware bundle over VXLAN, RFC 8365 §5.1.2): the values an Ethernet tag
    takes in practice."""
    return rng.choice([0, 0, rng.randint(1, 4094), rng.randint(1, (1 << 24) - 1)])


def draw_vni(rng: random.Random) -> int:
    """A VNI: the whole 24-bit label field (RFC 8365 §5.1.3); 0 is left out (no VNI)."""
    return rng.randint(1, (1 << 24) - 1)


# --- evpn → FRR (and GoBGP) -----------------------------------------------------------------------


@attrs.frozen
class PathAttrs:
    """The next hop and attributes of a sent route, and the fields a peer should show for them."""

    next_hop: str
    communities: tuple[Any, ...]
    pmsi: dict[str, Any] | None
    expected: Fields


@attrs.frozen
class SentRoute:
    """One route our speaker announces: its wire form for ``diff_speaker.py`` (``entry``), the
    fields FRR should show for it (``expected``), and the route and path it was built from."""

    key: tuple[Any, ...]
    entry: dict[str, Any]
    expected: Fields
    route: MacIpRoute | InclusiveMulticastRoute | IPPrefixRoute
    path: PathAttrs


def draw_path_attrs(rng: random.Random, shape: tuple[Any, ...], *, frr: bool = True) -> PathAttrs:
    """Next hop and attributes for a route of ``shape`` (route type, has an IP, has label2):

    * the VXLAN encapsulation community on every route (RFC 8365 §5.1.3): the labels are VNIs;
    * MAC mobility on type 2 only (RFC 7432 §7.7), the default gateway community on MAC+IP routes
      only (RFC 7432 §10.1), the router's MAC on MAC+IP routes with label2 (symmetric IRB, RFC 9135
      §8.1) and on type 5 (RFC 9136 §4.4.1);
    * type 3: a PMSI tunnel (RFC 8365 §5.1.3: ingress replication, the VNI as label) whose tunnel ID
      is an IPv4 address for FRR: FRR 8.4 resets the session ("Bad PMSI tunnel attribute length 21
      for IR") on an IPv6 one.  Without ``frr`` (for GoBGP) also IPv6 tunnel IDs and next hops.
    """
    kind, has_ip, has_label2 = shape
    next_hop = draw_next_hop(rng) if frr or rng.random() < 0.85 else draw_ipv6(rng)
    targets = list(dict.fromkeys(draw_route_target(rng) for _ in range(rng.randint(1, 3))))
    communities: list[Any] = [*targets, Encapsulation()]
    expected: Fields = {"next_hop": next_hop, "route_targets": sorted(map(str, targets)), "encapsulation": [8]}
    expected |= {"mac_mobility": None, "router_mac": None, "default_gateway": False, "pmsi": None}
    pmsi = None
    if kind == 2 and rng.random() < 0.35:
        mobility = MacMobility(rng.randrange(1 << 32), rng.random() < 0.5)
        communities.append(mobility)
        expected["mac_mobility"] = [mobility.sequence, mobility.sticky]
    if (has_label2 and rng.random() < 0.7) or (kind == 5 and rng.random() < 0.5):
        router_mac = draw_mac(rng)
        communities.append(RouterMac(router_mac))
        expected["router_mac"] = router_mac
    if kind == 2 and has_ip and rng.random() < 0.2:
        communities.append(DefaultGateway())
        expected["default_gateway"] = True
    if kind == 3:
        vni = draw_vni(rng)
        endpoint = draw_ipv4(rng) if frr or rng.random() < 0.8 else draw_ipv6(rng)
        pmsi = {"tunnel_type": INGRESS_REPLICATION, "label": vni, "tunnel_id": ip_bytes(endpoint).hex()}
        # FRR 8.4 shows the PMSI tunnel's type and label, not its tunnel ID (the endpoint).
        expected["pmsi"] = [INGRESS_REPLICATION, vni]
    rng.shuffle(communities)  # any order is valid (RFC 4360 §2)
    return PathAttrs(next_hop, tuple(communities), pmsi, expected)


def evpn_case(rng: random.Random, pool: dict[tuple[Any, ...], list[PathAttrs]], *, frr: bool = True) -> SentRoute:
    """A random valid route of type 2, 3 or 5, within what FRR 8.4 accepts (without ``frr``, for
    GoBGP: also non-zero type-0 ESIs and IPv6 originators):

    * ESI zero (single-homed, RFC 7432 §5): FRR's JSON does not show a route's ESI.
    * Type 3: an IPv4 originator: FRR 8.4 resets the session on an IPv6 one ("Rx EVPN Type-3 NLRI
      with unsupported IP address length 128").
    * label2 only on MAC+IP routes (the L3 VNI of symmetric IRB, RFC 9135 §5.1).
    * Type 5: a prefix with its host bits zero, as originators send them (GoBGP's CLI clears them).

    Half of the routes reuse the next hop and attributes of an earlier route of the same shape from
    ``pool``, so that our speaker packs several NLRI into one MP_REACH_NLRI (RFC 4760 §3), mixed
    RDs and tags included.
    """
    rd = draw_rd(rng)
    tag = draw_ethernet_tag(rng)
    esi = bytes(10) if frr or rng.random() < 0.5 else b"\x00" + bytes(rng.randrange(256) for _ in range(9))
    kind = rng.choices([2, 3, 5], weights=[45, 20, 35])[0]
    if kind == 2:
        mac = draw_mac(rng)
        version = rng.choice([0, 4, 6])
        ip = None if version == 0 else draw_ipv4(rng) if version == 4 else draw_ipv6(rng)
        label1 = draw_vni(rng)
        label2 = draw_vni(rng) if ip is not None and rng.random() < 0.4 else None
        route: Any = MacIpRoute(rd=rd, esi=esi, ethernet_tag=tag, mac=mac, ip=ip, label1=label1, label2=label2)
        fields: Fields = {"route_type": 2, "mac": mac, "ip": ip}
        fields["labels"] = [label1] if label2 is None else [label1, label2]
        key: tuple[Any, ...] = (2, rd, tag, mac, ip)
        shape: tuple[Any, ...] = (2, ip is not None, label2 is not None)
    elif kind == 3:
        originator = draw_ipv4(rng) if frr or rng.random() < 0.8 else draw_ipv6(rng)
        route = InclusiveMulticastRoute(rd=rd, ethernet_tag=tag, originator_ip=originator)
        fields = {"route_type": 3, "originator_ip": originator}
        key = (3, rd, tag, originator)
        shape = (3, True, False)
    else:
        version = rng.choice([4, 6])
        prefix, length = draw_prefix(rng, version)
        gateway = None
        if rng.random() < 0.4:  # the gateway IP overlay index (RFC 9136 §3.1), of the prefix's family
            gateway = draw_ipv4(rng) if version == 4 else draw_ipv6(rng)
        label = draw_vni(rng)
        route = IPPrefixRoute(
            rd=rd, esi=esi, ethernet_tag=tag, prefix=prefix, prefix_length=length, gateway=gateway, label=label
        )
        fields = {"route_type": 5, "prefix": f"{prefix}/{length}", "labels": [label], "gateway_present": bool(gateway)}
        key = (5, rd, tag, f"{prefix}/{length}")
        shape = (5, True, False)
    earlier = pool.setdefault(shape, [])
    if earlier and rng.random() < 0.5:
        path = rng.choice(earlier)
    else:
        path = draw_path_attrs(rng, shape, frr=frr)
        earlier.append(path)
    entry = {
        "nlri": route.encode().hex(),
        "next_hop": path.next_hop,
        "ext_communities": [c.encode().hex() for c in path.communities],
        "pmsi": path.pmsi,
    }
    return SentRoute(key, entry, {"rd": rd, "ethernet_tag": tag, **fields, **path.expected}, route, path)


def draw_unique(rng: random.Random, count: int, draw: Callable[[random.Random], Any]) -> list[Any]:
    """``count`` cases with distinct keys (a repeated key would replace the earlier route)."""
    cases: dict[tuple[Any, ...], Any] = {}
    while len(cases) < count:
        case = draw(rng)
        cases.setdefault(case.key, case)
    return list(cases.values())


_FRR_COMMUNITY = re.compile(r"MM:\d+, sticky MAC|Default Gateway|\S+")


def frr_communities(text: str) -> Fields:
    """FRR's extended community string (``RT:65001:100 ET:8 MM:7, sticky MAC Rmac:...``) as fields;
    anything else FRR shows goes to ``other``."""
    out: Fields = {"route_targets": [], "encapsulation": [], "mac_mobility": None, "router_mac": None}
    out |= {"default_gateway": False, "other": []}
    for token in _FRR_COMMUNITY.findall(text):
        if token.startswith("RT:"):
            out["route_targets"].append(token[3:])
        elif token.startswith("ET:"):
            out["encapsulation"].append(int(token[3:]))
        elif token.startswith("MM:"):
            sequence, _, sticky = token[3:].partition(",")
            out["mac_mobility"] = [int(sequence), bool(sticky)]
        elif token.startswith("Rmac:"):
            out["router_mac"] = token[5:]
        elif token == "Default Gateway":
            out["default_gateway"] = True
        else:
            out["other"].append(token)
    out["route_targets"].sort()
    return out


def frr_view(table: dict[str, Any], gateways: dict[tuple[str, str], bool]) -> dict[tuple[Any, ...], list[Fields]]:
    """FRR's ``show bgp l2vpn evpn route detail json`` as key -> the fields of each path."""
    out: dict[tuple[Any, ...], list[Fields]] = {}
    for by_prefix in table.values():
        if not isinstance(by_prefix, dict):
            continue  # numPrefix, numPaths
        for prefix, entry in by_prefix.items():
            if not isinstance(entry, dict) or "paths" not in entry:
                continue
            # The RD inside the entry: FRR 8.4 prints the outer key of a type-0 RD with the assigned
            # number as a signed int ("65001:-1" for 65001:4294967295; RFC 4364 §4.2 makes it an
            # unsigned 32-bit field), the inner "rd" correctly.
            rd, route_type, tag = entry["rd"], int(entry["routeType"]), entry["ethTag"]
            for group in entry["paths"]:
                for path in group if isinstance(group, list) else [group]:
                    fields: Fields = {"route_type": route_type, "rd": rd, "ethernet_tag": tag}
                    fields["peer"] = (path.get("peer") or {}).get("peerId")
                    fields["next_hop"] = (path.get("nexthops") or [{}])[0].get("ip")
                    fields |= frr_communities((path.get("extendedCommunity") or {}).get("string", ""))
                    vni = path.get("vni")
                    fields["labels"] = [int(v) for v in str(vni).split("/")] if vni is not None else None
                    pmsi = path.get("pmsi")
                    fields["pmsi"] = None if pmsi is None else [_frr_tunnel_type(pmsi["tunnelType"]), pmsi["label"]]
                    if route_type == 2:
                        fields |= {"mac": entry["mac"], "ip": entry.get("ip")}
                        key: tuple[Any, ...] = (2, rd, tag, entry["mac"], entry.get("ip"))
                    elif route_type == 3:
                        fields["originator_ip"] = entry["ip"]
                        key = (3, rd, tag, entry["ip"])
                    else:
                        fields["prefix"] = f"{entry['ip']}/{entry['ipLen']}"
                        fields["gateway_present"] = gateways.get((rd, prefix))
                        key = (5, rd, tag, fields["prefix"])
                    out.setdefault(key, []).append(fields)
    return out


def _frr_tunnel_type(name: str) -> int | str:
    return INGRESS_REPLICATION if name == "Ingress Replication" else name


_FRR_RCVD = re.compile(r"rcvd RD (\S+) (\[5\]:\S+)( gateway IP \S+)? label")


def frr_type5_gateways(log: str) -> dict[tuple[str, str], bool]:
    """(RD, prefix) -> whether bgpd's ``debug bgp updates in`` log shows a gateway IP overlay index
    for a received type-5 route.

    FRR 8.4 shows the gateway IP of a type-5 route nowhere in its JSON (``detail`` leaves it out and
    ``overlay json`` prints ``"gw": ""``), and its debug line formats the ``struct ipaddr`` instead of
    the address (198.19.5.1 reads "2.0.0.0"): only whether the route carries a non-zero
    gateway (RFC 9136 §3.1) can be read back from FRR.  Its value is checked against GoBGP."""
    return {(m[1], m[2]): bool(m[3]) for m in _FRR_RCVD.finditer(log)}


def first_mismatch(
    expected: Iterable[tuple[tuple[Any, ...], Fields]], actual: dict[tuple[Any, ...], list[Fields]]
) -> str | None:
    """The first expected route that is missing, repeated or differs (with only the differing
    fields), or a route nobody sent; ``None`` when everything agrees."""
    seen = set()
    for index, (key, want) in enumerate(expected):
        seen.add(key)
        got = actual.get(key, [])
        if len(got) != 1:
            return f"route #{index} {key}: {len(got)} copies at the peer (expected 1); sent {want}"
        diff = {name: {"sent": value, "peer": got[0].get(name)} for name, value in want.items()}
        diff = {name: d for name, d in diff.items() if d["sent"] != d["peer"]}
        if got[0].get("other"):
            diff["unexpected communities"] = {"sent": [], "peer": got[0]["other"]}
        if diff:
            return f"route #{index} {key}: differing fields {diff}"
    extra = [key for key in actual if key not in seen]
    if extra:
        return f"{len(extra)} route(s) at the peer that were never sent, e.g. {extra[0]}: {actual[extra[0]]}"
    return None


def fail_message(direction: str, problem: str, count: int) -> str:
    return (
        f"{direction}: {problem}\n(EVPN_DIFF_SEED={SEED} EVPN_DIFF_ROUTES={ROUTES}: {count} routes; "
        f"rerun with the same values to reproduce)"
    )


@pytest.fixture
def net(lab: Lab) -> PeerNet:
    return PeerNet(lab, DIFF_SPEAKER, "evdiff")


def start_diff_speaker(lab: Lab, net: PeerNet, *, routes: list[dict[str, Any]] | None = None) -> Speaker:
    """``diff_speaker.py`` in our namespace, connecting to the peer at ``PEER``."""
    config = lab.workdir / "diff_speaker.toml"
    config.write_text(
        speaker_toml(
            {"asn": US_AS, "router_id": US, "listen": "none", "hold_time": 9},
            [{"address": PEER, "asn": PEER_AS, "families": ["l2vpn-evpn"]}],
        )
    )
    args: list[str | os.PathLike[str]] = [config]
    if routes is not None:
        plan = lab.workdir / "diff_routes.json"
        plan.write_text(json.dumps({"routes": routes}))
        args += ["--announce", plan]
    return lab.speaker(net.us, DIFF_SPEAKER, *args, stdin=True)


def settle(probe: Callable[[], T], done: Callable[[T], bool], timeout: float, interval: float = 0.3) -> T:
    """Poll ``probe`` until ``done`` holds or ``timeout`` runs out, and return the last value either
    way (the caller's comparison then says what differs)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if done(value) or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def test_evpn_routes_to_frr(require_frr: None, lab: Lab, net: PeerNet) -> None:
    """Every route our speaker sends shows in FRR with the same fields, and nothing else does; then
    a quarter of them is withdrawn (MP_UNREACH_NLRI, RFC 4760 §4) and exactly those go."""
    rng = random.Random(SEED)
    pool: dict[tuple[Any, ...], list[PathAttrs]] = {}
    cases = draw_unique(rng, ROUTES, lambda r: evpn_case(r, pool))
    neighbor = {"address": US, "asn": US_AS}
    # The debug log is the only place FRR 8.4 shows whether a type-5 route has a gateway IP.
    conf = frr_bgpd_conf(asn=PEER_AS, router_id=PEER, neighbors=[neighbor], trailer="debug bgp updates in")
    frr = lab.frr(net.peer, conf)
    speaker = start_diff_speaker(lab, net, routes=[c.entry for c in cases])
    speaker.wait_event(is_event("peer_up", peer=PEER), SESSION_UP, what="peer_up from FRR")

    def compare(expected: list[SentRoute], what: str) -> None:
        keys = {c.key for c in expected}

        def view() -> dict[tuple[Any, ...], list[Fields]]:
            table = frr.vtysh_json("show bgp l2vpn evpn route detail json")
            return frr_view(table, frr_type5_gateways(frr.log()))

        # Until the table has the routes' keys (FRR's prefix counter drops on a withdrawal before the
        # path leaves the table); then every field must agree.
        got = settle(view, lambda v: set(v) == keys and all(len(p) == 1 for p in v.values()), 60)
        assert all(p["peer"] == US for paths in got.values() for p in paths), "FRR holds a route from elsewhere"
        problem = first_mismatch(((c.key, c.expected) for c in expected), got)
        assert problem is None, fail_message(what, problem, len(expected))

    compare(cases, "evpn -> FRR")
    withdrawn = rng.sample(range(len(cases)), len(cases) // 4)
    answer = speaker.command({"op": "withdraw", "nlri": [cases[i].entry["nlri"] for i in withdrawn]})
    assert answer["count"] == len(withdrawn)
    gone = set(withdrawn)
    compare([c for i, c in enumerate(cases) if i not in gone], f"evpn -> FRR after withdrawing {len(gone)}")
    print(f"evpn -> FRR: {describe(cases)} agree, {len(gone)} withdrawn; seed {SEED}")


def describe(cases: list[Any]) -> str:
    kinds = [sum(c.key[0] == t for c in cases) for t in (2, 3, 5)]
    return f"{len(cases)} routes (types 2/3/5: {kinds[0]}/{kinds[1]}/{kinds[2]})"


# --- GoBGP → evpn --------------------------------------------------------------------------------


@attrs.frozen
class InjectedRoute:
    """One route injected into GoBGP: its ``gobgp global rib add -a evpn`` arguments and the fields
    our speaker should decode (the JSON shapes of ``evpn.wire.jsonform``)."""

    key: tuple[Any, ...]
    args: list[str]
    expected: Fields


def gobgp_rd(rng: random.Random) -> tuple[str, str]:
    """(GoBGP's CLI text, evpn's text) of a random RD.  GoBGP 3.10's CLI reads "A:N" with A above
    65535 as AS 65535 (it saturates instead of choosing type 2), so a type-2 RD is written in its
    "high.low:N" form (RFC 5396 asdot)."""
    text = draw_rd(rng)
    admin, _, assigned = text.rpartition(":")
    if "." not in admin and int(admin) > 0xFFFF:
        return f"{int(admin) >> 16}.{int(admin) & 0xFFFF}:{assigned}", text
    return text, text


def gobgp_rt(rt: RouteTarget) -> str:
    """GoBGP's CLI text of a route target (asdot for a 4-octet AS, as for RDs)."""
    if rt.kind == 2:
        assert isinstance(rt.administrator, int)
        return f"{rt.administrator >> 16}.{rt.administrator & 0xFFFF}:{rt.assigned}"
    return str(rt)


def gobgp_esi(rng: random.Random) -> tuple[list[str], str]:
    """(CLI words, evpn's ESI text): zero (single-homed) or a type-0 arbitrary ESI (RFC 7432 §5)."""
    if rng.random() < 0.5:
        return [], "00:00:00:00:00:00:00:00:00:00"
    value = bytes(rng.randrange(256) for _ in range(9))
    value = value if any(value) else b"\x01" + value[1:]
    text = value.hex(":")
    return ["esi", "ARBITRARY", text], "00:" + text


def gobgp_case(rng: random.Random) -> InjectedRoute:
    """A random route GoBGP 3.10's CLI can inject (``macadv``, ``multicast``, ``prefix``):

    * no default gateway community: GoBGP 3.10's ``macadv`` parser takes the ``default-gateway`` word
      its usage text lists as one more value of the keyword before it ("error: encap should have one
      argument", wherever it goes), and no MAC mobility community (the CLI has none).  Both are
      covered in the other direction, :func:`test_evpn_routes_to_gobgp`;
    * GoBGP's ``pmsi ingress-repl LABEL ID`` for type 3, the tunnel ID being the originator;
    * the rest as for FRR, except that GoBGP takes IPv6 type-3 originators and PMSI tunnel IDs,
      non-zero ESIs and IPv6 next hops (an IPv6 VTEP, RFC 8365 §5.1.3), which are all drawn here.
    """
    next_hop = draw_next_hop(rng) if rng.random() < 0.85 else draw_ipv6(rng)
    rd_cli, rd = gobgp_rd(rng)
    tag = draw_ethernet_tag(rng)
    targets = list(dict.fromkeys(draw_route_target(rng) for _ in range(rng.randint(1, 3))))
    communities = [{"type": "route-target", "value": str(rt)} for rt in targets]
    communities.append({"type": "encapsulation", "tunnel_type": "vxlan"})
    tail = ["rd", rd_cli, "rt", *map(gobgp_rt, targets), "encap", "vxlan"]
    pmsi = None
    kind = rng.choices([2, 3, 5], weights=[45, 20, 35])[0]
    if kind == 2:
        mac = draw_mac(rng)
        version = rng.choice([0, 4, 6])
        ip = None if version == 0 else draw_ipv4(rng) if version == 4 else draw_ipv6(rng)
        esi_words, esi = gobgp_esi(rng)
        label1 = draw_vni(rng)
        label2 = draw_vni(rng) if ip is not None and rng.random() < 0.4 else None
        labels = str(label1) if label2 is None else f"{label1},{label2}"
        args = ["macadv", mac, ip or "0.0.0.0", *esi_words, "etag", str(tag), "label", labels, *tail]
        if label2 is not None and rng.random() < 0.7:
            router_mac = draw_mac(rng)
            args += ["router-mac", router_mac]
            communities.append({"type": "router-mac", "mac": router_mac})
        route = {"route_type": 2, "rd": rd, "esi": esi, "ethernet_tag": tag, "mac": mac, "ip": ip}
        route |= {"label1": label1, "label2": label2}
        key: tuple[Any, ...] = (2, rd, tag, mac, ip)
    elif kind == 3:
        originator = draw_ipv4(rng) if rng.random() < 0.8 else draw_ipv6(rng)
        vni = draw_vni(rng)
        args = ["multicast", originator, "etag", str(tag), *tail]
        args += ["pmsi", "ingress-repl", str(vni), originator]
        pmsi = {"tunnel_type": "ingress-replication", "label": vni, "endpoint": originator}
        route = {"route_type": 3, "rd": rd, "ethernet_tag": tag, "originator_ip": originator}
        key = (3, rd, tag, originator)
    else:
        version = rng.choice([4, 6])
        prefix, length = draw_prefix(rng, version)
        zero = "0.0.0.0" if version == 4 else "::"
        gateway = (draw_ipv4(rng) if version == 4 else draw_ipv6(rng)) if rng.random() < 0.4 else zero
        esi_words, esi = gobgp_esi(rng)
        label = draw_vni(rng)
        args = ["prefix", f"{prefix}/{length}", *esi_words, "etag", str(tag), "label", str(label), *tail]
        if gateway != zero:
            args[2:2] = ["gw", gateway]
        if rng.random() < 0.5:
            router_mac = draw_mac(rng)
            args += ["router-mac", router_mac]
            communities.append({"type": "router-mac", "mac": router_mac})
        route = {"route_type": 5, "rd": rd, "esi": esi, "ethernet_tag": tag, "prefix": f"{prefix}/{length}"}
        route |= {"gateway": gateway, "label": label}
        key = (5, rd, tag, f"{prefix}/{length}")
    args += ["nexthop", next_hop]
    expected = {"route": route, "next_hop": next_hop, "communities": _sorted_json(communities), "pmsi": pmsi}
    return InjectedRoute(key, args, expected)


def _sorted_json(items: Iterable[Any]) -> list[Any]:
    return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))


def route_key(route: dict[str, Any]) -> tuple[Any, ...]:
    """The key of a route in the JSON shape of ``evpn.wire.jsonform.nlri_json``."""
    kind = route["route_type"]
    if kind == 2:
        return (2, route["rd"], route["ethernet_tag"], route["mac"], route["ip"])
    if kind == 3:
        return (3, route["rd"], route["ethernet_tag"], route["originator_ip"])
    return (5, route["rd"], route["ethernet_tag"], route.get("prefix"))


def our_fields(route: dict[str, Any], next_hop: str | None, attributes: dict[str, Any]) -> Fields:
    """What our speaker decoded, in the shape of :attr:`InjectedRoute.expected`."""
    pmsi = attributes.get("pmsi_tunnel")
    communities = _sorted_json(attributes.get("extended_communities", []))
    return {"route": route, "next_hop": next_hop, "communities": communities, "pmsi": pmsi}


def _gobgp_esi(text: str) -> str:
    if text == "single-homed":
        return "00:00:00:00:00:00:00:00:00:00"
    kind, _, value = text.partition(" | ")
    return "00:" + value if kind == "ESI_ARBITRARY" else text


def _gobgp_rd_text(rd: dict[str, Any]) -> str:
    admin = rd.get("admin")
    if rd.get("type") == 2 and isinstance(admin, str) and "." in admin:  # asdot
        high, _, low = admin.partition(".")
        admin = int(high) << 16 | int(low)
    return f"{admin}:{rd.get('assigned')}"


def _gobgp_community(c: dict[str, Any]) -> dict[str, Any]:
    if c.get("subtype") == 2 and c.get("type") in (0, 1, 2):
        admin, _, assigned = str(c.get("value")).rpartition(":")
        if c["type"] == 2 and "." in admin:
            high, _, low = admin.partition(".")
            admin = str(int(high) << 16 | int(low))
        return {"type": "route-target", "value": f"{admin}:{assigned}"}
    if (c.get("type"), c.get("subtype")) == (3, 12):
        return {"type": "encapsulation", "tunnel_type": "vxlan" if c.get("tunnel_type") == 8 else c.get("tunnel_type")}
    if (c.get("type"), c.get("subtype")) == (6, 3):
        return {"type": "router-mac", "mac": c.get("mac")}
    if (c.get("type"), c.get("subtype")) == (3, 13):
        return {"type": "default-gateway"}
    if (c.get("type"), c.get("subtype")) == (6, 0):
        return {"type": "mac-mobility", "sequence": c.get("sequence"), "sticky": c.get("is_sticky")}
    return {"type": "gobgp", "raw": c}


def gobgp_fields(path: dict[str, Any]) -> tuple[tuple[Any, ...], Fields]:
    """One path of ``gobgp global rib -a evpn -j`` in the shape of :attr:`InjectedRoute.expected`."""
    nlri = path["nlri"]
    value = nlri["value"]
    kind = int(nlri["type"])
    rd = _gobgp_rd_text(value["rd"])
    if kind == 2:
        ip = value.get("ip")
        labels = list(value.get("labels") or [])
        route = {"route_type": 2, "rd": rd, "esi": _gobgp_esi(value["esi"]), "ethernet_tag": value["etag"]}
        route |= {"mac": value["mac"], "ip": None if ip in (None, "<nil>") else ip}
        route |= {"label1": labels[0] if labels else None, "label2": labels[1] if len(labels) > 1 else None}
    elif kind == 3:
        route = {"route_type": 3, "rd": rd, "ethernet_tag": value["etag"], "originator_ip": value["ip"]}
    else:
        route = {"route_type": 5, "rd": rd, "esi": _gobgp_esi(value["esi"]), "ethernet_tag": value["etag"]}
        route |= {"prefix": value["prefix"], "gateway": value["gateway"], "label": value["label"]}
    attrs_by_type = {a.get("type"): a for a in path.get("attrs", [])}
    communities = _sorted_json(_gobgp_community(c) for c in attrs_by_type.get(16, {}).get("value", []))
    pmsi = attrs_by_type.get(22)
    if pmsi is not None:
        kind_name = "ingress-replication" if pmsi.get("tunnel-type") == INGRESS_REPLICATION else pmsi.get("tunnel-type")
        pmsi = {"tunnel_type": kind_name, "label": pmsi.get("label"), "endpoint": pmsi.get("tunnel-id")}
    next_hop = attrs_by_type.get(14, {}).get("nexthop")
    fields = {"route": route, "next_hop": next_hop, "communities": communities, "pmsi": pmsi}
    return route_key(route), fields


def gobgp_cli(gobgp: GoBgp, verb: str, cases: list[InjectedRoute]) -> None:
    """``gobgp global rib add|del -a evpn ...`` for every case, a few at a time (each is one process)."""

    def run(case: InjectedRoute) -> None:
        try:
            gobgp.gobgp("global", "rib", verb, "-a", "evpn", *case.args)
        except RuntimeError as exc:
            raise AssertionError(f"GoBGP refused {verb} {case.args}: {exc} (EVPN_DIFF_SEED={SEED})") from None

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(run, cases))


def gobgp_view(gobgp: GoBgp) -> dict[tuple[Any, ...], list[Fields]]:
    view: dict[tuple[Any, ...], list[Fields]] = {}
    for path in gobgp.evpn_rib():
        key, fields = gobgp_fields(path)
        view.setdefault(key, []).append(fields)
    return view


def events_view(speaker: Speaker) -> dict[tuple[Any, ...], list[Fields]]:
    """What our speaker's route events say it holds from GoBGP: the last add of each route not
    withdrawn after it."""
    latest: dict[tuple[Any, ...], Fields] = {}
    for event in speaker.find_events(is_event("route", peer=PEER)):
        key = route_key(event["route"])
        if event["action"] == "add":
            latest[key] = our_fields(event["route"], event.get("next_hop"), event["attributes"])
        else:
            latest.pop(key, None)
    return {key: [fields] for key, fields in latest.items()}


def adj_in_view(speaker: Speaker) -> dict[tuple[Any, ...], list[Fields]]:
    """Our speaker's Adj-RIB-In of GoBGP (the driver's ``adj_in`` command)."""
    mark = speaker.mark()
    speaker.send({"op": "adj_in", "peer": PEER})
    dump = speaker.wait_event(is_event("adj_in"), 10, since=mark, what="the Adj-RIB-In dump")
    view: dict[tuple[Any, ...], list[Fields]] = {}
    for path in dump["routes"]:
        fields = our_fields(path["route"], path["next_hop"], path["attributes"])
        view.setdefault(route_key(path["route"]), []).append(fields)
    return view


def test_gobgp_routes_to_evpn(require_gobgp: None, lab: Lab, net: PeerNet) -> None:
    """Routes injected into GoBGP are in GoBGP's RIB as injected, and our speaker's route events and
    Adj-RIB-In hold the same, field by field; then a quarter is deleted from GoBGP (our speaker
    decodes the MP_UNREACH_NLRI, RFC 4760 §4) and exactly those go."""
    rng = random.Random(SEED + 1)
    cases = draw_unique(rng, ROUTES, gobgp_case)
    neighbor = {"address": US, "asn": US_AS, "passive": True}
    gobgp = lab.gobgp(net.peer, gobgp_toml(asn=PEER_AS, router_id=PEER, neighbors=[neighbor]))
    gobgp_cli(gobgp, "add", cases)
    expected = [(c.key, c.expected) for c in cases]
    # GoBGP itself holds what was injected (else a difference below could be the CLI's doing).
    problem = first_mismatch(expected, gobgp_view(gobgp))
    assert problem is None, fail_message("injected -> GoBGP's RIB", problem, len(cases))

    speaker = start_diff_speaker(lab, net)
    speaker.wait_event(is_event("peer_up", peer=PEER), SESSION_UP, what="peer_up from GoBGP")

    def compare(expected: list[tuple[tuple[Any, ...], Fields]], what: str) -> None:
        keys = {key for key, _ in expected}
        ours = settle(lambda: events_view(speaker), lambda got: set(got) == keys, 60)
        problem = first_mismatch(expected, ours)
        assert problem is None, fail_message(f"{what} (route events)", problem, len(expected))
        problem = first_mismatch(expected, adj_in_view(speaker))
        assert problem is None, fail_message(f"{what} (Adj-RIB-In)", problem, len(expected))

    compare(expected, "GoBGP -> evpn")
    deleted = set(rng.sample(range(len(cases)), len(cases) // 4))
    gobgp_cli(gobgp, "del", [cases[i] for i in sorted(deleted)])
    compare([e for i, e in enumerate(expected) if i not in deleted], f"GoBGP -> evpn after deleting {len(deleted)}")
    print(f"GoBGP -> evpn: {describe(cases)} agree, {len(deleted)} withdrawn; seed {SEED + 1}")


# --- evpn → GoBGP --------------------------------------------------------------------------------


def gobgp_expected(case: SentRoute) -> Fields:
    """What GoBGP should show for a route our speaker sends, in the shape of :func:`gobgp_fields`."""
    pmsi = case.path.pmsi
    if pmsi is not None:
        tunnel = PmsiTunnel(
            tunnel_type=pmsi["tunnel_type"], label=pmsi["label"], tunnel_id=bytes.fromhex(pmsi["tunnel_id"])
        )
        pmsi = pmsi_tunnel_json(tunnel)
    communities = _sorted_json(ext_community_json(c) for c in case.path.communities)
    return {"route": nlri_json(case.route), "next_hop": case.path.next_hop, "communities": communities, "pmsi": pmsi}


def test_evpn_routes_to_gobgp(require_gobgp: None, lab: Lab, net: PeerNet) -> None:
    """The routes of :func:`evpn_case` without FRR's limits (ESIs, IPv6 originators, PMSI tunnel IDs
    and next hops), sent by our speaker to GoBGP: ``gobgp global rib -a evpn -j`` must show each
    once with the same fields, and nothing else."""
    rng = random.Random(SEED + 2)
    pool: dict[tuple[Any, ...], list[PathAttrs]] = {}
    cases = draw_unique(rng, ROUTES, lambda r: evpn_case(r, pool, frr=False))
    neighbor = {"address": US, "asn": US_AS, "passive": True}
    gobgp = lab.gobgp(net.peer, gobgp_toml(asn=PEER_AS, router_id=PEER, neighbors=[neighbor]))
    speaker = start_diff_speaker(lab, net, routes=[c.entry for c in cases])
    speaker.wait_event(is_event("peer_up", peer=PEER), SESSION_UP, what="peer_up from GoBGP")
    keys = {c.key for c in cases}
    got = settle(lambda: gobgp_view(gobgp), lambda v: set(v) == keys, 60, interval=1.0)
    problem = first_mismatch([(c.key, gobgp_expected(c)) for c in cases], got)
    assert problem is None, fail_message("evpn -> GoBGP", problem, len(cases))
    print(f"evpn -> GoBGP: {describe(cases)} agree; seed {SEED + 2}")
