"""Namespaces, our speaker and helper processes for the convergence test and the soak.

Rules (``shared/notes/interop-lab.md``): only namespaces made here, named with a per-run suffix;
addresses of 198.18.0.0/15 (underlay) and 198.19.0.0/16 (hosts) only, assigned inside them;
every process started here is stopped here by its PID, and :meth:`Lab.close` (call it in a
``finally``) removes everything, whatever happened.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PYTHON = sys.executable


def run(*argv: str, check: bool = True, input: str | None = None) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, input=input)
    if check and done.returncode:
        raise RuntimeError(f"{' '.join(argv)}: exit {done.returncode}: {done.stderr.strip()}")
    return done.stdout


class Netns:
    def __init__(self, name: str) -> None:
        self.name = name
        run("ip", "netns", "add", name)
        self.ip("link", "set", "lo", "up")
        for key in ("net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6"):
            self.sysctl(key, "1")  # no ND/MLD noise: nothing leaves but BGP

    def argv(self, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]

    def ip(self, *args: str) -> str:
        return run("ip", "-n", self.name, *args)

    def sysctl(self, key: str, value: str) -> None:
        run(*self.argv("sysctl", "-q", "-w", f"{key}={value}"))

    def batch(self, tool: str, lines: list[str]) -> None:
        """``bridge -batch -`` or ``ip -batch -`` in this namespace."""
        run(tool, "-n", self.name, "-batch", "-", input="\n".join(lines) + "\n")

    def add_vni(self, vni: int, local: str, bridge_mac: str | None = None) -> None:
        """``br<vni>`` with ``vxlan<vni>`` in it, as docs/dataplane.md creates them."""
        br, vx = f"br{vni}", f"vxlan{vni}"
        self.ip("link", "add", br, "type", "bridge", "stp_state", "0")
        if bridge_mac:
            self.ip("link", "set", br, "address", bridge_mac)
        self.ip("link", "add", vx, "type", "vxlan", "id", str(vni), "local", local, "dstport", "4789", "nolearning")
        self.ip("link", "set", vx, "master", br)
        run("bridge", "-n", self.name, "link", "set", "dev", vx, "neigh_suppress", "on", "learning", "off")
        self.ip("link", "set", br, "up")
        self.ip("link", "set", vx, "up")


class Process:
    """A child process; stdout lines that are JSON objects become :attr:`events` (with ``_t``:
    the ``time.time()`` they were read), other lines are kept too."""

    def __init__(self, argv: list[str], log: Path, *, stdin: bool = False, name: str = "") -> None:
        self.name = name or Path(argv[0]).name
        self.log_path = log
        self.log: IO[bytes] = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self.log,
            cwd=REPO,
        )
        self.pid = self.proc.pid
        self.events: list[dict[str, Any]] = []
        self.lines: list[str] = []
        self.cond = threading.Condition()
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        self.reader = threading.Thread(target=self._read, name=f"{self.name}-stdout", daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            now = time.time()
            event = None
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    event = json.loads(line)
            with self.cond:
                self.lines.append(line)
                if isinstance(event, dict):
                    event["_t"] = now
                    self.events.append(event)
                    for listener in self.listeners:
                        listener(event)
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def send(self, obj: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(obj) + "\n").encode())
        self.proc.stdin.flush()

    def mark(self) -> int:
        with self.cond:
            return len(self.events)

    def wait_event(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float, *, since: int = 0, what: str = "an event"
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for event in self.events[since:]:
                    if predicate(event):
                        return event
                if self.proc.poll() is not None and not self.reader.is_alive():
                    raise AssertionError(f"{self.name} exited ({self.proc.returncode}) before {what}; {self.tail()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {what} from {self.name} within {timeout} s; {self.tail()}")
                self.cond.wait(min(left, 0.5))

    def command(self, obj: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
        mark = self.mark()
        self.send(obj)
        answer = self.wait_event(lambda e: e.get("event") == "command", timeout, since=mark, what=f"answer to {obj}")
        if not answer.get("ok"):
            raise AssertionError(f"{self.name}: {obj} failed: {answer}")
        return answer

    def tail(self, limit: int = 3000) -> str:
        with contextlib.suppress(OSError):
            self.log.flush()
            text = self.log_path.read_text(errors="replace")[-limit:]
            with self.cond:
                lines = "\n".join(self.lines[-15:])
            return f"stdout tail of {self.name} (pid {self.pid}):\n{lines}\nstderr tail:\n{text}"
        return ""

    def kill(self) -> int:
        """SIGKILL, and the exit status."""
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
        return self.proc.wait(10)

    def stop(self, timeout: float = 10) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.reader.join(timeout=5)
        with contextlib.suppress(OSError):
            self.log.close()


def speaker_toml(
    *,
    asn: int,
    address: str,
    listen: str,
    hold_time: int,
    peers: list[tuple[str, int, bool]],
    vni: int,
    import_target: str,
) -> str:
    """The configuration of an ``evpn run`` speaker with router ID and VTEP ``address``, one
    ``[[peers]]`` table per ``(address, asn, passive)`` and one VNI programmed through netlink."""
    text = f"""[speaker]
