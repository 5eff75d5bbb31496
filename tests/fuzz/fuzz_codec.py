"""Coverage-guided fuzzing of the decoders and the session with atheris (``tox -e fuzz``).

The first input byte picks the target (see ``targets.py``: whole message, stream reader,
attribute list, EVPN NLRI, bytes into an Established session, bytes into a session waiting
for the peer's OPEN) and its variant; the rest is fed to it.  Anything but a defined outcome
is a crash: libFuzzer writes the input to ``tests/regressions/fuzz/`` (``-artifact_prefix``),
where ``tests/test_fuzz_regressions.py`` replays it on every test run.

Seeds: inputs built by the project's own encoder (``targets.seed_messages``), plus, when
``../shared/corpus`` exists beside the repository, the BGP messages found in its captures
and hex vectors (read at run time, never copied into the repository).

A campaign (the default mode) runs libFuzzer in a child process for ``FUZZ_SECONDS``
(default 180), keeps the corpus it grows in ``fuzz-artifacts/corpus/``, then replays that
corpus under coverage.py and prints a summary: inputs executed, exec/s, libFuzzer's
``cov``/``ft`` counters, line coverage of ``evpn/wire`` and ``evpn/session``, crashes.

Usage::

    python tests/fuzz/fuzz_codec.py [libFuzzer flags]      # a campaign (exit 1 on a crash)
    python tests/fuzz/fuzz_codec.py --worker [flags] DIRS  # libFuzzer itself (what a campaign runs)
    python tests/fuzz/fuzz_codec.py --replay DIRS          # line coverage of DIRS, as JSON
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE.parent))

REGRESSIONS = ROOT / "tests" / "regressions" / "fuzz"
ARTIFACTS = ROOT / "fuzz-artifacts"  # git-ignored: the grown corpus and the full libFuzzer log
SHARED_CORPUS = ROOT.parent / "shared" / "corpus"
COVERED = {"evpn/wire": "*/evpn/wire/*", "evpn/session": "*/evpn/session/*"}
NOT_COVERED = ["*/evpn/wire/jsonform.py"]  # the JSON view of decoded values: no decoder runs it
LIBFUZZER_FLAGS = ["-print_final_stats=1", "-timeout=10", "-max_len=16384", "-rss_limit_mb=2048"]
MAX_SEED = 16384


# --- seeds ----------------------------------------------------------------------------------


def shared_corpus_seeds(root: Path = SHARED_CORPUS) -> list[bytes]:
    """Fuzz inputs made from the shared corpus, if it is there (else none).

    Captures are split into messages (each one a ``message`` and a ``session`` input, each
    stream a ``stream`` input); hex vectors and ExaBGP's decoding cases become ``message``
    inputs when they start with the BGP marker, ``evpn-nlri``/``attributes`` inputs
    otherwise; GoBGP's bad-length crashers go in as they are.
    """
    from fuzz.targets import selector

    from evpn.cli.capture import read_streams
    from evpn.errors import BGPError
    from evpn.wire import MessageReader

    def messages(data: bytes) -> Iterator[bytes]:
        reader = MessageReader(65535)
        reader.feed(data)
        try:
            yield from reader
        except BGPError:
            return

    def loose(data: bytes) -> list[bytes]:
        if data.startswith(b"\xff" * 16):
            return [selector("message") + data, selector("session") + data]
        return [selector("evpn-nlri") + data, selector("evpn-nlri", 1) + data, selector("attributes") + data]

    if not (root / "README.txt").is_file():
        return []
    seeds: list[bytes] = []
    for path in sorted([*root.rglob("*.pcap"), *root.rglob("*.pcapng")]):
        try:
            streams = read_streams(path)
        except ValueError:
            continue
        for stream in streams:
            seeds.append(selector("stream") + stream.data[:MAX_SEED])
            for raw in messages(stream.data):
                seeds += [selector("message") + raw, selector("session") + raw]
    for path in sorted(root.glob("vectors/*.txt")):
        for line in path.read_text().splitlines():
            hex_part = line.split("#", 1)[0].strip()
            if hex_part and re.fullmatch(r"[0-9a-fA-F]+", hex_part) and len(hex_part) % 2 == 0:
                seeds += loose(bytes.fromhex(hex_part))
    for path in sorted(root.glob("exabgp-qa-decoding/*")):
        lines = path.read_text().splitlines()
        if len(lines) > 1:
            seeds += loose(bytes.fromhex(re.sub(r"[\s:]", "", lines[1])))
    for path in sorted(root.glob("gobgp-bad-len/*")):
        seeds += [selector("message") + path.read_bytes(), selector("stream") + path.read_bytes()]
    return list(dict.fromkeys(seed[:MAX_SEED] for seed in seeds))


def write_seeds(directory: Path) -> tuple[int, int]:
    """Write every seed into ``directory``: (from our encoder, from the shared corpus)."""
    from fuzz.targets import seed_messages

    ours, shared = seed_messages(), shared_corpus_seeds()
    for i, seed in enumerate(ours):
        (directory / f"encoder-{i:04d}").write_bytes(seed)
    for i, seed in enumerate(shared):
        (directory / f"shared-{i:05d}").write_bytes(seed)
    return len(ours), len(shared)


# --- reading libFuzzer's output ---------------------------------------------------------------

_PROGRESS = re.compile(r"^#(\d+)\s+(\w+)\s+cov: (\d+) ft: (\d+) corp: (\d+)/")
_STAT = re.compile(r"^stat::(\w+):\s+(\d+)")
_ARTIFACT = re.compile(r"Test unit written to (\S+)")


@dataclass
class Figures:
    """What libFuzzer printed: its ``cov``/``ft``/``corp`` counters once the seeds were
    loaded (INITED) and at the end, its ``stat::`` lines, and the artifacts it wrote."""

    inited: dict[str, int] = field(default_factory=dict)
    last: dict[str, int] = field(default_factory=dict)
    stats: dict[str, int] = field(default_factory=dict)
    artifacts: list[str] = field(default_factory=list)


def parse_libfuzzer(lines: list[str]) -> Figures:
    """Read the figures out of libFuzzer's output lines."""
    figures = Figures()
    for line in lines:
        if match := _PROGRESS.match(line):
            execs, kind, cov, ft, corp = match.groups()
            figures.last = {"execs": int(execs), "cov": int(cov), "ft": int(ft), "corpus": int(corp)}
            if kind == "INITED":
                figures.inited = figures.last
        elif match := _STAT.match(line):
            figures.stats[match[1]] = int(match[2])
        elif match := _ARTIFACT.search(line):
            figures.artifacts.append(match[1])
    return figures


