"""What two OPEN messages agree on (RFC 4271 §4.2, §6.2; RFC 5492 and the capability RFCs).

:func:`negotiate` checks the peer's OPEN as RFC 4271 §6.2 prescribes and returns a
:class:`Negotiated` value, or raises :class:`~evpn.errors.BGPError` carrying the OPEN
Message Error NOTIFICATION to send.
"""

from __future__ import annotations

import attrs

from evpn.errors import BGPError
from evpn.types import format_ip, ip_bytes
from evpn.wire.attributes import AS_TRANS
from evpn.wire.capabilities import (
    AddPath,
    EnhancedRouteRefresh,
    ExtendedMessage,
    FourOctetAS,
    Fqdn,
    GracefulRestart,
    Multiprotocol,
    RouteRefreshCapability,
    UnknownParameter,
)
from evpn.wire.codes import AFI, SAFI, CapabilityCode, ErrorCode, OpenSubcode
from evpn.wire.context import Context
from evpn.wire.messages import Open

__all__ = ["Family", "Negotiated", "negotiate"]

Family = tuple[int, int]
"""An (AFI, SAFI) pair."""

_IPV4_UNICAST: Family = (AFI.IPV4, SAFI.UNICAST)
ADD_PATH_RECEIVE = 1
ADD_PATH_SEND = 2


def _mp_families(message: Open) -> frozenset[Family]:
    """The families an OPEN advertises; none at all means IPv4 unicast (RFC 4760 §8)."""
    families = frozenset((c.afi, c.safi) for c in message.capabilities if isinstance(c, Multiprotocol))
    return families or frozenset((_IPV4_UNICAST,))


def _has(message: Open, kind: type) -> bool:
    return any(isinstance(c, kind) for c in message.capabilities)


def _add_path_modes(message: Open) -> dict[Family, int]:
    modes: dict[Family, int] = {}
    for cap in message.capabilities:
        if isinstance(cap, AddPath):
            for afi, safi, mode in cap.families:
                modes[(afi, safi)] = mode
    return modes


@attrs.frozen
class Negotiated:
    """The parameters of an established session, from our OPEN and the peer's.

    ``add_path`` holds ``(afi, safi, mode)`` seen from this side, encoded as in the
    RFC 7911 §4 capability: 1 = we receive path identifiers, 2 = we send them, 3 = both.
    ``graceful_restart`` is the peer's capability (RFC 4724 §3), ``None`` if it sent none.
    """

    local: Open = attrs.field(repr=False)
    peer: Open = attrs.field(repr=False)
    hold_time: int
    """min(our hold time, the peer's): 0 (no keepalives) or at least 3 (RFC 4271 §4.2)."""
    peer_asn: int
    """The peer's ASN, from the 4-octet AS capability if present (RFC 6793 §4.1)."""
    peer_router_id: str
    families: frozenset[Family]
    """The (AFI, SAFI) pairs both sides advertised (RFC 4760 §8)."""
    four_octet_as: bool
    route_refresh: bool
    enhanced_route_refresh: bool
    extended_message: bool
    add_path: tuple[tuple[int, int, int], ...] = ()
    graceful_restart: GracefulRestart | None = None
    peer_fqdn: Fqdn | None = None

    @property
    def keepalive_time(self) -> float:
        """Seconds between KEEPALIVEs: a third of the hold time (RFC 4271 §4.4, §10); 0 = none."""
        return self.hold_time / 3

    @property
    def peer_hostname(self) -> str | None:
        """The peer's host name from its FQDN capability, if it sent one."""
        return self.peer_fqdn.hostname if self.peer_fqdn else None

    @property
    def receive_add_path(self) -> frozenset[Family]:
        """Families whose received NLRI carry path identifiers (RFC 7911 §3)."""
        return frozenset((a, s) for a, s, m in self.add_path if m & ADD_PATH_RECEIVE)

    @property
    def send_add_path(self) -> frozenset[Family]:
        """Families whose NLRI we send with path identifiers (RFC 7911 §3)."""
        return frozenset((a, s) for a, s, m in self.add_path if m & ADD_PATH_SEND)

    @property
    def context(self) -> Context:
        """The codec context for decoding what the peer sends."""
        return Context(self.four_octet_as, self.receive_add_path, self.extended_message)

    @property
    def send_context(self) -> Context:
        """The codec context for encoding what we send."""
        return Context(self.four_octet_as, self.send_add_path, self.extended_message)

    @property
    def max_message_size(self) -> int:
        """4096, or 65535 when both sides advertised extended messages (RFC 8654 §4)."""
        return 65535 if self.extended_message else 4096


def _open_error(subcode: int, field: str, data: bytes = b"") -> BGPError:
    return BGPError(ErrorCode.OPEN_MESSAGE, subcode, field, data)


