"""UCWA timestamps over .NET's whole DateTime range, in every quirk, and re-timing recorded
tokens: only the expiry fields change."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_relaytokens.clock import Clock
from pytest_relaytokens.errors import WireFormatError
from pytest_relaytokens.library import SCENARIOS, scenario_path
from pytest_relaytokens.relay import wire as relay_wire
from pytest_relaytokens.ucwa import timestamps, wire
from pytest_relaytokens.ucwa.factories import UcwaTokenFactory

UTC = dt.timezone.utc
MIN = dt.datetime.min.replace(tzinfo=UTC)  # .NET DateTime.MinValue
MAX = dt.datetime.max.replace(tzinfo=UTC)  # .NET DateTime.MaxValue, bar its 7th digit

instants = st.datetimes(
    min_value=dt.datetime.min, max_value=dt.datetime.max, timezones=st.just(UTC)
)
offsets = st.sampled_from(["Z", "-07:00", "+01:00", "+05:30", "-12:00", "+14:00", "+00:00"])


def test_the_dotnet_extremes_render_and_parse() -> None:
    assert timestamps.format_iso(MIN, "Z") == "0001-01-01T00:00:00.0000000Z"
    assert timestamps.format_iso(MAX, "Z", 9) == "9999-12-31T23:59:59.9999999Z"
    assert timestamps.parse_iso("0001-01-01T00:00:00.0000000Z") == (MIN, 0)
    assert timestamps.parse_iso("9999-12-31T23:59:59.9999999Z") == (MAX, 9)
    assert timestamps.format_ms_date(MIN) == "/Date(-62135596800000)/"
    assert timestamps.parse_ms_date("\\/Date(253402300799999)\\/") == MAX.replace(
        microsecond=999000
    )
    assert timestamps.format_ms_date(MAX, "+01:00") == "/Date(253402300799999+0100)/"


@pytest.mark.parametrize(
    ("value", "offset"), [(MAX, "+01:00"), (MIN, "-07:00"), (MAX, "Asia/Tokyo")]
)
def test_leaving_the_range_at_an_offset_is_a_wire_format_error_naming_the_field(
    value: dt.datetime, offset: str
) -> None:
    with pytest.raises(WireFormatError) as info:
        timestamps.format_iso(value, offset, field="validUntil")
    assert info.value.field == "validUntil" and "range" in str(info.value)
    with pytest.raises(WireFormatError, match="validUntil"):
        wire.render_xml(_token(value), wire.UcwaQuirks(offset=offset))


@pytest.mark.parametrize(
    "text", ["/Date(253402300800000)/", "/Date(-62135596800001)/", "0001-01-01T00:00:00+01:00"]
)
def test_out_of_range_input_is_refused_naming_the_field(text: str) -> None:
    with pytest.raises(WireFormatError) as info:
        timestamps.parse_timestamp(text, field="validUntil")
    assert info.value.field == "validUntil"


def test_an_iana_zone_follows_daylight_saving() -> None:
    december = dt.datetime(2026, 12, 7, 16, 0, tzinfo=UTC)
    july = dt.datetime(2026, 7, 7, 16, 0, tzinfo=UTC)
    assert (
        timestamps.format_iso(december, "America/Los_Angeles")
        == "2026-12-07T08:00:00.0000000-08:00"
    )
    assert timestamps.format_iso(july, "America/Los_Angeles") == "2026-07-07T09:00:00.0000000-07:00"
    assert timestamps.format_ms_date(december, "America/Los_Angeles").endswith("-0800)/")
    quirks = wire.UcwaQuirks(offset="America/Los_Angeles")
    assert b"-08:00</property>" in wire.render_xml(_token(december), quirks)
    with pytest.raises(WireFormatError, match="offset"):
        wire.UcwaQuirks(offset="Mars/Olympus_Mons")


def _token(valid_until: dt.datetime, ticks: int = 0) -> Any:
    token = UcwaTokenFactory(3, Clock(frozen=True)).build(valid_until=valid_until, duration=480)
    token._set_ticks(ticks)
    return token


@settings(max_examples=150, deadline=None)
@given(value=instants, ticks=st.integers(0, 9), offset=offsets)
def test_iso_round_trips_over_the_whole_range(value: dt.datetime, ticks: int, offset: str) -> None:
    try:
        text = timestamps.format_iso(value, offset, ticks)
    except WireFormatError:  # the first/last hours shifted out of years 1-9999
        assume_edge = value.year in (1, 9999)
        assert assume_edge
        return
    parsed, parsed_ticks = timestamps.parse_iso(text)
    assert (parsed, parsed_ticks) == (value, ticks)
    assert timestamps.format_iso(parsed, offset, parsed_ticks) == text


@settings(max_examples=150, deadline=None)
@given(
    value=instants,
    ticks=st.integers(0, 9),
    offset=offsets,
    shape=st.sampled_from(["json-utc_ms", "json-ms_offset", "json-iso", "xml"]),
    uri_key=st.sampled_from(["Uri", "uri"]),
    pretty=st.booleans(),
)
def test_every_quirk_shape_renders_back_what_it_parsed(
    value: dt.datetime, ticks: int, offset: str, shape: str, uri_key: str, pretty: bool
) -> None:
    fmt, _, stamps = shape.partition("-")
    quirks = wire.UcwaQuirks(uri_key=uri_key, timestamps=stamps or "utc_ms", offset=offset)  # type: ignore[arg-type]
    token = _token(value, ticks)
    try:
        body = (
            wire.render_json(token, quirks, pretty=pretty)
            if fmt == "json"
            else wire.render_xml(token, quirks)
        )
    except WireFormatError:
        assert value.year in (1, 9999)
        return
    detected, _ = wire.detect_quirks(body)
    parsed = wire.parse(body)
    again = (
        wire.render_json(parsed, detected) if fmt == "json" else wire.render_xml(parsed, detected)
    )
    assert again == body


def test_z_is_detected_and_kept() -> None:
    body = wire.render_json(
        _token(dt.datetime(2026, 1, 5, 17, 30, 0, 123456, tzinfo=UTC), 7),
        wire.UcwaQuirks(timestamps="iso", offset="Z"),
    )
    assert b'"2026-01-05T17:30:00.1234567Z"' in body
    assert wire.detect_quirks(body)[0].offset == "Z"


def test_the_pretty_layout_is_a_quirk() -> None:
    token = _token(dt.datetime(2026, 1, 5, tzinfo=UTC))
    pretty = wire.render_json(token, wire.UcwaQuirks(pretty=True), pretty=False)
    assert (
        pretty == wire.render_json(token, pretty=True)
        and b'"rel" : "mediaRelayAccessToken"' in pretty
    )
    assert b"\n" not in wire.render_json(token, wire.UcwaQuirks(pretty=False))


# --- re-timing a recorded token -------------------------------------------------------------
def _recorded_tokens() -> list[tuple[str, str, bytes, str]]:
    found = []
    for name in SCENARIOS:
        path = scenario_path(name)
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for index, interaction in enumerate(data["interactions"]):
            response, uri = interaction["response"], interaction["request"]["uri"]
            if response["status"]["code"] != 200 or not response["body"]["string"]:
                continue
            ctype = (response["headers"].get("Content-Type") or [""])[0]
            body = response["body"]["string"].encode("utf-8")
            if uri.endswith("mediaRelayAccessToken") or re.search(
                r"/api/auth/accesstokens/?(\?|$)", uri
            ):
                found.append((f"{name}#{index}", uri, body, ctype))
    return found


RECORDED = _recorded_tokens()
_MASK_UCWA = re.compile(
    rb'("validUntil"\s*:\s*")[^"]*|(<property name="validUntil">)[^<]*|("duration"\s*:\s*)\d+|(<property name="duration">)\d+'
)
_MASK_RELAY = re.compile(rb'("(?:creationDate|expirationDate)"\s*:\s*)(?:-?\d+|null)')


def _mask(pattern: re.Pattern[bytes], body: bytes) -> bytes:
    return pattern.sub(lambda m: next(g for g in m.groups() if g is not None) + b"#", body)


def test_the_library_holds_tokens_of_both_apis() -> None:
    uris = [uri for _, uri, _, _ in RECORDED]
    assert any("mediaRelayAccessToken" in u for u in uris) and any("/api/auth" in u for u in uris)


@settings(max_examples=60, deadline=None)
@given(
    which=st.sampled_from(RECORDED) if RECORDED else st.nothing(),
    moment=st.datetimes(
        min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2090, 1, 1), timezones=st.just(UTC)
    ),
    ticks=st.integers(0, 9),
    duration=st.integers(0, 100_000),
    never=st.booleans(),
)
def test_retiming_a_recorded_token_changes_its_expiry_and_nothing_else(
    which: tuple[str, str, bytes, str], moment: dt.datetime, ticks: int, duration: int, never: bool
) -> None:
    name, uri, body, ctype = which
    if uri.endswith("mediaRelayAccessToken"):
        moved = wire.retime(body, ctype, moment, duration, ticks=ticks)
        assert _mask(_MASK_UCWA, moved) == _mask(_MASK_UCWA, body), name
        token, before = wire.parse(moved, ctype), wire.parse(body, ctype)
        assert token.duration == duration
        precision = dt.timedelta(milliseconds=1) if b"Date(" in body else dt.timedelta(0)
        assert abs(token.valid_until - moment) <= precision
        assert wire.detect_quirks(moved) == wire.detect_quirks(body)
        assert (
            token.model_copy(
                update={"valid_until": before.valid_until, "duration": before.duration}
            )
            == before
        )
    else:
        expiry = None if never else moment + dt.timedelta(days=14)
        moved = relay_wire.retime_token(body, moment, expiry)
        assert _mask(_MASK_RELAY, moved) == _mask(_MASK_RELAY, body), name
        token = relay_wire.parse_token(moved)
        assert token.creation_date == moment.replace(microsecond=moment.microsecond // 1000 * 1000)
        assert (token.expiration_date is None) == never


def test_retiming_keeps_unknown_properties_order_spacing_offset_and_precision() -> None:
    body = (
        b'{"rel":"mediaRelayAccessToken","etag":"960382518","duration":480,'
        b'"validUntil":"2026-01-05T17:30:00.1234567Z","userName":"u","password":"p"}'
    )
    moved = wire.retime(
        body, "application/json", dt.datetime(2026, 1, 6, 1, 2, 3, 456789, tzinfo=UTC), 7, ticks=1
    )
    assert moved == body.replace(b"480", b"7").replace(
        b"2026-01-05T17:30:00.1234567Z", b"2026-01-06T01:02:03.4567891Z"
    )
    xml = b'<resource><property name="duration"> 480 </property><property name="validUntil">2016-09-26T16:20:27.29-07:00</property></resource>'
    out = wire.retime(
        xml, "application/xml", dt.datetime(2016, 12, 26, 23, 20, 27, 123456, tzinfo=UTC), 3
    )
    assert out == xml.replace(b" 480 ", b" 3 ").replace(
        b"2016-09-26T16:20:27.29-07:00", b"2016-12-26T16:20:27.12-07:00"
    )
    with pytest.raises(WireFormatError, match="validUntil"):
        wire.retime(b'{"rel":"x"}', "application/json", dt.datetime(2026, 1, 1, tzinfo=UTC))


# --- the markers ask for Z, a zone and the pretty layout ----------------------------------
def test_the_quirks_marker_selects_z_a_zone_and_the_pretty_layout(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import datetime as dt, zoneinfo
        import pytest, requests

        def get(ucwa_api):
            headers = {"Authorization": "Bearer " + ucwa_api.credentials.bearer,
                       "Accept": "application/json"}
            return requests.get(ucwa_api.token_url(), headers=headers).json(), requests.get(
                ucwa_api.token_url(), headers=headers).text

        @pytest.mark.ucwa_quirks(timestamps="iso", offset="Z", pretty=True)
        def test_z_pretty(ucwa_api):
            doc, body = get(ucwa_api)
            assert '"rel" : "mediaRelayAccessToken"' in body and doc["validUntil"].endswith("Z")

        @pytest.mark.ucwa_quirks(timestamps="iso", offset="America/Los_Angeles")
        def test_zone(ucwa_api):
            doc, body = get(ucwa_api)
            when = dt.datetime.fromisoformat(doc["validUntil"][:26] + doc["validUntil"][27:])
            la = when.astimezone(zoneinfo.ZoneInfo("America/Los_Angeles")).utcoffset()
            assert when.utcoffset() == la and "\\n" not in body
        """
    )
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


@pytest.mark.parametrize(
    ("marker", "expected"),
    [
        ('ucwa_quirks(pretty="yes")', "*bad pretty 'yes'*True or False*"),
        ('ucwa_quirks(offset="Mars/Base")', "*bad offset 'Mars/Base'*IANA zone name*"),
    ],
)
def test_bad_quirks_are_usage_errors(pytester: pytest.Pytester, marker: str, expected: str) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.{marker}
        def test_x(ucwa_api):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:randomly")
    assert result.ret != 0
    result.stderr.fnmatch_lines([expected])
