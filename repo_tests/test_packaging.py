"""Declared support is tested support: the floors CI installs are the declared ones, the
package metadata names what CI runs, and the sdist builds the same wheel as the tree."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
import tomllib
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
CONSTRAINTS = ROOT / ".ci" / "constraints-floors.txt"
CI_RUN = ROOT / ".ci" / "run"
#: The Python versions `.ci/run` tests: its cells and the classifiers must agree.
TESTED_PYTHONS = ("3.10", "3.11", "3.12", "3.13")
REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(.*)$")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements(*groups: str) -> dict[str, str]:
    """``{name: specifier}`` of the dependencies and the named extras."""
    lines = list(PROJECT["dependencies"])
    for group in groups:
        lines += PROJECT["optional-dependencies"][group]
    found: dict[str, str] = {}
    for line in lines:
        match = REQUIREMENT.match(line)
        assert match, f"pyproject.toml: unreadable requirement {line!r}"
        found[_normalise(match.group(1))] = match.group(2).replace(" ", "")
    return found


def _constraints() -> dict[str, str]:
    pins: dict[str, str] = {}
    for number, raw in enumerate(CONSTRAINTS.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        assert sep, f"{CONSTRAINTS.name}:{number}: {raw!r} is not an exact pin (name==version)"
        pins[_normalise(name)] = version.strip()
    return pins


#: Extras whose floors the floors cell does not install: turn (aioice) runs newest, in the
#: turn cell beside coturn.
UNFLOORED_EXTRAS = {"turn"}


def test_every_declared_minimum_is_the_pin_the_floors_cell_installs() -> None:
    extras = sorted(set(PROJECT["optional-dependencies"]) - UNFLOORED_EXTRAS)
    floors = {
        name: spec.removeprefix(">=")
        for name, spec in _requirements(*extras).items()
        if spec.startswith(">=")
    }
    pins = _constraints()
    mismatched = {
        name: (floor, pins.get(name))
        for name, floor in floors.items()
        if name not in pins or Version(pins[name]) != Version(floor)
    }
    assert mismatched == {}, "declared floor vs constraints pin"
    assert set(pins) == set(floors), "constraints pin something that declares no floor"


def test_lint_and_type_tools_are_pinned_exactly() -> None:
    test_extra = _requirements("test")
    assert re.fullmatch(r"==\d+(\.\d+)+", test_extra["mypy"]), test_extra["mypy"]
    assert re.fullmatch(r"==\d+(\.\d+)+", test_extra["ruff"]), test_extra["ruff"]


def test_classifiers_name_each_tested_python_and_pytest() -> None:
    classifiers = set(PROJECT["classifiers"])
    assert "Framework :: Pytest" in classifiers
    assert "License :: OSI Approved :: MIT License" in classifiers
    declared = {
        c.rsplit(" :: ", 1)[1]
        for c in classifiers
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    }
    assert declared == set(TESTED_PYTHONS)
    assert PROJECT["requires-python"] == f">={TESTED_PYTHONS[0]}"
    ci = CI_RUN.read_text(encoding="utf-8")
    for version in TESTED_PYTHONS:  # each declared Python has a cell
        assert re.search(rf"\b(?:new_venv|setup_newest) {re.escape(version)} ", ci), version


def test_license_and_urls() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "pytest-relaytokens developers" in text
    assert {"Homepage", "Source", "Issues"} <= set(PROJECT["urls"])


def _build(*args: str, outdir: Path, source: Path = ROOT) -> Path:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--no-isolation",
            *args,
            "--outdir",
            str(outdir),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (built,) = outdir.iterdir()
    return built


def test_the_sdist_builds_the_same_wheel_as_the_tree(tmp_path: Path) -> None:
    sdist = _build("--sdist", outdir=tmp_path / "sdist")
    from_tree = _build("--wheel", outdir=tmp_path / "tree")
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path / "unpacked", filter="data")
    (unpacked,) = (tmp_path / "unpacked").iterdir()
    assert (unpacked / "LICENSE").is_file()
    assert (unpacked / ".ci" / "constraints-floors.txt").is_file()
    from_sdist = _build("--wheel", outdir=tmp_path / "from-sdist", source=unpacked)

    a, b = zipfile.ZipFile(from_tree), zipfile.ZipFile(from_sdist)
    assert sorted(a.namelist()) == sorted(b.namelist())
    assert [n for n in a.namelist() if a.read(n) != b.read(n)] == []

    names = a.namelist()
    assert "pytest_relaytokens/py.typed" in names
    assert "pytest_relaytokens/cassette_library/ucwa/token-json.yaml" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert not [n for n in names if n.startswith(("tests/", "repo_tests/", "examples/"))]
    metadata = a.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "Classifier: Programming Language :: Python :: 3.13" in metadata
    entry_points = a.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt")))
    assert b"relaytokens = pytest_relaytokens.plugin" in entry_points


def _ci_function(name: str) -> str:
    text = CI_RUN.read_text(encoding="utf-8")
    match = re.search(rf"^{name}\(\) {{.*?^}}$", text, re.S | re.M)
    assert match, f".ci/run has no {name}()"
    return match.group(0)


def test_ci_run_is_executable_valid_bash_with_all_cells() -> None:
    assert CI_RUN.stat().st_mode & 0o111
    assert subprocess.run(["bash", "-n", str(CI_RUN)], check=False).returncode == 0
    text = CI_RUN.read_text(encoding="utf-8")
    cells = re.search(r"^CELLS=\((.*)\)$", text, re.M)
    assert cells and cells.group(1).split() == [*ALL_CELLS]
    for cell in [*ALL_CELLS, "turn"]:
        assert f"setup_{cell}() {{" in text and f"test_{cell}() {{" in text, cell
    assert "--constraint .ci/constraints-floors.txt" in text


@pytest.mark.parametrize("version", ["3.10", "3.13"])
def test_ci_finds_an_interpreter_by_version(version: str) -> None:
    script = _ci_function("find_python") + f"\nfind_python {version}\n"
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    found = done.stdout.strip()
    reported = subprocess.run(
        [found, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert reported.stdout.strip() == version


def test_ci_fails_loudly_on_a_missing_interpreter() -> None:
    script = _ci_function("find_python") + "\nfind_python 3.99\n"
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode != 0 and done.stdout == ""
    assert "no Python 3.99 interpreter" in done.stderr


def test_readme_states_every_floor_and_why() -> None:
    section = (ROOT / "docs" / "supported-versions.md").read_text(encoding="utf-8")
    for name, version in _constraints().items():
        assert re.search(rf"\b{re.escape(name)}\b", section, re.I), name
        assert version.removesuffix(".0") in section, (name, version)
    for version in TESTED_PYTHONS:
        assert version in section


#: The cells ``.ci/run`` runs by default.
ALL_CELLS = ("readme", "floors", "py310", "py313", "wheel", "heavy", "turn")

STUB_CELLS = """
setup_readme() { echo installing; }
test_readme() { echo "12 passed"; }
setup_floors() { true; }
test_floors() { echo "no tests ran"; return 5; }
setup_py310() { echo "ERROR: no Python 3.10 interpreter" >&2; return 1; }
test_py310() { echo "must not run"; }
setup_py313() { true; }
test_py313() { true; }
setup_wheel() { true; }
test_wheel() { true; }
setup_heavy() { true; }
test_heavy() { echo "3 passed"; }
setup_turn() { true; }
test_turn() { echo "2 passed"; }
"""


def _drive(tmp_path: Path, stubs: str, cells: str = "") -> subprocess.CompletedProcess[str]:
    """``main`` of .ci/run with the cells replaced by ``stubs``."""
    env = {**os.environ, "TMPDIR": str(tmp_path), "RELAYTOKENS_CI_CELLS": cells}
    script = f"source {shlex.quote(str(CI_RUN))}\n{stubs}\nmain\n"
    return subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def test_ci_driver_fails_on_any_cell_and_reports_each(tmp_path: Path) -> None:
    done = _drive(tmp_path, STUB_CELLS)
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert "[readme] installing" in out and "[readme] 12 passed" in out
    assert "[floors] no tests ran" in out
    assert "[py310] ERROR: no Python 3.10 interpreter" in out
    assert "must not run" not in out
    assert re.search(r"^\[ci\] readme\s+passed\s+\d+s\s+\d+s$", out, re.M)
    assert re.search(r"^\[ci\] floors\s+FAILED \(tests, exit 5\)", out, re.M)
    assert re.search(r"^\[ci\] py310\s+FAILED \(set-up, exit 1\)\s+\d+s\s+-s$", out, re.M)
    assert out.rstrip().endswith("[ci] FAILED")
    assert list(tmp_path.iterdir()) == []  # its work folder is removed


def test_ci_driver_passes_when_every_cell_passes(tmp_path: Path) -> None:
    passing = STUB_CELLS.replace("return 5; }", "}").replace("return 1; }", "}")
    done = _drive(tmp_path, passing)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.rstrip().endswith("[ci] all cells passed")
    for cell in ALL_CELLS:
        assert re.search(rf"^\[ci\] {cell}\s+passed", done.stdout, re.M), cell


def test_ci_runs_a_chosen_subset_and_refuses_unknown_cells(tmp_path: Path) -> None:
    done = _drive(tmp_path, STUB_CELLS, cells="readme py313")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[floors]" not in done.stdout and "cells: readme py313" in done.stdout
    unknown = _drive(tmp_path, STUB_CELLS, cells="readme nope")
    assert unknown.returncode == 2 and "unknown cell 'nope'" in unknown.stdout
    turn = _drive(tmp_path, STUB_CELLS, cells="turn")
    assert turn.returncode == 0 and "[turn] 2 passed" in turn.stdout, turn.stdout + turn.stderr


def test_marked_suites_are_deselected_by_default_and_run_in_their_own_cells() -> None:
    ini = PYPROJECT["tool"]["pytest"]["ini_options"]
    assert "-m 'not heavy and not turn'" in ini["addopts"]
    assert {m.split(":", 1)[0] for m in ini["markers"]} >= {"heavy", "turn"}
    heavy, turn = _ci_function("test_heavy"), _ci_function("test_turn")
    assert "-m heavy" in heavy and "-m turn" in turn
    setup = _ci_function("setup_turn")
    assert "command -v turnserver" in setup and "apt-get install -y coturn" in setup
    assert '".[test,turn]"' in setup
    assert "setup_newest 3.11 heavy" in CI_RUN.read_text(encoding="utf-8")


#: ``python`` for ``test_readme``: the exit code of each step from the environment.
FAKE_PYTHON = """
python() {
    case "$2" in
        mkdocs) echo "mkdocs $*"; return "$DOCS_RC" ;;
        pip) return "$PIP_RC" ;;
        pytest) echo "pytest $*"; return "$PYTEST_RC" ;;
    esac
}
"""


@pytest.mark.parametrize(
    ("docs", "pip", "tests", "expected"),
    [(0, 0, 0, 0), (1, 0, 0, 1), (0, 1, 0, 1), (0, 0, 5, 5), (0, 0, 1, 1)],
    ids=["all-pass", "docs-fail", "install-fail", "no-tests-ran", "tests-fail"],
)
def test_readme_cell_fails_on_the_docs_the_install_or_the_tests(
    tmp_path: Path, docs: int, pip: int, tests: int, expected: int
) -> None:
    (tmp_path / "readme" / "bin").mkdir(parents=True)
    (tmp_path / "readme" / "bin" / "activate").write_text("")
    script = (
        f"source {shlex.quote(str(CI_RUN))}\n{FAKE_PYTHON}\nWORK={shlex.quote(str(tmp_path))}\n"
        "( set -euo pipefail; test_readme )\n"
    )
    env = {**os.environ, "DOCS_RC": str(docs), "PIP_RC": str(pip), "PYTEST_RC": str(tests)}
    done = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert done.returncode == expected, done.stdout + done.stderr
    assert "mkdocs -m mkdocs build --strict" in done.stdout
    assert ("pytest -m pytest -n 2" in done.stdout) == (pip == 0)