asn = {asn}
router_id = "{address}"
listen = "{listen}:179"
hold_time = {hold_time}
connect_retry = 1
"""
    for peer, peer_asn, passive in peers:
        text += f"""
[[peers]]
address = "{peer}"
asn = {peer_asn}
passive = {"true" if passive else "false"}
families = ["l2vpn-evpn"]
"""
    return (
        text
        + f"""
[[vnis]]
vni = {vni}
vtep = "{address}"
import_targets = ["{import_target}"]
vxlan = "vxlan{vni}"
bridge = "br{vni}"

[dataplane]
sink = "netlink"
"""
    )


def rss_kib(pid: int) -> int | None:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


class Lab:
    """Owns namespaces, processes and FRR daemons (by PID); :meth:`close` removes them all."""

    def __init__(self, directory: Path, tag: str) -> None:
        self.dir = directory
        self.suffix = f"{tag}{os.getpid()}"
        self.namespaces: list[Netns] = []
        self.processes: list[Process] = []
        self.daemon_pids: list[int] = []
        self.paths: list[Path] = []  # directories to remove at the end

    def netns(self, role: str) -> Netns:
        ns = Netns(f"{role}-{self.suffix}")
        self.namespaces.append(ns)
        return ns

    def veth(self, a: Netns, a_if: str, a_addr: str, b: Netns, b_if: str, b_addr: str) -> None:
        tmp = f"v{os.getpid() % 100000}{len(self.namespaces)}{a_if[-1]}"
        run("ip", "link", "add", tmp + "a", "netns", a.name, "type", "veth", "peer", tmp + "b", "netns", b.name)
        a.ip("link", "set", tmp + "a", "name", a_if)
        b.ip("link", "set", tmp + "b", "name", b_if)
        for ns, dev, addr in ((a, a_if, a_addr), (b, b_if, b_addr)):
            ns.ip("addr", "add", addr, "dev", dev)
            ns.ip("link", "set", dev, "up")

    def start(self, ns: Netns, argv: list[str], name: str, *, stdin: bool = False) -> Process:
        proc = Process(ns.argv(*argv), self.dir / f"{name}.{len(self.processes)}.log", stdin=stdin, name=name)
        self.processes.append(proc)
        return proc

    def speaker(self, ns: Netns, config: str, name: str = "speaker") -> tuple[Process, Path]:
        toml = self.dir / f"{name}.toml"
        toml.write_text(config)
        control = self.dir / f"{name}.sock"
        argv = [PYTHON, "-u", "-m", "evpn", "run", "-c", str(toml), "--json", "--control", str(control)]
        return self.start(ns, argv, name), control

    def loadgen(self, ns: Netns, config: dict[str, Any], name: str = "loadgen") -> Process:
        path = self.dir / f"{name}.json"
        path.write_text(json.dumps(config))
        proc = self.start(ns, [PYTHON, "-u", str(HERE / "loadgen.py"), str(path)], name, stdin=True)
        proc.wait_event(lambda e: e.get("event") == "ready", 120, what="ready")
        return proc

    def close(self) -> None:
        for proc in reversed(self.processes):
            with contextlib.suppress(Exception):
                proc.stop(5)
        for pid in self.daemon_pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for ns in reversed(self.namespaces):
            run("ip", "netns", "del", ns.name, check=False)
        self.namespaces.clear()
        for path in self.paths:
            shutil.rmtree(path, ignore_errors=True)
