"""Each UCWA error row is answered on the endpoint it belongs to: the ``webticket`` rows (the
OAuth token endpoint's errors) on the sign-in ``POST /WebTicket/oauthtoken``, every other row
on ``mediaRelayAccessToken``; the fan-out, the markers, ``arm_error``, the control plane and the
strict teardown check all use that endpoint."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pytest_relaytokens.http import FakeRequest
from pytest_relaytokens.selection import select_errors
from pytest_relaytokens.transports import PathRouter
from pytest_relaytokens.transports.control import (
    CONTROL_PREFIX,
    TOKEN_HEADER,
    ControlPlane,
    ServeState,
    new_admin_token,
)
from pytest_relaytokens.ucwa.catalogue import UCWA_ERRORS, UCWA_GROUPS
from pytest_relaytokens.ucwa.service import UcwaService

WEBTICKET_IDS = [e.id for e in UCWA_ERRORS if e.group == "webticket"]

#: A client written the way real ones are: discover, 401 challenge, password grant, application,
#: then the token GET; every non-2xx answer raises with the status and the body.
CLIENT = """
import re, uuid
from urllib.parse import urljoin
import pytest, requests


class Failed(Exception):
    def __init__(self, step, response):
        super().__init__(f"{step}: {response.status_code} {response.text[:200]}")
        self.step, self.status, self.text = step, response.status_code, response.text


def media_relay_credentials(api):
    http = requests.Session()
    accept = {"Accept": "application/json"}
    root = http.get(api.base_url + "/autodiscover/autodiscoverservice.svc/root", headers=accept)
    user = root.json()["_links"]["user"]["href"]
    challenge = http.get(user, headers=accept)
    assert challenge.status_code == 401
    href = re.search(r'href="([^"]+)"', challenge.headers["WWW-Authenticate"]).group(1)
    creds = api.credentials
    form = {"grant_type": "password", "username": creds.username, "password": creds.password}
    grant = http.post(href, data=form)
    if grant.status_code != 200:
        raise Failed("sign-in", grant)
    auth = {**accept, "Authorization": "Bearer " + grant.json()["access_token"]}
    apps = http.get(user, headers=auth).json()["_links"]["applications"]["href"]
    body = {"UserAgent": "t/1.0", "EndpointId": str(uuid.uuid4()), "Culture": "en-US"}
    app = http.post(apps, json=body, headers=auth).json()
    href = app["_embedded"]["communication"]["_links"]["mediaRelayAccessToken"]["href"]
    token = http.get(urljoin(apps, href), headers=auth)
    if token.status_code != 200:
        raise Failed("token", token)
    return token.json()
"""


def test_webticket_fanout_answers_the_password_grant(pytester: pytest.Pytester) -> None:
    """Under each ``webticket`` row the client's sign-in POST gets the OAuth error body, and no
    token GET ever answers it (before: the POST answered 200 and the GET the error)."""
    pytester.makepyfile(
        CLIENT
        + """
import json

@pytest.mark.relaytokens_errors("webticket")
def test_sign_in_error(ucwa_api, ucwa_error):
    with pytest.raises(Failed) as raised:
        media_relay_credentials(ucwa_api)
    assert raised.value.step == "sign-in", raised.value
    assert raised.value.status == ucwa_error.status == 400
    assert json.loads(raised.value.text)["error"] == ucwa_error.code
    served = [(e.request.method, e.request.path) for e in ucwa_api.log
              if e.response.error_id == ucwa_error.id]
    assert served == [("POST", "/WebTicket/oauthtoken")], served
    assert not any("mediaRelayAccessToken" in e.request.path for e in ucwa_api.log)
"""
    )
    result = pytester.runpytest("-p", "no:randomly", "-v")
    result.assert_outcomes(passed=len(WEBTICKET_IDS))
    for error_id in WEBTICKET_IDS:
        result.stdout.fnmatch_lines([f"*test_sign_in_error?{error_id}? PASSED*"])


def test_a_client_that_never_signs_in_fails_at_teardown(pytester: pytest.Pytester) -> None:
    """A client that only GETs the token with the handed-out bearer never meets a WebTicket
    error: each ``webticket`` row fails at teardown naming the sign-in endpoint."""
    pytester.makepyfile(
        """
import pytest, requests

@pytest.mark.relaytokens_errors("webticket")
def test_token_only(ucwa_api, ucwa_error):
    auth = {"Authorization": "Bearer " + ucwa_api.credentials.bearer}
    reply = requests.get(ucwa_api.token_url(), headers=auth)
    assert reply.status_code == 200  # the grant errors never reach a token GET
