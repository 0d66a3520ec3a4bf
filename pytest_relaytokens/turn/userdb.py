"""coturn's SQLite user database: the long-term credentials a TURN server accepts.

coturn keeps one row per user, ``turnusers_lt(realm, name, hmackey)``, where ``hmackey`` is
the hex of MD5(name ":" realm ":" password), the key of the long-term credential mechanism
(RFC 8489 §9.2.2). Rows are written with bound parameters, so no user name or password can
reach coturn's configuration or command line; what a STUN ``USERNAME`` cannot carry is refused
(:func:`check_credentials`).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path

from ..errors import RelayTokensError

__all__ = ["MAX_USERNAME_BYTES", "TurnCredentialError", "UserDb", "check_credentials", "hmac_key"]

#: RFC 8489 §14.3: USERNAME is "less than 509 bytes" of UTF-8 (RFC 5389: less than 513);
#: coturn's column is varchar(512). The stricter bound is kept.
MAX_USERNAME_BYTES = 508
#: What a credential must not hold, and why; all but NUL in the user name only. coturn
#: (4.6, ``is_secure_string``) drops, unanswered, a request whose user name holds a space,
#: tab, quote, double quote, backslash, CR or LF: the client would only see a timeout.
_FORBIDDEN = {
    "\0": "a NUL: coturn and C TURN clients read credentials as C strings and cut them there",
    "\r": "a carriage return",
    "\n": "a newline",
    " ": "a space",
    "\t": "a tab",
    "'": "a quote (')",
    '"': 'a double quote (")',
    "\\": "a backslash",
}
_DROPPED = (
    ": coturn drops, unanswered, a request whose user name holds one (the client sees a "
    "timeout, not a 401)"
)

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS turnusers_lt (realm varchar(127) default '', name varchar(512),"
    " hmackey char(128), PRIMARY KEY (realm,name))"
)


class TurnCredentialError(RelayTokensError, ValueError):
    """A token's ``userName``/``password`` cannot be a TURN credential on coturn."""


def hmac_key(name: str, realm: str, password: str) -> str:
    """The long-term credential key coturn stores: hex MD5 of ``name:realm:password``."""
    text = f"{name}:{realm}:{password}".encode()
    return hashlib.md5(text, usedforsecurity=False).hexdigest()


def check_credentials(name: str, password: str) -> None:
    """Refuse, naming the field and why, credentials coturn cannot serve: not a string,
    empty, not UTF-8, holding NUL; a user name over :data:`MAX_USERNAME_BYTES` bytes or with
    a character coturn drops requests for (space, tab, quotes, backslash, CR, LF). A ``:``
    is fine: it only joins the key's input, as every TURN client does. The password never
    reaches coturn (only the key does)."""
    for field, value in (("userName", name), ("password", password)):
        if not isinstance(value, str) or not value:
            raise TurnCredentialError(
                f"token {field} must be a non-empty string to be a TURN credential, got "
                f"{value!r:.40}"
            )
        for char, why in _FORBIDDEN.items():
            if char in value and (field == "userName" or char == "\0"):
                reason = why if char == "\0" else why + _DROPPED
                raise TurnCredentialError(
                    f"token {field} holds {reason} (at index {value.index(char)}); the token "
                    "factory must not produce it"
                )
        lowered = value.lower()
        if field == "userName" and "union" in lowered and "select" in lowered:
            raise TurnCredentialError(
                "token userName holds both 'union' and 'select' (any case), which coturn takes "
                "for SQL injection and drops unanswered; the token factory must not produce it"
            )
        try:
            size = len(value.encode("utf-8"))
        except UnicodeEncodeError as exc:
            raise TurnCredentialError(
                f"token {field} is not UTF-8 text (a lone surrogate at index {exc.start}): "
                "STUN carries credentials as UTF-8"
            ) from None
        if field == "userName" and size > MAX_USERNAME_BYTES:
            raise TurnCredentialError(
                f"token userName is {size} bytes of UTF-8: a STUN USERNAME holds at most "
                f"{MAX_USERNAME_BYTES} (RFC 8489 §14.3), so no TURN client can send it"
            )


class UserDb:
    """The ``turnusers_lt`` table of one coturn, for one realm."""

    def __init__(self, path: Path, realm: str) -> None:
        self.path = path
        self.realm = realm

    def _connect(self) -> sqlite3.Connection:
        # coturn reads the file while we write: wait for its locks rather than fail
        return sqlite3.connect(self.path, timeout=10.0, isolation_level=None)

    def create(self) -> None:
        """Create the table coturn reads (coturn creates the rest of its schema itself)."""
        with closing(self._connect()) as db:
            db.execute(_SCHEMA)

    def names(self) -> set[str]:
        """The user names the realm holds now."""
        with closing(self._connect()) as db:
            rows = db.execute("SELECT name FROM turnusers_lt WHERE realm = ?", (self.realm,))
            return {row[0] for row in rows}

    def replace(self, users: Mapping[str, str]) -> None:
        """Make the realm's users exactly ``users`` (name -> password), in one transaction."""
        keys = {name: hmac_key(name, self.realm, password) for name, password in users.items()}
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            current = dict(
                db.execute(
                    "SELECT name, hmackey FROM turnusers_lt WHERE realm = ?", (self.realm,)
                ).fetchall()
            )
            gone = [(self.realm, name) for name in current if name not in keys]
            db.executemany("DELETE FROM turnusers_lt WHERE realm = ? AND name = ?", gone)
            changed = [(self.realm, n, k) for n, k in keys.items() if current.get(n) != k]
            db.executemany(
                "INSERT OR REPLACE INTO turnusers_lt (realm, name, hmackey) VALUES (?, ?, ?)",
                changed,
            )
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()
