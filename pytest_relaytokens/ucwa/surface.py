"""The resources a UCWA client walks around the token: discovery documents, the application
with its ``_embedded`` resources, ``me`` before and after ``makeMeAvailable``, and the small
read-only resources the application advertises. Pure functions of the state they are given.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from ..http import FakeRequest
from .models import Application
from .timestamps import format_ms_date

__all__ = [
    "AUTODISCOVER_ROOT",
    "AUTODISCOVER_USER",
    "application_doc",
    "events_href",
    "root_doc",
    "user_doc",
]

AUTODISCOVER_ROOT = "/Autodiscover/AutodiscoverService.svc/root"
AUTODISCOVER_USER = AUTODISCOVER_ROOT + "/oauth/user"
XFRAME_PATH = "/Autodiscover/XFrame/XFrame.html"
#: How long an application lives (``expires``) after creation, as in a 2016 capture. Inferred.
APPLICATION_EXPIRES = _dt.timedelta(hours=8)


def origin_of(request: FakeRequest) -> str:
    """``scheme://host[:port]`` the request was sent to."""
    scheme, _, rest = request.url.partition("://")
    return f"{scheme or 'https'}://{rest.split('/', 1)[0].split('?', 1)[0]}"


def domain_of(sip_uri: str) -> str:
    return sip_uri.rpartition("@")[2]


def root_doc(origin: str, domain: str) -> dict[str, Any]:
    """The discovery root as the on-prem docs capture it: absolute hrefs, ``originalDomain``
    echoed, ``self``, ``user`` and ``xframe``."""
    return {
        "_links": {
            "self": {"href": f"{origin}{AUTODISCOVER_ROOT}?originalDomain={domain}"},
            "user": {"href": f"{origin}{AUTODISCOVER_USER}?originalDomain={domain}"},
            "xframe": {"href": f"{origin}{XFRAME_PATH}"},
        }
    }


def user_doc(origin: str) -> dict[str, Any]:
    """The authenticated ``user`` resource: where applications are registered."""
    return {
        "_links": {
            "self": {"href": f"{origin}{AUTODISCOVER_USER}"},
            "applications": {"href": f"{origin}/ucwa/oauth/v1/applications"},
            "xframe": {"href": f"{origin}{XFRAME_PATH}"},
        }
    }


XFRAME_HTML = (
    "<!DOCTYPE html>\n<html><head><title>XFrame</title></head>"
    "<body><!-- pytest-relaytokens: the cross-domain iframe is not scripted --></body></html>\n"
)


def events_href(app: Application, ack: int, instance: str = "") -> str:
    href = f"{app.base}/events?ack={ack}"
    return href + (f"&instanceId={instance}" if instance else "")


def _display_name(sip_uri: str) -> str:
    return sip_uri.removeprefix("sip:").split("@")[0].replace(".", " ").title()


def me_doc(app: Application, sip_uri: str) -> dict[str, Any]:
    """``me``: before makeMeAvailable a ``makeMeAvailable`` link; after it ``presence``,
    ``note``, ``location`` and ``reportMyActivity``. Anonymous users get ``uri``, ``name``
    and ``self`` only."""
    me = f"{app.base}/me"
    if app.anonymous:
        return {
            "rel": "me",
            "name": "Guest",
            "uri": f"sip:{app.id}@anonymous.invalid",
            "_links": {"self": {"href": me}},
        }
    links: dict[str, Any] = {"self": {"href": me}}
    if app.available:
        links["presence"] = {"href": f"{me}/presence"}
        links["note"] = {"href": f"{me}/note"}
        links["location"] = {"href": f"{me}/location"}
        links["reportMyActivity"] = {"href": f"{me}/reportMyActivity"}
    else:
        links["makeMeAvailable"] = {"href": f"{me}/makeMeAvailable"}
    return {
        "rel": "me",
        "name": _display_name(sip_uri),
        "uri": sip_uri,
        "emailAddresses": [sip_uri.removeprefix("sip:")],
        "_links": links,
    }


def people_doc(app: Application) -> dict[str, Any]:
    people = f"{app.base}/people"
    return {
        "rel": "people",
        "_links": {
            "self": {"href": people},
            "myContacts": {"href": f"{people}/myContacts"},
            "myGroups": {"href": f"{people}/myGroups", "revision": "2"},
        },
    }


def online_meetings_doc(app: Application) -> dict[str, Any]:
    meetings = f"{app.base}/onlineMeetings"
    return {
        "rel": "onlineMeetings",
        "_links": {
            "self": {"href": meetings},
            "myOnlineMeetings": {"href": f"{meetings}/myOnlineMeetings"},
        },
    }


