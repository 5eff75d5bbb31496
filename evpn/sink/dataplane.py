"""The trio side of a sink: translate the RIB's deltas, apply them in batches, reconcile once.

:class:`Dataplane` sits between the speaker and a :class:`~evpn.sink.base.Sink`.  The
speaker hands it deltas as they come (:meth:`Dataplane.push`, which never blocks); a task
applies the queued operations in batches, so a slow kernel delays the dataplane, not BGP.
Once every peer has finished its initial table transfer (End-of-RIB, RFC 4724 §2), or
:data:`RECONCILE_AFTER` seconds after start, the sink is reconciled with the whole desired
state: after a restart, entries of a previous run that no route justifies any more go, and
nothing is missing.

With a watcher (the netlink sink's :class:`~evpn.sink.netlink.NetlinkWatcher`, when
``[dataplane] learn`` is on) :meth:`Dataplane.learn` also reports what the kernel learns
locally (:mod:`evpn.sink.learn`), for the speaker to originate.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, Protocol

import attrs
import trio

from evpn.config import Config
from evpn.rib.deltas import Delta, MacChange, NeighborChange
from evpn.sink.base import OpError, Sink
from evpn.sink.learn import LearnedChange, Learner, LinkState, NeighborState
from evpn.sink.memory import MemorySink
from evpn.sink.ops import Op
from evpn.sink.translate import L2Devices, L3Devices, Translator

__all__ = ["RECONCILE_AFTER", "Dataplane", "DataplaneStatistics", "Watcher", "open_sink"]

log = logging.getLogger("evpn.sink")

RECONCILE_AFTER = 60.0
"""Seconds after start when the sink is reconciled even if some peer never sent End-of-RIB."""
_MAIN_TABLE = 254


@attrs.frozen
class DataplaneStatistics:
    """A snapshot of the dataplane's work."""

    entries: int
    """Entries the RIB's state calls for."""
    applied: int
    """Operations the sink carried out."""
    failed: int
    """Operations the sink refused (each is logged with the reason)."""
    pending: int
    """Operations waiting for the sink."""
    reconciled: bool
    """Whether the start-up reconciliation has run."""


class Watcher(Protocol):
    """What the kernel reports for local learning (:class:`~evpn.sink.netlink.NetlinkWatcher`)."""

    def changes(self) -> AsyncIterator[tuple[bool, list[LinkState | NeighborState]]]:
        """``(snapshot, records)``: a full dump (``snapshot`` true), then notifications."""
        ...


