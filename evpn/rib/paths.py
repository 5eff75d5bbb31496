"""Paths: a route as received from one source, with the attributes the decision process reads.

A :class:`Path` is what the RIB holds per route and source.  Its :class:`PathAttributes`
are shared by every route of one UPDATE (and by equal UPDATEs): the values the decision
process and the route-target import need are read from the attributes once, not per route.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import attrs

from evpn.types import format_ip, ip_bytes
from evpn.wire.attributes import (
    AS_SEQUENCE,
    AsPath,
    Attribute,
    ClusterList,
    ExtendedCommunities,
    LocalPref,
    MultiExitDisc,
    Nlri,
    Origin,
    OriginatorId,
    PmsiTunnel,
)
from evpn.wire.extcommunities import MacMobility, RouterMac, RouteTarget

__all__ = ["DEFAULT_LOCAL_PREF", "Path", "PathAttributes", "Source", "new_path", "path_attributes", "route_key"]

DEFAULT_LOCAL_PREF = 100
"""LOCAL_PREF assumed for a path without one (eBGP and local paths), as FRR does (RFC 4271 §5.1.5)."""

_AS_SET = 1  # RFC 4271 §4.3; confederation segments (3, 4) do not count (RFC 5065 §5.3)


def _address_key(address: str) -> tuple[int, bytes]:
    raw = ip_bytes(address) if address else b""
    return (len(raw), raw)


def route_key(route: Nlri) -> object:
    """The RIB identity of a route: RFC 7432 §7 for EVPN (RD and the type's key fields), the
    prefix itself otherwise."""
    return getattr(route, "key", route)


@attrs.frozen
class Source:
    """Where paths come from: one BGP peer, or :meth:`local` for the routes we originate.

    ``router_id`` is the peer's BGP Identifier from its OPEN (RFC 4271 §4.2) as an integer;
    ``ibgp`` says the peer is in our AS; ``rr_client`` that it is one of our route-reflector
    clients (RFC 4456 §3).
    """

    address: str
    asn: int
    router_id: int
    ibgp: bool
    rr_client: bool = False
    is_local: bool = False
    order: tuple[int, bytes] = attrs.field(init=False, repr=False, eq=False)
    """The address as a sortable key: lower wins the last step of the decision process."""

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "order", _address_key(self.address))

    @classmethod
    def local(cls, asn: int, router_id: int) -> Source:
        """The source of locally originated paths (address ``""``)."""
        return cls("", asn, router_id, ibgp=True, is_local=True)

    @property
    def name(self) -> str:
        """The peer's address, or ``"local"``."""
        return "local" if self.is_local else self.address


def _as_path_facts(path: AsPath | None) -> tuple[int, int, tuple[int, ...]]:
    """(length for the decision, neighbouring AS or 0, every ASN in it) (RFC 4271 §9.1.2.2 a, c)."""
    if path is None:
        return 0, 0, ()
    length = 0
    neighbor = 0
    asns: list[int] = []
    for segment in path.segments:
        asns.extend(segment.asns)
        if segment.type == AS_SEQUENCE:
            length += len(segment.asns)
            if not neighbor:
                neighbor = segment.asns[0]
        elif segment.type == _AS_SET:
            length += 1
    return length, neighbor, tuple(asns)


@attrs.frozen(weakref_slot=True)
class PathAttributes:
    """The path attributes of one UPDATE with the facts the RIB reads from them.

    Built by :func:`path_attributes`, which shares one object between equal attribute
    tuples, so that a million routes received in a thousand UPDATEs hold a thousand of these.
    """

    attributes: tuple[Attribute, ...]
    """The attributes as received (without MP_REACH_NLRI/MP_UNREACH_NLRI)."""
    local_pref: int | None
    """LOCAL_PREF (RFC 4271 §5.1.5), ``None`` when absent."""
    as_path_length: int
    """AS_PATH length as the decision process counts it (RFC 4271 §9.1.2.2 a): an AS_SET counts 1."""
    neighbor_as: int
    """The first AS of the AS_PATH, 0 for an empty path (RFC 4271 §9.1.2.2 c)."""
    as_numbers: frozenset[int]
    """Every AS in the AS_PATH, for loop detection (RFC 4271 §9.1.2)."""
    origin: int
    """ORIGIN (RFC 4271 §5.1.1), IGP when absent."""
    med: int
    """MULTI_EXIT_DISC (RFC 4271 §5.1.4), 0 when absent (as FRR)."""
    originator_id: int | None
    """ORIGINATOR_ID (RFC 4456 §8) as an integer, ``None`` when absent."""
    cluster_list: tuple[bytes, ...]
    """CLUSTER_LIST (RFC 4456 §8)."""
    route_targets: frozenset[RouteTarget]
    """The route targets among the extended communities (RFC 4360 §4)."""
    sequence: int
    """MAC mobility sequence number (RFC 7432 §7.7), 0 without the community."""
    sticky: bool
    """The MAC mobility community's sticky/static flag (RFC 7432 §7.7, §15.2)."""
    router_mac: bytes | None
    """The Router's MAC extended community (RFC 9135 §8.1), ``None`` when absent."""
    pmsi: PmsiTunnel | None
    """The PMSI_TUNNEL attribute (RFC 6514 §5), ``None`` when absent."""


_SHARED: weakref.WeakValueDictionary[tuple[Attribute, ...], PathAttributes] = weakref.WeakValueDictionary()


def path_attributes(attributes: tuple[Attribute, ...]) -> PathAttributes:
    """The :class:`PathAttributes` of ``attributes``, shared with earlier equal tuples."""
    shared = _SHARED.get(attributes)
    if shared is not None:
        return shared
    local_pref = med = originator = None
    origin = 0
    as_path: AsPath | None = None
    cluster: tuple[bytes, ...] = ()
    targets: list[RouteTarget] = []
    sequence = 0
    sticky = False
    router_mac = None
    pmsi = None
    for attribute in attributes:
        if isinstance(attribute, LocalPref):
            local_pref = attribute.value
        elif isinstance(attribute, AsPath):
            as_path = attribute
        elif isinstance(attribute, Origin):
            origin = attribute.value
        elif isinstance(attribute, MultiExitDisc):
            med = attribute.value
        elif isinstance(attribute, OriginatorId):
            originator = int.from_bytes(attribute.router_id, "big")
        elif isinstance(attribute, ClusterList):
            cluster = attribute.cluster_ids
        elif isinstance(attribute, PmsiTunnel):
            pmsi = attribute
        elif isinstance(attribute, ExtendedCommunities):
            for community in attribute.communities:
                if isinstance(community, RouteTarget):
                    targets.append(community)
                elif isinstance(community, MacMobility):
                    sequence, sticky = community.sequence, community.sticky
                elif isinstance(community, RouterMac):
                    router_mac = community.mac
    length, neighbor, asns = _as_path_facts(as_path)
    made = PathAttributes(
        attributes,
        local_pref,
        length,
        neighbor,
        frozenset(asns),
        origin,
        med or 0,
        originator,
        cluster,
        frozenset(targets),
        sequence,
        sticky,
        router_mac,
        pmsi,
    )
    _SHARED[attributes] = made
    return made


@attrs.frozen
class Path:
    """One route from one source: the unit the decision process compares (RFC 4271 §9.1)."""

    source: Source
    route: Nlri
    attributes: PathAttributes
    next_hop: bytes = attrs.field(repr=lambda v: repr(format_ip(v) if len(v) in (4, 16) else v.hex()))
    """The next hop: for EVPN the remote VTEP address (RFC 8365 §5.1.3)."""

    @property
    def local_pref(self) -> int:
        """LOCAL_PREF, or :data:`DEFAULT_LOCAL_PREF` when the path has none."""
        value = self.attributes.local_pref
        return DEFAULT_LOCAL_PREF if value is None else value


def _path_builder() -> Callable[[Source, Nlri, PathAttributes, bytes], Path]:
    set_source, set_route, set_attributes, set_next_hop = (
        Path.__dict__[name].__set__ for name in ("source", "route", "attributes", "next_hop")
    )
    make = object.__new__

    def new_path(source: Source, route: Nlri, attributes: PathAttributes, next_hop: bytes) -> Path:
        path = make(Path)
        set_source(path, source)
        set_route(path, route)
        set_attributes(path, attributes)
        set_next_hop(path, next_hop)
        return path

    return new_path


new_path = _path_builder()
"""Build a :class:`Path` without attrs' per-field checks (the RIB's hot path); same result as ``Path(...)``."""