# --- the three modes --------------------------------------------------------------------------


def worker(argv: list[str]) -> None:
    """Run libFuzzer over the instrumented targets (does not return)."""
    import atheris

    with atheris.instrument_imports(include=["evpn"]):
        from fuzz.targets import run_target

    atheris.Setup([sys.argv[0], *argv], run_target)
    atheris.Fuzz()


def replay(directories: list[str]) -> None:
    """Run every file of ``directories`` through the targets under coverage.py; print JSON."""
    import coverage

    cov = coverage.Coverage(source_pkgs=["evpn.wire", "evpn.session"], omit=NOT_COVERED, data_file=None)
    cov.start()
    from fuzz.targets import run_target

    inputs = failures = 0
    for directory in directories:
        for path in sorted(Path(directory).iterdir()):
            inputs += 1
            try:
                run_target(path.read_bytes())
            except Exception:
                failures += 1
    cov.stop()
    sink = open(os.devnull, "w")  # noqa: SIM115 -- coverage wants a file; only the totals are used
    with sink:
        result = {name: round(cov.report(include=[pattern], file=sink), 1) for name, pattern in COVERED.items()}
        result["total"] = round(cov.report(file=sink), 1)
    print(json.dumps({"inputs": inputs, "failures": failures, "line_coverage": result}))


