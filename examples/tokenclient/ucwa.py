"""UCWA client: autodiscover, sign in through WebTicket, create an application, fetch and
cache the media relay token, refresh on expiry or on a 401."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin

import requests

NS = "{http://schemas.microsoft.com/rtc/2012/03/ucwa}"
_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


class UcwaError(Exception):
    def __init__(self, status: int, code: str | None, subcode: str | None) -> None:
        super().__init__(f"UCWA {status} {code}/{subcode}")
        self.status, self.code, self.subcode = status, code, subcode


@dataclass
class MediaRelayCredentials:
    user_name: str
    password: str
    valid_until: dt.datetime
    relays: list[tuple[str, int, int]]  # host, tcp port, udp port

    def expired(self, now: dt.datetime, margin: dt.timedelta = dt.timedelta(0)) -> bool:
        return now + margin >= self.valid_until


def parse_ucwa_date(text: str) -> dt.datetime:
    match = _DATE.match(text)
    if match:
        return dt.datetime.fromtimestamp(int(match.group(1)) / 1000, dt.timezone.utc)
    return dt.datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00")))


def parse_token(body: bytes, content_type: str) -> MediaRelayCredentials:
    if "xml" in content_type:
        root = ET.fromstring(body)
        props = {p.get("name"): p.text or "" for p in root.findall(f"{NS}property")}
        relays = [
            ({p.get("name"): p.text or "" for p in r.findall(f"{NS}property")})
            for r in root.findall(f"{NS}resource")
        ]
        relay_list = [
            (r.get("host", ""), int(r.get("tcpPort", -1)), int(r.get("udpPort", -1)))
            for r in relays
        ]
        return MediaRelayCredentials(
            props["userName"], props["password"], parse_ucwa_date(props["validUntil"]), relay_list
        )
    import json

    data = json.loads(body)
    embedded = data.get("_embedded", {}).get("mediaRelay", [])
    if isinstance(embedded, dict):
        embedded = [embedded]
    return MediaRelayCredentials(
        data["userName"],
        data["password"],
        parse_ucwa_date(data["validUntil"]),
        [(r.get("host", ""), r.get("tcpPort", -1), r.get("udpPort", -1)) for r in embedded],
    )


class UcwaClient:
    """Gets media relay credentials from a UCWA server, caching them until they expire."""

    def __init__(
        self,
        autodiscover_url: str,
        username: str,
        password: str,
        *,
        session: requests.Session | None = None,
        accept: str = "application/json",
        now: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.autodiscover_url = autodiscover_url
        self.username, self.password = username, password
        self.session = session or requests.Session()
        self.accept = accept
        self.now = now or (lambda: dt.datetime.now(dt.timezone.utc))
        self.bearer: str | None = None
        self.token_url: str | None = None
        self._cached: MediaRelayCredentials | None = None
        self._user_url: str | None = None

    # --- sign-in -----------------------------------------------------------------
    def _sign_in(self) -> None:
        root = self.session.get(self.autodiscover_url, headers={"Accept": "application/json"})
        root.raise_for_status()
        self._user_url = root.json()["_links"]["user"]["href"]
        challenge = self.session.get(self._user_url, headers={"Accept": "application/json"})
        if challenge.status_code != 401:
            raise UcwaError(challenge.status_code, "ExpectedChallenge", None)
        values = challenge.raw.headers.getlist("WWW-Authenticate") if challenge.raw else []
        href = next(
            (m.group(1) for v in values if (m := re.search(r'MsRtcOAuth\s+href="?([^",]+)"?', v))),
            None,
        )
        if href is None:
            raise UcwaError(401, "NoChallenge", None)
        grant = self.session.post(
            href,
            data={"grant_type": "password", "username": self.username, "password": self.password},
        )
        if grant.status_code != 200:
            raise UcwaError(grant.status_code, grant.json().get("error"), None)
        self.bearer = grant.json()["access_token"]

    def _auth_headers(self, accept: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.bearer}", "Accept": accept or self.accept}

    def _create_application(self) -> None:
        assert self._user_url is not None
        user = self.session.get(self._user_url, headers=self._auth_headers("application/json"))
        self._raise_for_ucwa(user)
        apps_url = urljoin(self._user_url, user.json()["_links"]["applications"]["href"])
        app = self.session.post(
            apps_url,
            json={
                "UserAgent": "tokenclient/1.0",
                "EndpointId": "a917c6f4-976c-4cf3-847d-cdfffa28ccdf",
                "Culture": "en-US",
            },
            headers=self._auth_headers("application/json"),
        )
        self._raise_for_ucwa(app)
        links = app.json()["_embedded"]["communication"]["_links"]
        self.token_url = urljoin(apps_url, links["mediaRelayAccessToken"]["href"])

    def _raise_for_ucwa(self, response: requests.Response) -> None:
        if response.status_code < 400:
            return
        code = subcode = None
        content_type = response.headers.get("Content-Type", "")
        if "json" in content_type:
            data = response.json()
            code, subcode = data.get("code"), data.get("subcode")
        elif "xml" in content_type:
            root = ET.fromstring(response.content)
            code = root.findtext(f"{NS}code")
            subcode = root.findtext(f"{NS}subcode")
        raise UcwaError(response.status_code, code, subcode)

    # --- the token ------------------------------------------------------------------
    def media_relay_credentials(self) -> MediaRelayCredentials:
        """Cached credentials, fetched again when they expire (1 minute margin)."""
        if self._cached and not self._cached.expired(self.now(), dt.timedelta(minutes=1)):
            return self._cached
        if self.bearer is None:
            self._sign_in()
        if self.token_url is None:
            self._create_application()
        assert self.token_url is not None
        response = self.session.get(self.token_url, headers=self._auth_headers())
        if response.status_code == 401:  # bearer expired: sign in again, once
            self._sign_in()
            response = self.session.get(self.token_url, headers=self._auth_headers())
        if response.status_code in (404, 410):  # application gone: create a new one, once
            self._create_application()
            response = self.session.get(self.token_url, headers=self._auth_headers())
        self._raise_for_ucwa(response)
        self._cached = parse_token(response.content, response.headers.get("Content-Type", ""))
        return self._cached
