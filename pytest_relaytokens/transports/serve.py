"""``relaytokens serve``: both fakes on one loopback port, for manual tries and other languages."""

from __future__ import annotations

import argparse
import ipaddress
import math
import re
import shlex
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from ..cassettes.structure import safe_url
from ..http import FakeRequest, FakeResponse
from ..http.urls import check_origin, is_loopback
from . import PathRouter, Target

if TYPE_CHECKING:
    from .control import ServeState

__all__ = ["add_arguments", "run"]

#: An RFC 1123 host name whose last label is not numeric (RFC 3696 section 2), so a
#: mistyped address such as ``127.0.0.1x`` is not taken for a name.
_HOSTNAME = re.compile(
    r"(?=.{1,253}\Z)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
    r"[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?\Z"
)

RELAY_PREFIX = "/api/"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``relaytokens serve``."""
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        type=_host,
        help="address to bind (default 127.0.0.1; others need --allow-remote)",
    )
    parser.add_argument(
        "--port", type=_port, default=0, help="port to bind (default 0: any free port)"
    )
    parser.add_argument(
        "--seed",
        type=_seed,
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
        type=_max_seconds,
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
    parser.add_argument(
        "--routes",
        metavar="FILE",
        type=_routes_file,
        default=None,
        help="add the routes of FILE (YAML, or JSON for *.json) at start and after each reset",
    )
    parser.add_argument(
        "--cassette",
        metavar="PATH",
        type=_cassette,
        default=None,
        help="serve the recorded cassette PATH instead of the fakes, as strictly as the "
        "replay backend (an unmatched request is a 404 and makes the exit status 1)",
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="serve https with a throwaway CA (needs the tls extra) and print "
        "SSL_CERT_FILE, REQUESTS_CA_BUNDLE and NODE_EXTRA_CA_CERTS",
    )
    parser.add_argument(
        "--turn",
        action="store_true",
        help="run a real coturn (turnserver) on 127.0.0.1 beside the fakes: every mediaRelay "
        "points at it, and it accepts exactly the live tokens the UCWA fake issued",
    )


def _port(value: str) -> int:
    try:
        port = int(value, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port: use 0 to 65535 (0: any free)")
    return port


def _seed(value: str) -> int:
    try:
        return int(value, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from None


def _host(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value.strip("[]")))
    except ValueError:
        pass
    if _HOSTNAME.match(value) is None:
        raise argparse.ArgumentTypeError(f"{value!r} is not an IP address or a host name")
    return value


def _max_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, got {value!r}")
    return seconds


def _routes_file(value: str) -> list[dict[str, Any]]:
    from .control import BadInput, load_routes  # loaded when the option is given

    try:
        return load_routes(value)
    except BadInput as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _cassette(value: str) -> Path:
    path = Path(value)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{value}: a directory, not a cassette file")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{value}: no such cassette file")
    return path


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
    from ..ucwa.surface import down_level_logon  # loaded with the services, not the CLI

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
            f"  user:         {u.username}  (or {down_level_logon(u.username)})",
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


def _export_lines(values: dict[str, str]) -> list[str]:
    return [f"export {name}={shlex.quote(str(value))}" for name, value in values.items()]


def _control_banner(url: str, token: str, ca_file: Path | None) -> list[str]:
    """The control plane's lines: its URL, a curl example, the admin and CA exports."""
    from .control import CONTROL_PREFIX, TOKEN_HEADER
    from .tls import ca_exports

    cacert = f" --cacert {shlex.quote(str(ca_file))}" if ca_file is not None else ""
    lines = [
        f"Control {url}{CONTROL_PREFIX}  (JSON; header {TOKEN_HEADER}: $RELAYTOKENS_ADMIN_TOKEN)",
        f"  curl -s{cacert} -X POST {url}{CONTROL_PREFIX}clock/advance "
        f'-H "{TOKEN_HEADER}: $RELAYTOKENS_ADMIN_TOKEN" -d \'{{"seconds": 3600}}\'',
        "  relaytokens admin --help   (the same operations from a shell)",
        "",
        "Environment for the control plane and https clients:",
        *_export_lines({"RELAYTOKENS_ADMIN_URL": url, "RELAYTOKENS_ADMIN_TOKEN": token}),
    ]
    if ca_file is not None:
        lines += _export_lines(ca_exports(ca_file))
    return [*lines, "", "Ctrl-C stops the server.", ""]


