"""The shipped cassette library: named scenarios recorded from the fakes through vcrpy.

Each scenario starts the UCWA and Relay fakes behind one :class:`LoopbackServer` (Relay on
``/api/``, UCWA on everything else) with a frozen clock, drives real ``requests`` calls
through :func:`pytest_relaytokens.cassettes.recording.record` and stores a standard vcrpy
cassette at ``<library>/<name>.yaml``. Loopback URLs are rewritten to the fakes' public hosts
(``https://fe1.contoso.com``, ``https://relay.bluejeans.com``) before anything is stored.
Regenerate with ``relaytokens record-library``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import email.utils
import fnmatch
import random
import re
import sys
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from .cassettes.redaction import Redactor
from .clock import Clock
from .http import FakeRequest, FakeResponse
from .relay import DEFAULT_BASE_URL as RELAY_BASE
from .relay.catalogue import RELAY_ERRORS, RelayErrorEntry
from .ucwa import DEFAULT_BASE_URL as UCWA_BASE
from .ucwa.catalogue import UCWA_ERRORS, UcwaErrorEntry, lookup_ucwa_error
from .ucwa.online import sign_in_to_token
from .ucwa.urls import WEBTICKET_PATH

if TYPE_CHECKING:  # pragma: no cover
    import requests

    from .relay.service import RelayService
    from .transports import Target
    from .ucwa.service import UcwaService

__all__ = [
    "DEFAULT_SEED",
    "RECORDED_AT",
    "SCENARIOS",
    "Recording",
    "Scenario",
    "add_arguments",
    "library_root",
    "record_scenario",
    "run",
    "scenario_path",
]

DEFAULT_SEED = 0
#: The frozen clock's start, stored as every cassette's ``recorded_at``.
RECORDED_AT = _dt.datetime(2026, 1, 5, 9, 30, tzinfo=_dt.timezone.utc)

#: Fixed client headers, so the files do not depend on the installed ``requests``.
CLIENT_HEADERS = {
    "User-Agent": "pytest-relaytokens-library/1",
    "Accept-Encoding": "gzip, deflate",
    "Accept": "*/*",
    "Connection": "keep-alive",
}
JSON = "application/json"
XML = "application/xml"
COMMAND = "relaytokens record-library"
_RECORDED_AT_LINE = re.compile(r"^(\s*recorded_at:\s*).*$", re.MULTILINE)


# --- the recording context -------------------------------------------------------------------
class _LibraryRedactor(Redactor):
    """A :class:`Redactor` that also maps the loopback origin to the fakes' public hosts."""

    def __init__(self, origin: str) -> None:
        super().__init__()
        self.origin = origin
        self._base = UCWA_BASE

    @staticmethod
    def _base_for(path: str) -> str:
        return RELAY_BASE if path.startswith("/api/") else UCWA_BASE

    def _public(self, text: str) -> str:
        escaped_origin = self.origin.replace("/", "\\/")
        escaped_base = self._base.replace("/", "\\/")
        return text.replace(self.origin, self._base).replace(escaped_origin, escaped_base)

    def redact_request(self, request: Any) -> Any:
        uri = str(request.uri)
        if uri.startswith(self.origin):
            rest = uri[len(self.origin) :] or "/"
            self._base = self._base_for(rest)
            request.uri = self._base + rest
        return super().redact_request(request)

    def redact_response(self, response: dict[str, Any]) -> dict[str, Any]:
        body = response.get("body")
        if isinstance(body, dict) and isinstance(body.get("string"), bytes):
            body["string"] = self._public(body["string"].decode("utf-8", "replace")).encode()
        headers = response.get("headers") or {}
        for name, values in headers.items():
            items = values if isinstance(values, list) else [values]
            headers[name] = [self._public(str(v)) for v in items]
        response = super().redact_response(response)
        body = response.get("body")
        if isinstance(body, dict) and isinstance(body.get("string"), bytes):
            for name in response.get("headers") or {}:
                if name.lower() == "content-length":
                    response["headers"][name] = [str(len(body["string"]))]
        return response


