"""UCWA wire formats: the docs samples round-trip byte for byte; parsers are tolerant but safe."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from typing import Any

import pytest

from pytest_relaytokens.errors import WireFormatError
from pytest_relaytokens.ucwa import timestamps, wire
from pytest_relaytokens.ucwa.models import (
    MediaRelay,
    MediaRelayAccessToken,
    RelayLocation,
    UcwaErrorBody,
)

UTC = dt.timezone.utc

# Re-typed verbatim from the docs page (seed): JSON and XML response bodies.
SEED_JSON = """{
  "rel" : "mediaRelayAccessToken",
  "duration" : 3,
  "Uri" : "samplevalue",
  "password" : "samplevalue",
  "userName" : "samplevalue",
  "validUntil" : "\\/Date(1474932027265)\\/",
  "_links" : {
    "self" : {
      "href" : "/ucwa/v1/applications/192/mediaRelayAccessToken"
    }
  },
  "_embedded" : {
    "mediaRelay" : [
      {
        "rel" : "mediaRelay",
        "host" : "samplevalue",
        "ipv4" : "samplevalue",
        "ipv6" : "samplevalue",
        "location" : "Internet",
        "tcpPort" : 82,
        "udpPort" : 23,
        "_links" : {
          "self" : {
            "href" : "/ucwa/v1/applications/192/communication/mediaRelay"
          }
        }
      }
    ]
  }
}"""

SEED_XML = """<?xml version="1.0" encoding="utf-8"?>
<resource rel="mediaRelayAccessToken" href="/ucwa/v1/applications/192/mediaRelayAccessToken" \
xmlns="http://schemas.microsoft.com/rtc/2012/03/ucwa">
  <property name="rel">mediaRelayAccessToken</property>
  <property name="duration">31</property>
  <property name="Uri">samplevalue</property>
  <property name="password">samplevalue</property>
  <property name="userName">samplevalue</property>
  <property name="validUntil">2016-09-26T16:20:27.2948002-07:00</property>
  <resource rel="mediaRelay" href="/ucwa/v1/applications/192/communication/mediaRelay">
    <property name="rel">mediaRelay</property>
    <property name="host">samplevalue</property>
    <property name="ipv4">samplevalue</property>
    <property name="ipv6">samplevalue</property>
    <property name="location">Intranet</property>
    <property name="tcpPort">15</property>
    <property name="udpPort">51</property>
  </resource>
