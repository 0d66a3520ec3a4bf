"""The plugin's semantics: one set of fakes per test, truthful setting fixtures, strict
teardown, a blocked network, one cassette per test, seeds, and validation at the door."""

from __future__ import annotations

import re

import pytest


def test_one_set_of_fakes_per_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest, requests, httpx

        def test_same_services(ucwa_api, relay_api, relaytokens_server, ucwa_token,
                               relay_access_token):
            assert relaytokens_server.ucwa is ucwa_api
            assert relaytokens_server.relay is relay_api
            assert ucwa_token in ucwa_api.issued_tokens
            assert relay_access_token.access_token in [t.access_token for t in relay_api.issued_tokens]
            # the URL the fake hands out points at the server the test reaches
            assert ucwa_api.token_url().startswith(relaytokens_server.url)
            bearer = {"Authorization": "Bearer " + ucwa_api.credentials.bearer}
            assert requests.get(ucwa_api.token_url(), headers=bearer).status_code == 200
            assert httpx.get(ucwa_api.token_url(), headers=bearer).status_code == 200
            assert len(ucwa_api.log) == 2  # one request log, whatever the transport

        def test_explicit_port_and_case(ucwa_api):
            bearer = {"Authorization": "Bearer " + ucwa_api.credentials.bearer}
            url = "https://FE1.contoso.com:443" + ucwa_api.token_path()
            assert requests.get(url, headers=bearer).status_code == 200
            assert httpx.get(url, headers=bearer).status_code == 200

        def test_server_first(relaytokens_server, ucwa_api, relay_api):
            assert relaytokens_server.ucwa is ucwa_api and relaytokens_server.relay is relay_api
            bearer = {"Authorization": "Bearer " + ucwa_api.credentials.bearer}
            for base in (relaytokens_server.url, "https://fe1.contoso.com"):
                assert requests.get(base + ucwa_api.token_path(), headers=bearer).status_code == 200
            creds = relay_api.credentials
            for base in (relaytokens_server.url, "https://relay.bluejeans.com"):
                created = requests.post(base + "/api/auth/accesstokens",
                                        auth=(creds.username, creds.password))
                assert created.status_code == 200

        @pytest.mark.ucwa_error("Conflict", times=None)
        def test_markers_apply_to_every_transport(ucwa_api, relaytokens_server):
            bearer = {"Authorization": "Bearer " + ucwa_api.credentials.bearer}
            path = ucwa_api.token_path()
            served = requests.get(relaytokens_server.url + path, headers=bearer)
            in_process = requests.get("https://fe1.contoso.com" + path, headers=bearer)
            assert served.status_code == in_process.status_code == 409
        """
    )
    pytester.runpytest("-p", "no:xdist").assert_outcomes(passed=4)


def test_setting_fixtures_tell_the_truth_under_markers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest, requests

        @pytest.mark.relaytokens_backend("replay")
        @pytest.mark.ucwa_format("xml")
        @pytest.mark.ucwa_quirks(location="Intranet", uri_key="uri")
        def test_marked(relaytokens_backend, relaytokens_ucwa_format, relaytokens_ucwa_quirks):
            assert relaytokens_backend == "replay"
            assert relaytokens_ucwa_format == "xml"
            assert relaytokens_ucwa_quirks.location == "Intranet"
            assert relaytokens_ucwa_quirks.uri_key == "uri"

        def test_options(relaytokens_backend, relaytokens_ucwa_format, relaytokens_ucwa_quirks):
            assert (relaytokens_backend, relaytokens_ucwa_format) == ("fake", "xml")
            assert relaytokens_ucwa_quirks.timestamps == "iso"

        @pytest.mark.ucwa_format("xml")
        def test_format_is_the_fakes_default(ucwa_api):
            bearer = {"Authorization": "Bearer " + ucwa_api.credentials.bearer}
            for accept in ("*/*", None, "application/*"):
                headers = dict(bearer, **({"Accept": accept} if accept else {}))
                answer = requests.get(ucwa_api.token_url(), headers=headers)
                assert answer.headers["Content-Type"].startswith("application/xml"), accept
            asked = requests.get(ucwa_api.token_url(), headers=dict(bearer, Accept="application/json"))
            assert asked.headers["Content-Type"].startswith("application/json")
        """
    )
    result = pytester.runpytest("--relaytokens-ucwa-format=xml", "--relaytokens-timestamps=iso")
    result.assert_outcomes(passed=3)


