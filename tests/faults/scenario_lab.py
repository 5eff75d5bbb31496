"""The lab of the misbehaviour and leak scenarios: one VTEP namespace running ``python -m evpn run``
with the netlink sink, and peer namespaces joined to it by veths, each running :mod:`bgp_peer` or
driven byte by byte from this process (:class:`RawPeer`).

Rules (``shared/notes/interop-lab.md``): only namespaces created here, named uniquely per run; only
198.18.0.0/15 addresses, assigned inside them; every process is ours and stopped by its PID; all of
it torn down in ``finally`` (:meth:`ScenarioLab.close`).

Topology (``N`` = peer number, from 1)::

    vtep namespace                                         peer namespace N
    lo 198.18.0.1/32 (router ID, listen, VTEP)             eth0 198.18.N.2/24 (BGP session from here)
    pN 198.18.N.1/24  <---------- veth ---------->         route 198.18.0.1 via 198.18.N.1
    br100 + vxlan100 (VNI 100, local 198.18.0.1)

Each peer advertises the table :func:`peer_table` makes: a type-3 route per VTEP of its own
(``198.18.N.2``, ``198.18.N.3``) and type-2 routes for MACs ``02:fN:..``, all with the speaker's
automatic route target ``65001:100``.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from interop.lab import Namespace, Speaker, unique_name, wait_for, write_json

from evpn.control import query
from evpn.wire import Capability, FourOctetAS, Keepalive, MessageReader, Multiprotocol, Notification, Open
from evpn.wire.codes import AFI, SAFI

HERE = Path(__file__).resolve().parent
BGP_PEER = HERE / "bgp_peer.py"
ROUTER_ID = "198.18.0.1"
ASN = 65001
VNI = 100
ROUTE_TARGET = f"{ASN}:{VNI}"
MIB = 1 << 20


def peer_address(n: int) -> str:
    return f"198.18.{n}.2"


def peer_asn(n: int) -> int:
    return 65100 + n


def peer_table(n: int, macs: int, *, seq: int = 0, with_ip: bool = True) -> dict[str, Any]:
    """Peer ``n``'s table (the :mod:`bgp_peer` format): two VTEPs, ``macs`` MACs spread over them
    (the first 250 with an IP when ``with_ip``), MAC mobility sequence ``seq``; an odd ``seq`` puts
    every MAC behind the other VTEP (the whole table moves)."""
    vteps = [f"198.18.{n}.2", f"198.18.{n}.3"]
    entries = []
    for i in range(macs):
        mac = f"02:f{n:x}:00:{i >> 16 & 0xFF:02x}:{i >> 8 & 0xFF:02x}:{i & 0xFF:02x}"
        ip = f"198.19.{n}.{i % 250 + 1}" if with_ip and i < 250 else ""
        entries.append([mac, ip, vteps[(i + seq) % 2], seq])
    return {"vni": VNI, "route_target": ROUTE_TARGET, "vteps": vteps, "macs": entries}


def expected_kernel(*tables: dict[str, Any]) -> tuple[set[tuple[str, str]], set[str]]:
    """What the kernel must hold for ``tables``: remote MACs as (MAC, VTEP), and flood VTEPs."""
    macs = {(mac, vtep) for table in tables for mac, _, vtep, _ in table["macs"]}
    flood = {vtep for table in tables for vtep in table["vteps"]}
    return macs, flood


# --- entering a namespace from this process ------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
_CLONE_NEWNET = 0x40000000


def _setns(fd: int) -> None:
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


@contextlib.contextmanager
def in_netns(name: str) -> Iterator[None]:
    """Run the block in network namespace ``name`` (this thread only: setns(2) is per thread).
    Sockets made in the block stay in that namespace afterwards."""
    with open("/proc/thread-self/ns/net", "rb") as here, open(f"/var/run/netns/{name}", "rb") as there:
        _setns(there.fileno())
        try:
            yield
        finally:
            _setns(here.fileno())


# --- a peer driven byte by byte ------------------------------------------------------------------


class RawPeer:
    """A TCP connection from a peer namespace to the speaker, with BGP spoken by hand, so that the
    test can send whatever bytes it likes.  Blocking, with timeouts."""

    def __init__(self, ns: Namespace, local: str, *, asn: int, hold_time: int = 30, timeout: float = 15) -> None:
        self.local, self.asn, self.hold_time = local, asn, hold_time
        with in_netns(ns.name):
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.bind((local, 0))
        self.reader = MessageReader()
        self.received: list[bytes] = []

    def connect(self, remote: str = ROUTER_ID, port: int = 179) -> RawPeer:
        self.sock.connect((remote, port))
        return self

    def open_message(self) -> bytes:
        caps: list[Capability] = [Multiprotocol(AFI.L2VPN, SAFI.EVPN), FourOctetAS(self.asn)]
        return Open.build(self.asn, self.hold_time, self.local, caps).encode()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def next_message(self) -> bytes | None:
        """The next whole message the speaker sends; ``None`` once it closed the connection."""
        while True:
            for message in self.reader:
                self.received.append(message)
                return message
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                return None
            if not data:
                return None
            self.reader.feed(data)

    def establish(self) -> RawPeer:
        """Send OPEN, take the speaker's OPEN and KEEPALIVE, answer with a KEEPALIVE: Established."""
        self.send(self.open_message())
        kinds: list[int] = []
        while 4 not in kinds:
            message = self.next_message()
            assert message is not None, f"the speaker closed the connection during the OPEN exchange: {kinds}"
            kinds.append(message[18])
            assert message[18] in (1, 4), f"message type {message[18]} before Established: {message.hex()}"
        self.send(Keepalive().encode())
        return self

    def notification(self) -> tuple[int, int] | None:
        """Read until the speaker closes the connection; the (code, subcode) of the NOTIFICATION it
        sent before that (``None`` if it sent none)."""
        found = None
        while (message := self.next_message()) is not None:
            if message[18] == 3 and found is None:
                found = (message[19], message[20])
        return found

    def close(self, *, reset: bool = False) -> None:
        if reset:
            with contextlib.suppress(OSError):
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


