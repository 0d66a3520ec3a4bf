"""Run-wide settings: command-line options and ini keys, checked at configure, and the run seed.

Precedence, lowest first: ini key < command-line option < a conftest override of the
matching fixture < a marker on the test, class or module.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import random
import re
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ..http import TokenPolicy
    from ..ucwa.wire import UcwaQuirks

__all__ = [
    "OPTIONS",
    "RunState",
    "check_options",
    "clock_start",
    "derive_seed",
    "get_option",
    "secret_patterns",
]

_TRUE_FALSE = ("true", "false")

# name -> (help, default, choices)
OPTIONS: dict[str, tuple[str, str | None, tuple[str, ...] | None]] = {
    "seed": (
        "run seed for every fake and factory (default: pytest-randomly's seed when it is "
        "active, else a fresh random one; printed for failing tests)",
        None,
        None,
    ),
    "start": (
        "the instant relaytokens_clock starts at in every test: 'now' or an ISO 8601 "
        "datetime (with the seed, makes tokens identical run after run)",
        "now",
        None,
    ),
    "ucwa_format": ("default UCWA representation: json or xml", "json", ("json", "xml")),
    "uri_key": (
        "UCWA uri property spelling: Uri (as the samples) or uri (as the table)",
        "Uri",
        ("Uri", "uri"),
    ),
    "timestamps": (
        "UCWA JSON timestamp form: utc_ms, ms_offset or iso",
        "utc_ms",
        ("utc_ms", "ms_offset", "iso"),
    ),
    "relay_location": (
        "UCWA relays' location: Internet, Intranet or All (default: as generated, Internet)",
        None,
        ("Internet", "Intranet", "All"),
    ),
    "errors": (
        "comma-separated selectors limiting the ucwa_error/relay_error fan-out "
        "(4xx, 5xx, 409, mediaRelayAccessToken, generic, resource, auth, names, ids)",
        None,
        None,
    ),
    "report": ("write the error-coverage report as JSON to this path", None, None),
    "coverage": (
        "the error-coverage table at the end of the run: table (default) or off",
        "table",
        ("table", "off"),
    ),
    "allow_unexpected": (
        "do not fail tests at teardown on requests the fakes did not expect (true/false)",
        "false",
        _TRUE_FALSE,
    ),
    "allow_unused_faults": (
        "do not fail tests at teardown on armed errors/faults no request consumed (true/false)",
        "false",
        _TRUE_FALSE,
    ),
    "allow_unplayed": (
        "do not fail replay tests at teardown on cassette interactions never replayed (true/false)",
        "false",
        _TRUE_FALSE,
    ),
    "block_network": (
        "in fake and replay mode, refuse requests/httpx calls to hosts other than the fakes "
        "and loopback (true/false)",
        "true",
        _TRUE_FALSE,
    ),
    "allow_hosts": (
        "comma-separated hosts requests/httpx may still reach while the network is blocked",
        None,
        None,
    ),
    "backend": (
        "where token fixtures come from: fake, replay (cassettes) or live",
        "fake",
        ("fake", "replay", "live"),
    ),
    "live_missing": (
        "live backend without its RELAYTOKENS_* environment variables: error (default) or skip",
        "error",
        ("error", "skip"),
    ),
    "record_mode": (
        "cassette record mode: none, once, new_episodes, all, rewrite",
        "none",
        ("none", "once", "new_episodes", "all", "rewrite"),
    ),
    "cassette_dir": (
        "folder for per-test cassettes (default: <test module dir>/cassettes)",
        None,
        None,
    ),
    "rebase_expiry": (
        "on replay, re-base recorded token expiry to now instead of pinning the "
        "clock to the recording time (true/false)",
        "false",
        _TRUE_FALSE,
    ),
    # replay strictness and cassette age (docs/cassettes.md, Replay); the relaytokens_replay
    # marker overrides each for one test
    "allow_playback_repeats": (
        "on replay, let one recorded interaction answer more than one request (true/false)",
        "false",
        _TRUE_FALSE,
    ),
    "match_on": (
        "comma-separated request fields replay matches on (default: method, scheme, host, port, "
        "path, query, accept, body)",
        None,
        None,
    ),
    "max_age": (
        "the oldest a replayed cassette may be (e.g. 30d, 12h; default: no limit)",
        None,
        None,
    ),
    "on_expiry": (
        "a cassette older than max_age: warn, fail (default) or re-record (live backend)",
        "fail",
        ("warn", "fail", "re-record"),
    ),
    "unused_cassettes": (
        "report cassettes under the cassette folders that no selected test used (true/false)",
        "false",
        _TRUE_FALSE,
    ),
}


def _flag(name: str) -> str:
    return f"--relaytokens-{name.replace('_', '-')}"


def _raw_option(config: pytest.Config, name: str) -> str | None:
    value = config.getoption(f"relaytokens_{name}", None)
    if value is None:
        ini = config.getini(f"relaytokens_{name}")
        value = ini if ini not in ("", None, []) else None
    if value is None:
        value = OPTIONS[name][1]
    return None if value is None else str(value).strip()


def _choice_problem(name: str, value: str | None) -> str | None:
    choices = OPTIONS[name][2]
    if value is None or choices is None or value in choices:
        return None
    return (
        f"{_flag(name)} / ini relaytokens_{name}: unknown value {value!r}; "
        f"valid values: {', '.join(choices)}"
    )


def get_option(config: pytest.Config, name: str) -> str | None:
    """The command-line value of ``--relaytokens-<name>``, else the ini key, else the default."""
    value = _raw_option(config, name)
    problem = _choice_problem(name, value)
    if problem is not None:
        raise pytest.UsageError(f"relaytokens: {problem}")
    return value


def check_options(config: pytest.Config) -> None:
    """Check every option and ini key now; report every problem at once."""
    problems = [p for name in OPTIONS if (p := _choice_problem(name, _raw_option(config, name)))]
    seed = _raw_option(config, "seed")
    if seed is not None:
        try:
            int(seed)
        except ValueError:
            problems.append(f"{_flag('seed')} / ini relaytokens_seed: {seed!r} is not an integer")
    try:
        clock_start(config)
    except pytest.UsageError as exc:
        problems.append(str(exc).removeprefix("relaytokens: "))
    problems.extend(_pattern_problems(config))
    problems.extend(_replay_problems(config))
    problems.extend(_host_problems(config))
    selectors = _raw_option(config, "errors")
    if selectors:
        from ..selection import select_errors

        try:
            select_errors("ucwa", tuple(s.strip() for s in selectors.split(",") if s.strip()))
        except LookupError as exc:
            problems.append(f"{_flag('errors')} / ini relaytokens_errors: {exc}")
    if problems:
        listed = "\n".join(f"  - {p}" for p in problems)
        raise pytest.UsageError(f"relaytokens: {len(problems)} configuration problem(s):\n{listed}")


def allowed_hosts(config: pytest.Config) -> tuple[str, ...]:
    """``--relaytokens-allow-hosts`` (ini ``relaytokens_allow_hosts``), split and lowered."""
    hosts = get_option(config, "allow_hosts") or ""
    return tuple(h.strip().lower() for h in hosts.split(",") if h.strip())


def _host_problems(config: pytest.Config) -> list[str]:
    from .markers import host_problem

    where = f"{_flag('allow_hosts')} / ini relaytokens_allow_hosts"
    return [
        f"{where}: {host!r} is {problem}"
        for host in allowed_hosts(config)
        if (problem := host_problem(host)) is not None
    ]


def _replay_problems(config: pytest.Config) -> list[str]:
    """The replay and cassette-age options, checked (see :func:`replay_options`)."""
    raw = {name: _raw_option(config, name) for name in ("match_on", "max_age")}
    problems = []
    for name, value in raw.items():
        if value is None:
            continue
        from ..cassettes.replay import ReplayOptions  # only when the option is given

        try:
            ReplayOptions.checked(**{name: value})
        except ValueError as exc:
            problems.append(f"{_flag(name)} / ini relaytokens_{name}: {exc}")
    if _raw_option(config, "on_expiry") == "re-record" and not live_configured():
        problems.append(
            f"{_flag('on_expiry')} / ini relaytokens_on_expiry: re-record needs a live backend; "
            f"set {' or '.join(LIVE_URL_VARIABLES)} (with its credentials), or use warn or fail"
        )
    return problems


#: The variables naming a live server (pytest_plugin/backends.py ENVIRONMENT reads them).
LIVE_URL_VARIABLES = ("RELAYTOKENS_UCWA_URL", "RELAYTOKENS_RELAY_URL")


def live_configured() -> bool:
    """Whether a live backend is configured (one of its URL variables is set)."""
    return any(os.environ.get(name) for name in LIVE_URL_VARIABLES)


def replay_settings(config: pytest.Config) -> dict[str, object]:
    """The ini/CLI replay options as :class:`~..cassettes.replay.ReplayOptions` arguments."""
    found: dict[str, object] = {
        "allow_playback_repeats": get_option(config, "allow_playback_repeats") == "true",
        "on_expiry": get_option(config, "on_expiry") or "fail",
    }
    for name in ("match_on", "max_age"):
        value = _raw_option(config, name)
        if value is not None:
            found[name] = value
    return found


def _raw_patterns(config: pytest.Config) -> list[str]:
    from_cli = config.getoption("relaytokens_secret_patterns", None) or []
    return [*config.getini("relaytokens_secret_patterns"), *from_cli]


def _pattern_problems(config: pytest.Config) -> list[str]:
    problems = []
    for text in _raw_patterns(config):
        try:
            re.compile(text)
        except re.error as exc:
            problems.append(
                f"secret pattern {text!r} is not a valid regular expression: {exc} "
                "(--relaytokens-secret-pattern / ini relaytokens_secret_patterns)"
            )
    return problems


def secret_patterns(config: pytest.Config) -> list[re.Pattern[str]]:
    """The extra secret patterns (checked at configure)."""
    problems = _pattern_problems(config)
    if problems:
        raise pytest.UsageError("relaytokens: " + "; ".join(problems))
    return [re.compile(text) for text in _raw_patterns(config)]


def clock_start(config: pytest.Config) -> _dt.datetime | None:
    """The configured clock start (None: now), validated."""
    value = _raw_option(config, "start")
    if value is None or value == "now":
        return None
    try:
        start = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise pytest.UsageError(
            f"relaytokens: {_flag('start')} / ini relaytokens_start: {value!r} is not 'now' "
            "or an ISO 8601 datetime such as 2026-01-01T09:00:00Z"
        ) from None
    start = start if start.tzinfo else start.replace(tzinfo=_dt.timezone.utc)
    if not 1971 <= start.year <= 9000:  # tokens and fakes add years to it
        raise pytest.UsageError(
            f"relaytokens: {_flag('start')} / ini relaytokens_start: {value!r} is out of range; "
            "valid values: 'now' or a datetime between the years 1971 and 9000"
        )
    return start


def derive_seed(run_seed: int, nodeid: str) -> int:
    """A test's own seed: stable across runs, orders and xdist workers for one run seed."""
    digest = hashlib.blake2b(f"{run_seed}:{nodeid}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & 0x7FFF_FFFF


class RunState:
    """Per-process state of the plugin: the run seed, resolved options and what the end-of-run
    reports collect.

    A plain class rather than a dataclass: the plugin loads in every pytest run, and
    generating a dataclass's methods at import costs more than the rest of this module.
    """

    def __init__(self, run_seed: int, seed_given: bool) -> None:
        self.run_seed = run_seed
        self.seed_given = seed_given
        self.exercised: dict[str, set[str]] = {"ucwa": set(), "relay": set()}
        self.used = False
        self.flagged = False  # this process already sent the "used" flag with a report
        self.cassettes_used: set[str] = set()
        self.modules: set[str] = set()
        self.deselected: set[str] = set()  # cassettes of deselected tests
        self.deselected_sent = False
        self.backend = "fake"
        self.start: _dt.datetime | None = None
        self.relay_location: str | None = None
        self.ucwa_format = "json"
        self.uri_key = "Uri"
        self.timestamps = "utc_ms"
        self.record_mode = "none"
        self.rebase = False
        self.allow_unexpected = False
        self.allow_unused_faults = False
        self.allow_unplayed = False
        self.block_network = True
        self.allow_hosts: tuple[str, ...] = ()
        self.live_missing = "error"
        #: ini/CLI replay options (the relaytokens_replay marker overrides them per test)
        self.replay: dict[str, object] = {}
        self.run_id = ""  # the same in every xdist worker of one run
        #: what every test without a marker or override shares (immutable; made on first use)
        self.default_policy: TokenPolicy | None = None
        self.default_quirks: UcwaQuirks | None = None
        #: the test running now if it used the plugin (its failure reports show the seed)
        self.current_used: str | None = None
        #: the test running now if its call phase failed (strict teardown checks are skipped)
        self.failed_call: str | None = None
        #: the test running now if its call phase passed (a ``rewrite`` recording is kept)
        self.passed_call: str | None = None

    def __repr__(self) -> str:
        return f"RunState(run_seed={self.run_seed!r}, seed_given={self.seed_given!r}, ...)"

    @classmethod
    def from_config(cls, config: pytest.Config) -> RunState:
        state = cls._seeded(config)
        state.backend = get_option(config, "backend") or "fake"
        state.start = clock_start(config)
        state.relay_location = get_option(config, "relay_location")
        state.ucwa_format = get_option(config, "ucwa_format") or "json"
        state.uri_key = get_option(config, "uri_key") or "Uri"
        state.timestamps = get_option(config, "timestamps") or "utc_ms"
        state.record_mode = get_option(config, "record_mode") or "none"
        state.rebase = get_option(config, "rebase_expiry") == "true"
        state.allow_unexpected = get_option(config, "allow_unexpected") == "true"
        state.allow_unused_faults = get_option(config, "allow_unused_faults") == "true"
        state.allow_unplayed = get_option(config, "allow_unplayed") == "true"
        state.block_network = get_option(config, "block_network") == "true"
        state.allow_hosts = allowed_hosts(config)  # checked by check_options
        state.live_missing = get_option(config, "live_missing") or "error"
        state.replay = replay_settings(config)
        worker_input = getattr(config, "workerinput", None) or {}
        state.run_id = str(
            worker_input.get("relaytokens_run_id")
            or worker_input.get("testrunuid")
            or f"{os.getpid()}-{random.SystemRandom().getrandbits(64)}"
        )
        return state

    @classmethod
    def _seeded(cls, config: pytest.Config) -> RunState:
        given = _raw_option(config, "seed")
        if given is not None:
            return cls(int(given), True)
        worker_input = getattr(config, "workerinput", None)
        if worker_input is not None and "relaytokens_seed" in worker_input:
            return cls(int(worker_input["relaytokens_seed"]), False)
        randomly = randomly_seed(config)
        if randomly is not None:
            return cls(randomly, False)
        return cls(random.SystemRandom().randrange(1, 2**31), False)


def randomly_seed(config: pytest.Config) -> int | None:
    """pytest-randomly's seed for this run when that plugin is active (it picks its own
    seed at configure when ``--randomly-seed`` is not given)."""
    if not config.pluginmanager.has_plugin("randomly"):
        return None
    value = getattr(config.option, "randomly_seed", None)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value
