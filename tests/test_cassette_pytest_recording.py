"""pytest-recording and plain vcrpy users: three conftest lines give them our redaction and
scan; vcrpy's INFO logging cannot carry a secret to a log file; our cassettes load in both."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import pytest_recording  # noqa: F401  (the test extra installs it: these tests never skip)

TOKEN = "i0gni52qmhtdsht5pvpu68dv96gqvil6"
PASSWORD = "Sup3r+S3cret/pw"

SERVER = textwrap.dedent(
    f"""
    import gzip, json, threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import pytest

    TOKEN = {TOKEN!r}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == "/broken":
                body = b"\\x1f\\x8b\\x08\\x00" + TOKEN.encode()
            else:
                body = gzip.compress(json.dumps({{"accessToken": TOKEN}}).encode())
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Set-Cookie", "lang=en; Path=/, session=" + TOKEN + "; HttpOnly")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    @pytest.fixture(scope="session")
    def server():
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        yield "http://127.0.0.1:%d" % httpd.server_address[1]
        httpd.shutdown()
        httpd.server_close()
    """
)

ADOPTION = textwrap.dedent(
    """
    from pytest_relaytokens.cassettes import safe_vcr_config

    @pytest.fixture(scope="module")
    def vcr_config():
        return safe_vcr_config(extra_secrets=[PASSWORD], match_on=("method", "path"))
    """
)

TESTS = textwrap.dedent(
    f"""
    import logging
    import pytest
    import httpx
    import requests

    PASSWORD = {PASSWORD!r}

    @pytest.mark.vcr
    def test_token_with_requests(server):
        reply = requests.post(server + "/token", auth=("alice", PASSWORD), data={{"password": PASSWORD}})
        assert reply.json()["accessToken"]
        logging.getLogger("vcr.cassette").info("body %s", reply.text)  # what vcrpy does

    @pytest.mark.vcr
    def test_token_with_httpx(server):
        reply = httpx.post(server + "/token", auth=("alice", PASSWORD))
        assert reply.json()["accessToken"]
    """
)


def _project(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(SERVER + f"\nPASSWORD = {PASSWORD!r}\n" + ADOPTION)
    pytester.makepyfile(test_recorded=TESTS)


def _all_text(folder: Path) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(folder.rglob("*.yaml")))


def test_three_lines_adopt_the_redaction_and_replay_offline(pytester: pytest.Pytester) -> None:
    _project(pytester)
    log_file = pytester.path / "run.log"
    result = pytester.runpytest_subprocess(
        "-p",
        "recording",
        "--record-mode=once",
        "--log-level=INFO",
        f"--log-file={log_file}",
        "--log-file-level=INFO",
        "-rA",
        "--junitxml=junit.xml",
    )
    result.assert_outcomes(passed=2)
    cassettes = pytester.path / "cassettes"
    written = sorted(p.name for p in cassettes.rglob("*.yaml"))
    assert written == ["test_token_with_httpx.yaml", "test_token_with_requests.yaml"]
    text = _all_text(cassettes)
    for secret in (TOKEN, PASSWORD, "Sup3r%2BS3cret%2Fpw"):
        assert secret not in text
        assert secret not in log_file.read_text(encoding="utf-8")
        assert secret not in (pytester.path / "junit.xml").read_text(encoding="utf-8")
        assert secret not in result.stdout.str()
    assert "Content-Encoding" not in text and "placeholders:" in text
    # offline: the cassettes replay through pytest-recording (our persister loads them)
    replay = pytester.runpytest_subprocess("-p", "recording", "--record-mode=none")
    replay.assert_outcomes(passed=2)
    # and relaytokens verify finds them clean
    from pytest_relaytokens.cassettes.verify import check_cassette

    for path in cassettes.rglob("*.yaml"):
        assert check_cassette(path, secrets=[TOKEN, PASSWORD], schema=False) == []


def test_a_broken_compressed_body_never_leaks(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(SERVER + f"\nPASSWORD = {PASSWORD!r}\n" + ADOPTION)
    pytester.makepyfile(
        test_broken="""
        import pytest, requests

        @pytest.mark.vcr
        def test_broken(server):
            try:
                requests.post(server + "/broken")
            except Exception:  # the redactor refuses the body (vcrpy may swallow it)
                pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "recording", "--record-mode=once")
    result.assert_outcomes(passed=1)
    # urllib3 hands vcrpy what it could decode: that is stored, scanned, and holds no token
    assert TOKEN not in _all_text(pytester.path)
    assert TOKEN not in result.stdout.str() + result.stderr.str()


