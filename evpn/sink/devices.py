"""Create (or fix up) the devices the configuration names: bridges, VXLAN devices, VRF devices.

Optional (``[dataplane] create_devices = true``): without it the devices must exist already.
Each VNI (a broadcast domain, RFC 8365 §5.1) gets the single-VTEP topology of
``shared/notes/linux-dataplane.md`` (``docs/dataplane.md``, "Creating the devices")::

    vrf-t1 (vrf, table T)        only for a [[vrfs]] table with `vrf`
      ├─ br5000 (bridge, stp_state 0)
      │    └─ vxlan5000 (id 5000, ...)
      └─ br100 (bridge, stp_state 0)          in the VRF only when vnis[N].vrf names it
           └─ vxlan100 (id 100, local VTEP, dstport 4789, nolearning;
                        as a bridge port: learning off, neigh_suppress on)

* ``nolearning`` on the VXLAN device and ``learning off`` on its bridge port: remote MACs are
  learned in the control plane from type-2 routes (RFC 7432 §9), never from tunnel traffic;
* ``neigh_suppress on``: the bridge answers ARP/ND from the neighbour table that type-2 MAC+IP
  routes fill instead of flooding requests over the tunnel (ARP suppression, RFC 7432 §10);
* dstport 4789: the IANA VXLAN port (RFC 7348 §5).

The core is pure: :func:`plan` compares what the configuration asks for with a snapshot of the
kernel's devices (:class:`Link`) and returns the :class:`Change` list that closes the gap, or
raises :class:`DeviceError` when a device cannot be made right without deleting it (the wrong
kind, another VNI, local address or UDP port, a VRF with another table).  pyroute2 is used only
at the edge: :func:`read_links`, :func:`apply_changes` and :func:`ensure_devices`.  Nothing is
ever deleted, and devices the configuration does not name are never touched.
"""

from __future__ import annotations

import enum
import errno
import ipaddress
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Final, TypeVar

import attrs

from evpn.config import Config

__all__ = [
    "VXLAN_PORT",
    "Change",
    "ChangeAction",
    "DeviceError",
    "Link",
    "apply_changes",
    "ensure_devices",
    "plan",
    "read_links",
]

log = logging.getLogger("evpn.sink")

VXLAN_PORT: Final = 4789
"""The UDP destination port of the VXLAN devices (IANA, RFC 7348 §5)."""

T = TypeVar("T")

_BRIDGE, _VXLAN, _VRF = "bridge", "vxlan", "vrf"
_KIND_NAMES: Final = {_BRIDGE: "a bridge", _VXLAN: "a VXLAN device", _VRF: "a VRF device"}
_IFF_UP: Final = 1


class DeviceError(ValueError):
    """A device the configuration names cannot be made right without deleting it, or the
    configuration names one device in two incompatible ways.  The message names the device,
    the configuration key and both values."""


# --- the snapshot ---------------------------------------------------------------------------------


@attrs.frozen
class Link:
    """A network device as the kernel reports it (``RTM_NEWLINK``): what :func:`plan` compares."""

    name: str
    kind: str | None = None
    """``IFLA_INFO_KIND`` (``"bridge"``, ``"vxlan"``, ``"vrf"``, ``"veth"``...), ``None`` for a
    device without one (the loopback device, most physical ones)."""
    master: str | None = None
    """The name of its master (the bridge or VRF device it is enslaved to), or ``None``."""
    up: bool = False
    """Administratively up (``IFF_UP``)."""
    stp_state: int | None = None
    """A bridge's ``IFLA_BR_STP_STATE``."""
    vxlan_id: int | None = None
    """A VXLAN device's VNI (``IFLA_VXLAN_ID``)."""
    vxlan_local: str | None = None
    """A VXLAN device's local address (``IFLA_VXLAN_LOCAL`` or ``IFLA_VXLAN_LOCAL6``)."""
    vxlan_dstport: int | None = None
    """A VXLAN device's UDP destination port (``IFLA_VXLAN_PORT``)."""
    vxlan_learning: bool | None = None
    """Whether a VXLAN device learns remote MACs from received packets (``IFLA_VXLAN_LEARNING``)."""
    port_learning: bool | None = None
    """As a bridge port: whether the bridge learns MACs on it (``IFLA_BRPORT_LEARNING``)."""
    port_neigh_suppress: bool | None = None
    """As a bridge port: ARP/ND suppression (``IFLA_BRPORT_NEIGH_SUPPRESS``)."""
    vrf_table: int | None = None
    """A VRF device's routing table (``IFLA_VRF_TABLE``)."""


