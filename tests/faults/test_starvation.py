"""Hold timers under CPU starvation (RFC 4271 §4.4, §6.5), with real processes in namespaces.

The speaker (``python -m evpn run``) and a scripted peer (``bgp_peer.py``) negotiate a hold time
of 3 seconds over a veth pair, and the peer sends a table of 100,000 type-2 routes:

* **starved**: the speaker runs in a cgroup limited to 10 % of one CPU for the whole transfer,
  which then takes many hold times.  Busy or not, it must keep sending KEEPALIVEs: neither side
  may see its hold timer expire, and the whole table must arrive.
* **stopped**: the speaker is frozen (SIGSTOP) until the peer gives up on it, so that it really sends
  nothing.  The peer's hold timer must expire (it sends Hold Timer Expired, 4/0); once thawed the
  speaker must report the session down, then re-establish it and receive the table again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest

HERE = Path(__file__).resolve().parent
ROUTES = 100_000
HOLD_TIME = 3
SPEAKER, PEER = "198.18.60.1", "198.18.60.2"
CPU_CGROUP = Path("/sys/fs/cgroup/cpu")


def run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


class Process:
    """A child process whose stdout is JSON lines, read into :attr:`events` as they come."""

    def __init__(self, argv: list[str], log: Path) -> None:
        self.log = log.open("w")
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log)
        os.set_blocking(self.proc.stdout.fileno(), False)  # type: ignore[union-attr]
        self.events: list[dict[str, Any]] = []
        self._partial = b""

    def poll(self) -> None:
        stdout: IO[bytes] = self.proc.stdout  # type: ignore[assignment]
        chunk = stdout.read() or b""
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        for line in lines:
            if line.startswith(b"{"):
                self.events.append(json.loads(line))

    def of(self, kind: str) -> list[dict[str, Any]]:
        self.poll()
        return [e for e in self.events if e.get("event") == kind]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """Namespaces ``speaker`` and ``peer`` joined by a veth pair."""
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces)")
    suffix = os.getpid()
    speaker, peer = f"evst-s-{suffix}", f"evst-p-{suffix}"
    made = []
    try:
        for ns in (speaker, peer):
            run("ip", "netns", "add", ns)
            made.append(ns)
            run("ip", "-n", ns, "link", "set", "lo", "up")
        run("ip", "link", "add", "evst0", "netns", speaker, "type", "veth", "peer", "evst1", "netns", peer)
        for ns, dev, address in ((speaker, "evst0", SPEAKER), (peer, "evst1", PEER)):
            run("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", dev)
            run("ip", "-n", ns, "link", "set", dev, "up")
        yield speaker, peer, tmp_path
    finally:
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)


def start(speaker_ns: str, peer_ns: str, workdir: Path) -> tuple[Process, Process]:
    """The speaker (passive, hold time 3, memory sink, VNI 100) and the peer with its table."""
    config = workdir / "speaker.toml"
    config.write_text(
        f'[speaker]\nasn = 65001\nrouter_id = "{SPEAKER}"\nlisten = "{SPEAKER}:179"\nhold_time = {HOLD_TIME}\n'
        f'\n[[peers]]\naddress = "{PEER}"\nasn = 65002\npassive = true\n'
        f'\n[[vnis]]\nvni = 100\nvtep = "{SPEAKER}"\nimport_targets = ["65002:100"]\n'
        '\n[dataplane]\nsink = "memory"\n'
    )
    macs = [[f"02:01:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}:00", "", PEER, 0] for i in range(ROUTES)]
    table = workdir / "table.json"
    table.write_text(json.dumps({"vni": 100, "route_target": "65002:100", "vteps": [PEER], "macs": macs}))
    ours = Process(
        ["ip", "netns", "exec", speaker_ns, sys.executable, "-m", "evpn", "run", "-c", str(config), "--json",
         "--no-control"],
        workdir / "speaker.log",
    )  # fmt: skip
    theirs = Process(
        ["ip", "netns", "exec", peer_ns, sys.executable, "-u", str(HERE / "bgp_peer.py"), "--local", PEER,
         "--remote", SPEAKER, "--asn", "65002", "--hold-time", str(HOLD_TIME), "--table", str(table)],
        workdir / "peer.log",
    )  # fmt: skip
    return ours, theirs


def test_starved_speaker_keeps_its_sessions(pair: tuple[str, str, Path]) -> None:
    if not (CPU_CGROUP / "cpu.cfs_quota_us").exists():
        pytest.skip("no cgroup v1 cpu controller to starve the speaker with")
    speaker_ns, peer_ns, workdir = pair
    group = CPU_CGROUP / f"evpn-starve-{os.getpid()}"
    group.mkdir()
    ours = theirs = None
    try:
        (group / "cpu.cfs_period_us").write_text("100000")
        (group / "cpu.cfs_quota_us").write_text("10000")  # 10 % of one CPU
        ours, theirs = start(speaker_ns, peer_ns, workdir)
        (group / "cgroup.procs").write_text(str(ours.proc.pid))  # `ip netns exec` execs: the speaker's PID
        started = time.monotonic()
        eor = wait_for(lambda: ours.of("end_of_rib"), 600, "the End-of-RIB after the whole table")
        took = time.monotonic() - started
        assert eor[0]["routes"] == ROUTES + 1  # the type-2 routes and the peer's type-3
        assert ours.of("peer_down") == [], ours.events[-5:]
        assert theirs.of("down") == []
        assert len(ours.of("peer_up")) == len(theirs.of("established")) == 1
        stat = dict(line.split() for line in (group / "cpu.stat").read_text().splitlines())
        assert int(stat["nr_throttled"]) > 0, stat  # it really was starved
        print(
            f"FAULT starved-speaker: {ROUTES} routes at 10% CPU in {took:.0f} s ({took / HOLD_TIME:.0f} hold times),"
            f" throttled {int(stat['throttled_time']) / 1e9:.0f} s in {stat['nr_throttled']} periods, sessions lost 0"
        )
    finally:
        for process in (ours, theirs):
            if process is not None:
                process.stop()
        group.rmdir()


def test_frozen_speaker_is_dropped_by_the_peer_and_comes_back(pair: tuple[str, str, Path]) -> None:
    speaker_ns, peer_ns, workdir = pair
    ours, theirs = start(speaker_ns, peer_ns, workdir)
    try:
        wait_for(lambda: ours.of("end_of_rib"), 300, "the first End-of-RIB")
        ours.proc.send_signal(signal.SIGSTOP)
        try:
            down = wait_for(lambda: theirs.of("down"), 4 * HOLD_TIME, "the peer's hold timer")
        finally:
            ours.proc.send_signal(signal.SIGCONT)
        assert "hold" in down[0]["reason"].lower(), down
        ours_down = wait_for(lambda: ours.of("peer_down"), 30, "the speaker noticing")
        reason = ours_down[0]["reason"]
        assert "HOLD_TIMER_EXPIRED" in reason or "holdtimer expired" in reason.lower(), reason
        wait_for(lambda: len(ours.of("end_of_rib")) == 2, 300, "the table again after the new session")
        assert ours.of("end_of_rib")[1]["routes"] == ROUTES + 1
        assert len(ours.of("peer_up")) == 2
        print(f"FAULT frozen-speaker: frozen: peer: {down[0]['reason']}; ours: {reason}; back")
    finally:
        ours.stop()
        theirs.stop()