def test_conftest_override_is_what_the_fakes_use(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture
        def relaytokens_ucwa_format():
            return "xml"

        @pytest.fixture
        def relaytokens_ucwa_quirks():
            from pytest_relaytokens import UcwaQuirks

            return UcwaQuirks(uri_key="uri", location="All")
        """
    )
    pytester.makepyfile(
        """
        import pytest

        def test_override(ucwa_token_response, relaytokens_ucwa_format, ucwa_token):
            assert relaytokens_ucwa_format == "xml"
            assert ucwa_token_response.body.startswith(b"<?xml")
            assert b'name="uri"' in ucwa_token_response.body
            assert {r.location for r in ucwa_token.media_relays} == {"All"}

        @pytest.mark.ucwa_quirks(location="Intranet")
        def test_marker_wins_over_override(ucwa_token):
            assert {r.location for r in ucwa_token.media_relays} == {"Intranet"}
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


def test_tokens_know_their_clock(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import datetime as dt
        import pytest

        @pytest.mark.token_expires_in(60)
        def test_clock(ucwa_token, relay_access_token, relaytokens_clock):
            assert not ucwa_token.is_expired() and not relay_access_token.is_expired()
            assert ucwa_token.remaining() == dt.timedelta(seconds=60)
            relaytokens_clock.advance(61)
            assert ucwa_token.is_expired() and relay_access_token.is_expired()
            assert relay_access_token.remaining() == dt.timedelta(seconds=-1)

        @pytest.mark.token_expires_in(60)
        def test_fake_issued(relay_api, ucwa_api, relaytokens_clock):
            import requests

            issued = relay_api.issue_token()
            creds = relay_api.credentials
            requests.post(relay_api.base_url + "/api/auth/accesstokens",
                          auth=(creds.username, creds.password))
            bearer = {"Authorization": "Bearer " + ucwa_api.credentials.bearer}
            requests.get(ucwa_api.token_url(), headers=bearer)
            tokens = [issued, *relay_api.issued_tokens, *ucwa_api.issued_tokens]
            assert len(tokens) == 6 and not any(t.is_expired() for t in tokens)
            relaytokens_clock.advance(61)
            assert all(t.is_expired() for t in tokens)
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


STRICT = """
import pytest, requests

def test_unused_fault(relay_api):
    relay_api.arm_error("BadCredentialsException")

@pytest.mark.ucwa_error("Conflict", times=2)
def test_unused_marker(ucwa_api):
    pass

def test_used_fault(relay_api):
    relay_api.arm_error("BadCredentialsException")
    creds = relay_api.credentials
    url = relay_api.base_url + "/api/auth/accesstokens"
    assert requests.post(url, auth=(creds.username, creds.password)).status_code == 401
"""


def test_armed_faults_never_consumed_fail_at_teardown(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_strict=STRICT)
    result = pytester.runpytest()
    result.assert_outcomes(passed=3, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*relay_api: 1 armed error(s)/fault(s) were never consumed by a request:",
            "*401-BadCredentialsException*(1 use(s) left)",
            "*@pytest.mark.relaytokens_allow(unused_faults=True) or "
            "--relaytokens-allow-unused-faults=true*",
        ]
    )
    result.stdout.fnmatch_lines(["*ucwa 409-Conflict*(2 use(s) left)"])
    pytester.runpytest("--relaytokens-allow-unused-faults=true").assert_outcomes(passed=3)
    marked = "import pytest\npytestmark = pytest.mark.relaytokens_allow(unused_faults=True)\n"
    pytester.makepyfile(test_strict=marked + STRICT)
    pytester.runpytest().assert_outcomes(passed=3)


@pytest.mark.parametrize("option", ["--setup-only", "--setup-plan"])
def test_setup_only_runs_no_strict_teardown_checks(pytester: pytest.Pytester, option: str) -> None:
    pytester.makepyfile(test_strict=STRICT)
    result = pytester.runpytest(option, "-p", "no:randomly")
    assert result.ret == 0, result.stdout.str()
    assert "never consumed" not in result.stdout.str()


def test_unexpected_requests_fail_naming_the_opt_out(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest, requests

        def test_unknown_path(relay_api):
            requests.get(relay_api.base_url + "/api/no/such/thing")

        @pytest.mark.relaytokens_allow(unexpected=True)
        def test_allowed(relay_api):
            requests.get(relay_api.base_url + "/api/no/such/thing")
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*relay_api: the fake received 1 request(s) it did not expect:",
            "*GET https://relay.bluejeans.com/api/no/such/thing -> 404",
            "*relaytokens_allow(unexpected=True)*--relaytokens-allow-unexpected=true*",
        ]
    )


