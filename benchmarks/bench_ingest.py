"""End-to-end ingest benchmark: evpn against FRR 8.4 bgpd on the same UPDATE bytes over real TCP.

Run from the repository root, as root, with FRR installed (``tox -e bench`` does)::

    python benchmarks/bench_ingest.py [--sizes 200000,1000000] [--skip-frr] [--no-fanout]
        [--peers 10] [--fanout-routes 200000] [--repeats N] [--json FILE|-] [--profile]
        [--receiver-gc off|T0,T1,T2]

Without root (network namespaces) or without FRR's bgpd (unless ``--skip-frr``) it says why
and exits 0.  It also exits 0 when a goal is missed; only a broken measurement (a wrong
route count, a process that died) is an error.

**Ingest.** For each N in ``--sizes`` the UPDATEs announcing N EVPN type-2 MAC/IPv4 routes
are encoded once, before anything is timed, by :func:`make_updates.type2_updates` (90 routes
per UPDATE sharing ORIGIN, a 4-octet AS_PATH, route target and VXLAN encapsulation; every
route distinct) and written to a file.  Each measurement gets a pair of fresh network
namespaces joined by a veth (receiver 198.18.0.1, sender 198.18.0.2).  A minimal BGP peer
(``ingest_peers.py send``, eBGP from AS 4200000100 to AS 65000) connects, exchanges OPEN
and KEEPALIVE, then writes all the UPDATEs and an End-of-RIB for L2VPN/EVPN as fast as
the receiver reads them.  The clock starts just before its first UPDATE octet is written:

* **evpn**: our speaker (``ingest_peers.py speaker``: :func:`evpn.open_speaker` on a TOML
  config with one passive ``l2vpn-evpn`` peer, subscribed to PeerUp, PeerDown, EndOfRib) stops the
  clock when its ``EndOfRib`` event arrives, which must report N routes held from the peer;
* **FRR**: bgpd 8.4 (``-Z``: no zebra, nothing installed anywhere, as with evpn; the same
  session shape: ``no bgp default ipv4-unicast``, the neighbour activated in
  ``address-family l2vpn evpn``, timers 30/90 like ours) stops the clock at the first
  ``show bgp l2vpn evpn summary json`` poll (every 50 ms, through ``vtysh``) whose
  ``pfxRcd`` for the peer is N.

Both clocks are ``time.time()`` on one machine.  Memory is the receiver's RSS growth
(VmRSS) from before the session to the end of the ingest, divided by N; the RSS 2 s later
("settled") is in the JSON too.

**Route-reflector fan-out.** One iBGP client sends ``--fanout-routes`` routes (the same
UPDATEs plus LOCAL_PREF 100) to our speaker acting as route reflector for ``--peers`` + 1
clients in AS 65000 (``route_reflector_client = true``); ``--peers`` clients
(``ingest_peers.py clients``, one process, one session each) count the routes reflected to
them, and check afterwards that they are N distinct ones.  Reported: routes/s = N ÷ the
time from the sender's first UPDATE octet until the last client holds them all, and the
aggregate delivery rate, N times clients ÷ that time.  The same through FRR as the route
reflector, unless ``--skip-frr``.  Without ``route_reflector_client`` in
:class:`evpn.PeerConfig` the evpn part is skipped with a message.

**Noise.** The machine may be shared: :class:`CpuWatch` measures how many CPUs other
processes kept busy during each run.  With ``--repeats`` the fastest of the runs that others
left alone counts, and the report warns when even that one was disturbed.

**Diagnostics.** ``--profile`` then profiles our receiver at the smallest size (a sampling
profiler and cProfile) and our route reflector (sampled), and prints the hot spots.
``--receiver-gc`` runs our speaker with the garbage collector off or other thresholds, to
see what it costs; such rows are named accordingly and not checked against the goals.

Rules (``shared/notes/interop-lab.md``): only namespaces created here, named
``evpnbench-PID-N``; only 198.18.0.0/15 addresses, assigned inside them; every process is
started here and stopped here by its PID, and namespaces, processes and files are removed
in ``finally`` blocks (also on SIGTERM and Ctrl-C).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import pstats
import shutil
import signal
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

import attrs

# benchmarks/ is on sys.path when this runs as a script.
from make_updates import LOCAL_AS, PEER_AS, type2_updates

HERE = Path(__file__).resolve().parent
PEERS_PROGRAM = HERE / "ingest_peers.py"

IP = shutil.which("ip") or "/usr/sbin/ip"
BGPD = Path("/usr/lib/frr/bgpd")
VTYSH = shutil.which("vtysh") or "/usr/bin/vtysh"
FRR_RUN_DIR = Path("/var/run/frr")

ROUTES_PER_UPDATE = 90
DEFAULT_SIZES = (200_000, 1_000_000)
FANOUT_ROUTES = 200_000
RATE_TARGET = 250_000
"""Required ingest rate, routes/s, at every size."""
MEMORY_TARGET = 500
"""Required RSS growth per route held at the largest size, octets."""
MEMORY_SIZE = 1_000_000
POLL_INTERVAL = 0.05
NOISE = 0.15
"""CPUs used by other processes during a run above which the report warns."""
FANOUT_SETTLE = 3.0
"""Seconds between the clients' sessions coming up and the sender connecting."""
SETTLE = 2.0
"""Seconds after completion before the 'settled' RSS reading."""

