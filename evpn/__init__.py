"""evpn: a pure-Python BGP EVPN control-plane speaker library.

The wire codec lives in :mod:`evpn.wire`; this package re-exports the names most
programs need.
"""

from evpn.errors import Action, BGPError, ConfigError
from evpn.types import ESI, RouteDistinguisher
from evpn.wire import (
    Context,
    EthernetADRoute,
    EthernetSegmentRoute,
    InclusiveMulticastRoute,
    IPPrefixRoute,
    Keepalive,
    MacIpRoute,
    MessageReader,
    Notification,
    Open,
    RouteRefresh,
    UnknownRoute,
    Update,
    decode_message,
    pack_updates,
    pack_withdrawals,
)

__version__ = "0.1.0"

__all__ = [
    "ESI",
    "Action",
    "BGPError",
    "ConfigError",
    "Context",
    "EthernetADRoute",
    "EthernetSegmentRoute",
    "IPPrefixRoute",
    "InclusiveMulticastRoute",
    "Keepalive",
    "MacIpRoute",
    "MessageReader",
    "Notification",
    "Open",
    "RouteDistinguisher",
    "RouteRefresh",
    "UnknownRoute",
    "Update",
    "__version__",
    "decode_message",
    "pack_updates",
    "pack_withdrawals",
]