@dataclass
class _Dated:
    """Adds a ``Date`` from the fakes' clock where a fake sends none (the server would
    otherwise stamp the wall clock, and the files would change on every run)."""

    target: Target
    clock: Clock

    def handle(self, request: FakeRequest) -> FakeResponse:
        response = self.target.handle(request)
        if not any(name.lower() == "date" for name, _ in response.headers):
            stamp = email.utils.format_datetime(self.clock.now(), usegmt=True)
            response.headers.append(("Date", stamp))
        return response


@dataclass
class Recording:
    """What a scenario drives: the fakes, the client session and the loopback URL."""

    clock: Clock
    ucwa: UcwaService
    relay: RelayService
    http: requests.Session
    url: str
    rng: random.Random
    bearers: list[str] = field(default_factory=list)
    extra_secrets: list[str] = field(default_factory=list)

    def send(self, request: FakeRequest) -> FakeResponse:
        """``request`` sent through the recorded session, its answer as a fake's."""
        answer = self.http.request(
            request.method,
            request.url,
            headers=dict(request.headers),
            data=request.body or None,
            timeout=10,
        )
        return FakeResponse(answer.status_code, list(answer.headers.items()), answer.content)

    # UCWA ------------------------------------------------------------------------------
    def call(self, method: str, url: str, status: int, **kwargs: Any) -> requests.Response:
        """Send a request and insist on ``status`` (a wrong fake must not be recorded)."""
        response = self.http.request(method, url, timeout=10, **kwargs)
        if response.status_code != status:
            raise RuntimeError(
                f"{method} {url}: expected {status}, got {response.status_code}: "
                f"{response.text[:300]}"
            )
        return response

    def webticket(self, url: str | None = None) -> str:
        """The password grant: a fresh ``cwt=`` bearer."""
        creds = self.ucwa.credentials
        form = {"grant_type": "password", "username": creds.username, "password": creds.password}
        answer = self.call(
            "POST", url or self.url + WEBTICKET_PATH, 200, data=form, headers={"Accept": JSON}
        )
        bearer = str(answer.json()["access_token"])
        self.bearers.append(bearer)
        return bearer

    def ucwa_token(
        self, bearer: str | None, accept: str, status: int = 200, path: str | None = None
    ) -> requests.Response:
        headers = {"Accept": accept}
        if bearer is not None:
            headers["Authorization"] = f"Bearer {bearer}"
        return self.call(
            "GET", self.url + (path or self.ucwa.token_path()), status, headers=headers
        )

    # Relay -----------------------------------------------------------------------------
    def relay_create(
        self,
        status: int = 200,
        *,
        basic: tuple[str, str] | None = None,
        query: dict[str, str] | None = None,
    ) -> requests.Response:
        """``POST /api/auth/accesstokens`` with ``query``; Basic unless a Seam token is given."""
        query = query or {}
        creds = self.relay.credentials
        use_basic = basic if basic is not None else (creds.username, creds.password)
        auth = None if "seamaccesstoken" in query else use_basic
        return self.call(
            "POST",
            self.url + "/api/auth/accesstokens",
            status,
            params=query or None,
            auth=auth,
            headers={"Accept": JSON},
        )

    def secrets(self) -> set[str]:
        """Every credential the fakes used or issued, and every bearer the client got."""
        u, r = self.ucwa.credentials, self.relay.credentials
        values = {u.password, u.bearer, r.password, r.seam_token, r.access_token}
        values |= {r.readonly_access_token, r.pairing_code, *self.bearers, *self.extra_secrets}
        values |= {f"{r.username}:{r.password}", r.basic_authorization.split(" ", 1)[1]}
        for token in self.ucwa.issued_tokens:
            values |= {token.user_name, token.password}
        values |= {token.access_token for token in self.relay.issued_tokens}
        return {v for v in values if v}


Drive = Callable[[Recording], None]


@dataclass(frozen=True)
class Scenario:
    """One shipped cassette: ``name`` (also its path), what it holds, how it is recorded."""

    name: str
    description: str
    drive: Drive
    #: ``UcwaQuirks`` keywords (made when the scenario is recorded: this module stays cheap
    #: to import for the command line)
    quirks: Mapping[str, Any] | None = None


# --- UCWA scenarios ---------------------------------------------------------------------------
def _token_flow(accept: str) -> Drive:
    def drive(rec: Recording) -> None:
        rec.ucwa_token(rec.webticket(), accept)

    return drive


