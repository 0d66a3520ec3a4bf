"""Hardening: every public parser, fed random and mutated-valid input, raises only our errors.

Random bytes/text and mutations of valid rendered bodies (keys dropped, duplicated, replaced,
types changed, truncation, byte flips, unicode injection) go through every public parser; the
only exception allowed out is a :class:`RelayTokensError` whose message names a field or a
location. Hostile XML and huge bodies are refused quickly. Case counts are printed at the end
of the module (run with ``-s``) for the README's Reliability section.
"""

from __future__ import annotations

import collections
import functools
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_relaytokens.cassettes.storage import CassetteError, load_interactions, parse_cassette
from pytest_relaytokens.errors import RelayTokensError, WireFormatError
from pytest_relaytokens.relay import wire as relay_wire
from pytest_relaytokens.relay.catalogue import RELAY_ERRORS
from pytest_relaytokens.relay.factories import RelayTokenFactory
from pytest_relaytokens.ucwa import timestamps
from pytest_relaytokens.ucwa import wire as ucwa_wire
from pytest_relaytokens.ucwa.catalogue import UCWA_ERRORS
from pytest_relaytokens.ucwa.factories import UcwaTokenFactory

CASES: collections.Counter[str] = collections.Counter()
FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=False,
)

# A location: a field, a line/column or byte offset, or the body/document as a whole.
_LOCATION = re.compile(
    r"field '|line \d+|byte \d+|index \d+|interaction \d+|\bbody\b|JSON (object|array)|"
    r"root element|nested|unsafe XML|top level|'interactions'|cassette file|not UTF-8|"
    r":\d+:\d+: |character \d+|^cassette \S+: (not a vcrpy|interaction \d+|'interactions'|"
    r"'?relaytokens\b)"
)


def _check_ours(error: BaseException) -> None:
    assert isinstance(error, RelayTokensError), f"{type(error).__name__}: {error}"
    text = str(error)
    if isinstance(error, WireFormatError) and error.field:
        assert f"field {error.field!r}" in text
        return
    assert _LOCATION.search(text), f"message names no field or location: {text!r}"


def _run(name: str, parser: Callable[[Any], object], data: Any) -> None:
    CASES[name] += 1
    try:
        parser(data)
    except RelayTokensError as error:
        _check_ours(error)
    # Any other exception propagates and fails the test.


# Valid bodies -----------------------------------------------------------------------------


def _ucwa_tokens() -> list[bytes]:
    factory = UcwaTokenFactory(7)
    out = []
    for quirks in (
        ucwa_wire.UcwaQuirks(),
        ucwa_wire.UcwaQuirks(uri_key="uri", timestamps="ms_offset"),
        ucwa_wire.UcwaQuirks(timestamps="iso", offset="Z"),
    ):
        token = factory.build(media_relays=[factory.build_relay(), factory.build_relay()])
        out.append(ucwa_wire.render_json(token, quirks))
        out.append(ucwa_wire.render_json(token, quirks, pretty=False))
    return out


UCWA_JSON = _ucwa_tokens()
UCWA_XML = [ucwa_wire.render_xml(UcwaTokenFactory(s).build()) for s in range(3)]
UCWA_ERR_JSON = [e.response("json").body for e in UCWA_ERRORS[::4] if not e.grant_error]
UCWA_ERR_XML = [e.response("xml").body for e in UCWA_ERRORS[::4] if not e.grant_error]
_RF = RelayTokenFactory(3)
RELAY_TOKENS = [relay_wire.render_token(_RF.build()) for _ in range(3)]
RELAY_ENTERPRISES = [relay_wire.render_enterprise(_RF.build_enterprise()) for _ in range(2)]
RELAY_ERR = [e.response().body for e in RELAY_ERRORS]
CASSETTE = (
    "version: 1\n"
    "interactions:\n"
    "- request:\n"
    "    method: GET\n"
    "    uri: https://relay.bluejeans.com/api/enterprises/self\n"
    "    headers: {X-Access-Token: [redacted000000000000000000000001]}\n"
    "    body: null\n"
    "  response:\n"
    "    status: {code: 200, message: OK}\n"
    "    headers: {Content-Type: [application/json]}\n"
    '    body: {string: \'{"id": "527ca9e2776a7e02dd2e15fe"}\'}\n'
    "relaytokens: {version: 1, recorded_at: '2024-05-01T12:00:00+00:00'}\n"
)