# --- the changes ----------------------------------------------------------------------------------


class ChangeAction(enum.Enum):
    """What a :class:`Change` does, in the order :func:`plan` lists them."""

    CREATE = "create"
    """Add the device (``ip link add``) with :attr:`Change.settings`."""
    CONFIGURE = "configure"
    """Change kind-specific settings of an existing device (``ip link set DEV type KIND ...``)."""
    MASTER = "master"
    """Enslave the device (``ip link set DEV master M``)."""
    PORT = "port"
    """Set bridge port flags (``bridge link set dev DEV ...``)."""
    UP = "up"
    """``ip link set DEV up``."""


Setting = tuple[str, int | str | bool]


@attrs.frozen
class Change:
    """One change to one device; ``str()`` says it as a person would (``describe()``).

    ``settings`` are (name, value) pairs: ``stp_state``; ``vni``, ``local``, ``dstport``,
    ``learning`` (of a VXLAN device); ``table``; ``master``; ``learning``, ``neigh_suppress``
    (of a bridge port).
    """

    action: ChangeAction
    device: str
    kind: str
    """The kind of the device: ``"bridge"``, ``"vxlan"`` or ``"vrf"``."""
    settings: tuple[Setting, ...] = ()

    def setting(self, name: str) -> int | str | bool | None:
        """The value of setting ``name``, or ``None``."""
        return dict(self.settings).get(name)

    def describe(self) -> str:
        """Like ``create vxlan100 (VXLAN 100, local 198.18.0.1, dstport 4789, nolearning)``."""
        values = dict(self.settings)
        if self.action is ChangeAction.CREATE:
            if self.kind == _VXLAN:
                what = f"VXLAN {values['vni']}, local {values['local']}, dstport {values['dstport']}, nolearning"
            elif self.kind == _VRF:
                what = f"VRF, table {values['table']}"
            else:
                what = f"bridge, stp_state {values['stp_state']}"
            return f"create {self.device} ({what})"
        if self.action is ChangeAction.CONFIGURE:
            words = [_ip_link_word(name, value) for name, value in self.settings]
            return f"set {self.device} type {self.kind} {' '.join(words)}"
        if self.action is ChangeAction.MASTER:
            return f"set {self.device} master {values['master']}"
        if self.action is ChangeAction.PORT:
            flags = (f"{name} {'on' if value else 'off'}" for name, value in self.settings)
            return f"set {self.device} {' '.join(flags)}"
        return f"set {self.device} up"

    def __str__(self) -> str:
        return self.describe()


def _ip_link_word(name: str, value: int | str | bool) -> str:
    if name == "learning":
        return "learning" if value else "nolearning"
    return f"{name} {value}"


# --- what the configuration asks for --------------------------------------------------------------


@attrs.frozen
class _Want:
    """A device as the configuration asks for it; ``None`` fields are left as they are."""

    name: str
    kind: str
    key: str
    """The configuration key naming it (``vnis[0].bridge``, or ``vnis[0]`` for a default name)."""
    master: str | None = None
    master_key: str = ""
    vni: int | None = None
    vni_key: str = ""
    local: str | None = None
    local_key: str = ""
    table: int | None = None
    table_key: str = ""


def _wanted(config: Config) -> dict[str, _Want]:
    """The devices ``config`` names, by name, in order; DeviceError if it names one two ways."""
    wants: dict[str, _Want] = {}
    for want in _each_want(config):
        old = wants.get(want.name)
        wants[want.name] = want if old is None else _merge(old, want)
    return wants


def _each_want(config: Config) -> Iterator[_Want]:
    vrf_devices = {vrf.name: vrf.vrf for vrf in config.vrfs}
    for index, vni in enumerate(config.vnis):
        base = f"vnis[{index}]"
        # An L2 VNI routed through a VRF (symmetric IRB, RFC 9135): its bridge, the SVI, is in the VRF.
        vrf_device = vrf_devices.get(vni.vrf) if vni.vrf is not None else None
        yield from _vni_devices(
            base, f"{base}.vni", vni.vni, vni.bridge, vni.vxlan,
            local=(vni.vtep, f"{base}.vtep"), vrf=(vrf_device, f"{base}.vrf"),
        )  # fmt: skip
    for index, vrf in enumerate(config.vrfs):
        base = f"vrfs[{index}]"
        if vrf.vrf is not None:
            yield _Want(vrf.vrf, _VRF, f"{base}.vrf", table=vrf.table, table_key=f"{base}.table")
        local = (vrf.vtep, f"{base}.vtep") if vrf.vtep is not None else (config.speaker.router_id, "speaker.router_id")
        yield from _vni_devices(
            base, f"{base}.l3vni", vrf.l3vni, vrf.bridge, vrf.vxlan,
            local=local, vrf=(vrf.vrf, f"{base}.vrf"),
        )  # fmt: skip


