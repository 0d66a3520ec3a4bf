"""Marker definitions, their validation and what they mean for a test.

Validation runs at collection time for every test of the run; every wrong argument becomes
one line of a single :class:`pytest.UsageError` naming the marker, the test and the valid
values. Nothing heavy is imported unless a test carries an error marker.
"""

from __future__ import annotations

import datetime as _dt
import inspect
import math
import reprlib
from typing import Any, NamedTuple

import pytest

__all__ = [
    "MARKERS",
    "MarkedError",
    "MarkerProblem",
    "MarkerSettings",
    "function_id",
    "host_problem",
    "read_markers",
]

FORMATS = ("json", "xml")
URI_KEYS = ("Uri", "uri")
TIMESTAMP_FORMS = ("utc_ms", "ms_offset", "iso")
RELAY_LOCATIONS = ("Internet", "Intranet", "All")
BACKENDS = ("fake", "replay", "live")
#: The longest token lifetime or clock skew a marker accepts (ten years), so every instant
#: the fakes compute stays a valid datetime.
MAX_SECONDS = 10 * 365 * 24 * 3600
APIS = ("ucwa", "relay")
_NO_SKEW = _dt.timedelta(0)

MARKERS: dict[str, str] = {
    "token_expired": "token_expired(*, optional=False): every token handed out or issued is "
    "already expired; the fakes answer its use with the real expiry response; strict: a "
    "request must carry one (or ucwa_token_response be read), unless optional=True.",
    "token_expires_in": "token_expires_in(seconds): tokens are valid now and expire that many "
    "seconds after issue on relaytokens_clock (0 < seconds <= 10 years).",
    "token_never_expires": "token_never_expires: Relay tokens are issued with duration -1 "
    "(expirationDate: null).",
    "token_revoked": 'token_revoked(api="ucwa" | "relay", default both, *, optional=False): the '
    "credentials the fixtures hand out (the UCWA bearer, the Relay access tokens) are revoked "
    "on the test's fakes: a client presenting them gets the fake's real 401; tokens issued "
    "later work; strict: a client must present one, unless optional=True.",
    "relaytokens_service_options": "relaytokens_service_options(cors_origins=[...], "
    "ucwa_online=False, tls=False): options of the test's fakes (CORS allowed origins or '*'; "
    "the UCWA Azure AD deployment; relaytokens_server over https with a throwaway CA).",
    "token_clock_skew": "token_clock_skew(seconds): the fake servers' clock runs that many seconds "
    "ahead of (negative: behind) relaytokens_clock (at most 10 years either way).",
    "ucwa_error": "ucwa_error(code, subcode=None, times=None, *, optional=False): the UCWA "
    "fake answers mediaRelayAccessToken with that catalogued error (times=None: every request); "
    "strict: a client must receive it, unless optional=True.",
    "relay_error": "relay_error(name, times=None, *, optional=False): the Relay fake answers "
    "with that catalogued error (times=None: every request); strict: a client must receive it, "
    "unless optional=True.",
    "ucwa_format": 'ucwa_format("json" | "xml", *, optional=False): the UCWA representation '
    "fixtures use and the fake answers Accept: */* (or no Accept) with; strict: a UCWA answer "
    "in that format must be served, unless optional=True.",
    "ucwa_quirks": 'ucwa_quirks(uri_key="Uri"|"uri", timestamps="utc_ms"|"ms_offset"|"iso", '
    'offset="-07:00"|"Z"|"America/Los_Angeles", location="Internet"|"Intranet"|"All", '
    "pretty=True|False): the UCWA wire quirks and the "
    "relays' location.",
    "relaytokens_errors": "relaytokens_errors(*selectors): keep only these rows in the "
    'ucwa_error / relay_error fan-out ("5xx", "409", "mediaRelayAccessToken", "generic", '
    "an error name or id).",
    "relaytokens_backend": 'relaytokens_backend("fake" | "replay" | "live"): where this test\'s '
    "token and API fixtures come from.",
    "relaytokens_cassette": "relaytokens_cassette(path): the cassette file this test replays "
    "or records (relative to the test module's folder); several tests may share one.",
    "relaytokens_allow": "relaytokens_allow(unexpected=True, unused_faults=True, unplayed=True, "
    'hosts=["example.com"]): relax the teardown checks or let requests reach these hosts.',
    "relaytokens_replay": "relaytokens_replay(*, allow_playback_repeats=False, match_on=[...], "
    'matcher=None, max_age="30d", on_expiry="warn"|"fail"|"re-record"): how strictly this '
    "test replays its cassette (docs/cassettes.md, Replay).",
}


