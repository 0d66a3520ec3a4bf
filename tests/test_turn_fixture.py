"""The TURN fixtures as a user meets them (pytester): strict for a client that uses the wrong
field or a stale token, an error (never a skip) naming the install command when coturn is
missing, no state or process left behind, and hostile credentials refused by name."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import requests

from pytest_relaytokens.turn import CoturnServer, CredentialSync, TurnCredentialError
from pytest_relaytokens.turn.userdb import MAX_USERNAME_BYTES
from pytest_relaytokens.ucwa.factories import UcwaTokenFactory
from pytest_relaytokens.ucwa.service import UcwaService

#: How long a stopped process may take to disappear (a bound on a poll, never asserted).
PATIENCE = 15.0

CLIENT = """
import asyncio, pytest, requests
from aioice import turn

def fetch(ucwa):
    answer = requests.get(ucwa.token_url(), timeout=10, headers={
        "Authorization": "Bearer " + ucwa.credentials.bearer, "Accept": "application/json"})
    answer.raise_for_status()
    return answer.json()

def allocate(token, password_field="password"):
    relay = token["_embedded"]["mediaRelay"][0]
    async def go():
        transport, _ = await turn.create_turn_endpoint(
            asyncio.DatagramProtocol, (relay["host"], relay["udpPort"]), token["userName"],
            token[password_field])
        transport.close()
    asyncio.run(go())
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie of ours is gone for every purpose but the process table
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ")[-1].startswith("Z"))


def wait_gone(*pids: int) -> list[int]:
    """The pids still alive after waiting up to PATIENCE for them to end."""
    deadline = time.monotonic() + PATIENCE
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [p for p in pids if alive(p)]


# --- coturn missing: an error naming the install command (default selection) -----------------
@pytest.mark.parametrize("fixture", ["relaytokens_turn", "relaytokens_shared_turn"])
def test_a_missing_coturn_is_an_error_naming_the_install_command(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, fixture: str
) -> None:
    pytester.makepyfile(f"def test_media(ucwa_api, {fixture}):\n    pass\n")
    empty = pytester.mkdir("empty-path")
    monkeypatch.setenv("PATH", str(empty))
    result = pytester.runpytest("-p", "no:randomly", "-rA")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*coturn's `turnserver` is not on PATH*`sudo apt-get install -y coturn` "
            "(Debian/Ubuntu) or `brew install coturn` (macOS)*"
        ]
    )
    assert "skipped" not in result.stdout.str().lower()
    assert "Traceback" not in result.stdout.str()


# --- strict: the wrong field or a stale token fails the test ----------------------------------
@pytest.mark.turn
def test_a_client_using_the_wrong_field_or_a_stale_token_fails(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        CLIENT
        + textwrap.dedent(
            """
            def test_right_client(ucwa_api, relaytokens_turn):
                allocate(fetch(ucwa_api))

            def test_client_sends_the_uri_as_password(ucwa_api, relaytokens_turn):
                allocate(fetch(ucwa_api), password_field="Uri")

            def test_client_keeps_a_stale_token(ucwa_api, relaytokens_turn, relaytokens_clock):
                token = fetch(ucwa_api)
                relaytokens_clock.advance(480 * 60)
                allocate(token)

            @pytest.mark.token_expires_in(30)
            def test_client_ignores_valid_until(ucwa_api, relaytokens_shared_turn, relaytokens_clock):
                token = fetch(ucwa_api)
                relaytokens_clock.advance(31)
                allocate(token)
            """
        )
    )
    result = pytester.runpytest("-p", "no:randomly", "--tb=line")
    result.assert_outcomes(passed=1, failed=3)
    refused = "*aioice.stun.TransactionFailed: STUN transaction failed (401 - Unauthorized)"
    result.stdout.fnmatch_lines([refused] * 3)
    result.stdout.fnmatch_lines(
        [
            "FAILED *::test_client_sends_the_uri_as_password*",
            "FAILED *::test_client_keeps_a_stale_token*",
            "FAILED *::test_client_ignores_valid_until*",
        ]
    )


@pytest.mark.turn
def test_the_shared_server_forgets_a_tests_tokens_when_it_ends(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        CLIENT
        + textwrap.dedent(
            """
            from aioice import stun
            KEPT = []

            def test_one(ucwa_api, relaytokens_shared_turn):
                KEPT.append(fetch(ucwa_api))
                allocate(KEPT[0])

            def test_two(ucwa_api, relaytokens_shared_turn):
                allocate(fetch(ucwa_api))
                assert relaytokens_shared_turn.address[1] == KEPT[0]["_embedded"]["mediaRelay"][0]["udpPort"]
                with pytest.raises(stun.TransactionFailed, match="401"):
                    allocate(KEPT[0])
            """
        )
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2)


