"""The demo lab (``examples/frr-lab``), run the way ``docs/lab.md`` and README say: with FRR on
VTEP-2, with ``--evpn-only``, with ``--keep`` then ``--teardown``, and falling back to two evpn
speakers when FRR cannot be installed.  Each run must exit 0, narrate every milestone and leave
no namespace, process or directory behind.

The lab bootstraps a virtualenv on a fresh clone; here ``EVPN_LAB_PYTHON`` hands it this
interpreter instead when it has evpn and pyroute2.  Without root (or FRR, for the FRR runs) the
tests are skipped, except under ``CI=true`` (``conftest.py``).  The documentation test needs
neither: every command docs/lab.md shows is one these tests run.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "examples" / "frr-lab" / "run"
DOC = ROOT / "docs" / "lab.md"
TIMEOUT = 300  # seconds for one run, bootstrap included (the lab itself takes about 11 s)

# What the tests run, as docs/lab.md shows it (as root: `sudo` is left out when run here).
COMMANDS = {
    "frr": "sudo examples/frr-lab/run",
    "evpn-only": "sudo examples/frr-lab/run --evpn-only",
    "keep": "sudo examples/frr-lab/run --keep",
    "teardown": "sudo examples/frr-lab/run --teardown",
}
MILESTONES = (
    "[ok] BGP session up",
    "[ok] routes learned",
    "[ok] kernel entries programmed",
    "[ok] ping h1 -> h2 across VXLAN",
    "[ok] ARP answered locally",
    "[ok] MAC move seen",
    "[ok] routed ping h1 -> h3 through L3 VNI 5000",
)
DOC_LAB_ID = "4242"  # the lab number docs/lab.md's sample output uses
DOC_PYTHON = ".venv-lab/bin/python"


def lab_env(**extra: str) -> dict[str, str]:
    """The environment of a run: this interpreter when it can run the lab, so that the tests
    skip the virtualenv bootstrap (a fresh clone needs it; this checkout does not)."""
    env = dict(os.environ, **extra)
    if all(importlib.util.find_spec(m) for m in ("evpn", "pyroute2")):
        env["EVPN_LAB_PYTHON"] = sys.executable
    return env


def run(command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a documented command (without its ``sudo``) from the repository's top directory."""
    argv = shlex.split(command.removeprefix("sudo "))
    return subprocess.run(
        argv, cwd=ROOT, env=env or lab_env(), capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


def report(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout:\n{result.stdout[-12000:]}\n--- stderr:\n{result.stderr[-4000:]}"


def lab_id(output: str) -> str:
    found = re.search(r"^evpn demo lab (\d+):", output, re.MULTILINE)
    assert found, f"no lab number in the output:\n{output[:2000]}"
    return found.group(1)


def leftovers(lab: str) -> list[str]:
    """Namespaces, processes and directories of lab ``lab`` that still exist."""
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    found = [f"namespace {line.split()[0]}" for line in names.splitlines() if line.split()[0].endswith(f"-{lab}")]
    marks = (f"/run/evpn-lab/{lab}/", f"evlab-vtep2-{lab}")
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and proc.name != str(os.getpid()):
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if any(mark in cmdline for mark in marks):
                found.append(f"process {proc.name}: {cmdline}")
    for path in (Path(f"/run/evpn-lab/{lab}"), Path(f"/var/run/frr/evlab-vtep2-{lab}")):
        if path.exists():
            found.append(f"directory {path}")
    return found


def check_narrated(result: subprocess.CompletedProcess[str], vtep2: str) -> str:
    """Exit 0, every milestone, VTEP-2 as expected, nothing left; returns the lab's number."""
    assert result.returncode == 0, report(result)
    missing = [m for m in MILESTONES if m not in result.stdout]
    assert not missing, f"milestones not narrated: {missing}\n{report(result)}"
    assert f"VTEP-2 runs {vtep2}" in result.stdout, report(result)
    assert "[FAILED]" not in result.stdout, report(result)
    lab = lab_id(result.stdout)
    assert not leftovers(lab), f"left behind: {leftovers(lab)}\n{report(result)}"
    return lab


@pytest.fixture
def require_lab(require_root: None) -> None:
    """The tools the lab uses itself (the bootstrap installs them on a fresh machine)."""
    missing = [tool for tool in ("ip", "bridge", "ping", "tcpdump", "sysctl") if not shutil.which(tool)]
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the lab needs {missing} (CI=true)")
        pytest.skip(f"the lab needs {missing}")


@pytest.fixture
def cleanup() -> Iterator[list[str]]:
    """Lab numbers a test ran with --keep: torn down afterwards even if the test failed."""
    kept: list[str] = []
    yield kept
    if kept and any(leftovers(lab) for lab in kept):
        run(COMMANDS["teardown"])


# --- the documentation ---------------------------------------------------------------------------


def doc_commands() -> list[str]:
    """The ``$ `` lines of docs/lab.md's console blocks."""
    return [line[2:] for line in DOC.read_text().splitlines() if line.startswith("$ ")]


def doc_kept_commands() -> list[str]:
    """The commands of the ``--keep`` sample output in docs/lab.md (its ``  sudo `` lines)."""
    return [line.strip() for line in DOC.read_text().splitlines() if line.startswith("  sudo ")]


def test_docs_show_only_commands_the_tests_run() -> None:
    shown = doc_commands()
    assert set(shown) == set(COMMANDS.values()), f"docs/lab.md shows {shown}; the tests run {COMMANDS}"
    assert any(COMMANDS["teardown"] in line for line in doc_kept_commands())


# --- the lab --------------------------------------------------------------------------------------


@pytest.mark.interop
def test_lab_with_frr(require_lab: None, require_frr: None) -> None:
    check_narrated(run(COMMANDS["frr"]), "FRR")


@pytest.mark.interop
def test_lab_evpn_only(require_lab: None) -> None:
    check_narrated(run(COMMANDS["evpn-only"]), "a second evpn speaker")


@pytest.mark.interop
def test_lab_bootstraps_its_virtualenv_in_a_fresh_clone(require_lab: None, tmp_path: Path) -> None:
    """What README promises: from a clone with no virtualenv, the lab makes ``.venv-lab`` with
    evpn from that clone (pip), then runs."""
    clone = tmp_path / "clone"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=False).stdout
    if not tracked:
        pytest.skip("not a git checkout: no clone to make")
    for name in tracked.decode().split("\0"):
        if name and (ROOT / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, clone / name)
    env = {k: v for k, v in os.environ.items() if k not in ("EVPN_LAB_PYTHON", "VIRTUAL_ENV", "PYTHONPATH")}
    argv = shlex.split(COMMANDS["evpn-only"].removeprefix("sudo "))
    result = subprocess.run(argv, cwd=clone, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert f"installing evpn[netlink] into {clone}/.venv-lab" in result.stderr, report(result)
    check_narrated(result, "a second evpn speaker")
    venv_evpn = subprocess.run(
        [clone / ".venv-lab/bin/python", "-c", "import evpn; print(evpn.__file__)"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "/.venv-lab/" in venv_evpn, venv_evpn  # installed into the virtualenv, not this checkout


@pytest.mark.interop
def test_lab_falls_back_to_evpn_only_without_frr(require_lab: None, tmp_path: Path) -> None:
    """No FRR and an apt-get that fails: the lab says so and runs with two evpn speakers."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "apt-get").write_text("#!/bin/sh\necho 'E: no network here' >&2\nexit 100\n")
    (fake / "apt-get").chmod(0o755)
    env = lab_env(PATH=f"{fake}:{os.environ['PATH']}", EVPN_LAB_FRR_DIR=str(tmp_path / "no-frr"))
    result = run(COMMANDS["frr"], env)
    assert "FRR could not be installed" in result.stderr, report(result)
    assert "Running the lab with two evpn speakers instead" in result.stderr, report(result)
    check_narrated(result, "a second evpn speaker")


@pytest.mark.interop
def test_keep_then_teardown(require_lab: None, require_frr: None, cleanup: list[str]) -> None:
    """--keep leaves the lab running, prints how to look at it (each command works, and is the
    one docs/lab.md shows) and how to remove it; --teardown removes exactly that."""
    result = run(COMMANDS["keep"])
    lab = lab_id(result.stdout)
    cleanup.append(lab)
    assert result.returncode == 0, report(result)
    assert not [m for m in MILESTONES if m not in result.stdout], report(result)
    assert f"/run/evpn-lab/{lab}/state.json" in result.stdout, report(result)
    running = leftovers(lab)
    assert len([x for x in running if x.startswith("namespace")]) == 5, running
    assert len([x for x in running if x.startswith("process")]) == 3, running  # zebra, bgpd, evpn

    printed = re.search(r"^Look around.*?\n(.*?)^Tear it down with:\n(.*?)$", result.stdout, re.M | re.S)
    assert printed, report(result)
    look, teardown = printed.group(1).strip().splitlines(), printed.group(2).strip()
    assert teardown == COMMANDS["teardown"], teardown
    python = os.path.relpath(sys.executable, ROOT) if sys.executable.startswith(f"{ROOT}/") else sys.executable
    normalised = [
        line.strip()
        .replace(f"-{lab}", f"-{DOC_LAB_ID}")
        .replace(f"/{lab}/", f"/{DOC_LAB_ID}/")
        .replace(python, DOC_PYTHON)
        for line in look
    ]
    assert normalised == [c for c in doc_kept_commands() if c != COMMANDS["teardown"]], normalised
    for line in look:
        answer = run(line.strip())
        assert answer.returncode == 0 and answer.stdout.strip(), f"{line}: {report(answer)}"

    down = run(COMMANDS["teardown"])
    assert down.returncode == 0, report(down)
    assert f"Lab {lab} torn down" in down.stdout, report(down)
    assert not leftovers(lab), leftovers(lab)
