"""The interop lab: network namespaces, FRR, GoBGP and our speaker, each driven as a subprocess.

Rules (``shared/notes/interop-lab.md``): only namespaces created here, each with a unique name per
run; only addresses from 198.18.0.0/15, assigned inside those namespaces; every process is started
here and stopped here by its PID (never by name), and everything is stopped in ``finally``.

Every daemon runs in the foreground as our child (``ip netns exec`` execs it, so the PID we started is
the daemon's PID and the one its pid file holds), which lets us stop and reap it without guessing.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, TypeVar

T = TypeVar("T")

IP = shutil.which("ip") or "/usr/sbin/ip"
FRR_DIR = Path("/usr/lib/frr")
ZEBRA = FRR_DIR / "zebra"
BGPD = FRR_DIR / "bgpd"
VTYSH = shutil.which("vtysh") or "/usr/bin/vtysh"
GOBGPD = shutil.which("gobgpd") or "/usr/bin/gobgpd"
GOBGP = shutil.which("gobgp") or "/usr/bin/gobgp"
FRR_RUN_DIR = Path("/var/run/frr")

_serial = itertools.count(1)


def unique_name(prefix: str) -> str:
    """A name unique to this run: PREFIX-PID-N (a crashed run's leftovers never collide with it)."""
    return f"{prefix}-{os.getpid()}-{next(_serial)}"


def _tail(path: Path, limit: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return ""


def _short(value: object, limit: int = 3000) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text) - limit} more characters)"


# --- waiting -------------------------------------------------------------------------------------


class ProcessDiedError(RuntimeError):
    """A process the lab started has exited: :func:`wait_for` stops waiting at once."""


def wait_for(
    predicate: Callable[..., Any],
    timeout: float,
    *,
    probe: Callable[[], T] | None = None,
    what: str = "condition",
    interval: float = 0.2,
) -> Any:
    """Poll until ``predicate`` holds and return what it held on.

    Without ``probe``: ``predicate()`` is polled and its first truthy value is returned.
    With ``probe``: ``state = probe()`` is polled and the first ``state`` for which
    ``predicate(state)`` is truthy is returned.  On timeout an AssertionError names ``what`` and shows
    the last observed value (or the exception the last poll raised).
    """
    deadline = time.monotonic() + timeout
    last: object = "<never polled>"
    while True:
        try:
            if probe is None:
                last = predicate()
                if last:
                    return last
            else:
                state = probe()
                last = state
                if predicate(state):
                    return state
        except ProcessDiedError:
            raise
        except Exception as exc:  # the daemon may not answer yet: keep polling, remember why
            last = f"{type(exc).__name__}: {exc}"
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; last observed: {_short(last)}")
        time.sleep(interval)


# --- processes -----------------------------------------------------------------------------------


def stop_process(proc: subprocess.Popen[Any], timeout: float = 5.0) -> int | None:
    """Stop one child we started: SIGTERM, then SIGKILL after ``timeout``; reap it; return its exit code."""
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


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


# --- namespaces ----------------------------------------------------------------------------------