def campaign(argv: list[str]) -> int:
    """Fuzz for ``FUZZ_SECONDS``, then print the summary; 1 if a crash was found."""
    seconds = int(os.environ.get("FUZZ_SECONDS", "180"))
    corpus = ARTIFACTS / "corpus"
    for directory in (REGRESSIONS, corpus):
        directory.mkdir(parents=True, exist_ok=True)
    seeds = Path(tempfile.mkdtemp(prefix="evpn-fuzz-seeds-"))
    ours, shared = write_seeds(seeds)
    print(f"fuzz: {ours} seeds from our encoder, {shared} from {SHARED_CORPUS} ({'absent' if not shared else 'read'})")
    command = [
        sys.executable,
        __file__,
        "--worker",
        f"-max_total_time={seconds}",
        f"-artifact_prefix={REGRESSIONS}/",
        *LIBFUZZER_FLAGS,
        *argv,
        str(corpus),
        str(seeds),
    ]
    started = time.monotonic()
    lines = []
    with (
        (ARTIFACTS / "libfuzzer.log").open("w") as log,
        subprocess.Popen(command, stderr=subprocess.STDOUT, stdout=subprocess.PIPE, text=True, errors="replace") as run,
    ):
        assert run.stdout is not None
        for line in run.stdout:
            log.write(line)
            lines.append(line)
            if not re.match(r"^#\d+\s+(NEW|REDUCE)\b", line):  # the full stream is in the log
                sys.stdout.write(line)
    elapsed = time.monotonic() - started
    figures = parse_libfuzzer(lines)
    replayed = subprocess.run(
        [sys.executable, __file__, "--replay", str(corpus), str(seeds)], capture_output=True, text=True, check=False
    )
    coverage = json.loads(replayed.stdout.splitlines()[-1]) if replayed.returncode == 0 else None
    print(summary(figures, coverage, elapsed, run.returncode, replayed.stderr))
    return 1 if figures.artifacts or run.returncode else 0


def summary(figures: Figures, coverage: dict[str, Any] | None, elapsed: float, returncode: int, error: str) -> str:
    """The campaign's closing report, one figure a line."""
    start, end, stats = figures.inited, figures.last, figures.stats
    rows = [
        "",
        "=== fuzz campaign summary ===",
        f"wall time:          {elapsed:.0f} s (libFuzzer exit code {returncode})",
        f"inputs executed:    {stats.get('number_of_executed_units', '?')}"
        f" ({stats.get('average_exec_per_sec', '?')} exec/s)",
        f"libFuzzer cov/ft:   {start.get('cov', '?')}/{start.get('ft', '?')} after the seeds,"
        f" {end.get('cov', '?')}/{end.get('ft', '?')} at the end"
        f" (corpus {end.get('corpus', '?')} inputs, {stats.get('new_units_added', '?')} new)",
    ]
    if coverage is None:
        rows.append(f"line coverage:      not measured (is coverage installed?) {error.strip()[-300:]}")
    else:
        lines = coverage["line_coverage"]
        per_package = ", ".join(f"{name} {lines[name]}%" for name in COVERED)
        rows.append(
            f"line coverage:      {per_package}; together {lines['total']}%"
            f" (corpus replayed: {coverage['inputs']} inputs, {coverage['failures']} failing)"
        )
    rows.append(f"crashes found:      {len(figures.artifacts)}")
    rows += [f"  {path}  (replayed by tests/test_fuzz_regressions.py)" for path in figures.artifacts]
    return "\n".join(rows)


def main() -> None:
    """Dispatch on the first argument: ``--worker``, ``--replay``, or a campaign."""
    args = sys.argv[1:]
    if args[:1] == ["--worker"]:
        worker(args[1:])
    elif args[:1] == ["--replay"]:
        replay(args[1:])
    else:
        sys.exit(campaign(args))


if __name__ == "__main__":
    main()