def _vni_devices(
    base: str,
    vni_key: str,
    vni: int,
    bridge: str | None,
    vxlan: str | None,
    *,
    local: tuple[str, str],
    vrf: tuple[str | None, str],
) -> tuple[_Want, _Want]:
    """A VNI's bridge (in VRF device ``vrf``, if any) and VXLAN device (in the bridge), named as
    configured or ``br{vni}`` / ``vxlan{vni}``; ``local`` and ``vrf`` are (value, key) pairs."""
    bridge_name, bridge_key = (bridge, f"{base}.bridge") if bridge is not None else (f"br{vni}", base)
    vxlan_name, vxlan_key = (vxlan, f"{base}.vxlan") if vxlan is not None else (f"vxlan{vni}", base)
    return (
        _Want(bridge_name, _BRIDGE, bridge_key, master=vrf[0], master_key=vrf[1]),
        _Want(
            vxlan_name, _VXLAN, vxlan_key, master=bridge_name, master_key=bridge_key,
            vni=vni, vni_key=vni_key, local=local[0], local_key=local[1],
        ),
    )  # fmt: skip


def _merge(old: _Want, new: _Want) -> _Want:
    """One device named twice: the two must agree (``None`` agrees with anything)."""
    if old.kind != new.kind:
        raise DeviceError(
            f"{new.name} is {_KIND_NAMES[old.kind]} for {old.key} but {_KIND_NAMES[new.kind]} for {new.key}"
        )
    for label, mine, theirs, old_key, new_key in (
        ("VNI", old.vni, new.vni, old.vni_key, new.vni_key),
        ("local address", old.local, new.local, old.local_key, new.local_key),
        ("table", old.table, new.table, old.table_key, new.table_key),
        ("master", old.master, new.master, old.master_key, new.master_key),
    ):
        if mine is not None and theirs is not None and mine != theirs:
            raise DeviceError(f"{new.name} is named twice, with {label} {mine} ({old_key}) and {theirs} ({new_key})")
    if old.master is None and new.master is not None:
        old = attrs.evolve(old, master=new.master, master_key=new.master_key)
    if old.table is None and new.table is not None:
        old = attrs.evolve(old, table=new.table, table_key=new.table_key)
    return old


# --- the plan -------------------------------------------------------------------------------------


def plan(config: Config, links: Mapping[str, Link]) -> list[Change]:
    """The changes that give the kernel (``links``, by name) the devices ``config`` names.

    In order: VRF devices, then bridges, then VXLAN devices are created or configured; then
    masters and bridge port flags; then the devices are set up.  Nothing when the kernel already
    matches.  Raises :class:`DeviceError`, before any change, when a device has the wrong kind,
    a VXLAN device another VNI, local address or port, a VRF device another table, or a VRF
    device is missing and its table is not configured.
    """
    wants = _wanted(config)
    ordered = [want for kind in (_VRF, _BRIDGE, _VXLAN) for want in wants.values() if want.kind == kind]
    for want in ordered:
        if want.name in links:
            _check(want, links[want.name])
    devices: list[Change] = []
    masters: list[Change] = []
    ups: list[Change] = []
    for want in ordered:
        link = links.get(want.name)
        devices += _create_or_configure(want, link)
        masters += _master_and_port(want, link)
        if link is None or not link.up:
            ups.append(Change(ChangeAction.UP, want.name, want.kind))
    return devices + masters + ups


def _check(want: _Want, link: Link) -> None:
    """DeviceError unless ``link`` can be made what ``want`` asks for without deleting it."""
    where = f"{want.name} ({want.key})"
    if link.kind != want.kind:
        have = f"a {link.kind} device" if link.kind else "a device of no kind (physical or loopback)"
        raise DeviceError(f"{where}: must be {_KIND_NAMES[want.kind]}, but the kernel's {want.name} is {have}")
    if want.kind == _VXLAN:
        if link.vxlan_id != want.vni:
            raise DeviceError(
                f"{where}: the kernel's {want.name} has VNI {link.vxlan_id}, but {want.vni_key} is {want.vni}"
            )
        if not _same_address(link.vxlan_local, want.local):
            raise DeviceError(
                f"{where}: the kernel's {want.name} has local address {link.vxlan_local}, "
                f"but the VTEP address ({want.local_key}) is {want.local}"
            )
        if link.vxlan_dstport != VXLAN_PORT:
            raise DeviceError(
                f"{where}: the kernel's {want.name} has dstport {link.vxlan_dstport}, "
                f"but EVPN's VXLAN needs dstport {VXLAN_PORT} (RFC 7348 §5)"
            )
    if want.kind == _VRF and want.table is not None and link.vrf_table != want.table:
        raise DeviceError(
            f"{where}: the kernel's {want.name} has table {link.vrf_table}, but {want.table_key} is {want.table}"
        )