JSON_PARSERS: dict[str, tuple[list[bytes], list[Callable[[Any], object]]]] = {
    "ucwa token json": (UCWA_JSON, [ucwa_wire.parse_json, ucwa_wire.parse]),
    "ucwa error json": (UCWA_ERR_JSON, [ucwa_wire.parse_error]),
    "relay token": (RELAY_TOKENS, [relay_wire.parse_token]),
    "relay enterprise": (RELAY_ENTERPRISES, [relay_wire.parse_enterprise]),
    "relay error": (RELAY_ERR, [relay_wire.parse_error]),
}
XML_PARSERS: dict[str, tuple[list[bytes], list[Callable[[Any], object]]]] = {
    "ucwa token xml": (UCWA_XML, [ucwa_wire.parse_xml, ucwa_wire.parse]),
    "ucwa error xml": (UCWA_ERR_XML, [ucwa_wire.parse_error]),
}
ALL_PARSERS: list[tuple[str, Callable[[Any], object]]] = [
    ("ucwa.wire.parse_json", ucwa_wire.parse_json),
    ("ucwa.wire.parse_xml", ucwa_wire.parse_xml),
    ("ucwa.wire.parse", ucwa_wire.parse),
    ("ucwa.wire.parse_error", ucwa_wire.parse_error),
    ("relay.wire.parse_token", relay_wire.parse_token),
    ("relay.wire.parse_enterprise", relay_wire.parse_enterprise),
    ("relay.wire.parse_error", relay_wire.parse_error),
]
TIMESTAMP_PARSERS: list[tuple[str, Callable[[Any], object]]] = [
    ("ucwa.timestamps.parse_timestamp", timestamps.parse_timestamp),
    ("ucwa.timestamps.parse_iso", timestamps.parse_iso),
    ("ucwa.timestamps.parse_ms_date", timestamps.parse_ms_date),
    ("ucwa.timestamps.parse_offset", timestamps.parse_offset),
]


def test_valid_bodies_parse() -> None:
    """Control: the seeds of every mutation are accepted (so a mutation is what fails)."""
    for bodies, parsers in (*JSON_PARSERS.values(), *XML_PARSERS.values()):
        for body in bodies:
            for parser in parsers:
                parser(body)
    assert parse_cassette(CASSETTE)["interactions"]


# Mutations --------------------------------------------------------------------------------

ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.sampled_from([2**63, -(2**63) - 1, 10**400, 65536, -2]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(
        [
            "",
            "\u202e\U0001f600\u0000",
            "/Date(-99999999999999)/",
            "/Date(1+9999)/",
            "9999-12-31T23:59:59.9999999-07:00",
            "0001-01-01T00:00:00+01:00",
            "2016-02-30T00:00:00Z",
            "\\/Date(1474932027265-0700)\\/",
            "INTERNET",
            "ROLE_ROOT",
        ]
    ),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


def _mutate_json(data: st.DataObject, document: Any) -> Any:
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        paths = [p for p in _paths(document) if p]
        if not paths:
            return data.draw(ODD_VALUES)
        path = data.draw(st.sampled_from(paths))
        parent = document
        for part in path[:-1]:
            parent = parent[part]
        key = path[-1]
        op = data.draw(st.sampled_from(["drop", "dup", "replace", "retype", "unicode"]))
        if op == "drop":
            del parent[key]
        elif op == "dup" and isinstance(parent, dict):
            parent[f"{key}\u00e9" if data.draw(st.booleans()) else str(key).lower()] = parent[key]
        elif op == "dup":
            parent.append(parent[key])
        elif op == "retype":
            value = parent[key]
            parent[key] = [value] if not isinstance(value, list) else {"x": value}
        elif op == "unicode":
            parent[key] = str(parent[key]) + data.draw(st.text(min_size=1, max_size=4))
        else:
            parent[key] = data.draw(ODD_VALUES)
    return document


def _mutate_bytes(data: st.DataObject, body: bytes) -> bytes:
    op = data.draw(st.sampled_from(["truncate", "flip", "insert", "splice"]))
    if op == "truncate":
        return body[: data.draw(st.integers(0, len(body)))]
    at = data.draw(st.integers(0, len(body) - 1))
    if op == "flip":
        return body[:at] + bytes([data.draw(st.integers(0, 255))]) + body[at + 1 :]
    if op == "insert":
        extra = data.draw(st.text(min_size=1, max_size=8)).encode("utf-8", "surrogatepass")
        return body[:at] + extra + body[at:]
    end = data.draw(st.integers(at, len(body)))
    return body[:at] + body[end:] + body[at:end]


def _json_case(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(JSON_PARSERS)))
    bodies, parsers = JSON_PARSERS[name]
    body = data.draw(st.sampled_from(bodies))
    if data.draw(st.booleans()):
        text = json.dumps(_mutate_json(data, json.loads(body)))
        mutated: bytes | str = text
        if data.draw(st.booleans()):
            mutated = text.encode("utf-8", "surrogatepass")
    else:
        mutated = _mutate_bytes(data, body)
    for parser in parsers:
        _run(f"mutated {name}", parser, mutated)


