"""The UCWA error catalogue is complete against the reference tables and answers realistically."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from pytest_relaytokens.ucwa import wire
from pytest_relaytokens.ucwa.catalogue import (
    ERROR_CODES,
    ERROR_SUBCODES,
    UCWA_ERRORS,
    UcwaErrorEntry,
    lookup_ucwa_error,
    unauthorized_response,
)

# Typed from /work/shared/reference/ucwa.md, independently of the catalogue.
TOKEN_PAGE_ROWS = [  # §1.5: (Error, HTTP, Subcode)
    ("ServiceFailure", 500, "InvalidExchangeServerVersion"),
    ("Conflict", 409, "AlreadyExists"),
    ("Conflict", 409, "TooManyGroups"),
    ("Conflict", 409, "None"),
    ("Gone", 410, "CannotRedirect"),
]
GENERIC_NAMES = [
    "ApplicationNotFound",
    "BadRequest",
    "DeserializationFailure",
    "EntityTooLarge",
    "ExchangeServiceFailure",
    "InactiveApplicationExpired",
    "MethodNotAllowed",
    "MobileApplicationNoLongerAllowed",
    "ParameterValidationFailure",
    "PreconditionFailed",
    "PreconditionRequired",
    "ResourceNotFound",
    "ServiceFailure",
    "ServiceTimeout",
    "TooManyApplications",
    "UnsupportedMediaType",
    "VersionNotSupported",
]
CONFIRMED_GENERIC = {  # §3.3 rows marked CONFIRMED: name -> (HTTP, code, subcode)
    "ApplicationNotFound": (404, "NotFound", "ApplicationNotFound"),
    "BadRequest": (400, "BadRequest", None),
    "ParameterValidationFailure": (400, "BadRequest", "ParameterValidationFailure"),
    "EntityTooLarge": (413, "EntityTooLarge", None),
    "MethodNotAllowed": (405, "MethodNotAllowed", None),
    "UnsupportedMediaType": (415, "UnsupportedMediaType", None),
    "ServiceFailure": (500, "ServiceFailure", None),
    "VersionNotSupported": (404, "NotFound", "APIVersionNotSupported"),
}
UNCONFIRMED_GENERIC = {
    "DeserializationFailure",
    "ResourceNotFound",
    "ServiceTimeout",
    "ExchangeServiceFailure",
    "InactiveApplicationExpired",
    "TooManyApplications",
    "MobileApplicationNoLongerAllowed",
    "PreconditionFailed",
    "PreconditionRequired",
}
HTTP_TABLE = {
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
RESOURCE_TRIPLES = """BadRequest 400 None|BadRequest 400 NormalizationFailed|
BadRequest 400 ParameterValidationFailure|Conflict 409 AlreadyExists|Conflict 409 LimitExceeded|
Conflict 409 MakeMeAvailableRequired|Conflict 409 NoDelegatesConfigured|
Conflict 409 NoTeamMembersConfigured|Conflict 409 None|Conflict 409 TooManyGroups|
Conflict 409 TooManyOnlineMeetings|Forbidden 403 AnonymousNotAllowed|Forbidden 403 LimitExceeded|
Forbidden 403 NoDelegatesConfigured|Forbidden 403 NoTeamMembersConfigured|Forbidden 403 None|
Forbidden 403 OperationNotSupported|Forbidden 403 TooManyContacts|GatewayTimeout 504 None|
Gone 410 CannotRedirect|Gone 410 None|NotFound 404 DestinationNotFound|NotFound 404 None|
ServiceFailure 500 CallbackChannelError|ServiceFailure 500 InvalidExchangeServerVersion|
ServiceFailure 500 MigrationInProgress|ServiceFailure 500 ProvisioningDataUnavailable|
TooManyRequests 429 None"""


def _triples() -> list[tuple[str, int, str | None]]:
    out = []
    for row in RESOURCE_TRIPLES.replace("\n", "").split("|"):
        code, status, sub = row.split()
        out.append((code, int(status), None if sub == "None" else sub))
    return out


def _present(code: str, status: int, subcode: str | None) -> bool:
    return any((e.code, e.status, e.subcode) == (code, status, subcode) for e in UCWA_ERRORS)


def test_token_page_rows_are_all_there_in_their_group() -> None:
    group = [e for e in UCWA_ERRORS if e.group == "mediaRelayAccessToken"]
    assert len(group) == 5
    expected = {(n, s, None if sub == "None" else sub) for n, s, sub in TOKEN_PAGE_ROWS}
    assert {(e.name, e.status, e.subcode) for e in group} == expected
    assert lookup_ucwa_error("Conflict", "None").inferred  # subcode omitted: our choice


def test_every_generic_name_has_an_entry_and_unconfirmed_ones_are_labelled() -> None:
    generic = {e.name: e for e in UCWA_ERRORS if e.group == "generic"}
    assert set(GENERIC_NAMES) <= set(generic)
    for name, (status, code, subcode) in CONFIRMED_GENERIC.items():
        entry = generic[name]
        assert (entry.status, entry.code, entry.subcode) == (status, code, subcode)
    for name in UNCONFIRMED_GENERIC:
        assert generic[name].inferred, name


def test_every_per_resource_triple_is_covered() -> None:
    triples = _triples()
    assert len(triples) == 28  # the reference says 29, but its table has 28 rows
    missing = [t for t in triples if not _present(*t)]
    assert missing == []


def test_every_http_status_table_code_is_look_up_able() -> None:
    for status, code in HTTP_TABLE.items():
        entry = lookup_ucwa_error(code)
        assert entry.status == status, code
        assert lookup_ucwa_error(str(status)).status == status


def test_codes_and_subcodes_are_documented_spellings() -> None:
    assert len(ERROR_CODES) == 20 and len(ERROR_SUBCODES) == 81
    extra_subcodes = {"CannotRedirect", "InvalidExchangeServerVersion", "CallbackChannelError"}
    for entry in UCWA_ERRORS:
        if entry.group in ("auth", "webticket"):  # OAuth's error values, not UCWA codes
            continue
        assert entry.code in ERROR_CODES | {"ClientTimeout"}, entry.id
        assert entry.subcode is None or entry.subcode in ERROR_SUBCODES | extra_subcodes


def test_ids_are_unique_and_shaped() -> None:
    ids = [e.id for e in UCWA_ERRORS]
    assert len(ids) == len(set(ids))
    assert "409-Conflict-TooManyGroups" in ids and "400-BadRequest" in ids
    assert all(e.message and e.description and e.source for e in UCWA_ERRORS)


@pytest.mark.parametrize(
    ("args", "expected_id"),
    [
        (("Conflict", "TooManyGroups"), "409-Conflict-TooManyGroups"),
        (("ApplicationNotFound",), "404-NotFound-ApplicationNotFound"),
        (("409-Conflict-TooManyGroups",), "409-Conflict-TooManyGroups"),
        (("Conflict",), "409-Conflict"),
        (("conflict", "alreadyexists"), "409-Conflict-AlreadyExists"),
        (("BadRequest",), "400-BadRequest"),
        (("PreConditionFailed",), "412-PreconditionFailed"),
        (("TooManyGroups",), "409-Conflict-TooManyGroups"),
        (("Unauthorized",), "401-Unauthorized"),
        ((404,), "404-NotFound"),
    ],
)
def test_lookup(args: tuple[str, ...], expected_id: str) -> None:
    assert lookup_ucwa_error(*args).id == expected_id


@pytest.mark.parametrize("args", [("Nope",), ("Conflict", "Nope"), ("ApplicationNotFound", "X")])
def test_unknown_lookup_lists_valid_values(args: tuple[str, ...]) -> None:
    with pytest.raises(LookupError) as info:
        lookup_ucwa_error(*args)
    assert "409-Conflict-TooManyGroups" in str(info.value)
    assert "ApplicationNotFound" in str(info.value)


@pytest.mark.parametrize(
    "entry", [e for e in UCWA_ERRORS if e.group not in ("auth", "webticket")], ids=lambda e: e.id
)
def test_every_entry_renders_both_formats(entry: object) -> None:
    from pytest_relaytokens.ucwa.catalogue import UcwaErrorEntry

    assert isinstance(entry, UcwaErrorEntry)
    for fmt, ctype in (("json", "application/json"), ("xml", "application/xml")):
        response = entry.response(fmt, fqdn="fe9.fabrikam.com")  # type: ignore[arg-type]
        assert response.status == entry.status
        assert response.header("Content-Type") == f"{ctype}; charset=utf-8"
        assert response.header("X-MS-Server-Fqdn") == "fe9.fabrikam.com"
        for name in (
            "Cache-Control",
            "Pragma",
            "Expires",
            "Server",
            "X-AspNet-Version",
            "X-Powered-By",
            "X-Content-Type-Options",
            "X-MS-UcwaVersion",
        ):
            assert response.header(name), name
        assert (
            wire.parse_error(response.body, response.header("Content-Type")) == entry.body_model()
        )
    body = entry.response("json").json()
    assert body["code"] == entry.code
    assert ("subcode" in body) == (entry.subcode is not None)


def test_unauthorized_response_carries_both_challenges_and_iis_page() -> None:
    response = unauthorized_response(
        fqdn="fe1.contoso.com", webticket_url="https://lyncweb.contoso.com/WebTicket/oauthtoken"
    )
    assert response.status == 401 and response.content_type == "text/html"
    bearer, msrtc = response.header_all("WWW-Authenticate")
    assert bearer.startswith("Bearer ")
    assert 'trusted_issuers="00000002-0000-0ff1-ce00-000000000000@contoso.com"' in bearer
    assert 'client_id="00000004-0000-0ff1-ce00-000000000000"' in bearer
    assert msrtc == (
        'MsRtcOAuth href="https://lyncweb.contoso.com/WebTicket/oauthtoken",'
        'grant_type="urn:microsoft.rtc:anonmeeting,password"'  # only grants the fake serves
    )
    assert b"401 - Unauthorized: Access is denied due to invalid credentials." in response.body
    assert lookup_ucwa_error("Unauthorized").response().status == 401


@pytest.mark.parametrize(
    ("fqdn", "realm"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.0.0.1:51234", "127.0.0.1"),
        ("[::1]:8080", "[::1]"),
        ("localhost:80", "localhost"),
        ("lyncweb.contoso.com:443", "contoso.com"),
        ("fe1.eu.contoso.com", "eu.contoso.com"),
    ],
)
def test_trusted_issuers_keeps_an_ip_host_whole(fqdn: str, realm: str) -> None:
    bearer = unauthorized_response(fqdn=fqdn).header_all("WWW-Authenticate")[0]
    match = re.search(r'trusted_issuers="([^"@]*)@([^"]*)"', bearer)
    assert match is not None and match.group(2) == realm


def test_online_challenge_has_authorization_uri_and_only_the_anonymous_grant() -> None:
    response = unauthorized_response(
        fqdn="webdir0b.online.lync.com",
        authorization_uri="https://login.windows.net/common/oauth2/authorize",
    )
    joined = ",".join(response.header_all("WWW-Authenticate"))
    assert 'trusted_issuers="00000001-0000-0000-c000-000000000000@*"' in joined
    uri = re.search(r'authorization_uri="([^"]+)"', joined)
    assert uri is not None and uri.group(1).endswith("/common/oauth2/authorize")
    grants = re.search(r'grant_type="([^"]*)"', joined)
    assert grants is not None and grants.group(1).split(",") == ["urn:microsoft.rtc:anonmeeting"]


@pytest.mark.parametrize(
    ("name", "expected_id"),
    [
        ("PGetReplaced", "409-Conflict-PGetReplaced"),
        ("InactiveApplicationExpired", "410-Gone-InactiveApplicationExpired"),
        ("TooManyApplications", "410-Gone-TooManyApplications"),
        ("UserAgentNotAllowed", "410-Gone-UserAgentNotAllowed"),
        ("Informational", "409-Informational"),
        ("LocalFailure", "500-LocalFailure"),
        ("RemoteFailure", "502-RemoteFailure"),
        ("NoValidSecurityToken", "400-BadRequest-28020"),
        ("WebTicketInvalid", "500-ServiceFailure-28032"),
        ("InvalidOAuthToken", "403-Forbidden-28055"),
    ],
)
def test_rows_the_issue_asked_for(name: str, expected_id: str) -> None:
    entry = lookup_ucwa_error(name)
    assert entry.id == expected_id
    assert lookup_ucwa_error(expected_id) is entry
    assert entry.response().error_id == expected_id


def test_every_error_code_has_a_row() -> None:
    assert {e.code for e in UCWA_ERRORS if e.group != "auth"} >= ERROR_CODES


def test_parameter_validation_failure_carries_the_real_debug_info() -> None:
    body = lookup_ucwa_error("ParameterValidationFailure").response().json()
    assert body == {
        "code": "BadRequest",
        "subcode": "ParameterValidationFailure",
        "message": "Please check what you entered and try again.",
        "debugInfo": {"diagnosticsCode": "2"},
    }
    xml = lookup_ucwa_error("ParameterValidationFailure").response("xml")
    assert wire.parse_error(xml.body).debug_info == {"diagnosticsCode": "2"}


def _diagnostics(header: str) -> tuple[int, dict[str, str]]:
    """Parse ``28055;source="x";reason="y"`` the way clients do: split on ``;`` then ``=``."""
    number, *pairs = header.split(";")
    fields = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        fields[key.strip()] = value.strip().strip('"')
    return int(number), fields


def test_x_ms_diagnostics_variants() -> None:
    for name, status, number in (
        ("NoValidSecurityToken", 400, 28020),
        ("WebTicketInvalid", 500, 28032),
        ("InvalidOAuthToken", 403, 28055),
    ):
        response = lookup_ucwa_error(name).response(fqdn="webpoolbn11a01.infra.lync.com")
        assert response.status == status
        got, fields = _diagnostics(response.header("X-Ms-diagnostics") or "")
        assert got == number and fields["source"] == "webpoolbn11a01.infra.lync.com"
        assert fields["reason"]
    rejected = lookup_ucwa_error("InvalidOAuthToken").response(fqdn="webdir0b.online.lync.com")
    assert rejected.header("Warning") == '120 webdir0b.online.lync.com "InvalidToken"'
    assert _diagnostics(rejected.header("X-Ms-diagnostics") or "")[1]["faultcode"] == (
        "wsse:FailedAuthentication"
    )
    schemes = [c.split()[0] for c in rejected.header_all("WWW-Authenticate")]
    assert schemes == ["Bearer", "MsRtcOAuth"]
    assert "authorization_uri=" in rejected.header_all("WWW-Authenticate")[0]
    assert lookup_ucwa_error("BadRequest").response().header("X-Ms-diagnostics") is None


# --- provenance audit: every row names its source and labels what is ours -----------------
#: The UCWA documents' error texts, verbatim: (entry id, message).
DOCUMENTED_UCWA_MESSAGES = {
    "409-Conflict-AlreadyExists": "The requested resource already exists. Please wait and try "
    "again.",
    "404-NotFound-ApplicationNotFound": "An error occurred. Please retry. If the problem "
    "persists, contact your support team.",
    "400-BadRequest-ParameterValidationFailure": "Please check what you entered and try again.",
    "401-Unauthorized": "401 - Unauthorized: Access is denied due to invalid credentials.",
}
#: X-Ms-diagnostics reasons documented verbatim (AuthenticationInUCWA.md; client sheet §5).
DOCUMENTED_REASONS = {
    28020: "No valid security token.",
    28029: "Authentication type not allowed.",
    28070: "Service does not allow a cross domain request from this origin.",
}


def ucwa_provenance_problems(entry: UcwaErrorEntry) -> list[str]:
    parts = {part for part, why in entry.inferred_parts if why.strip()}
    problems = [] if entry.source.strip() else ["no source"]
    message_documented = DOCUMENTED_UCWA_MESSAGES.get(entry.id) == entry.message
    if not (entry.grant_error or message_documented or "message" in parts):
        problems.append("undocumented message not labelled")
    if entry.inferred and not parts & {"status", "code", "subcode", "body"}:
        problems.append("inferred without a reason")
    if entry.diagnostic is not None:
        number, reason = entry.diagnostic
        if DOCUMENTED_REASONS.get(number) != reason and "diagnostic" not in parts:
            problems.append("undocumented diagnostic reason not labelled")
    return problems


@pytest.mark.parametrize("entry", UCWA_ERRORS, ids=lambda e: e.id)
def test_every_ucwa_entry_names_its_source_and_labels_what_is_ours(entry: UcwaErrorEntry) -> None:
    assert ucwa_provenance_problems(entry) == []


def test_the_ucwa_audit_fails_an_entry_with_neither() -> None:
    bare = UcwaErrorEntry("X", 409, "Conflict", None, "Ours.", "", "generic", True, "")
    assert ucwa_provenance_problems(bare) == [
        "no source",
        "undocumented message not labelled",
        "inferred without a reason",
    ]
    cut = lookup_ucwa_error("unsupported_grant_type")
    short = UcwaErrorEntry(
        **{**cut.__dict__, "diagnostic": (28029, "Authentication type not allowed")}
    )
    assert ucwa_provenance_problems(short) == ["undocumented diagnostic reason not labelled"]


def test_28029_is_the_documented_answer_byte_for_byte() -> None:
    answer = lookup_ucwa_error("unsupported_grant_type").response(fqdn="server.contoso.com")
    headers = dict(answer.headers)
    assert answer.status == 400 and answer.body == b'{"error":"unsupported_grant_type"}'
    assert headers["Content-Type"] == "application/json;charset=UTF-8"
    assert headers["Cache-Control"] == "no-store" and headers["Pragma"] == "no-cache"
    assert headers["X-Ms-diagnostics"] == (
        '28029;source="server.contoso.com";reason="Authentication type not allowed."'
    )


def test_the_passive_grant_answer_is_the_documented_sample() -> None:
    answer = lookup_ucwa_error("PassiveAuthRequired").response(fqdn="server.contoso.com")
    assert answer.status == 400 and answer.headers == [
        ("Content-Type", "application/json"),
        ("X-Ms-diagnostics", '28020;source="server.contoso.com";reason="No valid security token."'),
        ("X-MS-Server-Fqdn", "server.contoso.com"),
        ("X-Content-Type-Options", "nosniff"),
    ]
    assert answer.body == (
        b'{"error":"invalid_grant","ms_rtc_passiveauthuri":'
        b'"https:\\/\\/server.contoso.com\\/PassiveAuth\\/PassiveAuth.aspx"}'
    )


@pytest.mark.parametrize(
    "error",
    ["invalid_request", "invalid_grant", "unsupported_grant_type", "invalid_scope", "server_error"],
)
def test_every_documented_token_endpoint_error_is_producible(error: str) -> None:
    entry = lookup_ucwa_error(error)
    assert entry.group == "webticket" and entry.grant_error and entry.code == error
    for fmt in ("json", "xml"):  # OAuth errors are JSON whatever the Accept
        answer = entry.response(fmt, fqdn="fe9.fabrikam.com")  # type: ignore[arg-type]
        assert answer.status == 400 and json.loads(answer.body) == {"error": error}
        assert answer.header("X-MS-Server-Fqdn") == "fe9.fabrikam.com"


def test_28070_refuses_a_cross_domain_origin() -> None:
    answer = lookup_ucwa_error("403-Forbidden-28070").response()
    assert answer.status == 403
    assert dict(answer.headers)["X-Ms-diagnostics"].endswith(
        'reason="Service does not allow a cross domain request from this origin."'
    )


def test_webticket_answers_the_passive_and_scope_errors_as_documented() -> None:
    from pytest_relaytokens.clock import Clock
    from pytest_relaytokens.http import FakeRequest
    from pytest_relaytokens.ucwa.service import UcwaService

    svc = UcwaService(base_url="https://fe1.contoso.com", clock=Clock(frozen=True), seed=1)

    def post(form: str) -> Any:
        request = FakeRequest(
            "POST",
            "https://fe1.contoso.com/WebTicket/oauthtoken",
            (("Content-Type", "application/x-www-form-urlencoded;charset=UTF-8"),),
            form.encode(),
        )
        return svc.dispatch(request)[0]

    passive = post("grant_type=urn:microsoft.rtc:passive")
    assert passive.status == 400 and json.loads(passive.body)["error"] == "invalid_grant"
    assert json.loads(passive.body)["ms_rtc_passiveauthuri"].endswith(
        "/PassiveAuth/PassiveAuth.aspx"
    )
    user, password = svc.credentials.username, svc.credentials.password
    scoped = post(f"grant_type=password&username={user}&password={password}&scope=read")
    assert json.loads(scoped.body) == {"error": "invalid_scope"}
    assert post(f"grant_type=password&username={user}&password={password}&scope=all").status == 200