def _same_address(have: str | None, want: str | None) -> bool:
    if have is None or want is None:
        return have == want
    return ipaddress.ip_address(have) == ipaddress.ip_address(want)


def _create_or_configure(want: _Want, link: Link | None) -> list[Change]:
    settings: tuple[Setting, ...]
    if link is None:
        if want.kind == _VRF:
            if want.table is None:
                raise DeviceError(
                    f"{want.name} ({want.key}): there is no such VRF device and it cannot be created "
                    f"without a table: set {want.table_key}"
                )
            settings = (("table", want.table),)
        elif want.kind == _VXLAN:
            assert want.vni is not None and want.local is not None
            settings = (("vni", want.vni), ("local", want.local), ("dstport", VXLAN_PORT), ("learning", False))
        else:
            settings = (("stp_state", 0),)
        return [Change(ChangeAction.CREATE, want.name, want.kind, settings)]
    if want.kind == _BRIDGE and link.stp_state != 0:
        return [Change(ChangeAction.CONFIGURE, want.name, want.kind, (("stp_state", 0),))]
    if want.kind == _VXLAN and link.vxlan_learning is not False:
        return [Change(ChangeAction.CONFIGURE, want.name, want.kind, (("learning", False),))]
    return []


def _master_and_port(want: _Want, link: Link | None) -> list[Change]:
    changes: list[Change] = []
    moved = want.master is not None and (link is None or link.master != want.master)
    if want.master is not None and moved:
        changes.append(Change(ChangeAction.MASTER, want.name, want.kind, (("master", want.master),)))
    if want.kind == _VXLAN:
        # A new bridge port starts with the kernel's defaults: learning on, neigh_suppress off.
        port: list[Setting] = []
        if link is None or moved or link.port_neigh_suppress is not True:
            port.append(("neigh_suppress", True))
        if link is None or moved or link.port_learning is not False:
            port.append(("learning", False))
        if port:
            changes.append(Change(ChangeAction.PORT, want.name, want.kind, tuple(port)))
    return changes


# --- the edge: pyroute2 ---------------------------------------------------------------------------


def read_links(ipr: Any) -> dict[str, Link]:
    """A snapshot of every device that pyroute2 ``IPRoute`` ``ipr`` sees, by name."""
    messages = list(ipr.link("dump"))
    names = {msg["index"]: msg.get_attr("IFLA_IFNAME") for msg in messages}
    links = (_link(msg, names) for msg in messages)
    return {link.name: link for link in links}


def _link(msg: Any, names: Mapping[int, str]) -> Link:
    info = msg.get_attr("IFLA_LINKINFO")
    kind = info.get_attr("IFLA_INFO_KIND") if info is not None else None
    data = info.get_attr("IFLA_INFO_DATA") if info is not None else None
    port = None
    if info is not None and info.get_attr("IFLA_INFO_SLAVE_KIND") == _BRIDGE:
        port = info.get_attr("IFLA_INFO_SLAVE_DATA")

    def get(nla: Any, name: str) -> Any:
        return nla.get_attr(name) if nla is not None else None

    def flag(nla: Any, name: str) -> bool | None:
        value = get(nla, name)
        return None if value is None else bool(value)

    vxlan = data if kind == _VXLAN else None
    return Link(
        name=msg.get_attr("IFLA_IFNAME"),
        kind=kind,
        master=names.get(msg.get_attr("IFLA_MASTER") or 0),
        up=bool(msg["flags"] & _IFF_UP),
        stp_state=get(data, "IFLA_BR_STP_STATE") if kind == _BRIDGE else None,
        vxlan_id=get(vxlan, "IFLA_VXLAN_ID"),
        vxlan_local=get(vxlan, "IFLA_VXLAN_LOCAL") or get(vxlan, "IFLA_VXLAN_LOCAL6"),
        vxlan_dstport=get(vxlan, "IFLA_VXLAN_PORT"),
        vxlan_learning=flag(vxlan, "IFLA_VXLAN_LEARNING"),
        port_learning=flag(port, "IFLA_BRPORT_LEARNING"),
        port_neigh_suppress=flag(port, "IFLA_BRPORT_NEIGH_SUPPRESS"),
        vrf_table=get(data, "IFLA_VRF_TABLE") if kind == _VRF else None,
    )


