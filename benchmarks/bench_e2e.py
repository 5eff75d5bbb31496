"""End-to-end dataplane benchmark: from the first UPDATE octet to the last kernel entry, evpn against FRR 8.4 zebra.

Run from the repository root, as root, with FRR and pyroute2 installed::

    python benchmarks/bench_e2e.py [--macs 100000] [--neighbors 10000] [--vteps 32] [--shared-macs]
        [--skip-frr] [--skip-evpn] [--repeats N] [--json FILE|-] [--profile] [--monitor-rcvbuf OCTETS]

Without root (network namespaces), without pyroute2 (evpn's netlink sink) or without FRR's
zebra, bgpd and vtysh (unless ``--skip-frr``) it says why and exits 0.  It also exits 0 when
evpn is slower; only a broken measurement (a missing or wrong kernel entry, a process that
died, a timeout) is an error.

**Workload.**  ``--macs`` EVPN MAC-only type-2 routes (RFC 7432 §7.2, IP Address Length 0) and
``--neighbors`` MAC+IPv4 type-2 routes, for *distinct* MACs by default (so the kernel gets
``macs + neighbors`` FDB entries and ``neighbors`` neighbour entries), or with
``--shared-macs`` for the first ``--neighbors`` of the MAC-only MACs (``macs`` FDB entries).
MACs are distinct pseudo-random locally administered addresses and the hosts distinct
pseudo-random addresses of 198.19.0.0/16 (never 198.19.0.1, the SVI's), from a fixed seed.
MAC *i* is behind VTEP ``198.18.1.(1 + i mod --vteps)``.  The UPDATEs are encoded once,
before anything is timed, by :func:`make_updates.encode_type2_update`: up to 90 routes of one
VTEP and one kind per UPDATE, ORIGIN IGP, AS_PATH ``4200000100 42000000nn``, route target
``65000:100`` and the VXLAN encapsulation community, next hop and RD administrator the VTEP
(RD ``VTEP:100``), Label1 = VNI 100.  The UPDATEs take turns among the VTEPs, and the
MAC+IP ones are spread evenly among the MAC-only ones.  Every receiver gets the same bytes.

**Topology.**  Each run gets two fresh network namespaces (``evpnbench-PID-N``) joined by a
veth: the receiver (198.18.0.1/24) and the sender (198.18.0.2/24).  The receiver has
``br100`` (the SVI, 198.19.0.1/16, up) with ``vxlan100`` as a port (VNI 100, local
198.18.0.1, dstport 4789, nolearning; ``neigh_suppress on learning off`` on the port), and
a route to the VTEPs' 198.18.1.0/24 over the veth, so that FRR finds the next hops
reachable.  IPv6 is off in both namespaces (nothing is sent anywhere).  The sender
(``ingest_peers.py send``, eBGP from AS 4200000100 to AS 65000) connects, exchanges OPEN
and KEEPALIVE, then writes all the UPDATEs and an End-of-RIB for L2VPN/EVPN as fast as the
receiver reads them.  Receivers:

* **evpn**: our speaker as its own process (``bench_e2e.py _speaker``, which is
  ``ingest_peers.py speaker``, i.e. :func:`evpn.open_speaker`, plus the timing hooks below),
  from a TOML file: one passive ``l2vpn-evpn`` peer, ``[[vnis]] vni = 100`` (VTEP 198.18.0.1,
  import target ``65000:100``, ``vxlan100``/``br100``), ``[dataplane] sink = "netlink"`` (local learning on, the
  default, as zebra learns too).  Its dataplane reconciles once, after the peer's End-of-RIB (on the clock
  only as far as the last entries wait for it);
* **FRR**: zebra 8.4 (``-s 90000000``) and bgpd 8.4 (``frr defaults datacenter``, the peer
  passive, ``no bgp default ipv4-unicast``, timers 30/90, ``address-family l2vpn evpn``
  with ``advertise-all-vni`` and ``vni 100`` / ``route-target import 65000:100``), started
  and given time to know VNI 100 before the sender connects.

**Clock.**  It starts just before the sender writes the first UPDATE octet (``time.time()``
in the sender) and stops when the receiver's kernel holds every entry: the MACs on
``vxlan100`` (the VXLAN device's own entry, ``NTF_SELF``, marked ``extern_learn``, with a
destination; both implementations also put an ``extern_learn`` twin on the bridge, which is
not counted) and the neighbours on ``br100`` (``extern_learn``).  A monitor process in the
receiver namespace (``bench_e2e.py _monitor``) listens to ``RTMGRP_NEIGH`` on a netlink
socket with a large receive buffer (``SO_RCVBUFFORCE``, 256 MiB) and a socket filter that
drops the bridge twins in the kernel; it counts distinct MACs and IPs added (minus those
deleted) and takes ``time.time()`` when the last one arrives (and at every 5% of the
entries: progress marks, in the JSON).  It runs at nice -10, so that it sees entries when they
land rather than when the installers leave it a CPU.  Nothing dumps the tables while the
clock runs.  If the monitor's socket overflows anyway (``ENOBUFS``), it falls back to
a full dump every second, and the output says so: the time is then that of the first dump that
found everything, and the JSON has the earlier bound.  After the clock stops, one dump
(``bridge -j fdb show dev vxlan100``, ``ip -j neigh show dev br100``) checks every entry: the
right VTEP for every MAC, the right MAC for every neighbour, ``extern_learn``, nothing missing.

Reported per implementation: seconds (first UPDATE octet to last kernel entry), kernel entries
per second (FDB + neighbour entries), routes per second, and evpn's rate ÷ FRR's (above 1:
evpn is faster).  Also the time to the first kernel entry, the CPU time of the receiver's
processes (and of each of their threads), and for evpn when its End-of-RIB event came and how
many entries the kernel held then.

**Where evpn's time goes.**  The speaker process wraps (at run time, without changing evpn)
:meth:`evpn.sink.dataplane.Dataplane.push` (translating the RIB's deltas into kernel
operations, on the trio thread), and the netlink worker thread's ``apply``, ``reconcile`` and
the kernel dump inside it, timing each with ``perf_counter`` and ``thread_time``; a few
hundred calls, microseconds in all.  The report shows that timeline for the best evpn run.
``--profile`` then runs evpn once more with the sampling profiler of ``ingest_peers.py`` on the
trio thread, from PeerUp until the kernel is complete.

**Noise.**  The machine may be shared: :class:`bench_ingest.CpuWatch` measures how many CPUs
other processes kept busy during each run.  With ``--repeats`` the runs take turns (evpn,
FRR, evpn, ...) and the fastest of the runs that others left alone counts; the report warns
when even that one was disturbed.  The monitor's own CPU time is reported too: it takes the
same share from both implementations.

Rules (``shared/notes/interop-lab.md``): only namespaces created here; only 198.18.0.0/15
(underlay) and 198.19.0.0/16 (hosts) addresses, assigned inside them; every process is
started here and stopped here by its PID, and namespaces, processes and files are removed in
``finally`` blocks (also on SIGTERM and Ctrl-C).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import errno
import ipaddress
import json
import os
import platform
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import IO, Any

# benchmarks/ is on sys.path when this runs as a script.
from bench_ingest import NOISE, Child, CpuWatch, Namespace, cpu_busy, cpu_of, evpn_source, stop_process
from make_updates import LOCAL_AS, PEER_AS, RT_AS, encode_type2_update, leaf_as

HERE = Path(__file__).resolve().parent
THIS = Path(__file__).resolve()
PEERS_PROGRAM = HERE / "ingest_peers.py"

IP = shutil.which("ip") or "/usr/sbin/ip"
BRIDGE = shutil.which("bridge") or "/usr/sbin/bridge"
FRR_DIR = Path("/usr/lib/frr")
ZEBRA = FRR_DIR / "zebra"
BGPD = FRR_DIR / "bgpd"
VTYSH = shutil.which("vtysh") or "/usr/bin/vtysh"
FRR_RUN_DIR = Path("/var/run/frr")

VNI = 100
VXLAN, BRIDGE_DEV = f"vxlan{VNI}", f"br{VNI}"
RECEIVER = "198.18.0.1"
SENDER = "198.18.0.2"
VTEP_NET = "198.18.1.0/24"
SVI = "198.19.0.1/16"
ROUTE_TARGET = f"{RT_AS}:{VNI}"
"""The route target of every route, and the receivers' import target (65000:100)."""
ROUTES_PER_UPDATE = 90
MONITOR_RCVBUF = 256 * 1024 * 1024
MONITOR_NICE = -10
"""The monitor's nice value (it must see entries as they land, not when the installers leave it a CPU)."""
PROGRESS_STEPS = 20
"""The monitor notes the time whenever another 1/PROGRESS_STEPS of the entries is in the kernel."""
DUMP_INTERVAL = 1.0
"""Seconds between the monitor's fallback dumps (only after an overflow)."""
EVPN, FRR = "evpn", "FRR 8.4 zebra"

