"""``python -m evpn run``: two real processes peering over loopback.

One process listens on 127.0.0.1 (a kernel-chosen free port, above 20000), the other connects
to it from 127.0.0.2; both use the issue's example configuration with loopback addresses.
Every process is killed by PID when a test ends, whatever happened.
"""

from __future__ import annotations

import contextlib
import json
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from evpn.config import load_config

# The example of the issue, byte for byte (tests/test_config.py checks every value it loads as).
EXAMPLE = """\
[speaker]
asn = 65001
router_id = "198.18.2.1"
listen = "198.18.2.1:179"   # "none" = do not listen
hold_time = 90

[[peers]]
address = "198.18.2.2"
asn = 65002
passive = false             # optional: local_address, password, hold_time, families = ["l2vpn-evpn"]
"""

LISTENER = """\
[speaker]
asn = 65001
router_id = "198.18.2.1"
listen = "127.0.0.1:{port}"
hold_time = 90

[[peers]]
address = "127.0.0.2"
asn = 65002
passive = true
"""

CONNECTOR = """\
[speaker]
asn = 65002
router_id = "198.18.2.2"
listen = "none"
hold_time = 90

[[peers]]
address = "127.0.0.1"
asn = 65001
passive = false
local_address = "127.0.0.2"
port = {port}
connect_retry = 1
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    assert port > 20000
    return port


class Run:
    """One ``evpn run`` process: its stdout lines arrive on a queue, stderr goes to a file."""

    def __init__(self, config: Path, *flags: str) -> None:
        self.stderr_path = config.with_suffix(".stderr")
        self._stderr: IO[str] = self.stderr_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "evpn", "run", "-c", str(config), *flags],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def expect(self, matches: Callable[[str], bool], timeout: float = 10.0) -> str:
        """The next stdout line for which ``matches`` is true (earlier lines are kept in ``lines``)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            if matches(line):
                return line
        raise AssertionError(f"no such line within {timeout} s; stdout: {self.lines!r}; stderr:\n{self.stderr}")

    def event(self, name: str, timeout: float = 10.0) -> dict[str, Any]:
        """The next JSON event called ``name``; every line before it must be JSON too."""

        def matches(line: str) -> bool:
            return bool(json.loads(line)["event"] == name)

        return dict(json.loads(self.expect(matches, timeout)))

    def wait_stderr(self, text: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.stderr:
            assert self.proc.poll() is None, f"exited with {self.proc.returncode}:\n{self.stderr}"
            assert time.monotonic() < deadline, f"{text!r} not logged within {timeout} s:\n{self.stderr}"
            time.sleep(0.02)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 5.0) -> float:
        """Send ``signum``; return how long the process took to exit (it must, within ``timeout``)."""
        started = time.monotonic()
        self.proc.send_signal(signum)
        self.proc.wait(timeout=timeout)
        return time.monotonic() - started

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()  # by PID
            self.proc.wait()
        self._stderr.close()


@contextlib.contextmanager
def two_runs(tmp_path: Path, *flags: str) -> Iterator[tuple[Run, Run]]:
    """The listener, then (once it listens) the connector, both with ``flags``."""
    port = free_port()
    listener_config = tmp_path / "listener.toml"
    connector_config = tmp_path / "connector.toml"
    listener_config.write_text(LISTENER.format(port=port))
    connector_config.write_text(CONNECTOR.format(port=port))
    runs: list[Run] = []
    try:
        runs.append(Run(listener_config, *flags))
        runs[0].wait_stderr(f"listening on 127.0.0.1 port {port}")
        runs.append(Run(connector_config, *flags))
        yield runs[0], runs[1]
    finally:
        for run in runs:
            run.kill()


def test_run_json_events_and_sigterm(tmp_path: Path) -> None:
    with two_runs(tmp_path, "--json", "--routes") as (listener, connector):
        up = listener.event("peer_up")
        assert up == {"event": "peer_up", "peer": "127.0.0.2", "asn": 65002, "families": ["l2vpn-evpn"]}
        assert connector.event("peer_up") == {
            "event": "peer_up",
            "peer": "127.0.0.1",
            "asn": 65001,
            "families": ["l2vpn-evpn"],
        }
        # Neither originates anything: End-of-RIB right away, counting 0 routes (RFC 4724 §2).
        eor = {"event": "end_of_rib", "family": "l2vpn-evpn", "routes": 0}
        assert listener.event("end_of_rib") == {**eor, "peer": "127.0.0.2"}
        assert connector.event("end_of_rib") == {**eor, "peer": "127.0.0.1"}

        took = connector.stop(signal.SIGTERM)
        assert connector.proc.returncode == 0, connector.stderr
        assert took < 5
        assert "SIGTERM: shutting down" in connector.stderr
        down = listener.event("peer_down")
        assert down["peer"] == "127.0.0.2"
        assert down["reason"] == "NOTIFICATION received: CEASE/ADMINISTRATIVE_SHUTDOWN"

        assert listener.stop(signal.SIGTERM) < 5
        assert listener.proc.returncode == 0, listener.stderr
        for run in (listener, connector):
            assert all(json.loads(line)["event"] for line in run.lines)  # nothing but JSON on stdout


def test_run_human_readable_and_sigint(tmp_path: Path) -> None:
    with two_runs(tmp_path) as (listener, connector):
        assert listener.expect(lambda line: "up" in line) == "peer 127.0.0.2 up: AS 65002, l2vpn-evpn"
        assert connector.expect(lambda line: "up" in line) == "peer 127.0.0.1 up: AS 65001, l2vpn-evpn"
        assert listener.expect(lambda line: "End-of-RIB" in line) == "peer 127.0.0.2 End-of-RIB l2vpn-evpn: 0 routes"
        assert connector.stop(signal.SIGINT) < 5
        assert connector.proc.returncode == 0, connector.stderr
        down = listener.expect(lambda line: "down" in line)
        assert down == "peer 127.0.0.2 down: NOTIFICATION received: CEASE/ADMINISTRATIVE_SHUTDOWN"
        for line in listener.lines:
            assert not line.startswith("{")
        assert listener.stop() < 5
        assert listener.proc.returncode == 0, listener.stderr


def test_run_bad_config_exits_2_naming_the_keys(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(
        EXAMPLE.replace("hold_time = 90", "holdtime = 90").replace("asn = 65002", "asn = 23456"), encoding="utf-8"
    )
    result = subprocess.run(
        [sys.executable, "-m", "evpn", "run", "-c", str(config), "--json"],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert f"{config}: speaker.holdtime: unknown key (did you mean hold_time?)" in result.stderr
    assert f"{config}: peers[0].asn: 23456 is not allowed" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_missing_config_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    result = subprocess.run(
        [sys.executable, "-m", "evpn", "run", "-c", str(missing)], capture_output=True, text=True, timeout=20
    )
    assert result.returncode == 2
    assert str(missing) in result.stderr and "cannot read" in result.stderr


def test_issue_example_loads(tmp_path: Path) -> None:
    # It listens on 198.18.2.1, which the test host does not have: only load it.
    path = tmp_path / "config.toml"
    path.write_text(EXAMPLE, encoding="utf-8")
    config = load_config(path)
    assert config.speaker.listen == ("198.18.2.1", 179)
    assert (config.speaker.asn, config.speaker.router_id, config.speaker.hold_time) == (65001, "198.18.2.1", 90)
    ((peer),) = config.peers
    assert (peer.address, peer.asn, peer.passive, peer.families) == ("198.18.2.2", 65002, False, ("l2vpn-evpn",))