# --- processes: stopped with the test, with a dead parent, after max_seconds ------------------
@pytest.mark.turn
def test_stop_ends_coturn_and_its_watchdog_and_removes_its_files() -> None:
    server = CoturnServer().start()
    watchdog, coturn = server.pid, server.server_pid
    assert watchdog is not None and coturn is not None and alive(coturn)
    folder = server.users.path.parent
    server.stop()
    assert wait_gone(watchdog, coturn) == []
    assert not folder.exists() and not server.running
    server.stop()  # twice is harmless


@pytest.mark.turn
def test_coturn_ends_when_its_owner_dies() -> None:
    owner = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os; from pytest_relaytokens.turn import CoturnServer\n"
            "s = CoturnServer().start(); print(s.pid, s.server_pid, flush=True); os._exit(0)",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    watchdog, coturn = map(int, owner.stdout.split())
    assert wait_gone(watchdog, coturn) == []


@pytest.mark.turn
def test_coturn_ends_by_itself_after_max_seconds() -> None:
    server = CoturnServer(max_seconds=1.0).start()
    coturn = server.server_pid
    assert coturn is not None
    try:
        assert wait_gone(coturn) == []
        assert server.pid is not None and wait_gone(server.pid) == []
    finally:
        server.stop()


# --- hostile credentials from a custom factory -------------------------------------------------
class NamedFactory(UcwaTokenFactory):
    """Every token gets ``user_name`` (and ``password``, when given)."""

    def __init__(self, clock: object, user_name: str, password: str | None = None) -> None:
        super().__init__(7, clock)  # type: ignore[arg-type]
        self.named = {"user_name": user_name} | ({"password": password} if password else {})

    def build(self, **overrides: object):  # type: ignore[no-untyped-def]
        return super().build(**(self.named | overrides))


def fetch(ucwa: UcwaService) -> dict[str, object]:
    headers = {"Authorization": "Bearer " + ucwa.credentials.bearer, "Accept": "application/json"}
    answer = requests.get(ucwa.token_url(), headers=headers, timeout=10)
    assert answer.status_code == 200
    document: dict[str, object] = answer.json()
    return document


def allocates(sync: CredentialSync, user: str, password: str) -> bool:
    from aioice import stun, turn

    async def go() -> None:
        transport, _ = await turn.create_turn_endpoint(
            asyncio.DatagramProtocol, sync.address, user, password
        )
        transport.close()

    try:
        asyncio.run(go())
    except stun.TransactionFailed as exc:
        assert exc.response.attributes["ERROR-CODE"][0] == 401
        return False
    return True


@pytest.mark.turn
@pytest.mark.parametrize(
    ("user_name", "password"),
    [
        ("AgAAJ:with:colons:", "pass:word"),
        ("a;DROP--TABLE/turnusers_lt=+%_", "--user=x:y 'quoted' \\ \n"),
        ("ü" * (MAX_USERNAME_BYTES // 2), "p" * 1024),  # the longest name a STUN client sends
    ],
)
def test_odd_but_sendable_credentials_work_end_to_end(
    ucwa_api: UcwaService, relaytokens_turn: CredentialSync, user_name: str, password: str
) -> None:
    ucwa_api.factory = NamedFactory(ucwa_api.clock, user_name, password)
    token = fetch(ucwa_api)
    assert (token["userName"], token["password"]) == (user_name, password)
    assert allocates(relaytokens_turn, user_name, password)
    assert not allocates(relaytokens_turn, user_name, password + "x")


@pytest.mark.turn
@pytest.mark.parametrize(
    ("user_name", "message"),
    [
        ("nul\0byte", "userName holds a NUL"),
        ("new\nline", "userName holds a newline"),
        ("'; DROP TABLE turnusers_lt; --", "userName holds a space"),
        ("x" * 1024, "userName is 1024 bytes of UTF-8"),
    ],
)
def test_unsendable_credentials_are_refused_by_name_and_break_nothing(
    ucwa_api: UcwaService, relaytokens_turn: CredentialSync, user_name: str, message: str
) -> None:
    good = fetch(ucwa_api)
    ucwa_api.factory = NamedFactory(ucwa_api.clock, user_name)
    with pytest.raises(TurnCredentialError, match=message):
        fetch(ucwa_api)
    assert relaytokens_turn.server.users.names() == {good["userName"]}
    assert allocates(relaytokens_turn, str(good["userName"]), str(good["password"]))
    if "\0" in user_name:  # coturn would read the name up to the NUL: that user stays unknown
        assert not allocates(relaytokens_turn, user_name.split("\0")[0], "anything")
