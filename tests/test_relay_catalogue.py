"""The Relay error catalogue is complete against the reference and answers realistically."""

from __future__ import annotations

import json

import pytest

from pytest_relaytokens.relay import wire
from pytest_relaytokens.relay.catalogue import (
    RELAY_ERRORS,
    RelayErrorEntry,
    java_hash_code,
    lookup_relay_error,
)

# Reference §3 table (S5) plus ListenerOffline (S11): name, status, code, errorDetails keys.
# None means the reference does not give it (our value is then inferred).
REFERENCE_ROWS: list[tuple[str, int | None, int | None, set[str] | None]] = [
    (
        "AuthenticationFailed",
        502,
        1780355652,
        {
            "causes",
            "remoteResponse",
            "listenerServiceId",
            "remoteAddress",
            "remoteRequest",
            "command",
            "remoteId",
            "remoteName",
        },
    ),
    ("BadCommand", 500, 47328961, {"commandName", "causes", "listenerServiceId"}),
    ("BadCredentialsException", 401, 1285563821, {"errorMessage", "errorCode"}),
    ("CalendarServerException", 502, 187263818, {"calendarId", "message"}),
    ("CommandTimedOut", 504, 1331991805, {"commandName", "causes", "listenerServiceId"}),
    ("DuplicateCalendarId", 400, 1782937294, {"message", "causeMessage"}),
    ("EncryptionUpdated", None, None, None),
    ("ListenerOffline", None, 208581637, {"listenerServiceId"}),
]
NEEDED_BY_FAKE = {
    404: "AccessTokenNotFound",
    429: "TooManyRequests",
    403: "AccessDeniedException",
    400: "InvalidParameter",
}


@pytest.mark.parametrize("row", REFERENCE_ROWS, ids=[r[0] for r in REFERENCE_ROWS])
def test_every_documented_error_is_catalogued_faithfully(
    row: tuple[str, int | None, int | None, set[str] | None],
) -> None:
    name, status, code, keys = row
    entry = lookup_relay_error(name)
    if status is not None:
        assert entry.status == status
    if code is not None:
        assert entry.error_code == code
    if keys is not None:
        assert set(entry.details) == keys
    assert entry.inferred == (status is None or code is None)


def test_documented_rows_are_not_marked_inferred_and_others_are() -> None:
    documented = {r[0] for r in REFERENCE_ROWS if r[1] is not None and r[2] is not None}
    for entry in RELAY_ERRORS:
        if entry.name in documented:
            assert not entry.inferred, entry.name
        elif entry.name not in {"ListenerOffline", "EncryptionUpdated"}:
            assert entry.inferred and entry.source, entry.name
            assert entry.error_code == java_hash_code(entry.name)


#: The S5 catalogue's example messages, verbatim (ListenerOffline's from S11's README).
DOCUMENTED_MESSAGES = {
    "AuthenticationFailed": "Authentication failed from My Endpoint (1.2.3.4); it is probably "
    "provisioned incorrectly.",
    "BadCommand": "Listener Service could not parse the command; upgrade it to the latest version.",
    "BadCredentialsException": "Not Authorized.",
    "CalendarServerException": "Unable to retrieve details from calendar server for ID "
    "[unknown]: java.lang.RuntimeException (null)",
    "CommandTimedOut": "Request timed out to Listener Service; it may be offline or an old "
    "version.",
    "DuplicateCalendarId": "Duplicate calendarID!",
    "EncryptionUpdated": "Public key for endpoint password encryption has been updated, "
    "deleted, or added. Re-enter Password!",
    "ListenerOffline": "The Listener Service is offline.",
}


def provenance_problems(entry: RelayErrorEntry) -> list[str]:
    """What the audit finds missing: a named source, and a label (with a reason) on every
    part the documents do not give."""
    parts = {part for part, why in entry.inferred_parts if why.strip()}
    problems = [] if entry.source.strip() else ["no source"]
    if DOCUMENTED_MESSAGES.get(entry.name) != entry.message and "message" not in parts:
        problems.append("undocumented message not labelled")
    if entry.inferred and not parts & {"status", "errorCode"}:
        problems.append("inferred status/code without a reason")
    if entry.error_code == java_hash_code(entry.name) and "errorCode" not in parts:
        problems.append("hash errorCode not labelled")
    if any(not why.strip() for _, why in entry.inferred_parts):
        problems.append("a label without a reason")
    return problems


