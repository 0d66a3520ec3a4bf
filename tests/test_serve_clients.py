"""The serve control plane driven by clients in other processes: curl, a Node script, Python
urllib, ``relaytokens admin``; two serve processes side by side; https with the printed CA."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest
from serve_process import ServeProcess, start_serve

from pytest_relaytokens.transports.control import CONTROL_PREFIX, TOKEN_HEADER

CURL = shutil.which("curl")
NODE = shutil.which("node")


@pytest.fixture(scope="module")
def serve() -> Iterator[ServeProcess]:
    """One serve process for the module; each test starts from a reset."""
    process = start_serve("--seed", "5")
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def fresh(serve: ServeProcess) -> ServeProcess:
    _curl(serve, "POST", "reset", {})
    return serve


def _curl(
    serve: ServeProcess, method: str, op: str, body: object = None, token: str | None = None
) -> tuple[int, object]:
    assert CURL is not None, "curl is installed on the CI images"
    command = [CURL, "-s", "-o", "-", "-w", "\n%{http_code}", "-X", method]
    command += ["-H", f"{TOKEN_HEADER}: {serve.token if token is None else token}"]
    if serve.url.startswith("https"):
        command += ["--cacert", serve.exports["SSL_CERT_FILE"]]
    if body is not None:
        command += ["-H", "Content-Type: application/json", "--data-binary", json.dumps(body)]
    done = subprocess.run(
        [*command, serve.url + CONTROL_PREFIX + op], capture_output=True, text=True, timeout=30
    )
    text, _, status = done.stdout.rpartition("\n")
    return int(status), json.loads(text) if text.strip() else None


def _curl_api(serve: ServeProcess, path: str, *headers: str) -> tuple[int, str]:
    assert CURL is not None
    command = [CURL, "-s", "-o", "-", "-w", "\n%{http_code}"]
    for header in headers:
        command += ["-H", header]
    if serve.url.startswith("https"):
        command += ["--cacert", serve.exports["SSL_CERT_FILE"]]
    done = subprocess.run([*command, serve.url + path], capture_output=True, text=True, timeout=30)
    text, _, status = done.stdout.rpartition("\n")
    return int(status), text


def _relay_token(serve: ServeProcess) -> str:
    return serve.banner.split("access token: ", 1)[1].split()[0]


# --- curl ---------------------------------------------------------------------------------------
def test_curl_arms_an_error_the_relay_client_then_sees(fresh: ServeProcess) -> None:
    token = _relay_token(fresh)
    status, armed = _curl(fresh, "POST", "errors", {"service": "relay", "id": "ListenerOffline"})
    assert status == 200, armed
    assert _curl_api(fresh, "/api/enterprises/self", f"X-Access-Token: {token}")[0] == 503
    assert _curl_api(fresh, "/api/enterprises/self", f"X-Access-Token: {token}")[0] == 200
    status, counts = _curl(fresh, "GET", "coverage")
    assert counts["relay"]["503-ListenerOffline"] == 1  # type: ignore[index]


def test_curl_without_the_token_is_refused(fresh: ServeProcess) -> None:
    status, _ = _curl(fresh, "POST", "clock/advance", {"seconds": 60}, token="")
    assert status == 401
    status, _ = _curl(fresh, "POST", "reset", {}, token="x" * 32)
    assert status == 401


def test_curl_adds_the_route_the_relay_reference_client_reads(fresh: ServeProcess) -> None:
    token = _relay_token(fresh)
    assert _curl_api(fresh, "/api/failures/", f"X-Access-Token: {token}")[0] == 404
    failure = {"id": "f1", "subjectClass": "ListenerService", "errorCode": 1}
    status, _ = _curl(
        fresh, "POST", "routes", {"method": "GET", "path": "/api/failures/", "json": [failure]}
    )
    assert status == 200
    status, text = _curl_api(fresh, "/api/failures/", f"X-Access-Token: {token}")
    assert (status, json.loads(text)) == (200, [failure])


# --- Node ---------------------------------------------------------------------------------------
NODE_SCRIPT = textwrap.dedent(
    """
    const base = process.env.RELAYTOKENS_ADMIN_URL;
    const admin = {"X-Relaytokens-Admin-Token": process.env.RELAYTOKENS_ADMIN_TOKEN,
                   "content-type": "application/json"};
    const control = (op, body) => fetch(`${base}/__relaytokens/${op}`,
      {method: body === undefined ? "GET" : "POST", headers: admin,
       body: body === undefined ? undefined : JSON.stringify(body)});
    const basic = "Basic " + Buffer.from(
      `${process.env.RELAYTOKENS_RELAY_USERNAME}:${process.env.RELAYTOKENS_RELAY_PASSWORD}`
    ).toString("base64");
    const issue = async () => (await fetch(`${process.env.RELAYTOKENS_RELAY_URL}/api/auth/accesstokens`,
      {method: "POST", headers: {authorization: basic}})).json();
    (async () => {
      const first = await issue();
      const moved = await control("clock/advance", {seconds: 86400});
      if (moved.status !== 200) throw new Error(`advance: ${moved.status}`);
      await control("policy", {expires_in: 60});
      const second = await issue();
      const armed = await control("sequences",
        {service: "relay", steps: ["401-BadCredentialsException", null]});
      const statuses = [];
      for (let i = 0; i < 2; i++) {
        const r = await fetch(`${process.env.RELAYTOKENS_RELAY_URL}/api/enterprises/self`,
          {headers: {"x-access-token": second.accessToken}});
        statuses.push(r.status);
      }
      const log = await (await control("log")).json();
      console.log(JSON.stringify({
        days: (second.creationDate - first.creationDate) / 86400000,
        lifetime: second.expirationDate - second.creationDate,
        armed: armed.status, statuses, logged: log.length,
        leaked: JSON.stringify(log).includes(second.accessToken)}));
    })().catch((e) => { console.error(e); process.exit(1); });
    """
)


@pytest.mark.node
def test_node_script_drives_the_control_plane(fresh: ServeProcess) -> None:
    if NODE is None:  # never a silent skip: say what is missing and how to leave it out
        pytest.fail(
            "this test drives `relaytokens serve` from a Node.js script and needs `node` on "
            "PATH: install Node.js (apt-get install nodejs, brew install node), or deselect "
            "it with -m 'not node'"
        )
    done = subprocess.run(
        [str(NODE), "-e", NODE_SCRIPT], capture_output=True, text=True, timeout=60, env=fresh.env()
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["days"] >= 1
    assert result["lifetime"] == 60_000
    assert result["armed"] == 200
    assert result["statuses"] == [401, 200]
    assert result["logged"] >= 4
    assert result["leaked"] is False


# --- Python urllib in a subprocess, and relaytokens admin -----------------------------------------
PYTHON_CLIENT = textwrap.dedent(
    """
    import json, os, urllib.request
    from pytest_relaytokens.admin import AdminClient
    admin = AdminClient.from_env()
    admin.arm_error("ucwa", "409-Conflict-MakeMeAvailableRequired", times=None, path="")
    url = os.environ["RELAYTOKENS_UCWA_URL"] + "/Autodiscover/AutodiscoverService.svc/root/oauth/user"
    try:
        urllib.request.urlopen(url)
    except urllib.error.HTTPError as error:
        print(json.dumps({"status": error.code, "faults": len(admin.faults())}))
    """
)


def test_python_urllib_subprocess_uses_the_admin_client(fresh: ServeProcess) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PYTHON_CLIENT],
        capture_output=True,
        text=True,
        timeout=60,
        env=fresh.env(),
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"status": 409, "faults": 1}


def _admin_cli(serve: ServeProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_relaytokens.cli", "admin", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=serve.env(),
    )


def test_relaytokens_admin_subcommands(fresh: ServeProcess) -> None:
    done = _admin_cli(fresh, "clock", "--set", "2030-01-02T03:04:05Z")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["now"].startswith("2030-01-02T03:04")
    done = _admin_cli(fresh, "route", "GET", "/api/failures", "--json", "[]", "--status", "200")
    assert done.returncode == 0, done.stderr
    done = _admin_cli(fresh, "error", "relay", "TooManyRequests", "--times", "always")
    assert json.loads(done.stdout)["times"] is None
    done = _admin_cli(fresh, "routes")
    assert [r["path"] for r in json.loads(done.stdout)] == ["/api/failures"]
    done = _admin_cli(fresh, "error", "relay", "NoSuchThing")
    assert done.returncode == 1
    assert done.stderr.startswith("relaytokens admin error: id: unknown Relay error")
    assert "Traceback" not in done.stderr


def test_relaytokens_admin_with_a_wrong_token_says_so(fresh: ServeProcess) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest_relaytokens.cli", "admin", "--token", "nope", "reset"],
        capture_output=True,
        text=True,
        timeout=60,
        env=fresh.env(),
    )
    assert done.returncode == 1
    assert "the admin token in the X-Relaytokens-Admin-Token header is wrong" in done.stderr


# --- side by side, https --------------------------------------------------------------------------
def test_two_serve_processes_side_by_side(fresh: ServeProcess) -> None:
    other = start_serve("--seed", "5")
    try:
        assert other.url != fresh.url
        assert other.token != fresh.token
        assert _curl(other, "GET", "clock", token=fresh.token)[0] == 401  # tokens are per start
        _, before = _curl(fresh, "GET", "clock")
        _curl(other, "POST", "clock/advance", {"seconds": 30 * 86400})
        _, after = _curl(fresh, "GET", "clock")
        _, moved = _curl(other, "GET", "clock")
        assert after["now_ms"] - before["now_ms"] < 86400_000  # type: ignore[index]
        assert moved["now_ms"] - after["now_ms"] > 29 * 86400_000  # type: ignore[index]
    finally:
        other.stop()


def test_tls_serve_prints_the_ca_exports_every_client_reads() -> None:
    served = start_serve("--tls")
    try:
        assert served.url.startswith("https://127.0.0.1:")
        ca = served.exports["SSL_CERT_FILE"]
        assert served.exports["REQUESTS_CA_BUNDLE"] == ca == served.exports["NODE_EXTRA_CA_CERTS"]
        status, doc = _curl(served, "POST", "clock/advance", {"seconds": 5})
        assert status == 200, doc
        token = _relay_token(served)
        assert _curl_api(served, "/api/enterprises/self", f"X-Access-Token: {token}")[0] == 200
        python = "from pytest_relaytokens.admin import AdminClient; print(AdminClient.from_env().clock()['frozen'])"
        done = subprocess.run(
            [sys.executable, "-c", python],
            capture_output=True,
            text=True,
            timeout=60,
            env=served.env(),
        )
        assert done.stdout.strip() == "False", done.stderr
        if NODE is not None:
            script = (
                "fetch(process.env.RELAYTOKENS_ADMIN_URL + '/__relaytokens/clock', {headers: "
                "{'X-Relaytokens-Admin-Token': process.env.RELAYTOKENS_ADMIN_TOKEN}})"
                ".then(r => console.log(r.status)).catch(e => { console.error(e); process.exit(1) })"
            )
            done = subprocess.run(
                [NODE, "-e", script], capture_output=True, text=True, timeout=60, env=served.env()
            )
            assert done.stdout.strip() == "200", done.stderr
        # plain http to the https port is refused, the server keeps serving
        plain = served.url.replace("https://", "http://")
        assert CURL is not None
        subprocess.run([CURL, "-s", "-m", "5", plain + "/"], capture_output=True, timeout=30)
        assert _curl(served, "GET", "clock")[0] == 200
    finally:
        served.stop()
