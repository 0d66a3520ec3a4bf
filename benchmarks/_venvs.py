"""Virtualenvs for the start-up rows: one per side, made once and cached outside the repository.

Each side (bare pytest, this checkout installed with its dependencies, pytest-httpx alone,
pytest-recording alone) gets its own venv, so plugin autoloading loads exactly what a user who
installed only that would get. Versions are pinned to the ones in the harness's own
environment (a constraints file), so the venvs differ from it only in what is installed.

The cache lives in ``$RELAYTOKENS_BENCH_CACHE``, else ``$XDG_CACHE_HOME/pytest-relaytokens-bench``,
else ``~/.cache/pytest-relaytokens-bench``; a venv's directory name is a hash of the Python
version and executable and its requirement set, so a new pin makes a new venv. The package's
venv also records a hash of the checkout's sources and reinstalls only the package (no
dependencies) when they change. Only pip talks to the network (the configured package index);
a failure becomes :class:`VenvError`, whose message says which side and why.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from _common import REPO_ROOT

__all__ = ["SIDES", "Venv", "VenvError", "cache_root", "prepare", "venv_env"]

#: side -> the distributions it installs ("." is this checkout, not editable)
SIDES: dict[str, tuple[str, ...]] = {
    "bare": ("pytest",),
    "package": ("pytest", "."),
    "httpx_mock": ("pytest", "pytest-httpx"),
    "recording": ("pytest", "pytest-recording"),
}
PIP_TIMEOUT = 900
MARKER = "relaytokens-bench-ready"


class VenvError(Exception):
    """A venv could not be made or installed into; the message names the side and the cause."""


@dataclass(frozen=True)
class Venv:
    side: str
    path: Path

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"


def cache_root() -> Path:
    explicit = os.environ.get("RELAYTOKENS_BENCH_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pytest-relaytokens-bench"


def pins() -> list[str]:
    """``name==version`` of every distribution in this environment except this package."""
    found = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name and name.lower().replace("_", "-") != "pytest-relaytokens":
            found[name.lower()] = f"{name}=={dist.version}"
    return [found[name] for name in sorted(found)]


def source_hash() -> str:
    """A hash of what the package's wheel is built from: a change means a reinstall."""
    digest = hashlib.sha256()
    files = [REPO_ROOT / "pyproject.toml", *sorted((REPO_ROOT / "pytest_relaytokens").rglob("*"))]
    for path in files:
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(REPO_ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def venv_key(side: str, constraints: list[str]) -> str:
    digest = hashlib.sha256()
    for part in (sys.version, os.path.realpath(sys.executable), *SIDES[side], *constraints):
        digest.update(part.encode() + b"\0")
    return f"{side}-py{sys.version_info[0]}{sys.version_info[1]}-{digest.hexdigest()[:12]}"


def venv_env() -> dict[str, str]:
    """The environment of a process in one of these venvs: nothing of the harness's own
    (no ``PYTHONPATH``, no ``PYTEST_*``, autoloading on), bytecode written as an install does."""
    drop = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE", "PYTHONSTARTUP")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_") and k not in drop}
    env["PYTHONHASHSEED"] = "0"
    return env


def _pip(venv: Path, side: str, *args: str) -> None:
    command = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *args]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=PIP_TIMEOUT,
            check=False,
            env=venv_env(),
        )
    except subprocess.TimeoutExpired as exc:
        raise VenvError(f"{side}: pip did not finish within {PIP_TIMEOUT}s") from exc
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        cause = lines[-1][:200] if lines else f"exit status {done.returncode}"
        raise VenvError(f"{side}: pip install failed (is the package index reachable?): {cause}")


def _venv(side: str, path: Path) -> None:
    made = subprocess.run(
        [sys.executable, "-m", "venv", "--clear", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if made.returncode != 0:
        last = (made.stderr.strip().splitlines() or ["failed"])[-1]
        raise VenvError(f"{side}: python -m venv failed: {last[:200]}")


def _requirements(side: str) -> list[str]:
    return [str(REPO_ROOT) if req == "." else req for req in SIDES[side]]


def _ensure(side: str, root: Path, constraints: Path, pinned: list[str]) -> Venv:
    """The side's venv, made (or its package reinstalled) only when missing or stale."""
    venv = Venv(side, root / venv_key(side, pinned))
    marker = venv.path / MARKER
    wanted = source_hash() if "." in SIDES[side] else "ready"
    if marker.is_file() and venv.python.is_file():
        if marker.read_text(encoding="utf-8") == wanted:
            return venv
        # the checkout changed: only the package is reinstalled, its dependencies stay
        _pip(venv.path, side, "--no-deps", "--force-reinstall", str(REPO_ROOT))
    else:
        try:
            _venv(side, venv.path)
            _pip(venv.path, side, "-c", str(constraints), *_requirements(side))
        except BaseException:
            shutil.rmtree(venv.path, ignore_errors=True)
            raise
        _prune(venv)
    marker.write_text(wanted, encoding="utf-8")
    return venv


def _prune(keep: Venv) -> None:
    """Older venvs of the same side and Python (other pins) are removed when a new one is made."""
    prefix = keep.path.name.rsplit("-", 1)[0] + "-"
    for old in keep.path.parent.glob(prefix + "*"):
        if old != keep.path and old.is_dir() and (old / MARKER).is_file():
            shutil.rmtree(old, ignore_errors=True)


def prepare(sides: list[str] | None = None) -> tuple[dict[str, Venv], float]:
    """Every side's venv (made once, then cached) and the seconds the set-up took.

    Raises :class:`VenvError` naming the first side that could not be made.
    """
    started = time.perf_counter()
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    pinned = pins()
    constraints = root / f"constraints-{hashlib.sha256(repr(pinned).encode()).hexdigest()[:12]}.txt"
    constraints.write_text("\n".join(pinned) + "\n", encoding="utf-8")
    from filelock import FileLock

    with FileLock(root / ".lock"):  # one harness at a time makes or updates them
        found = {side: _ensure(side, root, constraints, pinned) for side in sides or list(SIDES)}
    return found, time.perf_counter() - started