class Namespace:
    """A network namespace of our own, deleted again by :meth:`delete` (or the ``with`` block)."""

    def __init__(self, prefix: str = "evpn") -> None:
        self.name = unique_name(prefix)
        self.created = False

    def __repr__(self) -> str:
        return f"Namespace({self.name!r})"

    def create(self) -> Namespace:
        subprocess.run([IP, "netns", "add", self.name], check=True, capture_output=True, text=True)
        self.created = True
        self.ip("link", "set", "lo", "up")
        return self

    def delete(self) -> None:
        if self.created:
            subprocess.run([IP, "netns", "delete", self.name], check=False, capture_output=True)
            self.created = False

    def __enter__(self) -> Namespace:
        return self.create()

    def __exit__(self, *_: object) -> None:
        self.delete()

    def argv(self, *args: str | os.PathLike[str]) -> list[str]:
        """The command line that runs ``args`` inside this namespace."""
        return [IP, "netns", "exec", self.name, *map(str, args)]

    def run(
        self, *args: str | os.PathLike[str], check: bool = True, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside the namespace and return its output (raise with stderr on failure)."""
        result = subprocess.run(self.argv(*args), capture_output=True, text=True, timeout=timeout, check=False)
        if check and result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(map(str, args))} in {self.name} exited {result.returncode}: {result.stderr.strip()}"
            )
        return result

    def ip(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``ip -n NAME ARGS``."""
        result = subprocess.run([IP, "-n", self.name, *args], capture_output=True, text=True, check=False)
        if check and result.returncode != 0:
            raise RuntimeError(f"ip -n {self.name} {' '.join(args)}: {result.stderr.strip()}")
        return result

    def sysctl(self, key: str, value: str) -> None:
        self.run("sysctl", "-q", "-w", f"{key}={value}")

    def veth_to(self, other: Namespace, local: tuple[str, str], remote: tuple[str, str]) -> None:
        """A veth pair created directly inside the two namespaces (never in the host's):
        ``local = (ifname, "198.18.0.1/24")`` here and ``remote`` in ``other``, both up."""
        (local_if, local_addr), (remote_if, remote_addr) = local, remote
        self.ip("link", "add", local_if, "type", "veth", "peer", "name", remote_if, "netns", other.name)
        self.ip("addr", "add", local_addr, "dev", local_if)
        other.ip("addr", "add", remote_addr, "dev", remote_if)
        self.ip("link", "set", local_if, "up")
        other.ip("link", "set", remote_if, "up")

    def add_vxlan_bridge(self, vni: int, local_ip: str, *, host_mac: str | None = None) -> None:
        """``br{vni}`` with ``vxlan{vni}`` (learning off, dstport 4789, ``local_ip``) in it, and, when
        ``host_mac`` is given, a veth whose namespace-side end has that MAC in the bridge, so FRR sees a
        local MAC to advertise as a type-2 route."""
        bridge, vxlan = f"br{vni}", f"vxlan{vni}"
        self.ip("link", "add", bridge, "type", "bridge", "stp_state", "0")
        self.ip(
            "link", "add", vxlan, "type", "vxlan", "id", str(vni), "local", local_ip,
            "dstport", "4789", "nolearning",
        )  # fmt: skip
        self.ip("link", "set", vxlan, "master", bridge)
        self.ip("link", "set", vxlan, "up")
        self.ip("link", "set", bridge, "up")
        if host_mac is not None:
            host_if, port_if = f"h{vni}", f"hp{vni}"
            self.ip("link", "add", port_if, "type", "veth", "peer", "name", host_if)
            self.ip("link", "set", host_if, "address", host_mac)
            self.ip("link", "set", port_if, "master", bridge)
            self.ip("link", "set", port_if, "up")
            self.ip("link", "set", host_if, "up")
            # A static entry makes the MAC known at once (no need to wait for traffic to be learned).
            self.run("bridge", "fdb", "replace", host_mac, "dev", port_if, "master", "static")

    def add_bridge_host(
        self,
        bridge: str,
        host: Namespace,
        *,
        port: str,
        mac: str,
        address: str | None = None,
        static_fdb: bool = True,
    ) -> None:
        """A host in namespace ``host`` on ``bridge`` here: a veth with ``port`` in the bridge and
        ``eth0`` (MAC ``mac``, optional ``address``) in ``host``, both up, and ``mac`` in the
        bridge's FDB on ``port`` (:meth:`fdb_learn`; with ``static_fdb=False`` the bridge only
        learns it from the host's own traffic).

        Unlike ``add_vxlan_bridge(host_mac=...)``, the host's MAC is not an interface MAC of this
        namespace: bgpd refuses a received route for one of its own MACs ("DENIED due to: self
        mac"), so a MAC that is to move between FRR and another VTEP must live elsewhere.  The host
        has IPv6 off, so it sends nothing by itself (no DAD, router solicitation or MLD frames) and
        the bridge learns its MAC only from :meth:`fdb_learn` or traffic the test makes."""
        host.sysctl("net.ipv6.conf.all.disable_ipv6", "1")
        host.sysctl("net.ipv6.conf.default.disable_ipv6", "1")
        self.ip("link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", host.name)
        host.ip("link", "set", "eth0", "address", mac)
        if address is not None:
            host.ip("addr", "add", address, "dev", "eth0")
        host.ip("link", "set", "eth0", "up")
        self.ip("link", "set", port, "master", bridge)
        self.ip("link", "set", port, "up")
        if static_fdb:
            self.fdb_learn(mac, port)

    def fdb_learn(self, mac: str, port: str) -> None:
        """``bridge fdb replace MAC dev PORT master static``: the bridge knows ``mac`` behind
        ``port`` at once (as if learned from the host's traffic), and zebra sees a local MAC."""
        self.run("bridge", "fdb", "replace", mac, "dev", port, "master", "static")

    def add_evpn_vni(self, vni: int, local_ip: str, *, bridge_mac: str | None = None, svi: str | None = None) -> None:
        """An EVPN VNI as FRR and ``evpn`` expect it (``docs/dataplane.md``): ``br{vni}`` (STP off,
        MAC ``bridge_mac`` if given, address ``svi`` if given) with ``vxlan{vni}`` (``local_ip``,
        dstport 4789, ``nolearning``) in it, the port flags ``neigh_suppress on learning off``
        (ARP/ND suppression, no data-plane learning on the tunnel), all up."""
        bridge, vxlan = f"br{vni}", f"vxlan{vni}"
        self.ip("link", "add", bridge, "type", "bridge", "stp_state", "0")
        if bridge_mac is not None:
            self.ip("link", "set", bridge, "address", bridge_mac)
        self.ip(
            "link", "add", vxlan, "type", "vxlan", "id", str(vni), "local", local_ip,
            "dstport", "4789", "nolearning",
        )  # fmt: skip
        self.ip("link", "set", vxlan, "master", bridge)
        self.run("bridge", "link", "set", "dev", vxlan, "neigh_suppress", "on", "learning", "off")
        if svi is not None:
            self.ip("addr", "add", svi, "dev", bridge)
        self.ip("link", "set", vxlan, "up")
        self.ip("link", "set", bridge, "up")

    def json(self, *argv: str) -> Any:
        """The JSON a command inside the namespace prints (``bridge -j ...``, ``ip -j ...``;
        empty output is ``[]``)."""
        text = self.run(*argv).stdout.strip()
        return json.loads(text) if text else []

    def fdb(self, dev: str) -> list[dict[str, Any]]:
        """``bridge -j fdb show dev DEV``: every forwarding entry of the device and of its bridge port."""
        return list(self.json("bridge", "-j", "fdb", "show", "dev", dev))

    def neighbors(self, dev: str) -> list[dict[str, Any]]:
        """``ip -j neigh show dev DEV`` (``dst``, ``lladdr``, ``state``, and ``flags``/``protocol``
        when set)."""
        return list(self.json(IP, "-j", "neigh", "show", "dev", dev))

    def routes(self, *selector: str) -> list[dict[str, Any]]:
        """``ip -j route show SELECTOR...`` (the main table unless ``table`` is given)."""
        return list(self.json(IP, "-j", "route", "show", *selector))

    def ping(self, address: str, *, count: int = 1, wait: float = 1.0) -> bool:
        """Whether ``ping -c COUNT -W WAIT ADDRESS`` from this namespace got a reply."""
        result = self.run("ping", "-n", "-q", "-c", str(count), "-W", f"{wait:g}", address, check=False)
        return result.returncode == 0

    def kernel_state(self, *devices: str) -> str:
        """``bridge fdb``, ``ip neigh`` and ``ip route`` (every table) of this namespace as text,
        for a failed test's report (``devices``: only their FDBs)."""
        commands: list[list[str]] = [["bridge", "fdb", "show", *(("dev", d) if d else ())] for d in devices or ("",)]
        commands += [[IP, "neigh", "show"], [IP, "route", "show", "table", "all"], [IP, "-br", "link"]]
        parts = []
        for argv in commands:
            result = self.run(*argv, check=False)
            name = " ".join(Path(argv[0]).name if i == 0 else a for i, a in enumerate(argv))
            parts.append(f"--- {self.name}: {name}\n{(result.stdout + result.stderr).strip()}")
        return "\n".join(parts)


@contextlib.contextmanager
def namespaces(*prefixes: str) -> Iterator[list[Namespace]]:
    """Create one namespace per prefix; delete them all afterwards, whatever happened."""
    made: list[Namespace] = []
    try:
        for prefix in prefixes:
            made.append(Namespace(prefix).create())
        yield made
    finally:
        for ns in reversed(made):
            ns.delete()


# --- packet captures -----------------------------------------------------------------------------

TCPDUMP = shutil.which("tcpdump") or "/usr/bin/tcpdump"
VXLAN_PORT = 4789


class Capture:
    """``tcpdump -w`` on one interface inside a namespace: started as our child and stopped by its PID
    (``ip netns exec`` execs tcpdump, so that PID is tcpdump's); :meth:`vxlan` decodes what it saw.

    Use it as a context manager, or :meth:`start` and :meth:`stop` (also safe after a failed start)."""

    def __init__(self, ns: Namespace, interface: str, path: Path, bpf: str = f"udp port {VXLAN_PORT}") -> None:
        self.ns, self.interface, self.path, self.bpf = ns, interface, path, bpf
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = path.with_suffix(".log")

    def start(self, timeout: float = 10) -> Capture:
        with open(self._log, "wb") as log:
            self.proc = subprocess.Popen(
                self.ns.argv(TCPDUMP, "-i", self.interface, "-n", "--immediate-mode", "-U", "-w", self.path, self.bpf),
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip

        def listening() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise ProcessDiedError(f"tcpdump in {self.ns.name} exited {self.proc.returncode}: {_tail(self._log)}")
            return "listening on" in _tail(self._log)

        wait_for(listening, timeout, what=f"tcpdump on {self.interface} in {self.ns.name}", interval=0.05)
        return self

    def stop(self, linger: float = 0.3) -> None:
        """Stop tcpdump (SIGTERM to its PID) once ``linger`` seconds have let it write the last packets."""
        if self.proc is not None:
            if self.proc.poll() is None:
                time.sleep(linger)
            stop_process(self.proc)
            self.proc = None

    def __enter__(self) -> Capture:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def vxlan(self) -> list[dict[str, Any]]:
        """The VXLAN packets captured so far (:func:`decode_vxlan`; others left out)."""
        return [d for frame in read_pcap(self.path) if (d := decode_vxlan(frame)) is not None]


def read_pcap(path: Path) -> list[bytes]:
    """The frames of a classic pcap file of Ethernet frames (what ``tcpdump -w`` writes)."""
    data = path.read_bytes() if path.exists() else b""
    if len(data) < 24:
        return []
    endian = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    if struct.unpack(endian + "I", data[20:24])[0] != 1:  # LINKTYPE_ETHERNET
        raise ValueError(f"{path}: not an Ethernet capture")
    frames, offset = [], 24
    while offset + 16 <= len(data):
        captured = struct.unpack(endian + "I", data[offset + 8 : offset + 12])[0]
        offset += 16
        frames.append(data[offset : offset + captured])
        offset += captured
    return frames


def _mac_text(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def _ip_text(raw: bytes) -> str:
    return ".".join(str(b) for b in raw)


def decode_vxlan(frame: bytes) -> dict[str, Any] | None:
    """An IPv4/UDP VXLAN packet (RFC 7348) as ``{"outer_src", "outer_dst", "vni", "inner_src",
    "inner_dst", "ethertype"}`` plus, for an inner ARP packet, ``"arp_op"`` (1 request, 2 reply),
    ``"arp_sender"``, ``"arp_target"`` (IPv4 addresses) and, for inner IPv4, ``"ip_src"``,
    ``"ip_dst"``, ``"ip_proto"`` and ``"icmp_type"`` (8 echo request, 0 reply; ICMP only).
    ``None`` for anything else."""
    if len(frame) < 14 + 20 + 8 + 8 + 14 or frame[12:14] != b"\x08\x00":
        return None
    ip = frame[14:]
    header = (ip[0] & 0x0F) * 4
    if ip[0] >> 4 != 4 or ip[9] != 17 or len(ip) < header + 16 + 14:
        return None
    udp = ip[header:]
    if struct.unpack("!H", udp[2:4])[0] != VXLAN_PORT or not udp[8] & 0x08:
        return None
    inner = udp[16:]
    out: dict[str, Any] = {
        "outer_src": _ip_text(ip[12:16]), "outer_dst": _ip_text(ip[16:20]),
        "vni": int.from_bytes(udp[12:15], "big"),
        "inner_dst": _mac_text(inner[0:6]), "inner_src": _mac_text(inner[6:12]),
        "ethertype": struct.unpack("!H", inner[12:14])[0],
    }  # fmt: skip
    payload = inner[14:]
    if out["ethertype"] == 0x0806 and len(payload) >= 28:
        out.update(arp_op=struct.unpack("!H", payload[6:8])[0], arp_sender=_ip_text(payload[14:18]),
                   arp_target=_ip_text(payload[24:28]))  # fmt: skip
    elif out["ethertype"] == 0x0800 and len(payload) >= 20:
        inner_header = (payload[0] & 0x0F) * 4
        out.update(ip_src=_ip_text(payload[12:16]), ip_dst=_ip_text(payload[16:20]), ip_proto=payload[9])
        if payload[9] == 1 and len(payload) > inner_header:
            out["icmp_type"] = payload[inner_header]
    return out


# --- FRR -----------------------------------------------------------------------------------------


def frr_bgpd_conf(
    *,
    asn: int,
    router_id: str,
    neighbors: Sequence[dict[str, Any]],
    advertise_all_vni: bool = True,
    extra_evpn: str = "",
    extra_bgp: str = "",
    trailer: str = "",
) -> str:
    """An EVPN-only bgpd.conf with tight timers.

    Each neighbour is ``{"address", "asn", "password"?, "passive"?}``.  ``timers bgp 3 9`` and
    ``timers connect 1`` make sessions come up (and come back) within seconds.  ``extra_evpn`` goes
    into ``address-family l2vpn evpn``, ``extra_bgp`` into ``router bgp`` after it (e.g. another
    address family), ``trailer`` after ``router bgp`` (route maps, prefix lists).
    """
    lines = [
        "frr defaults datacenter",
        "!",
        f"router bgp {asn}",
        f" bgp router-id {router_id}",
        " no bgp ebgp-requires-policy",
        " no bgp default ipv4-unicast",
        " timers bgp 3 9",
    ]
    for n in neighbors:
        addr = n["address"]
        lines.append(f" neighbor {addr} remote-as {n['asn']}")
        lines.append(f" neighbor {addr} timers connect 1")
        if n.get("password"):
            lines.append(f" neighbor {addr} password {n['password']}")
        if n.get("passive"):
            lines.append(f" neighbor {addr} passive")
    lines += [" !", " address-family l2vpn evpn"]
    lines += [f"  neighbor {n['address']} activate" for n in neighbors]
    if advertise_all_vni:
        lines.append("  advertise-all-vni")
    if extra_evpn:
        lines += ["  " + line for line in textwrap.dedent(extra_evpn).strip().splitlines()]
    lines += [" exit-address-family"]
    if extra_bgp:
        lines += [" " + line for line in textwrap.dedent(extra_bgp).strip().splitlines()]
    lines += ["!", ""]
    if trailer:
        lines += [*textwrap.dedent(trailer).strip().splitlines(), "!", ""]
    return "\n".join(lines)


class Frr:
    """zebra + bgpd of FRR inside ``ns``, as a separate instance (``-N NAME``) with its own config dir.

    zebra gets its own small config (a bgpd config fed to zebra turns `` vni N`` into an L3 VNI).
    """

    def __init__(self, ns: Namespace, bgpd_conf: str, *, zebra_conf: str = "") -> None:
        self.ns = ns
        self.name = ns.name
        self.bgpd_conf = bgpd_conf
        self.zebra_conf = zebra_conf
        self.dir = Path(tempfile.mkdtemp(prefix=f"{self.name}-frr-"))
        self.run_dir = FRR_RUN_DIR / self.name
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: dict[str, IO[bytes]] = {}

    def __repr__(self) -> str:
        return f"Frr({self.name!r}, dir={str(self.dir)!r})"

    def _write_config(self) -> None:
        self.dir.chmod(0o755)
        (self.dir / "zebra.conf").write_text(
            f"hostname {self.name}\nlog file {self.dir}/zebra.log\n{self.zebra_conf}\n"
        )
        # "frr defaults" has to come first: it sets the defaults the rest of the file builds on.
        lines = self.bgpd_conf.splitlines()
        defaults = [line for line in lines if line.startswith("frr defaults")]
        rest = [line for line in lines if not line.startswith("frr defaults")]
        head = [*defaults, f"hostname {self.name}", f"log file {self.dir}/bgpd.log"]
        (self.dir / "bgpd.conf").write_text("\n".join(head + rest) + "\n")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for path in (self.dir, self.run_dir, *self.dir.iterdir()):
            shutil.chown(path, "frr", "frr")

    def _spawn(self, daemon: str, argv: list[str]) -> None:
        log = open(self.dir / f"{daemon}.stdout", "ab")  # noqa: SIM115 - closed in stop_daemon
        self._logs[daemon] = log
        self.procs[daemon] = subprocess.Popen(
            self.ns.argv(*argv), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )

    def start(self, timeout: float = 20) -> Frr:
        self._write_config()
        self._spawn(
            "zebra",
            [str(ZEBRA), "-N", self.name, "-s", "90000000", "-f", f"{self.dir}/zebra.conf",
             "-i", f"{self.dir}/zebra.pid"],
        )  # fmt: skip
        wait_for(
            lambda: self._alive("zebra") and (self.run_dir / "zserv.api").exists(),
            timeout,
            what=f"zebra of {self.name} to open its API socket",
        )
        self.start_bgpd(timeout)
        return self

    def start_bgpd(self, timeout: float = 20) -> None:
        self._spawn(
            "bgpd",
            [str(BGPD), "-N", self.name, "-f", f"{self.dir}/bgpd.conf", "-i", f"{self.dir}/bgpd.pid"],
        )  # fmt: skip
        wait_for(
            lambda: self._alive("bgpd") and self.vtysh_json("show bgp summary json") is not None,
            timeout,
            what=f"bgpd of {self.name} to answer vtysh",
        )

    def _alive(self, daemon: str) -> bool:
        proc = self.procs.get(daemon)
        if proc is None or proc.poll() is not None:
            code = None if proc is None else proc.returncode
            raise ProcessDiedError(f"FRR {daemon} of {self.name} is not running (exit {code}): {self.log_tail(daemon)}")
        return True

    def stop_daemon(self, daemon: str) -> None:
        """Stop one daemon by the PID its pid file holds (which is the PID we started), and reap it."""
        proc = self.procs.pop(daemon, None)
        if proc is None:
            return
        pid = _read_pid(self.dir / f"{daemon}.pid")
        stop_process(proc)  # only ever the PID we started, even if the pid file disagreed
        log = self._logs.pop(daemon, None)
        if log is not None:
            log.close()
        if pid is not None and pid != proc.pid:
            raise RuntimeError(f"{daemon}'s pid file says {pid} but we started {proc.pid}")

    def stop_bgpd(self) -> None:
        self.stop_daemon("bgpd")

    def stop(self) -> None:
        """Stop bgpd, then zebra.  Safe to call more than once, and after a failed start."""
        try:
            self.stop_daemon("bgpd")
        finally:
            self.stop_daemon("zebra")
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def cleanup_files(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self, daemon: str = "bgpd") -> str:
        """The daemon's whole log file (``log file`` in its config)."""
        return _tail(self.dir / f"{daemon}.log", limit=10**7)

    def log_tail(self, daemon: str = "bgpd", limit: int = 2000) -> str:
        return (_tail(self.dir / f"{daemon}.log", limit) + _tail(self.dir / f"{daemon}.stdout", limit)).strip()

    # vtysh runs in the host namespace: it only talks to the instance's unix sockets under run_dir.
    def vtysh(self, *commands: str, timeout: float = 15) -> str:
        argv = [VTYSH, "-N", self.name]
        for command in commands:
            argv += ["-c", command]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"vtysh {commands!r} exited {result.returncode}: {result.stderr.strip()}")
        return result.stdout

    def vtysh_json(self, command: str) -> Any:
        return json.loads(self.vtysh(command))

    def neighbor(self, address: str) -> dict[str, Any]:
        """``show bgp neighbors ADDR json`` for one neighbour (``{}`` before it exists)."""
        data = self.vtysh_json(f"show bgp neighbors {address} json")
        return data.get(address, {}) if isinstance(data, dict) else {}

    def neighbor_state(self, address: str) -> str:
        return str(self.neighbor(address).get("bgpState", "?"))

    def evpn_routes(self) -> list[dict[str, Any]]:
        """``show bgp l2vpn evpn route detail json``, one flat dict per path (see :func:`frr_routes`)."""
        data = self.vtysh_json("show bgp l2vpn evpn route detail json")
        return frr_routes(data if isinstance(data, dict) else {})


# --- GoBGP ---------------------------------------------------------------------------------------


def gobgp_toml(*, asn: int, router_id: str, neighbors: Sequence[dict[str, Any]], listen: str | None = None) -> str:
    """A gobgpd config for l2vpn-evpn neighbours with tight timers (connect-retry 1, hold 9, keepalive 3).

    GoBGP 3.10 still waits 5-10 s before its first connection attempt, and after any session reset
    it stays Idle for 5 s, refusing connections (``idle-hold-time-after-reset`` does not change that).

    Each neighbour is ``{"address", "asn", "password"?, "passive"?, "hold_time"?}``.
    """
    lines = [
        "[global.config]",
        f"  as = {asn}",
        f'  router-id = "{router_id}"',
    ]
    if listen is not None:
        lines.append(f'  local-address-list = ["{listen}"]')
    for n in neighbors:
        hold = int(n.get("hold_time", 9))
        lines += [
            "",
            "[[neighbors]]",
            "  [neighbors.config]",
            f'    neighbor-address = "{n["address"]}"',
            f"    peer-as = {n['asn']}",
        ]
        if n.get("password"):
            lines.append(f'    auth-password = "{n["password"]}"')
        lines += [
            "  [neighbors.timers.config]",
            "    connect-retry = 1",
            f"    hold-time = {hold}",
            f"    keepalive-interval = {max(1, hold // 3)}",
            "  [neighbors.transport.config]",
            f"    passive-mode = {'true' if n.get('passive') else 'false'}",
            "  [[neighbors.afi-safis]]",
            "    [neighbors.afi-safis.config]",
            '      afi-safi-name = "l2vpn-evpn"',
        ]
    return "\n".join(lines) + "\n"


# apipb.PeerState.SessionState
GOBGP_SESSION_STATES = {
    0: "unknown",
    1: "idle",
    2: "connect",
    3: "active",
    4: "opensent",
    5: "openconfirm",
    6: "established",
}


class GoBgp:
    """gobgpd inside ``ns``; its gRPC API listens on the namespace's own loopback."""

    def __init__(self, ns: Namespace, config: str, *, api_port: int = 50051) -> None:
        self.ns = ns
        self.config = config
        self.api_port = api_port
        self.dir = Path(tempfile.mkdtemp(prefix=f"{ns.name}-gobgp-"))
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def __repr__(self) -> str:
        return f"GoBgp({self.ns.name!r}, dir={str(self.dir)!r})"

    def start(self, timeout: float = 20) -> GoBgp:
        (self.dir / "gobgp.toml").write_text(self.config)
        self._log = open(self.dir / "gobgpd.log", "ab")  # noqa: SIM115 - closed in stop
        self.proc = subprocess.Popen(
            self.ns.argv(
                GOBGPD, "-f", self.dir / "gobgp.toml", "--api-hosts", f"127.0.0.1:{self.api_port}",
                "--pprof-disable", "-l", "debug", "-p",
            ),
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_for(lambda: self._alive() and self.gobgp_json("global") is not None, timeout, what="gobgpd API")
        return self

    def _alive(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            raise ProcessDiedError(f"gobgpd in {self.ns.name} is not running: {self.log_tail()}")
        return True

    def stop(self, linger: float = 0.3) -> None:
        """Stop tcpdump (SIGTERM to its PID) once ``linger`` seconds have let it write the last packets."""
        if self.proc is not None:
            if self.proc.poll() is None:
                time.sleep(linger)
            stop_process(self.proc)
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def cleanup_files(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self) -> str:
        return _tail(self.dir / "gobgpd.log", limit=10**7)

    def log_tail(self, limit: int = 3000) -> str:
        return _tail(self.dir / "gobgpd.log", limit)

    def gobgp(self, *args: str, timeout: float = 15) -> str:
        """Run the ``gobgp`` client inside the namespace against this daemon."""
        return self.ns.run(GOBGP, "-p", str(self.api_port), *args, timeout=timeout).stdout

    def gobgp_json(self, *args: str) -> Any:
        return json.loads(self.gobgp(*args, "-j"))

    def neighbor(self, address: str) -> dict[str, Any]:
        data = self.gobgp_json("neighbor", address)
        return data if isinstance(data, dict) else {}

    def neighbor_state(self, address: str) -> str:
        """``established``, ``active``, ``idle``, ... (GoBGP's JSON gives the enum's number)."""
        state = self.neighbor(address).get("state", {}).get("session_state", 0)
        return GOBGP_SESSION_STATES.get(state, str(state).lower())

    def evpn_rib(self) -> list[dict[str, Any]]:
        """``gobgp global rib -a evpn -j`` flattened to a list of GoBGP's path objects (GoBGP 3.10
        prints a dict of destination -> paths)."""
        data = self.gobgp_json("global", "rib", "-a", "evpn")
        if isinstance(data, dict):
            return [p for paths in data.values() for p in paths]
        return list(data or [])

    def evpn_routes(self) -> list[dict[str, Any]]:
        """The EVPN RIB in the flat shape of :func:`gobgp_routes`."""
        return gobgp_routes(self.evpn_rib())

    def add_evpn_macadv(
        self, *, mac: str, ip: str | None, rd: str, rt: str, label: int, etag: int = 0, nexthop: str | None = None
    ) -> None:
        """``gobgp global rib add -a evpn macadv MAC IP etag E label L rd RD rt RT encap vxlan``."""
        args = ["global", "rib", "add", "-a", "evpn", "macadv", mac, ip or "0.0.0.0", "etag", str(etag)]
        args += ["label", str(label), "rd", rd, "rt", rt, "encap", "vxlan"]
        if nexthop:
            args += ["nexthop", nexthop]
        self.gobgp(*args)

    def add_evpn_multicast(self, *, ip: str, rd: str, rt: str, etag: int = 0, nexthop: str | None = None) -> None:
        """``gobgp global rib add -a evpn multicast IP etag E rd RD rt RT encap vxlan``."""
        args = ["global", "rib", "add", "-a", "evpn", "multicast", ip, "etag", str(etag), "rd", rd, "rt", rt]
        args += ["encap", "vxlan"]
        if nexthop:
            args += ["nexthop", nexthop]
        self.gobgp(*args)


# --- our speaker ---------------------------------------------------------------------------------


class Speaker:
    """A Python program run inside a namespace (``ip netns exec NS python -u SCRIPT ARGS``) that prints
    one JSON object per line.  A background thread collects the objects in :attr:`events` (in order);
    :meth:`wait_event` waits for one, :meth:`stop` sends SIGTERM (SIGKILL after a timeout) to the PID
    we started.

    With ``stdin=True`` the program's stdin is a pipe that :meth:`send` writes JSON lines to (the
    driver's command channel); otherwise it is ``/dev/null``."""

    def __init__(
        self, ns: Namespace, script: str | os.PathLike[str], *args: str | os.PathLike[str], stdin: bool = False
    ) -> None:
        self.ns = ns
        self.stdin = stdin
        self.script = Path(script)
        self.args = [str(a) for a in args]
        self.events: list[dict[str, Any]] = []
        self.other_lines: list[str] = []
        self.proc: subprocess.Popen[str] | None = None
        self.returncode: int | None = None
        self._cond = threading.Condition()
        self._eof = False
        self._reader: threading.Thread | None = None
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in stop

    def start(self) -> Speaker:
        if not self.script.exists():
            raise FileNotFoundError(f"speaker program {self.script} does not exist")
        self.proc = subprocess.Popen(
            self.ns.argv(sys.executable, "-u", self.script, *self.args),
            stdin=subprocess.PIPE if self.stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=self._stderr, text=True, bufsize=1,
        )  # fmt: skip
        self._reader = threading.Thread(target=self._read, name=f"speaker-{self.ns.name}", daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.strip()
            if not line:
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                event = None
            with self._cond:
                if isinstance(event, dict):
                    self.events.append(event)
                else:
                    self.other_lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def send(self, obj: dict[str, Any]) -> None:
        """Write ``obj`` as one JSON line to the program's stdin (needs ``stdin=True``)."""
        if self.proc is None or self.proc.stdin is None:
            raise RuntimeError(f"{self.script.name} in {self.ns.name} was not started with stdin=True")
        self.proc.stdin.write(json.dumps(obj) + "\n")
        self.proc.stdin.flush()

    def command(self, obj: dict[str, Any], timeout: float = 10) -> dict[str, Any]:
        """:meth:`send` a driver command and wait for its ``{"event": "command", "ok": true}``
        answer (AssertionError with :meth:`describe` if it is refused or never answered)."""
        mark = self.mark()
        self.send(obj)
        answer = self.wait_event(is_event("command"), timeout, since=mark, what=f"the answer to {obj}")
        assert answer.get("ok") is True, f"command {obj} failed: {answer}; {self.describe()}"
        return answer

    def stderr_tail(self, limit: int = 3000) -> str:
        if self._stderr.closed:
            return "<closed>"
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read()[-limit:]

    def describe(self) -> str:
        with self._cond:
            events = list(self.events[-20:])
            other = list(self.other_lines[-10:])
        code = None if self.proc is None else self.proc.poll()
        return (
            f"exit code {code}; last events: {_short(events)}; other output: {_short(other, 1000)}; "
            f"stderr: {self.stderr_tail()}"
        )

    def wait_event(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float, *, since: int = 0, what: str = "event"
    ) -> dict[str, Any]:
        """The first event at index >= ``since`` for which ``predicate`` holds, waiting up to ``timeout``."""
        deadline = time.monotonic() + timeout
        index = since
        with self._cond:
            while True:
                while index < len(self.events):
                    event = self.events[index]
                    index += 1
                    if predicate(event):
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._eof:
                    break
                self._cond.wait(remaining)
        why = "the program ended" if self._eof else f"timed out after {timeout:g} s"
        raise AssertionError(f"{why} waiting for {what} from {self.script.name}; {self.describe()}")

    def find_events(self, predicate: Callable[[dict[str, Any]], bool], *, since: int = 0) -> list[dict[str, Any]]:
        with self._cond:
            return [e for e in self.events[since:] if predicate(e)]

    def mark(self) -> int:
        """The index the next event will get (pass it as ``since``)."""
        with self._cond:
            return len(self.events)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM, SIGKILL after ``timeout``; wait for the reader; return the exit code."""
        if self.proc is not None:
            self.returncode = stop_process(self.proc, timeout)
            if self.proc.stdin is not None and not self.proc.stdin.closed:
                with contextlib.suppress(OSError):
                    self.proc.stdin.close()
            if self._reader is not None:
                self._reader.join(timeout)
            if self.proc.stdout is not None:
                self.proc.stdout.close()
        return self.returncode

    def kill(self) -> int | None:
        """SIGKILL the PID we started (no Cease, nothing cleaned up: a crash), reap it and wait
        for the reader; return the exit code (``-9``)."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGKILL)
        return self.stop()

    def close(self) -> None:
        self.stop()
        self._stderr.close()


# --- a whole lab, torn down in one place ---------------------------------------------------------


class Lab:
    """Owns every namespace, daemon and speaker a test makes, and :meth:`close` tears them all down
    (speakers, then daemons, then namespaces; one failure does not stop the rest)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.namespaces: list[Namespace] = []
        self.frrs: list[Frr] = []
        self.gobgps: list[GoBgp] = []
        self.speakers: list[Speaker] = []

    def namespace(self, prefix: str) -> Namespace:
        ns = Namespace(prefix)
        self.namespaces.append(ns)
        return ns.create()

    def frr(self, ns: Namespace, bgpd_conf: str, *, zebra_conf: str = "", start: bool = True) -> Frr:
        frr = Frr(ns, bgpd_conf, zebra_conf=zebra_conf)
        self.frrs.append(frr)
        return frr.start() if start else frr

    def gobgp(self, ns: Namespace, config: str, *, start: bool = True) -> GoBgp:
        gobgp = GoBgp(ns, config)
        self.gobgps.append(gobgp)
        return gobgp.start() if start else gobgp

    def speaker(
        self, ns: Namespace, script: str | os.PathLike[str], *args: str | os.PathLike[str], stdin: bool = False
    ) -> Speaker:
        speaker = Speaker(ns, script, *args, stdin=stdin)
        self.speakers.append(speaker)
        return speaker.start()

    def driver(
        self,
        ns: Namespace,
        program: Path,
        speaker: dict[str, Any],
        peers: Sequence[dict[str, Any]],
        routes: dict[str, Any] | None = None,
        *,
        vnis: Sequence[dict[str, Any]] = (),
        vrfs: Sequence[dict[str, Any]] = (),
        stdin: bool = False,
        dataplane: dict[str, Any] | None = None,
    ) -> Speaker:
        """Run the speaker driver: ``python -u PROGRAM CONFIG.toml [--announce ROUTES.json]`` in ``ns``,
        with CONFIG.toml written from ``speaker``/``peers``/``vnis``/``vrfs``/``dataplane`` and ROUTES.json
        from ``routes``; ``stdin=True`` opens its command channel (:meth:`Speaker.send`)."""
        n = len(self.speakers) + 1
        config = self.workdir / f"speaker{n}.toml"
        config.write_text(speaker_toml(speaker, peers, vnis=vnis, vrfs=vrfs, dataplane=dataplane))
        args: list[str | os.PathLike[str]] = [config]
        if routes is not None:
            args += ["--announce", write_json(self.workdir / f"routes{n}.json", routes)]
        return self.speaker(ns, program, *args, stdin=stdin)

    def diagnostics(self) -> str:
        """Log tails of everything, for a failed test's report."""
        parts = []
        for speaker in self.speakers:
            parts.append(f"--- speaker in {speaker.ns.name}: {speaker.describe()}")
        for frr in self.frrs:
            parts.append(
                f"--- FRR {frr.name} zebra:\n{frr.log_tail('zebra')}\n--- FRR {frr.name} bgpd:\n{frr.log_tail()}"
            )
        for gobgp in self.gobgps:
            parts.append(f"--- gobgpd in {gobgp.ns.name}:\n{gobgp.log_tail()}")
        return "\n".join(parts)

    def close(self) -> None:
        errors: list[BaseException] = []
        steps: list[Callable[[], None]] = [s.close for s in reversed(self.speakers)]
        steps += [f.stop for f in reversed(self.frrs)] + [g.stop for g in reversed(self.gobgps)]
        steps += [f.cleanup_files for f in self.frrs] + [g.cleanup_files for g in self.gobgps]
        steps += [ns.delete for ns in reversed(self.namespaces)]
        for step in steps:
            try:
                step()
            except Exception as exc:  # keep tearing down; report the first failure at the end
                errors.append(exc)
        if errors:
            raise errors[0]


# --- the driver's files and events ---------------------------------------------------------------


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string for the ASCII we use
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):  # an inline table
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items() if v is not None) + " }"
    raise TypeError(f"no TOML form for {value!r}")


def speaker_toml(
    speaker: dict[str, Any],
    peers: Sequence[dict[str, Any]],
    *,
    vnis: Sequence[dict[str, Any]] = (),
    vrfs: Sequence[dict[str, Any]] = (),
    dataplane: dict[str, Any] | None = None,
) -> str:
    """CONFIG.toml for the speaker driver: ``[speaker]`` then one ``[[peers]]`` table per peer,
    one ``[[vnis]]`` per VNI, one ``[[vrfs]]`` per VRF and, if given, ``[dataplane]`` (keys with a
    ``None`` value are left out)."""
    lines = ["[speaker]"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in speaker.items() if v is not None]
    for section, tables in (("peers", peers), ("vnis", vnis), ("vrfs", vrfs)):
        for table in tables:
            lines += ["", f"[[{section}]]"]
            lines += [f"{k} = {_toml_value(v)}" for k, v in table.items() if v is not None]
    if dataplane is not None:
        lines += ["", "[dataplane]"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in dataplane.items() if v is not None]
    return "\n".join(lines) + "\n"


def is_event(kind: str, **fields: object) -> Callable[[dict[str, Any]], bool]:
    """A predicate for :meth:`Speaker.wait_event`: ``event == kind`` and every field equal."""

    def check(event: dict[str, Any]) -> bool:
        return event.get("event") == kind and all(event.get(k) == v for k, v in fields.items())

    return check


def is_route_event(action: str, peer: str, **route: object) -> Callable[[dict[str, Any]], bool]:
    """A predicate for a ``route`` event whose route has every given field."""

    def check(event: dict[str, Any]) -> bool:
        if event.get("event") != "route" or event.get("action") != action or event.get("peer") != peer:
            return False
        got = event.get("route") or {}
        return all(got.get(k) == v for k, v in route.items())

    return check


# --- what the peers show, in one shape ------------------------------------------------------------


def frr_routes(table: dict[str, Any]) -> list[dict[str, Any]]:
    """``show bgp l2vpn evpn route detail json`` as one flat dict per path:
    ``route_type, rd, ethernet_tag, mac, ip`` (type 2), ``originator_ip`` (type 3), ``vni``
    (label1), ``l3vni`` (label2 of a type-2 route, else ``None``), ``next_hop``, ``communities`` (FRR's words, e.g. ``{"RT:65001:100", "ET:8"}``), ``pmsi``,
    ``peer``, ``valid``, ``local`` (FRR's own route), ``originator_id`` and ``cluster_list`` (RFC 4456;
    ``None`` and ``[]`` without them)."""
    out: list[dict[str, Any]] = []
    for rd, by_prefix in table.items():
        if not isinstance(by_prefix, dict):
            continue  # numPrefix, numPaths
        for prefix, entry in by_prefix.items():
            if not isinstance(entry, dict) or "paths" not in entry:
                continue
            for group in entry["paths"]:
                for path in group if isinstance(group, list) else [group]:
                    merged = {**entry, **path}
                    route_type = int(merged.get("routeType", prefix[1:2] or 0))
                    nexthops = merged.get("nexthops") or [{}]
                    vni = merged.get("vni", merged.get("VNI"))
                    # "100" or, with a second label (symmetric IRB), "100/5000"
                    l2vni, _, l3vni = str(vni).partition("/") if vni is not None else ("", "", "")
                    out.append(
                        {
                            "route_type": route_type,
                            "rd": rd,
                            "prefix": prefix,
                            "ethernet_tag": merged.get("ethTag"),
                            "mac": merged.get("mac") if route_type == 2 else None,
                            "ip": merged.get("ip") if route_type == 2 else None,
                            "originator_ip": merged.get("ip") if route_type == 3 else None,
                            "vni": int(l2vni) if l2vni else None,
                            "l3vni": int(l3vni) if l3vni else None,
                            "next_hop": nexthops[0].get("ip"),
                            "communities": set(merged.get("extendedCommunity", {}).get("string", "").split()),
                            "pmsi": merged.get("pmsi"),
                            "peer": (merged.get("peer") or {}).get("peerId", merged.get("peerId")),
                            "valid": bool(merged.get("valid")),
                            "local": bool(merged.get("local")),  # FRR originated it itself
                            "originator_id": merged.get("originatorId"),  # RFC 4456 ORIGINATOR_ID
                            "cluster_list": list((merged.get("clusterList") or {}).get("list", [])),
                        }
                    )
    return out


def _gobgp_rd(rd: dict[str, Any]) -> str:
    return f"{rd.get('admin')}:{rd.get('assigned')}"


def _gobgp_community(c: dict[str, Any]) -> str:
    if c.get("type") == 3 and c.get("subtype") == 12:
        return f"ET:{c.get('tunnel_type')}"
    if c.get("subtype") == 2:
        return f"RT:{c.get('value')}"
    return json.dumps(c, sort_keys=True)


def gobgp_routes(paths: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """``gobgp global rib -a evpn -j`` paths in the same flat shape as :func:`frr_routes`, plus
    ``labels`` (GoBGP's list of raw label fields) and ``esi``."""
    out = []
    for path in paths:
        nlri = path.get("nlri", {})
        value = nlri.get("value", {})
        route_type = int(nlri.get("type", 0))
        attrs = {a.get("type"): a for a in path.get("attrs", [])}
        communities = {_gobgp_community(c) for c in attrs.get(16, {}).get("value", [])}
        pmsi = attrs.get(22)
        ip = value.get("ip")
        out.append(
            {
                "route_type": route_type,
                "rd": _gobgp_rd(value.get("rd", {})),
                "ethernet_tag": value.get("etag"),
                "mac": value.get("mac") if route_type == 2 else None,
                "ip": ip if route_type == 2 and ip not in (None, "<nil>", "0.0.0.0", "::") else None,
                "originator_ip": ip if route_type == 3 else None,
                "labels": value.get("labels"),
                "esi": value.get("esi"),
                "next_hop": attrs.get(14, {}).get("nexthop", attrs.get(3, {}).get("nexthop")),
                "communities": communities,
                "pmsi": pmsi,
                "peer": path.get("neighbor-ip"),
                "best": bool(path.get("best")),
            }
        )
    return out


def find_routes(routes: Iterable[dict[str, Any]], **fields: object) -> list[dict[str, Any]]:
    """The routes whose fields all equal ``fields``."""
    return [r for r in routes if all(r.get(k) == v for k, v in fields.items())]


# --- small shared bits ---------------------------------------------------------------------------


def write_json(path: Path, value: object) -> Path:
    path.write_text(json.dumps(value, indent=2) + "\n")
    return path


def normalize_reason(text: object) -> str:
    """Lower case with ``_``/``-``/``/`` as spaces: "OPEN_MESSAGE/BAD_PEER_AS" -> "open message bad peer as"."""
    out = str(text).lower()
    for ch in "_-/:,()":
        out = out.replace(ch, " ")
    return " ".join(out.split())


# --- the two-namespace topology both interop modules use ---------------------------

US, PEER = "198.18.0.1", "198.18.0.2"  # our speaker and the peer daemon, on one veth
US_AS, PEER_AS = 65001, 65002
VNI = 100
ZERO_ESI = "00:00:00:00:00:00:00:00:00:00"

OUR_ROUTES: dict[str, Any] = {
    "next_hop": US,
    "routes": [
        {"route_type": 2, "rd": f"{US}:{VNI}", "esi": ZERO_ESI, "ethernet_tag": 0,
         "mac": "02:aa:00:00:00:01", "ip": "198.19.100.11", "label1": VNI, "label2": None},
        {"route_type": 2, "rd": f"{US}:{VNI}", "esi": ZERO_ESI, "ethernet_tag": 0,
         "mac": "02:aa:00:00:00:02", "ip": None, "label1": VNI, "label2": None},
        {"route_type": 3, "rd": f"{US}:{VNI}", "ethernet_tag": 0, "originator_ip": US},
    ],
}  # fmt: skip
"""What the tests have our speaker announce: a MAC+IP, a MAC-only and a type-3 route in VNI 100."""


class PeerNet:
    """Our namespace and the peer's, joined by a veth, and how to start our speaker in it."""

    def __init__(self, lab: Lab, driver: Path, peer_name: str) -> None:
        self.lab, self.driver = lab, driver
        self.us: Namespace = lab.namespace("evspk")
        self.peer: Namespace = lab.namespace(peer_name)
        self.us.veth_to(self.peer, ("eth0", f"{US}/24"), ("eth0", f"{PEER}/24"))

    def start_speaker(
        self,
        *,
        peer_as: int = PEER_AS,
        passive: bool = False,
        listen: bool = False,
        password: str | None = None,
        hold_time: int = 9,
        routes: dict[str, Any] | None = None,
        vnis: Sequence[dict[str, Any]] = (),
        vrfs: Sequence[dict[str, Any]] = (),
        stdin: bool = False,
        max_prefixes: int | None = None,
    ) -> Speaker:
        """Run the speaker driver in our namespace, peering with the daemon at ``PEER``."""
        speaker = {"asn": US_AS, "router_id": US, "listen": f"{US}:179" if listen else "none", "hold_time": hold_time}
        peer = {
            "address": PEER, "asn": peer_as, "passive": passive, "password": password, "families": ["l2vpn-evpn"],
            "max_prefixes": max_prefixes,
        }  # fmt: skip
        return self.lab.driver(self.us, self.driver, speaker, [peer], routes, vnis=vnis, vrfs=vrfs, stdin=stdin)
