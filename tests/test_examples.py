"""The examples (``examples/``), run as ``docs/examples.md`` shows them, and the strategies of
:mod:`evpn.testing.strategies` that ``examples/route_fuzzer.py`` draws from.

Each example runs in a subprocess, on loopback, on a free port, with a time limit.  The
commands come from ``docs/examples.md`` itself, so the documentation shows what is tested.
"""

from __future__ import annotations

import json
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evpn.errors import Action, BGPError
from evpn.testing import strategies as gen
from evpn.wire import Context, Update, decode_evpn_nlri, decode_message
from evpn.wire._common import Malformed

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "examples.md"
TIMEOUT = 60  # seconds for one run of an example


def free_port(host: str) -> int:
    """A TCP port on ``host`` that nothing uses right now, chosen by the kernel."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def documented(example: str) -> list[str]:
    """The command ``docs/examples.md`` gives for ``example`` (every time it gives one, the same)."""
    prefix = f"$ .venv/bin/python examples/{example}"
    commands = {line[2:] for line in DOC.read_text().splitlines() if line == prefix or line.startswith(prefix + " ")}
    assert len(commands) == 1, f"docs/examples.md should give one command for {example}: {commands}"
    return shlex.split(commands.pop())


def run(example: str, port: int, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run ``example`` with the documented command, on ``port``, with this interpreter."""
    _, script, *args = documented(example)
    command = [sys.executable, str(ROOT / script), *args, "--port", str(port)]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT, check=False)


# --- orchestrator.py -------------------------------------------------------------------------


