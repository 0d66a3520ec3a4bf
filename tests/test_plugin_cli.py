"""The ``relaytokens`` command's small promises: ``--version``, ready-to-paste ``export`` lines
from ``serve`` (they drive the live backend as printed), and ``record-library`` refusing to
write into an installed package."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

import pytest_relaytokens
from pytest_relaytokens import cli, library

ROOT = Path(__file__).resolve().parents[1]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"relaytokens {pytest_relaytokens.__version__}"


def test_serve_exports_drive_the_live_backend(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ready, out = tmp_path / "ready", tmp_path / "out.txt"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "pytest_relaytokens.cli", "serve", "--max-seconds", "60"]
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [*command, "--once-ready-file", str(ready)], stdout=sink, stderr=sink, env=env
        )
        try:
            deadline = time.monotonic() + 20
            while not ready.exists() or not ready.read_text().strip():
                assert proc.poll() is None and time.monotonic() < deadline, out.read_text()
                time.sleep(0.02)
            url = ready.read_text().strip()
            exports = [ln for ln in out.read_text().splitlines() if ln.startswith("export ")]
            names = {shlex.split(ln)[1].split("=", 1)[0] for ln in exports}
            assert names == {
                "RELAYTOKENS_UCWA_URL",
                "RELAYTOKENS_UCWA_USERNAME",
                "RELAYTOKENS_UCWA_PASSWORD",
                "RELAYTOKENS_RELAY_URL",
                "RELAYTOKENS_RELAY_USERNAME",
                "RELAYTOKENS_RELAY_PASSWORD",
                "RELAYTOKENS_RELAY_SEAM_TOKEN",
                "RELAYTOKENS_ADMIN_URL",  # the control plane (docs/serve.md)
                "RELAYTOKENS_ADMIN_TOKEN",
            }
            for line in exports:
                name, _, value = shlex.split(line)[1].partition("=")
                monkeypatch.setenv(name, value)
            assert os.environ["RELAYTOKENS_RELAY_URL"] == url  # no doubled /api when pasted
            pytester.makepyfile(
                """
                def test_live(ucwa_token, relay_access_token, relaytokens_clock):
                    assert ucwa_token.password and ucwa_token.media_relays
                    assert relay_access_token.access_token
                """
            )
            pytester.runpytest("--relaytokens-backend=live").assert_outcomes(passed=1)
        finally:
            proc.terminate()
            proc.wait(10)


def test_record_library_refuses_an_installed_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    installed = tmp_path / "lib" / "site-packages" / "pytest_relaytokens" / "cassette_library"
    installed.mkdir(parents=True)
    monkeypatch.setattr(library, "library_root", lambda: installed)
    assert cli.main(["record-library", "--only", "relay/token-basic"]) == 2
    err = capsys.readouterr().err
    assert "inside the installed package" in err and "--out DIR" in err
    assert list(installed.iterdir()) == []
    assert cli.main(["record-library", "--only", "relay/token-basic", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "relay" / "token-basic.yaml").is_file()


@pytest.mark.parametrize(
    "href",
    ["https://evil.example/WebTicket/oauthtoken", "http://fe1.contoso.com/WebTicket/oauthtoken"],
)
def test_live_sign_in_sends_the_password_only_to_the_configured_host(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, href: str
) -> None:
    from pytest_relaytokens.http import FakeResponse
    from pytest_relaytokens.transports.server import LoopbackServer
    from pytest_relaytokens.ucwa.service import UcwaService

    ucwa = UcwaService(seed=5)
    challenge = f'MsRtcOAuth href="{href}",grant_type="urn:microsoft.rtc:windows,password"'
    ucwa.arm(
        lambda request: FakeResponse(401, [("WWW-Authenticate", challenge)]),
        times=None,
        path=r"/oauth/user$",
    )
    with LoopbackServer(ucwa) as server:
        monkeypatch.setenv("RELAYTOKENS_UCWA_URL", server.url)
        monkeypatch.setenv("RELAYTOKENS_UCWA_USERNAME", ucwa.credentials.username)
        monkeypatch.setenv("RELAYTOKENS_UCWA_PASSWORD", ucwa.credentials.password)
        pytester.makepyfile("def test_live(ucwa_token):\n    pass\n")
        result = pytester.runpytest("--relaytokens-backend=live")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*refusing to send the password to *(the MsRtcOAuth href must*"])
    assert ucwa.credentials.password not in result.stdout.str()
    assert not ucwa.log.matching("POST", "/WebTicket")


def test_backend_errors_never_quote_a_server_body(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_relaytokens.http import FakeResponse
    from pytest_relaytokens.relay.service import RelayService
    from pytest_relaytokens.transports.server import LoopbackServer

    relay = RelayService(seed=9)
    body = b'{"errorMessage": "internal detail: password=s3cr3t-in-body"}'
    relay.arm(lambda request: FakeResponse(500, [], body), times=None)
    with LoopbackServer(relay) as server:
        monkeypatch.setenv("RELAYTOKENS_RELAY_URL", server.url + "/api")  # a pasted /api too
        monkeypatch.setenv("RELAYTOKENS_RELAY_USERNAME", relay.credentials.username)
        monkeypatch.setenv("RELAYTOKENS_RELAY_PASSWORD", relay.credentials.password)
        pytester.makepyfile("def test_live(relay_access_token):\n    pass\n")
        result = pytester.runpytest("--relaytokens-backend=live")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [f"*creating a Relay token answered 500 ({len(body)} byte(s), sha256 *)*"]
    )
    assert "s3cr3t-in-body" not in result.stdout.str()
    assert relay.log[0].request.path == "/api/auth/accesstokens"  # no doubled /api