def _mutate_xml(data: st.DataObject, body: bytes) -> bytes:
    text = body.decode()
    names = re.findall(r'name="([^"]+)"', text)
    op = data.draw(st.sampled_from(["drop", "dup", "rename", "value", "bytes", "tag"]))
    if op == "bytes" or not names:
        return _mutate_bytes(data, body)
    name = data.draw(st.sampled_from(names))
    prop = re.search(rf'<property name="{re.escape(name)}">[^<]*</property>', text)
    if op == "tag":
        text = text.replace("<resource", "<Resource", 1)
    elif prop is None:
        return _mutate_bytes(data, body)
    elif op == "drop":
        text = text.replace(prop.group(0), "", 1)
    elif op == "dup":
        text = text.replace(prop.group(0), prop.group(0) * 2, 1)
    elif op == "rename":
        text = text.replace(f'name="{name}"', f'name="{name.upper()}"', 1)
    else:
        value = str(data.draw(ODD_VALUES))
        escaped = value.replace("&", "&amp;").replace("<", "&lt;")
        text = text.replace(prop.group(0), f'<property name="{name}">{escaped}</property>', 1)
    return text.encode("utf-8", "surrogatepass")


def _xml_case(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(XML_PARSERS)))
    bodies, parsers = XML_PARSERS[name]
    mutated = _mutate_xml(data, data.draw(st.sampled_from(bodies)))
    for parser in parsers:
        _run(f"mutated {name}", parser, mutated)


@FUZZ
@given(
    raw=st.one_of(
        st.binary(max_size=512),
        st.text(max_size=256),
        st.text(alphabet="{}[]<>\"':,/=&;!?- \nabc019", max_size=200),
    )
)
def test_every_parser_survives_random_input(raw: bytes | str) -> None:
    for name, parser in ALL_PARSERS:
        _run(f"random {name}", parser, raw)
    for ctype in ("application/xml", "application/json", "text/plain"):
        by_type = functools.partial(ucwa_wire.parse, content_type=ctype)
        _run("random ucwa.wire.parse(content_type)", by_type, raw)
        error_by_type = functools.partial(ucwa_wire.parse_error, content_type=ctype)
        _run("random ucwa.wire.parse_error(content_type)", error_by_type, raw)


TIMESTAMP_TEXT = st.one_of(
    st.text(max_size=40),
    st.from_regex(r"\\?/Date\(-?[0-9]{1,17}([+-][0-9]{4})?\)\\?/", fullmatch=True),
    st.from_regex(
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
        r"(Z|[+-][0-9]{2}:?[0-9]{2})?",
        fullmatch=True,
    ),
    st.datetimes().map(lambda d: d.isoformat()),
    st.integers(),
    st.floats(),
    st.none(),
    st.booleans(),
    st.binary(max_size=8),
)


@FUZZ
@given(value=TIMESTAMP_TEXT)
def test_timestamp_parsers_survive_anything(value: Any) -> None:
    for name, parser in TIMESTAMP_PARSERS:
        _run(f"random {name}", parser, value)


# Cassettes --------------------------------------------------------------------------------


def _mutate_cassette(data: st.DataObject) -> str:
    if data.draw(st.booleans()):
        document = yaml.safe_load(CASSETTE)
        return yaml.safe_dump(_mutate_json(data, document), allow_unicode=True)
    return _mutate_bytes(data, CASSETTE.encode()).decode("utf-8", "replace")


@FUZZ
@given(data=st.data())
def test_cassette_parser_survives_mutations(data: st.DataObject) -> None:
    _run("mutated storage.parse_cassette", parse_cassette, _mutate_cassette(data))


@FUZZ
@given(data=st.data())
def test_json_parsers_survive_mutated_valid_bodies(data: st.DataObject) -> None:
    _json_case(data)


@FUZZ
@given(data=st.data())
def test_xml_parsers_survive_mutated_valid_bodies(data: st.DataObject) -> None:
    _xml_case(data)


