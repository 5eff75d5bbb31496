"""The project's exception family.

Two kinds of failure are kept apart (as h11 does):

* :class:`BGPError` -- the *remote* side sent something wrong.  It carries the
  NOTIFICATION code, subcode and data that RFC 4271 §6 prescribes, and the
  RFC 7606 §2 error-handling action that applies.  Decoders raise nothing else.
* :class:`ConfigError` and plain :class:`ValueError`/:class:`TypeError` -- the
  *local* caller misused the API or wrote a bad configuration.
"""

from __future__ import annotations

import enum

__all__ = ["Action", "BGPError", "ConfigError"]


class Action(enum.IntEnum):
    """RFC 7606 §2 error-handling approaches, ordered by severity.

    ``max()`` over several errors gives the approach to apply to the UPDATE.
    """

    ATTRIBUTE_DISCARD = 1
    """Drop the malformed attribute, keep the rest of the UPDATE (RFC 7606 §2)."""
    TREAT_AS_WITHDRAW = 2
    """Handle every route of the UPDATE as withdrawn (RFC 7606 §2)."""
    AFI_SAFI_DISABLE = 3
    """Stop using the address family on this session (RFC 4760 §7, RFC 7606 §2)."""
    SESSION_RESET = 4
    """Send the NOTIFICATION and close the session (RFC 4271 §6)."""


class BGPError(Exception):
    """A protocol error found in bytes received from a peer.

    ``code``/``subcode``/``data`` are what the NOTIFICATION would carry
    (RFC 4271 §4.5, §6); ``data`` never holds more than the offending bytes.
    ``field`` names what was wrong, for people reading logs.  ``action`` is the
    RFC 7606 approach; anything but :attr:`Action.SESSION_RESET` is reported on
    the decoded UPDATE (``Update.errors``) rather than raised.
    """

    def __init__(
        self,
        code: int,
        subcode: int,
        field: str,
        data: bytes = b"",
        action: Action = Action.SESSION_RESET,
    ) -> None:
        self.code = code
        self.subcode = subcode
        self.field = field
        self.data = bytes(data)
        self.action = action
        super().__init__(f"{field} (NOTIFICATION {code}/{subcode}, {action.name.lower()})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BGPError):
            return NotImplemented
        return (self.code, self.subcode, self.field, self.data, self.action) == (
            other.code,
            other.subcode,
            other.field,
            other.data,
            other.action,
        )

    def __hash__(self) -> int:
        return hash((self.code, self.subcode, self.field, self.data, self.action))

    def __repr__(self) -> str:
        return (
            f"BGPError(code={self.code}, subcode={self.subcode}, field={self.field!r}, "
            f"data={self.data.hex()!r}, action={self.action.name})"
        )


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the key and why."""
