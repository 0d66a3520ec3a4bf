"""What the TURN check keeps without coturn: the user database rows (hostile names
included), the credentials the UCWA fake counts as live, and the clock's watchers. No
coturn needed: these run in the default selection."""

from __future__ import annotations

import datetime as _dt
import hashlib
import re
import sqlite3
from pathlib import Path

import pytest

from pytest_relaytokens.clock import Clock
from pytest_relaytokens.turn.userdb import (
    MAX_USERNAME_BYTES,
    TurnCredentialError,
    UserDb,
    check_credentials,
    hmac_key,
)
from pytest_relaytokens.ucwa.credentials import IssuedCredentials, RelayEndpoint
from pytest_relaytokens.ucwa.factories import UcwaTokenFactory
from pytest_relaytokens.ucwa.models import MediaRelayAccessToken

START = _dt.datetime(2026, 12, 7, 9, 0, tzinfo=_dt.timezone.utc)


def rows(db: UserDb) -> dict[str, str]:
    with sqlite3.connect(db.path) as conn:
        return dict(
            conn.execute("SELECT name, hmackey FROM turnusers_lt WHERE realm = ?", (db.realm,))
        )


@pytest.fixture
def userdb(tmp_path: Path) -> UserDb:
    db = UserDb(tmp_path / "users.sqlite", "relaytokens")
    db.create()
    return db


def test_the_key_is_the_long_term_credential_key() -> None:
    # RFC 8489 §9.2.2: key = MD5(username ":" OpaqueString(realm) ":" OpaqueString(password));
    # coturn accepting it from aioice is tests/test_turn_media_path.py's business
    expected = hashlib.md5("マトリックス:example.org:TheMatrIX".encode()).hexdigest()
    assert hmac_key("マトリックス", "example.org", "TheMatrIX") == expected


def test_replace_makes_the_realm_hold_exactly_the_users(userdb: UserDb) -> None:
    userdb.replace({"alice": "one", "bob": "two"})
    assert rows(userdb) == {
        "alice": hmac_key("alice", "relaytokens", "one"),
        "bob": hmac_key("bob", "relaytokens", "two"),
    }
    userdb.replace({"bob": "changed", "carol": "three"})
    assert set(rows(userdb)) == {"bob", "carol"}
    assert rows(userdb)["bob"] == hmac_key("bob", "relaytokens", "changed")
    other = UserDb(userdb.path, "elsewhere")
    other.replace({"dave": "x"})
    userdb.replace({})
    assert rows(userdb) == {} and other.names() == {"dave"}  # another realm is left alone


