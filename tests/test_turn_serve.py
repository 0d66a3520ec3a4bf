"""``relaytokens serve --turn``: a coturn beside the served fakes, synced with their tokens
and their clock (the control plane's ``clock/advance``), and gone when serve stops."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from pytest_relaytokens.transports.control import CONTROL_PREFIX, TOKEN_HEADER

PATIENCE = 30.0


def banner_value(text: str, pattern: str) -> str:
    match = re.search(pattern, text, re.M)
    assert match, f"{pattern!r} not printed:\n{text}"
    return match.group(1)


def allocate_error(address: tuple[str, int], user: str, password: str) -> int | None:
    """None when the allocation succeeds, else the STUN error code."""
    from aioice import stun, turn

    async def go() -> None:
        transport, _ = await turn.create_turn_endpoint(
            asyncio.DatagramProtocol, address, user, password
        )
        transport.close()

    try:
        asyncio.run(go())
    except stun.TransactionFailed as exc:
        code: int = exc.response.attributes["ERROR-CODE"][0]
        return code
    return None


def serve(tmp_path: Path, *argv: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pytest_relaytokens.cli", "serve", "--quiet", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
        env=env,
    )


@pytest.mark.turn
def test_serve_turn_points_relays_at_coturn_and_follows_its_clock(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    proc = serve(tmp_path, "--turn", "--max-seconds", "120", "--once-ready-file", str(ready))
    try:
        deadline = time.monotonic() + PATIENCE
        while not (ready.exists() and ready.read_text().strip()):
            assert proc.poll() is None and time.monotonic() < deadline, (
                proc.stdout and proc.stdout.read()
            )
            time.sleep(0.05)
        url = ready.read_text().strip()
        out = ""
        assert proc.stdout is not None
        while "RELAYTOKENS_ADMIN_TOKEN=" not in out:
            out += proc.stdout.readline()
        turn_port = int(banner_value(out, r"^TURN\s+coturn on 127\.0\.0\.1:(\d+) \(UDP and TCP\)"))
        bearer = banner_value(out, r"bearer:\s+Authorization: Bearer (\S+)")
        path = banner_value(out, r"relay token:\s+GET \S+?(/ucwa/\S+)")
        admin = banner_value(out, r"RELAYTOKENS_ADMIN_TOKEN=(\S+)")

        answer = requests.get(
            url + path,
            headers={"Authorization": f"Bearer {bearer}", "Accept": "application/json"},
            timeout=10,
        )
        token = answer.json()
        relay = token["_embedded"]["mediaRelay"][0]
        assert (relay["host"], relay["udpPort"], relay["tcpPort"]) == (
            "127.0.0.1",
            turn_port,
            turn_port,
        )
        address = ("127.0.0.1", turn_port)
        assert allocate_error(address, token["userName"], token["password"]) is None
        assert allocate_error(address, token["userName"], "wrong") == 401

        moved = requests.post(
            url + CONTROL_PREFIX + "clock/advance",
            json={"seconds": 480 * 60},
            headers={TOKEN_HEADER: admin},
            timeout=10,
        )
        assert moved.status_code == 200, moved.text
        assert allocate_error(address, token["userName"], token["password"]) == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        rest = proc.communicate(timeout=PATIENCE)[0]
    assert proc.returncode == 0, rest
    coturns = subprocess.run(
        ["pgrep", "-f", f"listening-port={turn_port}"], capture_output=True, text=True, check=False
    )
    assert coturns.stdout.strip() == ""  # no coturn left behind


def test_serve_turn_without_coturn_says_how_to_install_it(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {**os.environ, "PATH": str(empty)}
    proc = serve(tmp_path, "--turn", "--max-seconds", "30", env=env)
    out = proc.communicate(timeout=PATIENCE)[0]
    assert proc.returncode == 2, out
    assert "relaytokens serve: --turn: coturn's `turnserver` is not on PATH" in out
    assert (
        "`sudo apt-get install -y coturn` (Debian/Ubuntu) or `brew install coturn` (macOS)" in out
    )
