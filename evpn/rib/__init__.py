"""The EVPN RIB: paths, the decision process, VNI/VRF import, export rules and deltas.

Pure and synchronous, like the codec and the session: the speaker feeds it and takes
its output.  See ``docs/rib.md``.
"""

from evpn.rib.bestpath import Reason, compare, select, sequence_newer
from evpn.rib.deltas import (
    Delta,
    FloodChange,
    FloodEntry,
    MacChange,
    Neighbor,
    NeighborChange,
    PrefixChange,
    RemoteMac,
    VrfNextHop,
    VrfRoute,
)
from evpn.rib.export import advertises, export_attributes
from evpn.rib.paths import DEFAULT_LOCAL_PREF, Path, PathAttributes, Source, new_path, path_attributes, route_key
from evpn.rib.rib import Family, Rib, family_of
from evpn.rib.tables import IpVrf, MacVrf

__all__ = [
    "DEFAULT_LOCAL_PREF",
    "Delta",
    "Family",
    "FloodChange",
    "FloodEntry",
    "IpVrf",
    "MacChange",
    "MacVrf",
    "Neighbor",
    "NeighborChange",
    "Path",
    "PathAttributes",
    "PrefixChange",
    "Reason",
    "RemoteMac",
    "Rib",
    "Source",
    "VrfNextHop",
    "VrfRoute",
    "advertises",
    "compare",
    "export_attributes",
    "family_of",
    "new_path",
    "path_attributes",
    "route_key",
    "select",
    "sequence_newer",
]
