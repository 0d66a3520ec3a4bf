"""More plugin behaviour: quirk options, fixture overrides, cassette folder, time travel,
xdist + randomly reproducibility, option usage errors."""

from __future__ import annotations

import json

import pytest

QUIRKS_PROBE = """
def test_quirks(ucwa_token_response, pytestconfig):
    body = ucwa_token_response.body
    (pytestconfig.rootpath / "quirks.txt").write_text(
        ("uri" if b'"uri"' in body else "Uri") + " " + ("iso" if b"Date(" not in body else "ms"))
"""


def _quirks(pytester: pytest.Pytester, *args: str) -> str:
    pytester.runpytest(*args).assert_outcomes(passed=1)
    return (pytester.path / "quirks.txt").read_text()


def test_quirk_options_ini_conftest_and_marker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(QUIRKS_PROBE)
    assert _quirks(pytester) == "Uri ms"
    assert (
        _quirks(pytester, "--relaytokens-uri-key=uri", "--relaytokens-timestamps=iso") == "uri iso"
    )
    pytester.makeconftest(
        "import pytest\nfrom pytest_relaytokens import UcwaQuirks\n\n"
        "@pytest.fixture\ndef relaytokens_ucwa_quirks():\n"
        "    return UcwaQuirks(uri_key='uri', timestamps='utc_ms')\n"
    )
    assert _quirks(pytester, "--relaytokens-timestamps=iso") == "uri ms"
    pytester.makepyfile(
        "import pytest\npytestmark = pytest.mark.ucwa_quirks(timestamps='iso')\n" + QUIRKS_PROBE
    )
    assert _quirks(pytester) == "uri iso"  # marker field wins, the rest from the override


def test_backend_fixture_override_and_marker(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        "import pytest\n\n@pytest.fixture\ndef relaytokens_backend():\n    return 'replay'\n"
    )
    pytester.makepyfile(
        """
        import pytest

        def test_replayed(relay_access_token):
            assert relay_access_token.enterprise_name  # from the shipped library cassette

        @pytest.mark.relaytokens_backend("fake")
        def test_fake(relay_access_token, relaytokens_clock):
            assert not relay_access_token.is_expired(relaytokens_clock.now())
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


def test_cassette_dir_option(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_dir="""
        def test_where(relaytokens_cassette, pytestconfig):
            assert relaytokens_cassette == pytestconfig.rootpath / "recorded" / "test_dir" / "test_where.yaml"
        """
    )
    pytester.runpytest("--relaytokens-cassette-dir=recorded").assert_outcomes(passed=1)


def test_ucwa_clock_skew_and_time_travel(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import datetime as dt
        import pytest, requests, time_machine

        @pytest.mark.token_clock_skew(-120)
        def test_skew(ucwa_api, relaytokens_clock):
            r = requests.get(ucwa_api.token_url(), headers={
                "Authorization": "Bearer " + ucwa_api.credentials.bearer})
            from pytest_relaytokens.ucwa import wire
            token = wire.parse(r.content, r.headers["Content-Type"])
            assert token.valid_until - relaytokens_clock.now() == dt.timedelta(minutes=478)

        def test_travel_expires_tokens(ucwa_token, relay_access_token, relaytokens_clock):
            with time_machine.travel(relaytokens_clock.now() + dt.timedelta(days=15), tick=False):
                assert ucwa_token.is_expired(relaytokens_clock.now())
                assert relay_access_token.is_expired(relaytokens_clock.now())
            assert not ucwa_token.is_expired(relaytokens_clock.now())
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


@pytest.mark.heavy
def test_reproducible_under_xdist_and_randomly(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import json, os, pytest

        @pytest.mark.parametrize("n", range(6))
        def test_token(n, relay_access_token, ucwa_token, pytestconfig):
            out = pytestconfig.rootpath / "out" / f"{n}.json"
            out.parent.mkdir(exist_ok=True)
            out.write_text(json.dumps([relay_access_token.access_token, ucwa_token.user_name]))
        """
    )

    def tokens(*args: str) -> dict[str, list[str]]:
        pytester.runpytest(*args).assert_outcomes(passed=6)
        return {p.name: json.loads(p.read_text()) for p in (pytester.path / "out").iterdir()}

    fixed = ("--relaytokens-seed=4242", "--relaytokens-start=2026-03-01T00:00:00Z")
    serial = tokens(*fixed)
    parallel = tokens(*fixed, "-n", "2", "-p", "randomly", "-p", "xdist")
    assert serial == parallel
    assert len({v[0] for v in serial.values()}) == 6  # each test its own seed


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--relaytokens-seed=abc"], "*relaytokens_seed: 'abc' is not an integer*"),
        (["--relaytokens-start=yesterday"], "*'yesterday' is not 'now' or an ISO 8601 datetime*"),
    ],
)
def test_bad_option_values(pytester: pytest.Pytester, args: list[str], expected: str) -> None:
    pytester.makepyfile("def test_a(relaytokens_clock):\n    pass\n")
    result = pytester.runpytest(*args)
    assert result.ret != 0
    (result.stderr.str() + result.stdout.str()).index(expected.strip("*").split("*")[0])


def test_relay_location_quirk_for_fixtures_and_fake(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest, requests
        from pytest_relaytokens.ucwa import wire

        @pytest.mark.ucwa_quirks(location="Intranet")
        def test_marker(ucwa_token, ucwa_token_response, ucwa_api):
            assert [r.location for r in ucwa_token.media_relays] == ["Intranet"]
            parsed = wire.parse(ucwa_token_response.body, "application/json")
            assert parsed == wire.at_wire_precision(ucwa_token)
            r = requests.get(ucwa_api.token_url(),
                             headers={"Authorization": "Bearer " + ucwa_api.credentials.bearer})
            assert r.json()["_embedded"]["mediaRelay"][0]["location"] == "Intranet"

        def test_option(ucwa_token):
            assert [r.location for r in ucwa_token.media_relays] == ["All"]
        """
    )
    pytester.runpytest("--relaytokens-relay-location=All").assert_outcomes(passed=2)
    bad = pytester.runpytest("--relaytokens-relay-location=Moon")
    assert bad.ret != 0


def test_relay_location_marker_value_is_validated(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        "import pytest\n\n@pytest.mark.ucwa_quirks(location='Moon')\ndef test_a():\n    pass\n"
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*@pytest.mark.ucwa_quirks: unknown location 'Moon'; valid values: 'Internet', 'Intranet', 'All'"
        ]
    )
