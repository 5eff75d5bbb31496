"""Replay every input the fuzzer ever found (tests/regressions/fuzz/) and the seed corpus."""

from __future__ import annotations

from pathlib import Path

import pytest
from fuzz.targets import run_target, seed_messages

REGRESSIONS = sorted((Path(__file__).parent / "regressions" / "fuzz").glob("*"))


@pytest.mark.parametrize("path", REGRESSIONS, ids=[p.name for p in REGRESSIONS])
def test_fuzz_regression(path: Path) -> None:
    run_target(path.read_bytes())


def test_seeds_decode_cleanly() -> None:
    seeds = seed_messages()
    assert len(seeds) > 10
    for seed in seeds:
        run_target(seed)


def test_target_reraises_foreign_exceptions(monkeypatch: pytest.MonkeyPatch) -> None:
    import fuzz.targets as targets

    def boom(*_: object) -> None:
        raise IndexError("simulated decoder bug")

    monkeypatch.setattr(targets, "decode_message", boom)
    with pytest.raises(IndexError):
        run_target(b"\x00" + b"\xff" * 19)