"""
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=len(WEBTICKET_IDS), errors=len(WEBTICKET_IDS))
    for error_id in WEBTICKET_IDS:
        result.stdout.fnmatch_lines(
            [
                f"*ucwa {error_id} from the ucwa_error fan-out (id {error_id}) on POST paths "
                "matching *WebTicket/oauthtoken* (never served*",
            ]
        )
    result.stdout.fnmatch_lines(["*GET *mediaRelayAccessToken -> 200"])


def test_ucwa_token_response_under_a_webticket_row_is_the_sign_in_error(
    pytester: pytest.Pytester,
) -> None:
    """The client never reaches the token GET: the fixture gives the sign-in error, counted as
    received by the teardown check; the other rows keep the token GET's answer."""
    pytester.makepyfile(
        """
import json, pytest

@pytest.mark.relaytokens_errors("webticket", "mediaRelayAccessToken")
def test_fixture(ucwa_error, ucwa_token_response):
    assert ucwa_token_response.status == ucwa_error.status
    assert ucwa_token_response.error_id == ucwa_error.id
    body = json.loads(ucwa_token_response.body)
    if ucwa_error.group == "webticket":
        assert body["error"] == ucwa_error.code
    else:
        assert body["code"] == ucwa_error.code
"""
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=len(WEBTICKET_IDS) + 5)


def test_marker_and_arm_error_use_the_row_endpoint(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        CLIENT
        + """
@pytest.mark.ucwa_error("invalid_grant")
def test_marker(ucwa_api):
    with pytest.raises(Failed, match="sign-in: 400"):
        media_relay_credentials(ucwa_api)

def test_arm_error(ucwa_api):
    ucwa_api.arm_error("server_error")
    with pytest.raises(Failed, match="sign-in: 400.*server_error"):
        media_relay_credentials(ucwa_api)
    assert media_relay_credentials(ucwa_api)["userName"]  # one use: the next sign-in works
"""
    )
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


def test_every_row_is_armed_on_its_endpoint() -> None:
    service = UcwaService(seed=1)
    for entry in UCWA_ERRORS:
        fault = service.arm_error(entry.id, optional=True)
        grant = service.password_grant_request()
        token_get = FakeRequest.build("GET", service.token_url())
        if entry.group == "webticket":
            assert (fault.method, fault.matches(grant), fault.matches(token_get)) == (
                "POST",
                True,
                False,
            )
        else:
            assert (fault.method, fault.matches(grant), fault.matches(token_get)) == (
                None,
                False,
                True,
            )
    assert service.arm_error("invalid_grant", path="").matches(token_get)  # path overrides


def test_control_plane_arms_the_row_endpoint() -> None:
    token = new_admin_token()
    state = ServeState(lambda clock: {"ucwa": UcwaService(clock=clock, seed=2)}, PathRouter(), "")
    plane = ControlPlane(state, token)
    body = json.dumps({"service": "ucwa", "id": "400-invalid_scope"})
    arm = FakeRequest.build(
        "POST",
        f"http://127.0.0.1{CONTROL_PREFIX}errors",
        {TOKEN_HEADER: token, "Content-Type": "application/json"},
        body,
    )
    assert plane.handle(arm).status < 300
    ucwa = state.services["ucwa"]
    assert isinstance(ucwa, UcwaService)
    answered = ucwa.handle(FakeRequest.build("GET", ucwa.token_url(), {"Authorization": "x"}))
    assert answered.status == 401  # not the armed row
    answer = ucwa.handle(ucwa.password_grant_request())
    assert (answer.status, json.loads(answer.body)["error"]) == (400, "invalid_scope")


def test_webticket_is_a_group_selector() -> None:
    assert [e.id for e in select_errors("ucwa", ["webticket"])] == WEBTICKET_IDS
    with pytest.raises(LookupError, match="webticket"):
        select_errors("ucwa", ["no-such-row"])


def test_docs_count_and_name_every_row_and_group() -> None:
    """The README's and docs' counts follow the catalogue; every group is a documented selector."""
    root = Path(__file__).resolve().parent.parent
    total = len(UCWA_ERRORS)
    assert f"for all {total} errors" in (root / "README.md").read_text(encoding="utf-8")
    errors_md = (root / "docs" / "errors.md").read_text(encoding="utf-8")
    assert f"{total} rows in all" in errors_md
    for group in UCWA_GROUPS:
        count = sum(e.group == group for e in UCWA_ERRORS)
        assert re.search(rf"ucwa +{group} +\d+ +{count}\n", errors_md), group
    assert re.search(rf"ucwa +\(all\) +\d+ +{total}\n", errors_md)
    reference = (root / "docs" / "reference.md").read_text(encoding="utf-8")
    selectors = next(line for line in reference.splitlines() if "relaytokens_errors(" in line)
    for group in UCWA_GROUPS:
        assert f'`"{group}"`' in selectors, group