def _full_flow(rec: Recording) -> None:
    creds = rec.ucwa.credentials
    signed_in = sign_in_to_token(
        rec.send,
        rec.url,
        creds.username,
        creds.password,
        endpoint_id=str(uuid.UUID(int=rec.rng.getrandbits(128), version=4)),
    )
    rec.bearers.append(signed_in.bearer)
    if signed_in.token.status != 200:
        raise RuntimeError(f"the media relay token answered {signed_in.token.status}")


def _bearer_401(rec: Recording) -> None:
    rec.ucwa_token(None, JSON, 401)
    invalid = rec.ucwa.factory.bearer_token()
    rec.extra_secrets.append(invalid)
    rec.ucwa_token(invalid, JSON, 401)


def _bearer_expired(rec: Recording) -> None:
    from .ucwa.service import BEARER_LIFETIME

    bearer = rec.webticket()
    rec.ucwa_token(bearer, JSON)
    rec.clock.advance(BEARER_LIFETIME + _dt.timedelta(seconds=1))
    rec.ucwa_token(bearer, JSON, 401)


def _ucwa_error(entry_id: str, status: int, accept: str) -> Drive:
    def drive(rec: Recording) -> None:
        rec.ucwa.arm_error(entry_id)  # on the endpoint its row belongs to
        if lookup_ucwa_error(entry_id).endpoint.method == "POST":  # a WebTicket (OAuth) error
            creds = rec.ucwa.credentials
            form = {"grant_type": "password", "username": creds.username, "password": "x"}
            rec.call("POST", rec.url + WEBTICKET_PATH, status, data=form)
            return
        rec.ucwa_token(rec.ucwa.credentials.bearer, accept, status)

    return drive


# --- Relay scenarios --------------------------------------------------------------------------
def _relay_basic(rec: Recording) -> None:
    rec.relay_create()


def _relay_seam(rec: Recording) -> None:
    rec.relay_create(query={"seamaccesstoken": rec.relay.credentials.seam_token})


def _relay_pairing(rec: Recording) -> None:
    creds = rec.relay.credentials
    rec.relay_create(query={"seamaccesstoken": creds.seam_token, "code": creds.pairing_code})


def _relay_query(**query: str) -> Drive:
    def drive(rec: Recording) -> None:
        rec.relay_create(query=query)

    return drive


def _enterprise(by: str) -> Drive:
    def drive(rec: Recording) -> None:
        token = str(rec.relay_create().json()["accessToken"])
        url = rec.url + "/api/enterprises/self"
        if by == "query":
            rec.call("GET", url, 200, params={"accesstoken": token}, headers={"Accept": JSON})
        else:
            rec.call("GET", url, 200, headers={"X-Access-Token": token, "Accept": JSON})

    return drive


def _relay_bad_credentials(rec: Recording) -> None:
    username = rec.relay.credentials.username
    wrong = "".join(rec.rng.choices("abcdefghjkmnpqrstuvwxyz23456789", k=16))
    rec.extra_secrets.append(wrong)
    rec.relay_create(401, basic=(username, wrong))


def _relay_unknown_token(rec: Recording) -> None:
    unknown = rec.relay.factory.access_token_string()
    rec.extra_secrets.append(unknown)
    creds = rec.relay.credentials
    rec.call(
        "GET",
        f"{rec.url}/api/auth/accesstokens/{unknown}",
        404,
        auth=(creds.username, creds.password),
        headers={"Accept": JSON},
    )


def _relay_error(entry_id: str, status: int) -> Drive:
    def drive(rec: Recording) -> None:
        rec.relay.arm_error(entry_id)
        rec.relay_create(status)

    return drive


def _error_scenario(
    folder: str, entry: UcwaErrorEntry | RelayErrorEntry, request: str, how: str, accept: str | None
) -> Scenario:
    """The scenario of one catalogue row: ``request`` answered with it."""
    inferred = " [inferred]" if entry.inferred else ""
    drive = (
        _relay_error(entry.id, entry.status)
        if accept is None
        else _ucwa_error(entry.id, entry.status, accept)
    )
    return Scenario(
        f"{folder}/{entry.id}",
        f"{request} answered {entry.status} {entry.name}{how}{inferred}.",
        drive,
    )


