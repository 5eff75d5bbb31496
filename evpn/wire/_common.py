"""Helpers shared by the wire modules (not public API)."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from typing import Any

from evpn.types import ip_bytes

U16 = struct.Struct("!H")
U32 = struct.Struct("!I")


class Malformed(Exception):  # noqa: N818 -- internal signal, turned into BGPError by callers
    """A field did not parse; the message names the field and the value.

    Raised by NLRI and value decoders, caught by the attribute/message layer that
    knows which NOTIFICATION or RFC 7606 action applies.  ``subcode`` overrides the
    UPDATE Message Error subcode the caller would otherwise use (RFC 4271 §6.3).
    """

    def __init__(self, message: str, subcode: int | None = None) -> None:
        super().__init__(message)
        self.subcode = subcode


def u24(data: bytes, pos: int) -> int:
    """Read a 3-byte big-endian integer at ``pos``."""
    return data[pos] << 16 | data[pos + 1] << 8 | data[pos + 2]


def check_range(name: str, value: int, bits: int) -> int:
    """Validate that ``value`` is an unsigned integer of ``bits`` bits (for constructors)."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << bits:
        raise ValueError(f"{name} must be an integer in 0..{(1 << bits) - 1}, got {value!r}")
    return value


def address(name: str, value: object, *, optional: bool = False) -> bytes:
    """:func:`~evpn.types.ip_bytes` for the field ``name``, which its errors name (for converters)."""
    try:
        return ip_bytes(value, allow_none=optional)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


def check_bytes(name: str, value: object, max_size: int) -> bytes:
    """Validate that ``value`` is ``bytes`` of at most ``max_size`` (for constructors)."""
    if not isinstance(value, bytes):
        raise TypeError(f"{name} must be bytes, got {value!r}")
    if len(value) > max_size:
        raise ValueError(f"{name} must be at most {max_size} bytes, got {len(value)}")
    return value


def max_bytes(n: int) -> Callable[[Any, Any, Any], None]:
    """An attrs validator: the field must be ``bytes`` of at most ``n`` (what its length field holds)."""

    def check(_instance: Any, attribute: Any, value: Any) -> None:
        check_bytes(attribute.name, value, n)

    return check


def items_of(kinds: type | tuple[type, ...], what: str) -> Callable[[Any, Any, Any], None]:
    """An attrs validator: every item of the (tuple) field must be one of ``kinds``."""

    def check(_instance: Any, attribute: Any, value: Any) -> None:
        for item in value:
            if not isinstance(item, kinds):
                raise TypeError(f"{attribute.name} must hold {what}, got {item!r}")

    return check


def flag(_instance: Any, attribute: Any, value: Any) -> None:
    """An attrs validator: the field is a flag, ``True`` or ``False`` (not 0, 1 or ``None``)."""
    if not isinstance(value, bool):
        raise TypeError(f"{attribute.name} must be True or False, got {value!r}")


def bits(n: int) -> Callable[[Any, Any, Any], None]:
    """An attrs validator: the field must be an unsigned integer of ``n`` bits."""

    def check(_instance: Any, attribute: Any, value: Any) -> None:
        check_range(attribute.name, value, n)

    return check


def optional_bits(n: int) -> Callable[[Any, Any, Any], None]:
    """Like :func:`bits`, but ``None`` is allowed too."""

    def check(_instance: Any, attribute: Any, value: Any) -> None:
        if value is not None:
            check_range(attribute.name, value, n)

    return check


def to_tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    """An attrs converter: any iterable becomes a tuple."""
    return tuple(value)


def to_tuple_of_tuples(value: Iterable[Iterable[Any]]) -> tuple[tuple[Any, ...], ...]:
    """An attrs converter: an iterable of iterables becomes a tuple of tuples."""
    return tuple(tuple(item) for item in value)
