"""The documentation (README.md and docs/): its commands are ones the tests run, every page is
on the site, and every relative link leads somewhere.

**Commands.**  Every ``$ COMMAND`` line of a ```` ```console ```` block is either

* run here: ``python -m evpn decode`` commands (:data:`RUN_HERE`) are cheap, so this module runs
  each one as written (with this interpreter for ``.venv/bin/python``) and compares its output
  with the lines the page shows under it; or
* in :data:`RUN_BY`, which names the test that runs it: a test of this module (the install
  commands, ``scripts/test``) or of another one (the examples, ``evpn run``, ``evpn show``, the
  demo lab).  This module checks that the named test exists, and for the examples and the lab
  that ``tests/test_examples.py`` and ``tests/interop/test_frr_lab.py`` run that very command.

A command added to a page without a test therefore fails here, and so does a test renamed or
removed while a page still shows its command.  Blocks of other languages (plain ```` ``` ````,
``text``, ``toml``, ``sh``) are not commands for this module: ``docs/cli.md`` shows
``evpn decode`` and ``evpn show`` sessions in plain blocks, and ``tests/test_cli.py`` and
``tests/test_cli_show.py`` run those.

**Site.**  Every page in docs/ is in the ``nav`` of mkdocs.yml, and the nav names no missing
page.  ``tox -e docs`` builds the site (strict); this module does not need mkdocs.

**Links.**  Every relative link in README.md and docs/*.md names a file or directory that
exists, and an anchor into a Markdown file names one of its headings.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pytest

from evpn.config import load_config

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
MARKDOWN = [ROOT / "README.md", *PAGES]
VENV_PYTHON = ".venv/bin/python"

# Commands this module runs itself, by how they start: the test that runs them.
RUN_HERE = {
    f"{VENV_PYTHON} -m evpn decode ": "tests/test_docs.py::test_decode_commands_print_what_the_page_shows",
}

INSTALL_TEST = "tests/test_docs.py::test_install_commands_in_a_fresh_copy"

# Every other command the pages show, exactly as shown: the test that runs it.
RUN_BY = {
    # README.md and docs/quickstart.md: install, run, show, the whole suite.
    "python3 -m venv .venv && .venv/bin/pip install .": INSTALL_TEST,
    "scripts/test": "tests/test_docs.py::test_scripts_test_runs_lint_types_docs_and_tests",
    # two `evpn run` processes peering over loopback, with --json --routes
    f"{VENV_PYTHON} -m evpn run -c speaker.toml --json --routes": "tests/test_cli_run.py::test_run_json_events_and_sigterm",
    # `evpn show peers` asking a running `evpn run` through its control socket
    f"{VENV_PYTHON} -m evpn show peers": "tests/test_cli_show.py::test_run_control_end_to_end",
    # docs/examples.md: tests/test_examples.py reads these commands from the page and runs them.
    "python3 -m venv .venv && .venv/bin/pip install '.[testing]'": INSTALL_TEST,
    f"{VENV_PYTHON} examples/orchestrator.py": "tests/test_examples.py::test_orchestrator",
    f"{VENV_PYTHON} examples/custom_sink.py --output ops.jsonl": "tests/test_examples.py::test_custom_sink",
    f"{VENV_PYTHON} examples/route_fuzzer.py --count 10 --invalid 40 --seed 1": (
        "tests/test_examples.py::test_route_fuzzer_target_handles_every_case_as_rfc_7606_says"
    ),
    # docs/lab.md and docs/quickstart.md: the demo lab (root; tests/interop/test_frr_lab.py runs
    # these commands, which it also reads from docs/lab.md).
    "sudo examples/frr-lab/run": "tests/interop/test_frr_lab.py::test_lab_with_frr",
    "sudo examples/frr-lab/run --evpn-only": "tests/interop/test_frr_lab.py::test_lab_evpn_only",
    "sudo examples/frr-lab/run --keep": "tests/interop/test_frr_lab.py::test_keep_then_teardown",
    "sudo examples/frr-lab/run --teardown": "tests/interop/test_frr_lab.py::test_keep_then_teardown",
}


@dataclass(frozen=True)
class Command:
    """A ``$ `` line of a console block, and the lines shown under it."""

    page: Path
    line: int  # 1-based
    text: str
    output: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}: $ {self.text}"


def blocks(path: Path) -> list[tuple[str, int, list[str]]]:
    """The fenced code blocks of a Markdown file: (language, line of the first content line, lines)."""
    found: list[tuple[str, int, list[str]]] = []
    fence: str | None = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        stripped = line.strip()
        if fence is None:
            if match := re.match(r"(`{3,}|~{3,})\s*([\w+-]*)", stripped):
                fence = match[1]
                found.append((match[2], number + 1, []))
        elif stripped.startswith(fence) and stripped.strip(fence[0]) == "":
            fence = None
        else:
            found[-1][2].append(line)
    return found


def commands(path: Path) -> list[Command]:
    """Every ``$ `` line of the console blocks of ``path``, with the output lines under it."""
    found: list[Command] = []
    for language, first, lines in blocks(path):
        if language != "console":
            continue
        current: tuple[int, str, list[str]] | None = None
        for offset, line in enumerate(lines):
            if line.startswith("$ "):
                if current is not None:
                    found.append(Command(path, current[0], current[1], tuple(current[2])))
                current = (first + offset, line[2:], [])
            elif current is not None:
                current[2].append(line)
        if current is not None:
            found.append(Command(path, current[0], current[1], tuple(current[2])))
    return found


ALL_COMMANDS = [command for path in MARKDOWN for command in commands(path)]


def run_here(command: Command) -> str | None:
    """The test of this module that runs ``command``, if it is one of :data:`RUN_HERE`."""
    return next((test for prefix, test in RUN_HERE.items() if command.text.startswith(prefix)), None)


def test_the_pages_have_commands() -> None:
    pages = {command.page.name for command in ALL_COMMANDS}
    assert {"README.md", "quickstart.md", "examples.md"} <= pages, pages
    assert any(run_here(command) for command in ALL_COMMANDS)


def test_every_command_is_run_by_a_test() -> None:
    unknown = [str(c) for c in ALL_COMMANDS if run_here(c) is None and c.text not in RUN_BY]
    assert not unknown, "commands no test runs: add each to RUN_BY (or RUN_HERE) with its test:\n" + "\n".join(unknown)


def test_every_registered_command_is_still_shown() -> None:
    shown = {command.text for command in ALL_COMMANDS}
    assert not set(RUN_BY) - shown, "RUN_BY names commands no page shows any more"
    for prefix in RUN_HERE:
        assert any(text.startswith(prefix) for text in shown), prefix


def defines(path: Path, name: str) -> bool:
    """Whether the Python file ``path`` defines ``name`` (a function, a class, or an assignment)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.name == name:
            return True
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return True
    return False