def _build() -> dict[str, Scenario]:
    items: list[Scenario] = [
        Scenario(
            "ucwa/token-json",
            "WebTicket password grant, then GET mediaRelayAccessToken as JSON (default quirks).",
            _token_flow(JSON),
        ),
        Scenario(
            "ucwa/token-xml",
            "WebTicket password grant, then GET mediaRelayAccessToken as XML.",
            _token_flow(XML),
        ),
        Scenario(
            "ucwa/token-json-uri",
            'As ucwa/token-json, the user URI under the lower-case "uri" key.',
            _token_flow(JSON),
            {"uri_key": "uri"},
        ),
        Scenario(
            "ucwa/token-json-ms_offset",
            "As ucwa/token-json, validUntil as /Date(ms-0700)/ (ms plus offset).",
            _token_flow(JSON),
            {"timestamps": "ms_offset"},
        ),
        Scenario(
            "ucwa/token-json-iso",
            "As ucwa/token-json, validUntil as an ISO 8601 string.",
            _token_flow(JSON),
            {"timestamps": "iso"},
        ),
        Scenario(
            "ucwa/token-json-uri-ms_offset",
            'Both quirks: the lower-case "uri" key and /Date(ms-0700)/ timestamps.',
            _token_flow(JSON),
            {"uri_key": "uri", "timestamps": "ms_offset"},
        ),
        Scenario(
            "ucwa/token-json-uri-iso",
            'Both quirks: the lower-case "uri" key and ISO 8601 timestamps.',
            _token_flow(JSON),
            {"uri_key": "uri", "timestamps": "iso"},
        ),
        Scenario(
            "ucwa/token-xml-uri",
            'As ucwa/token-xml, the user URI under the lower-case "uri" property.',
            _token_flow(XML),
            {"uri_key": "uri"},
        ),
        Scenario(
            "ucwa/full-flow",
            "Autodiscover root, user (401 with both challenges), WebTicket, user, "
            "POST applications, GET mediaRelayAccessToken (JSON).",
            _full_flow,
        ),
        Scenario(
            "ucwa/bearer-401",
            "GET mediaRelayAccessToken without a bearer, then with an unknown one: "
            "401 with the Bearer and MsRtcOAuth challenges.",
            _bearer_401,
        ),
        Scenario(
            "ucwa/bearer-expired",
            "WebTicket, GET token (200), clock + 8 h 1 s, GET token again: 401.",
            _bearer_expired,
        ),
    ]
    token_get = "GET mediaRelayAccessToken"
    items += [
        _error_scenario(
            "ucwa/errors",
            e,
            "POST WebTicket" if e.grant_error else token_get,
            "" if e.grant_error else " (JSON)",
            JSON,
        )
        for e in UCWA_ERRORS
    ]
    items += [
        _error_scenario("ucwa/errors-xml", e, token_get, " (XML)", XML)
        for e in UCWA_ERRORS
        if e.group == "mediaRelayAccessToken"
    ]
    items += [
        Scenario(
            "relay/token-basic",
            "POST /api/auth/accesstokens with Basic credentials: a two-week READONLY and "
            "READWRITE token.",
            _relay_basic,
        ),
        Scenario(
            "relay/token-seam",
            "POST /api/auth/accesstokens?seamaccesstoken=...: token by Seam token.",
            _relay_seam,
        ),
        Scenario(
            "relay/token-pairing-code",
            "POST /api/auth/accesstokens?seamaccesstoken=...&code=...: one-day "
            "ROLE_PAIRINGCODE token with pairing ids.",
            _relay_pairing,
        ),
        Scenario(
            "relay/token-readonly",
            "POST /api/auth/accesstokens?roles=ROLE_READONLY (Basic).",
            _relay_query(roles="ROLE_READONLY"),
        ),
        Scenario(
            "relay/token-duration",
            "POST /api/auth/accesstokens?duration=3600000 (Basic): a one-hour token.",
            _relay_query(duration="3600000"),
        ),
        Scenario(
            "relay/token-never-expires",
            "POST /api/auth/accesstokens?duration=-1 (Basic): expirationDate null.",
            _relay_query(duration="-1"),
        ),
        Scenario(
            "relay/enterprise-by-query",
            "Create a token, then GET /api/enterprises/self?accesstoken=...",
            _enterprise("query"),
        ),
        Scenario(
            "relay/enterprise-by-header",
            "Create a token, then GET /api/enterprises/self with X-Access-Token.",
            _enterprise("header"),
        ),
        Scenario(
            "relay/bad-credentials",
            "POST /api/auth/accesstokens with a wrong Basic password: 401 BadCredentialsException.",
            _relay_bad_credentials,
        ),
        Scenario(
            "relay/unknown-token",
            "GET /api/auth/accesstokens/<unknown> (Basic): 404 AccessTokenNotFound.",
            _relay_unknown_token,
        ),
    ]
    create = "POST /api/auth/accesstokens"
    items += [_error_scenario("relay/errors", e, create, "", None) for e in RELAY_ERRORS]
    return {s.name: s for s in items}