def test_shipped_cassettes_load_in_plain_vcrpy_and_pytest_recording(
    pytester: pytest.Pytester,
) -> None:
    from pytest_relaytokens.library import library_root

    source = library_root() / "relay" / "token-basic.yaml"
    if not source.is_file():  # the scenario names may change; any relay token cassette does
        source = sorted((library_root() / "relay").glob("*.yaml"))[0]
    (pytester.path / "cassettes" / "test_shipped").mkdir(parents=True)
    target = pytester.path / "cassettes" / "test_shipped" / "test_pytest_recording_serves_it.yaml"
    target.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    import vcr
    import yaml

    first = yaml.safe_load(source.read_text(encoding="utf-8"))["interactions"][0]
    method, uri = first["request"]["method"], first["request"]["uri"]
    pytester.makepyfile(
        test_shipped=f"""
        import pytest, requests

        METHOD, URI = {method!r}, {uri!r}

        @pytest.mark.vcr
        def test_pytest_recording_serves_it():
            reply = requests.request(METHOD, URI)
            assert reply.status_code == {first["response"]["status"]["code"]}
        """
    )
    pytester.runpytest_subprocess("-p", "recording", "--record-mode=none").assert_outcomes(passed=1)
    recorder = vcr.VCR(record_mode="none")
    with recorder.use_cassette(str(target)) as cassette:
        assert len(cassette) >= 1


def test_the_vcr_markers_extra_cassettes_still_load(pytester: pytest.Pytester) -> None:
    """Our scanning persister replaces pytest-recording's, on every vcrpy: the marker's extra
    cassettes are still read (through our checked loader)."""
    _project(pytester)
    first = pytester.runpytest_subprocess("-p", "recording", "--record-mode=once")
    first.assert_outcomes(passed=2)
    recorded = pytester.path / "cassettes" / "test_recorded" / "test_token_with_requests.yaml"
    shared = pytester.path / "cassettes" / "test_extra" / "shared.yaml"  # the module folder
    shared.parent.mkdir()
    recorded.rename(shared)
    import yaml

    uri = yaml.safe_load(shared.read_text(encoding="utf-8"))["interactions"][0]["request"]["uri"]
    pytester.makepyfile(
        test_extra=f"""
        import pytest, requests

        @pytest.mark.vcr("shared.yaml")
        def test_served_from_the_extra_cassette():
            reply = requests.post({uri!r}, auth=("alice", "x"), data={{"password": "x"}})
            assert reply.json()["accessToken"].startswith("redacted")
        """
    )
    offline = pytester.runpytest_subprocess(
        "-p", "recording", "--record-mode=none", "test_extra.py"
    )
    offline.assert_outcomes(passed=1)


def test_plain_vcrpy_safe_vcr_redacts_and_refuses_a_leak(tmp_path: Path) -> None:
    """``safe_vcr()`` registers the scanning persister, which every vcrpy honours."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import requests

    from pytest_relaytokens.cassettes import safe_vcr

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            body = f"opaque {TOKEN} text".encode()  # no structure tells the redactor it is secret
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/x"
    try:
        redacted = tmp_path / "redacted.yaml"
        with safe_vcr(extra_secrets=[TOKEN]).use_cassette(str(redacted)):
            requests.get(url)
        assert TOKEN not in redacted.read_text(encoding="utf-8")
        # a hook that redacts nothing: the registered persister still redacts and scans
        guarded = tmp_path / "guarded.yaml"
        recorder = safe_vcr(extra_patterns=[r"opaque (\w+) text"])
        recorder.before_record_response = lambda response: response
        with recorder.use_cassette(str(guarded)):
            requests.get(url)
        text = guarded.read_text(encoding="utf-8")
        assert TOKEN not in text and "placeholders:" in text
    finally:
        httpd.shutdown()
        httpd.server_close()