def test_orchestrator() -> None:
    result = run("orchestrator.py", free_port("127.0.0.2"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # Each leaf learns the other's VTEP for both VNIs from the type-3 routes of its VniConfigs...
    for vni in (100, 200):
        assert f"leaf1: VNI {vni}: remote VTEP 198.18.0.2 (from 127.0.0.2)" in lines, result.stdout
        assert f"leaf2: VNI {vni}: remote VTEP 198.18.0.1 (from 127.0.0.1)" in lines, result.stdout
    # ...and the host the other added with add_mac(), in the VNI it was added to.
    assert "leaf2: VNI 100: remote MAC 02:aa:00:00:00:01 at VTEP 198.18.0.1" in lines, result.stdout
    assert "leaf1: VNI 200: remote MAC 02:bb:00:00:00:02 at VTEP 198.18.0.2" in lines, result.stdout
    # Per leaf: 2 type-3 routes and 1 type-2 route each way.
    assert any(
        re.fullmatch(r"leaf1: 127\.0\.0\.2 ESTABLISHED: 3 routes in, 3 out, \d+/\d+ messages in/out", x) for x in lines
    ), result.stdout
    assert any(
        re.fullmatch(r"leaf2: 127\.0\.0\.1 ESTABLISHED: 3 routes in, 3 out, \d+/\d+ messages in/out", x) for x in lines
    ), result.stdout
    # leaf1 stops cleanly: leaf2 gets its Cease, and its routes go.
    assert lines[-1] == "leaf2: peer 127.0.0.1 down: NOTIFICATION received: CEASE/ADMINISTRATIVE_SHUTDOWN", (
        result.stdout
    )
    assert "leaf2: VTEP 198.18.0.1 left (198.18.0.1:100)" in lines, result.stdout
    assert not result.stderr


# --- custom_sink.py --------------------------------------------------------------------------


def written(stdout: str) -> list[dict[str, object]]:
    """The operations the sink says it wrote in this run."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if "operations written by this run" in line)
    return [json.loads(line) for line in lines[start + 1 :]]


def test_custom_sink(tmp_path: Path) -> None:
    (output,) = (arg for arg in documented("custom_sink.py") if arg.endswith(".jsonl"))
    port = free_port("127.0.0.2")
    first = run("custom_sink.py", port, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert f"leaf1: {output}: 0 entries installed by earlier runs" in first.stdout
    ops = written(first.stdout)
    file_lines = (tmp_path / output).read_text().splitlines()
    assert [json.loads(line) for line in file_lines] == ops  # the sink's file is its log
    installed = {(op["kind"], op.get("mac"), op.get("ip"), op.get("vtep")) for op in ops[:4]}
    assert installed == {
        ("flood", None, None, "198.18.0.2"),
        ("fdb", "02:bb:00:00:00:01", None, "198.18.0.2"),
        ("fdb", "02:bb:00:00:00:02", None, "198.18.0.2"),
        ("neigh", "02:bb:00:00:00:01", "198.19.100.21", None),
    }
    # (the first four come "via" apply or reconcile, as End-of-RIB comes before the dataplane's task runs or after)
    host = [(op["action"], op["kind"], op["via"]) for op in ops[4:] if op.get("mac") == "02:bb:00:00:00:03"]
    assert host == [(action, kind, "apply") for action in ("replace", "remove") for kind in ("fdb", "neigh")]
    assert len(ops) == 8

    # A previous run left an entry that no route justifies: reconciling removes it, and
    # nothing already installed is written again.
    stale = {"action": "replace", "via": "apply", "kind": "fdb", "device": "vxlan100", "mac": "02:ee:00:00:00:01"}
    stale |= {"vtep": "198.18.0.9", "sticky": False}
    with (tmp_path / output).open("a") as file:
        file.write(json.dumps(stale) + "\n")
    second = run("custom_sink.py", port, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert f"leaf1: {output}: 5 entries installed by earlier runs" in second.stdout
    ops = written(second.stdout)
    assert ops[0] == stale | {"action": "remove", "via": "reconcile"}
    assert [(op["action"], op["kind"], op["mac"]) for op in ops[1:]] == [
        (action, kind, "02:bb:00:00:00:03") for action in ("replace", "remove") for kind in ("fdb", "neigh")
    ]
    assert "leaf1 dataplane: reconciled, 4 entries" in second.stdout


# --- route_fuzzer.py -------------------------------------------------------------------------


def case_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith(("valid ", "malformed "))]


@pytest.fixture(scope="module")
def fuzzed() -> subprocess.CompletedProcess[str]:
    return run("route_fuzzer.py", free_port("127.0.0.1"))


def test_route_fuzzer_target_handles_every_case_as_rfc_7606_says(fuzzed: subprocess.CompletedProcess[str]) -> None:
    assert fuzzed.returncode == 0, fuzzed.stdout + fuzzed.stderr
    args = documented("route_fuzzer.py")
    count, invalid = int(args[args.index("--count") + 1]), int(args[args.index("--invalid") + 1])
    lines = case_lines(fuzzed.stdout)
    valid = [line for line in lines if line.startswith("valid ")]
    malformed = [line for line in lines if line.startswith("malformed ")]
    assert len(valid) == count and all(line.endswith(": accepted") for line in valid)
    assert len(malformed) == invalid and all(line.endswith(": ok") for line in malformed)
    # every kind of malformed UPDATE was tried, and every RFC 7606 outcome seen
    kinds = {line.split()[2].rstrip(":").split("/")[0] for line in malformed}
    assert kinds == set(gen.MALFORMED_UPDATE_KINDS)
    outcomes = {line.split(": ")[1].split()[0] for line in malformed}
    assert outcomes == {"accepted", "treat-as-withdraw", "afi-safi-disable", "session-reset"}
    summary = fuzzed.stdout.split("summary:")[1]
    assert "unexpected: 0" in summary
    routes = re.search(r"valid: \d+ UPDATEs, (\d+) routes, (\d+) accepted", summary)
    assert routes is not None and routes[1] == routes[2]


def test_route_fuzzer_is_deterministic(fuzzed: subprocess.CompletedProcess[str]) -> None:
    again = run("route_fuzzer.py", free_port("127.0.0.1"))
    assert again.returncode == 0, again.stdout + again.stderr
    assert case_lines(again.stdout) == case_lines(fuzzed.stdout)


# --- the strategies route_fuzzer.py draws from -----------------------------------------------


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.booleans(), st.sampled_from(sorted(gen.MALFORMED_NLRI_KINDS)))
def test_malformed_evpn_nlri_are_rejected(data: st.DataObject, add_path: bool, kind: str) -> None:
    raw = data.draw(gen.malformed_evpn_nlri(add_path, kind))
    with pytest.raises(Malformed):
        decode_evpn_nlri(raw, add_path)


CONTEXTS = [Context(), Context(four_octet_as=False, add_path={gen.EVPN}, extended_message=True)]


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.sampled_from(CONTEXTS), st.sampled_from(sorted(gen.MALFORMED_UPDATE_KINDS)))
def test_malformed_evpn_updates_get_the_action_they_name(data: st.DataObject, ctx: Context, kind: str) -> None:
    case = data.draw(gen.malformed_evpn_updates(ctx, asn=65099 if ctx.four_octet_as else 65001, kind=kind))
    assert case.kind.split("/")[0] == kind
    try:
        message = decode_message(case.message, ctx)
    except BGPError as error:
        assert (error.action, (error.code, error.subcode)) == (Action.SESSION_RESET, case.notification), error
    else:
        assert isinstance(message, Update)
        assert (message.action, case.notification) == (case.action, None), message.errors
    assert (case.notification is None) == (case.action is not Action.SESSION_RESET)


@settings(max_examples=200)
@given(st.sampled_from(CONTEXTS).flatmap(lambda ctx: st.tuples(st.just(ctx), gen.evpn_updates(ctx, asn=65001))))
def test_evpn_updates_are_clean(case: tuple[Context, Update]) -> None:
    ctx, update = case
    raw = update.encode(ctx)
    decoded = decode_message(raw, ctx)
    assert isinstance(decoded, Update) and not decoded.errors
    assert decoded.mp_reach is not None and decoded.mp_reach.nlri
    assert decoded.as_path is not None and decoded.as_path.segments[0].asns[0] == 65001
    assert decoded.encode(ctx) == raw


def test_generate_is_deterministic() -> None:
    strategy = gen.malformed_evpn_updates(asn=65099)
    first = gen.generate(strategy, 25, seed=7)
    assert len(first) == 25
    assert gen.generate(strategy, 25, seed=7) == first
    assert gen.generate(strategy, 25, seed=8) != first
