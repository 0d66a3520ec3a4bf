# ruff: noqa: E501  (the error table below keeps one entry per line)
"""Every UCWA error a ``mediaRelayAccessToken`` client may meet, as ready-made responses.

Groups: ``mediaRelayAccessToken`` (the 5 rows of the token page), ``generic`` (the 17
generic synchronous errors, the HTTP-status-table codes no other row covers and the
``X-Ms-diagnostics`` variants), ``resource`` (the remaining per-resource triples, the
application endings and the event channel's ``PGetReplaced``), ``auth`` (the bearer 401) and
``webticket`` (the token endpoint's documented OAuth errors). Each group is served on one
endpoint (:data:`GROUP_ENDPOINTS`, a row's ``endpoint``): ``webticket`` rows on the sign-in
``POST /WebTicket/oauthtoken``, every other row on ``mediaRelayAccessToken``.
``inferred=True`` marks a status/code/subcode the reference could not confirm.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, NamedTuple, get_args

from ..http import FakeResponse
from .urls import TOKEN_PATH_PATTERN, WEBTICKET_PATH_PATTERN

if TYPE_CHECKING:  # loaded on first use: the end-of-run report needs only the entries
    from .models import UcwaErrorBody

__all__ = [
    "ERROR_CODES",
    "ERROR_SUBCODES",
    "GROUP_ENDPOINTS",
    "HTTP_STATUS_CODES",
    "UCWA_ERRORS",
    "UCWA_GROUPS",
    "Endpoint",
    "UcwaErrorEntry",
    "lookup_ucwa_error",
    "ucwa_headers",
    "unauthorized_response",
]

Group = Literal["mediaRelayAccessToken", "generic", "resource", "auth", "webticket"]
#: The groups, in the catalogue's order (the fan-out's group selectors).
UCWA_GROUPS: tuple[Group, ...] = get_args(Group)


class Endpoint(NamedTuple):
    """Where a row is answered: an HTTP method (None: any) and a regex searched in the path."""

    method: str | None
    path: str


#: The endpoint each group's rows belong to: a WebTicket error is an answer of the OAuth token
#: endpoint (the sign-in ``POST``), never of the token GET (AuthenticationInUCWA.md).
GROUP_ENDPOINTS: dict[Group, Endpoint] = {
    "mediaRelayAccessToken": Endpoint(None, TOKEN_PATH_PATTERN),
    "generic": Endpoint(None, TOKEN_PATH_PATTERN),
    "resource": Endpoint(None, TOKEN_PATH_PATTERN),
    "auth": Endpoint(None, TOKEN_PATH_PATTERN),
    "webticket": Endpoint("POST", WEBTICKET_PATH_PATTERN),
}

#: ErrorCode enum, reference §3.4 (20 members).
ERROR_CODES: frozenset[str] = frozenset(
    [
        "BadRequest",
        "Conflict",
        "EntityTooLarge",
        "ExchangeServiceFailure",
        "Forbidden",
        "GatewayTimeout",
        "Gone",
        "Informational",
        "LocalFailure",
        "MethodNotAllowed",
        "NotAcceptable",
        "NotFound",
        "PreconditionFailed",
        "PreconditionRequired",
        "RemoteFailure",
        "ServiceFailure",
        "ServiceUnavailable",
        "Timeout",
        "TooManyRequests",
        "UnsupportedMediaType",
    ]
)

#: ErrorSubcode enum, reference §3.5 (81 members).
ERROR_SUBCODES: frozenset[str] = frozenset(
    [
        "AlreadyExists",
        "AnonymousNotAllowed",
        "AnotherOperationPending",
        "APIVersionNotSupported",
        "ApplicationNotFound",
        "AttendeeNotAllowed",
        "AutoAccepted",
        "Busy",
        "CallbackUriUnreachable",
        "CallTerminated",
        "Canceled",
        "ConnectedElsewhere",
        "ConversationNotFound",
        "Declined",
        "Demoted",
        "Denied",
        "DerivedConversation",
        "DeserializationFailure",
        "DestinationNotFound",
        "DialoutNotAllowed",
        "DoNotDisturb",
        "Ejected",
        "Ended",
        "EscalationFailed",
        "ExchangeTimeout",
        "Expired",
        "FederationRequired",
        "Forwarded",
        "InactiveApplicationExpired",
        "InsufficientBandwidth",
        "InvalidMediaDescription",
        "InviteesOnly",
        "IPv6NotSupported",
        "LimitExceeded",
        "LisServiceUnavailable",
        "MakeMeAvailableRequired",
        "MediaEncryptionMismatch",
        "MediaEncryptionNotSupported",
        "MediaEncryptionRequired",
        "MediaFailure",
        "MediaFallback",
        "MediaNegotiationFailure",
        "MediaNegotiationTimeOut",
        "MigrationInProgress",
        "Missed",
        "ModalityNotSupported",
        "NewContentSharer",
        "NoDelegatesConfigured",
        "NoLocationFound",
        "NormalizationFailed",
        "NotAcceptable",
        "NotAllowed",
        "NoTeamMembersConfigured",
        "OperationNotSupported",
        "ParameterValidationFailure",
        "PGetReplaced",
        "PhoneNumberConflict",
        "ProvisioningDataUnavailable",
        "PstnCallFailed",
        "Redirected",
        "Removed",
        "Replaced",
        "RepliedWithOtherModality",
        "SessionSwitched",
        "TemporarilyUnavailable",
        "ThreadIdAlreadyExists",
        "Timeout",
        "TooManyApplications",
        "TooManyContacts",
        "TooManyConversations",
        "TooManyGroups",
        "TooManyLobbyParticipants",
        "TooManyOnlineMeetings",
        "TooManyParticipants",
        "TransferDeclined",
        "Transferred",
        "TransferTargetDeclined",
        "Unavailable",
        "Unreachable",
        "UnsupportedMediaType",
        "UserAgentNotAllowed",
    ]
)

#: The HTTP status table of reference §3.2 (status -> code as spelled there).
HTTP_STATUS_CODES: dict[int, str] = {
    400: "BadRequest",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    408: "ClientTimeout",
    409: "Conflict",
    410: "Gone",
    412: "PreConditionFailed",
    413: "EntityTooLarge",
    415: "UnsupportedMediaType",
    428: "PreConditionRequired",
    429: "TooManyRequests",
    500: "ServiceFailure",
    503: "ServiceUnavailable",
    504: "Timeout",
}

DEFAULT_FQDN = "fe1.contoso.com"
#: Where SfB Online's challenge sends clients for an Azure AD token (reference §6.2).
AAD_AUTHORIZATION_URI = "https://login.windows.net/common/oauth2/authorize"
_RETRY = "An error occurred. Please retry. If the problem persists, contact your support team."


def ucwa_headers(content_type: str, fqdn: str = DEFAULT_FQDN) -> list[tuple[str, str]]:
    """The headers a UCWA front end (IIS/ASP.NET) puts on its responses."""
    return [
        ("Cache-Control", "no-cache"),
        ("Pragma", "no-cache"),
        ("Content-Type", content_type),
        ("Expires", "-1"),
        ("Server", "Microsoft-IIS/7.5"),
        ("X-MS-UcwaVersion", "1.7"),
        ("X-Content-Type-Options", "nosniff"),
        ("X-MS-Server-Fqdn", fqdn),
        ("X-AspNet-Version", "4.0.30319"),
        ("X-Powered-By", "ASP.NET"),
    ]


@dataclass(frozen=True)
class UcwaErrorEntry:
    """One documented UCWA error and how the fake answers it."""

    name: str
    status: int
    code: str
    subcode: str | None
    message: str
    description: str
    group: Group
    inferred: bool
    source: str
    #: ``(number, reason)`` of the ``X-Ms-diagnostics`` header the response carries.
    diagnostic: tuple[int, str] | None = None
    #: The ``debugInfo`` bag of the body (a real ParameterValidationFailure has one).
    debug_info: tuple[tuple[str, str], ...] = ()
    #: The ``Warning`` header's text after ``120 <fqdn> `` (28055 carries one).
    warning: str | None = None
    #: Whether the response also carries both ``WWW-Authenticate`` challenges.
    challenges: bool = False
    #: Every part of the row the documents do not give, with the reason for our choice:
    #: ``(part, why)``; parts are ``status``, ``code``, ``subcode``, ``message``, ``body``,
    #: ``diagnostic``, ``headers``.
    inferred_parts: tuple[tuple[str, str], ...] = ()
    #: A WebTicket (OAuth token endpoint) error: 400 ``{"error": code, ...}``, not a UCWA body.
    grant_error: bool = False
    #: Extra keys of a grant error's JSON body, ``{fqdn}`` filled in (the passive grant's URI).
    grant_body: tuple[tuple[str, str], ...] = ()

    @property
    def id(self) -> str:
        """``"409-Conflict-TooManyGroups"``; without a subcode ``"400-BadRequest"``; an
        ``X-Ms-diagnostics`` variant ends with its number (``"403-Forbidden-28055"``)."""
        parts = [str(self.status), self.code] + ([self.subcode] if self.subcode else [])
        if self.diagnostic is not None:
            parts.append(str(self.diagnostic[0]))
        return "-".join(parts)

    @property
    def endpoint(self) -> Endpoint:
        """Where the fake answers this row when armed (its group's :data:`GROUP_ENDPOINTS`)."""
        return GROUP_ENDPOINTS[self.group]

    @property
    def note(self) -> str:
        """The inferred parts and their reasons as one line ("" when all is documented)."""
        return "; ".join(f"{part}: {why}" for part, why in self.inferred_parts)

    def body_model(self) -> UcwaErrorBody:
        from .models import UcwaErrorBody

        return UcwaErrorBody(
            code=self.code,
            subcode=self.subcode,
            message=self.message,
            debug_info=dict(self.debug_info) if self.debug_info else None,
        )

    def response(
        self,
        fmt: Literal["json", "xml"] = "json",
        fqdn: str = DEFAULT_FQDN,
        *,
        authorization_uri: str = AAD_AUTHORIZATION_URI,
    ) -> FakeResponse:
        """The full HTTP response (the IIS 401 page for the ``auth`` entry); an entry with
        ``challenges`` carries SfB Online's pair, pointing at ``authorization_uri``."""
        if self.grant_error:
            return grant_error_response(self, fqdn)
        if self.group == "auth":
            response = unauthorized_response(fqdn=fqdn)
            response.error_id = self.id
            return response
        ctype = (
            "application/xml; charset=utf-8" if fmt == "xml" else "application/json; charset=utf-8"
        )
        host = _host_only(fqdn)
        headers = ucwa_headers(ctype, host)
        if self.diagnostic is not None:
            number, reason = self.diagnostic
            headers.append(("X-Ms-diagnostics", diagnostics_header(number, host, reason)))
        if self.warning is not None:
            headers.append(("Warning", f'120 {host} "{self.warning}"'))
        if self.challenges:
            online = unauthorized_response(fqdn=fqdn, authorization_uri=authorization_uri)
            headers.extend(h for h in online.headers if _is_challenge(h))
        from .wire import render_error

        return FakeResponse(
            self.status, headers, render_error(self.body_model(), fmt), error_id=self.id
        )


def grant_error_response(entry: UcwaErrorEntry, fqdn: str = DEFAULT_FQDN) -> FakeResponse:
    """A WebTicket token-endpoint error (AuthenticationInUCWA.md, "Error conditions"): 400,
    ``Content-Type: application/json;charset=UTF-8``, ``Cache-Control: no-store``, ``Pragma:
    no-cache`` and ``{"error":"<value>"}``; the passive grant's answer has its own documented
    headers and ``ms_rtc_passiveauthuri`` (slashes escaped, as .NET writes them)."""
    host = _host_only(fqdn)
    if entry.grant_body:  # the passive grant's documented sample
        headers = [("Content-Type", "application/json")]
    else:
        headers = [
            ("Content-Type", "application/json;charset=UTF-8"),
            ("Cache-Control", "no-store"),
            ("Pragma", "no-cache"),
        ]
    if entry.diagnostic is not None:
        number, reason = entry.diagnostic
        headers.append(("X-Ms-diagnostics", diagnostics_header(number, host, reason)))
    headers += [("X-MS-Server-Fqdn", host), ("X-Content-Type-Options", "nosniff")]
    body = {"error": entry.code, **{k: v.format(fqdn=fqdn) for k, v in entry.grant_body}}
    text = json.dumps(body, separators=(",", ":")).replace("/", "\\/")
    return FakeResponse(entry.status, headers, text.encode("utf-8"), error_id=entry.id)


def diagnostics_header(number: int, fqdn: str, reason: str) -> str:
    """``28055;source="fe1.contoso.com";reason="..."`` (reference §4.4)."""
    return f'{number};source="{fqdn}";reason="{reason}"'


def _is_challenge(header: tuple[str, str]) -> bool:
    return header[0].lower() == "www-authenticate"


def _e(
    name: str,
    status: int,
    code: str,
    subcode: str | None,
    group: Group,
    inferred: bool,
    message: str,
    description: str,
    source: str,
    **extra: object,
) -> UcwaErrorEntry:
    """One row of the table below, in its column order."""
    return UcwaErrorEntry(
        name,
        status,
        code,
        subcode,
        message,
        description,
        group,
        inferred,
        source,
        **extra,  # type: ignore[arg-type]
    )


# Reasons shared by several rows (the ``inferred_parts`` column).
_OUR_MESSAGE = (
    "message",
    "the documents give no text for it: ours, in the style of the documented bodies",
)
_GONE = (
    "code",
    "410 is documented for it; the body code Gone is the ErrorCode that status maps to",
)
_NO_STATUS = ("status", "an ErrorCode member with no documented HTTP status")
_OUR_BODY = ("body", "status and X-Ms-diagnostics documented; the JSON body is ours")
_GIST = ("diagnostic", "the reference gives the reason's gist, not its exact text")
_GRANT_HEADERS = (
    "headers",
    "X-MS-Server-Fqdn and X-Content-Type-Options as on the documented passive answer",
)
_DOCS_AUTH = "AuthenticationInUCWA.md, Error conditions (ucwa.md §6.1, S8)"

_M: Group = "mediaRelayAccessToken"
_G: Group = "generic"
_R: Group = "resource"
_A: Group = "auth"
_W: Group = "webticket"

# fmt: off
UCWA_ERRORS: tuple[UcwaErrorEntry, ...] = (
    # name, status, code, subcode, group, inferred, message, description, source[, extras]
    # --- mediaRelayAccessToken page, reference §1.5 (5 rows) ---------------------------
    _e("ServiceFailure",                   500, "ServiceFailure",         "InvalidExchangeServerVersion", _M, False, "Your Exchange mailbox has moved to a version that does not support this feature.", "Invalid Exchange server version: the mailbox moved to an unsupported version.", "ucwa.md §1.5", inferred_parts=(_OUR_MESSAGE,)),
    _e("Conflict",                         409, "Conflict",               "AlreadyExists",                _M, False, "The requested resource already exists. Please wait and try again.", "The resource already exists.", "ucwa.md §1.5, §4.2", inferred_parts=()),
    _e("Conflict",                         409, "Conflict",               "TooManyGroups",                _M, False, "You have reached the maximum number of groups. Please remove a group and try again.", "Too many groups.", "ucwa.md §1.5", inferred_parts=(_OUR_MESSAGE,)),
    _e("Conflict",                         409, "Conflict",               None,                           _M, True,  "This service, resource or API is not supported.", "Unsupported service/resource/API (docs subcode 'None': subcode omitted on the wire).", "ucwa.md §1.5", inferred_parts=(("subcode", "the docs write None, not an ErrorSubcode member: omitted on the wire"), _OUR_MESSAGE,)),
    _e("Gone",                             410, "Gone",                   "CannotRedirect",               _M, False, "The request cannot be redirected because no backup pool is configured.", "Cannot redirect: no backup pool configured.", "ucwa.md §1.5", inferred_parts=(_OUR_MESSAGE,)),
    # --- generic synchronous errors, reference §3.1/§3.3 (17 names) --------------------
    _e("ApplicationNotFound",              404, "NotFound",               "ApplicationNotFound",          _G, False, _RETRY, "The application resource does not exist (expired or deleted).", "ucwa.md §3.3, §4.2", inferred_parts=()),
    _e("BadRequest",                       400, "BadRequest",             None,                           _G, False, "The request is invalid. Please check what you entered and try again.", "The request as a whole is wrong (e.g. malformed JSON/XML).", "ucwa.md §3.3", inferred_parts=(_OUR_MESSAGE,)),
    _e("DeserializationFailure",           400, "BadRequest",             "DeserializationFailure",       _G, True,  "The request body could not be read. Please check its format and try again.", "The body could not be deserialized (bad format or invalid characters).", "ucwa.md §3.3", inferred_parts=(("status", "400 BadRequest as its sibling ParameterValidationFailure; not documented"), _OUR_MESSAGE,)),
    _e("EntityTooLarge",                   413, "EntityTooLarge",         None,                           _G, False, "The request is too large.", "The request entity is too large.", "ucwa.md §3.3", inferred_parts=(_OUR_MESSAGE,)),
    _e("ExchangeServiceFailure",           502, "ExchangeServiceFailure", None,                           _G, True,  "The Exchange service could not be reached. Please try again later.", "Exchange connectivity failure (slow or malformed Exchange reply).", "ucwa.md §3.3", inferred_parts=(("status", "502: an upstream (Exchange) failure; not documented"), _OUR_MESSAGE,)),
    _e("InactiveApplicationExpired",       410, "Gone",                   "InactiveApplicationExpired",   _G, True,  "Your application expired because it was inactive. Please sign in again.", "The application ended: no event-channel request or reportMyActivity for too long.", "ucwa-client-surface.md §3.4 (410 confirmed; body code Gone inferred)", inferred_parts=(_GONE, _OUR_MESSAGE,)),
    _e("MethodNotAllowed",                 405, "MethodNotAllowed",       None,                           _G, False, "The requested method is not supported on this resource.", "HTTP method not supported on this resource.", "ucwa.md §3.3", inferred_parts=(_OUR_MESSAGE,)),
    _e("MobileApplicationNoLongerAllowed", 403, "Forbidden",              "UserAgentNotAllowed",          _G, True,  "You are no longer allowed to use mobile applications. Contact your support team.", "The user is no longer authorised to use mobile applications.", "ucwa.md §3.3", inferred_parts=(("status", "in neither enum: 403 Forbidden/UserAgentNotAllowed, a subcode so its id differs from Forbidden/403/None"), _OUR_MESSAGE,)),
    _e("ParameterValidationFailure",       400, "BadRequest",             "ParameterValidationFailure",   _G, False, "Please check what you entered and try again.", "A parameter value is invalid.", "ucwa.md §3.3, §4.2 (debugInfo as in the real SfB Online body)", debug_info=(("diagnosticsCode", "2"),), inferred_parts=()),
    _e("PreconditionFailed",               412, "PreconditionFailed",     None,                           _G, True,  "The resource has changed since it was last read. Please refresh and try again.", "The If-Match precondition was not met (stale ETag).", "ucwa.md §3.3", inferred_parts=(("code", "the ErrorCode-enum spelling; the status table writes PreConditionFailed"), _OUR_MESSAGE,)),
    _e("PreconditionRequired",             428, "PreconditionRequired",   None,                           _G, True,  "This operation requires an If-Match precondition.", "The operation needs an If-Match header.", "ucwa.md §3.3", inferred_parts=(("code", "the ErrorCode-enum spelling; the status table writes PreConditionRequired"), _OUR_MESSAGE,)),
    _e("ResourceNotFound",                 404, "NotFound",               None,                           _G, True,  "The requested resource could not be found.", "The resource does not exist.", "ucwa.md §3.3", inferred_parts=(("subcode", "none: ResourceNotFound is not an ErrorSubcode member"), _OUR_MESSAGE,)),
    _e("ServiceFailure",                   500, "ServiceFailure",         None,                           _G, False, _RETRY, "Internal server error.", "ucwa.md §3.3", inferred_parts=(_OUR_MESSAGE,)),
    _e("ServiceTimeout",                   504, "Timeout",                None,                           _G, True,  "The operation timed out. Please try again.", "Internal server error: a remote service timed out.", "ucwa.md §3.3", inferred_parts=(("status", "504 Timeout, what the status table maps 504 to; not documented for this name"), _OUR_MESSAGE,)),
    _e("TooManyApplications",              410, "Gone",                   "TooManyApplications",          _G, True,  "You have too many applications signed in. Please sign out of one and try again.", "The application ended because the user registered too many applications.", "ucwa-client-surface.md §3.4 (410 confirmed; body code Gone inferred)", inferred_parts=(_GONE, _OUR_MESSAGE,)),
    _e("UnsupportedMediaType",             415, "UnsupportedMediaType",   None,                           _G, False, "The content type of the request is not supported.", "The request's Content-Type is not supported.", "ucwa.md §3.3", inferred_parts=(_OUR_MESSAGE,)),
    _e("VersionNotSupported",              404, "NotFound",               "APIVersionNotSupported",       _G, False, "The requested version is not supported.", "The requested (minimum resource) version is not supported.", "ucwa.md §3.3 (Versioning)", inferred_parts=(_OUR_MESSAGE,)),
    # --- HTTP status table codes no row above covers, reference §3.2 ---------------------
    _e("ClientTimeout",                    408, "ClientTimeout",          None,                           _G, False, "The request timed out before it was completely received.", "The client took too long to send the request.", "ucwa.md §3.2", inferred_parts=(_OUR_MESSAGE,)),
    _e("ServiceUnavailable",               503, "ServiceUnavailable",     None,                           _G, False, "The service is temporarily unavailable. Please try again later.", "The service is temporarily unavailable.", "ucwa.md §3.2", inferred_parts=(_OUR_MESSAGE,)),
    _e("NotAcceptable",                    406, "NotAcceptable",          None,                           _G, True,  "The requested representation is not available. Use application/json or application/xml.", "No representation matches the Accept header.", "ucwa.md §3.4 (ErrorCode enum)", inferred_parts=(("status", "406 for an Accept the fake cannot meet; an ErrorCode member with no documented status"), _OUR_MESSAGE,)),
    # --- remaining per-resource triples, reference §3.6 -----------------------------------
    _e("BadRequest",                       400, "BadRequest",             "NormalizationFailed",          _R, False, "The phone number could not be normalized. Please check it and try again.", "Phone-number normalisation failed.", "ucwa.md §3.6", inferred_parts=(_OUR_MESSAGE,)),
    _e("Conflict",                         409, "Conflict",               "LimitExceeded",                _R, False, "You have reached the maximum number of contacts.", "Contact limit (default 250) exceeded.", "ucwa.md §3.6", inferred_parts=(_OUR_MESSAGE,)),
    _e("Conflict",                         409, "Conflict",               "MakeMeAvailableRequired",      _R, False, "You must be signed in for presence (makeMeAvailable) to do this.", "makeMeAvailable must be called first.", "ucwa.md §3.6", inferred_parts=(_OUR_MESSAGE,)),
    _e("Conflict",                         409, "Conflict",               "NoDelegatesConfigured",        _R, False, "No delegates are configured.", "No delegates configured.", "ucwa.md §3.6", inferred_parts=(_OUR_MESSAGE,)),
    _e("Conflict",                         409, "Conflict",               "NoTeamMembersConfigured",      _R, False, "No team members are configured.", "No team members configured.", "ucwa.md §3.6", inferred_parts=(_OUR_MESSAGE,)),
    _e("Conflict",                         409, "Conflict",               "TooManyOnlineMeetings",        _R, False, "You have reached the maximum number of meetings.", "Meeting limit reached.", "ucwa.md §3.6", inferred_parts=(_OUR_MESSAGE,)),
    _e("Forbidden",                        403, "Forbidden",              "AnonymousNotAllowed",          _R, False, "Anonymous users are not allowed to do this.", "Anonymous user can't do this.", "ucwa.md §3.6", inferred_parts=(_OUR_MESSAGE,)),
    _e("Forbidden",                        403, "Forbidden",              "LimitExceeded",                _R, False, "You have reached the maximum number of subscriptions.", "Subscription limit exceeded.", "ucwa.md §3.6", inferred_parts=(_OUR_MESSAGE,)),
    _e("Forbidden",                        403, "Forbidden",              "NoDelegatesConfigured",        _R, False, "No delegates are configured.", "No delegates configured.", "ucwa.md §3.6", inferred_parts=(_OUR_MESSAGE,)),
    _e("Forbidden",                        403, "Forbidden",              "NoTeamMembersConfigured",      _R, False, "No team members are configured.", "No team members configured.", "ucwa.md §3.6", inferred_parts=(_OUR_MESSAGE,)),
    _e("Forbidden",                        403, "Forbidden",              None,                           _R, False, "You don't have permission to do this.", "Not permitted.", "ucwa.md §3.6", inferred_parts=(_OUR_MESSAGE,)),
    _e("Forbidden",                        403, "Forbidden",              "OperationNotSupported",        _R, False, "This operation is not supported.", "Operation not supported (e.g. delegator group membership unavailable).", "ucwa.md §3.6", inferred_parts=(_OUR_MESSAGE,)),
    _e("Forbidden",                        403, "Forbidden",              "TooManyContacts",              _R, False, "The distribution group has too many members.", "Distribution group too large.", "ucwa.md §3.6", inferred_parts=(_OUR_MESSAGE,)),
    _e("GatewayTimeout",                   504, "GatewayTimeout",         None,                           _R, False, "The gateway timed out. Please try again.", "Gateway timeout.", "ucwa.md §3.6", inferred_parts=(_OUR_MESSAGE,)),
    _e("Gone",                             410, "Gone",                   None,                           _R, False, "The requested resource is no longer available.", "Gone.", "ucwa.md §3.6", inferred_parts=(_OUR_MESSAGE,)),
    _e("NotFound",                         404, "NotFound",               "DestinationNotFound",          _R, False, "The destination could not be found.", "Destination (e.g. meeting) not found.", "ucwa.md §3.6", inferred_parts=(_OUR_MESSAGE,)),
    _e("ServiceFailure",                   500, "ServiceFailure",         "CallbackChannelError",         _R, False, "The event channel could not be reached.", "Remote event channel unreachable.", "ucwa.md §3.6", inferred_parts=(_OUR_MESSAGE,)),
    _e("ServiceFailure",                   500, "ServiceFailure",         "MigrationInProgress",          _R, False, "Your contact list is being migrated. Please try again later.", "Contact-list migration in progress.", "ucwa.md §3.6", inferred_parts=(_OUR_MESSAGE,)),
    _e("ServiceFailure",                   500, "ServiceFailure",         "ProvisioningDataUnavailable",  _R, False, "Your policies could not be retrieved. Please try again later.", "Policies couldn't be fetched.", "ucwa.md §3.6", inferred_parts=(_OUR_MESSAGE,)),
    _e("TooManyRequests",                  429, "TooManyRequests",        None,                           _R, False, "There are too many outstanding requests. Please try again later.", "Too many outstanding HTTP operations.", "ucwa.md §3.6", inferred_parts=(_OUR_MESSAGE,)),
    # --- application endings, event channel, ErrorCode members without a row -------------
    _e("UserAgentNotAllowed",              410, "Gone",                   "UserAgentNotAllowed",          _R, True,  "This application is no longer allowed to sign in. Contact your support team.", "The application ended because its user agent is no longer allowed.", "ucwa-client-surface.md §3.4 (410 confirmed; body code Gone inferred)", inferred_parts=(_GONE, _OUR_MESSAGE,)),
    _e("PGetReplaced",                     409, "Conflict",               "PGetReplaced",                 _R, False, "The pending GET was replaced by a newer one.", "A second event-channel P-GET with the same ack released this one.", "ucwa.md §3.3 (S9); ucwa-client-surface.md §4.3", inferred_parts=(_OUR_MESSAGE,)),
    _e("Informational",                    409, "Informational",          None,                           _G, True,  "The operation did not complete.", "ErrorCode member with no documented HTTP status (event-channel reasons use it).", "ucwa.md §3.4 (ErrorCode enum; status inferred)", inferred_parts=(_NO_STATUS, _OUR_MESSAGE,)),
    _e("LocalFailure",                     500, "LocalFailure",           None,                           _G, True,  "The operation failed on the server. Please try again.", "ErrorCode member with no documented HTTP status: a failure on the server side.", "ucwa.md §3.4 (ErrorCode enum; status inferred)", inferred_parts=(_NO_STATUS, _OUR_MESSAGE,)),
    _e("RemoteFailure",                    502, "RemoteFailure",          None,                           _G, True,  "The remote party or service failed. Please try again.", "ErrorCode member with no documented HTTP status: a remote party or service failed.", "ucwa.md §3.4 (ErrorCode enum; status inferred)", inferred_parts=(_NO_STATUS, _OUR_MESSAGE,)),
    # --- X-Ms-diagnostics variants, reference §4.4 ---------------------------------------
    _e("NoValidSecurityToken",             400, "BadRequest",             None,                           _G, True,  "No valid security token.", "WebTicket refused the request: no valid security token (X-Ms-diagnostics 28020).", "ucwa.md §4.4 (S8); body inferred", diagnostic=(28020, "No valid security token."), inferred_parts=(_OUR_BODY, _OUR_MESSAGE,)),
    _e("WebTicketInvalid",                 500, "ServiceFailure",         None,                           _G, True,  _RETRY, "A web ticket from another pool was used (X-Ms-diagnostics 28032).", "ucwa.md §4.4, §6.1 (S20); body inferred", diagnostic=(28032, "The web ticket is invalid."), inferred_parts=(_OUR_BODY, _GIST, _OUR_MESSAGE,)),
    _e("InvalidOAuthToken",                403, "Forbidden",              None,                           _G, True,  "You don't have permission to do this.", "SfB Online rejected the OAuth token (X-Ms-diagnostics 28055, Warning InvalidToken).", "ucwa.md §4.4, §6.2 (S14 #347); body inferred", diagnostic=(28055, 'OAuth token is invalid.";faultcode="wsse:FailedAuthentication'), warning="InvalidToken", challenges=True, inferred_parts=(_OUR_BODY, _GIST, _OUR_MESSAGE,)),
    # --- authentication, reference §6.1 / §6.3 ------------------------------------------
    _e("Unauthorized",                     401, "Unauthorized",           None,                           _A, True,  "401 - Unauthorized: Access is denied due to invalid credentials.", "Missing, unknown or expired bearer token: IIS 401 with Bearer and MsRtcOAuth challenges.", "ucwa.md §6.1, §6.3", inferred_parts=(("status", "the expired-token answer is undocumented: 401 with both challenges, as for a missing token"),)),
    # --- cross-domain refusal, ucwa-client-surface.md §5 ------------------------------------
    _e("CrossDomainNotAllowed",            403, "Forbidden",              None,                           _G, True,  "You don't have permission to do this.", "The X-Ms-Origin is not in the pool's CrossDomainAuthorizationList (X-Ms-diagnostics 28070).", "ucwa-client-surface.md §5 (D15, B1)", diagnostic=(28070, "Service does not allow a cross domain request from this origin."), inferred_parts=(_OUR_BODY, _OUR_MESSAGE)),
    # --- WebTicket token-endpoint errors, AuthenticationInUCWA.md (documented values) ------
    _e("invalid_request",                  400, "invalid_request",        None,                           _W, False, "The request is missing a required parameter, includes an unsupported parameter value (other than grant type), or is otherwise malformed.", "Token request malformed or missing a parameter.", _DOCS_AUTH, grant_error=True, inferred_parts=(_GRANT_HEADERS,)),
    _e("invalid_grant",                    400, "invalid_grant",          None,                           _W, False, "The credentials provided could not be verified.", "Wrong user name, password or conference key.", _DOCS_AUTH, grant_error=True, inferred_parts=(_GRANT_HEADERS,)),
    _e("PassiveAuthRequired",              400, "invalid_grant",          None,                           _W, False, "No valid security token.", "The passive grant without a security token: go to ms_rtc_passiveauthuri (X-Ms-diagnostics 28020).", _DOCS_AUTH + " passive grant sample", grant_error=True, diagnostic=(28020, "No valid security token."), grant_body=(("ms_rtc_passiveauthuri", "https://{fqdn}/PassiveAuth/PassiveAuth.aspx"),)),
    _e("unsupported_grant_type",           400, "unsupported_grant_type", None,                           _W, False, "The authorization grant type is not supported by the authorization server.", "A grant type the WebTicket does not take (X-Ms-diagnostics 28029).", _DOCS_AUTH + " sample", grant_error=True, diagnostic=(28029, "Authentication type not allowed."), inferred_parts=(_GRANT_HEADERS,)),
    _e("invalid_scope",                    400, "invalid_scope",          None,                           _W, False, "The requested scope is invalid, unknown, or malformed.", "A scope other than all (the only supported value).", _DOCS_AUTH, grant_error=True, inferred_parts=(_GRANT_HEADERS,)),
    _e("server_error",                     400, "server_error",           None,                           _W, False, "There was an unexpected error on the server that prevented the request from being honored.", "The token endpoint failed.", _DOCS_AUTH, grant_error=True, inferred_parts=(_GRANT_HEADERS,)),
)
# fmt: on

_BY_ID: dict[str, UcwaErrorEntry] = {e.id.lower(): e for e in UCWA_ERRORS}
if len(_BY_ID) != len(UCWA_ERRORS):  # pragma: no cover - guarded by the tests
    raise RuntimeError("UCWA error ids are not unique")

_GROUP_RANK = {"generic": 0, "mediaRelayAccessToken": 1, "resource": 2, "auth": 3, "webticket": 4}


def _norm(value: str | None) -> str | None:
    if value is None or value.strip().lower() in ("", "none", "null"):
        return None
    return value.strip().lower()


def lookup_ucwa_error(code_or_name: str | int, subcode: str | None = None) -> UcwaErrorEntry:
    """An entry by id (``"409-Conflict-TooManyGroups"``), generic name
    (``"ApplicationNotFound"``), code (+ subcode), subcode alone or HTTP status.

    Codes are matched case-insensitively, so the §3.2 spellings (``PreConditionFailed``)
    work. Raises :class:`LookupError` listing the valid values.
    """
    key = str(code_or_name).strip().lower()
    sub = _norm(subcode)
    if key in _BY_ID and subcode is None:
        return _BY_ID[key]
    ranked = sorted(UCWA_ERRORS, key=lambda e: _GROUP_RANK[e.group])

    def first(cond: object) -> UcwaErrorEntry | None:
        return next((e for e in ranked if cond(e)), None)  # type: ignore[operator]

    candidates = [
        first(lambda e: e.code.lower() == key and _norm(e.subcode) == sub),
        first(lambda e: e.name.lower() == key and _norm(e.subcode) == sub)
        if sub is not None
        else first(lambda e: e.name.lower() == key and e.group == "generic"),
        first(lambda e: e.name.lower() == key) if sub is None else None,
        first(lambda e: _norm(e.subcode) == key) if sub is None else None,
        first(lambda e: str(e.status) == key and _norm(e.subcode) == sub),
    ]
    for entry in candidates:
        if entry is not None:
            return entry
    names = sorted({e.name for e in UCWA_ERRORS} | {e.code for e in UCWA_ERRORS})
    wanted = f"{code_or_name!r}" + (f" with subcode {subcode!r}" if subcode is not None else "")
    subs = sorted(
        {
            e.subcode
            for e in UCWA_ERRORS
            if e.subcode and (e.code.lower() == key or e.name.lower() == key)
        }
    )
    hint = f" Subcodes for {code_or_name!r}: {', '.join(subs)}." if subs else ""
    raise LookupError(
        f"no UCWA error {wanted}.{hint} Valid names and codes: {', '.join(names)}."
        f" Valid ids: {', '.join(e.id for e in UCWA_ERRORS)}."
    )


_IIS_401 = """<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" \
"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"/>
<title>401 - Unauthorized: Access is denied due to invalid credentials.</title>
<style type="text/css">
<!--
body{margin:0;font-size:.7em;font-family:Verdana, Arial, Helvetica, sans-serif;background:#EEEEEE;}
fieldset{padding:0 15px 10px 15px;}
h1{font-size:2.4em;margin:0;color:#FFF;}
h2{font-size:1.7em;margin:0;color:#CC0000;}
h3{font-size:1.2em;margin:10px 0 0 0;color:#000000;}
#header{width:96%;margin:0 0 0 0;padding:6px 2% 6px 2%;font-family:"trebuchet MS", Verdana, \
sans-serif;color:#FFF;
background-color:#555555;}
#content{margin:0 0 0 2%;position:relative;}
.content-container{background:#FFF;width:96%;margin-top:8px;padding:10px;position:relative;}
-->
</style>
</head>
<body>
<div id="header"><h1>Server Error</h1></div>
<div id="content">
 <div class="content-container"><fieldset>
  <h2>401 - Unauthorized: Access is denied due to invalid credentials.</h2>
  <h3>You do not have permission to view this directory or page using the credentials that \
you supplied.</h3>
 </fieldset></div>
</div>
</body>
</html>
"""


#: The grants the fake's WebTicket endpoint implements, in the order the challenge lists them.
ONPREM_GRANTS: tuple[str, ...] = ("urn:microsoft.rtc:anonmeeting", "password")
#: SfB Online's WebTicket only takes the anonymous grant (users sign in with Azure AD).
ONLINE_GRANTS: tuple[str, ...] = ("urn:microsoft.rtc:anonmeeting",)
ONPREM_ISSUER = "00000002-0000-0ff1-ce00-000000000000"
ONLINE_ISSUER = "00000001-0000-0000-c000-000000000000@*"
UCWA_CLIENT_ID = "00000004-0000-0ff1-ce00-000000000000"


def _host_only(fqdn: str) -> str:
    """``fqdn`` without a ``:port`` (a bracketed IPv6 host keeps its brackets)."""
    host = fqdn.strip()
    if host.startswith("["):
        return host.partition("]")[0] + "]"
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def _domain(fqdn: str) -> str:
    """The realm of ``trusted_issuers``: the host minus its first label; an IP address, a
    bracketed IPv6 host or a one- or two-label name is kept whole."""
    host = _host_only(fqdn)
    if host.startswith("["):
        return host
    try:
        ipaddress.ip_address(host)
    except ValueError:
        labels = host.split(".")
        return ".".join(labels[1:]) if len(labels) > 2 else host
    return host


def unauthorized_response(
    fqdn: str = DEFAULT_FQDN,
    webticket_url: str | None = None,
    *,
    authorization_uri: str | None = None,
) -> FakeResponse:
    """The 401 a UCWA front end sends without a valid bearer: IIS HTML page plus the
    ``Bearer`` and ``MsRtcOAuth`` challenges (all keys clients regex for are present).

    With ``authorization_uri`` it is SfB Online's challenge: the Azure AD issuer and
    ``authorization_uri`` on ``Bearer``, only the anonymous grant on ``MsRtcOAuth``.
    Only grants the fake implements are advertised (no ``urn:microsoft.rtc:windows``).
    """
    host = _host_only(fqdn)
    href = webticket_url or f"https://{fqdn}/WebTicket/oauthtoken"
    if authorization_uri is None:
        bearer = (
            f'Bearer trusted_issuers="{ONPREM_ISSUER}@{_domain(fqdn)}", '
            f'client_id="{UCWA_CLIENT_ID}"'
        )
        grants = ONPREM_GRANTS
    else:
        bearer = (
            f'Bearer trusted_issuers="{ONLINE_ISSUER}", client_id="{UCWA_CLIENT_ID}", '
            f'authorization_uri="{authorization_uri}"'
        )
        grants = ONLINE_GRANTS
    headers = [
        ("Cache-Control", "private"),
        ("Content-Type", "text/html"),
        ("Server", "Microsoft-IIS/7.5"),
        ("WWW-Authenticate", bearer),
        ("WWW-Authenticate", f'MsRtcOAuth href="{href}",grant_type="{",".join(grants)}"'),
        ("X-MS-Server-Fqdn", host),
        ("X-Powered-By", "ASP.NET"),
        ("X-Content-Type-Options", "nosniff"),
    ]
    return FakeResponse(401, headers, _IIS_401.encode("utf-8"), error_id="401-Unauthorized")
