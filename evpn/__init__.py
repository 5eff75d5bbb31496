"""evpn: a pure-Python BGP EVPN control-plane speaker library.

The wire codec lives in :mod:`evpn.wire`, the sans-I/O session in :mod:`evpn.session`,
the trio speaker in :mod:`evpn.speaker`; this package re-exports the names most programs
need: ``async with evpn.open_speaker(evpn.load_config("speaker.toml")) as speaker: ...``.
"""

from evpn.config import Config, PeerConfig, SpeakerConfig, VniConfig, VrfConfig, load_config
from evpn.errors import Action, BGPError, ConfigError
from evpn.events import EndOfRib, Event, PeerDown, PeerUp, RouteAdded, RouteWithdrawn
from evpn.speaker import Speaker, open_speaker
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
    "Config",
    "ConfigError",
    "Context",
    "EndOfRib",
    "EthernetADRoute",
    "EthernetSegmentRoute",
    "Event",
    "IPPrefixRoute",
    "InclusiveMulticastRoute",
    "Keepalive",
    "MacIpRoute",
    "MessageReader",
    "Notification",
    "Open",
    "PeerConfig",
    "PeerDown",
    "PeerUp",
    "RouteAdded",
    "RouteDistinguisher",
    "RouteRefresh",
    "RouteWithdrawn",
    "Speaker",
    "SpeakerConfig",
    "UnknownRoute",
    "Update",
    "VniConfig",
    "VrfConfig",
    "__version__",
    "decode_message",
    "load_config",
    "open_speaker",
    "pack_updates",
    "pack_withdrawals",
]