#: Every shipped scenario by name (the names are what the replay backend looks up).
SCENARIOS: dict[str, Scenario] = _build()


# --- where the library lives ------------------------------------------------------------------
def library_root() -> Path:
    """``pytest_relaytokens/library`` when the wheel carries it, else the source tree's
    top-level ``cassettes/``."""
    packaged = Path(__file__).parent / "cassette_library"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "cassettes"


def _installed_package(root: Path) -> Path | None:
    """The site-packages (or dist-packages) folder ``root`` lies in, if any."""
    import site
    import sysconfig

    places = {Path(p).resolve() for p in site.getsitepackages() if p}
    places |= {Path(sysconfig.get_paths()[k]).resolve() for k in ("purelib", "platlib")}
    user = site.getusersitepackages()
    if isinstance(user, str) and user:
        places.add(Path(user).resolve())
    resolved = root.resolve()
    for place in places:
        if resolved.is_relative_to(place):
            return place
    if any(part in ("site-packages", "dist-packages") for part in resolved.parts):
        return resolved
    return None


def scenario_path(name: str) -> Path:
    """The cassette file of scenario ``name``; :class:`LookupError` lists the valid names."""
    if name not in SCENARIOS:
        raise LookupError(
            f"unknown cassette scenario {name!r}; valid scenarios: {', '.join(SCENARIOS)}"
        )
    return library_root() / f"{name}.yaml"


# --- recording --------------------------------------------------------------------------------
def record_scenario(
    name: str, out: str | Path | None = None, *, seed: int = DEFAULT_SEED
) -> Recording:
    """Record scenario ``name`` into ``<out>/<name>.yaml`` (``out`` defaults to the library)
    and return the recording context (its fakes know every credential used)."""
    import requests

    from .cassettes.recording import record
    from .cassettes.secrets import SecretLeakError, scan
    from .cassettes.storage import CassetteStore, atomic_write_text
    from .relay.service import RelayService
    from .transports import PathRouter
    from .transports.server import LoopbackServer
    from .ucwa.service import UcwaService
    from .ucwa.wire import UcwaQuirks

    if name not in SCENARIOS:
        scenario_path(name)  # raises the LookupError listing the names
    scenario = SCENARIOS[name]
    path = Path(out if out is not None else library_root()) / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    clock = Clock(RECORDED_AT, frozen=True)
    quirks = None if scenario.quirks is None else UcwaQuirks(**scenario.quirks)
    ucwa = UcwaService(base_url=UCWA_BASE, clock=clock, seed=seed, quirks=quirks)
    relay = RelayService(base_url=RELAY_BASE, clock=clock, seed=seed)
    router = PathRouter([("/api/", relay)], default=ucwa)
    with LoopbackServer(_Dated(router, clock)) as server, requests.Session() as http:
        http.headers.clear()
        http.headers.update(CLIENT_HEADERS)
        http.trust_env = False  # no proxies or .netrc from the environment
        recording = Recording(clock, ucwa, relay, http, server.url, random.Random(seed))
        redactor = _LibraryRedactor(server.url)
        with record(path, mode="rewrite", redactor=redactor):
            scenario.drive(recording)
        if server.errors:
            raise RuntimeError(f"{name}: the fakes raised {server.errors[0]!r}")
    # Pin the metadata to the frozen clock's start (the store stamps the wall clock), and
    # scan again, now also for every credential the fakes held.
    text = path.read_text(encoding="utf-8")
    text = _RECORDED_AT_LINE.sub(
        lambda m: f"{m.group(1)}'{RECORDED_AT.isoformat()}'", text, count=1
    )
    store = CassetteStore.bind(redactor, extra_secrets=recording.secrets())
    try:
        store.check(path, text)
        leaks = scan(text, recording.secrets())
        if leaks:
            raise SecretLeakError(str(path), leaks)
    except SecretLeakError:
        path.unlink()
        raise
    atomic_write_text(path, text)
    return recording


