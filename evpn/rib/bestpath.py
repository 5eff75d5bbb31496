"""The decision process: which of several paths for one route is best, and why.

RFC 4271 §9.1.2.2 with the EVPN MAC mobility rules in front (RFC 7432 §15, as FRR orders
them) and the route-reflection tie-breakers (RFC 4456 §9).  Every comparison names the
step that decided it (:class:`Reason`), so ``show``-style output can say why a path won.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from evpn.rib.paths import Path
from evpn.wire.routes import MacIpRoute

__all__ = ["Reason", "compare", "select", "sequence_newer"]

_HALF = 1 << 31
_MASK = (1 << 32) - 1


class Reason(enum.IntEnum):
    """The step of the decision process that made a path best, in the order they apply."""

    ONLY_PATH = 0
    """There was no other path."""
    STICKY = 1
    """A sticky (static) MAC is never moved (RFC 7432 §15.2)."""
    SEQUENCE = 2
    """The higher MAC mobility sequence number wins (RFC 7432 §15.1)."""
    VTEP_ADDRESS = 3
    """Equal sequence numbers from different VTEPs: the lower VTEP address wins (RFC 7432 §15.1)."""
    LOCAL_PREF = 4
    """Higher LOCAL_PREF (RFC 4271 §9.1.1)."""
    LOCAL = 5
    """A locally originated path beats a received one (as FRR)."""
    AS_PATH = 6
    """Shorter AS_PATH (RFC 4271 §9.1.2.2 a)."""
    ORIGIN = 7
    """Lower ORIGIN (RFC 4271 §9.1.2.2 b)."""
    MED = 8
    """Lower MULTI_EXIT_DISC between paths from the same neighbouring AS (RFC 4271 §9.1.2.2 c)."""
    EBGP = 9
    """A path from an eBGP peer beats one from an iBGP peer (RFC 4271 §9.1.2.2 d)."""
    ROUTER_ID = 10
    """Lower BGP Identifier, the ORIGINATOR_ID for reflected paths (RFC 4271 §9.1.2.2 f, RFC 4456 §9)."""
    CLUSTER_LIST = 11
    """Shorter CLUSTER_LIST (RFC 4456 §9)."""
    PEER_ADDRESS = 12
    """Lower peer address (RFC 4271 §9.1.2.2 g)."""

    @property
    def text(self) -> str:
        """The reason in words, as ``--routes`` output prints it."""
        return self.name.lower().replace("_", "-")


def sequence_newer(a: int, b: int) -> bool:
    """Whether MAC mobility sequence number ``a`` is newer than ``b`` (RFC 7432 §15.1).

    The 32-bit sequence number wraps: it is compared as a serial number (RFC 1982 §3.2),
    so 0 is newer than 4294967295.
    """
    return 0 < ((a - b) & _MASK) < _HALF


def _router_id(path: Path) -> int:
    originator = path.attributes.originator_id
    return path.source.router_id if originator is None else originator


def _vtep_order(next_hop: bytes) -> tuple[int, bytes]:
    return (len(next_hop), next_hop)


def compare(a: Path, b: Path) -> tuple[bool, Reason]:
    """Compare two paths for the same route: ``(a is better, the step that decided)``.

    Identical paths on every step compare as ``(False, PEER_ADDRESS)``.
    """
    pa, pb = a.attributes, b.attributes
    if isinstance(a.route, MacIpRoute):
        if pa.sticky != pb.sticky:
            return pa.sticky, Reason.STICKY
        if pa.sequence != pb.sequence:
            return sequence_newer(pa.sequence, pb.sequence), Reason.SEQUENCE
        if a.next_hop != b.next_hop:
            return _vtep_order(a.next_hop) < _vtep_order(b.next_hop), Reason.VTEP_ADDRESS
    if a.local_pref != b.local_pref:
        return a.local_pref > b.local_pref, Reason.LOCAL_PREF
    if a.source.is_local != b.source.is_local:
        return a.source.is_local, Reason.LOCAL
    if pa.as_path_length != pb.as_path_length:
        return pa.as_path_length < pb.as_path_length, Reason.AS_PATH
    if pa.origin != pb.origin:
        return pa.origin < pb.origin, Reason.ORIGIN
    if pa.neighbor_as == pb.neighbor_as and pa.med != pb.med:
        return pa.med < pb.med, Reason.MED
    if a.source.ibgp != b.source.ibgp:
        return not a.source.ibgp, Reason.EBGP
    ra, rb = _router_id(a), _router_id(b)
    if ra != rb:
        return ra < rb, Reason.ROUTER_ID
    if len(pa.cluster_list) != len(pb.cluster_list):
        return len(pa.cluster_list) < len(pb.cluster_list), Reason.CLUSTER_LIST
    return a.source.order < b.source.order, Reason.PEER_ADDRESS


def select(paths: Iterable[Path]) -> tuple[Path, Reason]:
    """The best of ``paths`` (at least one) and why it won (RFC 4271 §9.1.2).

    Paths are considered in source-address order, so the result does not depend on the
    order they arrived in.  The reason is the last step that eliminated a competitor: the
    one that decided against the runner-up.
    """
    ordered = sorted(paths, key=lambda p: p.source.order)
    best = ordered[0]
    for candidate in ordered[1:]:
        if compare(candidate, best)[0]:
            best = candidate
    reason = Reason.ONLY_PATH
    for other in ordered:
        if other is not best:
            reason = max(reason, compare(best, other)[1])
    return best, reason
