"""``relaytokens serve``: a subprocess serving both fakes, and the in-process runner."""

from __future__ import annotations

import argparse
import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from pytest_relaytokens.transports import serve

ROOT = Path(__file__).resolve().parents[1]
# ``serve`` alone, without the rest of the CLI (``test_serve_stops_by_itself`` covers the CLI).
SERVE_ONLY = (
    "import argparse, sys\n"
    "from pytest_relaytokens.transports import serve\n"
    "parser = argparse.ArgumentParser()\n"
    "serve.add_arguments(parser)\n"
    "sys.exit(serve.run(parser.parse_args(sys.argv[1:])))\n"
)


def _value(text: str, label: str) -> str:
    match = re.search(rf"^\s+{label}:\s+(\S+)", text, re.MULTILINE)
    assert match, f"{label!r} not printed:\n{text}"
    return match.group(1)


def _wait_for(path: Path, proc: subprocess.Popen[bytes], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists() or not path.read_text().strip():
        assert proc.poll() is None, "serve exited early"
        assert time.monotonic() < deadline, "serve did not get ready"
        time.sleep(0.02)


def test_serve_subprocess_prints_working_credentials(tmp_path: Path) -> None:
    ready, out = tmp_path / "ready", tmp_path / "out.txt"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                SERVE_ONLY,
                "--seed",
                "7",
                "--max-seconds",
                "60",
                "--once-ready-file",
                str(ready),
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp_path,
        )
        try:
            _wait_for(ready, proc)
            url = ready.read_text().strip()
            assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
            text = out.read_text()
            assert f"listening on {url}" in text
            assert len(re.findall(r"^  curl ", text, re.MULTILINE)) == 3

            # UCWA: the password grant, then the token with the new and the printed bearer
            user, password = _value(text, "user"), _value(text, "password")
            bearer = re.search(r"Authorization: Bearer (cwt=\S+)", text)
            relay_path = re.search(r"relay token:\s+GET \S+?:\d+(\S+)", text)
            assert bearer and relay_path
            grant = requests.post(
                f"{url}/WebTicket/oauthtoken",
                timeout=5,
                data={"grant_type": "password", "username": user, "password": password},
            )
            assert grant.status_code == 200, grant.text
            for token in (grant.json()["access_token"], bearer.group(1)):
                r = requests.get(
                    url + relay_path.group(1),
                    timeout=5,
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert r.status_code == 200 and "mediaRelay" in r.text
            denied = requests.get(url + relay_path.group(1), timeout=5)
            assert denied.status_code == 401
            assert len(denied.raw.headers.getlist("WWW-Authenticate")) == 2

            # Relay: the three curl lines' equivalents
            relay_user = re.findall(r"^\s+user:\s+(\S+)", text, re.MULTILINE)[1]
            relay_password = re.findall(r"^\s+password:\s+(\S+)", text, re.MULTILINE)[1]
            access = _value(text, "access token")
            created = requests.post(
                f"{url}/api/auth/accesstokens", timeout=5, auth=(relay_user, relay_password)
            )
            assert created.status_code == 200 and created.json()["accessToken"]
            for token in (access, created.json()["accessToken"]):
                r = requests.get(
                    f"{url}/api/enterprises/self", timeout=5, headers={"X-Access-Token": token}
                )
                assert r.status_code == 200 and r.json()["name"]
            seam = _value(text, "seam token")
            assert (
                requests.post(
                    f"{url}/api/auth/accesstokens", timeout=5, params={"seamaccesstoken": seam}
                ).status_code
                == 200
            )

            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=5) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    log = out.read_text()
    assert "POST /WebTicket/oauthtoken -> 200" in log
    assert "GET /api/enterprises/self -> 200" in log
    assert re.search(r"GET /ucwa/\S+ -> 401", log)
    assert log.rstrip().endswith("stopped")


def test_serve_stops_by_itself(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    begin = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest_relaytokens.cli", "serve", "--max-seconds", "0.3"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - begin < 15
    assert "listening on http://127.0.0.1:" in done.stdout


def _args(**overrides: object) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    serve.add_arguments(parser)
    args = parser.parse_args([])
    for key, value in overrides.items():
        setattr(args, key, value)
    return args


def test_refuses_remote_host_without_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert serve.run(_args(host="0.0.0.0")) == 2
    assert "--allow-remote" in capsys.readouterr().err


def test_defaults() -> None:
    args = _args()
    assert (args.host, args.port, args.seed, args.allow_remote) == ("127.0.0.1", 0, 0, False)
    assert args.max_seconds is None and args.once_ready_file is None


def test_run_in_process_with_ready_file(tmp_path: Path) -> None:
    out = io.StringIO()
    ready = tmp_path / "ready"
    assert serve.run(_args(max_seconds=0.2, once_ready_file=str(ready), quiet=True), out) == 0
    url = ready.read_text().strip()
    assert f"listening on {url}" in out.getvalue()
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url + "/api/enterprises/self", timeout=2)  # stopped
