"""The BGP/EVPN wire codec: sans-I/O, pure functions and frozen values.

Everything here is re-exported from the submodules named after what they hold:
:mod:`~evpn.wire.messages`, :mod:`~evpn.wire.attributes`, :mod:`~evpn.wire.capabilities`,
:mod:`~evpn.wire.routes`, :mod:`~evpn.wire.extcommunities`, :mod:`~evpn.wire.prefixes`,
:mod:`~evpn.wire.codes`, :mod:`~evpn.wire.context`.
"""

from evpn.wire.attributes import *  # noqa: F403
from evpn.wire.attributes import __all__ as _attributes
from evpn.wire.capabilities import *  # noqa: F403
from evpn.wire.capabilities import __all__ as _capabilities
from evpn.wire.codes import *  # noqa: F403
from evpn.wire.codes import __all__ as _codes
from evpn.wire.context import *  # noqa: F403
from evpn.wire.context import __all__ as _context
from evpn.wire.extcommunities import *  # noqa: F403
from evpn.wire.extcommunities import __all__ as _extcommunities
from evpn.wire.messages import *  # noqa: F403
from evpn.wire.messages import __all__ as _messages
from evpn.wire.prefixes import *  # noqa: F403
from evpn.wire.prefixes import __all__ as _prefixes
from evpn.wire.routes import *  # noqa: F403
from evpn.wire.routes import __all__ as _routes

__all__ = [
    *_attributes,
    *_capabilities,
    *_codes,
    *_context,
    *_extcommunities,
    *_messages,
    *_prefixes,
    *_routes,
]
