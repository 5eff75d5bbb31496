"""Fixtures of the fault-injection scenarios (``EVPN_FAULTS=1 pytest tests/faults``).

Each scenario gets a :class:`~scenario_lab.ScenarioLab` (a VTEP namespace running ``evpn run`` with the
netlink sink, peer namespaces) that is torn down afterwards, pass or fail; a failed scenario's report
gets every process's last events and stderr.  :func:`fault_summary` records one line of figures per
scenario: printed at once (``-rA`` shows it) and again at the end of the run, and written as JSON to
``$EVPN_FAULT_SUMMARY`` or ``fault-summary.json`` in pytest's base temporary directory.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from scenario_lab import ScenarioLab

_SUMMARY: list[dict[str, Any]] = []
_SUMMARY_PATH: list[Path] = []


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    """SIGTERM (a CI job cancelled, ``timeout``) ends the run like Ctrl-C, so that the fixtures'
    ``finally`` still removes the namespaces and stops the processes."""
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminate)


def _missing() -> list[str]:
    missing = []
    if os.geteuid() != 0:
        missing.append("not root (network namespaces need it)")
    for tool in ("ip", "bridge"):
        if shutil.which(tool) is None:
            missing.append(f"the {tool} command (iproute2)")
    try:
        import pyroute2  # noqa: F401
    except ImportError:
        missing.append("pyroute2 (the netlink extra)")
    return missing


@pytest.fixture(scope="session")
def require_root() -> None:
    missing = _missing()
    if missing:
        reason = "fault scenarios need: " + "; ".join(missing)
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report: Any = yield
    setattr(item, f"fault_report_{report.when}", report)
    return report  # type: ignore[no-any-return]


@pytest.fixture
def fault_lab(request: pytest.FixtureRequest, require_root: None, tmp_path: Path) -> Iterator[ScenarioLab]:
    lab = ScenarioLab(tmp_path)
    try:
        yield lab
    finally:
        report = getattr(request.node, "fault_report_call", None)
        if report is not None and report.failed:
            print(lab.describe())
        lab.close()


@pytest.fixture(scope="session")
def _summary_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = Path(os.environ.get("EVPN_FAULT_SUMMARY") or tmp_path_factory.getbasetemp() / "fault-summary.json")
    _SUMMARY_PATH[:] = [path]
    return path


@pytest.fixture
def fault_summary(request: pytest.FixtureRequest, _summary_path: Path) -> Callable[..., None]:
    """``fault_summary(name, line, **figures)``: record the scenario's one-line summary."""

    def record(name: str, line: str, **figures: Any) -> None:
        entry = {"scenario": name, "test": request.node.nodeid, "summary": f"FAULT {name}: {line}", **figures}
        _SUMMARY.append(entry)
        print(entry["summary"], flush=True)
        _summary_path.parent.mkdir(parents=True, exist_ok=True)
        _summary_path.write_text(json.dumps(_SUMMARY, indent=2) + "\n")

    return record


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _SUMMARY:
        return
    terminalreporter.section("fault scenarios")
    for entry in _SUMMARY:
        terminalreporter.write_line(entry["summary"])
    if _SUMMARY_PATH:
        terminalreporter.write_line(f"figures: {_SUMMARY_PATH[0]}")