NETWORK = """
import httpx, pytest, requests

def test_requests(relay_api):
    with pytest.raises(Exception) as raised:
        requests.get("https://example.org/x", timeout=2)
    assert "example.org" in str(raised.value)

def test_httpx(ucwa_api):
    with pytest.raises(Exception) as raised:
        httpx.get("https://example.org/x", timeout=2)
    assert "example.org" in str(raised.value)

def test_loopback_still_reachable(relaytokens_server):
    assert requests.get(relaytokens_server.url + "/autodiscover/autodiscoverservice.svc/root").ok
"""


def test_network_is_blocked_in_fake_mode(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_net=NETWORK)
    result = pytester.runpytest("-p", "no:xdist")
    # the tests see the refusal, and teardown fails them even though they caught it
    result.assert_outcomes(passed=3, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*relaytokens blocked a request to 'example.org' (GET https://example.org/x): "
            "in fake and replay mode only the fakes*"
            "*relaytokens_allow(hosts=??example.org??) or --relaytokens-allow-hosts=example.org*",
        ]
    )


def test_allowed_hosts_are_not_blocked(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest, requests
        from pytest_relaytokens import NetworkBlockedError

        @pytest.mark.relaytokens_allow(hosts=["allowed.invalid"])
        def test_marker(relay_api):
            with pytest.raises(requests.ConnectionError):  # goes out (and fails to resolve)
                requests.get("http://allowed.invalid/", timeout=2)
            with pytest.raises(NetworkBlockedError):
                requests.get("http://other.invalid/", timeout=2)

        def test_option(relay_api):
            with pytest.raises(requests.ConnectionError):
                requests.get("http://byoption.invalid/", timeout=2)
        """
    )
    result = pytester.runpytest("--relaytokens-allow-hosts=byoption.invalid")
    result.assert_outcomes(passed=2, errors=1)  # test_marker tried other.invalid
    result.stdout.fnmatch_lines(["*blocked a request to 'other.invalid'*"])


def test_cassettes_are_one_per_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_names="""
        class TestA:
            def test_call(self, relaytokens_cassette):
                print("CASSETTE", relaytokens_cassette)

        class TestB:
            def test_call(self, relaytokens_cassette):
                print("CASSETTE", relaytokens_cassette)

        def test_call(relaytokens_cassette):
            print("CASSETTE", relaytokens_cassette)
        """
    )
    result = pytester.runpytest("-s")
    result.assert_outcomes(passed=3)
    paths = re.findall(r"CASSETTE (\S+)", result.stdout.str())
    assert [p.rsplit("/", 1)[1] for p in paths] == [
        "TestA.test_call.yaml",
        "TestB.test_call.yaml",
        "test_call.yaml",
    ]


def test_two_tests_on_one_cassette_file_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_clash="""
        import pytest

        def test_Call(ucwa_api):
            pass

        def test_call(ucwa_api):
            pass

        @pytest.mark.relaytokens_cassette("shared.yaml")
        def test_one(relay_api):
            pass

        @pytest.mark.relaytokens_cassette("shared.yaml")
        def test_two(relay_api):
            pass
        """
    )
    pytester.runpytest().assert_outcomes(passed=4)  # the fake backend uses no cassette
    result = pytester.runpytest("--relaytokens-backend=replay")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*tests test_clash.py::test_Call, test_clash.py::test_call resolve to the same "
            "cassette file *test_Call.yaml*relaytokens_cassette*"
        ]
    )
    assert "test_one" not in result.stderr.str()


@pytest.mark.parametrize(
    ("marker", "expected"),
    [
        ('token_expires_in(float("nan"))', "seconds must be finite, got nan"),
        ('token_expires_in(float("inf"))', "seconds must be finite, got inf"),
        ("token_expires_in(10**30)", "seconds out of range"),
        ("token_expires_in(10**12)", "seconds out of range"),
        ("token_clock_skew(-10**12)", "seconds out of range"),
        ("token_expired(5)", "too many positional arguments"),
        ("ucwa_error()", "missing a required argument: 'code'"),
        ('ucwa_quirks("uri")', "too many positional arguments"),
        ("token_never_expires(ttl=5)", "unexpected keyword argument 'ttl'"),
        ('ucwa_quirks(offset="+25:00")', "bad offset '+25:00'"),
        ('ucwa_quirks(offset="07:00")', "bad offset '07:00'"),
        ('relaytokens_errors("6xx-ish")', "selector '6xx-ish' matches no catalogued error"),
        ("relaytokens_errors(409)", "needs one or more selector strings"),
        ('relay_error("BadCredentialException")', "did you mean 'BadCredentialsException'"),
        ('ucwa_error("Conflikt")', "did you mean 'Conflict'"),
        ("relay_error(None)", "unknown Relay error None"),
        ('relaytokens_backend("cloud")', "unknown backend 'cloud'"),
        ('relaytokens_allow(hosts=[""])', "hosts must be host names"),
    ],
)
def test_every_bad_marker_argument_is_a_usage_error(
    pytester: pytest.Pytester, marker: str, expected: str
) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.{marker}
        def test_wrong(ucwa_error):
            pass
        """
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    result.stderr.fnmatch_lines([f"*::test_wrong*: @pytest.mark.*: *{expected}*valid values: *"])


def test_every_bad_marker_of_the_run_is_listed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_a="""
        import pytest

        @pytest.mark.token_expires_in(-1)
        @pytest.mark.ucwa_format("yaml")
        def test_one():
            pass
        """,
        test_b="""
        import pytest

        @pytest.mark.relay_error("Nope")
        def test_two():
            pass
        """,
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: relaytokens: 3 problem(s) with markers or cassettes:",
            "test_a.py::test_one: @pytest.mark.token_expires_in: *",
            "test_a.py::test_one: @pytest.mark.ucwa_format: *",
            "test_b.py::test_two: @pytest.mark.relay_error: *",
        ]
    )