def negotiate(
    local: Open,
    peer: Open,
    expected_asn: int,
    local_router_id: str | bytes | None = None,
) -> Negotiated:
    """Check the peer's OPEN against ours and the configured peer ASN (RFC 4271 §6.2).

    ``local_router_id`` defaults to ``local.router_id``.  Raises :class:`BGPError`
    (OPEN Message Error, code 2) with the subcode RFC 4271 §6.2 and RFC 5492 §5 name:

    * version other than 4: 2/1, data = the 2-octet version we support (4);
    * "My Autonomous System" wrong: 2/2.  With the 4-octet AS capability (RFC 6793 §4.1)
      its ASN must be ``expected_asn`` and the 2-octet field must be that ASN (when it fits)
      or AS_TRANS;
    * hold time 1 or 2: 2/6;
    * BGP Identifier 0.0.0.0, or equal to ours on an iBGP session (RFC 6286 §2.2): 2/3;
    * an optional parameter other than capabilities: 2/4;
    * no address family in common: 2/7, data = our multiprotocol capabilities the peer
      lacks, encoded as in an OPEN.
    """
    own_id = ip_bytes(local_router_id) if local_router_id is not None else local.router_id
    if peer.version != 4:
        raise _open_error(
            OpenSubcode.UNSUPPORTED_VERSION_NUMBER, f"BGP version {peer.version} (only 4 is supported)", b"\x00\x04"
        )
    four_octet = [c for c in peer.capabilities if isinstance(c, FourOctetAS)]
    if four_octet:
        asn = four_octet[0].asn
        if peer.asn not in (AS_TRANS, asn):
            raise _open_error(
                OpenSubcode.BAD_PEER_AS,
                f"My Autonomous System {peer.asn} disagrees with the 4-octet AS capability {asn} (RFC 6793 §4.1)",
            )
    else:
        asn = peer.asn
    if asn != expected_asn:
        raise _open_error(OpenSubcode.BAD_PEER_AS, f"peer AS {asn} (configured {expected_asn})")
    if peer.hold_time in (1, 2):
        raise _open_error(OpenSubcode.UNACCEPTABLE_HOLD_TIME, f"hold time {peer.hold_time} (must be 0 or at least 3)")
    if peer.router_id == b"\0\0\0\0":
        raise _open_error(OpenSubcode.BAD_BGP_IDENTIFIER, "BGP Identifier 0.0.0.0")
    if asn == local.speaker_asn and peer.router_id == own_id:
        raise _open_error(
            OpenSubcode.BAD_BGP_IDENTIFIER,
            f"iBGP peer has our BGP Identifier {format_ip(own_id)} (RFC 6286 §2.2)",
        )
    for param in peer.parameters:
        if isinstance(param, UnknownParameter):
            raise _open_error(OpenSubcode.UNSUPPORTED_OPTIONAL_PARAMETER, f"optional parameter type {param.type}")
    ours, theirs = _mp_families(local), _mp_families(peer)
    families = ours & theirs
    if not families:
        missing = sorted(ours - theirs)
        data = b"".join(
            bytes((CapabilityCode.MULTIPROTOCOL, 4)) + Multiprotocol(afi, safi).value_bytes() for afi, safi in missing
        )
        names = ", ".join(f"{afi}/{safi}" for afi, safi in missing)
        raise _open_error(OpenSubcode.UNSUPPORTED_CAPABILITY, f"no address family in common (we need {names})", data)
    local_modes, peer_modes = _add_path_modes(local), _add_path_modes(peer)
    add_path = []
    for family in sorted(families):
        mine, yours = local_modes.get(family, 0), peer_modes.get(family, 0)
        mode = (ADD_PATH_RECEIVE if mine & ADD_PATH_RECEIVE and yours & ADD_PATH_SEND else 0) | (
            ADD_PATH_SEND if mine & ADD_PATH_SEND and yours & ADD_PATH_RECEIVE else 0
        )
        if mode:
            add_path.append((family[0], family[1], mode))
    graceful_restart = next((c for c in peer.capabilities if isinstance(c, GracefulRestart)), None)
    fqdn = next((c for c in peer.capabilities if isinstance(c, Fqdn)), None)
    return Negotiated(
        local=local,
        peer=peer,
        hold_time=min(local.hold_time, peer.hold_time),
        peer_asn=asn,
        peer_router_id=format_ip(peer.router_id),
        families=families,
        four_octet_as=_has(local, FourOctetAS) and bool(four_octet),
        route_refresh=_has(local, RouteRefreshCapability) and _has(peer, RouteRefreshCapability),
        enhanced_route_refresh=_has(local, EnhancedRouteRefresh) and _has(peer, EnhancedRouteRefresh),
        extended_message=_has(local, ExtendedMessage) and _has(peer, ExtendedMessage),
        add_path=tuple(add_path),
        graceful_restart=graceful_restart,
        peer_fqdn=fqdn,
    )