class MarkerProblem(Exception):
    """One wrong marker argument (collected, then reported with every other one)."""


class MarkedError(NamedTuple):
    """One error a test declares: by an error marker or as its fan-out id."""

    api: str
    error_id: str
    times: int | None
    optional: bool
    #: how the test declared it, as the teardown check names it
    origin: str
    #: the request paths it answers (a regex; None: the service's default for its errors)
    path: str | None = None


class MarkerSettings:
    """What the relaytokens markers closest to a test ask for (None: not set by a marker).

    A plain class rather than a dataclass: the plugin loads in every pytest run, and
    generating a dataclass's methods at import costs more than the rest of this module.
    """

    __slots__ = (
        "allow",
        "already_expired",
        "backend",
        "cassette",
        "cors_origins",
        "error_selectors",
        "lifetime",
        "never_expires",
        "optional",
        "relay_errors",
        "replay",
        "revoked",
        "server_skew",
        "tls",
        "ucwa_errors",
        "ucwa_format",
        "ucwa_online",
        "ucwa_quirks",
    )

    def __init__(
        self,
        already_expired: bool = False,
        lifetime: _dt.timedelta | None = None,
        never_expires: bool = False,
        server_skew: _dt.timedelta = _NO_SKEW,
        ucwa_errors: list[MarkedError] | None = None,
        relay_errors: list[MarkedError] | None = None,
        ucwa_format: str | None = None,
        ucwa_quirks: dict[str, Any] | None = None,
        error_selectors: tuple[str, ...] | None = None,
        backend: str | None = None,
        cassette: str | None = None,
        allow: dict[str, Any] | None = None,
        revoked: tuple[str, ...] = (),
        cors_origins: tuple[str, ...] | None = None,
        ucwa_online: bool = False,
        tls: bool = False,
        replay: dict[str, Any] | None = None,
        optional: tuple[str, ...] = (),
    ) -> None:
        self.already_expired = already_expired
        self.lifetime = lifetime
        self.never_expires = never_expires
        self.server_skew = server_skew
        #: each error marker, resolved at collection
        self.ucwa_errors: list[MarkedError] = [] if ucwa_errors is None else ucwa_errors
        self.relay_errors: list[MarkedError] = [] if relay_errors is None else relay_errors
        self.ucwa_format = ucwa_format
        self.ucwa_quirks: dict[str, Any] = {} if ucwa_quirks is None else ucwa_quirks
        self.error_selectors = error_selectors
        self.backend = backend
        self.cassette = cassette
        self.allow: dict[str, Any] = {} if allow is None else allow
        #: the APIs whose handed-out credentials are revoked (the ``token_revoked`` marker)
        self.revoked = revoked
        #: CORS allowed origins of both fakes (None: CORS off, as on a stock server)
        self.cors_origins = cors_origins
        self.ucwa_online = ucwa_online
        self.tls = tls
        #: the ``relaytokens_replay`` marker's checked arguments (cassettes/replay.py)
        self.replay: dict[str, Any] = {} if replay is None else replay
        #: the strict markers (token_expired, token_revoked, ucwa_format) given optional=True
        self.optional = optional

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, MarkerSettings)
        return self._values() == other._values()

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it replaces

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"

    @property
    def any_token_policy(self) -> bool:
        return (
            self.already_expired
            or self.lifetime is not None
            or self.never_expires
            or bool(self.server_skew)
        )


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 80
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 8