def communication_doc(app: Application) -> dict[str, Any]:
    comm = f"{app.base}/communication"
    digits = app.id if app.id.isdigit() else "0"
    guid = f"{int(digits) % 16**32:032x}"
    put_name = f"{guid[:8]}-{guid[8:12]}-{guid[12:16]}-{guid[16:20]}-{guid[20:]}"
    return {
        "rel": "communication",
        put_name: "please pass this in a PUT request",
        "supportedModalities": ["Messaging"] if app.available else [],
        "supportedMessageFormats": ["Plain"],
        "etag": str(app.etag),
        "_links": {
            "self": {"href": comm},
            "mediaRelayAccessToken": {"href": f"{comm}/mediaRelayAccessToken"},
            "conversations": {"href": f"{comm}/conversations?filter=active"},
        },
    }


def application_doc(app: Application, sip_uri: str, instance: str = "") -> dict[str, Any]:
    """The application resource: every documented property (``id`` = the path segment,
    ``expires`` as ``/Date(ms)/``) and ``_embedded`` me, people, onlineMeetings and
    communication. Only links the fake serves are advertised."""
    doc: dict[str, Any] = {
        "rel": "application",
        "id": app.id,
        "culture": app.culture,
        "userAgent": app.user_agent,
        "type": app.type,
        "endpointId": app.endpoint_id,
    }
    if instance:
        doc["instanceId"] = instance
    doc["etag"] = str(app.etag)
    doc["expires"] = format_ms_date(app.created + APPLICATION_EXPIRES)
    doc["_links"] = {
        "self": {"href": app.base},
        "policies": {"href": f"{app.base}/policies"},
        "batch": {"href": f"{app.base}/batch"},
        "events": {"href": events_href(app, app.channel(instance).ack, instance)},
    }
    doc["_embedded"] = {
        "me": me_doc(app, sip_uri),
        "people": people_doc(app),
        "onlineMeetings": online_meetings_doc(app),
        "communication": communication_doc(app),
    }
    return doc


def leaf_doc(app: Application, rest: str, sip_uri: str) -> dict[str, Any]:
    """The small read-only resources (``rest`` is the lower-case path below the app)."""
    base = app.base
    docs: dict[str, dict[str, Any]] = {
        "/me/presence": {
            "rel": "presence",
            "availability": app.sign_in_as,
            "activity": "Available" if app.sign_in_as == "Online" else app.sign_in_as,
            "_links": {"self": {"href": f"{base}/me/presence"}},
        },
        "/me/note": {
            "rel": "note",
            "message": "",
            "type": "personal",
            "_links": {"self": {"href": f"{base}/me/note"}},
        },
        "/me/location": {
            "rel": "location",
            "location": "",
            "_links": {"self": {"href": f"{base}/me/location"}},
        },
        "/people/mycontacts": {
            "rel": "myContacts",
            "_links": {"self": {"href": f"{base}/people/myContacts"}},
            "_embedded": {"contact": []},
        },
        "/people/mygroups": {
            "rel": "myGroups",
            "_links": {"self": {"href": f"{base}/people/myGroups"}},
            "_embedded": {"group": []},
        },
        "/onlinemeetings/myonlinemeetings": {
            "rel": "myOnlineMeetings",
            "_links": {"self": {"href": f"{base}/onlineMeetings/myOnlineMeetings"}},
            "_embedded": {"myOnlineMeeting": []},
        },
        "/communication/conversations": {
            "rel": "conversations",
            "_links": {"self": {"href": f"{base}/communication/conversations"}},
            "_embedded": {"conversation": []},
        },
        "/policies": {
            "rel": "policies",
            "audioOnlyOnWifi": "Disabled",
            "conversationHistory": "Disabled",
            "exchangeUnifiedContactStore": "Disabled",
            "loggingLevel": "Off",
            "photosEnabled": "true",
            "_links": {"self": {"href": f"{base}/policies"}},
        },
    }
    if rest == "/me":
        return me_doc(app, sip_uri)
    if rest == "/people":
        return people_doc(app)
    if rest == "/onlinemeetings":
        return online_meetings_doc(app)
    if rest == "/communication":
        return communication_doc(app)
    return docs[rest]


def make_me_available_events(app: Application, sip_uri: str) -> list[dict[str, Any]]:
    """What the event channel reports after makeMeAvailable: ``communication`` updated,
    then ``me`` updated with ``presence``, ``note`` and ``location`` added. Updated events
    embed the resource as it now is (clients read ``_embedded.communication._links``)."""
    comm = f"{app.base}/communication"
    me = f"{app.base}/me"
    return [
        {
            "rel": "communication",
            "href": comm,
            "events": [
                {
                    "link": {"rel": "communication", "href": comm},
                    "_embedded": {"communication": communication_doc(app)},
                    "type": "updated",
                }
            ],
        },
        {
            "rel": "me",
            "href": me,
            "events": [
                {
                    "link": {"rel": "me", "href": me},
                    "_embedded": {"me": me_doc(app, sip_uri)},
                    "type": "updated",
                },
                {"link": {"rel": "presence", "href": f"{me}/presence"}, "type": "added"},
                {"link": {"rel": "note", "href": f"{me}/note"}, "type": "added"},
                {"link": {"rel": "location", "href": f"{me}/location"}, "type": "added"},
            ],
        },
    ]
