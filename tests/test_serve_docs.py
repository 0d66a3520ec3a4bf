"""docs/serve.md: its curl session runs against a real ``relaytokens serve``, its routes file
loads, its ``relaytokens admin`` lines run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from serve_process import ROOT, start_serve

from pytest_relaytokens.transports.control import load_routes

PAGE = ROOT / "docs" / "serve.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", PAGE.read_text(), re.M | re.S)


def test_the_curl_session_runs_against_serve(tmp_path: Path) -> None:
    session = next(b for b in _blocks("bash") if "curl" in b)
    served = start_serve()
    try:
        script = tmp_path / "session.sh"
        script.write_text("set -euo pipefail\n" + session)
        done = subprocess.run(
            ["bash", str(script)], capture_output=True, text=True, timeout=120, env=served.env()
        )
        assert done.returncode == 0, done.stderr + done.stdout
        assert '"revoked": true' in done.stdout
        assert '"reset": true' in done.stdout
        assert served.token not in done.stdout
    finally:
        served.stop()


def test_the_admin_lines_run(tmp_path: Path) -> None:
    lines = next(b for b in _blocks("bash") if b.startswith("relaytokens admin"))
    served = start_serve()
    try:
        for line in lines.strip().splitlines():
            command = [sys.executable, "-m", "pytest_relaytokens.cli", *line.split()[1:]]
            command = [part.strip("'") for part in command]
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=60, env=served.env()
            )
            assert done.returncode == 0, (line, done.stderr)
    finally:
        served.stop()


def test_the_routes_file_loads(tmp_path: Path) -> None:
    (block,) = _blocks("yaml")
    path = tmp_path / "routes.yaml"
    path.write_text(block)
    routes = load_routes(str(path))
    assert [(r["method"], r["path"], r["auth"]) for r in routes] == [
        ("GET", "/api/failures/", True),
        ("GET", "/status", False),
    ]