@pytest.mark.parametrize("entry", RELAY_ERRORS, ids=lambda e: e.id)
def test_every_entry_names_its_source_and_labels_what_is_ours(entry: RelayErrorEntry) -> None:
    assert provenance_problems(entry) == []


def test_the_audit_fails_an_entry_with_neither_label_nor_source() -> None:
    invented = RelayErrorEntry("Made", 400, java_hash_code("Made"), "Invented.", source="")
    assert provenance_problems(invented) == [
        "no source",
        "undocumented message not labelled",
        "hash errorCode not labelled",
    ]
    relabelled = RelayErrorEntry("DuplicateCalendarId", 400, 1782937294, "Another text.")
    assert provenance_problems(relabelled) == ["undocumented message not labelled"]


@pytest.mark.parametrize("name", sorted(DOCUMENTED_MESSAGES))
def test_documented_messages_are_verbatim_on_the_wire(name: str) -> None:
    body = json.loads(lookup_relay_error(name).response().body)
    assert body["errorMessage"] == DOCUMENTED_MESSAGES[name]


def test_every_inferred_part_is_listed_in_the_docs() -> None:
    from pathlib import Path

    page = (Path(__file__).parents[1] / "docs" / "errors.md").read_text(encoding="utf-8")
    for entry in RELAY_ERRORS:
        if entry.inferred:
            assert f"`{entry.name}`" in page, entry.name


def test_inferred_entries_the_fake_needs_exist() -> None:
    for status, name in NEEDED_BY_FAKE.items():
        assert lookup_relay_error(name).status == status
    assert any(e.status == 404 and e.name == "ResourceNotFound" for e in RELAY_ERRORS)


def test_java_hash_code_matches_java() -> None:
    assert java_hash_code("") == 0
    assert java_hash_code("hello") == 99162322  # "hello".hashCode() in Java
    assert java_hash_code("polygenelubricants") == 2**31  # Integer.MIN_VALUE, abs overflows
    assert java_hash_code("Aa") == java_hash_code("BB")


def test_ids_unique_and_formatted() -> None:
    ids = [e.id for e in RELAY_ERRORS]
    assert len(ids) == len(set(ids))
    assert lookup_relay_error("BadCredentialsException").id == "401-BadCredentialsException"
    assert lookup_relay_error("401-BadCredentialsException").name == "BadCredentialsException"
    assert lookup_relay_error("badcredentialsexception").status == 401


def test_lookup_unknown_lists_valid_names() -> None:
    with pytest.raises(LookupError) as info:
        lookup_relay_error("NoSuchError")
    assert "NoSuchError" in str(info.value)
    assert "BadCredentialsException" in str(info.value)
    assert "TooManyRequests" in str(info.value)


@pytest.mark.parametrize("entry", RELAY_ERRORS, ids=[e.id for e in RELAY_ERRORS])
def test_response_is_the_four_key_envelope(entry: RelayErrorEntry) -> None:
    response = entry.response()
    assert response.status == entry.status
    assert response.header("Content-Type") == "application/json"
    document = json.loads(response.body)
    assert list(document) == ["errorCode", "errorDetails", "errorMessage", "errorName"]
    assert document["errorName"] == entry.name
    assert document["errorCode"] == entry.error_code
    assert wire.parse_error(response.body) == entry.body_model()


def test_bad_credentials_body_is_the_documented_one() -> None:
    body = lookup_relay_error("BadCredentialsException").response().json()
    assert body["errorMessage"] == "Not Authorized."
    assert body["errorCode"] == 1285563821


def test_rate_limit_carries_retry_after_and_overrides_work() -> None:
    entry = lookup_relay_error("TooManyRequests")
    assert entry.response().header("Retry-After") == "1"
    custom = entry.response(message="slow down", details={"limit": 2})
    assert custom.json()["errorMessage"] == "slow down"
    assert custom.json()["errorDetails"] == {"limit": 2}
    assert entry.response().json()["errorMessage"] != "slow down"


def test_default_details_are_not_shared_between_responses() -> None:
    entry = lookup_relay_error("AuthenticationFailed")
    model = entry.body_model()
    model.error_details["causes"].append("mutated")
    assert entry.details["causes"] == ["HTTP 401 Unauthorized"]
