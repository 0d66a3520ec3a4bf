"""``relaytokens serve``: both fakes on one loopback port, for manual tries and other languages."""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from ..http import FakeRequest, FakeResponse
from ..http.urls import check_origin, is_loopback
from . import PathRouter, Target

__all__ = ["add_arguments", "run"]

RELAY_PREFIX = "/api/"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``relaytokens serve``."""
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1; others need --allow-remote)",
    )
    parser.add_argument(
        "--port", type=int, default=0, help="port to bind (default 0: any free port)"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the fakes' generated credentials and tokens (default 0)",
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow binding a non-loopback address (the fakes accept the "
        "printed credentials from anyone who can reach the port)",
    )
    parser.add_argument(
        "--once-ready-file",
        metavar="PATH",
        default=None,
        help="write the base URL to PATH once the server accepts requests",
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=None,
        metavar="N",
        help="stop by itself after N seconds (exit status 0)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    parser.add_argument(
        "--cors-origin",
        dest="cors_origins",
        action="append",
        default=None,
        type=_origin,
        metavar="ORIGIN",
        help="answer CORS preflights and add Access-Control-* headers for this origin "
        "(scheme://host[:port], or * for any; repeatable; default: CORS off, as on a stock "
        "server)",
    )
    parser.add_argument(
        "--ucwa-online",
        action="store_true",
        help="serve UCWA as the online (Azure AD) deployment: the 401 challenge carries "
        "authorization_uri, bearers are JWTs from POST /common/oauth2/token",
    )


def _origin(value: str) -> str:
    try:
        return check_origin(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


class _LoggingTarget:
    """Prints ``METHOD path -> status`` for each request, then answers from ``target``."""

    def __init__(self, target: Target, out: TextIO, quiet: bool) -> None:
        self.target = target
        self.out = out
        self.quiet = quiet
        self._lock = threading.Lock()

    def handle(self, request: FakeRequest) -> FakeResponse:
        try:
            response = self.target.handle(request)
        except Exception as error:
            self._log(f"{request.method} {request.path} -> 500 ({type(error).__name__}: {error})")
            raise
        if response.drop_connection:
            outcome = "dropped"
        else:
            outcome = str(response.status)
            if response.delay:
                outcome += f" after {response.delay:g}s"
        self._log(f"{request.method} {request.path} -> {outcome}")
        return response

    def _log(self, line: str) -> None:
        if self.quiet:
            return
        with self._lock:
            self.out.write(line + "\n")
            self.out.flush()


def _exports(url: str, ucwa: Any, relay: Any) -> list[str]:
    """``export RELAYTOKENS_*=...`` lines; the Relay URL is the base (paths add ``/api``)."""
    values = {
        "RELAYTOKENS_UCWA_URL": url,
        "RELAYTOKENS_UCWA_USERNAME": ucwa.username,
        "RELAYTOKENS_UCWA_PASSWORD": ucwa.password,
        "RELAYTOKENS_RELAY_URL": url,
        "RELAYTOKENS_RELAY_USERNAME": relay.username,
        "RELAYTOKENS_RELAY_PASSWORD": relay.password,
        "RELAYTOKENS_RELAY_SEAM_TOKEN": relay.seam_token,
    }
    return [f"export {name}={shlex.quote(str(value))}" for name, value in values.items()]


def _banner(
    url: str,
    ucwa: object,
    relay: object,
    ucwa_token_path: str,
    cors_origins: tuple[str, ...] | None = None,
    online: bool = False,
) -> str:
    u = getattr(ucwa, "credentials")  # noqa: B009 - typed loosely: services load lazily
    r = getattr(relay, "credentials")  # noqa: B009
    if online:
        sign_in = (
            f"  token:        POST {url}/common/oauth2/token  (Azure AD: grant_type=password"
            f"&resource={url}&username={u.username}&password={u.password})"
        )
    else:
        sign_in = (
            f"  token:        POST {url}/WebTicket/oauthtoken  "
            f"(grant_type=password&username={u.username}&password={u.password})"
        )
    cors = (
        f"CORS:  on for {', '.join(cors_origins)} (preflights answered, Access-Control-* sent)"
        if cors_origins
        else "CORS:  off (as on a stock server; --cors-origin ORIGIN turns it on)"
    )
    return "\n".join(
        [
            f"relaytokens fakes listening on {url}",
            cors,
            "",
            f"UCWA   {url}" + ("  (online deployment: Azure AD sign-in)" if online else ""),
            sign_in,
            f"  user:         {u.username}",
            f"  password:     {u.password}",
            f"  bearer:       Authorization: Bearer {u.bearer}",
            f"  application:  {u.application_id}",
            f"  relay token:  GET {url}{ucwa_token_path}",
            "",
            f"Relay  {url}  (every path under /api/)",
            f"  token:        POST {url}/api/auth/accesstokens  (Basic {r.username}:{r.password})",
            f"  user:         {r.username}",
            f"  password:     {r.password}",
            f"  seam token:   {r.seam_token}  (POST /api/auth/accesstokens?seamaccesstoken=...)",
            f"  access token: {r.access_token}  (X-Access-Token header or ?accesstoken=)",
            "",
            "Try:",
            f"  curl -s {url}{ucwa_token_path} -H 'Authorization: Bearer {u.bearer}'",
            f"  curl -s -X POST -u '{r.username}:{r.password}' {url}/api/auth/accesstokens",
            f"  curl -s {url}/api/enterprises/self -H 'X-Access-Token: {r.access_token}'",
            "",
            "Environment for --relaytokens-backend=live (paste into a shell):",
            *_exports(url, u, r),
            "",
            "Ctrl-C stops the server.",
            "",
        ]
    )


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Serve both fakes until Ctrl-C, SIGTERM or ``--max-seconds``; returns the exit status."""
    stream = out if out is not None else sys.stdout
    host: str = args.host
    if not is_loopback(host) and not args.allow_remote:
        sys.stderr.write(
            f"relaytokens serve: refusing to bind {host!r}: the fakes hand out "
            "working credentials to anyone; pass --allow-remote to do it anyway\n"
        )
        return 2
    from ..clock import Clock
    from ..relay.service import RelayService
    from ..ucwa.service import UcwaService
    from .server import LoopbackServer

    router = PathRouter()
    server = LoopbackServer(_LoggingTarget(router, stream, bool(args.quiet)), host, args.port)
    try:
        server.start()
    except OSError as error:
        sys.stderr.write(f"relaytokens serve: cannot bind {host}:{args.port}: {error}\n")
        return 1
    stop = threading.Event()
    previous: list[tuple[int, object]] = []
    try:
        clock = Clock()
        origins: tuple[str, ...] | None = (
            tuple(dict.fromkeys(args.cors_origins)) if getattr(args, "cors_origins", None) else None
        )
        online = bool(getattr(args, "ucwa_online", False))
        ucwa = UcwaService(
            base_url=server.url, clock=clock, seed=args.seed, online=online, cors_origins=origins
        )
        ucwa.application_idle_lifetime = None  # the printed application id keeps working
        relay = RelayService(base_url=server.url, clock=clock, seed=args.seed, cors_origins=origins)
        router.routes = [(RELAY_PREFIX, relay)]
        router.default = ucwa
        stream.write(
            _banner(
                server.url,
                ucwa,
                relay,
                ucwa.token_path(ucwa.credentials.application_id),
                origins,
                online,
            )
        )
        stream.flush()
        if args.once_ready_file:
            Path(args.once_ready_file).write_text(server.url + "\n", encoding="utf-8")
        if threading.current_thread() is threading.main_thread():

            def on_signal(signum: int, frame: FrameType | None) -> None:
                stop.set()

            for signum in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
                if signum is not None:
                    previous.append((signum, signal.signal(signum, on_signal)))
        deadline = None if args.max_seconds is None else time.monotonic() + args.max_seconds
        while not stop.is_set():
            remaining = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
            if remaining <= 0:
                break
            stop.wait(remaining)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        for signum, handler in previous:
            signal.signal(signum, handler)  # type: ignore[arg-type]
    stream.write("relaytokens serve: stopped\n")
    stream.flush()
    return 0
