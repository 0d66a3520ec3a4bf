"""Hardening: interrupted recordings never leave a partial cassette, parallel workers never
write the same file, and no generated credential reaches the disk wherever it hides."""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus
from xml.sax.saxutils import escape

import pytest
import requests
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pytest_relaytokens.cassettes import storage
from pytest_relaytokens.cassettes.recording import (
    CassetteKeptWarning,
    RecordMode,
    cassette_path_for,
    record,
)
from pytest_relaytokens.cassettes.redaction import Redactor, encoded_variants, is_placeholder
from pytest_relaytokens.cassettes.secrets import SecretLeakError
from pytest_relaytokens.cassettes.storage import CassetteStore, load_interactions
from pytest_relaytokens.relay.service import RelayService
from pytest_relaytokens.transports.server import LoopbackServer

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def relay_server() -> Iterator[tuple[RelayService, LoopbackServer]]:
    relay = RelayService(seed=11)
    with LoopbackServer(relay) as server:
        yield relay, server


def _create_token(relay: RelayService, server: LoopbackServer) -> None:
    response = requests.post(
        f"{server.url}/api/auth/accesstokens",
        headers={"Authorization": relay.credentials.basic_authorization},
        timeout=5,
    )
    assert response.status_code == 200


def _every_file_is_a_cassette(directory: Path) -> list[Path]:
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    for path in files:
        assert path.suffix == ".yaml", f"stray file {path.name}"
        load_interactions(path)  # raises CassetteError on a partial or corrupt file
        assert yaml.safe_load(path.read_text())["interactions"]
    return files


class _Interrupt(Exception):
    pass


@pytest.mark.parametrize("mode", ["all", "new_episodes", "rewrite", "once"])
@pytest.mark.parametrize("interrupt", [_Interrupt, KeyboardInterrupt])
def test_interrupted_recording_leaves_old_or_new_cassette(
    tmp_path: Path,
    relay_server: tuple[RelayService, LoopbackServer],
    mode: RecordMode,
    interrupt: type[BaseException],
) -> None:
    relay, server = relay_server
    path = tmp_path / "cassettes" / "test_x.yaml"
    previous = b""
    if mode != "once":  # "once" would replay an existing cassette: record a first one
        with record(path, mode="all"):
            _create_token(relay, server)
        previous = path.read_bytes()
    kept = pytest.warns(CassetteKeptWarning) if mode == "rewrite" else contextlib.nullcontext()
    with kept, pytest.raises(interrupt), record(path, mode=mode):
        _create_token(relay, server)
        _create_token(relay, server)
        raise interrupt()
    files = _every_file_is_a_cassette(tmp_path)
    assert files == [path] or (mode == "once" and files == [])
    now = path.read_bytes() if files else b""
    if now != previous:  # the new recording, complete and redacted
        assert len(load_interactions(path).interactions) >= 2
        assert relay.credentials.password not in now.decode()


