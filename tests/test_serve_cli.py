"""``relaytokens serve`` arguments: one-line errors with exit status 2, ``--routes`` files,
``--cassette`` replay (strict), and ``--tls`` without trustme."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from serve_process import ROOT, serve_command, start_serve

from pytest_relaytokens.cli import main
from pytest_relaytokens.library import library_root

CASSETTE = library_root() / "relay" / "enterprise-by-header.yaml"  # the installed library


def _fails(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run ``relaytokens serve args`` in process: exit 2 and one line on stderr, returned."""
    try:
        status = main(["serve", *args, "--max-seconds", "5"])
    except SystemExit as exit_:
        status = int(exit_.code or 0)
    captured = capsys.readouterr()
    assert status == 2, (status, captured.out, captured.err)
    lines = [line for line in captured.err.splitlines() if line.startswith("relaytokens")]
    assert len(lines) == 1, captured.err
    return lines[0]


def test_a_bad_argument_in_a_subprocess_has_no_traceback() -> None:
    done = subprocess.run(
        serve_command("--port", "99999"),
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == (
        "relaytokens serve: error: argument --port: 99999 is not a port: use 0 to 65535 "
        "(0: any free)"
    )
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--port", "99999"), "argument --port: 99999 is not a port: use 0 to 65535"),
        (("--port", "-1"), "argument --port: -1 is not a port"),
        (("--port", "http"), "argument --port: not a port number: 'http'"),
        (
            ("--host", "127.0.0.1x"),
            "argument --host: '127.0.0.1x' is not an IP address or a host name",
        ),
        (("--host", "a b"), "argument --host: 'a b' is not an IP address or a host name"),
        (("--max-seconds", "-5"), "argument --max-seconds: must be a number of seconds > 0"),
        (("--max-seconds", "nan"), "argument --max-seconds: must be a number of seconds > 0"),
        (("--seed", "1.5"), "argument --seed: not an integer: '1.5'"),
        (("--cassette", "/nonexistent.yaml"), "argument --cassette: /nonexistent.yaml: no such"),
        (("--cassette", "/tmp"), "argument --cassette: /tmp: a directory, not a cassette file"),
        (("--host", "10.1.2.3"), "refusing to bind '10.1.2.3'"),
    ],
)
def test_bad_arguments_get_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], args: tuple[str, ...], says: str
) -> None:
    assert says in _fails(capsys, *args)


def test_host_accepts_addresses_and_names() -> None:
    from pytest_relaytokens.transports.serve import _host

    assert _host("::1") == "::1"
    assert _host("[::1]") == "::1"
    assert _host("localhost") == "localhost"
    assert _host("fe1.contoso.com") == "fe1.contoso.com"


@pytest.mark.parametrize(
    ("text", "name", "says"),
    [
        (
            "- method: GET\n  path: /api/x\n  status: two\n",
            "r.yaml",
            "r.yaml: routes[0].status: must be int",
        ),
        (
            "routes:\n- {method: GET, path: /api/x}\n- {path: /api/y}\n",
            "r.yaml",
            "r.yaml: routes[1].method: required",
        ),
        ("routes: {}\n", "r.yaml", "r.yaml: must be a list of routes"),
        (
            "- method: GET\n  path: /api/x\n  colour: red\n",
            "r.yaml",
            "r.yaml: routes[0].colour: unknown field",
        ),
        ("[1]", "r.json", "r.json: routes[0]: must be an object"),
        ('[{"method": "GET", "path": "/api/x",]', "r.json", "r.json: not valid JSON"),
        ("- [unclosed\n", "r.yaml", "r.yaml: not valid YAML"),
        (
            '[{"method": "GET", "path": "/api/x", "roles": ["ROLE_NOPE"]}]',
            "r.json",
            "r.json: routes[0].unknown roles",
        ),
    ],
)
def test_routes_file_errors_name_the_file_and_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, name: str, says: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    line = _fails(capsys, "--routes", str(path))
    assert says.replace(name, str(path)) in line, line


def test_routes_file_serves_the_relay_reference_clients_failures(tmp_path: Path) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text(
        "routes:\n"
        "  - method: GET\n"
        "    path: /api/failures/\n"
        "    json: [{id: f1, subjectClass: ListenerService, errorDate: 1700000000000}]\n"
        "  - method: GET\n"
        "    path: /status\n"
        "    auth: false\n"
        "    json: {up: true}\n"
    )
    served = start_serve("--routes", str(routes))
    try:
        token = served.banner.split("access token: ", 1)[1].split()[0]
        request = urllib.request.Request(
            served.url + "/api/failures/", headers={"X-Access-Token": token}
        )
        with urllib.request.urlopen(request, timeout=10) as reply:
            assert json.loads(reply.read())[0]["subjectClass"] == "ListenerService"
        with urllib.request.urlopen(served.url + "/status", timeout=10) as reply:
            assert json.loads(reply.read()) == {"up": True}
    finally:
        served.stop()