HEAVY_FUZZ = settings(FUZZ, max_examples=1500)


@pytest.mark.heavy
@HEAVY_FUZZ
@given(data=st.data())
def test_heavy_mutation_fuzz(data: st.DataObject) -> None:
    """The same mutations, five times as many cases, across JSON, XML and cassettes."""
    kind = data.draw(st.sampled_from(["json", "xml", "cassette"]))
    if kind == "json":
        _json_case(data)
    elif kind == "xml":
        _xml_case(data)
    else:
        _run("mutated storage.parse_cassette", parse_cassette, _mutate_cassette(data))


@FUZZ
@given(
    raw=st.one_of(
        st.text(max_size=300), st.text(alphabet="{}[]:-!&*?|>'\"#%@` \nab1", max_size=200)
    )
)
def test_cassette_parser_survives_random_text(raw: str) -> None:
    _run("random storage.parse_cassette", parse_cassette, raw)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), raw=st.binary(max_size=300))
def test_load_interactions_survives_files(
    data: st.DataObject, raw: bytes, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "cassette.yaml"
    content = raw if data.draw(st.booleans()) else _mutate_cassette(data).encode("utf-8")
    path.write_bytes(content)
    _run("files storage.load_interactions", load_interactions, path)


def test_load_interactions_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_bytes(b"interactions: [\n  - {request: \xff")
    with pytest.raises(CassetteError, match=r"broken\.yaml"):
        load_interactions(path)
    with pytest.raises(CassetteError, match="no such cassette file"):
        load_interactions(tmp_path / "missing.yaml")


# Hostile XML and huge bodies ----------------------------------------------------------------

_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'
        for i in range(1, 10)
    )
    + ']><resource rel="mediaRelayAccessToken"><property name="password">&lol9;</property>'
    "</resource>"
)
HOSTILE: dict[str, bytes] = {
    "billion laughs": _LAUGHS.encode(),
    "external entity": (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<resource><property name="password">&x;</property></resource>'
    ),
    "external DTD": b'<!DOCTYPE resource SYSTEM "http://127.0.0.1:9/x.dtd"><resource/>',
    "parameter entity": (
        b'<!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;]><resource/>'
    ),
    "10,000-deep nesting": b"<resource>" * 10_000 + b"</resource>" * 10_000,
    "10,000-deep JSON": b"[" * 10_000 + b"]" * 10_000,
    "100,000-deep JSON objects": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "huge JSON (2 MiB)": b'{"code":"' + b"x" * (2 << 20) + b'"}',
    "huge XML (2 MiB)": b"<reason><code>" + b"x" * (2 << 20) + b"</code></reason>",
    "huge number (5,000 digits)": b'{"code": 1, "errorCode": ' + b"9" * 5000 + b"}",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_bodies_refused_quickly(
    name: str, count_calls: Callable[[Callable[[], object]], int]
) -> None:
    body = HOSTILE[name]
    for text_form in (False, True):
        data: bytes | str = body.decode() if text_form else body
        for parser_name, parser in ALL_PARSERS:
            refused: list[RelayTokensError] = []

            def parse(
                parser: Callable[..., object] = parser,
                data: bytes | str = data,
                refused: list[RelayTokensError] = refused,
            ) -> None:
                with pytest.raises(RelayTokensError) as info:
                    parser(data)
                refused.append(info.value)

            # no hang, no expansion: at most one call per input byte (work, not time)
            calls = count_calls(parse)
            assert calls <= len(body) + 1_000, f"{parser_name}: {calls} calls on {name}"
            _check_ours(refused[0])
            assert "lollol" not in str(refused[0]) and "root:" not in str(refused[0])
            CASES[f"hostile {parser_name}"] += 1


def test_huge_cassette_refused_or_parsed_quickly(
    count_calls: Callable[[Callable[[], object]], int],
) -> None:
    text = "interactions:\n" + "- " * 20_000 + "x"

    def parse() -> None:
        with pytest.raises(CassetteError):
            parse_cassette(text)

    calls = count_calls(parse)  # refused, not hung: linear work (about 7 calls a byte)
    assert calls <= 20 * len(text), f"{calls} calls for {len(text)} bytes"


@pytest.fixture(scope="module", autouse=True)
def _report_counts() -> Iterator[None]:
    yield
    total = sum(CASES.values())
    lines = [f"{count:6d}  {name}" for name, count in sorted(CASES.items())]
    print(f"\nfuzz cases run: {total}\n" + "\n".join(lines))