@pytest.mark.parametrize("step", ["write", "fsync", "replace"])
@pytest.mark.parametrize("interrupt", [OSError, KeyboardInterrupt])
def test_interrupt_inside_the_write_keeps_the_old_file(
    tmp_path: Path,
    relay_server: tuple[RelayService, LoopbackServer],
    monkeypatch: pytest.MonkeyPatch,
    step: str,
    interrupt: type[BaseException],
) -> None:
    relay, server = relay_server
    path = tmp_path / "test_y.yaml"
    with record(path, mode="all"):
        _create_token(relay, server)
    previous = path.read_bytes()

    def boom(*args: object, **kwargs: object) -> None:
        raise interrupt("interrupted")

    if step == "write":
        real_fdopen = storage.os.fdopen

        def fdopen(*args: object, **kwargs: object) -> object:
            handle = real_fdopen(*args, **kwargs)  # type: ignore[call-overload]

            def write(text: str) -> int:
                handle.buffer.write(text[: len(text) // 2].encode())  # half a cassette...
                handle.flush()
                raise interrupt("interrupted")

            handle.write = write
            return handle

        monkeypatch.setattr(storage.os, "fdopen", fdopen)
    else:
        monkeypatch.setattr(storage.os, step, boom)
    with pytest.raises(interrupt), record(path, mode="all"):
        _create_token(relay, server)
    monkeypatch.undo()
    assert path.read_bytes() == previous
    assert _every_file_is_a_cassette(tmp_path) == [path]


def test_refused_recording_leaves_no_patch_behind(
    tmp_path: Path, relay_server: tuple[RelayService, LoopbackServer]
) -> None:
    """A save that raises (here the leak scan) must still undo vcrpy's patches; vcrpy itself
    skips its unpatching when the persister raises."""
    import http.client

    relay, server = relay_server
    real = http.client.HTTPConnection
    path = tmp_path / "refused.yaml"
    patterns = [re.escape(relay.enterprise.name)]
    # a redactor that does not know the pattern: the scan (which does) refuses to save
    quiet = Redactor()
    with (
        pytest.raises(SecretLeakError) as info,
        record(path, mode="all", redactor=quiet, extra_patterns=patterns),
    ):
        _create_token(relay, server)
    assert info.value.findings  # the traceback (and vcrpy's context) is still alive here
    assert http.client.HTTPConnection is real
    assert not path.exists()


# Two workers ---------------------------------------------------------------------------------

WORKER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import requests
    from pytest_relaytokens.cassettes import storage
    from pytest_relaytokens.cassettes.recording import cassette_path_for, record

    url, basic, directory, worker, log = sys.argv[1:6]
    written = []
    real = storage.atomic_write_text

    def spy(path, text, **kwargs):
        written.append(str(path))
        return real(path, text, **kwargs)

    storage.atomic_write_text = spy
    module = Path(directory) / "test_parallel.py"
    names = [f"test_same_name[{i}]" for i in range(6)] + [f"test_only_{worker}"]
    names += ["test_ids[a/b]", "test_ids[a_b]", "test_ids[a b]", "test_ids[\\u00e9]"]
    for index, name in enumerate(names):
        if index % 2 != int(worker[-1]) % 2 and not name.endswith(worker):
            continue  # xdist hands each test to one worker
        path = cassette_path_for(module, name, Path(directory) / "cassettes")
        with record(path, mode="all"):
            r = requests.post(url + "/api/auth/accesstokens", headers={"Authorization": basic})
            assert r.status_code == 200
    Path(log).write_text(json.dumps(written))
    """
)


def test_two_workers_never_write_the_same_file(
    tmp_path: Path, relay_server: tuple[RelayService, LoopbackServer]
) -> None:
    relay, server = relay_server
    logs = [tmp_path / f"gw{i}.json" for i in range(2)]
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER,
                server.url,
                relay.credentials.basic_authorization,
                str(tmp_path),
                f"gw{i}",
                str(logs[i]),
            ],
            cwd=ROOT,
            env={"PYTHONPATH": str(ROOT), "PYTEST_XDIST_WORKER": f"gw{i}", "PATH": ""},
        )
        for i in range(2)
    ]
    for worker in workers:
        assert worker.wait(60) == 0
    written = [set(json.loads(log.read_text())) for log in logs]
    assert written[0] and written[1]
    assert written[0].isdisjoint(written[1])
    files = _every_file_is_a_cassette(tmp_path / "cassettes")
    assert {str(p) for p in files} == written[0] | written[1]


IDS = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=30,
)
TEST_NAMES = st.builds(
    lambda func, params: f"test_{func}" + (f"[{params}]" if params is not None else ""),
    st.from_regex(r"[A-Za-z0-9_]{1,20}", fullmatch=True),
    st.none() | IDS,
)


@settings(max_examples=300, deadline=None)
@given(names=st.lists(TEST_NAMES, min_size=2, max_size=6, unique=True))
def test_distinct_test_ids_get_distinct_cassette_paths(names: list[str]) -> None:
    paths = [cassette_path_for("tests/test_mod.py", name) for name in names]
    assert len(set(paths)) == len(paths), list(zip(names, paths, strict=True))
    for path in paths:
        assert path.parent == Path("tests/cassettes/test_mod")
        assert "/" not in path.name and path.name.endswith(".yaml") and len(path.name) < 200


# Secret scan ----------------------------------------------------------------------------------

SECRETS = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="\x85"
    ),
    min_size=8,
    max_size=40,
).filter(lambda s: s.strip() == s and len(set(s)) > 3)
PLACES = (
    "authorization bearer",
    "authorization basic",
    "x-access-token",
    "query accesstoken",
    "query seamaccesstoken (percent-encoded)",
    "form password",
    "json request password",
    "json response accessToken",
    "xml response password",
    "cookie",
    "set-cookie (percent-encoded)",
)


def _exchange(
    secret: str, place: str, echo: bool
) -> tuple[str, dict[str, str], bytes, dict[str, list[str]], bytes]:
    """A request/response with ``secret`` in ``place``, and, with ``echo``, also in every
    other place a secret can hide (percent-encoded, base64, JSON, XML, other headers)."""
    uri = "https://relay.bluejeans.com/api/auth/accesstokens?clientName=x"
    headers = {"Content-Type": "application/json"}
    body = b""
    response_headers = {"Content-Type": ["application/json"]}
    response_body = b'{"ok": true}'
    pct = quote(secret, safe="")
    if place == "authorization bearer":
        headers["Authorization"] = f"Bearer {secret}"
    elif place == "authorization basic":
        headers["Authorization"] = "Basic " + base64.b64encode(f"admin:{secret}".encode()).decode()
    elif place == "x-access-token":
        headers["X-Access-Token"] = secret
    elif place == "query accesstoken":
        uri += "&accesstoken=" + pct
    elif place.startswith("query seamaccesstoken"):
        uri += "&seamaccesstoken=" + quote_plus(secret)
    elif place == "form password":
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        body = f"grant_type=password&username=alice&password={quote_plus(secret)}".encode()
    elif place == "json request password":
        body = json.dumps({"userName": "alice", "password": secret}).encode()
    elif place == "json response accessToken":
        response_body = json.dumps({"accessToken": secret, "clientName": None}).encode()
    elif place == "xml response password":
        response_headers["Content-Type"] = ["application/xml"]
        response_body = (
            '<resource rel="mediaRelayAccessToken">'
            f'<property name="password">{escape(secret)}</property></resource>'
        ).encode()
    elif place == "cookie":
        headers["Cookie"] = f"theme=dark; session={pct}"
    else:
        response_headers["Set-Cookie"] = [f"session={pct}; Path=/; HttpOnly"]
    if echo:
        b64 = base64.b64encode(secret.encode()).decode()
        uri += f"&state={pct}"
        response_headers["X-Debug"] = [f"token={pct}", b64]
        response_headers["Location"] = [f"https://x.example/next?s={quote_plus(secret)}"]
        response_body += (
            b"\n" + json.dumps({"debug": secret, "b64": b64, "url": f"https://x/?s={pct}"}).encode()
        )
        response_body += f"<property name='other'>{escape(secret)}</property>".encode()
    return uri, headers, body, response_headers, response_body


def _leaks(secret: str, text: str) -> list[str]:
    data = yaml.safe_load(text)
    blob = text + json.dumps(data, default=lambda b: b.decode("utf-8", "replace"))
    return [variant for variant in encoded_variants(secret) if variant in blob]


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)
@given(secret=SECRETS, place=st.sampled_from(PLACES), echo=st.booleans(), declared=st.booleans())
def test_no_generated_secret_reaches_the_disk(
    tmp_path: Path, secret: str, place: str, echo: bool, declared: bool
) -> None:
    from vcr.request import Request
    from vcr.serializers import yamlserializer

    # An undeclared value shaped like our own placeholder ("00000123") is kept as already
    # redacted, by design; declared secrets are always replaced.
    assume(declared or not is_placeholder(secret))
    uri, headers, body, response_headers, response_body = _exchange(secret, place, echo)
    redactor = Redactor(extra_secrets=[secret] if declared else ())
    request = redactor.redact_request(Request("POST", uri, body, headers))
    response = redactor.redact_response(
        copy.deepcopy(
            {
                "status": {"code": 200, "message": "OK"},
                "headers": response_headers,
                "body": {"string": response_body},
            }
        )
    )
    path = tmp_path / f"{abs(hash((secret, place, echo, declared)))}.yaml"
    try:
        CassetteStore.bind(redactor).save_cassette(
            path, {"requests": [request], "responses": [response]}, yamlserializer
        )
    except SecretLeakError:
        assert not path.exists()  # refused: nothing written
        return
    text = path.read_text(encoding="utf-8")
    assert _leaks(secret, text) == [], (place, echo)
    load_interactions(path)


def test_secret_scan_control_an_unknown_secret_does_reach_the_disk(tmp_path: Path) -> None:
    """Control: a value the redactor has no way to know is written (so the property test
    above proves redaction, not a broken writer)."""
    secret = "not-declared-anywhere-123"
    uri, headers, body, _, _ = _exchange(secret, "cookie", echo=True)
    headers.pop("Cookie")
    from vcr.request import Request
    from vcr.serializers import yamlserializer

    redactor = Redactor()
    request = redactor.redact_request(Request("GET", uri.replace("&state=", "&x="), body, headers))
    response = redactor.redact_response(
        {"status": {"code": 200, "message": "OK"}, "headers": {}, "body": {"string": b"{}"}}
    )
    path = tmp_path / "control.yaml"
    CassetteStore.bind(redactor).save_cassette(
        path, {"requests": [request], "responses": [response]}, yamlserializer
    )
    assert _leaks(secret, path.read_text()) != []
