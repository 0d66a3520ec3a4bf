"""The one UCWA sign-in client (live backend and library recorder) against the UCWA fake."""

from __future__ import annotations

import pytest

from pytest_relaytokens.http import FakeResponse
from pytest_relaytokens.ucwa.online import SignInError, sign_in_to_token
from pytest_relaytokens.ucwa.service import UcwaService


def test_the_walk_ends_at_the_token_with_a_bearer_the_fake_issued() -> None:
    ucwa = UcwaService(seed=3)
    creds = ucwa.credentials
    signed_in = sign_in_to_token(
        ucwa.handle, ucwa.base_url, creds.username, creds.password, accept="application/xml"
    )
    assert signed_in.token.status == 200
    assert signed_in.token.content_type == "application/xml"
    assert signed_in.bearer and signed_in.bearer != creds.password
    grants = ucwa.log.matching("POST", "/WebTicket")
    assert [e.response.status for e in grants] == [200]
    assert grants[0].request.header("Content-Type") == (
        "application/x-www-form-urlencoded;charset=UTF-8"
    )


@pytest.mark.parametrize(
    "href",
    [
        "https://evil.example/WebTicket/oauthtoken",  # another host
        "http://fe1.contoso.com/WebTicket/oauthtoken",  # the right host without TLS
        "https://fe1.contoso.com:8443/WebTicket/oauthtoken",  # the right host, another port
        "https://FE1.contoso.com:444/WebTicket/oauthtoken",
    ],
)
def test_the_password_goes_only_to_the_configured_host_over_tls(href: str) -> None:
    ucwa = UcwaService(seed=3)
    challenge = f'MsRtcOAuth href="{href}",grant_type="password"'
    ucwa.arm(lambda r: FakeResponse(401, [("WWW-Authenticate", challenge)]), path=r"/oauth/user$")
    creds = ucwa.credentials
    with pytest.raises(SignInError, match="refusing to send the password to") as caught:
        sign_in_to_token(ucwa.handle, ucwa.base_url, creds.username, creds.password)
    assert creds.password not in str(caught.value)
    assert not ucwa.log.matching("POST", "/WebTicket")


def test_a_failed_step_is_named_without_quoting_the_body() -> None:
    ucwa = UcwaService(seed=3)
    ucwa.arm(lambda r: FakeResponse(500, [], b"secret=hunter2"), path=r"(?i)/root$")
    creds = ucwa.credentials
    with pytest.raises(SignInError, match=r"autodiscover answered 500 \(14 byte\(s\), sha256 "):
        sign_in_to_token(ucwa.handle, ucwa.base_url, creds.username, creds.password)


def test_a_user_resource_without_the_challenge_is_refused() -> None:
    ucwa = UcwaService(seed=3)
    bearer_only = [("WWW-Authenticate", 'Bearer realm="x"')]
    ucwa.arm(lambda r: FakeResponse(401, bearer_only), path="/oauth/user$")
    creds = ucwa.credentials
    with pytest.raises(SignInError, match=r"no MsRtcOAuth challenge on .*\(answered 401\)"):
        sign_in_to_token(ucwa.handle, ucwa.base_url, creds.username, creds.password)


def test_a_listed_credential_host_receives_the_password_and_nothing_else_does() -> None:
    ucwa = UcwaService(seed=3)
    href = "https://pool.contoso.com:8443/WebTicket/oauthtoken"
    challenge = f'MsRtcOAuth href="{href}",grant_type="password"'
    ucwa.arm(lambda r: FakeResponse(401, [("WWW-Authenticate", challenge)]), path=r"/oauth/user$")
    creds = ucwa.credentials
    sent: list[str] = []

    def send(request):  # type: ignore[no-untyped-def]
        sent.append(request.url)
        return ucwa.handle(request)

    with pytest.raises(SignInError, match="refusing"):  # another port than the one listed
        sign_in_to_token(
            send,
            ucwa.base_url,
            creds.username,
            creds.password,
            credential_hosts=["pool.contoso.com:443"],
        )
    assert not any("/WebTicket" in url for url in sent)
    ucwa.arm(lambda r: FakeResponse(401, [("WWW-Authenticate", challenge)]), path=r"/oauth/user$")
    signed_in = sign_in_to_token(  # listed: the grant goes there (the fake answers any host)
        send,
        ucwa.base_url,
        creds.username,
        creds.password,
        credential_hosts=[" ", "pool.contoso.com:8443"],
    )
    assert signed_in.token.status == 200
    assert href in sent