def _readme(seed: int) -> str:
    lines = [
        "# The shipped cassette library",
        "",
        "Standard vcrpy cassettes (YAML), recorded from the pytest-relaytokens fakes through",
        "the real recording path: vcrpy records `requests` calls to the loopback server, the",
        "redactor replaces every secret with a same-shape placeholder, and the leak scan runs",
        "before each file is written. Loopback URLs are rewritten to the fakes' public hosts",
        f"(`{UCWA_BASE}`, `{RELAY_BASE}`). Every file was recorded on a frozen clock",
        f"starting at `{RECORDED_AT.isoformat()}` (its `relaytokens.recorded_at`), seed {seed}.",
        "",
        "Regenerate (the same seed gives byte-identical files):",
        "",
        "```sh",
        f"{COMMAND}                       # or: python -m pytest_relaytokens.cli record-library",
        f"{COMMAND} --only 'relay/*'      # a subset (names or glob patterns)",
        "```",
        "",
        "Use one:",
        "",
        "```python",
        "from pytest_relaytokens.cassettes import ReplayService",
        "from pytest_relaytokens.library import scenario_path",
        "",
        'service = ReplayService(scenario_path("ucwa/token-json"))',
        "```",
        "",
        "Entries marked [inferred] replay catalogue errors whose status or body the public",
        "documentation does not give (see the catalogues).",
        "",
        "| Scenario | File | What it holds |",
        "|---|---|---|",
    ]
    for scenario in SCENARIOS.values():
        lines.append(
            f"| `{scenario.name}` | [{scenario.name}.yaml]({scenario.name}.yaml) "
            f"| {scenario.description} |"
        )
    return "\n".join(lines) + "\n"


def select(patterns: Iterable[str]) -> list[str]:
    """The scenario names matching ``patterns`` (exact names or glob patterns), in order."""
    wanted = list(patterns)
    unknown = [p for p in wanted if not any(fnmatch.fnmatchcase(n, p) for n in SCENARIOS)]
    if unknown:
        raise LookupError(
            f"no scenario matches {', '.join(map(repr, unknown))}; "
            f"valid scenarios: {', '.join(SCENARIOS)}"
        )
    return [n for n in SCENARIOS if any(fnmatch.fnmatchcase(n, p) for p in wanted)]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        help="where to write the cassettes (default: the shipped library, "
        "the source tree's cassettes/)",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        default=None,
        help="record only these scenarios (names or glob patterns such as 'relay/*')",
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"fakes' seed (default {DEFAULT_SEED})"
    )


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Record the selected scenarios and write the library's README; the exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    only: Sequence[str] | None = getattr(args, "only", None)
    try:
        names = select(only) if only else list(SCENARIOS)
    except LookupError as error:
        print(f"relaytokens record-library: error: {error}", file=err)
        return 2
    if getattr(args, "out", None):
        root = Path(args.out)
    else:
        root = library_root()
        installed = _installed_package(root)
        if installed is not None:
            print(
                f"relaytokens record-library: error: the library at {root} is inside the "
                f"installed package ({installed}); re-record into a folder of yours with --out DIR",
                file=err,
            )
            return 2
    seed = int(getattr(args, "seed", DEFAULT_SEED))
    for name in names:
        try:
            record_scenario(name, root, seed=seed)
        except Exception as error:
            print(f"relaytokens record-library: {name}: {type(error).__name__}: {error}", file=err)
            return 1
    from .cassettes.storage import atomic_write_text

    atomic_write_text(root / "README.md", _readme(seed))
    expected = {root / f"{n}.yaml" for n in SCENARIOS}
    stale = sorted(p for p in root.rglob("*.yaml") if p not in expected)
    for path in stale:
        print(f"relaytokens record-library: warning: {path} is no scenario (stale?)", file=err)
    print(f"relaytokens record-library: {len(names)} cassette(s) written under {root}", file=out)
    return 0
