"""Markers: expiry, clock skew, errors, format and quirks, scoping and usage errors."""

from __future__ import annotations

import pytest


def test_markers_are_registered_with_help(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    for name in (
        "token_expired(*, optional=False):",
        "token_expires_in(seconds)",
        "token_never_expires:",
        "token_clock_skew(seconds)",
        "ucwa_error(code, subcode=None, times=None, *, optional=False)",
        "relay_error(name, times=None, *, optional=False)",
        'ucwa_format("json" | "xml", *, optional=False)',
        "ucwa_quirks(",
        "relaytokens_errors(",
    ):
        result.stdout.fnmatch_lines([f"@pytest.mark.{name}*"])


def test_token_expired(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest, requests

        @pytest.mark.token_expired
        def test_fixtures(ucwa_token, relay_access_token, relaytokens_clock):
            now = relaytokens_clock.now()
            assert ucwa_token.is_expired(now) and relay_access_token.is_expired(now)

        @pytest.mark.token_expired
        def test_fakes_refuse_their_own_credentials(relay_api, ucwa_api):
            r = requests.get(relay_api.base_url + "/api/enterprises/self",
                             headers={"X-Access-Token": relay_api.credentials.access_token})
            assert r.status_code == 401 and r.json()["errorName"] == "BadCredentialsException"
            u = requests.get(ucwa_api.token_url(), headers={
                "Authorization": "Bearer " + ucwa_api.credentials.bearer})
            assert u.status_code == 401
            assert len(u.raw.headers.getlist("WWW-Authenticate")) == 2
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


def test_token_expires_in_walks_across_the_boundary(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest, requests

        @pytest.mark.token_expires_in(30)
        def test_cross(relay_api, relaytokens_clock, relay_access_token):
            assert relay_access_token.remaining(relaytokens_clock.now()).total_seconds() == 30
            token = relay_api.credentials.access_token
            url = relay_api.base_url + "/api/enterprises/self"
            assert requests.get(url, params={"accesstoken": token}).status_code == 200
            relaytokens_clock.advance(29)
            assert requests.get(url, params={"accesstoken": token}).status_code == 200
            relaytokens_clock.advance(2)
            assert requests.get(url, params={"accesstoken": token}).status_code == 401
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_never_expires_and_clock_skew(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest, requests

        @pytest.mark.token_never_expires
        def test_never(relay_access_token, relay_api):
            assert relay_access_token.expiration_date is None
            assert relay_access_token.remaining() is None
            r = requests.post(relay_api.base_url + "/api/auth/accesstokens",
                              auth=(relay_api.credentials.username, relay_api.credentials.password))
            assert r.json()["expirationDate"] is None

        @pytest.mark.token_clock_skew(300)
        def test_skew(relay_api, relaytokens_clock):
            r = requests.post(relay_api.base_url + "/api/auth/accesstokens",
                              auth=(relay_api.credentials.username, relay_api.credentials.password))
            created_ms = r.json()["creationDate"]
            assert created_ms - relaytokens_clock.now_ms() == 300_000
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


def test_error_markers_alone_activate_the_fakes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest, requests

        @pytest.mark.relay_error("CommandTimedOut")
        def test_relay():
            r = requests.post("https://relay.bluejeans.com/api/auth/accesstokens")
            assert r.status_code == 504
            assert set(r.json()) == {"errorCode", "errorName", "errorMessage", "errorDetails"}

        @pytest.mark.ucwa_error("Conflict", "TooManyGroups", times=1)
        def test_ucwa_once(ucwa_api):
            headers = {"Authorization": "Bearer " + ucwa_api.credentials.bearer}
            first = requests.get(ucwa_api.token_url(), headers=headers)
            assert first.status_code == 409
            assert first.json() == {"code": "Conflict", "subcode": "TooManyGroups",
                                    "message": first.json()["message"]}
            assert requests.get(ucwa_api.token_url(), headers=headers).status_code == 200
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


def test_narrower_marker_wins(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        pytestmark = pytest.mark.ucwa_format("xml")

        def test_module(ucwa_token_response):
            assert ucwa_token_response.body.startswith(b"<?xml")

        @pytest.mark.ucwa_format("json")
        class TestClass:
            def test_class(self, ucwa_token_response):
                assert ucwa_token_response.body.startswith(b"{")

            @pytest.mark.ucwa_format("xml")
            def test_method(self, ucwa_token_response):
                assert ucwa_token_response.body.startswith(b"<?xml")
        """
    )
    pytester.runpytest().assert_outcomes(passed=3)


@pytest.mark.parametrize(
    ("marker", "expected"),
    [
        (
            'ucwa_error("Nope")',
            "@pytest.mark.ucwa_error: unknown UCWA error 'Nope'; valid values: *409-Conflict-TooManyGroups*",
        ),
        (
            'relay_error("Nope")',
            "@pytest.mark.relay_error: unknown Relay error 'Nope'; valid values: *BadCredentialsException*",
        ),
        (
            "token_expires_in(-5)",
            "@pytest.mark.token_expires_in: seconds must be positive, got -5*",
        ),
        ('token_expires_in("soon")', "@pytest.mark.token_expires_in: seconds must be a number*"),
        (
            'ucwa_format("yaml")',
            "@pytest.mark.ucwa_format: unknown format 'yaml'; valid values: 'json', 'xml'",
        ),
        (
            'ucwa_quirks(uri_key="URI")',
            "@pytest.mark.ucwa_quirks: unknown uri_key 'URI'; valid values: 'Uri', 'uri'",
        ),
        (
            'ucwa_quirks(colour="red")',
            "@pytest.mark.ucwa_quirks: got an unexpected keyword argument 'colour'*",
        ),
        (
            'relay_error("BadCredentialsException", times=0)',
            "@pytest.mark.relay_error: times must be a positive integer*",
        ),
    ],
)
def test_wrong_marker_arguments_are_usage_errors(
    pytester: pytest.Pytester, marker: str, expected: str
) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.{marker}
        def test_wrong():
            pass
        """
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: relaytokens: 1 problem(s) with markers or cassettes:",
            f"*::test_wrong: {expected}",
        ]
    )


def test_option_with_bad_value_is_a_usage_error(pytester: pytest.Pytester) -> None:
    """Bad ini keys and options stop the run at start-up, every problem listed at once."""
    pytester.makeini(
        (pytester.path / "tox.ini").read_text()
        + "\nrelaytokens_ucwa_format = yaml\nrelaytokens_record_mode = sometimes\n"
        + "relaytokens_uri_key = URI\n"
    )
    pytester.makepyfile("def test_a(ucwa_token_response):\n    pass\n")
    result = pytester.runpytest(
        "--relaytokens-backend=cloud", "--relaytokens-errors=5xx,Nope", "--relaytokens-seed=x"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: relaytokens: 6 configuration problem(s):",
            "*relaytokens_ucwa_format: unknown value 'yaml'; valid values: json, xml",
            "*relaytokens_uri_key: unknown value 'URI'; valid values: Uri, uri",
            "*--relaytokens-backend / ini relaytokens_backend: unknown value 'cloud'*",
            "*relaytokens_record_mode: unknown value 'sometimes'; valid values: none, once*",
            "*relaytokens_seed: 'x' is not an integer",
            "*--relaytokens-errors / ini relaytokens_errors: *selector 'Nope' matches no*",
        ]
    )
    assert "test_a" not in result.stdout.str()


def test_expiry_markers_are_one_setting_the_narrowest_wins(pytester: pytest.Pytester) -> None:
    """A module's default expiry is overridden by a class's or a test's own expiry marker."""
    pytester.makepyfile(
        """
        import pytest

        pytestmark = pytest.mark.token_expires_in(60)

        def test_module_default(relay_access_token, relaytokens_clock):
            assert not relay_access_token.is_expired()
            relaytokens_clock.advance(61)
            assert relay_access_token.is_expired()

        @pytest.mark.token_expired
        def test_own_marker(relay_access_token, ucwa_token):
            assert relay_access_token.is_expired() and ucwa_token.is_expired()

        @pytest.mark.token_never_expires
        class TestNever:
            def test_class(self, relay_access_token):
                assert relay_access_token.expiration_date is None

            @pytest.mark.token_expires_in(5)
            def test_method(self, relay_access_token, relaytokens_clock):
                relaytokens_clock.advance(6)
                assert relay_access_token.is_expired()
        """
    )
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=4)


def test_two_expiry_markers_on_one_test_are_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        pytestmark = pytest.mark.token_never_expires

        @pytest.mark.token_expired
        @pytest.mark.token_expires_in(5)
        def test_both():
            pass
        """
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*::test_both: @pytest.mark.token_expires_in: cannot be combined with token_expired"
            " on the same test, class or module; valid values: one expiry marker per level*"
        ]
    )


@pytest.mark.parametrize(
    ("hosts", "expected"),
    [
        ('["https://api.example.com/x"]', "'https://api.example.com/x' is a URL or path*"),
        (
            '["*.example.com"]',
            "'*.example.com' is a wildcard, which is not supported (name each host)*",
        ),
        ('["api.example.com:99999"]', "'api.example.com:99999' is a host with a bad port '99999'*"),
        ('["user@api.example.com"]', "'user@api.example.com' is not a host name*"),
    ],
)
def test_allow_hosts_that_would_allow_nothing_are_usage_errors(
    pytester: pytest.Pytester, hosts: str, expected: str
) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.relaytokens_allow(hosts={hosts})
        def test_allowed(relay_api):
            pass
        """
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"*::test_allowed: @pytest.mark.relaytokens_allow: hosts: {expected}"]
    )