RECEIVER_GC: dict[str, str] = {}
"""Extra environment for our speaker: ``EVPN_BENCH_GC`` from ``--receiver-gc`` (a diagnostic)."""
EVPN = "evpn"
"""The implementation's name in the results ("evpn", or with the ``--receiver-gc`` setting)."""

RECEIVER = "198.18.0.1"
SENDER = "198.18.0.2"
PREFIX_LENGTH = 24


def client_address(index: int) -> str:
    return f"198.18.0.{10 + index}"


# --- processes and namespaces -----------------------------------------------------------------


def stop_process(proc: subprocess.Popen[Any], timeout: float = 10.0) -> int | None:
    """Stop one child we started, by its PID: SIGTERM, SIGKILL after ``timeout``; reap it."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout)
    return proc.returncode


def rss_of(pid: int) -> int:
    """VmRSS of process ``pid``, in octets."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for PID {pid}")


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_of(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used; 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime


def system_busy() -> float:
    """CPU seconds all CPUs have spent busy since boot (/proc/stat; steal counts as busy)."""
    with open("/proc/stat", encoding="ascii") as stat:
        values = [int(v) for v in stat.readline().split()[1:9]]
    return (sum(values) - values[3] - values[4]) / _TICK  # minus idle and iowait


class CpuWatch:
    """How many CPUs processes other than ours kept busy during a measurement: the busy time of
    all CPUs minus ours (this process, its reaped children such as vtysh, and the children it
    was given or told to :meth:`track`), over the wall time.  Noise on a shared machine shows up here."""

    def __init__(self, *pids: int) -> None:
        self.pids = list(pids)
        self.start = time.monotonic()
        self.busy = system_busy()
        self.ours = self._ours()

    def _ours(self) -> float:
        times = os.times()
        own = times.user + times.system + times.children_user + times.children_system
        return own + sum(cpu_of(pid) for pid in self.pids)

    def track(self, pid: int) -> None:
        """Count a child started after the watch (from 0)."""
        self.pids.append(pid)

    def others(self) -> float:
        """CPUs used by others since the start (0 when the machine was ours)."""
        wall = time.monotonic() - self.start
        ours = self._ours() - self.ours
        return max(0.0, (system_busy() - self.busy - ours) / max(wall, 1e-9))


class Namespace:
    """A network namespace of ours: ``evpnbench-PID-N``."""

    serial = 0

    def __init__(self) -> None:
        Namespace.serial += 1
        self.name = f"evpnbench-{os.getpid()}-{Namespace.serial}"
        self.created = False

    def create(self) -> Namespace:
        subprocess.run([IP, "netns", "add", self.name], check=True, capture_output=True, text=True)
        self.created = True
        self.ip("link", "set", "lo", "up")
        return self

    def delete(self) -> None:
        if self.created:
            subprocess.run([IP, "netns", "delete", self.name], check=False, capture_output=True)
            self.created = False

    def argv(self, *args: str | os.PathLike[str]) -> list[str]:
        return [IP, "netns", "exec", self.name, *map(str, args)]

    def ip(self, *args: str) -> None:
        result = subprocess.run([IP, "-n", self.name, *args], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"ip -n {self.name} {' '.join(args)}: {result.stderr.strip()}")

    def veth_to(self, other: Namespace, local: list[str], remote: list[str]) -> None:
        """A veth pair made directly inside the two namespaces, addresses ``local`` here and
        ``remote`` there (each ``A.B.C.D``, prefix /24), both ends up."""
        self.ip("link", "add", "bench0", "type", "veth", "peer", "name", "bench1", "netns", other.name)
        for ns, ifname, addresses in ((self, "bench0", local), (other, "bench1", remote)):
            for address in addresses:
                ns.ip("addr", "add", f"{address}/{PREFIX_LENGTH}", "dev", ifname)
            ns.ip("link", "set", ifname, "up")


class Child:
    """A program we run inside a namespace that prints one JSON object per line; a thread
    collects them.  ``ip netns exec`` execs the program, so :attr:`pid` is the program's."""

    def __init__(self, ns: Namespace, name: str, argv: Sequence[str | os.PathLike[str]], env: dict[str, str]) -> None:
        self.name = name
        self.events: list[dict[str, Any]] = []
        self.other: list[str] = []
        self._cond = threading.Condition()
        self._eof = False
        self._stderr: IO[str] = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in stop
        self.proc = subprocess.Popen(
            ns.argv(*argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr,
            text=True, bufsize=1, env=env,
        )  # fmt: skip
        self._thread = threading.Thread(target=self._read, name=f"read-{name}", daemon=True)
        self._thread.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.strip()
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                event = None
            with self._cond:
                if isinstance(event, dict):
                    self.events.append(event)
                elif line:
                    self.other.append(line)
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def describe(self) -> str:
        self._stderr.flush()
        self._stderr.seek(0)
        stderr = self._stderr.read()[-3000:]
        return f"{self.name} (exit {self.proc.poll()}): events {self.events[-5:]}; output {self.other[-5:]}; stderr {stderr}"

    def wait(self, kind: str, timeout: float, **fields: object) -> dict[str, Any]:
        """The first event ``kind`` with the given fields, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self.events:
                    if event.get("event") == kind and all(event.get(k) == v for k, v in fields.items()):
                        return event
                for event in self.events:
                    if event.get("event") in ("notification", "closed", "peer_down"):
                        raise RuntimeError(f"{self.name}: {event}; {self.describe()}")
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._eof:
                    break
                self._cond.wait(min(remaining, 1.0))
        why = "it exited" if self._eof else f"timed out after {timeout:g} s"
        raise RuntimeError(f"waiting for {kind} from {self.describe()}: {why}")

    def stop(self) -> None:
        try:
            stop_process(self.proc)
            self._thread.join(5)
        finally:
            if self.proc.stdout is not None:
                self.proc.stdout.close()
            self._stderr.close()


class Bgpd:
    """FRR bgpd (``-Z``: no zebra) inside ``ns`` as its own instance (``-N NAME``), in the foreground."""

    def __init__(self, ns: Namespace, conf: str) -> None:
        self.name = ns.name
        self.ns = ns
        self.dir = Path(tempfile.mkdtemp(prefix=f"{self.name}-frr-"))
        self.run_dir = FRR_RUN_DIR / self.name
        self.dir.chmod(0o755)
        (self.dir / "bgpd.conf").write_text(
            f"frr defaults datacenter\nhostname {self.name}\nlog file {self.dir}/bgpd.log\n{conf}"
        )
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for path in (self.dir, self.run_dir, self.dir / "bgpd.conf"):
            shutil.chown(path, "frr", "frr")
        self._log = open(self.dir / "bgpd.stdout", "ab")  # noqa: SIM115 - closed in stop
        self.proc = subprocess.Popen(
            ns.argv(BGPD, "-Z", "-N", self.name, "-f", self.dir / "bgpd.conf", "-i", self.dir / "bgpd.pid"),
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"bgpd exited {self.proc.returncode}: {self.log_tail()}")
            with contextlib.suppress(RuntimeError, json.JSONDecodeError, subprocess.TimeoutExpired):
                if self.vtysh_json("show bgp summary json") is not None:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"bgpd of {self.name} does not answer vtysh: {self.log_tail()}")
            time.sleep(0.2)

    def vtysh_json(self, command: str, timeout: float = 30) -> Any:
        result = subprocess.run(
            [VTYSH, "-N", self.name, "-c", command], capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"vtysh {command!r}: {result.stderr.strip()}")
        return json.loads(result.stdout)

    def received(self, peer: str) -> int:
        """``pfxRcd`` of ``peer`` in ``show bgp l2vpn evpn summary json`` (0 before it is up)."""
        data = self.vtysh_json("show bgp l2vpn evpn summary json")
        return int(((data.get("peers") or {}).get(peer) or {}).get("pfxRcd", 0))

    def log_tail(self, limit: int = 3000) -> str:
        text = ""
        for name in ("bgpd.log", "bgpd.stdout"):
            with contextlib.suppress(OSError):
                text += (self.dir / name).read_text(errors="replace")[-limit:]
        return text

    def stop(self) -> None:
        try:
            stop_process(self.proc)
        finally:
            self._log.close()
            shutil.rmtree(self.run_dir, ignore_errors=True)
            shutil.rmtree(self.dir, ignore_errors=True)


class Lab:
    """Owns the namespaces and processes of one measurement; :meth:`close` removes them all."""

    def __init__(self) -> None:
        self.namespaces: list[Namespace] = []
        self.children: list[Child] = []
        self.bgpds: list[Bgpd] = []

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def pair(self, receiver: list[str], sender: list[str]) -> tuple[Namespace, Namespace]:
        """Two fresh namespaces joined by a veth: the receiver's and the senders'."""
        rx = Namespace()
        self.namespaces.append(rx)
        rx.create()
        tx = Namespace()
        self.namespaces.append(tx)
        tx.create()
        rx.veth_to(tx, receiver, sender)
        return rx, tx

    def child(
        self, ns: Namespace, name: str, *args: str | os.PathLike[str], env: dict[str, str] | None = None
    ) -> Child:
        child_env = {**os.environ, **(env or {})}
        child = Child(ns, name, [sys.executable, "-u", PEERS_PROGRAM, *args], child_env)
        self.children.append(child)
        return child

    def bgpd(self, ns: Namespace, conf: str) -> Bgpd:
        bgpd = Bgpd(ns, conf)
        self.bgpds.append(bgpd)
        bgpd.wait_ready()
        return bgpd

    def close(self) -> None:
        errors: list[BaseException] = []
        steps: list[Callable[[], None]] = [c.stop for c in reversed(self.children)]
        steps += [b.stop for b in reversed(self.bgpds)] + [ns.delete for ns in reversed(self.namespaces)]
        for step in steps:
            try:
                step()
            except Exception as exc:  # keep tearing down
                errors.append(exc)
        if errors:
            raise errors[0]


# --- workload ------------------------------------------------------------------------------------


def with_local_pref(message: bytes, value: int = 100) -> bytes:
    """An UPDATE with LOCAL_PREF ``value`` inserted among its attributes in type order (as an iBGP
    peer sends it, RFC 4271 §5.1.5)."""
    withdrawn = struct.unpack_from("!H", message, 19)[0]
    head = 21 + withdrawn
    length = struct.unpack_from("!H", message, head)[0]
    start = pos = head + 2
    end = start + length
    while pos < end and message[pos + 1] < 5:
        pos += (4 + struct.unpack_from("!H", message, pos + 2)[0]) if message[pos] & 0x10 else 3 + message[pos + 2]
    local_pref = struct.pack("!BBBI", 0x40, 5, 4, value)
    attributes = message[start:pos] + local_pref + message[pos:end]
    body = message[19:head] + struct.pack("!H", len(attributes)) + attributes + message[end:]
    return message[:16] + struct.pack("!HB", 19 + len(body), 2) + body


def write_workload(directory: Path, n_routes: int, *, ibgp: bool = False) -> tuple[Path, int]:
    """The UPDATEs for ``n_routes`` routes in one file; return it and its size in octets."""
    messages = type2_updates(n_routes, ROUTES_PER_UPDATE)
    if ibgp:
        messages = [with_local_pref(m) for m in messages]
    path = directory / f"{'ibgp' if ibgp else 'ebgp'}-{n_routes}.bin"
    data = b"".join(messages)
    path.write_bytes(data)
    return path, len(data)


# --- configurations ------------------------------------------------------------------------------


def speaker_toml(peers: Sequence[dict[str, Any]], *, extra_speaker: str = "") -> str:
    lines = [
        "[speaker]",
        f"asn = {LOCAL_AS}",
        f'router_id = "{RECEIVER}"',
        f'listen = "{RECEIVER}:179"',
        *([extra_speaker] if extra_speaker else []),
    ]
    for peer in peers:
        lines += ["", "[[peers]]"]
        for key, value in peer.items():
            lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


def bgpd_conf(neighbors: Sequence[str], asn: int, *, reflector: bool = False) -> str:
    lines = [
        f"router bgp {LOCAL_AS}",
        f" bgp router-id {RECEIVER}",
        " no bgp ebgp-requires-policy",
        " no bgp default ipv4-unicast",
    ]
    for address in neighbors:
        lines += [
            f" neighbor {address} remote-as {asn}",
            f" neighbor {address} passive",
            f" neighbor {address} timers 30 90",
        ]
    lines += [" !", " address-family l2vpn evpn"]
    for address in neighbors:
        lines.append(f"  neighbor {address} activate")
        if reflector:
            lines.append(f"  neighbor {address} route-reflector-client")
    lines += [" exit-address-family", "!", ""]
    return "\n".join(lines)


def reflector_support() -> tuple[bool, str]:
    """Whether our configuration has ``route_reflector_client`` (and ``cluster_id``)."""
    from evpn.config import PeerConfig, SpeakerConfig

    if "route_reflector_client" not in attrs.fields_dict(PeerConfig):
        return False, ""
    extra = f'cluster_id = "{RECEIVER}"' if "cluster_id" in attrs.fields_dict(SpeakerConfig) else ""
    return True, extra


# --- measurements --------------------------------------------------------------------------------


@dataclass
class Result:
    """One measurement."""

    test: str
    """``ingest`` or ``fanout``."""
    implementation: str
    routes: int
    seconds: float
    rss_before: int
    rss_after: int
    rss_settled: int
    others: float = 0.0
    """CPUs kept busy by processes other than the benchmark's meanwhile (:class:`CpuWatch`)."""
    peers: int = 1
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.routes / self.seconds

    @property
    def growth(self) -> int:
        return self.rss_after - self.rss_before

    @property
    def settled_growth(self) -> int:
        return self.rss_settled - self.rss_before


def ingest_timeout(n_routes: int) -> float:
    return 120 + n_routes / 2000


def measure_evpn_ingest(workload: Path, n_routes: int, profile: Path | None = None, profiler: str = "") -> Result:
    with Lab() as lab:
        rx, tx = lab.pair([RECEIVER], [SENDER])
        conf = Path(tempfile.mkdtemp(prefix=f"{rx.name}-")) / "speaker.toml"
        try:
            conf.write_text(
                speaker_toml([{"address": SENDER, "asn": PEER_AS, "passive": True, "families": ["l2vpn-evpn"]}])
            )
            env = dict(RECEIVER_GC)
            if profile:
                env.update(EVPN_BENCH_PROFILE=str(profile), EVPN_BENCH_PROFILER=profiler)
            speaker = lab.child(rx, "evpn speaker", "speaker", conf, env=env)
            ready = speaker.wait("ready", 60)
            watch = CpuWatch(speaker.pid)
            sender = lab.child(
                tx, "sender", "send", "--local", SENDER, "--remote", RECEIVER, "--asn", str(PEER_AS),
                "--updates", workload,
            )  # fmt: skip
            watch.track(sender.pid)
            eor = speaker.wait("end_of_rib", ingest_timeout(n_routes), peer=SENDER)
            others = watch.others()
            up = speaker.wait("peer_up", 10, peer=SENDER)
            sent = sender.wait("sent", 60)
            time.sleep(SETTLE)
            settled = rss_of(speaker.pid)
        finally:
            shutil.rmtree(conf.parent, ignore_errors=True)
    if eor["routes"] != n_routes:
        raise SystemExit(f"evpn: EndOfRib reported {eor['routes']} routes, expected {n_routes}")
    return Result(
        "ingest", EVPN, n_routes, eor["time"] - sent["start"], ready["rss"], eor["rss"], settled, others=others,
        details={
            "filtered_events": ready["filtered"],
            "send_seconds": sent["end"] - sent["start"],
            "octets": sent["octets"],
            "receiver_cpu_seconds": round(eor["cpu_seconds"] - up["cpu_seconds"], 3),
            "gc_collections": [a - b for a, b in zip(eor["gc"]["collections"], up["gc"]["collections"], strict=True)],
            "gc_seconds": [round(a - b, 3) for a, b in zip(eor["gc"]["seconds"], up["gc"]["seconds"], strict=True)],
        },
    )  # fmt: skip


def poll_frr(bgpd: Bgpd, peers: Sequence[str], n_routes: int, timeout: float) -> tuple[float, float, int]:
    """Poll ``pfxRcd`` every :data:`POLL_INTERVAL` until every peer in ``peers`` has ``n_routes``;
    return the time.time() of the answer that showed it, of the answer before, and the polls."""
    deadline = time.monotonic() + timeout
    before = time.time()
    polls = 0
    while True:
        counts = [bgpd.received(peer) for peer in peers]
        now = time.time()
        polls += 1
        if all(count >= n_routes for count in counts):
            return now, before, polls
        if bgpd.proc.poll() is not None:
            raise RuntimeError(f"bgpd exited {bgpd.proc.returncode}: {bgpd.log_tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"FRR holds {counts} of {n_routes} routes after {timeout:g} s")
        before = now
        time.sleep(POLL_INTERVAL)


def measure_frr_ingest(workload: Path, n_routes: int) -> Result:
    with Lab() as lab:
        rx, tx = lab.pair([RECEIVER], [SENDER])
        bgpd = lab.bgpd(rx, bgpd_conf([SENDER], PEER_AS))
        rss_before = rss_of(bgpd.pid)
        watch = CpuWatch(bgpd.pid)
        sender = lab.child(
            tx, "sender", "send", "--local", SENDER, "--remote", RECEIVER, "--asn", str(PEER_AS),
            "--updates", workload,
        )  # fmt: skip
        watch.track(sender.pid)
        sender.wait("established", 60)
        done, before, polls = poll_frr(bgpd, [SENDER], n_routes, ingest_timeout(n_routes))
        others = watch.others()
        rss_after = rss_of(bgpd.pid)
        sent = sender.wait("sent", 60)
        time.sleep(SETTLE)
        settled = rss_of(bgpd.pid)
        version = subprocess.run([BGPD, "--version"], capture_output=True, text=True, check=False).stdout
    return Result(
        "ingest", "FRR bgpd", n_routes, done - sent["start"], rss_before, rss_after, settled, others=others,
        details={"previous_poll_seconds": max(0.0, before - sent["start"]), "polls": polls,
                 "send_seconds": sent["end"] - sent["start"], "octets": sent["octets"],
                 "version": version.splitlines()[0] if version else "?"},
    )  # fmt: skip


def _fanout(
    lab: Lab, tx: Namespace, workload: Path, n_routes: int, clients: Sequence[str], reflector: int
) -> tuple[dict[str, Any], dict[str, Any], float]:
    """Connect the counting clients, then the sender; wait until every client holds every route.
    Return the clients' ``all_complete``, the sender's ``sent`` and the others' CPU meanwhile."""
    counting = lab.child(
        tx, "clients", "clients", "--local", ",".join(clients), "--remote", RECEIVER, "--asn", str(LOCAL_AS),
        "--expect", str(n_routes),
    )  # fmt: skip
    counting.wait("all_established", 60)
    time.sleep(FANOUT_SETTLE)  # let session start-up work (FRR's update-group coalescing) finish first
    watch = CpuWatch(reflector, counting.pid)
    clients_cpu = cpu_of(counting.pid)
    sender = lab.child(
        tx, "sender", "send", "--local", SENDER, "--remote", RECEIVER, "--asn", str(LOCAL_AS), "--updates", workload
    )
    watch.track(sender.pid)
    complete = counting.wait("all_complete", ingest_timeout(n_routes * len(clients)))
    others = watch.others()
    if not complete["verified"]:
        raise SystemExit(
            f"fan-out: the clients hold {complete['routes']} distinct routes (or bad UPDATEs), not {n_routes}"
        )
    sent = sender.wait("sent", 60)
    complete["window_cpu_seconds"] = round(complete["cpu_seconds"] - clients_cpu, 3)
    return complete, sent, others


def measure_evpn_fanout(
    workload: Path, n_routes: int, n_clients: int, cluster: str, profile: Path | None = None
) -> Result:
    clients = [client_address(i) for i in range(n_clients)]
    with Lab() as lab:
        rx, tx = lab.pair([RECEIVER], [SENDER, *clients])
        conf = Path(tempfile.mkdtemp(prefix=f"{rx.name}-")) / "speaker.toml"
        try:
            peer = {"asn": LOCAL_AS, "passive": True, "families": ["l2vpn-evpn"], "route_reflector_client": True}
            conf.write_text(speaker_toml([{"address": a, **peer} for a in [SENDER, *clients]], extra_speaker=cluster))
            env = dict(RECEIVER_GC)
            if profile:
                env |= {
                    "EVPN_BENCH_PROFILE": str(profile),
                    "EVPN_BENCH_PROFILER": "sample",
                    "EVPN_BENCH_PROFILE_PEER": SENDER,
                    "EVPN_BENCH_PROFILE_UNTIL": "signal",
                }
            speaker = lab.child(rx, "evpn reflector", "speaker", conf, env=env)
            ready = speaker.wait("ready", 60)
            complete, sent, others = _fanout(lab, tx, workload, n_routes, clients, speaker.pid)
            rss_after = rss_of(speaker.pid)
            os.kill(speaker.pid, signal.SIGUSR1)  # CPU and GC figures now (and the end of a profile)
            stats = speaker.wait("stats", 30)
            up = speaker.wait("peer_up", 10, peer=SENDER)
            eor = speaker.wait("end_of_rib", 60, peer=SENDER)
            if profile:
                speaker.wait("profile_written", 30)
            time.sleep(SETTLE)
            settled = rss_of(speaker.pid)
        finally:
            shutil.rmtree(conf.parent, ignore_errors=True)
    return Result(
        "fanout", EVPN, n_routes, complete["time"] - sent["start"], ready["rss"], rss_after, settled, others=others,
        peers=n_clients,
        details={
            "reflector_end_of_rib_seconds": eor["time"] - sent["start"],
            "reflector_cpu_seconds": round(stats["cpu_seconds"] - up["cpu_seconds"], 3),
            "gc_collections": [a - b for a, b in zip(stats["gc"]["collections"], up["gc"]["collections"], strict=True)],
            "gc_seconds": [round(a - b, 3) for a, b in zip(stats["gc"]["seconds"], up["gc"]["seconds"], strict=True)],
            "verified": complete["verified"],
            "client_routes": complete["routes"],
            "clients_cpu_seconds": complete["window_cpu_seconds"],
        },
    )  # fmt: skip


def measure_frr_fanout(workload: Path, n_routes: int, n_clients: int) -> Result:
    clients = [client_address(i) for i in range(n_clients)]
    with Lab() as lab:
        rx, tx = lab.pair([RECEIVER], [SENDER, *clients])
        bgpd = lab.bgpd(rx, bgpd_conf([SENDER, *clients], LOCAL_AS, reflector=True))
        rss_before = rss_of(bgpd.pid)
        complete, sent, others = _fanout(lab, tx, workload, n_routes, clients, bgpd.pid)
        rss_after = rss_of(bgpd.pid)
        time.sleep(SETTLE)
        settled = rss_of(bgpd.pid)
    return Result(
        "fanout", "FRR bgpd", n_routes, complete["time"] - sent["start"], rss_before, rss_after, settled,
        others=others, peers=n_clients,
        details={"verified": complete["verified"], "client_routes": complete["routes"],
                 "clients_cpu_seconds": complete["window_cpu_seconds"]},
    )  # fmt: skip


# --- report --------------------------------------------------------------------------------------


def _mib(octets: int) -> str:
    return f"{octets / 2**20:,.1f} MiB"


def best(results: Sequence[Result]) -> Result:
    """The fastest run among those the rest of the machine left alone (all runs if none was)."""
    quiet = [r for r in results if r.others <= NOISE] or list(results)
    return min(quiet, key=lambda r: r.seconds)


def report(groups: dict[tuple[str, str, int], list[Result]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Print the Markdown table and the goal checks; return both for JSON."""
    rows: list[dict[str, Any]] = []
    print("| test | implementation | routes | seconds | routes/s | evpn ÷ FRR | RSS growth | bytes/route |")
    print("|---|---|--:|--:|--:|--:|--:|--:|")
    for (test, implementation, n_routes), results in groups.items():
        result = best(results)
        frr = groups.get((test, "FRR bgpd", n_routes))
        ratio = result.rate / best(frr).rate if frr and implementation == EVPN else None
        what = "ingest" if test == "ingest" else f"RR fan-out 1→{result.peers}"
        rate = f"{result.rate:,.0f}"
        if test == "fanout":
            rate += f" ({result.rate * result.peers:,.0f} delivered)"
        print(
            f"| {what} | {implementation} | {n_routes:,} | {result.seconds:.2f} | {rate} | "
            f"{'' if ratio is None else f'{ratio:.2f}'} | {_mib(result.growth)} | "
            f"{result.growth / n_routes:,.0f} |"
        )
        rows.append(
            {
                "test": test,
                "implementation": implementation,
                "routes": n_routes,
                "peers": result.peers,
                "seconds": round(result.seconds, 4),
                "routes_per_second": round(result.rate),
                "delivered_per_second": round(result.rate * result.peers),
                "ratio_evpn_frr": None if ratio is None else round(ratio, 3),
                "rss_growth": result.growth,
                "bytes_per_route": round(result.growth / n_routes, 1),
                "others_cpus": round(result.others, 3),
                "settled_rss_growth": result.settled_growth,
                "settled_bytes_per_route": round(result.settled_growth / n_routes, 1),
                "runs": [asdict(r) for r in results],
            }
        )
    print()
    print(
        f"seconds: best of the runs (of those during which other processes used ≤ {NOISE} CPUs, if any), "
        "from the sender's first UPDATE octet to evpn's EndOfRib event / the first "
        f"FRR pfxRcd poll (every {POLL_INTERVAL * 1000:.0f} ms) showing every route / the last client holding "
        "every route; RSS growth: receiver's VmRSS at the end of that run minus before its session"
    )
    noisy = [(key, best(results)) for key, results in groups.items() if best(results).others > NOISE]
    for (test, implementation, n_routes), result in noisy:
        print(
            f"warning: other processes kept {result.others:.2f} CPUs busy during the best {test} run of "
            f"{implementation} at {n_routes:,} routes: it may be slower than on a quiet machine"
        )
    goals: list[dict[str, Any]] = []
    for (test, implementation, n_routes), results in groups.items():
        if test != "ingest" or implementation != "evpn":  # the goals are for evpn as it comes
            continue
        speed = best(results).rate
        goals.append(
            {
                "goal": f"evpn ingest ≥ {RATE_TARGET:,} routes/s at N = {n_routes:,}",
                "value": round(speed),
                "ok": speed >= RATE_TARGET,
            }
        )
        if n_routes == MEMORY_SIZE:
            growth = max(r.growth for r in results) / n_routes
            goals.append(
                {
                    "goal": f"evpn RSS growth ≤ {MEMORY_TARGET} octets/route at N = {n_routes:,}",
                    "value": round(growth),
                    "ok": growth <= MEMORY_TARGET,
                }
            )
    if goals:
        print()
    for goal in goals:
        print(f"{'PASS' if goal['ok'] else 'FAIL'}  {goal['goal']:48} {goal['value']:>10,}")
    return rows, goals


def print_cprofile(path: Path, n_routes: int, top: int = 20) -> None:
    stats: Any = pstats.Stats(str(path))
    entries = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)
    total = sum(tottime for (_, _, tottime, _, _) in stats.stats.values())
    print(f"\ncProfile of the evpn receiver from PeerUp to EndOfRib, {n_routes:,} routes")
    print(f"total {total * 1e6 / n_routes:.2f} µs/route under cProfile (its cost per call inflates small functions)")
    print(f"{'own µs/route':>12} {'cum µs/route':>12} {'calls/route':>11}  function")
    for (filename, line, name), (_, calls, tottime, cumtime, _) in entries[:top]:
        where = f"{'/'.join(Path(filename).parts[-2:])}:{line}({name})" if line else name
        print(f"{tottime * 1e6 / n_routes:12.3f} {cumtime * 1e6 / n_routes:12.3f} {calls / n_routes:11.3f}  {where}")


def print_samples(
    path: Path, result: Result, what: str = "evpn receiver from PeerUp to EndOfRib", top: int = 20
) -> None:
    data = json.loads(path.read_text())
    samples = data["samples"] or 1
    per_route = result.seconds * 1e6 / result.routes
    print(
        f"\nSampled profile of the {what}, {result.routes:,} routes in "
        f"{result.seconds:.2f} s ({per_route:.2f} µs/route with the sampler on), {data['samples']:,} samples"
    )
    print(f"GC meanwhile: {result.details.get('gc_collections')} collections per generation, "
          f"{result.details.get('gc_seconds')} s")  # fmt: skip
    for title, counts in (("own (where it runs)", data["own"]), ("cumulative (on the stack)", data["cumulative"])):
        print(f"{'%':>6} {'µs/route':>9}  {title}")
        for where, count in sorted(counts.items(), key=lambda item: item[1], reverse=True)[:top]:
            print(f"{100 * count / samples:6.1f} {per_route * count / samples:9.2f}  {where}")


# --- main ----------------------------------------------------------------------------------------


def prerequisites(skip_frr: bool) -> str | None:
    """Why the benchmark cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    if not Path(IP).exists():
        return "needs iproute2's ip"
    if not skip_frr and not (BGPD.exists() and Path(VTYSH).exists()):
        return f"needs FRR ({BGPD} and vtysh; or pass --skip-frr)"
    return None


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of numbers: {text!r}") from None
    if not sizes or any(n < 1 for n in sizes):
        raise argparse.ArgumentTypeError("sizes must be positive")
    return sizes


def evpn_source() -> str:
    """Where ``evpn`` is imported from, with its git commit (and whether it has local changes)."""
    import evpn

    package = Path(evpn.__file__).resolve().parent
    where = str(package)
    git = shutil.which("git")
    if git:
        tracked = subprocess.run(
            [git, "-C", package, "ls-files", "--error-unmatch", "__init__.py"], capture_output=True, check=False
        )
        head = subprocess.run(
            [git, "-C", package, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        )
        if tracked.returncode == 0 and head.returncode == 0:  # a checkout, not an installed copy
            dirty = subprocess.run(
                [git, "-C", package, "status", "--porcelain", "--", "."], capture_output=True, text=True, check=False
            )
            where += f" (commit {head.stdout.strip()}{', with local changes' if dirty.stdout.strip() else ''})"
    return where


def cpu_busy(seconds: float = 1.0) -> float:
    """The share of all CPUs busy over ``seconds`` (from /proc/stat), before we start anything."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat", encoding="ascii") as stat:
            values = [int(v) for v in stat.readline().split()[1:]]
        idle = values[3] + values[4]  # idle, iowait
        return sum(values), idle

    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    return 1 - (idle1 - idle0) / max(1, total1 - total0)


def run_ingest(
    groups: dict[tuple[str, str, int], list[Result]], workdir: Path, n_routes: int, repeats: int, *, frr: bool
) -> None:
    """Ingest ``n_routes`` ``repeats`` times into evpn and FRR, taking turns."""
    workload, octets = write_workload(workdir, n_routes)
    print(f"workload: {n_routes:,} type-2 routes, {octets:,} octets of UPDATEs", flush=True)
    try:
        for _ in range(repeats):
            result = measure_evpn_ingest(workload, n_routes)
            groups.setdefault(("ingest", EVPN, n_routes), []).append(result)
            print(f"  evpn ingest {n_routes:,}: {result.seconds:.2f} s", flush=True)
            if frr:
                result = measure_frr_ingest(workload, n_routes)
                groups.setdefault(("ingest", "FRR bgpd", n_routes), []).append(result)
                print(f"  FRR  ingest {n_routes:,}: {result.seconds:.2f} s", flush=True)
    finally:
        workload.unlink()


def run_fanout(
    groups: dict[tuple[str, str, int], list[Result]],
    workdir: Path,
    args: argparse.Namespace,
    *,
    evpn: bool,
    cluster: str,
) -> None:
    """Route-reflector fan-out ``args.repeats`` times through evpn (if ``evpn``) and FRR, taking turns."""
    n_routes = args.fanout_routes
    workload, _ = write_workload(workdir, n_routes, ibgp=True)
    try:
        for _ in range(args.repeats):
            if evpn:
                result = measure_evpn_fanout(workload, n_routes, args.peers, cluster)
                groups.setdefault(("fanout", EVPN, n_routes), []).append(result)
                print(f"  evpn fan-out 1→{args.peers}: {result.seconds:.2f} s", flush=True)
            if not args.skip_frr:
                result = measure_frr_fanout(workload, n_routes, args.peers)
                groups.setdefault(("fanout", "FRR bgpd", n_routes), []).append(result)
                print(f"  FRR  fan-out 1→{args.peers}: {result.seconds:.2f} s", flush=True)
    finally:
        workload.unlink()


def run_profiles(workdir: Path, args: argparse.Namespace, *, fanout: bool, cluster: str) -> None:
    """Profile the evpn receiver at the smallest size (sampled, then cProfile), and the reflector."""
    n_routes = min(args.sizes)
    workload, _ = write_workload(workdir, n_routes)
    samples = workdir / "receiver.samples.json"
    print_samples(samples, measure_evpn_ingest(workload, n_routes, samples, "sample"))
    profile = workdir / "receiver.prof"
    measure_evpn_ingest(workload, n_routes, profile, "cprofile")
    print_cprofile(profile, n_routes)
    workload.unlink()
    if fanout:
        workload, _ = write_workload(workdir, args.fanout_routes, ibgp=True)
        samples = workdir / "reflector.samples.json"
        result = measure_evpn_fanout(workload, args.fanout_routes, args.peers, cluster, samples)
        print_samples(samples, result, "evpn route reflector from the sender's PeerUp to the last client's last route")
        workload.unlink()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--sizes", type=_sizes, default=list(DEFAULT_SIZES), help="routes per ingest run (default 200000,1000000)"
    )
    parser.add_argument("--skip-frr", action="store_true", help="measure evpn only")
    parser.add_argument(
        "--fanout", action=argparse.BooleanOptionalAction, default=True, help="route-reflector fan-out (default on)"
    )
    parser.add_argument("--peers", type=int, default=10, help="receiving route-reflector clients (default 10)")
    parser.add_argument(
        "--fanout-routes", type=int, default=FANOUT_ROUTES, help="routes the sending client sends (default 200000)"
    )
    parser.add_argument(
        "--repeats", type=int, default=1, help="runs per case, the fastest undisturbed one counts (default 1)"
    )
    parser.add_argument(
        "--receiver-gc",
        metavar="off|T0,T1,T2",
        help="diagnostic: run our speaker with the garbage collector off or with gc.set_threshold(T0, T1, T2)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE ('-' for stdout)")
    parser.add_argument("--profile", action="store_true", help="then profile the evpn receiver at the smallest size")
    args = parser.parse_args(argv)
    if args.peers < 1 or args.repeats < 1 or args.fanout_routes < 1:
        parser.error("--peers, --repeats and --fanout-routes must be positive")
    if args.peers > 200:
        parser.error("--peers: at most 200 (the clients are 198.18.0.10 and up)")
    out = sys.stderr if args.json == "-" else sys.stdout
    if args.receiver_gc:
        spec = args.receiver_gc.replace(" ", "")
        if spec != "off" and not (len(spec.split(",")) == 3 and all(t.isdigit() for t in spec.split(","))):
            parser.error("--receiver-gc takes off or three thresholds T0,T1,T2")
        global EVPN
        RECEIVER_GC["EVPN_BENCH_GC"] = spec
        EVPN = f"evpn (gc {spec})" if spec == "off" else f"evpn (gc.set_threshold({spec}))"

    why = prerequisites(args.skip_frr)
    if why:
        print(f"bench_ingest: skipped: {why}", file=out)
        return 0

    def terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")  # unwind through the finally blocks that clean up

    signal.signal(signal.SIGTERM, terminate)

    groups: dict[tuple[str, str, int], list[Result]] = {}
    notes: list[str] = []
    workdir = Path(tempfile.mkdtemp(prefix="evpnbench-"))
    workdir.chmod(0o755)
    busy = cpu_busy()
    source = evpn_source()
    with contextlib.redirect_stdout(out):
        try:
            print(
                f"machine: {os.cpu_count()} CPUs, {platform.python_implementation()} {platform.python_version()} "
                f"on {platform.platform()}; CPU busy before the run: {busy:.0%}"
            )
            print(f"evpn {metadata.version('evpn')} from {source}")
            if busy > 0.1:
                print("warning: other processes are using the CPUs: the timings will be slower and noisier")
            for n_routes in args.sizes:
                run_ingest(groups, workdir, n_routes, args.repeats, frr=not args.skip_frr)
            supported, cluster = reflector_support()
            if args.fanout:
                if not supported:
                    notes.append(
                        "evpn route-reflector fan-out skipped: evpn.PeerConfig has no route_reflector_client option yet"
                    )
                run_fanout(groups, workdir, args, evpn=supported, cluster=cluster)
            print()
            rows, goals = report(groups)
            for note in notes:
                print(note)
            if args.profile:
                run_profiles(workdir, args, fanout=args.fanout and supported, cluster=cluster)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    if args.json:
        document = {
            "benchmark": "bench_ingest",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {
                "cpus": os.cpu_count(),
                "platform": platform.platform(),
                "python": platform.python_version(),
                "cpu_busy_before": round(busy, 3),
            },
            "evpn": metadata.version("evpn"),
            "evpn_source": source,
            "results": rows,
            "goals": goals,
            "notes": notes,
        }
        text = json.dumps(document, indent=2) + "\n"
        if args.json == "-":
            sys.stdout.write(text)
        else:
            Path(args.json).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