</resource>"""


def seed_token(
    duration: int, location: RelayLocation, tcp: int, udp: int, valid_until: str
) -> MediaRelayAccessToken:
    relay = MediaRelay(
        host="samplevalue",
        ipv4="samplevalue",
        ipv6="samplevalue",
        location=location,
        tcp_port=tcp,
        udp_port=udp,
        href="/ucwa/v1/applications/192/communication/mediaRelay",
    )
    return MediaRelayAccessToken.model_validate(
        {
            "duration": duration,
            "uri": "samplevalue",
            "password": "samplevalue",
            "user_name": "samplevalue",
            "valid_until": valid_until,
            "href": "/ucwa/v1/applications/192/mediaRelayAccessToken",
            "media_relays": [relay],
        }
    )


def test_json_seed_values_render_the_seed_document_byte_for_byte() -> None:
    token = seed_token(3, "Internet", 82, 23, "/Date(1474932027265)/")
    assert wire.render_json(token, wire.UcwaQuirks(uri_key="Uri")).decode() == SEED_JSON


def test_xml_seed_values_render_the_seed_document_byte_for_byte() -> None:
    token = seed_token(31, "Intranet", 15, 51, "2016-09-26T16:20:27.2948002-07:00")
    assert wire.render_xml(token, wire.UcwaQuirks(offset="-07:00")).decode() == SEED_XML


def test_json_seed_parses_to_its_values_and_back() -> None:
    token = wire.parse_json(SEED_JSON)
    assert token.duration == 3 and token.uri == "samplevalue"
    assert token.valid_until == dt.datetime(2016, 9, 26, 23, 20, 27, 265000, tzinfo=UTC)
    assert token.media_relays[0].tcp_port == 82 and token.media_relays[0].location == "Internet"
    assert wire.render_json(token).decode() == SEED_JSON
    assert json.loads(wire.render_json(token, pretty=False)) == json.loads(SEED_JSON)
    assert b"\\/Date(1474932027265)\\/" in wire.render_json(token, pretty=False)


def test_xml_seed_parses_keeping_the_seventh_digit() -> None:
    token = wire.parse(SEED_XML.encode(), "application/xml")
    assert token.duration == 31 and token.media_relays[0].location == "Intranet"
    assert token.valid_until == dt.datetime(2016, 9, 26, 23, 20, 27, 294800, tzinfo=UTC)
    assert token.valid_until_ticks == 2
    assert wire.render_xml(token).decode() == SEED_XML
    changed = token.model_copy(update={"valid_until": token.valid_until + dt.timedelta(1)})
    assert changed.valid_until_ticks == 0  # the stored digit belongs to the old instant


def test_parse_sniffs_format_and_honours_content_type() -> None:
    assert wire.parse(SEED_JSON).duration == 3
    assert wire.parse(SEED_XML).duration == 31
    assert wire.parse(SEED_JSON, "application/vnd.microsoft.com.ucwa+json").duration == 3


@pytest.mark.parametrize("uri_key", ["Uri", "uri"])
@pytest.mark.parametrize("stamps", ["utc_ms", "ms_offset", "iso"])
def test_quirks_change_the_rendering_but_parse_back_equal(uri_key: str, stamps: str) -> None:
    token = wire.parse_json(SEED_JSON)
    quirks = wire.UcwaQuirks(uri_key=uri_key, timestamps=stamps)  # type: ignore[arg-type]
    body = wire.render_json(token, quirks)
    assert f'"{uri_key}" : "samplevalue"'.encode() in body
    assert wire.parse_json(body) == token
    assert wire.parse_xml(wire.render_xml(token, quirks)) == token


def test_timestamp_quirk_shapes() -> None:
    token = wire.parse_json(SEED_JSON)
    offset = wire.render_json(token, wire.UcwaQuirks(timestamps="ms_offset"))
    assert b'"\\/Date(1474932027265-0700)\\/"' in offset
    iso = wire.render_json(token, wire.UcwaQuirks(timestamps="iso", offset="+01:00"))
    assert b'"2016-09-27T00:20:27.2650000+01:00"' in iso


def test_parser_tolerates_single_embedded_relay_and_missing_addresses() -> None:
    doc = json.loads(SEED_JSON)
    relay = doc["_embedded"]["mediaRelay"][0]
    del relay["ipv4"], relay["ipv6"], relay["tcpPort"]
    relay["location"] = "internet"
    doc["_embedded"]["mediaRelay"] = relay
    doc["uri"] = doc.pop("Uri")
    token = wire.parse_json(json.dumps(doc))
    assert token.uri == "samplevalue"
    assert token.media_relays[0].ipv4 is None and token.media_relays[0].tcp_port == -1
    assert token.media_relays[0].location == "Internet"
    del doc["_embedded"], doc["_links"]
    bare = wire.parse_json(json.dumps(doc))
    assert bare.media_relays == [] and bare.href is None


@pytest.mark.parametrize(
    ("body", "field", "quoted"),
    [
        (
            '{"duration": 3, "password": "p", "userName": "u", "validUntil": "/Date(12x)/"}',
            "validUntil",
            "/Date(12x)/",
        ),
        (
            '{"duration": 3, "password": "p", "userName": "u",'
            ' "validUntil": "2016-13-40T00:00:00Z"}',
            "validUntil",
            "2016-13-40T00:00:00Z",
        ),
        (
            '{"duration": "soon", "password": "p", "userName": "u", "validUntil": "/Date(1)/"}',
            "duration",
            "soon",
        ),
        ('{"duration": 3, "userName": "u", "validUntil": "/Date(1)/"}', "password", None),
        (
            '{"duration": 3, "password": "p", "userName": "u", "validUntil": "/Date(1)/",'
            ' "_embedded": {"mediaRelay": [{"location": "Moon", "tcpPort": 1}]}}',
            "_embedded.mediaRelay[0].location",
            "Moon",
        ),
        (
            '{"duration": 3, "password": "p", "userName": "u", "validUntil": "/Date(1)/",'
            ' "_embedded": {"mediaRelay": [{"location": "All", "udpPort": 70000}]}}',
            "_embedded.mediaRelay[0].udpPort",
            "70000",
        ),
    ],
)
def test_bad_fields_raise_wire_format_error_naming_field_and_value(
    body: str, field: str, quoted: str | None
) -> None:
    with pytest.raises(WireFormatError) as info:
        wire.parse_json(body, source="case.json")
    assert info.value.field == field
    assert "case.json" in str(info.value)
    if quoted is not None:
        assert quoted in str(info.value)


@pytest.mark.parametrize("body", ["", "{", "[1, 2]", b"\xff\xfe{}", "null"])
def test_malformed_json_raises_wire_format_error(body: str | bytes) -> None:
    with pytest.raises(WireFormatError):
        wire.parse_json(body)


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<resource rel="mediaRelayAccessToken"><property name="password">&lol3;</property></resource>"""
EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<resource rel="mediaRelayAccessToken"><property name="password">&xxe;</property></resource>"""


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY])
def test_hostile_xml_is_refused_with_wire_format_error(body: str) -> None:
    with pytest.raises(WireFormatError, match="unsafe XML"):
        wire.parse_xml(body)
    with pytest.raises(WireFormatError):
        wire.parse_error(body, "application/xml")


def test_deep_and_huge_bodies_are_refused() -> None:
    deep = "<resource>" * 100 + "</resource>" * 100
    with pytest.raises(WireFormatError, match="deeper"):
        wire.parse_xml(deep)
    huge = b'{"password": "' + b"a" * (wire.MAX_BODY_BYTES + 1) + b'"}'
    with pytest.raises(WireFormatError, match="limit"):
        wire.parse_json(huge)
    with pytest.raises(WireFormatError, match="invalid XML"):
        wire.parse_xml("<resource><property>")


def test_error_bodies_round_trip_in_both_formats() -> None:
    body = UcwaErrorBody(
        code="BadRequest",
        subcode="ParameterValidationFailure",
        message="Please check what you entered and try again.",
        debug_info={"diagnosticsCode": "2"},
    )
    for fmt in ("json", "xml"):
        rendered = wire.render_error(body, fmt)
        assert wire.parse_error(rendered) == body
    bare = UcwaErrorBody(code="Conflict")
    assert wire.render_error(bare) == b'{"code":"Conflict"}'
    assert wire.parse_error(wire.render_error(bare, "xml"), "application/xml") == bare


def test_docs_xml_error_sample_parses() -> None:
    sample = """<?xml version="1.0" encoding="utf-8"?>
