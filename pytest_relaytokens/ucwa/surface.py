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


def down_level_logon(username: str) -> str:
    """``CONTOSO\\alice`` for ``alice@contoso.com``: the ``DOMAIN\\user`` form clients send
    in the password grant (the NetBIOS name taken as the domain's first label: inferred)."""
    local, _, domain = username.partition("@")
    return f"{domain.split('.')[0].upper()}\\{local}" if domain else local


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
    links["callForwardingSettings"] = {"href": f"{me}/callForwardingSettings"}
    links["phones"] = {"href": f"{me}/phones"}
    links["photo"] = {"href": photo_href(app, sip_uri)}
    return {
        "rel": "me",
        "name": _display_name(sip_uri),
        "uri": sip_uri,
        "emailAddresses": [sip_uri.removeprefix("sip:")],
        "_links": links,
    }


#: ``people`` links as the walkthrough and the Online capture list them (rev 2 where Online
#: says so); each is an empty collection here.
PEOPLE_LINKS: tuple[tuple[str, str | None], ...] = (
    ("presenceSubscriptions", None),
    ("subscribedContacts", None),
    ("presenceSubscriptionMemberships", None),
    ("myGroups", "2"),
    ("myGroupMemberships", "2"),
    ("myContacts", None),
    ("myPrivacyRelationships", None),
    ("myContactsAndGroupsSubscription", None),
    ("search", "2"),
)
#: ``onlineMeetings`` links as the walkthrough lists them (``myAssignedOnlineMeeting`` is
#: optional and left out).
MEETING_LINKS: tuple[str, ...] = (
    "myOnlineMeetings",
    "onlineMeetingDefaultValues",
    "onlineMeetingEligibleValues",
    "onlineMeetingInvitationCustomization",
    "onlineMeetingPolicies",
    "phoneDialInInformation",
)
#: The ``communication`` links of the Online captures that start something (POST): the fake
#: does not model conversations, so they answer 403 OperationNotSupported once the user is
#: available (inferred: what a server whose policy disables the modality sends).
START_LINKS: dict[str, tuple[str, str | None]] = {
    "startMessaging": ("messagingInvitations", "2"),
    "startAudioVideo": ("audioVideoInvitations", "2"),
    "startOnlineMeeting": ("onlineMeetingInvitations?onlineMeetingUri=adhoc", None),
    "joinOnlineMeeting": ("onlineMeetingInvitations", None),
}


def _link(href: str, revision: str | None = None) -> dict[str, str]:
    return {"href": href} if revision is None else {"href": href, "revision": revision}


def photo_href(app: Application, sip_uri: str) -> str:
    """``.../photos/<user>`` (the walkthrough's form)."""
    return f"{app.base}/photos/{sip_uri.removeprefix('sip:')}"


def people_doc(app: Application) -> dict[str, Any]:
    people = f"{app.base}/people"
    links = {"self": {"href": people}}
    links.update({name: _link(f"{people}/{name}", rev) for name, rev in PEOPLE_LINKS})
    return {"rel": "people", "_links": links}


def online_meetings_doc(app: Application) -> dict[str, Any]:
    meetings = f"{app.base}/onlineMeetings"
    links = {"self": {"href": meetings}}
    links.update({name: {"href": f"{meetings}/{name}"} for name in MEETING_LINKS})
    return {"rel": "onlineMeetings", "_links": links}


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
            "mediaPolicies": {"href": f"{app.base}/mediaPolicies"},
            "conversations": {"href": f"{comm}/conversations?filter=active"},
            **{name: _link(f"{comm}/{path}", rev) for name, (path, rev) in START_LINKS.items()},
            "missedItems": {"href": f"{comm}/missedItems"},
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
    docs.update(_linked_docs(base))
    if rest == "/me":
        return me_doc(app, sip_uri)
    if rest == "/people":
        return people_doc(app)
    if rest == "/onlinemeetings":
        return online_meetings_doc(app)
    if rest == "/communication":
        return communication_doc(app)
    return docs[rest]


def _linked_docs(base: str) -> dict[str, dict[str, Any]]:
    """The resources behind the links the walkthrough and the captures list, as empty or
    default-valued resources (shapes inferred from the reference pages' property lists)."""

    def plain(path: str, rel: str, **fields: Any) -> dict[str, Any]:
        return {"rel": rel, **fields, "_links": {"self": {"href": f"{base}{path}"}}}

    docs: dict[str, dict[str, Any]] = {}
    for name, _ in PEOPLE_LINKS:
        docs[f"/people/{name.lower()}"] = plain(f"/people/{name}", name, _embedded={})
    docs["/people/search"] = plain(
        "/people/search", "search", moreResultsAvailable=False, _embedded={"contact": []}
    )
    docs["/people/subscribedcontacts"]["_embedded"] = {"contact": []}
    meetings: dict[str, dict[str, Any]] = {
        "onlineMeetingDefaultValues": {
            "accessLevel": "SameEnterprise",
            "automaticLeaderAssignment": "SameEnterprise",
            "defaultOnlineMeetingRel": "myOnlineMeetings",
            "entryExitAnnouncement": "Disabled",
            "participantsWarningThreshold": 250,
        },
        "onlineMeetingEligibleValues": {
            "accessLevels": ["Everyone", "Invited", "Locked", "SameEnterprise"],
            "automaticLeaderAssignments": ["Disabled", "Everyone", "SameEnterprise"],
            "entryExitAnnouncements": ["Disabled", "Enabled"],
            "lobbyBypassForPhoneUsers": ["Disabled", "Enabled"],
        },
        "onlineMeetingInvitationCustomization": {"invitationFooterText": ""},
        "onlineMeetingPolicies": {
            "entryExitAnnouncement": "Supported",
            "phoneUserAdmission": "Enabled",
        },
        "phoneDialInInformation": {"_embedded": {"dialInRegion": []}},
    }
    for name, fields in meetings.items():
        docs[f"/onlinemeetings/{name.lower()}"] = plain(f"/onlineMeetings/{name}", name, **fields)
    docs["/me/callforwardingsettings"] = plain(
        "/me/callForwardingSettings", "callForwardingSettings", activeSetting="Off"
    )
    docs["/me/phones"] = plain("/me/phones", "phones", _embedded={"phone": []})
    docs["/mediapolicies"] = plain("/mediaPolicies", "mediaPolicies", audioBitRate="Default")
    docs["/communication/misseditems"] = plain(
        "/communication/missedItems", "missedItems", missedConversationsCount=0
    )
    return docs


#: A 1x1 transparent PNG: the photo a user without one gets (real servers send the
#: user's picture; an empty answer would break image decoders).
BLANK_PHOTO = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000b49444154789c6360000200000500017a5eab3f0000000049454e44ae426082"
)


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