def notification_bytes(code: int, subcode: int, data: bytes = b"") -> bytes:
    return Notification(code, subcode, data).encode()


# --- the speaker ---------------------------------------------------------------------------------


class EvpnRun(Speaker):
    """``python -m evpn run ARGS`` inside a namespace (``ip netns exec`` execs Python, so the PID we
    hold is the speaker's own).  ``script`` is only a label here."""

    def start(self) -> EvpnRun:
        self.proc = subprocess.Popen(
            self.ns.argv(sys.executable, "-u", "-m", "evpn", "run", *self.args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
            cwd=str(HERE),
        )
        self._reader = threading.Thread(target=self._read, name=f"evpn-run-{self.ns.name}", daemon=True)
        self._reader.start()
        return self


def _toml(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else json.dumps(value)


class ScenarioLab:
    """The VTEP namespace with its speaker and the peer namespaces; :meth:`close` removes it all."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.sockdir = Path(tempfile.mkdtemp(prefix="evf-", dir="/tmp"))  # AF_UNIX paths are short
        self.control = self.sockdir / "ctl.sock"
        self.namespaces: list[Namespace] = []
        self.processes: list[Speaker] = []
        self.vtep: Namespace | None = None
        self.peers: dict[int, Namespace] = {}
        self.speaker: EvpnRun | None = None

    # -- building --

    def _namespace(self, prefix: str) -> Namespace:
        ns = Namespace(prefix)
        self.namespaces.append(ns)
        return ns.create()

    def build(self, peers: dict[int, dict[str, Any]], *, speaker: dict[str, Any] | None = None) -> None:
        """The VTEP namespace, one peer namespace per key of ``peers`` (the value: more keys of its
        ``[[peers]]`` table, such as ``hold_time``), and the speaker's configuration."""
        vtep = self.vtep = self._namespace("fvtep")
        vtep.sysctl("net.ipv6.conf.all.disable_ipv6", "1")
        vtep.sysctl("net.ipv6.conf.default.disable_ipv6", "1")
        vtep.ip("addr", "add", f"{ROUTER_ID}/32", "dev", "lo")
        vtep.add_evpn_vni(VNI, ROUTER_ID)
        settings = {"asn": ASN, "router_id": ROUTER_ID, "listen": f"{ROUTER_ID}:179", "hold_time": 9}
        settings.update(speaker or {})
        lines = ["[speaker]", *(f"{k} = {_toml(v)}" for k, v in settings.items())]
        for n, extra in sorted(peers.items()):
            ns = self.peers[n] = self._namespace(f"fpeer{n}")
            ns.sysctl("net.ipv6.conf.all.disable_ipv6", "1")
            vtep.veth_to(ns, (f"p{n}", f"198.18.{n}.1/24"), ("eth0", f"{peer_address(n)}/24"))
            ns.ip("route", "add", f"{ROUTER_ID}/32", "via", f"198.18.{n}.1")
            table = {"address": peer_address(n), "asn": peer_asn(n), "passive": True, **extra}
            lines += ["", "[[peers]]", *(f"{k} = {_toml(v)}" for k, v in table.items())]
        lines += ["", "[[vnis]]", f"vni = {VNI}", f'vtep = "{ROUTER_ID}"', "", "[dataplane]", 'sink = "netlink"']
        (self.workdir / "speaker.toml").write_text("\n".join(lines) + "\n")

    def start_speaker(self) -> EvpnRun:
        assert self.vtep is not None
        config = self.workdir / "speaker.toml"
        speaker = EvpnRun(self.vtep, "evpn", "-c", config, "--json", "--control", self.control)
        self.processes.append(speaker)
        self.speaker = speaker.start()

        def ready() -> bool:
            if not speaker.running():
                raise AssertionError(f"evpn run exited: {speaker.describe()}")
            return self.control.exists() and "listening on" in speaker.stderr_tail(100000)

        wait_for(ready, 20, what="evpn run to listen and serve its control socket", interval=0.1)
        return speaker

    def start_peer(self, n: int, table: dict[str, Any], *, hold_time: int = 9) -> Speaker:
        path = write_json(self.workdir / f"{unique_name(f'table{n}')}.json", table)
        peer = Speaker(
            self.peers[n],
            BGP_PEER,
            "--local", peer_address(n), "--remote", ROUTER_ID, "--asn", str(peer_asn(n)),
            "--hold-time", str(hold_time), "--table", path,
            stdin=True,
        )  # fmt: skip
        self.processes.append(peer)
        peer.start()
        peer.wait_event(lambda e: e.get("event") == "ready", 15, what="bgp_peer ready")
        return peer

    def load_table(self, peer: Speaker, n: int, table: dict[str, Any]) -> dict[str, Any]:
        path = write_json(self.workdir / f"{unique_name(f'table{n}')}.json", table)
        return peer.command({"cmd": "table", "file": str(path)}, timeout=60)

    # -- looking --

    def show(self, what: str) -> dict[str, Any]:
        return query(self.control, {"show": what}, timeout=60)

    def peer_state(self, address: str) -> dict[str, Any]:
        return next(p for p in self.show("peers")["peers"] if p["address"] == address)

    def wait_state(self, address: str, state: str, timeout: float = 30) -> dict[str, Any]:
        result: dict[str, Any] = wait_for(
            lambda p: p["state"] == state,
            timeout,
            probe=lambda: self.peer_state(address),
            what=f"peer {address} to be {state}",
        )
        return result

    def wait_idle(self, address: str, timeout: float = 30) -> dict[str, Any]:
        """Wait until the session with ``address`` holds no connection (Idle, or Active waiting for
        one; which of the two depends on the IdleHoldTime damping)."""
        result: dict[str, Any] = wait_for(
            lambda p: p["state"] in ("IDLE", "ACTIVE"),
            timeout,
            probe=lambda: self.peer_state(address),
            what=f"peer {address} to be Idle or Active",
        )
        return result

    @property
    def pid(self) -> int:
        assert self.speaker is not None and self.speaker.proc is not None
        return self.speaker.proc.pid

    def rss(self) -> int:
        """The speaker's resident set size in bytes (``VmRSS``)."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        return next(int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:"))

    def process(self) -> dict[str, Any]:
        """The speaker's figures from ``show process``: open fds and trio tasks counted by the
        speaker at one instant, in its trio thread, while it answers (so they include this
        request's connection and handler task, every time: 1 fd and 1 task), RSS and threads;
        and, for a failure's report, what each fd is (read from /proc by us)."""
        time.sleep(0.2)  # the previous request's handler closes its connection and ends
        outside = len(os.listdir(f"/proc/{self.pid}/fd"))  # no request open: one fewer than inside
        answer = self.show("process")
        assert answer["pid"] == self.pid, answer
        targets = {}
        for fd in os.listdir(f"/proc/{self.pid}/fd"):
            with contextlib.suppress(OSError):
                targets[fd] = os.readlink(f"/proc/{self.pid}/fd/{fd}")
        return {
            "rss": answer["rss_bytes"],
            "fds": answer["open_fds"],
            "proc_fds": outside,
            "tasks": answer["tasks"],
            "threads": answer["threads"],
            "task_names": answer["task_names"],
            "fd_targets": targets,
        }

    def settled_process(self, timeout: float = 30) -> dict[str, Any]:
        """:meth:`process` once three readings half a second apart agree on fds and tasks
        (closing connections and ending tasks take a moment after a session ends)."""
        readings: list[dict[str, Any]] = []

        def stable() -> dict[str, Any] | None:
            readings.append(self.process())
            last = [(r["fds"], r["tasks"]) for r in readings[-3:]]
            return readings[-1] if len(last) == 3 and len(set(last)) == 1 else None

        result: dict[str, Any] = wait_for(stable, timeout, what="the speaker's fds and tasks to settle", interval=0.5)
        return result

    def kernel(self) -> tuple[set[tuple[str, str]], set[str]]:
        """The kernel's remote MACs (MAC, VTEP) and flood VTEPs on vxlan100, from ``bridge fdb``."""
        assert self.vtep is not None
        macs, flood = set(), set()
        for entry in self.vtep.fdb(f"vxlan{VNI}"):
            dst = entry.get("dst")
            if dst is None:
                continue
            if entry["mac"] == "00:00:00:00:00:00":
                flood.add(dst)
            else:
                macs.add((entry["mac"], dst))
        return macs, flood

    def wait_kernel(
        self, macs: set[tuple[str, str]], flood: set[str], timeout: float = 60, interval: float = 0.5
    ) -> None:
        """Wait until the kernel holds exactly ``macs`` and ``flood``; on timeout, say what differs."""
        last: list[tuple[set[tuple[str, str]], set[str]]] = []

        def same() -> bool:
            got = self.kernel()
            last[:] = [got]
            return got == (macs, flood)

        try:
            wait_for(same, timeout, what="the kernel FDB", interval=interval)
        except AssertionError:
            got_macs, got_flood = last[0] if last else (set(), set())
            raise AssertionError(
                f"kernel FDB differs: {len(got_macs)} MACs (missing {sorted(macs - got_macs)[:5]}, "
                f"extra {sorted(got_macs - macs)[:5]}), flood {sorted(got_flood)} (want {sorted(flood)})"
            ) from None

    def describe(self) -> str:
        return "\n".join(f"--- {p.script.name} in {p.ns.name}: {p.describe()}" for p in self.processes)

    # -- tearing down --

    def close(self) -> None:
        errors: list[BaseException] = []
        for process in reversed(self.processes):
            try:
                process.close()
            except Exception as exc:
                errors.append(exc)
        for ns in reversed(self.namespaces):
            try:
                ns.delete()
            except Exception as exc:
                errors.append(exc)
        shutil.rmtree(self.sockdir, ignore_errors=True)
        if errors:
            raise errors[0]


def leak_report(before: dict[str, Any], after: dict[str, Any]) -> str:
    """What differs between two :meth:`ScenarioLab.process` readings: tasks per function, fds."""
    names = set(before["task_names"]) | set(after["task_names"])
    tasks = {n: (before["task_names"].get(n, 0), after["task_names"].get(n, 0)) for n in sorted(names)}
    fds = {
        fd: (before["fd_targets"].get(fd), after["fd_targets"].get(fd))
        for fd in sorted(set(before["fd_targets"]) | set(after["fd_targets"]), key=int)
    }  # read a moment after the counts: the request's own connection may show up on either side
    return (
        f"tasks {before['tasks']}->{after['tasks']}: { ({n: c for n, c in tasks.items() if c[0] != c[1]}) }; "
        f"fds {before['fds']}->{after['fds']}: { ({fd: t for fd, t in fds.items() if t[0] != t[1]}) }"
    )


def mib(size: float) -> str:
    return f"{size / MIB:.1f}"
