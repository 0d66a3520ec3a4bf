"""Loading the plugin imports none of the heavy libraries nor the pydantic models.

Each test runs ``pytest --co`` in a subprocess on a throwaway one-test suite whose conftest dumps
``sorted(sys.modules)`` at ``pytest_collection_finish``.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
HEAVY = (
    "faker",
    "vcr",
    "responses",
    "httpx",
    "pydantic",
    "yaml",
    "pytest_relaytokens.ucwa.models",
    "pytest_relaytokens.relay.models",
)
PLUGIN = "pytest_relaytokens.plugin"

CONFTEST = """
import json
import os
import sys


def pytest_collection_finish(session):
    with open(os.environ["RELAYTOKENS_MODULES_OUT"], "w", encoding="utf-8") as out:
        json.dump(sorted(sys.modules), out)
"""


def plugin_installed() -> bool:
    return any(ep.name == "relaytokens" for ep in importlib.metadata.entry_points(group="pytest11"))


def heavy_in(modules: list[str]) -> list[str]:
    return sorted(m for m in modules for h in HEAVY if m == h or m.startswith(h + "."))


def collect_modules(tmp_path: Path, *args: str, autoload: bool) -> list[str]:
    """``sys.modules`` of ``pytest --co -q`` on a one-test suite, as the conftest saw them."""
    suite = tmp_path / "suite"
    suite.mkdir(exist_ok=True)
    (suite / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (suite / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    (suite / "test_one.py").write_text("def test_one():\n    assert True\n", encoding="utf-8")
    out = tmp_path / f"modules-{len(list(tmp_path.glob('modules-*')))}.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    )
    env["RELAYTOKENS_MODULES_OUT"] = str(out)
    if not autoload:
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "--co",
        "-q",
        "-p",
        "no:randomly",
        "-p",
        "no:cacheprovider",
        *args,
    ]
    done = subprocess.run(
        command, cwd=suite, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    modules: list[str] = json.loads(out.read_text(encoding="utf-8"))
    return modules


def test_plugin_alone_imports_nothing_heavy(tmp_path: Path) -> None:
    """With autoloading off only our plugin is loaded, so every module is its doing."""
    modules = collect_modules(tmp_path, "-p", PLUGIN, autoload=False)
    assert PLUGIN in modules, "the plugin was not loaded, so this run proves nothing"
    assert heavy_in(modules) == []


def test_plugin_as_installed_adds_nothing_heavy(tmp_path: Path) -> None:
    """Loaded the way users get it (entry point if installed, else ``-p``) next to every other
    installed plugin, it adds no heavy module to what pytest without it imports."""
    ours_args = () if plugin_installed() else ("-p", PLUGIN)
    baseline_args = ("-p", "no:relaytokens") if plugin_installed() else ()
    ours = collect_modules(tmp_path, *ours_args, autoload=True)
    baseline = collect_modules(tmp_path, *baseline_args, autoload=True)
    assert PLUGIN in ours
    assert PLUGIN not in baseline
    assert sorted(set(heavy_in(ours)) - set(heavy_in(baseline))) == []


@pytest.mark.parametrize("module", HEAVY)
def test_heavy_module_is_detected(module: str) -> None:
    """The check itself sees a heavy module and its submodules (and no look-alike)."""
    assert heavy_in([module, module + ".sub", module + "_other"]) == [module, module + ".sub"]


def test_the_command_line_loads_without_the_models() -> None:
    """``relaytokens admin``/``serve``/``verify`` build their parser without pydantic or the
    token models (the shipped library's scenarios keep their quirks as keywords)."""
    code = (
        "import sys, json, pytest_relaytokens.cli as cli; cli.build_parser(); "
        "print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = heavy_in(json.loads(done.stdout))
    assert [m for m in loaded if m == "pydantic" or m.endswith(".models")] == []
