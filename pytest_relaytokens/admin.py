"""A client of the ``relaytokens serve`` control plane (standard library only), and the
``relaytokens admin ...`` commands built on it.

``AdminClient.from_env().advance_clock(3600)`` reads ``RELAYTOKENS_ADMIN_URL`` and
``RELAYTOKENS_ADMIN_TOKEN`` (serve prints both as ``export`` lines).
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import sys
import urllib.error
import urllib.request
from typing import Any, TextIO

from .http.urls import http_url_problem

__all__ = ["AdminClient", "AdminError", "add_arguments", "run"]

PREFIX = "/__relaytokens/"
TOKEN_HEADER = "X-Relaytokens-Admin-Token"


class AdminError(RuntimeError):
    """The control plane refused an operation (``status``, and its ``error`` message)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class AdminClient:
    """The control plane of a serve process at ``url`` (its base URL) with ``token``;
    ``cafile`` trusts a ``--tls`` server's CA (default: ``SSL_CERT_FILE``, as ssl does)."""

    def __init__(
        self, url: str, token: str, *, cafile: str | None = None, timeout: float = 10.0
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self._context = ssl.create_default_context(cafile=cafile) if cafile else None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> AdminClient:
        """From the ``export`` lines serve prints (``RELAYTOKENS_ADMIN_URL``/``_TOKEN``)."""
        env = os.environ if environ is None else environ
        missing = [
            n for n in ("RELAYTOKENS_ADMIN_URL", "RELAYTOKENS_ADMIN_TOKEN") if not env.get(n)
        ]
        if missing:
            raise AdminError(0, f"{' and '.join(missing)} not set: paste serve's export lines")
        return cls(env["RELAYTOKENS_ADMIN_URL"], env["RELAYTOKENS_ADMIN_TOKEN"])

    def call(self, method: str, operation: str, body: dict[str, Any] | None = None) -> Any:
        """One operation: ``call("POST", "clock/advance", {"seconds": 60})``."""
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(
            self.url + PREFIX + operation,
            data=data,
            method=method,
            headers={TOKEN_HEADER: self.token, "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(
                request, timeout=self.timeout, context=self._context
            ) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            text = error.read().decode("utf-8", "replace")
            try:
                message = str(json.loads(text).get("error", text))
            except (ValueError, AttributeError):
                message = text.strip() or error.reason
            raise AdminError(error.code, message) from None
        except urllib.error.URLError as error:
            raise AdminError(0, f"cannot reach {self.url}: {error.reason}") from None

    # clock ---------------------------------------------------------------------------------
    def clock(self) -> dict[str, Any]:
        return dict(self.call("GET", "clock"))

    def set_clock(self, to: str) -> dict[str, Any]:
        """Jump to ``to`` (ISO 8601)."""
        return dict(self.call("POST", "clock/set", {"to": to}))

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        return dict(self.call("POST", "clock/advance", {"seconds": seconds}))

    def freeze_clock(self) -> dict[str, Any]:
        return dict(self.call("POST", "clock/freeze", {}))

    # tokens ----------------------------------------------------------------------------------
    def set_policy(
        self,
        *,
        expired: bool = False,
        expires_in: float | None = None,
        never_expires: bool = False,
        skew: float = 0,
    ) -> dict[str, Any]:
        """The expiry of tokens issued next, as the markers set it."""
        body = {"expired": expired, "never_expires": never_expires, "skew": skew}
        if expires_in is not None:
            body["expires_in"] = expires_in
        return dict(self.call("POST", "policy", body))

    def revoke(self, token: str, service: str | None = None) -> dict[str, Any]:
        return dict(self.call("POST", "revoke", _given(token=token, service=service)))

    # faults ----------------------------------------------------------------------------------
    def arm_error(self, service: str, error_id: str, **where: Any) -> dict[str, Any]:
        """``where``: ``times`` (None: always), ``path`` (regex), ``method``, ``optional``
        (True: no request need consume it; else an unconsumed fault fails serve's stop)."""
        return dict(self.call("POST", "errors", {"service": service, "id": error_id, **where}))

    def arm_delay(self, service: str, seconds: float, **where: Any) -> dict[str, Any]:
        return dict(self.call("POST", "delays", {"service": service, "seconds": seconds, **where}))

    def arm_drop(self, service: str, **where: Any) -> dict[str, Any]:
        return dict(self.call("POST", "drops", {"service": service, **where}))

    def arm_sequence(
        self,
        service: str,
        steps: list[str | None],
        path: str | None = None,
        optional: bool | None = None,
    ) -> list[Any]:
        body = _given(service=service, steps=steps, path=path, optional=optional)
        return list(self.call("POST", "sequences", body))

    def faults(self) -> list[Any]:
        """The armed faults, each with ``used`` (requests it answered) and ``optional``."""
        return list(self.call("GET", "faults"))

    def unconsumed_faults(self) -> list[Any]:
        """The faults serve's stop would fail on, each with ``why``."""
        return list(self.call("GET", "faults/unconsumed"))

    def clear_faults(self) -> list[Any]:
        return list(self.call("DELETE", "faults"))

    # routes, state ---------------------------------------------------------------------------
    def add_route(self, method: str, path: str, **fields: Any) -> dict[str, Any]:
        """``fields``: status, headers, json, body, auth, roles, service."""
        return dict(self.call("POST", "routes", {"method": method, "path": path, **fields}))

    def remove_route(self, method: str, path: str) -> dict[str, Any]:
        return dict(self.call("DELETE", "routes", {"method": method, "path": path}))

    def routes(self) -> list[Any]:
        return list(self.call("GET", "routes"))

    def reset(self) -> dict[str, Any]:
        return dict(self.call("POST", "reset", {}))

    def log(self, service: str | None = None) -> list[Any]:
        return list(self.call("GET", "log" + (f"?service={service}" if service else "")))

    def coverage(self) -> dict[str, Any]:
        return dict(self.call("GET", "coverage"))


def _given(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


# --- relaytokens admin ------------------------------------------------------------------------
def _json_arg(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not JSON: {error}") from None


def _times(value: str) -> int | None:
    if value == "always":
        return None
    try:
        times = int(value)
    except ValueError:
        times = 0
    if times < 1:
        raise argparse.ArgumentTypeError(f"must be a positive number or 'always', got {value!r}")
    return times


def _where(parser: argparse.ArgumentParser, times: bool = True) -> None:
    if times:
        parser.add_argument("--times", type=_times, default=1, help="N requests, or 'always'")
    parser.add_argument("--path", default=None, help="regex searched in the request path")
    parser.add_argument("--method", default=None, help="only this HTTP method")
    _optional(parser)


def _optional(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--optional",
        action="store_true",
        help="no request need consume it (else serve's stop fails: exit status 1)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``relaytokens admin``."""
    parser.add_argument("--url", default=None, help="serve's base URL (RELAYTOKENS_ADMIN_URL)")
    parser.add_argument("--token", default=None, help="admin token (RELAYTOKENS_ADMIN_TOKEN)")
    parser.add_argument("--cafile", default=None, help="CA file of a --tls server")
    ops = parser.add_subparsers(dest="operation", required=True)
    clock = ops.add_parser("clock", help="read, set, advance or freeze the clock")
    group = clock.add_mutually_exclusive_group()
    group.add_argument("--set", metavar="ISO", default=None)
    group.add_argument("--advance", metavar="SECONDS", type=float, default=None)
    group.add_argument("--freeze", action="store_true")
    policy = ops.add_parser("policy", help="expiry of the tokens issued next")
    group = policy.add_mutually_exclusive_group()
    group.add_argument("--expired", action="store_true")
    group.add_argument("--expires-in", metavar="SECONDS", type=float, default=None)
    group.add_argument("--never-expires", action="store_true")
    policy.add_argument("--skew", metavar="SECONDS", type=float, default=0)
    error = ops.add_parser("error", help="arm a catalogue error")
    error.add_argument("service", choices=("ucwa", "relay"))
    error.add_argument("id", help="catalogue error id or name")
    _where(error)
    delay = ops.add_parser("delay", help="answer after SECONDS")
    delay.add_argument("service", choices=("ucwa", "relay"))
    delay.add_argument("seconds", type=float)
    _where(delay)
    drop = ops.add_parser("drop", help="close the connection without answering")
    drop.add_argument("service", choices=("ucwa", "relay"))
    _where(drop)
    sequence = ops.add_parser("sequence", help="one answer per request: error ids or 'pass'")
    sequence.add_argument("service", choices=("ucwa", "relay"))
    sequence.add_argument("steps", nargs="+")
    sequence.add_argument("--path", default=None)
    _optional(sequence)
    ops.add_parser("faults", help="list armed faults and their uses")
    ops.add_parser("unconsumed", help="the faults serve's stop would fail on, and why")
    ops.add_parser("clear-faults", help="disarm every fault")
    revoke = ops.add_parser("revoke", help="revoke a Relay token or a UCWA bearer")
    revoke.add_argument("token")
    revoke.add_argument("--service", choices=("ucwa", "relay"), default=None)
    route = ops.add_parser("route", help="add a route")
    route.add_argument("method")
    route.add_argument("path")
    route.add_argument("--status", type=int, default=200)
    route.add_argument("--json", dest="json_body", type=_json_arg, default=None)
    route.add_argument("--body", default=None)
    route.add_argument("--header", action="append", default=[], metavar="NAME:VALUE")
    route.add_argument("--no-auth", action="store_true", help="answer without credentials")
    route.add_argument("--role", action="append", default=None, dest="roles")
    unroute = ops.add_parser("unroute", help="remove a route")
    unroute.add_argument("method")
    unroute.add_argument("path")
    ops.add_parser("routes", help="list routes")
    ops.add_parser("reset", help="fresh fakes, clock and policy")
    log = ops.add_parser("log", help="the request log (redacted JSON)")
    log.add_argument("--service", default=None)
    ops.add_parser("coverage", help="error id -> times served")


def _headers(pairs: list[str]) -> dict[str, str]:
    headers = {}
    for pair in pairs:
        name, sep, value = pair.partition(":")
        if not sep:
            raise AdminError(0, f"--header {pair!r}: use NAME:VALUE")
        headers[name.strip()] = value.strip()
    return headers


def _dispatch(client: AdminClient, args: argparse.Namespace) -> Any:
    op = args.operation
    where = {
        k: getattr(args, k)
        for k in ("times", "path", "method", "optional")
        if getattr(args, k, None)
    }
    if getattr(args, "times", 1) is None:
        where["times"] = None
    if op == "clock":
        if args.set is not None:
            return client.set_clock(args.set)
        if args.advance is not None:
            return client.advance_clock(args.advance)
        return client.freeze_clock() if args.freeze else client.clock()
    if op == "policy":
        return client.set_policy(
            expired=args.expired,
            expires_in=args.expires_in,
            never_expires=args.never_expires,
            skew=args.skew,
        )
    if op == "error":
        return client.arm_error(args.service, args.id, **where)
    if op == "delay":
        return client.arm_delay(args.service, args.seconds, **where)
    if op == "drop":
        return client.arm_drop(args.service, **where)
    if op == "sequence":
        steps = [None if s == "pass" else s for s in args.steps]
        return client.arm_sequence(args.service, steps, args.path, args.optional or None)
    if op == "revoke":
        return client.revoke(args.token, args.service)
    if op == "route":
        fields = _given(
            status=args.status,
            json=args.json_body,
            body=args.body,
            headers=_headers(args.header) or None,
            roles=args.roles,
        )
        if args.no_auth:
            fields["auth"] = False
        return client.add_route(args.method, args.path, **fields)
    if op == "unroute":
        return client.remove_route(args.method, args.path)
    if op == "log":
        return client.log(args.service)
    simple = {
        "faults": client.faults,
        "unconsumed": client.unconsumed_faults,
        "clear-faults": client.clear_faults,
        "routes": client.routes,
        "reset": client.reset,
        "coverage": client.coverage,
    }
    return simple[op]()


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """``relaytokens admin OPERATION``: prints the JSON answer; 1 when refused, 2 for a
    bad ``--url``."""
    stream = out if out is not None else sys.stdout
    env = dict(os.environ)
    url = args.url or env.get("RELAYTOKENS_ADMIN_URL")
    token = args.token or env.get("RELAYTOKENS_ADMIN_TOKEN")
    problem = http_url_problem(url) if url else None
    if problem is not None:
        given = "--url" if args.url else "RELAYTOKENS_ADMIN_URL"
        sys.stderr.write(
            f"relaytokens admin {args.operation}: {given} {url!r:.80}: {problem}; give serve's "
            "base URL, e.g. http://127.0.0.1:PORT (serve prints it as RELAYTOKENS_ADMIN_URL)\n"
        )
        return 2
    try:
        if not url or not token:
            raise AdminError(0, "give --url and --token, or paste serve's export lines")
        client = AdminClient(url, token, cafile=args.cafile)
        answer = _dispatch(client, args)
    except AdminError as error:
        sys.stderr.write(f"relaytokens admin {args.operation}: {error.message}\n")
        return 1
    stream.write(json.dumps(answer, indent=1) + "\n")
    return 0
