"""``relaytokens serve``: a subprocess serving both fakes, and the in-process runner."""

from __future__ import annotations

import argparse
import io
import os
import re
import signal
import subprocess
import sys
import threading
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
            assert len(re.findall(r"^  curl ", text, re.MULTILINE)) == 4  # 3 fakes, 1 control

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
    done = subprocess.run(  # a serve that does not stop fails on the 120 s hang guard
        [sys.executable, "-m", "pytest_relaytokens.cli", "serve", "--max-seconds", "0.3"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
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


def _serve_in_thread(tmp_path: Path, *argv: str) -> tuple[str, io.StringIO, threading.Thread]:
    parser = argparse.ArgumentParser()
    serve.add_arguments(parser)
    ready = tmp_path / "ready"
    args = parser.parse_args(
        [*argv, "--max-seconds", "10", "--once-ready-file", str(ready), "--quiet"]
    )
    out = io.StringIO()
    thread = threading.Thread(target=serve.run, args=(args, out), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not ready.exists() or not ready.read_text().strip():
        assert thread.is_alive() and time.monotonic() < deadline, out.getvalue()
        time.sleep(0.02)
    return ready.read_text().strip(), out, thread


def test_serve_cors_origins_and_online_ucwa(tmp_path: Path) -> None:
    app = "https://app.example.com"
    url, out, _ = _serve_in_thread(
        tmp_path,
        "--cors-origin",
        app + "/",
        "--cors-origin",
        "HTTP://LOCALHOST:3000",
        "--ucwa-online",
    )
    text = out.getvalue()
    assert f"CORS:  on for {app}, http://localhost:3000" in text
    assert "online deployment: Azure AD sign-in" in text
    assert f"POST {url}/common/oauth2/token" in text

    # a browser's preflight, then its request, on both fakes
    preflight = requests.options(
        f"{url}/api/enterprises/self",
        timeout=5,
        headers={
            "Origin": app,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "x-access-token",
        },
    )
    assert preflight.status_code in (200, 204)
    assert preflight.headers["Access-Control-Allow-Origin"] == app
    stranger = requests.options(
        f"{url}/api/enterprises/self",
        timeout=5,
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "Access-Control-Allow-Origin" not in stranger.headers

    # online UCWA: the Azure AD password grant gives a JWT bearer the token URL accepts
    user, password = _value(text, "user"), _value(text, "password")
    token_path = re.search(r"relay token:\s+GET \S+?:\d+(\S+)", text)
    assert token_path
    denied = requests.get(url + token_path.group(1), timeout=5)
    assert denied.status_code == 401
    assert any("authorization_uri=" in c for c in denied.raw.headers.getlist("WWW-Authenticate"))
    grant = requests.post(
        f"{url}/common/oauth2/token",
        timeout=5,
        data={"grant_type": "password", "resource": url, "username": user, "password": password},
    )
    assert grant.status_code == 200, grant.text
    bearer = grant.json()["access_token"]
    assert bearer.count(".") == 2
    got = requests.get(
        url + token_path.group(1),
        timeout=5,
        headers={"Authorization": f"Bearer {bearer}", "Origin": app},
    )
    assert got.status_code == 200 and "mediaRelay" in got.text
    assert got.headers["Access-Control-Allow-Origin"] == app


def test_serve_default_banner_says_cors_is_off(tmp_path: Path) -> None:
    url, out, _ = _serve_in_thread(tmp_path)
    assert "CORS:  off" in out.getvalue()
    assert "online deployment" not in out.getvalue()
    r = requests.options(
        f"{url}/api/enterprises/self",
        timeout=5,
        headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"},
    )
    assert "Access-Control-Allow-Origin" not in r.headers


@pytest.mark.parametrize(
    "origin",
    [
        "ftp://app.example.com",
        "https://app.example.com/path",
        "app.example.com",
        "https://",
        "https://u:p@app.example.com",
        "https://app.example.com:99999",
        "https://a b.com",
    ],
)
def test_serve_refuses_a_bad_cors_origin(origin: str, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="relaytokens serve")
    serve.add_arguments(parser)
    with pytest.raises(SystemExit) as exited:
        parser.parse_args(["--cors-origin", origin])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "argument --cors-origin: bad CORS origin" in err
    assert "Traceback" not in err