@pytest.mark.parametrize(
    "name",
    [
        "user:with:colons",
        "'; DROP TABLE turnusers_lt; --",
        'quote"s and \\ backslash',
        "x" * MAX_USERNAME_BYTES,
        "ü" * (MAX_USERNAME_BYTES // 2),
        "--user=admin:secret --no-auth",  # what would be an option on a command line
    ],
)
def test_the_store_keeps_any_name_literally(userdb: UserDb, name: str) -> None:
    """Rows are written with bound parameters: nothing in a name is SQL or an option."""
    userdb.replace({name: "p:w\nd", "kept": "k"})
    assert rows(userdb) == {
        name: hmac_key(name, "relaytokens", "p:w\nd"),
        "kept": hmac_key("kept", "relaytokens", "k"),
    }


@pytest.mark.parametrize(
    ("name", "password"),
    [
        ("AgAAJ:with:colons:", "pass:word"),
        ("a;b--c/=+%_", "--user=x:y and 'quotes' \\ \n"),  # a password may hold anything but NUL
        ("x" * MAX_USERNAME_BYTES, "p" * 1024),
        ("ü" * (MAX_USERNAME_BYTES // 2), "pw"),
        ("union-only", "pw"),
    ],
)
def test_what_coturn_serves_passes_the_check(name: str, password: str) -> None:
    check_credentials(name, password)


@pytest.mark.parametrize(
    ("name", "password", "message"),
    [
        ("a\0b", "pw", "userName holds a NUL"),
        ("ab", "p\0w", "password holds a NUL"),
        ("a\nb", "pw", "userName holds a newline: coturn drops"),
        ("a\rb", "pw", "userName holds a carriage return"),
        ("a b", "pw", "userName holds a space: coturn drops, unanswered"),
        ("a\tb", "pw", "userName holds a tab"),
        ("'; DROP TABLE turnusers_lt; --", "pw", "userName holds a space"),
        ("a'b", "pw", "userName holds a quote"),
        ('a"b', "pw", "userName holds a double quote"),
        ("a\\b", "pw", "userName holds a backslash"),
        ("1UNION(SELECT)", "pw", "both 'union' and 'select'"),
        ("x" * 1024, "pw", "userName is 1024 bytes of UTF-8"),
        ("ü" * (MAX_USERNAME_BYTES // 2 + 1), "pw", f"userName is {MAX_USERNAME_BYTES + 2} bytes"),
        ("", "pw", "userName must be a non-empty string"),
        ("ab", "", "password must be a non-empty string"),
        ("a\udc80", "pw", "userName is not UTF-8 text (a lone surrogate at index 1)"),
        ("ab", None, "password must be a non-empty string"),
    ],
)
def test_what_coturn_cannot_serve_is_refused_by_name(
    name: str, password: str, message: str
) -> None:
    with pytest.raises(TurnCredentialError, match=re.escape(message)):
        check_credentials(name, password)


# --- the credentials the fake counts as live ---------------------------------------------------
def issued(clock: Clock) -> tuple[IssuedCredentials, UcwaTokenFactory]:
    return IssuedCredentials([], clock.now, clock), UcwaTokenFactory(7, clock)


def test_live_credentials_follow_issue_revoke_and_the_clock() -> None:
    clock = Clock(START, frozen=True)
    credentials, factory = issued(clock)
    first = credentials.issue(factory.build(duration=10))
    second = credentials.issue(factory.build(duration=20))
    assert credentials.live() == {
        first.user_name: first.password,
        second.user_name: second.password,
    }
    credentials.revoke(second)
    assert credentials.live() == {first.user_name: first.password}
    clock.advance(_dt.timedelta(minutes=10))  # validUntil itself is past
    assert credentials.live() == {}
    with pytest.raises(KeyError, match="never issued"):
        credentials.revoke(factory.build())


def test_observers_hear_every_change_until_they_stop() -> None:
    clock = Clock(START, frozen=True)
    credentials, factory = issued(clock)
    heard: list[object] = []
    forget = credentials.observe(heard.append)
    token = credentials.issue(factory.build())
    credentials.revoke(token.user_name)
    clock.advance(1)
    clock.set(START)
    clock.freeze()
    assert heard == [token, None, None, None, None]
    forget()
    clock.advance(1)
    credentials.issue(factory.build())
    assert len(heard) == 5


def test_issued_relays_point_at_the_endpoint_and_tokens_stay_bound_to_the_clock() -> None:
    clock = Clock(START, frozen=True)
    credentials, factory = issued(clock)
    credentials.endpoint = RelayEndpoint("127.0.0.1", 40001, 40002)
    token: MediaRelayAccessToken = credentials.issue(factory.build())
    (relay,) = token.media_relays
    assert (relay.host, relay.ipv4, relay.ipv6, relay.udp_port, relay.tcp_port) == (
        "127.0.0.1",
        "127.0.0.1",
        None,
        40001,
        40002,
    )
    assert credentials.tokens == [token]
    clock.advance(token.remaining())
    assert token.is_expired()  # read on the test's clock, not the system's


def test_a_clock_watcher_runs_after_each_move_only() -> None:
    clock = Clock(START, frozen=True)
    seen: list[_dt.datetime] = []
    unwatch = clock.watch(lambda: seen.append(clock.now()))
    clock.now()
    clock.advance(5)
    clock.set(START)
    assert seen == [START + _dt.timedelta(seconds=5), START]
    unwatch()
    unwatch()  # twice is harmless
    clock.advance(5)
    assert len(seen) == 2
    assert Clock()._watchers == ()  # a clock nobody watches carries nothing