class Dataplane:
    """Feeds ``sink`` with the operations ``translator`` makes of the RIB's deltas, and
    reports what ``watcher`` (if any) learns locally."""

    def __init__(
        self, sink: Sink, translator: Translator, peers: Iterable[str], watcher: Watcher | None = None
    ) -> None:
        self.sink = sink
        self.translator = translator
        self.watcher = watcher
        """Where local MACs, neighbours and VNI devices are learned from, or ``None``."""
        self.learner: Learner | None = None
        """What :meth:`learn` knows of the kernel's local state (told of every remote MAC and
        neighbour pushed, which replaces a local one in the kernel)."""
        self._ops: list[Op] = []
        self._wake = trio.Event()
        self._waiting = set(peers)
        self._reconcile_due = not self._waiting
        if self._reconcile_due:
            self._wake.set()  # no peer to wait for
        self.reconciled = False
        self.applied = 0
        self.failed: list[OpError] = []
        """The most recent refused operations (at most 1000)."""
        self._failed_count = 0

    def push(self, deltas: Iterable[Delta]) -> None:
        """Queue the operations of ``deltas`` (never blocks)."""
        translate = self.translator.translate
        learner = self.learner
        before = len(self._ops)
        for delta in deltas:
            self._ops += translate(delta)
            if learner is not None and delta.new is not None:
                if isinstance(delta, MacChange):
                    learner.installed(delta.vni, delta.mac)
                elif isinstance(delta, NeighborChange):
                    learner.installed(delta.vni, delta.new.mac, delta.ip)
        if len(self._ops) != before:
            self._wake.set()

    def end_of_rib(self, peer: str) -> None:
        """``peer`` finished its initial transfer; reconcile once every peer has."""
        self._waiting.discard(peer)
        if not self._waiting and not self.reconciled:
            self._reconcile_due = True
            self._wake.set()

    def statistics(self) -> DataplaneStatistics:
        """How far the dataplane is."""
        return DataplaneStatistics(
            len(self.translator.entries), self.applied, self._failed_count, len(self._ops), self.reconciled
        )

    async def run(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Apply queued operations until cancelled; reconcile once (see the module)."""
        task_status.started()
        deadline = trio.current_time() + RECONCILE_AFTER
        while True:
            with trio.move_on_at(deadline if not self.reconciled else float("inf")):
                await self._wake.wait()
            self._wake = trio.Event()
            if not self.reconciled and (self._reconcile_due or trio.current_time() >= deadline):
                self._ops.clear()  # the reconciliation installs the whole desired state
                self._report(await self.sink.reconcile(dict(self.translator.entries)), "reconciling")
                self.reconciled = True
                log.info("dataplane reconciled: %d entries", len(self.translator.entries))
            while self._ops:
                batch, self._ops = self._ops, []
                errors = await self.sink.apply(batch)
                self.applied += len(batch) - len(errors)
                self._report(errors, "applying")

    async def learn(self, apply: Callable[[list[LearnedChange]], None]) -> None:
        """Until cancelled, call ``apply`` with the local routes to originate or withdraw as
        the watcher reports the kernel's bridges and neighbours (:class:`~evpn.sink.learn.Learner`
        over the translator's VNI devices).  Nothing to do without a watcher."""
        if self.watcher is None:
            return
        self.learner = learner = Learner(self.translator.vnis)
        async for snapshot, records in self.watcher.changes():
            if snapshot:
                learner.snapshot(
                    (r for r in records if isinstance(r, LinkState)),
                    (r for r in records if isinstance(r, NeighborState)),
                )
            else:
                for record in records:
                    if isinstance(record, LinkState):
                        learner.link(record)
                    else:
                        learner.neighbor(record)
            if changes := learner.take():
                apply(changes)

    def _report(self, errors: list[OpError], doing: str) -> None:
        for error in errors:
            log.warning("dataplane: %s %s %s failed: %s", doing, error.op.action.value, error.op.entry, error.reason)
        self._failed_count += len(errors)
        self.failed = (self.failed + errors)[-1000:]


async def open_sink(config: Config, sink: Sink | None = None) -> Dataplane | None:
    """The dataplane ``config``'s ``[dataplane]`` asks for, or ``None`` for ``sink = "none"``;
    with ``sink``, a dataplane feeding that sink whatever ``[dataplane] sink`` says.

    Device names the configuration leaves out are found in the kernel for the netlink sink
    (the VXLAN device with the VNI's ID and its bridge) and default to ``vxlanVNI`` and
    ``brVNI`` for the memory sink and for ``sink``; those need the table of a VRF device in
    the configuration (``vrfs[N].table``).
    """
    kind = "custom" if sink is not None else config.dataplane.sink
    if kind == "none":
        return None
    found: dict[int, L2Devices] = {}
    if kind == "netlink":
        from evpn.sink import netlink  # pyroute2 only where it is needed

        if config.dataplane.create_devices:
            from evpn.sink.devices import ensure_devices

            await trio.to_thread.run_sync(ensure_devices, config)
        netlink_sink = netlink.NetlinkSink()
        found = await netlink_sink.discover_l2_devices()
        sink = netlink_sink
    elif sink is None:
        sink = MemorySink()

    def l2(vni: int, vxlan: str | None, bridge: str | None) -> L2Devices | None:
        known = found.get(vni)
        vxlan = vxlan or (known.vxlan if known else None) or (None if kind == "netlink" else f"vxlan{vni}")
        bridge = bridge or (known.bridge if known else None) or (None if kind == "netlink" else f"br{vni}")
        if vxlan is None or bridge is None:
            log.warning("VNI %d: no VXLAN device/bridge found in the kernel: its routes are not programmed", vni)
            return None
        return L2Devices(vxlan, bridge)

    vnis = {v.vni: d for v in config.vnis if (d := l2(v.vni, v.vxlan, v.bridge)) is not None}
    vrfs: dict[str, L3Devices] = {}
    for vrf in config.vrfs:
        l3 = l2(vrf.l3vni, vrf.vxlan, vrf.bridge)
        if l3 is None:
            continue
        table = vrf.table or _MAIN_TABLE
        if vrf.vrf is not None and vrf.table is None and kind == "custom":
            raise ValueError(f"vrfs {vrf.name!r}: give the table of VRF device {vrf.vrf!r} (`table`) for {sink!r}")
        if vrf.vrf is not None and kind == "netlink":  # the other sinks have the table from the config
            table = await trio.to_thread.run_sync(netlink.vrf_table, vrf.vrf)
            if vrf.table is not None and vrf.table != table:
                raise ValueError(f"vrfs {vrf.name!r}: VRF device {vrf.vrf!r} has table {table}, not {vrf.table}")
        vrfs[vrf.name] = L3Devices(l3.vxlan, l3.bridge, table)
    if kind == "netlink":  # every configured VNI's devices, named or found: reconciling cleans them even when empty
        names = {name for d in vnis.values() for name in (d.vxlan, d.bridge)}
        names |= {name for d3 in vrfs.values() for name in (d3.vxlan, d3.bridge)}
        netlink_sink.managed_devices = tuple(sorted(names))
    watcher = netlink.NetlinkWatcher() if kind == "netlink" and config.dataplane.learn else None
    return Dataplane(sink, Translator(vnis, vrfs), (p.address for p in config.peers), watcher)