@pytest.mark.parametrize("test_id", sorted({*RUN_BY.values(), *RUN_HERE.values()}))
def test_the_named_test_exists(test_id: str) -> None:
    file, _, name = test_id.partition("::")
    path = ROOT / file
    assert path.is_file(), f"{test_id}: no file {file}"
    assert name.startswith("test_"), test_id
    assert defines(path, name.split("[")[0]), f"{test_id}: {file} defines no {name}"


def test_example_commands_are_the_ones_test_examples_runs() -> None:
    import test_examples  # tests/ is on sys.path, as for every test module here

    examples = [c for c in ALL_COMMANDS if c.text.startswith(f"{VENV_PYTHON} examples/")]
    assert examples
    for command in examples:
        script = shlex.split(command.text)[1].removeprefix("examples/")
        assert test_examples.documented(script) == shlex.split(command.text), str(command)
        assert RUN_BY[command.text].startswith("tests/test_examples.py::"), str(command)


def test_lab_commands_are_the_ones_test_frr_lab_runs() -> None:
    from interop import test_frr_lab  # tests/interop is a package; tests/ is on sys.path

    lab = [c for c in ALL_COMMANDS if c.text.startswith("sudo examples/frr-lab/run")]
    assert lab
    for command in lab:
        assert command.text in test_frr_lab.COMMANDS.values(), str(command)
        assert RUN_BY[command.text].startswith("tests/interop/test_frr_lab.py::"), str(command)