HOOKS = (
    "Dataplane.push", "_Rtnl.apply", "_Rtnl.owned", "_Rtnl.reconcile", "NetlinkSink.apply", "NetlinkSink.reconcile",
)  # fmt: skip
"""What the speaker process times (see :func:`run_speaker`)."""

# Netlink values.
_RTMGRP_NEIGH = 4
_RTM_NEWNEIGH, _RTM_DELNEIGH, _RTM_GETNEIGH = 28, 29, 30
_NLMSG_ERROR, _NLMSG_DONE = 2, 3
_NLM_F_REQUEST, _NLM_F_DUMP = 1, 0x300
_NTF_SELF, _NTF_EXT_LEARNED = 0x02, 0x10
_NDA_DST, _NDA_LLADDR = 1, 2
_SO_RCVBUFFORCE = 33
_SO_ATTACH_FILTER = 26
_HDR = struct.Struct("=IHHII")
_NDMSG = struct.Struct("=BxxxiHBB")
_NLA = struct.Struct("=HH")
_ZERO_MAC = bytes(6)
_FDB_FAST = struct.Struct("=HH6s2xHH4s")  # NDA_LLADDR (10), then NDA_DST (8, IPv4)
_NEIGH_FAST = struct.Struct("=HH4sHH6s")  # NDA_DST (8, IPv4), then NDA_LLADDR (10)


