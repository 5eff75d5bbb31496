"""What a session negotiated that changes how bytes are read and written."""

from __future__ import annotations

from collections.abc import Iterable

import attrs

__all__ = ["Context"]


def _families(value: Iterable[tuple[int, int]]) -> frozenset[tuple[int, int]]:
    return frozenset((int(afi), int(safi)) for afi, safi in value)


@attrs.frozen
class Context:
    """Negotiated parameters the codec needs (RFC 6793, RFC 7911, RFC 8654).

    ``four_octet_as``: AS numbers in AS_PATH/AGGREGATOR are 4 octets (RFC 6793 §3).
    ``add_path``: the (AFI, SAFI) pairs whose received NLRI carry a path identifier
    (RFC 7911 §3).  ``extended_message``: messages may be up to 65535 bytes (RFC 8654 §3).
    The default suits a modern peer: 4-octet AS, no add-path, 4096-byte messages.
    """

    four_octet_as: bool = True
    add_path: frozenset[tuple[int, int]] = attrs.field(default=frozenset(), converter=_families)
    extended_message: bool = False

    @property
    def max_message_size(self) -> int:
        """The largest message allowed: 4096, or 65535 with extended messages (RFC 8654 §4)."""
        return 65535 if self.extended_message else 4096