def apply_changes(ipr: Any, changes: Iterable[Change]) -> list[str]:
    """Carry out ``changes`` in order with pyroute2 ``IPRoute`` ``ipr``; the description of each,
    also logged at INFO.  The first one the kernel refuses raises OSError naming it (those
    before it stay done)."""
    from pyroute2.netlink.exceptions import NetlinkError

    done: list[str] = []
    for change in changes:
        try:
            _apply(ipr, change)
        except NetlinkError as exc:
            why = exc.args[1] if len(exc.args) > 1 else os.strerror(exc.code)  # the kernel's words, if any
            raise OSError(exc.code, f"cannot {change}: {why}") from exc
        log.info("devices: %s", change)
        done.append(str(change))
    return done


def _apply(ipr: Any, change: Change) -> None:
    values = dict(change.settings)
    if change.action is ChangeAction.CREATE:
        ipr.link("add", ifname=change.device, kind=change.kind, **_kind_settings(change.kind, values))
        return
    index = _index(ipr, change.device)
    if change.action is ChangeAction.CONFIGURE:
        ipr.link("set", index=index, kind=change.kind, **_kind_settings(change.kind, values))
    elif change.action is ChangeAction.MASTER:
        ipr.link("set", index=index, master=_index(ipr, str(values["master"])))
    elif change.action is ChangeAction.PORT:
        ipr.brport("set", index=index, **{name: int(bool(value)) for name, value in values.items()})
    else:
        ipr.link("set", index=index, state="up")


def _kind_settings(kind: str, values: Mapping[str, int | str | bool]) -> dict[str, int | str]:
    """Our settings as pyroute2's IFLA_INFO_DATA keywords."""
    out: dict[str, int | str] = {}
    for name, value in values.items():
        if kind == _BRIDGE and name == "stp_state":
            out["br_stp_state"] = int(value)
        elif kind == _VRF and name == "table":
            out["vrf_table"] = int(value)
        elif kind == _VXLAN and name == "vni":
            out["vxlan_id"] = int(value)
        elif kind == _VXLAN and name == "local":
            out["vxlan_local6" if ":" in str(value) else "vxlan_local"] = str(value)
        elif kind == _VXLAN and name == "dstport":
            out["vxlan_port"] = int(value)
        elif kind == _VXLAN and name == "learning":
            out["vxlan_learning"] = int(bool(value))
        else:
            raise ValueError(f"no such {kind} setting: {name}")
    return out


def _index(ipr: Any, name: str) -> int:
    found: Sequence[int] = ipr.link_lookup(ifname=name)
    if not found:
        raise OSError(errno.ENODEV, f"no device {name!r}")
    return found[0]


def ensure_devices(config: Config, *, netns: str | None = None) -> list[str]:
    """Create or fix up the bridges, VXLAN devices and VRF devices ``config`` names, in network
    namespace ``netns`` (an ``ip netns`` name or path; ``None``: the current one, never created).

    Returns the description of each change made (``[]`` when everything was right already),
    each also logged at INFO on logger ``evpn.sink``.  Raises :class:`DeviceError` before any
    change when a device is in the way (see :func:`plan`), OSError when the kernel refuses one.
    Blocking: call it from a thread (``trio.to_thread.run_sync``).  It does not look at
    ``config.dataplane.create_devices``: the caller does.
    """
    return _in_namespace(netns, lambda: _ensure(config))


def _ensure(config: Config) -> list[str]:
    from pyroute2 import IPRoute

    with IPRoute(ext_ack=True) as ipr:
        return apply_changes(ipr, plan(config, read_links(ipr)))


def _in_namespace(netns: str | None, job: Callable[[], T]) -> T:
    """``job()`` in network namespace ``netns``: run by a short-lived thread that enters it, as
    :mod:`evpn.sink.netlink` does, so no thread of the caller's ever changes namespace."""
    if netns is None:
        return job()
    from pyroute2 import netns as pr_netns

    results: list[T] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            pr_netns.setns(netns, flags=0)  # flags=0: never create it
        except BaseException as exc:
            failed.append(OSError(f"cannot enter network namespace {netns!r}: {exc}"))
            return
        try:
            results.append(job())
        except BaseException as exc:
            failed.append(exc)

    thread = threading.Thread(target=run, name=f"evpn-devices-{netns}", daemon=True)
    thread.start()
    thread.join()
    if failed:
        raise failed[0]
    return results[0]
