"""Cassette age: max_age by marker, ini and CLI; on_expiry warn, fail, re-record (issue 19, 8)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from pytest_relaytokens.cassettes.age import age_problem, parse_max_age
from pytest_relaytokens.clock import Clock
from pytest_relaytokens.library import scenario_path
from pytest_relaytokens.relay.service import RelayService
from pytest_relaytokens.transports.server import LoopbackServer, PathRouter
from pytest_relaytokens.ucwa.service import UcwaService

TEST = """
import pytest

pytestmark = pytest.mark.relaytokens_cassette("relay.yaml")

def test_token(relay_access_token):
    assert relay_access_token.access_token
"""


def write_recorded(folder: Path, recorded_at: str) -> Path:
    data = yaml.safe_load(scenario_path("relay/token-basic").read_text())
    data["relaytokens"]["recorded_at"] = recorded_at
    path = folder / "relay.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()


def test_max_age_parses_units_and_refuses_nonsense() -> None:
    assert parse_max_age("30d") == dt.timedelta(days=30)
    assert parse_max_age("2w") == parse_max_age(14 * 86400)
    for bad in ("", "-1d", "soon", 0, True, "99999w"):
        with pytest.raises(ValueError, match="is not a duration"):
            parse_max_age(bad)
    now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    assert age_problem(Path("c.yaml"), "2025-12-31T00:00:00Z", dt.timedelta(days=2), now) is None
    problem = age_problem(Path("c.yaml"), "2025-01-01T00:00:00Z", dt.timedelta(days=30), now)
    assert problem == (
        "cassette c.yaml was recorded 365 day(s) ago (2025-01-01), older than its max_age "
        "of 30 day(s)"
    )


def test_an_old_cassette_fails_by_marker(pytester: pytest.Pytester) -> None:
    write_recorded(pytester.path, "2020-01-05T09:30:00+00:00")
    pytester.makepyfile(
        TEST.replace(
            'pytestmark = pytest.mark.relaytokens_cassette("relay.yaml")',
            'pytestmark = [pytest.mark.relaytokens_cassette("relay.yaml"),\n'
            '              pytest.mark.relaytokens_replay(max_age="30d")]',
        )
    )
    result = pytester.runpytest("--relaytokens-backend=replay")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*cassette *relay.yaml was recorded * day(s) ago (2020-01-05), older than its "
            "max_age of 30 day(s). Re-record it with `pytest --relaytokens-backend=live "
            "--relaytokens-record-mode=rewrite`*relaytokens drift*",
        ]
    )


def test_ini_and_cli_set_max_age_and_on_expiry(pytester: pytest.Pytester) -> None:
    write_recorded(pytester.path, "2020-01-05T09:30:00+00:00")
    pytester.makepyfile(TEST)
    pytester.runpytest("--relaytokens-backend=replay").assert_outcomes(passed=1)  # no limit
    failed = pytester.runpytest("--relaytokens-backend=replay", "--relaytokens-max-age=90d")
    failed.assert_outcomes(errors=1)
    pytester.makeini("[pytest]\nrelaytokens_max_age = 90d\nrelaytokens_on_expiry = warn\n")
    warned = pytester.runpytest("--relaytokens-backend=replay")
    warned.assert_outcomes(passed=1, warnings=1)
    warned.stdout.fnmatch_lines(["*CassetteExpiredWarning: cassette *relay.yaml was recorded*"])


def test_a_young_cassette_passes(pytester: pytest.Pytester) -> None:
    write_recorded(pytester.path, _now())
    pytester.makepyfile(TEST)
    pytester.runpytest("--relaytokens-backend=replay", "--relaytokens-max-age=1d").assert_outcomes(
        passed=1
    )


def test_bad_values_and_re_record_without_live_backend_are_usage_errors(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("RELAYTOKENS_UCWA_URL", "RELAYTOKENS_RELAY_URL"):
        monkeypatch.delenv(name, raising=False)
    pytester.makepyfile(TEST)
    result = pytester.runpytest("--relaytokens-max-age=ages", "--relaytokens-on-expiry=re-record")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*--relaytokens-max-age / ini relaytokens_max_age: max_age 'ages' is not a duration*",
            "*--relaytokens-on-expiry / ini relaytokens_on_expiry: re-record needs a live "
            "backend; set RELAYTOKENS_UCWA_URL or RELAYTOKENS_RELAY_URL*",
        ]
    )
    write_recorded(pytester.path, "2020-01-05T09:30:00+00:00")
    pytester.makepyfile(
        TEST + '\n@pytest.mark.relaytokens_replay(max_age="1d", on_expiry="re-record")\n'
        "def test_marked(relay_access_token):\n    pass\n"
    )
    marked = pytester.runpytest("--relaytokens-backend=replay", "-k", "marked")
    marked.assert_outcomes(errors=1)
    marked.stdout.fnmatch_lines(["*on_expiry='re-record' needs a live backend: set*"])


@pytest.fixture
def live_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackServer]:
    """A loopback server standing in for the live Relay (and UCWA) API."""
    clock = Clock()
    ucwa, relay = UcwaService(clock=clock, seed=21), RelayService(clock=clock, seed=22)
    with LoopbackServer(PathRouter([("/api/", relay)], default=ucwa)) as server:
        monkeypatch.setenv("RELAYTOKENS_RELAY_URL", server.url)
        monkeypatch.setenv("RELAYTOKENS_RELAY_USERNAME", relay.credentials.username)
        monkeypatch.setenv("RELAYTOKENS_RELAY_PASSWORD", relay.credentials.password)
        yield server


def test_re_record_replaces_an_old_cassette_from_the_live_backend(
    pytester: pytest.Pytester, live_server: LoopbackServer
) -> None:
    cassette = write_recorded(pytester.path, "2020-01-05T09:30:00+00:00")
    pytester.makepyfile(TEST)
    pytester.runpytest(
        "--relaytokens-backend=replay",
        "--relaytokens-max-age=30d",
        "--relaytokens-on-expiry=re-record",
    ).assert_outcomes(passed=1)
    recorded = yaml.safe_load(cassette.read_text())["relaytokens"]["recorded_at"]
    assert recorded.startswith(str(dt.datetime.now(dt.timezone.utc).year))
    assert "127.0.0.1" in cassette.read_text()  # what the live server answered
