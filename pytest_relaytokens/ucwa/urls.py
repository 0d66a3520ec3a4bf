"""The UCWA fake's URL table: the fixed paths it serves (case-insensitive, as on IIS), with
their methods, and how an application path splits
(``/ucwa/<prefix>/applications[/<id>[/<rest>]]``)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

__all__ = [
    "AAD_AUTHORIZE_PATH",
    "AAD_TOKEN_PATH",
    "AUTODISCOVER_ROOT",
    "AUTODISCOVER_USER",
    "FIXED_PATHS",
    "REPLACEABLE",
    "SUBRESOURCES",
    "TOKEN_PATH_PATTERN",
    "WEBTICKET_PATH",
    "WEBTICKET_PATH_PATTERN",
    "FixedPath",
    "app_path",
    "fixed_path",
    "parse_path",
    "split_path",
    "subresource",
]

#: The autodiscover root as clients spell it in code (any case is served; hrefs in bodies use
#: the documented ``/Autodiscover/AutodiscoverService.svc/root``).
AUTODISCOVER_ROOT = "/autodiscover/autodiscoverservice.svc/root"
AUTODISCOVER_USER = AUTODISCOVER_ROOT + "/oauth/user"
WEBTICKET_PATH = "/WebTicket/oauthtoken"
AAD_AUTHORIZE_PATH = "/common/oauth2/authorize"
AAD_TOKEN_PATH = "/common/oauth2/token"
#: Where ``arm_error`` and ``arm_unauthorized`` hit by default.
TOKEN_PATH_PATTERN = r"(?i)/mediaRelayAccessToken/?$"
#: The WebTicket (OAuth token endpoint) path, where the ``webticket`` error rows are served.
WEBTICKET_PATH_PATTERN = r"(?i)^/WebTicket/oauthtoken/?$"
#: The ``/ucwa/<prefix>/applications`` prefixes served.
PREFIXES = ("oauth/v1", "v1", "psanon/v1", "anonymous/v1")

_GET = frozenset({"GET"})
_POST = frozenset({"POST"})


@dataclass(frozen=True)
class FixedPath:
    """One fixed path: the service method answering it, its methods, and whether only the
    ``online=True`` deployment serves it."""

    handler: str
    methods: frozenset[str]
    online_only: bool = False


#: Lower-cased path -> what serves it (the application paths are parsed, see app_path).
FIXED_PATHS: dict[str, FixedPath] = {
    "/": FixedPath("_root", _GET),
    AUTODISCOVER_ROOT: FixedPath("_root", _GET),
    AUTODISCOVER_USER: FixedPath("_user", _GET),
    AUTODISCOVER_ROOT + "/user": FixedPath("_user", _GET),
    "/xframe": FixedPath("_xframe", _GET),
    "/autodiscover/xframe/xframe.html": FixedPath("_xframe", _GET),
    AUTODISCOVER_ROOT + "/xframe": FixedPath("_xframe", _GET),
    WEBTICKET_PATH.lower(): FixedPath("_webticket", _POST),
    AAD_TOKEN_PATH: FixedPath("_aad_token", _POST, online_only=True),
    AAD_AUTHORIZE_PATH: FixedPath("_aad_authorize", _GET, online_only=True),
}


#: Methods served on each path below ``/ucwa/.../applications/{id}`` (lower case).
SUBRESOURCES: dict[str, frozenset[str]] = {
    "": frozenset({"GET", "DELETE"}),
    "/me": frozenset({"GET"}),
    "/me/makemeavailable": frozenset({"POST"}),
    "/me/reportmyactivity": frozenset({"POST"}),
    "/me/presence": frozenset({"GET"}),
    "/me/note": frozenset({"GET"}),
    "/me/location": frozenset({"GET"}),
    "/people": frozenset({"GET"}),
    "/people/mycontacts": frozenset({"GET"}),
    "/people/mygroups": frozenset({"GET"}),
    "/onlinemeetings": frozenset({"GET"}),
    "/onlinemeetings/myonlinemeetings": frozenset({"GET"}),
    "/communication": frozenset({"GET"}),
    "/communication/conversations": frozenset({"GET"}),
    "/policies": frozenset({"GET"}),
    "/events": frozenset({"GET"}),
    "/batch": frozenset({"POST"}),
    "/mediarelayaccesstoken": frozenset({"GET"}),
    "/communication/mediarelayaccesstoken": frozenset({"GET"}),
    "/mediarelay": frozenset({"GET"}),
    "/communication/mediarelay": frozenset({"GET"}),
    # the links of client-surface §3.2 (issue 22): reportMyActivity at the application's
    # own href too, the rest of me, people, onlineMeetings and communication
    "/reportmyactivity": frozenset({"POST"}),
    "/me/callforwardingsettings": frozenset({"GET"}),
    "/me/phones": frozenset({"GET"}),
    "/photos/{user}": frozenset({"GET"}),
    "/mediapolicies": frozenset({"GET"}),
    "/communication/misseditems": frozenset({"GET"}),
    "/communication/messaginginvitations": frozenset({"POST"}),
    "/communication/audiovideoinvitations": frozenset({"POST"}),
    "/communication/onlinemeetinginvitations": frozenset({"POST"}),
    **{
        f"/people/{name}": frozenset({"GET"})
        for name in (
            "presencesubscriptions",
            "subscribedcontacts",
            "presencesubscriptionmemberships",
            "mygroupmemberships",
            "myprivacyrelationships",
            "mycontactsandgroupssubscription",
            "search",
        )
    },
    **{
        f"/onlinemeetings/{name}": frozenset({"GET"})
        for name in (
            "onlinemeetingdefaultvalues",
            "onlinemeetingeligiblevalues",
            "onlinemeetinginvitationcustomization",
            "onlinemeetingpolicies",
            "phonedialininformation",
        )
    },
}


#: Placeholder resources (empty collections, default values) a test may replace with its own
#: ``route()``, e.g. ``people/search`` answering with contacts.
REPLACEABLE: frozenset[str] = (
    frozenset(
        key
        for key, methods in SUBRESOURCES.items()
        if methods == {"GET"}
        and key.startswith(("/people/", "/onlinemeetings/", "/me/"))
        and key not in ("/me/presence", "/me/note", "/me/location")
    )
    | {"/mediapolicies", "/communication/misseditems"}
    | {
        key
        for key in SUBRESOURCES
        if key.endswith("invitations")  # a test's own conversation
    }
)


def subresource(rest: str) -> str:
    """The :data:`SUBRESOURCES` key of ``rest`` (``/photos/<user>`` -> ``/photos/{user}``)."""
    if rest.startswith("/photos/") and rest.count("/") == 2 and len(rest) > len("/photos/"):
        return "/photos/{user}"
    return rest


def fixed_path(low: str, online: bool) -> FixedPath | None:
    """The fixed path ``low`` (lower-cased, normalised) names in this deployment, if any."""
    fixed = FIXED_PATHS.get(low)
    return None if fixed is None or (fixed.online_only and not online) else fixed


def split_path(path: str) -> list[str]:
    """Path segments with empty ones dropped: ``//ucwa/x/`` -> ``["ucwa", "x"]``."""
    return [segment for segment in path.split("/") if segment]


def app_path(segments: list[str]) -> tuple[str, str | None, str] | None:
    """``(prefix, app id or None, rest)`` for ``/ucwa/<prefix>/applications[/id[/rest]]``."""
    if len(segments) < 3 or segments[0].lower() != "ucwa":
        return None
    for end in (2, 3):
        if len(segments) > end and segments[end].lower() == "applications":
            prefix = "/".join(segments[1:end]).lower()
            if prefix not in PREFIXES:
                return None
            app = segments[end + 1] if len(segments) > end + 1 else None
            rest = "/" + "/".join(segments[end + 2 :]) if len(segments) > end + 2 else ""
            return prefix, app, rest.lower()
    return None


@functools.lru_cache(maxsize=256)
def parse_path(path: str) -> tuple[str, tuple[str, str | None, str] | None]:
    """The lower-cased normalised path and its application parts (see :func:`app_path`),
    computed once per distinct path."""
    segments = split_path(path)
    return ("/" + "/".join(segments)).lower(), app_path(segments)
