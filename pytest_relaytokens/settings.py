"""Run-wide settings: command-line options and ini keys, and the run seed.

Precedence, lowest first: ini key < command-line option < a conftest override of the
matching fixture < a marker on the test, class or module.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import random
from dataclasses import dataclass, field

import pytest

__all__ = ["OPTIONS", "RunState", "clock_start", "derive_seed", "get_option"]

# name -> (help, default, choices)
OPTIONS: dict[str, tuple[str, str | None, tuple[str, ...] | None]] = {
    "seed": (
        "run seed for every fake and factory (default: pytest-randomly's seed or a fresh "
        "random one, printed for failing tests)",
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
    "allow_unexpected": (
        "do not fail tests at teardown on requests the fakes did not expect (true/false)",
        "false",
        ("true", "false"),
    ),
    "backend": (
        "where token fixtures come from: fake, replay (cassettes) or live",
        "fake",
        ("fake", "replay", "live"),
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
        ("true", "false"),
    ),
    "unused_cassettes": (
        "report cassettes under the cassette folders that no test used (true/false)",
        "false",
        ("true", "false"),
    ),
}


def get_option(config: pytest.Config, name: str) -> str | None:
    """The command-line value of ``--relaytokens-<name>``, else the ini key, else the default."""
    value = config.getoption(f"relaytokens_{name}", None)
    if value is None:
        ini = config.getini(f"relaytokens_{name}")
        value = ini if ini not in ("", None, []) else None
    if value is None:
        value = OPTIONS[name][1]
    if value is None:
        return None
    value = str(value).strip()
    choices = OPTIONS[name][2]
    if choices is not None and value not in choices:
        raise pytest.UsageError(
            f"relaytokens: --relaytokens-{name.replace('_', '-')} / ini relaytokens_{name}: "
            f"unknown value {value!r}; valid values: {', '.join(choices)}"
        )
    return value


def clock_start(config: pytest.Config) -> _dt.datetime | None:
    """The configured clock start (None: now), validated."""
    value = get_option(config, "start")
    if value is None or value == "now":
        return None
    try:
        start = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise pytest.UsageError(
            f"relaytokens: --relaytokens-start / ini relaytokens_start: {value!r} is not 'now' "
            "or an ISO 8601 datetime such as 2026-01-01T09:00:00Z"
        ) from None
    return start if start.tzinfo else start.replace(tzinfo=_dt.timezone.utc)


def derive_seed(run_seed: int, nodeid: str) -> int:
    """A test's own seed: stable across runs, orders and xdist workers for one run seed."""
    digest = hashlib.blake2b(f"{run_seed}:{nodeid}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & 0x7FFF_FFFF


@dataclass
class RunState:
    """Per-process state of the plugin: the run seed and what the error report collects."""

    run_seed: int
    seed_given: bool
    exercised: dict[str, set[str]] = field(default_factory=lambda: {"ucwa": set(), "relay": set()})
    used: bool = False
    flagged: bool = False  # this process already sent the "used" flag with a report
    cassettes_used: set[str] = field(default_factory=set)
    modules: set[str] = field(default_factory=set)
    backend: str = "fake"
    start: _dt.datetime | None = None
    relay_location: str | None = None

    @classmethod
    def from_config(cls, config: pytest.Config) -> RunState:
        given = get_option(config, "seed")
        worker_input = getattr(config, "workerinput", None)
        if given is not None:
            try:
                return cls(int(given), True)
            except ValueError:
                raise pytest.UsageError(
                    f"relaytokens: --relaytokens-seed must be an integer, got {given!r}"
                ) from None
        if worker_input is not None and "relaytokens_seed" in worker_input:
            return cls(int(worker_input["relaytokens_seed"]), False)
        randomly = getattr(config.option, "randomly_seed", None)
        if isinstance(randomly, int):
            return cls(randomly, False)
        return cls(random.SystemRandom().randrange(1, 2**31), False)