def emit(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


# --- workload ------------------------------------------------------------------------------------


@dataclass
class Workload:
    """The UPDATEs and the kernel state they must produce."""

    path: Path
    octets: int
    updates: int
    routes: int
    fdb: dict[bytes, bytes]
    """MAC -> VTEP (4 octets): the FDB entries expected on vxlan100."""
    neighbors: dict[bytes, bytes]
    """IPv4 address -> MAC: the neighbour entries expected on br100."""

    @property
    def entries(self) -> int:
        return len(self.fdb) + len(self.neighbors)


def vtep_address(index: int) -> str:
    return f"198.18.1.{1 + index}"


def build_workload(directory: Path, macs: int, neighbors: int, vteps: int, *, shared: bool, seed: int = 1) -> Workload:
    """Plan the routes (see the module docstring), encode the UPDATEs and write them to a file."""
    rng = random.Random(seed)
    prefix = 0x02 << 40 | rng.getrandbits(8) << 32  # locally administered unicast
    n_macs = macs if shared else macs + neighbors
    all_macs = [(prefix | value).to_bytes(6, "big") for value in rng.sample(range(1 << 32), n_macs)]
    hosts = [bytes((198, 19, value >> 8, value & 255)) for value in rng.sample(range(2, 65535), neighbors)]
    ip_macs = all_macs[:neighbors] if shared else all_macs[macs:]
    vtep_of = {mac: i % vteps for i, mac in enumerate(all_macs)}
    # Per VTEP: the MAC-only routes, then the MAC+IP routes, in UPDATEs of one kind.
    plain: list[list[tuple[bytes, bytes]]] = [[] for _ in range(vteps)]
    with_ip: list[list[tuple[bytes, bytes]]] = [[] for _ in range(vteps)]
    for mac in all_macs[:macs]:
        plain[vtep_of[mac]].append((mac, b""))
    for mac, ip in zip(ip_macs, hosts, strict=True):
        with_ip[vtep_of[mac]].append((mac, ip))

    def updates(per_vtep: list[list[tuple[bytes, bytes]]]) -> list[bytes]:
        chunks = [
            [(v, routes[start : start + ROUTES_PER_UPDATE]) for start in range(0, len(routes), ROUTES_PER_UPDATE)]
            for v, routes in enumerate(per_vtep)
        ]
        out = []
        for round_ in range(max((len(c) for c in chunks), default=0)):  # the VTEPs take turns
            for vtep_chunks in chunks:
                if round_ < len(vtep_chunks):
                    v, hosts_ = vtep_chunks[round_]
                    out.append(encode_type2_update(vtep_address(v), VNI, VNI, hosts_, leaf_as(v)))
        return out

    first, second = updates(plain), updates(with_ip)
    # Spread the MAC+IP UPDATEs evenly among the MAC-only ones.
    ordered = sorted(
        [((i + 0.5) / len(first), 0, m) for i, m in enumerate(first)]
        + [((i + 0.5) / len(second), 1, m) for i, m in enumerate(second)]
    )
    messages = [m for _, _, m in ordered]
    data = b"".join(messages)
    path = directory / "e2e-updates.bin"
    path.write_bytes(data)
    return Workload(
        path=path,
        octets=len(data),
        updates=len(messages),
        routes=macs + neighbors,
        fdb={mac: ipaddress.IPv4Address(vtep_address(v)).packed for mac, v in vtep_of.items()},
        neighbors=dict(zip(hosts, ip_macs, strict=True)),
    )


# --- the monitor (runs inside the receiver namespace) --------------------------------------------


def _attributes(data: bytes, position: int, end: int) -> dict[int, bytes]:
    out = {}
    while position + 4 <= end:
        length, kind = _NLA.unpack_from(data, position)
        if length < 4:
            break
        out[kind & 0x3FFF] = data[position + 4 : position + length]
        position += (length + 3) & ~3
    return out


def _neigh_filter() -> tuple[bytes, Any]:
    """A classic BPF socket filter that drops bridge-side FDB notifications (``AF_BRIDGE``
    without ``NTF_SELF``: the twin every remote MAC also gets on the bridge) in the kernel, so the
    monitor reads half as many messages.  Returns the ``sock_fprog`` and the buffer it points to."""
    program = [
        (0x30, 0, 0, 16),  # ldb [16]: ndm_family
        (0x15, 0, 2, socket.AF_BRIDGE),  # jeq AF_BRIDGE ? next : accept
        (0x30, 0, 0, 26),  # ldb [26]: ndm_flags
        (0x45, 0, 1, _NTF_SELF),  # jset NTF_SELF ? accept : drop
        (0x06, 0, 0, 0x40000),  # accept
        (0x06, 0, 0, 0),  # drop
    ]
    code = ctypes.create_string_buffer(b"".join(struct.pack("=HBBI", *insn) for insn in program))
    return struct.pack("=HxxxxxxQ", len(program), ctypes.addressof(code)), code


class Counter:
    """Distinct remote MACs (VXLAN side, ``extern_learn``, with a destination) on the VXLAN device
    and ``extern_learn`` neighbours on the bridge, from notifications or dumps."""

    def __init__(self, vxlan: int, bridge: int) -> None:
        self.vxlan, self.bridge = vxlan, bridge
        self.fdb: dict[bytes, bytes] = {}
        self.neighbors: dict[bytes, bytes] = {}
        self.messages = 0
        self.deleted = 0

    def feed(self, data: bytes | bytearray, size: int) -> int:
        """Count the messages in ``data[:size]``; return how many were entries of ours."""
        offset = 0
        ours = 0
        while offset + 28 <= size:
            length, mtype, _, _, _ = _HDR.unpack_from(data, offset)
            if length < 16:
                break
            if mtype in (_RTM_NEWNEIGH, _RTM_DELNEIGH):
                self.messages += 1
                family, index, _, flags, _ = _NDMSG.unpack_from(data, offset + 16)
                key = value = None
                table: dict[bytes, bytes] | None = None
                if family == socket.AF_BRIDGE and index == self.vxlan and flags & _NTF_SELF:
                    table = self.fdb
                    # The kernel puts NDA_LLADDR first, then NDA_DST: read them in one go if so.
                    fast = _FDB_FAST.unpack_from(data, offset + 28) if length >= 48 else None
                    if fast is not None and (fast[0], fast[1], fast[3], fast[4]) == (10, _NDA_LLADDR, 8, _NDA_DST):
                        key, value = fast[2], fast[5]
                    else:
                        nlas = _attributes(data, offset + 28, offset + length)
                        key, value = nlas.get(_NDA_LLADDR), nlas.get(_NDA_DST)
                elif family == socket.AF_INET and index == self.bridge:
                    table = self.neighbors
                    # NDA_DST first, then NDA_LLADDR.
                    fast = _NEIGH_FAST.unpack_from(data, offset + 28) if length >= 48 else None
                    if fast is not None and (fast[0], fast[1], fast[3], fast[4]) == (8, _NDA_DST, 10, _NDA_LLADDR):
                        key, value = fast[2], fast[5]
                    else:
                        nlas = _attributes(data, offset + 28, offset + length)
                        key, value = nlas.get(_NDA_DST), nlas.get(_NDA_LLADDR)
                if table is not None and key is not None and value is not None and key != _ZERO_MAC:
                    if mtype == _RTM_DELNEIGH or not flags & _NTF_EXT_LEARNED:
                        if table.pop(key, None) is not None:
                            self.deleted += 1
                    else:
                        table[key] = value
                        ours += 1
            offset += (length + 3) & ~3
        return ours


def _dump(sock: socket.socket, family: int, seq: int, buffer: bytearray, counter: Counter) -> None:
    sock.send(_HDR.pack(28, _RTM_GETNEIGH, _NLM_F_REQUEST | _NLM_F_DUMP, seq, 0) + _NDMSG.pack(family, 0, 0, 0, 0))
    finished = False
    while not finished:
        size = sock.recv_into(buffer)
        counter.feed(buffer, size)
        offset = 0
        while offset + 16 <= size:
            length, mtype, _, mseq, _ = _HDR.unpack_from(buffer, offset)
            if length < 16:
                break
            finished = finished or (mseq == seq and mtype in (_NLMSG_DONE, _NLMSG_ERROR))
            offset += (length + 3) & ~3


def run_monitor(args: argparse.Namespace) -> None:
    """Print ``ready``, then ``complete`` once the kernel holds ``--fdb`` MACs on ``--vxlan`` and
    ``--neighbors`` neighbours on ``--bridge`` (or ``incomplete`` after ``--timeout`` seconds)."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    # Run ahead of the installers, so that an entry is seen (and timed) when it lands rather than
    # when a busy CPU gets round to the monitor; it needs little CPU in all.
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, 0, MONITOR_NICE)
    vxlan, bridge = socket.if_nametoindex(args.vxlan), socket.if_nametoindex(args.bridge)
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, args.rcvbuf)
    fprog, _code = _neigh_filter()
    sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, fprog)
    sock.bind((0, _RTMGRP_NEIGH))
    counter = Counter(vxlan, bridge)
    want_fdb, want_neigh = args.fdb, args.neighbors
    buffer = bytearray(1 << 20)
    first = last = None
    deadline = time.monotonic() + args.timeout
    sock.settimeout(1.0)
    emit("ready", pid=os.getpid(), rcvbuf=sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))

    def done() -> bool:
        return len(counter.fdb) >= want_fdb and len(counter.neighbors) >= want_neigh

    total = max(1, want_fdb + want_neigh)
    step = max(1, total // PROGRESS_STEPS)
    progress: list[tuple[int, float]] = []  # (entries, time) each time another ``step`` entries are in
    overflow: float | None = None
    while not done():
        if time.monotonic() > deadline:
            break
        try:
            size = sock.recv_into(buffer)
        except TimeoutError:
            continue
        except OSError as exc:
            if exc.errno != errno.ENOBUFS:
                raise
            overflow = time.time()
            break
        now = time.time()
        if counter.feed(buffer, size):
            last = now
            if first is None:
                first = now
            count = len(counter.fdb) + len(counter.neighbors)
            if count >= (len(progress) + 1) * step:
                progress.append((count, now))
    bound = None
    if overflow is not None:
        # Notifications were lost: count with full dumps, one a second, until everything is there.
        emit("overflow", time=overflow, fdb=len(counter.fdb), neighbors=len(counter.neighbors))
        sock.close()
        dumper = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        dumper.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, 32 * 1024 * 1024)
        dumper.bind((0, 0))
        seq = 1
        while time.monotonic() <= deadline:
            counter = Counter(vxlan, bridge)
            started = time.time()
            for family in (socket.AF_BRIDGE, socket.AF_INET):
                _dump(dumper, family, seq, buffer, counter)
                seq += 1
            if done():
                last = time.time()
                break
            bound = started
            time.sleep(DUMP_INTERVAL)
        dumper.close()
    times = os.times()
    fields = {
        "time": last, "first": first, "fdb": len(counter.fdb), "neighbors": len(counter.neighbors),
        "messages": counter.messages, "deleted": counter.deleted, "method": "dumps" if overflow else "notifications",
        "overflow": overflow, "lower_bound": bound, "cpu_seconds": times.user + times.system, "progress": progress,
    }  # fmt: skip
    emit("complete" if done() else "incomplete", **fields)


# --- the speaker, with timing hooks (runs inside the receiver namespace) ------------------------


def run_speaker(config: str) -> None:
    """``ingest_peers.py speaker CONFIG`` with the dataplane timed (see the module docstring):
    ``dp_apply`` and ``dp_reconcile`` events, each with the translation totals so far."""
    import ingest_peers

    from evpn.sink import dataplane, netlink

    translate = {"calls": 0, "seconds": 0.0, "cpu": 0.0, "ops": 0}
    records: list[dict[str, Any]] = []  # filled by the worker thread, emitted by the trio thread
    local = threading.local()
    clock, cpu = time.perf_counter, time.thread_time

    push = dataplane.Dataplane.push

    def timed_push(self: Any, deltas: Any) -> None:
        before, t, c = len(getattr(self, "_ops", ())), clock(), cpu()
        push(self, deltas)
        translate["seconds"] += clock() - t
        translate["cpu"] += cpu() - c
        translate["calls"] += 1
        translate["ops"] += max(0, len(getattr(self, "_ops", ())) - before)

    def worker(kind: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(self: Any, *args: Any) -> Any:
            start, t, c = time.time(), clock(), cpu()
            size = len(args[0]) if args and hasattr(args[0], "__len__") else None
            inside = getattr(local, "reconciling", False)
            if kind == "reconcile":
                local.reconciling = True
            try:
                return function(self, *args)
            finally:
                local.reconciling = inside
                record = {"kind": kind, "start": start, "wall": clock() - t, "cpu": cpu() - c, "size": size}
                record["in_reconcile"] = inside
                records.append(record)

        return timed

    hooked: list[str] = []

    def hook(owner: Any, name: str, wrapper: Callable[[Any], Any]) -> None:
        # evpn's internals change: what is not there (any more) is left alone, and reported.
        original = getattr(owner, name, None)
        if callable(original):
            setattr(owner, name, wrapper(original))
            hooked.append(f"{getattr(owner, '__name__', owner)}.{name}")

    hook(dataplane.Dataplane, "push", lambda _: timed_push)
    rtnl = getattr(netlink, "_Rtnl", None)
    hook(rtnl, "apply", lambda f: worker("apply", f))
    hook(rtnl, "owned", lambda f: worker("dump", f))
    hook(rtnl, "reconcile", lambda f: worker("reconcile", f))

    def reporting(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        async def call(self: Any, *args: Any) -> Any:
            try:
                return await method(self, *args)
            finally:
                taken = records[:]
                del records[: len(taken)]
                emit(name, time=time.time(), records=taken, translate=dict(translate))

        return call

    hook(netlink.NetlinkSink, "apply", lambda f: reporting("dp_apply", f))
    hook(netlink.NetlinkSink, "reconcile", lambda f: reporting("dp_reconcile", f))
    emit("hooks", hooked=hooked)
    ingest_peers.run_speaker(config)


# --- processes and namespaces --------------------------------------------------------------------


def wait_any(child: Child, kinds: Sequence[str], timeout: float, alive: Sequence[Any] = ()) -> dict[str, Any]:
    """The first event of ``child`` whose kind is in ``kinds``; an error after ``timeout`` seconds,
    or as soon as ``child`` or a process in ``alive`` (``Popen`` objects) has exited."""
    deadline = time.monotonic() + timeout
    while True:
        with child._cond:
            for event in child.events:
                if event.get("event") in kinds:
                    return event
            eof = child._eof
            if not eof:
                child._cond.wait(min(1.0, max(0.0, deadline - time.monotonic())))
        for proc in alive:
            if proc.poll() is not None:
                raise RuntimeError(f"a receiver process exited ({proc.args}: {proc.returncode}); {child.describe()}")
        if eof:
            raise RuntimeError(f"waiting for {'/'.join(kinds)}: {child.describe()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:g} s waiting for {'/'.join(kinds)}: {child.describe()}")


class Frr:
    """zebra (``-s 90000000``) and bgpd of FRR inside ``ns``, as their own instance (``-N NAME``),
    in the foreground as our children; zebra gets a config of its own."""

    def __init__(self, ns: Namespace, bgpd_conf: str) -> None:
        self.ns = ns
        self.name = ns.name
        self.dir = Path(tempfile.mkdtemp(prefix=f"{self.name}-frr-"))
        self.run_dir = FRR_RUN_DIR / self.name
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: dict[str, IO[bytes]] = {}
        self.dir.chmod(0o755)
        (self.dir / "zebra.conf").write_text(f"hostname {self.name}\nlog file {self.dir}/zebra.log\n")
        (self.dir / "bgpd.conf").write_text(
            f"frr defaults datacenter\nhostname {self.name}\nlog file {self.dir}/bgpd.log\n{bgpd_conf}"
        )
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for path in (self.dir, self.run_dir, *self.dir.iterdir()):
            shutil.chown(path, "frr", "frr")

    def _spawn(self, daemon: str, *args: str | os.PathLike[str]) -> None:
        log = open(self.dir / f"{daemon}.stdout", "ab")  # noqa: SIM115 - closed in stop
        self._logs[daemon] = log
        argv = [FRR_DIR / daemon, "-N", self.name, "-f", self.dir / f"{daemon}.conf", "-i", self.dir / f"{daemon}.pid"]
        self.procs[daemon] = subprocess.Popen(
            self.ns.argv(*argv, *args), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )

    def start(self, timeout: float = 30) -> None:
        self._spawn("zebra", "-s", "90000000")
        self._until(lambda: (self.run_dir / "zserv.api").exists(), timeout, "zebra to open its API socket")
        self._spawn("bgpd")
        self._until(lambda: self.vtysh_json("show bgp summary json") is not None, timeout, "bgpd to answer vtysh")

        def knows_vni() -> bool:
            zebra = self.vtysh_json(f"show evpn vni {VNI} json")
            bgp = self.vtysh_json("show bgp l2vpn evpn vni json")
            ours = bgp.get(str(VNI)) or {}
            return (
                zebra.get("vni") == VNI and ours.get("inKernel") == "True" and ROUTE_TARGET in ours.get("importRTs", [])
            )

        self._until(knows_vni, timeout, f"zebra and bgpd to know VNI {VNI}")

    def _until(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while True:
            for daemon, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"FRR {daemon} exited {proc.returncode}: {self.log_tail(daemon)}")
            with contextlib.suppress(RuntimeError, ValueError, subprocess.TimeoutExpired, AttributeError):
                if predicate():
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {what}: {self.log_tail('zebra')} {self.log_tail('bgpd')}")
            time.sleep(0.2)

    def vtysh_json(self, command: str, timeout: float = 30) -> Any:
        result = subprocess.run(
            [VTYSH, "-N", self.name, "-c", command], capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"vtysh {command!r}: {result.stderr.strip()}")
        return json.loads(result.stdout)

    def log_tail(self, daemon: str, limit: int = 2000) -> str:
        text = ""
        for name in (f"{daemon}.log", f"{daemon}.stdout"):
            with contextlib.suppress(OSError):
                text += (self.dir / name).read_text(errors="replace")[-limit:]
        return text

    def stop(self) -> None:
        try:
            for daemon in ("bgpd", "zebra"):  # zebra may remove its entries on the way out: give it time
                proc = self.procs.pop(daemon, None)
                if proc is not None:
                    stop_process(proc, timeout=30)
        finally:
            for log in self._logs.values():
                log.close()
            shutil.rmtree(self.run_dir, ignore_errors=True)
            shutil.rmtree(self.dir, ignore_errors=True)


class Lab:
    """The namespaces, processes and files of one run; :meth:`close` removes them all."""

    def __init__(self) -> None:
        self.namespaces: list[Namespace] = []
        self.children: list[Child] = []
        self.frrs: list[Frr] = []
        self.dirs: list[Path] = []

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def topology(self) -> tuple[Namespace, Namespace]:
        """The receiver's namespace with its devices and the sender's, joined by a veth."""
        rx, tx = Namespace(), Namespace()
        for ns in (rx, tx):
            self.namespaces.append(ns)
            ns.create()
            for key in ("all", "default"):
                subprocess.run(ns.argv("sysctl", "-q", "-w", f"net.ipv6.conf.{key}.disable_ipv6=1"), check=True)
        rx.veth_to(tx, [RECEIVER], [SENDER])
        rx.ip("link", "add", BRIDGE_DEV, "type", "bridge", "stp_state", "0")
        rx.ip(
            "link", "add", VXLAN, "type", "vxlan", "id", str(VNI), "local", RECEIVER, "dstport", "4789", "nolearning"
        )  # fmt: skip
        rx.ip("link", "set", VXLAN, "master", BRIDGE_DEV)
        subprocess.run(
            rx.argv(BRIDGE, "link", "set", "dev", VXLAN, "neigh_suppress", "on", "learning", "off"),
            check=True, capture_output=True,
        )  # fmt: skip
        rx.ip("link", "set", VXLAN, "up")
        rx.ip("link", "set", BRIDGE_DEV, "up")
        rx.ip("addr", "add", SVI, "dev", BRIDGE_DEV)
        rx.ip("route", "add", VTEP_NET, "via", SENDER)
        return rx, tx

    def child(
        self, ns: Namespace, name: str, *argv: str | os.PathLike[str], env: dict[str, str] | None = None
    ) -> Child:
        child = Child(ns, name, [sys.executable, "-u", *argv], {**os.environ, **(env or {})})
        self.children.append(child)
        return child

    def frr(self, ns: Namespace, conf: str) -> Frr:
        frr = Frr(ns, conf)
        self.frrs.append(frr)
        frr.start()
        return frr

    def close(self) -> None:
        errors: list[BaseException] = []
        steps: list[Callable[[], None]] = [c.stop for c in reversed(self.children)]
        steps += [f.stop for f in reversed(self.frrs)]
        for ns in reversed(self.namespaces):
            # Delete the devices (and their entries) now rather than in the kernel's background
            # namespace cleanup, which would compete with the next run.
            steps.append(lambda ns=ns: [ns.ip("link", "del", dev) for dev in (VXLAN, BRIDGE_DEV) if has_link(ns, dev)])
            steps.append(ns.delete)
        steps += [lambda d=d: shutil.rmtree(d, ignore_errors=True) for d in self.dirs]
        for step in steps:
            try:
                step()
            except Exception as exc:  # keep tearing down
                errors.append(exc)
        if self.namespaces:
            time.sleep(1.0)
        if errors:
            raise errors[0]


def has_link(ns: Namespace, name: str) -> bool:
    return subprocess.run([IP, "-n", ns.name, "link", "show", name], capture_output=True, check=False).returncode == 0


# --- configurations ------------------------------------------------------------------------------


def speaker_toml() -> str:
    return f"""[speaker]
asn = {LOCAL_AS}
router_id = "{RECEIVER}"
listen = "{RECEIVER}:179"

[[peers]]
address = "{SENDER}"
asn = {PEER_AS}
passive = true
families = ["l2vpn-evpn"]

[[vnis]]
vni = {VNI}
vtep = "{RECEIVER}"
import_targets = ["{ROUTE_TARGET}"]
vxlan = "{VXLAN}"
bridge = "{BRIDGE_DEV}"

[dataplane]
sink = "netlink"
"""


def bgpd_conf() -> str:
    return f"""router bgp {LOCAL_AS}
 bgp router-id {RECEIVER}
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 neighbor {SENDER} remote-as {PEER_AS}
 neighbor {SENDER} passive
 neighbor {SENDER} timers 30 90
 !
 address-family l2vpn evpn
  neighbor {SENDER} activate
  advertise-all-vni
  vni {VNI}
   route-target import {ROUTE_TARGET}
  exit-vni
 exit-address-family
!
"""


# --- measurement ---------------------------------------------------------------------------------


@dataclass
class Result:
    implementation: str
    routes: int
    entries: int
    seconds: float
    """From the sender's first UPDATE octet to the last kernel entry."""
    first_entry: float | None
    """From the first UPDATE octet to the first kernel entry (``None`` if the monitor missed it)."""
    others: float
    """CPUs other processes kept busy meanwhile (:class:`bench_ingest.CpuWatch`)."""
    receiver_cpu: float
    """CPU seconds of the receiver's processes (evpn's speaker; FRR's zebra + bgpd) during the run."""
    monitor: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.entries / self.seconds

    @property
    def route_rate(self) -> float:
        return self.routes / self.seconds


def threads_cpu(pid: int) -> dict[str, tuple[float, float]]:
    """User and system CPU seconds of each thread of ``pid``, by ``name/tid`` (``name/main`` for the
    main thread)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            comm = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tid = int(task.name)
        out[f"{comm}/{'main' if tid == pid else tid}"] = (int(fields[11]) / tick, int(fields[12]) / tick)
    return out


def threads_of(pids: Sequence[int]) -> dict[str, tuple[float, float]]:
    """:func:`threads_cpu` of several processes, keys prefixed with the process's name."""
    out: dict[str, tuple[float, float]] = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            name = Path(f"/proc/{pid}/comm").read_text().strip()
            out |= {f"{name}:{k}": v for k, v in threads_cpu(pid).items()}
    return out


def completion_timeout(workload: Workload) -> float:
    return 120 + workload.entries / 500


def measure(implementation: str, workload: Workload, rcvbuf: int, profile: Path | None = None) -> Result:
    """One run (see the module docstring): a fresh topology, the receiver, the monitor, the sender."""
    with Lab() as lab:
        rx, tx = lab.topology()
        receivers: list[int] = []
        alive: list[Any] = []
        speaker = None
        if implementation == EVPN:
            conf = Path(tempfile.mkdtemp(prefix=f"{rx.name}-"))
            lab.dirs.append(conf)
            (conf / "speaker.toml").write_text(speaker_toml())
            env = {}
            if profile:
                env = {
                    "EVPN_BENCH_PROFILE": str(profile), "EVPN_BENCH_PROFILER": "sample",
                    "EVPN_BENCH_PROFILE_UNTIL": "signal",
                }  # fmt: skip
            speaker = lab.child(rx, "evpn speaker", THIS, "_speaker", conf / "speaker.toml", env=env)
            speaker.wait("ready", 60)
            receivers.append(speaker.pid)
            alive.append(speaker.proc)
        else:
            frr = lab.frr(rx, bgpd_conf())
            receivers += [p.pid for p in frr.procs.values()]
            alive += list(frr.procs.values())
        monitor = lab.child(
            rx, "monitor", THIS, "_monitor", "--vxlan", VXLAN, "--bridge", BRIDGE_DEV, "--fdb", str(len(workload.fdb)),
            "--neighbors", str(len(workload.neighbors)), "--rcvbuf", str(rcvbuf),
            "--timeout", str(completion_timeout(workload)),
        )  # fmt: skip
        monitor.wait("ready", 30)
        cpu_before = sum(cpu_of(pid) for pid in receivers)
        threads_before = threads_of(receivers)
        watch = CpuWatch(*receivers, monitor.pid)
        sender = lab.child(
            tx, "sender", PEERS_PROGRAM, "send", "--local", SENDER, "--remote", RECEIVER, "--asn", str(PEER_AS),
            "--updates", workload.path,
        )  # fmt: skip
        watch.track(sender.pid)
        done = wait_any(monitor, ("complete", "incomplete"), completion_timeout(workload) + 30, alive)
        if profile and speaker is not None and done["event"] == "complete":
            os.kill(speaker.pid, signal.SIGUSR1)  # the end of the profile: the kernel is complete
        others = watch.others()
        receiver_cpu = sum(cpu_of(pid) for pid in receivers) - cpu_before
        threads = {
            k: (user - threads_before.get(k, (0.0, 0.0))[0], system - threads_before.get(k, (0.0, 0.0))[1])
            for k, (user, system) in threads_of(receivers).items()
        }
        sent = sender.wait("sent", 60)
        if done["event"] != "complete":
            raise SystemExit(
                f"{implementation}: the kernel holds {done['fdb']:,} of {len(workload.fdb):,} FDB entries and "
                f"{done['neighbors']:,} of {len(workload.neighbors):,} neighbours after "
                f"{completion_timeout(workload):g} s"
            )
        details: dict[str, Any] = {
            "send_seconds": sent["end"] - sent["start"],
            "octets": sent["octets"],
            "threads_cpu_seconds": {
                k: {"user": round(user, 2), "system": round(system, 2)}
                for k, (user, system) in sorted(threads.items())
                if user + system > 0.005
            },
        }
        if speaker is not None:
            eor = speaker.wait("end_of_rib", 60, peer=SENDER)
            up = speaker.wait("peer_up", 10, peer=SENDER)
            if eor["routes"] != workload.routes:
                raise SystemExit(f"evpn: End-of-RIB reported {eor['routes']:,} routes, expected {workload.routes:,}")
            # The reconciliation may still be running (it reads the whole table back): wait for it
            # (or, without that hook, for the speaker to go idle) before the check dump, so that
            # the two do not disturb each other.
            if "NetlinkSink.reconcile" in speaker.wait("hooks", 10)["hooked"]:
                reconciled: dict[str, Any] | None = speaker.wait("dp_reconcile", completion_timeout(workload))
            else:
                reconciled = None
                wait_idle(speaker.pid, completion_timeout(workload))
            time.sleep(0.5)
            details |= {
                "end_of_rib_seconds": eor["time"] - sent["start"],
                "entries_at_end_of_rib": entries_at(done.get("progress") or [], eor["time"]),
                "gc_until_end_of_rib": {
                    "collections": [
                        a - b for a, b in zip(eor["gc"]["collections"], up["gc"]["collections"], strict=True)
                    ],
                    "seconds": round(sum(eor["gc"]["seconds"]) - sum(up["gc"]["seconds"]), 3),
                },
                "dataplane": timeline(speaker.events, sent["start"]),
                "reconciled_seconds": None if reconciled is None else reconciled["time"] - sent["start"],
                "hooked": speaker.wait("hooks", 10)["hooked"],
            }
            if profile:
                speaker.wait("profile_written", 60)
        else:
            details["version"] = frr_version()
        details["verified"] = verify(rx, workload, implementation)
    return Result(
        implementation, workload.routes, workload.entries, done["time"] - sent["start"],
        None if done["first"] is None else done["first"] - sent["start"], others, receiver_cpu, done, details,
    )  # fmt: skip


def timeline(events: Sequence[dict[str, Any]], start: float) -> dict[str, Any]:
    """The speaker's dataplane events summed up, times relative to ``start`` (the first UPDATE octet)."""
    applies = [r for e in events if e.get("event") == "dp_apply" for r in e["records"]]
    reconciles = [e for e in events if e.get("event") == "dp_reconcile"]
    translate = {"calls": 0, "seconds": 0.0, "cpu": 0.0, "ops": 0}
    for event in events:
        if event.get("event") in ("dp_apply", "dp_reconcile"):
            translate = event["translate"]
    out: dict[str, Any] = {
        "translate": {k: round(v, 4) if isinstance(v, float) else v for k, v in translate.items()},
        "apply": {
            "calls": len(applies),
            "ops": sum(r["size"] or 0 for r in applies),
            "wall": round(sum(r["wall"] for r in applies), 4),
            "cpu": round(sum(r["cpu"] for r in applies), 4),
            "first_start": round(applies[0]["start"] - start, 4) if applies else None,
            "last_end": round(max(r["start"] + r["wall"] for r in applies) - start, 4) if applies else None,
        },
    }
    records = reconciles[0]["records"] if reconciles else []
    whole = next((r for r in records if r["kind"] == "reconcile"), None)
    if whole is not None:
        dump = [r for r in records if r["kind"] == "dump"]
        inner = [r for r in records if r["kind"] == "apply"]
        out["reconcile"] = {
            "start": round(whole["start"] - start, 4),
            "end": round(whole["start"] + whole["wall"] - start, 4),
            "wall": round(whole["wall"], 4),
            "cpu": round(whole["cpu"], 4),
            "desired": whole["size"],
            "dump_wall": round(sum(r["wall"] for r in dump), 4),
            "dump_cpu": round(sum(r["cpu"] for r in dump), 4),
            "installed": sum(r["size"] or 0 for r in inner),
            "install_wall": round(sum(r["wall"] for r in inner), 4),
            "install_cpu": round(sum(r["cpu"] for r in inner), 4),
        }
        applied_before = sum(r["size"] or 0 for r in applies if r["start"] < whole["start"])
        out["dropped_at_reconcile"] = max(0, translate["ops"] - applied_before) if translate else None
    return out


def wait_idle(pid: int, timeout: float, quiet: float = 1.0) -> None:
    """Until process ``pid`` has used (almost) no CPU for ``quiet`` seconds, at most ``timeout``."""
    deadline = time.monotonic() + timeout
    before = cpu_of(pid)
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = cpu_of(pid)
        if now - before < 0.05 * quiet:
            return
        before = now


def entries_at(progress: Sequence[Sequence[float]], when: float) -> int | None:
    """How many entries the kernel held at ``when``, from the monitor's progress marks (the last
    mark at or before it; ``None`` without marks)."""
    if not progress:
        return None
    return int(max((count for count, at in progress if at <= when), default=0))


def frr_version() -> str:
    out = subprocess.run([ZEBRA, "--version"], capture_output=True, text=True, check=False).stdout
    return out.splitlines()[0] if out else "?"


def verify(rx: Namespace, workload: Workload, who: str) -> dict[str, int]:
    """One dump of the receiver's FDB and neighbours, after the clock: every expected entry with
    the right VTEP / MAC and ``extern_learn``; returns the counts."""
    fdb = json.loads(subprocess.run(rx.argv(BRIDGE, "-j", "fdb", "show", "dev", VXLAN), capture_output=True,
                                    text=True, check=True).stdout or "[]")  # fmt: skip
    neigh = json.loads(subprocess.run(rx.argv(IP, "-j", "neigh", "show", "dev", BRIDGE_DEV), capture_output=True,
                                      text=True, check=True).stdout or "[]")  # fmt: skip
    remote: dict[bytes, bytes] = {}
    twins = 0
    for entry in fdb:
        if "extern_learn" not in entry.get("flags", []) or entry.get("mac") == "00:00:00:00:00:00":
            continue
        mac = bytes.fromhex(entry["mac"].replace(":", ""))
        if entry.get("dst"):
            remote[mac] = ipaddress.ip_address(entry["dst"]).packed
        elif entry.get("master") == BRIDGE_DEV:
            twins += 1
    neighbors = {
        ipaddress.ip_address(e["dst"]).packed: bytes.fromhex(e.get("lladdr", "").replace(":", ""))
        for e in neigh
        if "extern_learn" in e
    }
    wrong_fdb = sum(1 for mac, vtep in workload.fdb.items() if remote.get(mac) != vtep)
    wrong_neigh = sum(1 for ip, mac in workload.neighbors.items() if neighbors.get(ip) != mac)
    if wrong_fdb or wrong_neigh or len(remote) != len(workload.fdb) or len(neighbors) != len(workload.neighbors):
        raise SystemExit(
            f"{who}: the kernel's entries are wrong: {len(remote):,} remote MACs ({wrong_fdb:,} of the "
            f"{len(workload.fdb):,} expected missing or at the wrong VTEP), {len(neighbors):,} neighbours "
            f"({wrong_neigh:,} of {len(workload.neighbors):,} missing or wrong)"
        )
    return {"fdb": len(remote), "bridge_twins": twins, "neighbors": len(neighbors)}


# --- report --------------------------------------------------------------------------------------


def best(results: Sequence[Result]) -> Result:
    """The fastest run among those the rest of the machine left alone (all runs if none was)."""
    quiet = [r for r in results if r.others <= NOISE] or list(results)
    return min(quiet, key=lambda r: r.seconds)


def report(groups: dict[str, list[Result]], workload: Workload) -> list[dict[str, Any]]:
    rows = []
    frr = best(groups[FRR]) if groups.get(FRR) else None
    print(
        "| receiver | routes | kernel entries | seconds | entries/s | routes/s | evpn ÷ FRR "
        "| first entry (s) | receiver CPU s | others' CPUs |"
    )
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for implementation, results in groups.items():
        result = best(results)
        ratio = result.rate / frr.rate if frr is not None and implementation == EVPN else None
        print(
            f"| {implementation} | {result.routes:,} | {result.entries:,} | {result.seconds:.2f} | "
            f"{result.rate:,.0f} | {result.route_rate:,.0f} | {'' if ratio is None else f'{ratio:.2f}'} | "
            f"{'n/a' if result.first_entry is None else f'{result.first_entry:.2f}'} | "
            f"{result.receiver_cpu:.2f} | {result.others:.2f} |"
        )
        rows.append(
            {
                "implementation": implementation,
                "routes": result.routes,
                "entries": result.entries,
                "seconds": round(result.seconds, 4),
                "entries_per_second": round(result.rate),
                "routes_per_second": round(result.route_rate),
                "ratio_evpn_frr": None if ratio is None else round(ratio, 3),
                "all_seconds": [round(r.seconds, 4) for r in results],
                "runs": [asdict(r) for r in results],
            }
        )
    print()
    print(
        "seconds: best of the runs (of those during which other processes used ≤ "
        f"{NOISE} CPUs, if any), from the sender's first UPDATE octet to the last of the "
        f"{len(workload.fdb):,} FDB + {len(workload.neighbors):,} neighbour entries in the receiver's kernel "
        "(netlink notifications); evpn ÷ FRR: evpn's entries/s ÷ FRR's (above 1: evpn is faster); "
        "receiver CPU: evpn's speaker process, or FRR's zebra + bgpd, during the run"
    )
    for implementation, results in groups.items():
        result = best(results)
        print(f"all runs, {implementation}: " + ", ".join(f"{r.seconds:.2f} s" for r in results))
        if result.others > NOISE:
            print(
                f"warning: other processes kept {result.others:.2f} CPUs busy during the best {implementation} "
                "run: it may be slower than on a quiet machine"
            )
        dumps = [r for r in results if r.monitor.get("method") != "notifications"]
        if dumps:
            print(
                f"note: the monitor's netlink socket overflowed (ENOBUFS) in {len(dumps)} {implementation} run(s); "
                f"those were timed with full dumps every {DUMP_INTERVAL:g} s (the time is that of the first dump "
                "that found every entry, so it may be late by up to the dump interval plus a dump)"
            )
    monitor_cpu = [r.monitor.get("cpu_seconds", 0.0) for rs in groups.values() for r in rs]
    if monitor_cpu:
        print(f"monitor process CPU per run: {min(monitor_cpu):.2f} to {max(monitor_cpu):.2f} s")
    if EVPN in groups:
        print_timeline(best(groups[EVPN]))
    if frr is not None:
        threads = frr.details.get("threads_cpu_seconds", {})
        print(f"\n{FRR}'s best run ({frr.seconds:.2f} s): threads' CPU seconds (user + system): " + ", ".join(
            f"{k} {v['user']:.2f} + {v['system']:.2f}" for k, v in threads.items()
        ))  # fmt: skip
    if frr is not None and EVPN in groups:
        ratio = best(groups[EVPN]).rate / frr.rate
        print()
        print(f"{'PASS' if ratio > 1 else 'FAIL'}  evpn faster end to end than {FRR}: {ratio:.2f}x")
    return rows


def print_timeline(result: Result) -> None:
    d = result.details
    dp = d.get("dataplane") or {}
    tr, ap, rc = dp.get("translate", {}), dp.get("apply", {}), dp.get("reconcile")
    threads = d.get("threads_cpu_seconds", {})
    print(f"\nevpn's best run, seconds after the first UPDATE octet ({result.seconds:.2f} s in all):")
    missing = sorted(set(HOOKS) - set(d.get("hooked", HOOKS)))
    if missing:
        print(f"  (not timed: {', '.join(missing)} not found in evpn)")
    if result.first_entry is not None:
        print(f"  first kernel entry               {result.first_entry:7.2f}")
    if ap.get("first_start") is not None:
        print(f"  first netlink batch sent         {ap['first_start']:7.2f}")
    at_eor = d.get("entries_at_end_of_rib")
    print(
        f"  End-of-RIB event (ingest done)   {d.get('end_of_rib_seconds', float('nan')):7.2f}"
        + ("" if at_eor is None else f"   (the kernel then held at least {at_eor:,} of the {result.entries:,} entries)")
    )
    if ap.get("last_end") is not None:
        print(f"  last apply() done                {ap['last_end']:7.2f}")
    if rc:
        print(f"  reconcile started                {rc['start']:7.2f}")
        print(f"  reconcile done                   {rc['end']:7.2f}")
    print(f"  last kernel entry                {result.seconds:7.2f}")
    print("evpn's dataplane work:")
    print(
        f"  translate (Dataplane.push, trio thread): {tr.get('calls', 0):,} calls, {tr.get('ops', 0):,} ops, "
        f"{tr.get('seconds', 0.0):.2f} s"
    )
    print(
        f"  apply (netlink worker thread): {ap.get('calls', 0):,} calls, {ap.get('ops', 0):,} ops, "
        f"{ap.get('wall', 0.0):.2f} s wall, {ap.get('cpu', 0.0):.2f} s CPU"
    )
    if rc:
        print(
            f"  reconcile (worker): {rc['wall']:.2f} s wall, {rc['cpu']:.2f} s CPU; reading the kernel's tables "
            f"{rc['dump_wall']:.2f} s ({rc['dump_cpu']:.2f} CPU); {rc['installed']:,} ops installed in "
            f"{rc['install_wall']:.2f} s; {dp.get('dropped_at_reconcile') or 0:,} queued ops were dropped for it"
        )
    if threads:
        print(
            "  speaker threads' CPU seconds during the run (user + system): "
            + ", ".join(f"{k} {v['user']:.2f} + {v['system']:.2f}" for k, v in threads.items())
        )
    gc = d.get("gc_until_end_of_rib") or {}
    print(
        f"  speaker process CPU: {result.receiver_cpu:.2f} s in {result.seconds:.2f} s; garbage collector until "
        f"End-of-RIB: {gc.get('seconds', 0.0):.2f} s in {gc.get('collections')} collections"
    )


def print_samples(path: Path, result: Result, top: int = 25) -> None:
    data = json.loads(path.read_text())
    idle = sum(count for where, count in data["own"].items() if where.endswith("(get_events)"))
    busy = max(1, data["samples"] - idle)
    print(
        f"\nSampled profile of evpn's trio thread from PeerUp to the last kernel entry ({result.seconds:.2f} s with "
        f"the sampler on), {data['samples']:,} samples: {100 * idle / max(1, data['samples']):.0f}% idle (trio "
        "waiting for I/O; the netlink worker thread is not sampled); shares of the busy samples:"
    )
    for title, counts in (("own (where it runs)", data["own"]), ("cumulative (on the stack)", data["cumulative"])):
        print(f"{'%':>6}  {title}")
        ranked = sorted(counts.items(), key=lambda item: item[1], reverse=True)
        shown = 0
        for where, count in ranked:
            if where.endswith("(get_events)") or count >= busy * 0.999:  # idle, or the frames of every sample
                continue
            print(f"{100 * count / busy:6.1f}  {where}")
            shown += 1
            if shown == top:
                break


# --- main ----------------------------------------------------------------------------------------


def prerequisites(skip_frr: bool, skip_evpn: bool) -> str | None:
    """Why the benchmark cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    if not (Path(IP).exists() and Path(BRIDGE).exists()):
        return "needs iproute2's ip and bridge"
    if not skip_evpn:
        try:
            import pyroute2  # noqa: F401
        except ImportError:
            return "needs pyroute2 for evpn's netlink sink (pip install evpn[netlink]; or pass --skip-evpn)"
    if not skip_frr and not (ZEBRA.exists() and BGPD.exists() and Path(VTYSH).exists()):
        return f"needs FRR ({ZEBRA}, {BGPD} and vtysh; or pass --skip-frr)"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["_monitor"]:
        sub = argparse.ArgumentParser(prog="bench_e2e.py _monitor")
        sub.add_argument("--vxlan", required=True)
        sub.add_argument("--bridge", required=True)
        sub.add_argument("--fdb", type=int, required=True)
        sub.add_argument("--neighbors", type=int, required=True)
        sub.add_argument("--rcvbuf", type=int, default=MONITOR_RCVBUF)
        sub.add_argument("--timeout", type=float, default=600)
        run_monitor(sub.parse_args(args_list[1:]))
        return 0
    if args_list[:1] == ["_speaker"]:
        run_speaker(args_list[1])
        return 0

    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--macs", type=int, default=100_000, help="MAC-only type-2 routes (default 100,000)")
    parser.add_argument("--neighbors", type=int, default=10_000, help="MAC+IPv4 type-2 routes (default 10,000)")
    parser.add_argument("--vteps", type=int, default=32, help="remote VTEPs the MACs are behind (default 32)")
    parser.add_argument(
        "--shared-macs", action="store_true", help="the MAC+IP routes use the first MAC-only MACs (default: distinct)"
    )
    parser.add_argument("--skip-frr", action="store_true", help="measure evpn only")
    parser.add_argument("--skip-evpn", action="store_true", help="measure FRR only")
    parser.add_argument(
        "--repeats", type=int, default=1, help="runs per receiver, the fastest undisturbed one counts (default 1)"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE ('-' for stdout)")
    parser.add_argument("--profile", action="store_true", help="then run evpn once more with the sampling profiler")
    parser.add_argument(
        "--monitor-rcvbuf", type=int, default=MONITOR_RCVBUF, metavar="OCTETS",
        help="the monitor's netlink receive buffer (default 256 MiB; small values test the dump fallback)",
    )  # fmt: skip
    args = parser.parse_args(args_list)
    if args.macs < 0 or args.neighbors < 0 or args.macs + args.neighbors < 1 or args.repeats < 1:
        parser.error("--macs and --neighbors must not be negative (and not both 0), --repeats must be positive")
    if not 1 <= args.vteps <= 250:
        parser.error("--vteps: 1 to 250 (198.18.1.1 and up)")
    if args.neighbors > 65533:
        parser.error("--neighbors: at most 65,533 (hosts of 198.19.0.0/16)")
    if args.shared_macs and args.neighbors > args.macs:
        parser.error("--shared-macs needs --neighbors ≤ --macs")
    if args.skip_frr and args.skip_evpn:
        parser.error("nothing to measure with both --skip-frr and --skip-evpn")
    out = sys.stderr if args.json == "-" else sys.stdout
    why = prerequisites(args.skip_frr, args.skip_evpn)
    if why:
        print(f"bench_e2e: skipped: {why}", file=out)
        return 0

    def terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")  # unwind through the finally blocks that clean up

    signal.signal(signal.SIGTERM, terminate)

    implementations = [name for name, skip in ((EVPN, args.skip_evpn), (FRR, args.skip_frr)) if not skip]
    groups: dict[str, list[Result]] = {}
    workdir = Path(tempfile.mkdtemp(prefix="evpnbench-e2e-"))
    workdir.chmod(0o755)
    busy = cpu_busy()
    source = evpn_source()
    rows: list[dict[str, Any]] = []
    with contextlib.redirect_stdout(out):
        try:
            workload = build_workload(workdir, args.macs, args.neighbors, args.vteps, shared=args.shared_macs)
            print(
                f"machine: {os.cpu_count()} CPUs, {platform.python_implementation()} {platform.python_version()} "
                f"on {platform.platform()}; CPU busy before the run: {busy:.0%}"
            )
            print(f"evpn {metadata.version('evpn')} from {source}")
            if not args.skip_frr:
                print(f"FRR: {frr_version()}")
            if busy > 0.1:
                print("warning: other processes are using the CPUs: the timings will be slower and noisier")
            print(
                f"workload: {args.macs:,} MAC-only + {args.neighbors:,} MAC+IPv4 type-2 routes "
                f"({'the MAC+IPs for the first MAC-only MACs' if args.shared_macs else 'distinct MACs'}) behind "
                f"{args.vteps} VTEPs in {workload.updates:,} UPDATEs ({workload.octets:,} octets): "
                f"{len(workload.fdb):,} FDB + {len(workload.neighbors):,} neighbour entries expected",
                flush=True,
            )
            for _ in range(args.repeats):
                for implementation in implementations:
                    result = measure(implementation, workload, args.monitor_rcvbuf)
                    groups.setdefault(implementation, []).append(result)
                    extra = ""
                    if implementation == EVPN:
                        extra = f" (End-of-RIB at {result.details['end_of_rib_seconds']:.2f} s)"
                    print(
                        f"  {implementation}: {result.seconds:.2f} s, {result.rate:,.0f} entries/s{extra}; "
                        f"others {result.others:.2f} CPUs; monitor: {result.monitor['method']}",
                        flush=True,
                    )
            print()
            rows = report(groups, workload)
            if args.profile and not args.skip_evpn:
                samples = workdir / "speaker.samples.json"
                print_samples(samples, measure(EVPN, workload, args.monitor_rcvbuf, samples))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    if args.json:
        document = {
            "benchmark": "bench_e2e",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {
                "cpus": os.cpu_count(),
                "platform": platform.platform(),
                "kernel": platform.release(),
                "python": platform.python_version(),
                "cpu_busy_before": round(busy, 3),
            },
            "evpn": metadata.version("evpn"),
            "evpn_source": source,
            "frr": None if args.skip_frr else frr_version(),
            "workload": {
                "macs": args.macs,
                "neighbors": args.neighbors,
                "vteps": args.vteps,
                "shared_macs": args.shared_macs,
                "routes": workload.routes,
                "updates": workload.updates,
                "octets": workload.octets,
                "fdb_entries": len(workload.fdb),
                "neighbor_entries": len(workload.neighbors),
            },
            "results": rows,
        }
        text = json.dumps(document, indent=2) + "\n"
        if args.json == "-":
            sys.stdout.write(text)
        else:
            Path(args.json).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