def _cassette_banner(url: str, replay: Any) -> str:
    held = "\n".join("  " + line.strip() for line in replay._describe().splitlines())
    return "\n".join(
        [
            f"relaytokens replaying {', '.join(str(c.path) for c in replay.cassettes)} on {url}",
            "  strict: a request with no recorded interaction gets 404 and exit status 1",
            "Recorded:",
            held,
            "",
        ]
    )


def _replay_problems(replay: Any, out: TextIO) -> int:
    """Print what the replay left undone; the number of problems (strict, as the backend):
    requests no interaction matched, and interactions never replayed when the replay
    service reports them (``unplayed()``)."""
    unexpected = replay.log.unexpected
    for exchange in unexpected:
        out.write(f"unmatched: {exchange.request.method} {safe_url(exchange.request.url)}\n")
    unplayed = getattr(replay, "unplayed", None)
    left = list(unplayed()) if callable(unplayed) else []
    for entry in left:
        out.write(f"never replayed: {entry}\n")
    return len(unexpected) + len(left)


def _build(
    args: argparse.Namespace, url: str, origins: tuple[str, ...] | None, turn: Any = None
) -> Any:
    """``build(clock)`` for :class:`~.control.ServeState`: the fakes (or the cassette)."""
    from ..clock import Clock
    from ..http import FakeService

    if args.cassette is not None:
        from ..cassettes.replay import ReplayService

        def replay(clock: Clock) -> dict[str, FakeService]:
            return {"replay": ReplayService(args.cassette, base_url=url, clock=clock)}

        return replay

    from ..relay.service import RelayService
    from ..ucwa.service import UcwaService

    online = bool(getattr(args, "ucwa_online", False))

    def fakes(clock: Clock) -> dict[str, FakeService]:
        ucwa = UcwaService(
            base_url=url, clock=clock, seed=args.seed, online=online, cors_origins=origins
        )
        ucwa.application_idle_lifetime = None  # the printed application id keeps working
        if turn is not None:  # --turn: this fake's relays and live tokens, on coturn
            turn.attach(ucwa.media_credentials)
        relay = RelayService(base_url=url, clock=clock, seed=args.seed, cors_origins=origins)
        return {"ucwa": ucwa, "relay": relay}

    return fakes


def _make_server(args: argparse.Namespace, target: Target, host: str) -> tuple[Any, Any]:
    """The loopback server (https with ``--tls``) and its CA (or None)."""
    from .server import LoopbackServer

    if not getattr(args, "tls", False):
        return LoopbackServer(target, host, args.port), None
    from .tls import ThrowawayCA, TlsLoopbackServer

    ca = ThrowawayCA()
    return TlsLoopbackServer(target, ca, host, args.port), ca


def _start_turn(args: argparse.Namespace) -> tuple[Any, str]:
    """``--turn``: a started coturn (:class:`~..turn.sync.ServedTurn`), or what went wrong."""
    if args.cassette is not None:
        return None, "a replayed cassette issues no live tokens: use --turn with the fakes"
    from ..errors import RelayTokensError
    from ..turn.sync import ServedTurn

    # the watchdog's bound: past --max-seconds, else a week (the owner's death ends it too)
    bound = 7 * 86400.0 if args.max_seconds is None else args.max_seconds + 60.0
    try:
        return ServedTurn(max_seconds=bound).start(), ""
    except RelayTokensError as error:
        return None, str(error)


