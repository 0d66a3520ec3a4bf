"""The UCWA fake's HTTP answers: content negotiation (RFC 9110 12.5.1) between the JSON and
XML media types UCWA serves, and the responses every handler builds (resources, catalogue
errors, the bearer 401, 405 with ``Allow``, the WebTicket and Azure AD grant errors)."""

from __future__ import annotations

import datetime as _dt
import functools
import json
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from ..http import FakeRequest, FakeResponse
from ..http.headers import weighted
from .catalogue import lookup_ucwa_error, ucwa_headers, unauthorized_response
from .surface import origin_of
from .urls import AAD_AUTHORIZE_PATH, WEBTICKET_PATH
from .wire import dump_json, dump_xml

__all__ = ["Format", "UcwaResponses", "application_base"]

Format = Literal["json", "xml"]

_MEDIA_TYPES: dict[str, Format] = {
    "application/json": "json",
    "application/vnd.microsoft.com.ucwa+json": "json",
    "application/xml": "xml",
    "application/vnd.microsoft.com.ucwa+xml": "xml",
    "application/vnd.microsoft.ucwa+xml": "xml",
    "text/xml": "xml",
}


def _offers(formats: tuple[Format, ...]) -> tuple[tuple[Format, str], ...]:
    """Every media type of ``formats``, in the server's order of preference: the first
    format's canonical type first (what ``*/*`` gets), then the others' canonical types,
    then the precise (``vnd``) and ``text/`` spellings."""
    canonical = {"json": "application/json", "xml": "application/xml"}
    offers = [(fmt, canonical[fmt]) for fmt in formats]
    offers += [
        (fmt, media)
        for media, fmt in _MEDIA_TYPES.items()
        if fmt in formats and media != canonical[fmt]
    ]
    return tuple(offers)


#: What a resource can produce -> its offers: both formats (the default first) or JSON only.
_OFFERS: dict[tuple[Format, ...], tuple[tuple[Format, str], ...]] = {
    formats: _offers(formats) for formats in (("json", "xml"), ("xml", "json"), ("json",))
}


def _choose(
    ranges: tuple[tuple[str, float], ...], offers: tuple[tuple[Format, str], ...]
) -> tuple[Format, str] | None:
    """RFC 9110 12.5.1 proactive negotiation: each offered type takes the q of the most
    specific range that matches it (``type/subtype`` over ``type/*`` over ``*/*``); the
    highest q > 0 wins, then the range the client listed first, then the server's order.
    The ``vnd`` and ``text/xml`` spellings are answered only when named: a wildcard reaches
    ``application/json`` or ``application/xml``. None when no offer is acceptable (406)."""
    best: tuple[float, int, int] | None = None
    chosen: tuple[Format, str] | None = None
    for rank, (fmt, media) in enumerate(offers):
        kind = media.split("/", 1)[0] + "/*"
        alias = media not in ("application/json", "application/xml")
        match: tuple[int, float, int] | None = None  # (specificity, q, index)
        for index, (wanted, quality) in enumerate(ranges):
            specificity = 2 if wanted == media else 1 if wanted == kind else 0
            if (specificity == 0 and wanted != "*/*") or (alias and specificity < 2):
                continue
            if match is None or specificity > match[0]:
                match = (specificity, quality, index)
        if match is None or match[1] <= 0:
            continue
        key = (match[1], -match[2], -rank)
        if best is None or key > best:
            best, chosen = key, (fmt, media)
    return chosen


@functools.lru_cache(maxsize=128)
def _negotiated(accept: str, formats: tuple[Format, ...]) -> tuple[Format, str] | None:
    """:func:`_choose` for one ``Accept`` value, remembered per distinct short value."""
    return _choose(weighted(accept), _OFFERS[formats])


#: Accept values this long or shorter are parsed once and remembered.
_CACHED_ACCEPT_MAX = 300


def application_base(path: str, fallback: str) -> str:
    """``/ucwa/<prefix>/applications/<id>`` as the request ``path`` spells it, so hrefs in
    an answer follow the request's prefix (``/ucwa/v1/`` or ``/ucwa/oauth/v1/``, as the docs
    sample has both the token and its relay under ``/ucwa/v1/``); ``fallback`` otherwise."""
    head, sep, rest = path.partition("/applications/")
    if not sep or not head.startswith("/ucwa/"):
        return fallback
    return f"{head}/applications/{rest.split('/', 1)[0]}"


