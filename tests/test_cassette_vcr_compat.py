"""Repeated response headers survive recording and playback with every supported vcrpy.

vcrpy < 9 with urllib3 2 hands ``requests`` only the first of two ``WWW-Authenticate``
challenges (Python 3.10 resolves vcrpy 8); ``cassettes._vcr_compat`` works around it.
"""

from __future__ import annotations

from pathlib import Path

import requests
import yaml

from pytest_relaytokens.cassettes import _vcr_compat
from pytest_relaytokens.cassettes.recording import record
from pytest_relaytokens.transports.server import LoopbackServer
from pytest_relaytokens.ucwa.service import UcwaService


def _challenges(response: requests.Response) -> list[str]:
    """The schemes of the ``WWW-Authenticate`` challenges, as a client splits them."""
    value = response.headers.get("WWW-Authenticate", "")
    return [
        part.split()[0]
        for part in value.split(", ")
        if part.split()[:1] in (["Bearer"], ["MsRtcOAuth"])
    ]


def test_both_ucwa_challenges_are_recorded_and_played_back(tmp_path: Path) -> None:
    ucwa = UcwaService(seed=3)
    cassette = tmp_path / "sign-in.yaml"
    with LoopbackServer(ucwa) as server:
        url = f"{server.url}/ucwa/oauth/v1/applications/{ucwa.credentials.application_id}/people/me"
        live = requests.get(url, timeout=5)
        with record(cassette, mode="once"):
            recording = requests.get(url, timeout=5)
    with record(cassette, mode="none"):
        played = requests.get(url, timeout=5)

    assert live.status_code == recording.status_code == played.status_code == 401
    assert _challenges(live) == ["Bearer", "MsRtcOAuth"]
    assert _challenges(recording) == ["Bearer", "MsRtcOAuth"]
    assert _challenges(played) == ["Bearer", "MsRtcOAuth"]
    stored = yaml.safe_load(cassette.read_text(encoding="utf-8"))
    headers = stored["interactions"][0]["response"]["headers"]
    values = next(v for k, v in headers.items() if k.lower() == "www-authenticate")
    assert [v.split()[0] for v in values] == ["Bearer", "MsRtcOAuth"]  # two values, not joined


def test_the_workaround_leaves_no_unfixed_stub_and_applies_once() -> None:
    _vcr_compat.apply()
    assert _vcr_compat.unfixed_stubs() == []
    from vcr.stubs import requests_stubs

    before = requests_stubs.VCRRequestsHTTPConnection.getresponse
    _vcr_compat.apply()
    assert requests_stubs.VCRRequestsHTTPConnection.getresponse is before
