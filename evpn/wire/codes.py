"""Numbers the BGP wire format is made of, as enums (IANA BGP parameters)."""

from __future__ import annotations

import enum

__all__ = [
    "AFI",
    "SAFI",
    "AttrType",
    "CapabilityCode",
    "CeaseSubcode",
    "ErrorCode",
    "FsmSubcode",
    "MessageHeaderSubcode",
    "MessageType",
    "OpenSubcode",
    "RouteRefreshSubcode",
    "UpdateSubcode",
    "subcode_name",
]


class MessageType(enum.IntEnum):
    """BGP message types (RFC 4271 §4.1, RFC 2918 §3)."""

    OPEN = 1
    UPDATE = 2
    NOTIFICATION = 3
    KEEPALIVE = 4
    ROUTE_REFRESH = 5


class AFI(enum.IntEnum):
    """Address family identifiers used by this library (RFC 4760 §3)."""

    IPV4 = 1
    IPV6 = 2
    L2VPN = 25


class SAFI(enum.IntEnum):
    """Subsequent address family identifiers used by this library (RFC 4760 §3)."""

    UNICAST = 1
    MULTICAST = 2
    MPLS_VPN = 128
    EVPN = 70


class AttrType(enum.IntEnum):
    """Path attribute type codes (RFC 4271 §5 and the RFCs named per member)."""

    ORIGIN = 1
    AS_PATH = 2
    NEXT_HOP = 3
    MULTI_EXIT_DISC = 4
    LOCAL_PREF = 5
    ATOMIC_AGGREGATE = 6
    AGGREGATOR = 7
    COMMUNITIES = 8  # RFC 1997
    ORIGINATOR_ID = 9  # RFC 4456
    CLUSTER_LIST = 10  # RFC 4456
    MP_REACH_NLRI = 14  # RFC 4760
    MP_UNREACH_NLRI = 15  # RFC 4760
    EXTENDED_COMMUNITIES = 16  # RFC 4360
    AS4_PATH = 17  # RFC 6793
    AS4_AGGREGATOR = 18  # RFC 6793
    PMSI_TUNNEL = 22  # RFC 6514
    LARGE_COMMUNITY = 32  # RFC 8092


class CapabilityCode(enum.IntEnum):
    """Capability codes (RFC 5492 §4 and the RFCs named per member)."""

    MULTIPROTOCOL = 1  # RFC 4760
    ROUTE_REFRESH = 2  # RFC 2918
    EXTENDED_MESSAGE = 6  # RFC 8654
    GRACEFUL_RESTART = 64  # RFC 4724
    FOUR_OCTET_AS = 65  # RFC 6793
    ADD_PATH = 69  # RFC 7911
    ENHANCED_ROUTE_REFRESH = 70  # RFC 7313
    FQDN = 73  # draft-walton-bgp-hostname-capability


class ErrorCode(enum.IntEnum):
    """NOTIFICATION error codes (RFC 4271 §4.5, RFC 7313 §5)."""

    MESSAGE_HEADER = 1
    OPEN_MESSAGE = 2
    UPDATE_MESSAGE = 3
    HOLD_TIMER_EXPIRED = 4
    FSM = 5
    CEASE = 6
    ROUTE_REFRESH_MESSAGE = 7


class MessageHeaderSubcode(enum.IntEnum):
    """Message Header Error subcodes (RFC 4271 §6.1)."""

    UNSPECIFIC = 0
    CONNECTION_NOT_SYNCHRONIZED = 1
    BAD_MESSAGE_LENGTH = 2
    BAD_MESSAGE_TYPE = 3


class OpenSubcode(enum.IntEnum):
    """OPEN Message Error subcodes (RFC 4271 §6.2, RFC 5492 §5, RFC 9234 §4.2)."""

    UNSPECIFIC = 0
    UNSUPPORTED_VERSION_NUMBER = 1
    BAD_PEER_AS = 2
    BAD_BGP_IDENTIFIER = 3
    UNSUPPORTED_OPTIONAL_PARAMETER = 4
    UNACCEPTABLE_HOLD_TIME = 6
    UNSUPPORTED_CAPABILITY = 7
    ROLE_MISMATCH = 11


class UpdateSubcode(enum.IntEnum):
    """UPDATE Message Error subcodes (RFC 4271 §6.3)."""

    UNSPECIFIC = 0
    MALFORMED_ATTRIBUTE_LIST = 1
    UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE = 2
    MISSING_WELL_KNOWN_ATTRIBUTE = 3
    ATTRIBUTE_FLAGS_ERROR = 4
    ATTRIBUTE_LENGTH_ERROR = 5
    INVALID_ORIGIN_ATTRIBUTE = 6
    INVALID_NEXT_HOP_ATTRIBUTE = 8
    OPTIONAL_ATTRIBUTE_ERROR = 9
    INVALID_NETWORK_FIELD = 10
    MALFORMED_AS_PATH = 11


class FsmSubcode(enum.IntEnum):
    """Finite State Machine Error subcodes (RFC 6608 §4)."""

    UNSPECIFIED = 0
    UNEXPECTED_IN_OPENSENT = 1
    UNEXPECTED_IN_OPENCONFIRM = 2
    UNEXPECTED_IN_ESTABLISHED = 3


class CeaseSubcode(enum.IntEnum):
    """Cease subcodes (RFC 4486 §4, RFC 8538 §5, RFC 9384 §3)."""

    MAXIMUM_PREFIXES_REACHED = 1
    ADMINISTRATIVE_SHUTDOWN = 2
    PEER_DECONFIGURED = 3
    ADMINISTRATIVE_RESET = 4
    CONNECTION_REJECTED = 5
    OTHER_CONFIGURATION_CHANGE = 6
    CONNECTION_COLLISION_RESOLUTION = 7
    OUT_OF_RESOURCES = 8
    HARD_RESET = 9
    BFD_DOWN = 10


class RouteRefreshSubcode(enum.IntEnum):
    """ROUTE-REFRESH Message Error subcodes (RFC 7313 §5)."""

    RESERVED = 0
    INVALID_MESSAGE_LENGTH = 1


_SUBCODES: dict[int, type[enum.IntEnum]] = {
    ErrorCode.MESSAGE_HEADER: MessageHeaderSubcode,
    ErrorCode.OPEN_MESSAGE: OpenSubcode,
    ErrorCode.UPDATE_MESSAGE: UpdateSubcode,
    ErrorCode.FSM: FsmSubcode,
    ErrorCode.CEASE: CeaseSubcode,
    ErrorCode.ROUTE_REFRESH_MESSAGE: RouteRefreshSubcode,
}


def subcode_name(code: int, subcode: int) -> str:
    """Name of ``subcode`` under error ``code``, or ``"subcode N"`` when unknown."""
    table = _SUBCODES.get(code)
    if table is not None:
        try:
            return table(subcode).name
        except ValueError:
            pass
    if code == ErrorCode.HOLD_TIMER_EXPIRED and subcode == 0:
        return "UNSPECIFIC"
    return f"subcode {subcode}"