def _shown(value: object) -> str:
    """A marker argument as an error shows it: its repr, cut short when long."""
    return _REPR.repr(value)


def function_id(item: pytest.Item) -> str:
    """``item``'s node id without its parametrization: a marker applies to every id of a
    test alike, so its problem is listed once per test function, not once per fan-out id."""
    return item.nodeid.partition("[")[0]


def _problem(item: pytest.Item, marker: str, problem: str, valid: str) -> MarkerProblem:
    return MarkerProblem(
        f"{function_id(item)}: @pytest.mark.{marker}: {problem}; valid values: {valid}"
    )


#: Each marker's parameters, as in a ``def``: binding a marker's arguments to its signature is
#: the validation of their number and names (pytest_httpx style).
_PARAMETERS: dict[str, tuple[str, ...]] = {
    "token_expired": ("*", "optional=None"),
    "token_never_expires": (),
    "token_expires_in": ("seconds",),
    "token_clock_skew": ("seconds",),
    "token_revoked": ("api=None", "*", "optional=None"),
    "ucwa_error": ("code", "subcode=None", "times=None", "*", "optional=None"),
    "relay_error": ("name", "times=None", "*", "optional=None"),
    "ucwa_format": ("fmt", "*", "optional=None"),
    "relaytokens_backend": ("backend",),
    "relaytokens_cassette": ("path",),
    "relaytokens_errors": ("*selectors",),
    "ucwa_quirks": (
        "*",
        "uri_key=None",
        "timestamps=None",
        "offset=None",
        "location=None",
        "pretty=None",
    ),
    "relaytokens_allow": (
        "*",
        "unexpected=None",
        "unused_faults=None",
        "unplayed=None",
        "hosts=None",
    ),
    "relaytokens_service_options": ("*", "cors_origins=None", "ucwa_online=None", "tls=None"),
    "relaytokens_replay": (
        "*",
        "allow_playback_repeats=None",
        "match_on=None",
        "matcher=None",
        "max_age=None",
        "on_expiry=None",
    ),
}


def _signature(marker: str) -> inspect.Signature:
    """``marker``'s signature, built from its row of :data:`_PARAMETERS`."""
    kind: inspect._ParameterKind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    parameters = []
    for spec in _PARAMETERS[marker]:
        if spec.startswith("*"):
            if spec != "*":
                parameters.append(inspect.Parameter(spec[1:], inspect.Parameter.VAR_POSITIONAL))
            kind = inspect.Parameter.KEYWORD_ONLY
            continue
        name, optional, _ = spec.partition("=")
        default = None if optional else inspect.Parameter.empty
        parameters.append(inspect.Parameter(name, kind, default=default))
    return inspect.Signature(parameters)


def _bind(item: pytest.Item, mark: pytest.Mark) -> dict[str, Any]:
    """The arguments ``mark`` was given, by name, bound to its signature."""
    signature = _signature(mark.name)
    try:
        bound = signature.bind(*mark.args, **mark.kwargs)
    except TypeError as exc:
        raise _problem(item, mark.name, str(exc), f"{mark.name}{signature}") from None
    return dict(bound.arguments)