# --- commands run here ---------------------------------------------------------------------------


def shown_output_matches(shown: tuple[str, ...], actual: list[str]) -> bool:
    """Whether ``actual`` is what a page shows; a shown line ``...`` stands for any lines."""
    if not shown:
        return not actual
    if shown[0] == "...":
        return any(shown_output_matches(shown[1:], actual[start:]) for start in range(len(actual) + 1))
    return bool(actual) and actual[0] == shown[0] and shown_output_matches(shown[1:], actual[1:])


def test_shown_output_matches() -> None:
    assert shown_output_matches(("a", "...", "d"), ["a", "b", "c", "d"])
    assert shown_output_matches(("a", "..."), ["a"])
    assert not shown_output_matches(("a", "b"), ["a", "c"])
    assert not shown_output_matches(("a",), ["a", "b"])


DECODE_COMMANDS = [c for c in ALL_COMMANDS if run_here(c) == RUN_HERE[f"{VENV_PYTHON} -m evpn decode "]]


@pytest.mark.parametrize("command", DECODE_COMMANDS, ids=[f"{c.page.name}:{c.line}" for c in DECODE_COMMANDS])
def test_decode_commands_print_what_the_page_shows(command: Command) -> None:
    """Run as written, from the repository root; the output (stdout, then stderr) is what the page
    shows under the command, when it shows any."""
    program, *args = shlex.split(command.text)
    assert program == VENV_PYTHON
    result = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"{command}\n{result.stderr}"
    if command.output:
        actual = (result.stdout + result.stderr).splitlines()
        assert shown_output_matches(command.output, actual), f"{command}\nprints:\n{result.stdout}{result.stderr}"


