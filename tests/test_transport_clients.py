"""Clients the in-process transports do not patch (aiohttp, curl in a subprocess) work against
the ``relaytokens_server`` fixture, in a downstream suite run by pytester."""

from __future__ import annotations

import shutil

import pytest

AIOHTTP_SUITE = r'''
import asyncio
import re

import aiohttp


async def sign_in_and_fetch(base_url, username, password, application_id):
    """What a UCWA client does: discover, meet the 401, get a bearer, fetch the token."""
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base_url}/autodiscover/autodiscoverservice.svc/root") as r:
            assert r.status == 200
            user_url = (await r.json(content_type=None))["_links"]["user"]["href"]
        async with session.get(user_url) as r:
            assert r.status == 401
            challenges = r.headers.getall("WWW-Authenticate")
        oauth = next(c for c in challenges if c.startswith("MsRtcOAuth"))
        webticket = re.search(r'href="([^"]+)"', oauth).group(1)
        form = {"grant_type": "password", "username": username, "password": password}
        async with session.post(webticket, data=form) as r:
            assert r.status == 200, await r.text()
            bearer = (await r.json())["access_token"]
        headers = {"Authorization": f"Bearer {bearer}", "Accept": "application/json"}
        async with session.get(user_url, headers=headers) as r:
            assert r.status == 200
        token_url = (
            f"{base_url}/ucwa/oauth/v1/applications/{application_id}"
            "/communication/mediaRelayAccessToken"
        )
        async with session.get(token_url, headers=headers) as r:
            assert r.status == 200, await r.text()
            assert r.headers["Content-Type"].startswith("application/json")
            return challenges, bearer, await r.json(content_type=None)


async def relay_token_and_use(base_url, username, password):
    auth = aiohttp.BasicAuth(username, password)
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{base_url}/api/auth/accesstokens", auth=auth) as r:
            assert r.status == 200, await r.text()
            token = (await r.json())["accessToken"]
        me = f"{base_url}/api/enterprises/self"
        async with session.get(me, headers={"X-Access-Token": token}) as r:
            by_header = r.status, (await r.json())["name"]
        async with session.get(me, params={"accesstoken": token}) as r:
            by_query = r.status
        async with session.get(me, params={"accesstoken": "0" * 32}) as r:
            unknown = r.status, (await r.json())["errorName"]
        return token, by_header, by_query, unknown


def test_aiohttp_fetches_the_ucwa_token(relaytokens_server):
    ucwa = relaytokens_server.ucwa
    creds = ucwa.credentials
    challenges, bearer, body = asyncio.run(
        sign_in_and_fetch(
            relaytokens_server.url, creds.username, creds.password, creds.application_id
        )
    )
    assert [c.split()[0] for c in challenges] == ["Bearer", "MsRtcOAuth"]
    assert bearer.startswith("cwt=")
    issued = ucwa.issued_tokens[-1]
    assert body["userName"] == issued.user_name and body["password"] == issued.password
    assert body["_embedded"]["mediaRelay"]
    assert [e.response.status for e in ucwa.log] == [200, 401, 200, 200, 200]


def test_aiohttp_fetches_and_uses_a_relay_token(relaytokens_server):
    relay = relaytokens_server.relay
    token, by_header, by_query, unknown = asyncio.run(
        relay_token_and_use(
            relaytokens_server.url, relay.credentials.username, relay.credentials.password
        )
    )
    assert token == relay.issued_tokens[-1].access_token
    assert by_header == (200, relay.credentials.enterprise_name)
    assert by_query == 200
    assert unknown == (401, "BadCredentialsException")
    kinds = [e.credential for e in relay.log]
    assert kinds[:3] == ["basic", "x-access-token", "accesstoken-query"]
'''

CURL_SUITE = r'''
import json
import shutil
import subprocess


def curl(*args):
    done = subprocess.run(
        [shutil.which("curl"), "-sS", "--max-time", "10", *args],
        capture_output=True, text=True, timeout=30, check=True,
    )
    return done.stdout


def split(raw):
    """status, headers (repeated ones kept) and body of ``curl -i`` output."""
    head, _, body = raw.replace("\r\n", "\n").partition("\n\n")
    status_line, *lines = head.splitlines()
    headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines]
    return int(status_line.split()[1]), headers, body


def test_curl_gets_both_challenges_and_the_ucwa_token(relaytokens_server):
    ucwa = relaytokens_server.ucwa
    status, headers, _ = split(curl("-i", f"{relaytokens_server.url}{ucwa.token_path()}"))
    assert status == 401
    assert [v.split()[0] for k, v in headers if k.lower() == "www-authenticate"] == [
        "Bearer", "MsRtcOAuth"
    ]
    raw = curl(
        "-i",
        "-H", f"Authorization: Bearer {ucwa.credentials.bearer}",
        "-H", "Accept: application/xml",
        f"{relaytokens_server.url}{ucwa.token_path()}",
    )
    status, headers, body = split(raw)
    assert status == 200
    assert dict((k.lower(), v) for k, v in headers)["content-type"].startswith("application/xml")
    assert ucwa.issued_tokens[-1].user_name in body


def test_curl_creates_and_uses_a_relay_token(relaytokens_server):
    relay = relaytokens_server.relay
    creds = relay.credentials
    url = relaytokens_server.url
    created = json.loads(
        curl("-X", "POST", "-u", f"{creds.username}:{creds.password}",
             f"{url}/api/auth/accesstokens?roles=ROLE_READONLY&clientname=curl")
    )
    assert created["roles"] == ["ROLE_READONLY"] and created["clientName"] == "curl"
    token = created["accessToken"]
    me = json.loads(curl("-H", f"X-Access-Token: {token}", f"{url}/api/enterprises/self"))
    assert me["name"] == creds.enterprise_name
    denied = curl("-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                  "-H", "Content-Type: application/json", "-d", "{}",
                  f"{url}/api/endpoints?accesstoken={token}")
    assert denied == "403"  # a read-only token may not create endpoints
'''


def test_aiohttp_client_against_the_loopback_server(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_aiohttp_client=AIOHTTP_SUITE)
    result = pytester.runpytest("-p", "no:xdist")
    result.assert_outcomes(passed=2)


def test_curl_subprocess_against_the_loopback_server(pytester: pytest.Pytester) -> None:
    assert shutil.which("curl"), "curl must be installed: the README promises it works"
    pytester.makepyfile(test_curl_client=CURL_SUITE)
    result = pytester.runpytest("-p", "no:xdist")
    result.assert_outcomes(passed=2)
