"""Adj-RIB-Out rules: whether a best path goes to a peer, and with which attributes.

RFC 4271 §9.2 and §5.1 for iBGP/eBGP, RFC 4456 §6 and §8 for route reflection.  The
next hop is never rewritten: for EVPN it is the VTEP that owns the MAC or prefix, and FRR
leaves it unchanged on eBGP too (RFC 7432 §7.2, RFC 8365 §5.1.3).
"""

from __future__ import annotations

from evpn.rib.paths import DEFAULT_LOCAL_PREF, Path, PathAttributes, Source
from evpn.wire.attributes import (
    AS_SEQUENCE,
    AsPath,
    AsPathSegment,
    Attribute,
    ClusterList,
    LocalPref,
    Origin,
    OriginatorId,
)
from evpn.wire.codes import AttrType

__all__ = ["advertises", "export_attributes"]


def advertises(path: Path, peer: Source) -> bool:
    """Whether ``path``, a best path, is advertised to ``peer`` (RFC 4271 §9.2, RFC 4456 §6).

    Never back to the peer it came from (as FRR).  A path learned over iBGP goes to iBGP
    peers only by reflection: from a client to every iBGP peer, from a non-client to
    clients only.  Local paths and eBGP-learned paths go to every peer.
    """
    source = path.source
    if source.address == peer.address:
        return False
    if source.is_local or not source.ibgp or not peer.ibgp:
        return True
    return source.rr_client or peer.rr_client


def export_attributes(
    attributes: PathAttributes, source: Source, peer: Source, *, asn: int, cluster_id: bytes
) -> tuple[Attribute, ...]:
    """The attributes of a path from ``source`` as sent to ``peer``, sorted by type code.

    * ORIGIN is added when missing (IGP); AS_PATH always present (RFC 4271 §5.1.1, §5.1.2).
    * To eBGP: our AS prepended, LOCAL_PREF removed (§5.1.5), MULTI_EXIT_DISC removed unless
      we originated the path (§5.1.4), ORIGINATOR_ID and CLUSTER_LIST removed (RFC 4456 §8).
    * To iBGP: LOCAL_PREF kept, or 100 when absent (§5.1.5); when reflecting an iBGP path,
      ORIGINATOR_ID set to the originating peer's router ID if absent and our cluster ID
      prepended to CLUSTER_LIST (RFC 4456 §8).
    """
    out: dict[int, Attribute] = {a.type_code: a for a in attributes.attributes}
    out.setdefault(AttrType.ORIGIN, Origin(0))
    path = out.get(AttrType.AS_PATH)
    segments = path.segments if isinstance(path, AsPath) else ()
    if not peer.ibgp:
        if segments and segments[0].type == AS_SEQUENCE and len(segments[0].asns) < 255:
            # Into the leading AS_SEQUENCE, a new one only when full (RFC 4271 §5.1.2 b).
            segments = (AsPathSegment(AS_SEQUENCE, (asn, *segments[0].asns)), *segments[1:])
        else:
            segments = (AsPathSegment(AS_SEQUENCE, (asn,)), *segments)
        for code in (AttrType.LOCAL_PREF, AttrType.ORIGINATOR_ID, AttrType.CLUSTER_LIST):
            out.pop(code, None)
        if not source.is_local:
            out.pop(AttrType.MULTI_EXIT_DISC, None)
    else:
        out.setdefault(AttrType.LOCAL_PREF, LocalPref(DEFAULT_LOCAL_PREF))
        if not source.is_local and source.ibgp:
            router_id = source.router_id.to_bytes(4, "big")
            out.setdefault(AttrType.ORIGINATOR_ID, OriginatorId(router_id))
            cluster = out.get(AttrType.CLUSTER_LIST)
            ids = cluster.cluster_ids if isinstance(cluster, ClusterList) else ()
            out[AttrType.CLUSTER_LIST] = ClusterList((cluster_id, *ids))
    out[AttrType.AS_PATH] = AsPath(segments)
    return tuple(out[code] for code in sorted(out))