def test_install_commands_in_a_fresh_copy(tmp_path: Path) -> None:
    """The install commands of the pages, as written, in a copy of the package's files: a new
    virtualenv gets evpn and its dependencies from the package index, and then the ``testing``
    extra, and the README's decode command runs with it."""
    installs = sorted({c.text for c in ALL_COMMANDS if RUN_BY.get(c.text) == INSTALL_TEST})
    assert installs == [
        "python3 -m venv .venv && .venv/bin/pip install '.[testing]'",
        "python3 -m venv .venv && .venv/bin/pip install .",
    ]
    copy = tmp_path / "evpn"
    shutil.copytree(ROOT / "evpn", copy / "evpn", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, copy / name)
    # "python3" is the interpreter running the tests: the one the project supports here.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONPATH", None)
    for install in reversed(installs):  # `pip install .`, then the extra
        shell = install.replace("python3 ", f"{shlex.quote(sys.executable)} ", 1)
        result = subprocess.run(shell, shell=True, cwd=copy, env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"$ {install}\n{result.stdout}\n{result.stderr}"
    python = copy / VENV_PYTHON
    check = "import evpn, evpn.testing.strategies; print(evpn.__file__)"
    result = subprocess.run([python, "-c", check], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).is_relative_to(copy / ".venv"), result.stdout
    readme_decode = [c for c in commands(ROOT / "README.md") if c.text.startswith(f"{VENV_PYTHON} -m evpn decode ")]
    assert readme_decode
    for command in readme_decode:
        _, *args = shlex.split(command.text)
        result = subprocess.run([python, *args], cwd=copy, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"{command}\n{result.stderr}"


def test_scripts_test_runs_lint_types_docs_and_tests() -> None:
    """``scripts/test`` is CI's entry point: it must be executable and run tox's lint, types, docs
    and tests environments, which tox.ini must define (tests running pytest over the whole suite)."""
    script = ROOT / "scripts" / "test"
    assert os.access(script, os.X_OK)
    last = [line for line in script.read_text(encoding="utf-8").splitlines() if line.strip()][-1]
    assert last == "exec .venv-tools/bin/tox run -e lint,types,docs,tests", last
    tox = (ROOT / "tox.ini").read_text(encoding="utf-8")
    for env in ("lint", "types", "docs", "tests"):
        assert f"[testenv:{env}]" in tox, env
    tests_env = tox.split("[testenv:tests]", 1)[1].split("\n[", 1)[0]
    assert re.search(r"^commands\s*=\s*pytest\b", tests_env, re.M), tests_env


# --- the site --------------------------------------------------------------------------------------


def nav_pages() -> list[str]:
    """The pages the ``nav`` of mkdocs.yml names, in order."""
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = re.search(r"^nav:\n((?:[ \t]+.*\n|\n)*)", text, re.M)
    assert nav is not None, "mkdocs.yml has no nav"
    return re.findall(r":\s*(\S+\.md)\s*$", nav[1], re.M)


def test_every_page_is_in_the_nav_once() -> None:
    pages = nav_pages()
    assert len(pages) == len(set(pages)), pages
    assert set(pages) == {page.name for page in PAGES}, "docs/ and the nav of mkdocs.yml differ"


def test_mkdocs_builds_strictly_from_docs() -> None:
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert re.search(r"^docs_dir:\s*docs\s*$", text, re.M)
    assert re.search(r"^strict:\s*true\s*$", text, re.M)
    tox = (ROOT / "tox.ini").read_text(encoding="utf-8")
    docs_env = tox.split("[testenv:docs]", 1)[1].split("\n[", 1)[0]
    assert "mkdocs build --strict" in docs_env


# --- links -----------------------------------------------------------------------------------------

LINK = re.compile(r"(?<!\!)\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
IMAGE = re.compile(r"!\[[^\]]*\]\(\s*([^)\s]+)")


def prose(path: Path) -> str:
    """The text of a Markdown file without its fenced code blocks and inline code."""
    kept: list[str] = []
    fence: str | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if fence is None and (match := re.match(r"(`{3,}|~{3,})", stripped)):
            fence = match[1]
        elif fence is not None and stripped.startswith(fence) and stripped.strip(fence[0]) == "":
            fence = None
        elif fence is None:
            kept.append(line)
    return re.sub(r"(`+)(?:(?!\1).)+?\1", "", "\n".join(kept))


def slug(heading: str) -> str:
    """The anchor of a heading, as Python-Markdown's toc (and, for these pages, GitHub) makes it."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text
    text = unicodedata.normalize("NFKD", text.replace("`", ""))
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(path: Path) -> set[str]:
    headings = [line.lstrip("#").strip() for line in prose(path).splitlines() if re.match(r"#{1,6} ", line)]
    # prose() dropped the inline code of the headings: read them from the file itself
    raw = [line.lstrip("#").strip() for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("#")]
    return {slug(h) for h in [*headings, *raw]}


def relative_links(path: Path) -> list[str]:
    links = LINK.findall(prose(path)) + IMAGE.findall(prose(path))
    return [link for link in links if not re.match(r"[a-z][a-z0-9+.-]*:", link, re.I)]


def test_pages_have_relative_links() -> None:
    assert relative_links(ROOT / "README.md")
    assert relative_links(DOCS / "index.md")


@pytest.mark.parametrize("path", MARKDOWN, ids=[str(p.relative_to(ROOT)) for p in MARKDOWN])
def test_relative_links_lead_somewhere(path: Path) -> None:
    broken: list[str] = []
    for link in relative_links(path):
        target, _, anchor = link.partition("#")
        file = (path.parent / target).resolve() if target else path
        if not file.exists():
            broken.append(f"{link}: no {file.relative_to(ROOT) if file.is_relative_to(ROOT) else file}")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{link}: {file.name} has no heading #{anchor}")
    assert not broken, f"{path.relative_to(ROOT)}: " + "; ".join(broken)


# --- configuration shown on the pages --------------------------------------------------------------


def test_scaling_configurations_load(tmp_path: Path) -> None:
    """Every TOML file docs/scaling.md shows is a whole configuration that loads."""
    files = [lines for language, _, lines in blocks(DOCS / "scaling.md") if language == "toml"]
    assert len(files) >= 2
    for n, lines in enumerate(files):
        text = "\n".join(lines) + "\n"
        tomllib.loads(text)
        path = tmp_path / f"scaling-{n}.toml"
        path.write_text(text, encoding="utf-8")
        config = load_config(path)
        assert config.peers, text
