"""ReplayService: indexed once, repeatable, Accept-aware, clear 404s."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from pytest_relaytokens.cassettes.replay import ReplayService
from pytest_relaytokens.http import FakeRequest

BASE = "https://relay.bluejeans.com"


def _interaction(
    method: str,
    uri: str,
    body: str,
    *,
    status: int = 200,
    accept: str = "*/*",
    content_type: str = "application/json",
) -> dict[str, object]:
    return {
        "request": {"method": method, "uri": uri, "body": None, "headers": {"Accept": [accept]}},
        "response": {
            "status": {"code": status, "message": "OK"},
            "headers": {"Content-Type": [content_type]},
            "body": {"string": body},
        },
    }


@pytest.fixture
def cassette(tmp_path: Path) -> Path:
    path = tmp_path / "c.yaml"
    data = {
        "version": 1,
        "relaytokens": {"version": 1, "recorded_at": "2024-05-01T12:00:00+00:00"},
        "interactions": [
            _interaction(
                "POST",
                f"{BASE}/api/auth/accesstokens?roles=ROLE_READONLY",
                '{"accessToken": "redacted000000000000000000000001"}',
            ),
            _interaction(
                "POST",
                f"{BASE}/api/auth/accesstokens?roles=ROLE_READONLY",
                '{"accessToken": "redacted000000000000000000000002"}',
            ),
            _interaction(
                "GET",
                f"{BASE}/api/enterprises/self?accesstoken=redacted0001",
                '{"name": "myenterprise"}',
            ),
            _interaction(
                "GET",
                "https://fe1.contoso.com/ucwa/v1/applications/1/mediaRelayAccessToken",
                '<resource rel="mediaRelayAccessToken"/>',
                accept="application/xml",
                content_type="application/xml",
            ),
            _interaction(
                "GET",
                "https://fe1.contoso.com/ucwa/v1/applications/1/mediaRelayAccessToken",
                '{"rel": "mediaRelayAccessToken"}',
                accept="application/json",
            ),
        ],
    }
    path.write_text(yaml.safe_dump(data))
    return path


def test_serves_in_order_then_repeats_last(cassette: Path) -> None:
    service = ReplayService(cassette, allow_playback_repeats=True)
    url = f"{BASE}/api/auth/accesstokens?roles=ROLE_READONLY"
    bodies = [
        service.handle(FakeRequest.build("POST", url)).json()["accessToken"] for _ in range(4)
    ]
    assert bodies[0].endswith("1") and bodies[1:] == [bodies[1]] * 3
    assert service.recorded_at == "2024-05-01T12:00:00+00:00"
    assert service.host == "relay.bluejeans.com"


def test_secret_query_values_and_credentials_are_ignored(cassette: Path) -> None:
    service = ReplayService(cassette, allow_playback_repeats=True)
    for token in ("anything", "redacted0001"):
        response = service.handle(
            FakeRequest.build(
                "GET",
                f"{BASE}/api/enterprises/self?accesstoken={token}",
                headers={"X-Access-Token": "x"},
            )
        )
        assert response.status == 200
    assert all(e.expected for e in service.log)
    assert service.log[0].credential == "x-access-token"


def test_accept_family_picks_json_or_xml(cassette: Path) -> None:
    service = ReplayService(cassette)
    url = "https://fe1.contoso.com/ucwa/v1/applications/1/mediaRelayAccessToken"
    xml = service.handle(FakeRequest.build("GET", url, headers={"Accept": "application/xml"}))
    js = service.handle(FakeRequest.build("GET", url, headers={"Accept": "application/json"}))
    assert xml.content_type == "application/xml" and js.content_type == "application/json"


def test_unmatched_is_404_listing_the_cassette(cassette: Path) -> None:
    service = ReplayService(cassette)
    response = service.handle(FakeRequest.build("GET", f"{BASE}/api/endpoints"))
    assert response.status == 404
    assert f"no recorded interaction for GET {BASE}/api/endpoints;" in response.text()
    assert "POST /api/auth/accesstokens?roles=ROLE_READONLY" in response.text()
    assert str(cassette) in response.text()
    assert service.log.unexpected and not service.log[0].expected


def test_two_thousand_replays_are_quick(
    cassette: Path, count_calls: Callable[[Callable[[], object]], int]
) -> None:
    """The 2000th replay costs what the first ones did: no work grows with the log."""
    service = ReplayService(cassette, allow_playback_repeats=True)
    request = FakeRequest.build("GET", f"{BASE}/api/enterprises/self?accesstoken=x")

    def replay_100() -> None:
        for _ in range(100):
            assert service.handle(request).status == 200

    first = count_calls(replay_100)
    for _ in range(18):
        replay_100()
    last = count_calls(replay_100)
    assert last <= first * 1.2, f"calls per 100 replays grew from {first} to {last}"