class UcwaResponses:
    """The answers a :class:`~pytest_relaytokens.ucwa.service.UcwaService` builds, in the
    format the request negotiated."""

    #: Whether this is the SfB Online deployment (its 401 points at Azure AD).
    online: bool = False
    #: Indented JSON bodies, as the documents' samples are laid out.
    pretty: bool = False

    @property
    def fqdn(self) -> str:
        """The front end's host name (``X-MS-Server-Fqdn``)."""
        raise NotImplementedError

    def server_now(self) -> _dt.datetime:
        raise NotImplementedError

    def _unauthorized(self, request: FakeRequest) -> FakeResponse:
        origin = origin_of(request)
        return unauthorized_response(
            fqdn=self.fqdn,
            webticket_url=origin + WEBTICKET_PATH,
            authorization_uri=origin + AAD_AUTHORIZE_PATH if self.online else None,
        )

    #: What ``Accept: */*`` (or no Accept) gets: "json" or "xml" (the ``ucwa_format`` marker).
    default_format: Format = "json"

    def _accepted(self, request: FakeRequest, json_only: bool = False) -> tuple[Format, str] | None:
        """The format and media type to answer in, among those the resource can produce
        (both, or JSON only): what the client's ``Accept`` accepts best; no (or an empty)
        ``Accept`` gets the default format, or the resource's only one. None: 406."""
        formats: tuple[Format, ...] = (
            ("json",)
            if json_only
            else ("xml", "json")
            if self.default_format == "xml"
            else ("json", "xml")
        )
        accept = request.header("Accept")
        if accept is None or not accept.strip():
            fmt = formats[0]
            return fmt, "application/json" if fmt == "json" else "application/xml"
        if len(accept) <= _CACHED_ACCEPT_MAX:
            return _negotiated(accept, formats)
        return _choose(weighted(accept), _OFFERS[formats])

    def _negotiate(self, request: FakeRequest) -> Format | None:
        chosen = self._accepted(request)
        return chosen[0] if chosen else None

    def _error(self, request: FakeRequest, name: str, subcode: str | None = None) -> FakeResponse:
        entry = lookup_ucwa_error(name, subcode)
        return entry.response(
            self._negotiate(request) or "json",
            fqdn=self.fqdn,
            authorization_uri=origin_of(request) + AAD_AUTHORIZE_PATH,
        )

    def _resource(
        self, request: FakeRequest, document: dict[str, Any], status: int = 200
    ) -> FakeResponse:
        chosen = self._accepted(request)
        if chosen is None:
            return self._error(request, "NotAcceptable")
        fmt, media = chosen
        body = dump_xml(document) if fmt == "xml" else dump_json(document, pretty=self.pretty)
        return FakeResponse(status, ucwa_headers(f"{media}; charset=utf-8", self.fqdn), body)

    def _json(self, status: int, doc: Mapping[str, Any]) -> FakeResponse:
        return FakeResponse(
            status,
            ucwa_headers("application/json; charset=utf-8", self.fqdn),
            dump_json(doc, pretty=False),
        )

    def _no_content(self) -> FakeResponse:
        headers = [h for h in ucwa_headers("", self.fqdn) if h[0] != "Content-Type"]
        return FakeResponse(204, headers)

    def _method_not_allowed(self, request: FakeRequest, allowed: Iterable[str]) -> FakeResponse:
        response = self._error(request, "MethodNotAllowed")
        response.headers.append(("Allow", ", ".join(sorted(allowed))))
        return response

    def _grant_headers(self) -> list[tuple[str, str]]:
        return [
            ("Cache-Control", "no-store"),
            ("Pragma", "no-cache"),
            ("Content-Type", "application/json"),
            ("Server", "Microsoft-IIS/7.5"),
            ("X-MS-Server-Fqdn", self.fqdn),
            ("X-Powered-By", "ASP.NET"),
        ]

    def _grant_error(self, error: str) -> FakeResponse:
        """A WebTicket error from the catalogue's ``webticket`` rows (``invalid_grant``,
        ``PassiveAuthRequired``, ``unsupported_grant_type``...), as documented."""
        return lookup_ucwa_error(error).response(fqdn=self.fqdn)

    def _aad_error(self, error: str, code: int, description: str) -> FakeResponse:
        body = {
            "error": error,
            "error_description": f"AADSTS{code}: {description}",
            "error_codes": [code],
            "timestamp": self.server_now().strftime("%Y-%m-%d %H:%M:%SZ"),
        }
        headers = [("Cache-Control", "no-store, no-cache"), ("Content-Type", "application/json")]
        return FakeResponse(400, headers, json.dumps(body).encode())