def test_run_seed_follows_pytest_randomly(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a(relaytokens_seed):\n    pass\n")
    result = pytester.runpytest("-p", "randomly")
    randomly = re.search(r"Using --randomly-seed=(\d+)", result.stdout.str())
    ours = re.search(r"relaytokens: run seed (\d+)", result.stdout.str())
    assert randomly and ours and randomly.group(1) == ours.group(1)
    again = pytester.runpytest("-p", "randomly", "-p", "randomly", "-p", "no:cacheprovider")
    assert re.search(r"relaytokens: run seed (\d+)", again.stdout.str())


def test_live_tests_can_skip_without_environment(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("URL", "USERNAME", "PASSWORD"):
        monkeypatch.delenv(f"RELAYTOKENS_RELAY_{name}", raising=False)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.relaytokens_backend("live")
        def test_live(relay_api):
            pass

        def test_fake(relay_api):
            pass
        """
    )
    pytester.runpytest().assert_outcomes(passed=1, errors=1)
    result = pytester.runpytest("--relaytokens-live-missing=skip", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*SKIPPED*RELAYTOKENS_RELAY_URL*"])


def test_nothing_outlives_its_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import gc, weakref

        REFS = []

        def test_uses(ucwa_api, relaytokens_server, request):
            REFS.append(weakref.ref(ucwa_api))
            REFS.append(request.node)

        def test_after():
            gc.collect()
            assert REFS[0]() is None
        """
    )
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


@pytest.mark.heavy
def test_semantics_hold_under_xdist_and_randomly(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_strict=STRICT, test_net=NETWORK)
    result = pytester.runpytest("-n", "2", "-p", "xdist", "-p", "randomly")
    result.assert_outcomes(passed=6, errors=4)


SHARED_SERVER = """
import pytest, requests

URLS, TOKENS = set(), []

def _create(server):
    creds = server.relay.credentials
    return requests.post(server.url + "/api/auth/accesstokens", auth=(creds.username, creds.password))

@pytest.mark.parametrize("n", range(4))
def test_fresh_fakes_on_one_server(relaytokens_shared_server, relay_api, n):
    server = relaytokens_shared_server
    assert server.relay is relay_api and relay_api.base_url == server.url
    URLS.add(server.url)
    assert len(URLS) == 1  # started once for the session (per worker)
    for old in TOKENS:  # a token of an earlier test means nothing to this test's fake
        r = requests.get(server.url + "/api/enterprises/self", headers={"X-Access-Token": old})
        assert r.status_code == 401
    before = len(relay_api.issued_tokens)  # the fresh fake's own pre-issued tokens only
    created = _create(server)
    assert created.status_code == 200
    TOKENS.append(created.json()["accessToken"])
    assert len(relay_api.issued_tokens) == before + 1

@pytest.mark.relay_error("BadCredentialsException")
def test_markers_apply(relaytokens_shared_server):
    assert _create(relaytokens_shared_server).status_code == 401
"""


@pytest.mark.parametrize(
    "xdist", [False, pytest.param(True, marks=pytest.mark.heavy)], ids=["serial", "xdist"]
)
def test_session_server_resets_its_fakes_between_tests(
    pytester: pytest.Pytester, xdist: bool
) -> None:
    pytester.makepyfile(test_shared_server=SHARED_SERVER)
    args = ["-n", "2", "-p", "xdist", "-p", "randomly"] if xdist else []
    pytester.runpytest(*args).assert_outcomes(passed=5)


def test_replayed_errors_count_as_exercised(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest, requests

        pytestmark = pytest.mark.relaytokens_backend("replay")

        @pytest.mark.relaytokens_cassette("library:relay/errors/503-ListenerOffline")
        def test_relay(relay_api):
            answer = requests.post(relay_api.base_url + "/api/auth/accesstokens",
                                   headers={"Accept": "application/json"})
            assert answer.status_code == 503

        @pytest.mark.relaytokens_cassette("library:ucwa/errors/409-Conflict")
        def test_ucwa(ucwa_api):
            from urllib.parse import urlsplit
            import yaml
            from pytest_relaytokens.library import scenario_path

            recorded = yaml.safe_load(scenario_path("ucwa/errors/409-Conflict").read_text())
            path = next(  # the token path as recorded (its application id comes from the seed)
                urlsplit(i["request"]["uri"]).path
                for i in recorded["interactions"]
                if i["request"]["uri"].endswith("/mediaRelayAccessToken")
            )
            answer = requests.get(ucwa_api.base_url + path, headers={"Accept": "application/json"})
            assert answer.status_code == 409
        """
    )
    report = pytester.path / "coverage.json"
    pytester.runpytest(f"--relaytokens-report={report}").assert_outcomes(passed=2)
    import json

    data = json.loads(report.read_text())
    served = {
        api: {i for g in data[api]["groups"].values() for i in g["exercised"]} for api in data
    }
    assert served == {"ucwa": {"409-Conflict"}, "relay": {"503-ListenerOffline"}}


@pytest.mark.parametrize(
    "xdist", [False, pytest.param(True, marks=pytest.mark.heavy)], ids=["serial", "xdist"]
)
def test_unused_cassettes_report_ignores_deselected_tests(
    pytester: pytest.Pytester, xdist: bool
) -> None:
    pytester.makepyfile(
        test_pair="""
        def test_kept(relaytokens_cassette):
            assert relaytokens_cassette.is_file()

        def test_other(relaytokens_cassette):
            pass
        """
    )
    folder = pytester.path / "cassettes" / "test_pair"
    folder.mkdir(parents=True)
    for name in ("test_kept", "test_other", "test_gone"):
        (folder / f"{name}.yaml").write_text("interactions: []\nversion: 1\n")
    args = ["--relaytokens-unused-cassettes=true", "-k", "kept"]
    if xdist:
        args += ["-n", "2", "-p", "xdist"]
    result = pytester.runpytest(*args)
    result.assert_outcomes(passed=1)
    unused = [ln for ln in result.outlines if ln.startswith("unused:")]
    assert len(unused) == 1 and unused[0].endswith("test_gone.yaml"), unused


def test_messages_never_quote_a_token_or_password(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pathlib
        import pytest, requests

        def test_unexpected(relay_api):
            token = relay_api.credentials.access_token
            pathlib.Path("token.txt").write_text(token)
            requests.get(relay_api.base_url + "/api/nothing/here", params={"accesstoken": token})

        def test_blocked(relay_api):
            with pytest.raises(Exception):
                requests.get("https://alice:hunter2secret@example.org/x?accesstoken=abcsecret")
        """
    )
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest(f"--junitxml={junit}")
    result.assert_outcomes(passed=2, errors=2)
    text = result.stdout.str() + junit.read_text()
    result.stdout.fnmatch_lines(
        ["*GET https://relay.bluejeans.com/api/nothing/here?accesstoken=<hidden> -> 404"]
    )
    token = (pytester.path / "token.txt").read_text()
    for secret in ("hunter2secret", "abcsecret", "alice", token):
        assert len(secret) > 4 and secret not in text


def test_start_out_of_range_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a(ucwa_token):\n    pass\n")
    result = pytester.runpytest("--relaytokens-start=9999-12-31T23:59:59Z")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*relaytokens_start: '9999-12-31T23:59:59Z' is out of range*"])


def test_bad_overrides_fail_clearly(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture
        def relaytokens_backend():
            return "cloud"
        """
    )
    pytester.makepyfile("def test_a(ucwa_token):\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*the override of fixture relaytokens_backend returned 'cloud'; valid values: fake*"]
    )
    assert "Traceback" not in result.stdout.str() and "KeyError" not in result.stdout.str()


@pytest.mark.heavy
def test_bad_markers_under_xdist_error_each_test_concerned(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.token_expires_in(float("nan"))
        def test_nan():
            pass

        @pytest.mark.ucwa_format("yaml")
        def test_yaml():
            pass

        def test_fine():
            pass
        """
    )
    result = pytester.runpytest("-n", "2", "-p", "xdist")
    result.assert_outcomes(passed=1, errors=2)
    assert "INTERNALERROR" not in result.stdout.str()
    result.stdout.fnmatch_lines(
        ["*::test_nan: @pytest.mark.token_expires_in: seconds must be finite*"]
    )
    result.stdout.fnmatch_lines(["*::test_yaml: @pytest.mark.ucwa_format: unknown format 'yaml'*"])