<reason xmlns:xsd="http://www.w3.org/2001/XMLSchema"
        xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
        xmlns="http://schemas.microsoft.com/rtc/2012/03/ucwa">
  <code>Conflict</code>
  <subcode>AlreadyExists</subcode>
  <message>The requested resource already exists. Please wait and try again.</message>
  <debugInfo />
  <parameters />
</reason>"""
    body = wire.parse_error(sample)
    assert (body.code, body.subcode) == ("Conflict", "AlreadyExists")
    assert body.debug_info is None and body.parameters is None
    with pytest.raises(WireFormatError, match="code"):
        wire.parse_error('{"subcode": "AlreadyExists"}')


@pytest.mark.parametrize(
    ("text", "expected_ms"),
    [
        ("/Date(1474932027265)/", 1474932027265),
        ("\\/Date(1474932027265)\\/", 1474932027265),
        ("/Date(1474932027265+0100)/", 1474932027265),
        ("/Date(-1000-0700)/", -1000),
    ],
)
def test_ms_dates_ignore_the_informational_offset(text: str, expected_ms: int) -> None:
    parsed = timestamps.parse_ms_date(text)
    assert parsed == dt.datetime(1970, 1, 1, tzinfo=UTC) + dt.timedelta(milliseconds=expected_ms)


@pytest.mark.parametrize(
    ("text", "expected", "ticks"),
    [
        ("2016-09-26T16:20:27.2948002-07:00", dt.datetime(2016, 9, 26, 23, 20, 27, 294800), 2),
        ("2016-09-26T23:20:27Z", dt.datetime(2016, 9, 26, 23, 20, 27), 0),
        ("2016-09-26T23:20:27.5+0000", dt.datetime(2016, 9, 26, 23, 20, 27, 500000), 0),
        ("2016-09-26T23:20:27.123456789", dt.datetime(2016, 9, 26, 23, 20, 27, 123456), 7),
    ],
)
def test_iso_parsing_forms(text: str, expected: dt.datetime, ticks: int) -> None:
    assert timestamps.parse_iso(text) == (expected.replace(tzinfo=UTC), ticks)


def test_iso_formatting_pads_to_seven_digits() -> None:
    when = dt.datetime(2016, 9, 26, 23, 20, 27, 294800, tzinfo=UTC)
    assert timestamps.format_iso(when) == "2016-09-26T16:20:27.2948000-07:00"
    assert timestamps.format_iso(when, "Z") == "2016-09-26T23:20:27.2948000Z"
    assert timestamps.format_ms_date(when, "+05:30") == "/Date(1474932027294+0530)/"


@pytest.mark.parametrize(
    "text",
    [
        "/Date()/",
        "Date(123)",
        "/Date(12a)/",
        "/Date(1+2500)/",
        "yesterday",
        "2016-09-26",
        "2016-09-26T25:00:00Z",
        "2016-09-26T10:00:00+99:00",
    ],
)
def test_malformed_timestamps_name_the_field_and_quote_the_value(text: str) -> None:
    with pytest.raises(WireFormatError) as info:
        timestamps.parse_timestamp(text, field="validUntil", source="s")
    assert info.value.field == "validUntil"
    assert repr(text) in str(info.value)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_location_quirk_sets_every_relay(fmt: str) -> None:
    from pytest_relaytokens.clock import Clock
    from pytest_relaytokens.ucwa.factories import UcwaTokenFactory

    token = UcwaTokenFactory(3, Clock(frozen=True)).build()
    parsed = wire.parse(wire.render(token, fmt, wire.UcwaQuirks(location="All")))  # type: ignore[arg-type]
    assert [r.location for r in parsed.media_relays] == ["All"]
    sent = wire.at_wire_precision(token, fmt)  # type: ignore[arg-type]
    assert parsed.model_copy(update={"media_relays": token.media_relays}) == sent


@pytest.mark.parametrize(
    "quirks",
    [
        wire.UcwaQuirks(),
        wire.UcwaQuirks(uri_key="uri", timestamps="iso", offset="+05:30"),
        wire.UcwaQuirks(timestamps="ms_offset", offset="+01:00"),
        wire.UcwaQuirks(timestamps="iso", offset="Z"),
    ],
)
@pytest.mark.parametrize("pretty", [True, False])
def test_detect_quirks_reads_back_what_rendered_a_body(
    quirks: wire.UcwaQuirks, pretty: bool
) -> None:
    from pytest_relaytokens.clock import Clock
    from pytest_relaytokens.ucwa.factories import UcwaTokenFactory

    token = UcwaTokenFactory(5, Clock(frozen=True)).build()
    body = wire.render_json(token, quirks, pretty=pretty)
    assert wire.detect_quirks(body) == (dataclasses.replace(quirks, pretty=pretty), pretty)
    xml = wire.render_xml(token, wire.UcwaQuirks(offset="-03:00"))
    assert wire.detect_quirks(xml)[0].offset == "-03:00"
    assert wire.detect_quirks(wire.render_xml(token, wire.UcwaQuirks(offset="Z")))[0].offset == "Z"


# --- the fast layouts write exactly what json.dumps (plus the /Date escape) writes ---------
_ODD_TEXT = [
    'quote " and \\ backslash',
    "é \u2028 \x00\x1f",
    "😀",
    "/Date(12)/",
    'x"/Date(1)/"',
    "\\/Date(5)\\/",
    "</property>",
    "",
]


def _reference(document: object, pretty: bool) -> bytes:
    """What dump_json wrote before the fast paths: json.dumps, then the /Date escape."""
    import re

    if pretty:
        text = json.dumps(document, indent=2, separators=(",", " : "), ensure_ascii=False)
    else:
        text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    return re.sub(r'"/Date\((-?\d+(?:[+-]\d{4})?)\)/"', r'"\\/Date(\1)\\/"', text).encode()


@pytest.mark.parametrize("pretty", [True, False])
def test_dump_json_matches_json_dumps_on_odd_documents(pretty: bool) -> None:
    import random

    rng = random.Random(7)

    def value(depth: int) -> object:
        kind = rng.randrange(9 if depth < 3 else 6)
        if kind == 0:
            return rng.choice(_ODD_TEXT)
        if kind == 1:
            return rng.randint(-(10**20), 10**20)
        if kind == 2:
            return rng.choice([0.5, -1e300, float("inf"), float("nan"), 3.0])
        if kind == 3:
            return rng.choice([True, False, None])
        if kind == 4:
            return f"/Date({rng.randint(-5, 10**13)}{rng.choice(['', '-0700', '+0130'])})/"
        if kind == 5:
            return rng.choice(_ODD_TEXT) + str(rng.random())
        if kind == 6:
            return [value(depth + 1) for _ in range(rng.randrange(4))]
        if kind == 7:
            return tuple(value(depth + 1) for _ in range(rng.randrange(3)))
        return {rng.choice(_ODD_TEXT) + str(i): value(depth + 1) for i in range(rng.randrange(4))}

    for _ in range(300):
        document = {"rel": "x", "v": value(0), "w": value(1)}
        assert wire.dump_json(document, pretty=pretty) == _reference(document, pretty)


def test_dump_json_falls_back_for_what_the_fast_layout_does_not_know() -> None:
    document: dict[str, Any] = {"ok": 1, 2: "int key", "nested": {3.5: [1]}}  # type: ignore[dict-item]
    assert wire.dump_json(document) == _reference(document, True)
    with pytest.raises(TypeError):
        wire.dump_json({"x": object()})
    with pytest.raises(TypeError):
        wire.dump_json({"x": object()}, pretty=False)


@pytest.mark.parametrize(
    "quirks",
    [
        wire.UcwaQuirks(),
        wire.UcwaQuirks("uri", "ms_offset", "+05:30"),
        wire.UcwaQuirks("Uri", "iso", "-07:00", "All"),
    ],
)
def test_render_json_matches_the_resource_document_byte_for_byte(quirks: wire.UcwaQuirks) -> None:
    from pytest_relaytokens.clock import Clock
    from pytest_relaytokens.ucwa.factories import UcwaTokenFactory

    for seed in range(40):
        factory = UcwaTokenFactory(seed, Clock())
        odd = _ODD_TEXT[seed % len(_ODD_TEXT)]
        token = factory.build(uri=None if seed % 4 == 0 else odd, href=None if seed % 3 else odd)
        if seed % 5 == 0:
            token = token.model_copy(update={"password": odd, "media_relays": []})
        document = wire.token_resource(token, quirks, "json")
        for pretty in (True, False):
            assert wire.render_json(token, quirks, pretty=pretty) == _reference(document, pretty)
    token.duration = "changed after validation"  # type: ignore[assignment]
    assert wire.render_json(token, quirks, pretty=False) == _reference(
        wire.token_resource(token, quirks, "json"), False
    )


def _json_with(key: str, value: object, *, relay: bool = False) -> str:
    """The docs' JSON sample with the token's (or its relay's) ``key`` set to ``value``."""
    doc = json.loads(SEED_JSON)
    (doc["_embedded"]["mediaRelay"][0] if relay else doc)[key] = value
    return json.dumps(doc)


@pytest.mark.parametrize(
    ("key", "value", "relay", "said"),
    [
        ("duration", "480", False, "not a string"),
        ("duration", True, False, "not true"),
        ("duration", 480.0, False, "not a number with a fraction"),
        ("duration", None, False, "not null"),
        ("duration", -5, False, "out of range 0..2147483647"),
        ("duration", 2**31, False, "out of range"),
        ("validUntil", 1474932027265, False, "ISO 8601 string, not a number"),
        ("validUntil", None, False, "string, not null"),
        ("tcpPort", "443", True, "not a string"),
        ("udpPort", False, True, "not false"),
        ("tcpPort", -2, True, "out of range -1..65535"),
        ("udpPort", 65536, True, "out of range"),
    ],
)
def test_json_parser_refuses_wrong_types_instead_of_coercing(
    key: str, value: object, relay: bool, said: str
) -> None:
    """A string, boolean or fraction where UCWA writes an integer, a number where it writes a
    date, or an impossible value is a WireFormatError naming the field and what it found."""
    with pytest.raises(WireFormatError) as info:
        wire.parse(_json_with(key, value, relay=relay), "application/json", source="probe")
    assert info.value.field == ("_embedded.mediaRelay[0]." if relay else "") + key
    assert said in str(info.value) and info.value.value == value
    if value is not None:
        assert f"(got {value!r})" in str(info.value)


def _xml_with(name: str, value: str, *, relay: bool = False, body: str = SEED_XML) -> str:
    """``body`` with the token's (or its first relay's) property ``name`` set to ``value``."""
    start = body.index('<resource rel="mediaRelay"') if relay else 0
    found = re.compile(rf'<property name="{name}">[^<]*</property>').search(body, start)
    assert found is not None
    return f'{body[: found.start()]}<property name="{name}">{value}</property>{body[found.end() :]}'


@pytest.mark.parametrize(
    ("name", "value", "relay", "said"),
    [
        ("duration", "-5", False, "plain decimal digits"),
        ("duration", "+31", False, "plain decimal digits"),
        ("duration", "true", False, "plain decimal digits"),
        ("duration", "31.0", False, "plain decimal digits"),
        ("duration", "3e1", False, "plain decimal digits"),
        ("duration", "0x1f", False, "plain decimal digits"),
        ("duration", "\u0663\u0661", False, "plain decimal digits"),  # Arabic-Indic 31
        ("duration", "", False, "plain decimal digits"),
        ("duration", "9" * 5000, False, "out of range"),
        ("tcpPort", "65536", True, "out of range -1..65535"),
        ("udpPort", "-2", True, "plain decimal digits"),
        ("udpPort", "5 1", True, "plain decimal digits"),
    ],
)
def test_xml_parser_reads_numbers_strictly(name: str, value: str, relay: bool, said: str) -> None:
    body = _xml_with(name, value, relay=relay)
    assert f">{value}</property>" in body
    with pytest.raises(WireFormatError, match=said) as info:
        wire.parse(body, "application/xml")
    prefix = "resource[mediaRelay][0]." if relay else ""
    assert info.value.field == prefix + name


def test_strict_parsers_still_take_every_legal_value() -> None:
    """The documented extremes parse: duration 0, ports -1 (unset), 0 and 65535, and XML's
    whitespace around a number."""
    doc = json.loads(_json_with("duration", 0))
    doc["_embedded"]["mediaRelay"][0].update(tcpPort=-1, udpPort=65535)
    token = wire.parse(json.dumps(doc))
    assert token.duration == 0
    assert (token.media_relays[0].tcp_port, token.media_relays[0].udp_port) == (-1, 65535)
    xml = _xml_with("duration", "\n  0031 \t")
    xml = _xml_with("tcpPort", "0", relay=True, body=xml)
    xml = _xml_with("udpPort", "-1", relay=True, body=xml)
    token = wire.parse(xml)
    assert token.duration == 31
    assert (token.media_relays[0].tcp_port, token.media_relays[0].udp_port) == (0, -1)


# --- hrefs follow the request's prefix ------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        "/ucwa/v1/applications/{id}/mediaRelayAccessToken",
        "/ucwa/oauth/v1/applications/{id}/communication/mediaRelayAccessToken",
    ],
)
def test_token_and_relay_hrefs_follow_the_request_prefix(path: str) -> None:
    from pytest_relaytokens.clock import Clock
    from pytest_relaytokens.http import FakeRequest
    from pytest_relaytokens.ucwa.service import UcwaService

    svc = UcwaService(base_url="https://fe1.contoso.com", clock=Clock(frozen=True), seed=3)
    app = svc.credentials.application_id
    request = FakeRequest(
        "GET",
        "https://fe1.contoso.com" + path.format(id=app),
        (("Authorization", "Bearer " + svc.credentials.bearer), ("Accept", "application/json")),
    )
    answer = svc.dispatch(request)[0]
    assert answer.status == 200, answer.body
    token = wire.parse(answer.body, "application/json")
    head = path.split("/applications/")[0]
    assert token.href == path.format(id=app)
    assert token.media_relays[0].href == f"{head}/applications/{app}/communication/mediaRelay"


def test_retime_moves_the_recorded_tick_digit_with_the_instant() -> None:
    """Replay under ``token_clock_skew`` moves a recorded XML ``validUntil``; its seventh
    fractional digit (100 ns) is recorded data and must survive the move."""
    import datetime as _dt
    import re as _re

    from pytest_relaytokens.ucwa import wire as _wire
    from pytest_relaytokens.ucwa.factories import UcwaTokenFactory as _Factory

    body = _wire.render_xml(_Factory(3).build())
    parsed = _wire.parse_xml(body)
    moved = _wire.retime(
        body,
        "application/vnd.microsoft.com.ucwa+xml",
        parsed.valid_until + _dt.timedelta(seconds=60),
        ticks=parsed.valid_until_ticks,
    )
    (before,) = _re.findall(rb'validUntil">([^<]+)<', body)
    (after,) = _re.findall(rb'validUntil">([^<]+)<', moved)
    assert before[-13:-6] == after[-13:-6]  # the seven fractional digits
    assert before != after
    assert moved.replace(after, before) == body