def _seconds(item: pytest.Item, marker: str, value: Any, *, allow_negative: bool) -> float:
    valid = (
        f"a finite number of seconds (or a timedelta) between {-MAX_SECONDS} and {MAX_SECONDS}"
        if allow_negative
        else f"a finite number of seconds (or a timedelta) > 0 and <= {MAX_SECONDS}"
    )
    if isinstance(value, _dt.timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _problem(item, marker, f"seconds must be a number, got {_shown(value)}", valid)
    if isinstance(value, float) and not math.isfinite(value):
        raise _problem(item, marker, f"seconds must be finite, got {_shown(value)}", valid)
    if abs(value) > MAX_SECONDS:
        raise _problem(item, marker, f"seconds out of range, got {_shown(value)}", valid)
    if not allow_negative and value <= 0:
        raise _problem(item, marker, f"seconds must be positive, got {_shown(value)}", valid)
    return float(value)


def _times(item: pytest.Item, marker: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _problem(
            item,
            marker,
            f"times must be a positive integer or None, got {_shown(value)}",
            "None (always) or 1, 2, ...",
        )
    return value


def _choice(item: pytest.Item, marker: str, what: str, value: Any, valid: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in valid:
        raise _problem(item, marker, f"unknown {what} {_shown(value)}", ", ".join(map(repr, valid)))
    return value


def read_markers(item: pytest.Item) -> tuple[MarkerSettings, list[str]]:
    """Validate and read the closest relaytokens markers of ``item``: the settings and the
    problems found (every one, not only the first)."""
    settings = MarkerSettings()
    problems: list[str] = []
    for step in _STEPS:
        try:
            step(item, settings)
        except MarkerProblem as exc:
            problems.append(str(exc))
    return settings, problems


_EXPIRY_MARKERS = ("token_expired", "token_expires_in", "token_never_expires")


def _expiry(item: pytest.Item, settings: MarkerSettings) -> None:
    """The three expiry markers are one setting: the one on the narrowest node wins (a test's
    own over its class's over its module's); two on the same node cannot be combined."""
    chosen: list[pytest.Mark] = []
    level: object = None
    for node, mark in item.iter_markers_with_node():
        if mark.name not in _EXPIRY_MARKERS:
            continue
        if chosen and node is not level:
            break
        level = node
        if all(mark.name != other.name for other in chosen):
            chosen.append(mark)
    if len(chosen) > 1:
        names = [mark.name for mark in chosen]
        raise _problem(
            item,
            names[0],
            f"cannot be combined with {', '.join(names[1:])} on the same test, class or module",
            "one expiry marker per level (the narrowest level wins)",
        )
    if not chosen:
        return
    mark = chosen[0]
    if mark.name == "token_expires_in":
        value = _bind(item, mark)["seconds"]
        seconds = _seconds(item, mark.name, value, allow_negative=False)
        settings.lifetime = _dt.timedelta(seconds=seconds)
        return
    args = _bind(item, mark)
    if mark.name == "token_expired":
        _optional(item, mark.name, args, settings)
        settings.already_expired = True
    else:
        settings.never_expires = True


def _optional(
    item: pytest.Item, marker: str, args: dict[str, Any], settings: MarkerSettings
) -> None:
    """Note ``optional=True`` of a strict marker (checked: True or False)."""
    optional = args.pop("optional", None)
    if optional is None:
        return
    if not isinstance(optional, bool):
        raise _problem(
            item,
            marker,
            f"optional must be True or False, got {_shown(optional)}",
            "optional=True (the scenario need not be observed) or False (the default)",
        )
    if optional:
        settings.optional = (*settings.optional, marker)


def _revoked(item: pytest.Item, settings: MarkerSettings) -> None:
    mark = item.get_closest_marker("token_revoked")
    if mark is not None:
        args = _bind(item, mark)
        _optional(item, mark.name, args, settings)
        api = args.get("api")
        if api is None:
            settings.revoked = APIS
        else:
            settings.revoked = (_choice(item, mark.name, "api", api, APIS),)


def _service_options(item: pytest.Item, settings: MarkerSettings) -> None:
    mark = item.get_closest_marker("relaytokens_service_options")
    if mark is None:
        return
    valid = (
        "cors_origins=['https://app.example.com', ...] or ['*'], ucwa_online=True|False, "
        "tls=True|False"
    )
    args = _bind(item, mark)
    if "tls" in args:
        if not isinstance(args["tls"], bool):
            raise _problem(
                item, mark.name, f"tls must be True or False, got {_shown(args['tls'])}", valid
            )
        settings.tls = args["tls"]
    if "ucwa_online" in args:
        if not isinstance(args["ucwa_online"], bool):
            raise _problem(
                item,
                mark.name,
                f"ucwa_online must be True or False, got {_shown(args['ucwa_online'])}",
                valid,
            )
        settings.ucwa_online = args["ucwa_online"]
    if "cors_origins" in args:
        origins = _cors_origins(item, mark.name, args["cors_origins"], valid)
        settings.cors_origins = origins or None  # an empty list: CORS off, as by default


def _cors_origins(item: pytest.Item, marker: str, value: Any, valid: str) -> tuple[str, ...]:
    from ..http.urls import check_origins

    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise _problem(
            item, marker, f"cors_origins must be a list of origins, got {_shown(value)}", valid
        )
    try:
        return check_origins(value)
    except ValueError as exc:
        raise _problem(item, marker, str(exc), valid) from None


def _skew(item: pytest.Item, settings: MarkerSettings) -> None:
    mark = item.get_closest_marker("token_clock_skew")
    if mark is not None:
        value = _bind(item, mark)["seconds"]
        settings.server_skew = _dt.timedelta(
            seconds=_seconds(item, mark.name, value, allow_negative=True)
        )


def _errors(item: pytest.Item, settings: MarkerSettings) -> None:
    problems = []
    for api, found in (("ucwa", settings.ucwa_errors), ("relay", settings.relay_errors)):
        marker = f"{api}_error"
        for mark in item.iter_markers(marker):
            try:
                args = _bind(item, mark)
                if api == "ucwa":
                    error_id = _ucwa_error_id(item, args["code"], args.get("subcode"))
                else:
                    error_id = _relay_error_id(item, args["name"])
                times = _times(item, marker, args.get("times"))
                optional = args.get("optional")
                if optional is not None and not isinstance(optional, bool):
                    raise _problem(
                        item,
                        marker,
                        f"optional must be True or False, got {_shown(optional)}",
                        "optional=True (no client need receive it) or False (the default)",
                    )
                shown = ", ".join(
                    [*map(_shown, mark.args), *(f"{k}={_shown(v)}" for k, v in mark.kwargs.items())]
                )
                origin = f"@pytest.mark.{marker}({shown})"
                found.append(MarkedError(api, error_id, times, bool(optional), origin))
            except MarkerProblem as exc:
                problems.append(str(exc))
        if len(found) > 1:
            problems.append(
                str(
                    _problem(
                        item,
                        marker,
                        f"{len(found)} {marker} markers apply to this test "
                        f"({', '.join(e.origin for e in found)}): the first would answer every "
                        "request the others wait for",
                        f"one {marker} marker per test (its own, its class's or its module's); "
                        f"for a sequence call {api}_api.arm_sequence([...]) in the test",
                    )
                )
            )
    if problems:
        raise MarkerProblem("\n".join(problems))


#: Markers that pick one of a few values: marker -> (setting, what the value is, valid values).
_ONE_OF = {
    "ucwa_format": ("ucwa_format", "format", FORMATS),
    "relaytokens_backend": ("backend", "backend", BACKENDS),
}


def _one_of(item: pytest.Item, settings: MarkerSettings) -> None:
    problems = []
    for marker, (setting, what, valid) in _ONE_OF.items():
        mark = item.get_closest_marker(marker)
        if mark is None:
            continue
        try:
            args = _bind(item, mark)
            _optional(item, marker, args, settings)
            value = next(iter(args.values()))
            setattr(settings, setting, _choice(item, marker, what, value, valid))
        except MarkerProblem as exc:
            problems.append(str(exc))
    if problems:
        raise MarkerProblem("\n".join(problems))


def _quirks(item: pytest.Item, settings: MarkerSettings) -> None:
    mark = item.get_closest_marker("ucwa_quirks")
    if mark is None:
        return
    args = _bind(item, mark)
    if "uri_key" in args:
        _choice(item, mark.name, "uri_key", args["uri_key"], URI_KEYS)
    if "timestamps" in args:
        _choice(item, mark.name, "timestamps", args["timestamps"], TIMESTAMP_FORMS)
    if "offset" in args:
        _check_offset(item, mark.name, args["offset"])
    if "location" in args:
        _choice(item, mark.name, "location", args["location"], RELAY_LOCATIONS)
    if "pretty" in args and not isinstance(args["pretty"], bool):
        raise _problem(item, mark.name, f"bad pretty {_shown(args['pretty'])}", "True or False")
    settings.ucwa_quirks = {k: v if k == "pretty" else str(v) for k, v in args.items()}


def _selectors(item: pytest.Item, settings: MarkerSettings) -> None:
    mark = item.get_closest_marker("relaytokens_errors")
    if mark is None:
        return
    valid = '"4xx", "5xx", "409", a group (mediaRelayAccessToken, generic, ...), a name or id'
    selectors = _bind(item, mark).get("selectors", ())
    if not selectors or not all(isinstance(a, str) for a in selectors):
        raise _problem(item, mark.name, "needs one or more selector strings, nothing else", valid)
    from ..selection import select_errors

    try:
        select_errors("ucwa", selectors)
    except LookupError as exc:
        raise _problem(item, mark.name, str(exc), valid) from None
    settings.error_selectors = selectors


def _cassette(item: pytest.Item, settings: MarkerSettings) -> None:
    mark = item.get_closest_marker("relaytokens_cassette")
    if mark is not None:
        path = _bind(item, mark)["path"]
        if not isinstance(path, str) or not path.strip() or "\x00" in path:
            raise _problem(
                item,
                mark.name,
                f"path must be a non-empty string, got {_shown(path)}",
                "a relative or absolute .yaml path, or 'library:<scenario>'",
            )
        settings.cassette = path


def _allow(item: pytest.Item, settings: MarkerSettings) -> None:
    mark = item.get_closest_marker("relaytokens_allow")
    if mark is None:
        return
    valid = "unexpected=True, unused_faults=True, unplayed=True, hosts=['host', ...]"
    args = _bind(item, mark)
    for key in ("unexpected", "unused_faults", "unplayed"):
        if key in args and not isinstance(args[key], bool):
            raise _problem(item, mark.name, f"{key} must be True or False", valid)
    if "hosts" in args:
        hosts = args["hosts"]
        if isinstance(hosts, str):
            hosts = [hosts]
        if not isinstance(hosts, (list, tuple)) or not all(
            isinstance(h, str) and h.strip() for h in hosts
        ):
            raise _problem(item, mark.name, f"hosts must be host names, got {_shown(hosts)}", valid)
        for host in hosts:
            problem = host_problem(host.strip())
            if problem is not None:
                raise _problem(item, mark.name, f"hosts: {_shown(host)} is {problem}", valid)
        args["hosts"] = tuple(h.strip().lower() for h in hosts)
    settings.allow = args


_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_")


def host_problem(host: str) -> str | None:
    """What is wrong with ``host`` as an allowed host (a name or IP, ``[v6]`` in brackets, an
    optional ``:port``), or None; it reads after "<host> is". A URL, a path or a wildcard
    would silently allow nothing."""
    name, port = host, ""
    if host.startswith("["):
        name, bracket, port = host[1:].partition("]")
        if not bracket or not name or not set(name) <= set("0123456789abcdefABCDEF:."):
            return "not a bracketed IPv6 address"
        if port and not port.startswith(":"):
            return "an IPv6 address followed by unexpected text"
        port = port[1:] if port else ""
    elif ":" in host:
        name, _, port = host.rpartition(":")
    if "://" in host or "/" in host:
        return "a URL or path, not a host name (give only the host, e.g. 'api.example.com')"
    if "*" in host:
        return "a wildcard, which is not supported (name each host)"
    if not host.startswith("[") and (not name or not set(name) <= _HOST_CHARS):
        return "not a host name"
    if port and not (port.isdigit() and port.isascii() and int(port) <= 65535):
        return f"a host with a bad port {_shown(port)}"
    return None


def _replay(item: pytest.Item, settings: MarkerSettings) -> None:
    mark = item.get_closest_marker("relaytokens_replay")
    if mark is None:
        return
    from ..cassettes.replay import ReplayOptions  # only for tests carrying the marker

    args = {k: v for k, v in _bind(item, mark).items() if v is not None}
    try:
        ReplayOptions.checked(**args)
    except ValueError as exc:
        raise _problem(item, mark.name, str(exc), f"{mark.name}{_signature(mark.name)}") from None
    settings.replay = args


_STEPS = (
    _expiry,
    _revoked,
    _skew,
    _errors,
    _one_of,
    _quirks,
    _selectors,
    _cassette,
    _allow,
    _service_options,
    _replay,
)


def _check_offset(item: pytest.Item, marker: str, value: Any) -> None:
    valid = (
        "'+hh:mm' or '-hh:mm' with hh <= 14 and mm < 60 (e.g. '-07:00'), 'Z', "
        "or an IANA zone name (e.g. 'America/Los_Angeles')"
    )
    text = value if isinstance(value, str) else ""
    if text == "Z" or ("/" in text and _is_zone(text)):
        return
    good = (
        len(text) == 6
        and text[0] in "+-"
        and text[3] == ":"
        and text[1:3].isdigit()
        and text[4:6].isdigit()
        and text[1:3].isascii()
        and text[4:6].isascii()
        and int(text[1:3]) <= 14
        and int(text[4:6]) < 60
    )
    if not good:
        raise _problem(item, marker, f"bad offset {_shown(value)}", valid)


def _is_zone(text: str) -> bool:
    from ..ucwa.timestamps import zone

    try:
        zone(text)
    except ValueError:
        return False
    return True


def _did_you_mean(value: Any, candidates: list[str]) -> str:
    if not isinstance(value, str) or len(value) > 200:  # no name is that long
        return ""
    import difflib

    close = difflib.get_close_matches(value, candidates, n=3, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in candidates}
        close = [lowered[m] for m in difflib.get_close_matches(value.lower(), list(lowered), n=3)]
    return f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""


def _ucwa_error_id(item: pytest.Item, code: Any, subcode: Any) -> str:
    from ..ucwa.catalogue import UCWA_ERRORS, lookup_ucwa_error

    if isinstance(code, str) and (subcode is None or isinstance(subcode, str)):
        try:
            return lookup_ucwa_error(code, subcode).id
        except LookupError:
            pass
    names = sorted({e.id for e in UCWA_ERRORS} | {e.name for e in UCWA_ERRORS})
    shown = f"{_shown(code)}" + (f", {_shown(subcode)}" if subcode is not None else "")
    hint = _did_you_mean(code if subcode is None else f"{code}-{subcode}", names)
    raise _problem(
        item,
        "ucwa_error",
        f"unknown UCWA error {shown}{hint}",
        ", ".join(e.id for e in UCWA_ERRORS),
    )


def _relay_error_id(item: pytest.Item, name: Any) -> str:
    from ..relay.catalogue import RELAY_ERRORS, lookup_relay_error

    if isinstance(name, str):
        try:
            return lookup_relay_error(name).id
        except LookupError:
            pass
    names = sorted({e.id for e in RELAY_ERRORS} | {e.name for e in RELAY_ERRORS})
    hint = _did_you_mean(name, names)
    raise _problem(
        item,
        "relay_error",
        f"unknown Relay error {_shown(name)}{hint}",
        ", ".join(e.name for e in RELAY_ERRORS),
    )