class _Late:
    """The serve target before the state exists (the fakes need the bound URL first)."""

    target: Target | None = None

    def handle(self, request: FakeRequest) -> FakeResponse:
        if self.target is None:
            return FakeResponse(503, [("Retry-After", "1"), ("Content-Length", "0")])
        return self.target.handle(request)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Serve both fakes until Ctrl-C, SIGTERM or ``--max-seconds``; returns the exit status."""
    from .control import BadInput, ControlPlane, ServeState, new_admin_token
    from .tls import TLS_MISSING, tls_available

    stream = out if out is not None else sys.stdout
    host: str = args.host
    if not is_loopback(host) and not args.allow_remote:
        sys.stderr.write(
            f"relaytokens serve: refusing to bind {host!r}: the fakes hand out "
            "working credentials to anyone; pass --allow-remote to do it anyway\n"
        )
        return 2
    if getattr(args, "tls", False) and not tls_available():
        sys.stderr.write(f"relaytokens serve: --tls: {TLS_MISSING}\n")
        return 2
    late = _Late()
    server, ca = _make_server(args, _LoggingTarget(late, stream, bool(args.quiet)), host)
    try:
        server.start()
    except OSError as error:
        sys.stderr.write(f"relaytokens serve: cannot bind {host}:{args.port}: {error}\n")
        if ca is not None:
            ca.close()
        return 1
    stop = threading.Event()
    previous: list[tuple[int, object]] = []
    turn: Any = None
    state: ServeState | None = None
    try:
        # before the banner: a client may send SIGTERM as soon as it has read it
        if threading.current_thread() is threading.main_thread():

            def on_signal(signum: int, frame: FrameType | None) -> None:
                stop.set()

            for signum in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
                if signum is not None:
                    previous.append((signum, signal.signal(signum, on_signal)))
        origins: tuple[str, ...] | None = (
            tuple(dict.fromkeys(args.cors_origins)) if getattr(args, "cors_origins", None) else None
        )
        online = bool(getattr(args, "ucwa_online", False))
        if getattr(args, "turn", False):
            turn, problem = _start_turn(args)
            if problem:
                sys.stderr.write(f"relaytokens serve: --turn: {problem}\n")
                return 2
        try:
            state = ServeState(
                _build(args, server.url, origins, turn),
                PathRouter(),
                server.url,
                getattr(args, "routes", None),
            )
        except BadInput as error:
            sys.stderr.write(f"relaytokens serve: --routes: {error}\n")
            return 2
        except (OSError, ValueError) as error:  # an unreadable or malformed cassette
            sys.stderr.write(f"relaytokens serve: --cassette: {error}\n")
            return 2
        token = new_admin_token()
        late.target = ControlPlane(state, token)
        if args.cassette is not None:
            stream.write(_cassette_banner(server.url, state.services["replay"]))
        else:
            ucwa, relay = state.services["ucwa"], state.services["relay"]
            banner = _banner(
                server.url,
                ucwa,
                relay,
                ucwa.token_path(ucwa.credentials.application_id),  # type: ignore[attr-defined]
                origins,
                online,
            )
            stream.write(banner.removesuffix("Ctrl-C stops the server.\n"))
        if turn is not None:
            stream.write("\n".join(turn.banner()))
        stream.write("\n".join(_control_banner(server.url, token, ca and ca.ca_file)))
        stream.flush()
        if args.once_ready_file:
            Path(args.once_ready_file).write_text(server.url + "\n", encoding="utf-8")
        deadline = None if args.max_seconds is None else time.monotonic() + args.max_seconds
        while not stop.is_set():
            remaining = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
            if remaining <= 0:
                break
            stop.wait(remaining)
            if turn is not None:
                turn.tick()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        if turn is not None:
            turn.stop()
        if ca is not None:
            ca.close()
        for signum, handler in previous:
            signal.signal(signum, handler)  # type: ignore[arg-type]
    problems = 0 if state is None else _stop_problems(state, args.cassette is not None, stream)
    stream.write("relaytokens serve: stopped\n")
    stream.flush()
    return 1 if problems else 0


def _stop_problems(state: ServeState, replaying: bool, out: TextIO) -> int:
    """Strict at the stop, as the plugin at teardown: print what was promised and did not
    happen (requests replay could not answer, interactions never replayed, faults armed on
    the control plane that no request consumed); the number of problems."""
    from .control import CONTROL_PREFIX

    problems = 0
    if replaying:
        problems = _replay_problems(state.services["replay"], out)
        if problems:
            out.write(
                f"relaytokens serve: the cassette replay is incomplete ({problems} problem(s) "
                "above); exit status 1\n"
            )
    left = state.unconsumed()
    if left:
        listed = "".join(f"  {name}: {fault.describe()}\n" for name, fault in left)
        out.write(
            f"relaytokens serve: {len(left)} armed fault(s) were never consumed by a request:\n"
            f"{listed}An armed fault must reach a client; if it need not, arm it with "
            '"optional": true (relaytokens admin ... --optional), or disarm it (DELETE '
            f"{CONTROL_PREFIX}faults) before the stop; exit status 1\n"
        )
    return problems + len(left)