def test_cassette_is_served_strictly(tmp_path: Path) -> None:
    served = start_serve("--cassette", str(CASSETTE))
    try:
        assert "GET /api/enterprises/self" in served.banner
        request = urllib.request.Request(
            served.url + "/api/enterprises/self",
            headers={"X-Access-Token": "anything", "Accept": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as reply:
            assert reply.status == 200
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(served.url + "/api/not-recorded", timeout=10)
        assert caught.value.code == 404
        assert b"no recorded interaction" in caught.value.read()
    finally:
        served.proc.terminate()
        out, _ = served.proc.communicate(timeout=20)
    assert served.proc.returncode == 1
    assert "unmatched: GET http://127.0.0.1" in out
    assert "the cassette replay is incomplete" in out
    assert "never replayed: POST /api/auth/accesstokens" in out  # as the replay backend


def test_cassette_fully_replayed_exits_0() -> None:
    served = start_serve("--cassette", str(CASSETTE))
    for method, path in (("POST", "/api/auth/accesstokens"), ("GET", "/api/enterprises/self")):
        request = urllib.request.Request(  # every recorded interaction, once
            served.url + path,
            method=method,
            headers={"Authorization": "Basic eDp5", "Accept": "application/json"},
        )
        urllib.request.urlopen(request, timeout=10).close()
    served.proc.terminate()
    out, _ = served.proc.communicate(timeout=20)
    assert served.proc.returncode == 0, out


def test_tls_without_trustme_names_the_extra(tmp_path: Path) -> None:
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "trustme.py").write_text("raise ImportError('hidden for this test')\n")
    (hide / "sitecustomize.py").write_text(
        "import importlib.util, sys\n"
        "_find = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda n, *a: None if n == 'trustme' else _find(n, *a)\n"
    )
    done = subprocess.run(
        serve_command("--tls", "--max-seconds", "5"),
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": f"{hide}:{ROOT}", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 2
    assert "the tls extra: pip install -e '.[tls]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_help_lists_the_new_options() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest_relaytokens.cli", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    for option in ("--routes", "--cassette", "--tls"):
        assert option in done.stdout


# --- relaytokens admin: a bad --url is one line, exit 2 -----------------------------------------
@pytest.mark.parametrize(
    "url", ["notaurl", "http://[::1", "ftp://127.0.0.1:1", "http://127.0.0.1:99999", "http://"]
)
def test_admin_bad_url_is_one_line_naming_the_option(
    capsys: pytest.CaptureFixture[str], url: str
) -> None:
    status = main(["admin", "--url", url, "--token", "x" * 20, "reset"])
    captured = capsys.readouterr()
    assert status == 2, captured
    assert captured.err.count("\n") == 1, captured.err
    assert captured.err.startswith("relaytokens admin reset: --url "), captured.err
    assert "http://127.0.0.1:PORT" in captured.err


def test_admin_bad_url_from_the_environment_names_the_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAYTOKENS_ADMIN_URL", "http://[::1")
    monkeypatch.setenv("RELAYTOKENS_ADMIN_TOKEN", "x" * 20)
    assert main(["admin", "clock"]) == 2
    assert capsys.readouterr().err.startswith("relaytokens admin clock: RELAYTOKENS_ADMIN_URL ")


# --- serve: a fault armed on the control plane and never consumed makes the exit status 1 ----
def test_unconsumed_control_plane_faults_fail_the_stop() -> None:
    from pytest_relaytokens.admin import AdminClient

    served = start_serve()
    admin = AdminClient(served.url, served.token)
    admin.arm_error("relay", "401-BadCredentialsException")
    admin.arm_error("relay", "429-TooManyRequests", times=None)
    admin.arm_drop("ucwa", optional=True)
    out = served.stop()
    assert served.proc.returncode == 1, out
    assert (
        "relaytokens serve: 2 armed fault(s) were never consumed by a request:\n"
        "  relay: 401-BadCredentialsException on every path (1 use(s) left)\n"
        "  relay: 429-TooManyRequests on every path (never served; times=None means every "
        "matching request, at least one)\n"
    ) in out
    assert '"optional": true' in out and "exit status 1" in out


def test_consumed_or_optional_faults_stop_with_0() -> None:
    from pytest_relaytokens.admin import AdminClient

    served = start_serve()
    admin = AdminClient(served.url, served.token)
    admin.arm_error("relay", "429-TooManyRequests", times=None)
    admin.arm_delay("relay", 0.01, optional=True)
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(served.url + "/api/enterprises/self", timeout=10)
    done = subprocess.run(
        [
            *(sys.executable, "-m", "pytest_relaytokens.cli", "admin", "error", "ucwa", "503"),
            *("--times", "always", "--optional"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=served.env(),
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["optional"] is True
    out = served.stop()
    assert served.proc.returncode == 0, out
    assert "never consumed" not in out