def test_allow_hosts_option_refuses_a_url(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest("--relaytokens-allow-hosts=ok.example.com,http://api.example.com")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*--relaytokens-allow-hosts / ini relaytokens_allow_hosts: 'http://api.example.com' is a URL*"
        ]
    )


def test_allowed_host_with_port_and_ipv6_are_accepted(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.relaytokens_allow(hosts=["api.example.com:8443", "[2001:db8::1]", "10.0.0.1"])
        def test_allowed(relay_api):
            pass
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_a_huge_marker_argument_is_shown_cut_short(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.ucwa_error("x" * 100_000)
        def test_huge():
            pass
        """
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    line = next(text for text in result.stderr.lines if "test_huge" in text)
    assert "@pytest.mark.ucwa_error: unknown UCWA error 'xxx" in line
    assert len(line) < 5_000  # the valid names are listed, the argument is cut short


def test_ucwa_error_reaches_ucwa_token_response(pytester: pytest.Pytester) -> None:
    """The fixture is the fake's answer to the token GET: under an error marker, that error
    (in the test's format), counted as one use of it and as exercised in the report."""
    pytester.makepyfile(
        """
        import json
        import pytest

        @pytest.mark.ucwa_error("409-Conflict-TooManyGroups")
        def test_json(ucwa_token_response):
            assert ucwa_token_response.status == 409
            body = json.loads(ucwa_token_response.body)
            assert (body["code"], body["subcode"]) == ("Conflict", "TooManyGroups")

        @pytest.mark.ucwa_format("xml")
        @pytest.mark.ucwa_error("ApplicationNotFound", times=1)
        def test_xml_once(ucwa_token_response, ucwa_api, ucwa_token):
            assert ucwa_token_response.status == 404
            assert ucwa_token_response.body.startswith(b"<?xml")
            assert not ucwa_api.faults.armed  # its one use was taken

        def test_no_marker(ucwa_token_response, ucwa_token):
            assert ucwa_token_response.status == 200
            assert ucwa_token.media_relays[0].host.encode() in ucwa_token_response.body
        """
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["ucwa   mediaRelayAccessToken          1      5"])


def test_bad_marker_arity_names_the_marker_signature(pytester: pytest.Pytester) -> None:
    """A marker's arguments bind to its signature; the error shows that signature."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.relay_error("BadCredentialsException", 1, 2)
        def test_a():
            pass

        @pytest.mark.ucwa_quirks(uri_key="uri", colour="red")
        def test_b():
            pass
        """
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*::test_a: @pytest.mark.relay_error: too many positional arguments; "
            "valid values: relay_error(name, times=None, *, optional=None)",
            "*::test_b: @pytest.mark.ucwa_quirks: got an unexpected keyword argument 'colour'; "
            "valid values: ucwa_quirks(*, uri_key=None, timestamps=None, offset=None, "
            "location=None, pretty=None)",
        ]
    )


def test_a_bad_selector_on_a_fanout_test_is_listed_once(pytester: pytest.Pytester) -> None:
    """One wrong marker on a fan-out test is one line, not one per catalogued error id."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.relaytokens_errors("nosuchgroup")
        def test_relay(relay_error):
            pass

        @pytest.mark.relaytokens_errors("nosuchgroup")
        def test_ucwa(ucwa_error):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:randomly")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*relaytokens: 2 problem(s) with markers or cassettes:"])
    lines = [line for line in result.stderr.lines if "@pytest.mark.relaytokens_errors" in line]
    assert [line.split(": @")[0] for line in lines] == [
        "test_a_bad_selector_on_a_fanout_test_is_listed_once.py::test_relay",
        "test_a_bad_selector_on_a_fanout_test_is_listed_once.py::test_ucwa",
    ]


def test_a_bad_allow_hosts_option_is_listed_with_the_other_config_problems(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest(
        "-p", "no:randomly", "--relaytokens-allow-hosts=*", "--relaytokens-seed=abc"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*relaytokens: 2 configuration problem(s):",
            "*--relaytokens-seed / ini relaytokens_seed: 'abc' is not an integer",
            "*--relaytokens-allow-hosts / ini relaytokens_allow_hosts: '*' is a wildcard, which is "
            "not supported (name each host)",
        ]
    )
