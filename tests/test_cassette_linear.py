"""Redaction and the leak scan are linear in the body size and in the number of secrets.

Every path is exercised with bodies dense in secrets (a new secret every few hundred
bytes, so the number of secrets grows with the body): JSON, XML, forms, URLs in text,
base64 runs, percent and backslash escapes, UTF-16 bodies. Each body is timed at two sizes
4x apart (CPU time, best of two rounds); quadratic work would take 16x, so the bound of 8x
is generous for a shared machine and still fails on anything quadratic. Hostile bodies
(unterminated keys, endless base64 runs, broken escapes, unclosed tags) are timed at
256 KiB and 1 MiB the same way.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from urllib.parse import quote

import pytest
import yaml

from pytest_relaytokens.cassettes import Redactor, fingerprint
from pytest_relaytokens.cassettes.secrets import scan, scan_cassette
from pytest_relaytokens.ucwa import wire
from pytest_relaytokens.ucwa.factories import UcwaTokenFactory

KIB = 1024
BOUND = 8.0


def redact_and_scan(body: bytes, content_type: str, *, secrets: list[str] | None = None) -> int:
    """What recording does to one response (redact, serialize, scan); the finding count."""
    redactor = Redactor(extra_secrets=secrets or ())
    response: dict[str, object] = {
        "status": {"code": 200, "message": "OK"},
        "headers": {"Content-Type": [content_type], "Content-Length": [str(len(body))]},
        "body": {"string": body},
    }
    request: dict[str, object] = {"method": "GET", "uri": "https://h.test/", "body": None}
    request["headers"] = {}
    redactor.redact_interaction(request, response)
    cassette = {
        "version": 1,
        "interactions": [{"request": request, "response": response}],
        "relaytokens": {"version": 1, "placeholders": sorted(redactor.placeholders)},
    }
    text = yaml.dump(cassette, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper))
    return len(scan_cassette(text, redactor.secrets | set(redactor.declared), redactor.patterns))


def _secret(index: int) -> str:
    """A distinct declared secret with characters every encoding changes."""
    return f"Pw/{index:07d}+k=Z~{index * 7919 % 100003:06d}"


def _repeat(unit: Callable[[int], str], size: int) -> tuple[str, list[str]]:
    parts: list[str] = []
    secrets: list[str] = []
    total = 0
    while total < size:
        secret = _secret(len(secrets))
        secrets.append(secret)
        part = unit(len(secrets) - 1).replace("{secret}", secret)
        parts.append(part)
        total += len(part)
    return "".join(parts), secrets


def _json_tokens(size: int) -> tuple[bytes, str, list[str]]:
    factory = UcwaTokenFactory(11)
    parts, total = [], 2
    while total < size:
        part = wire.render_json(factory.build()).decode()
        parts.append(part)
        total += len(part) + 1
    return ("[" + ",".join(parts) + "]").encode(), "application/json", []


_FILLER = "ordinary words between the secrets, as in any real body " * 2


def _declared(
    unit: str, content_type: str, encode: Callable[[str], bytes] = str.encode
) -> Callable[[int], tuple[bytes, str, list[str]]]:
    """A secret every ~150 bytes: ``unit`` holds ``{secret}``, ``{i}`` and ``{filler}``."""

    def build(size: int) -> tuple[bytes, str, list[str]]:
        text, secrets = _repeat(
            lambda i: unit.replace("{i}", str(i)).replace("{filler}", _FILLER.strip()), size
        )
        return encode(text), content_type, secrets

    return build


def _encoded(
    transform: Callable[[str], str], content_type: str = "text/plain"
) -> Callable[[int], tuple[bytes, str, list[str]]]:
    def build(size: int) -> tuple[bytes, str, list[str]]:
        parts: list[str] = []
        secrets: list[str] = []
        total = 0
        while total < size:
            secret = _secret(len(secrets))
            secrets.append(secret)
            part = f"item {len(secrets)}: {transform(secret)} {_FILLER}\n"
            parts.append(part)
            total += len(part)
        return "".join(parts).encode(), content_type, secrets

    return build


BODIES: dict[str, Callable[[int], tuple[bytes, str, list[str]]]] = {
    "json-ucwa-tokens": _json_tokens,
    "json-declared": _declared(
        '{"id":{i},"note":"{secret}","about":"{filler}"},', "application/json"
    ),
    "xml": _declared(
        '<property name="password">{secret}</property><property name="n">{i} {filler}</property>',
        "application/xml",
    ),
    "form": _declared(
        "password={secret}&id={i}&about={filler}&", "application/x-www-form-urlencoded"
    ),
    "urls": _declared(
        "see https://h.test/x?access_token={secret}&n={i} then {filler} ", "text/plain"
    ),
    "base64": _encoded(lambda s: base64.b64encode(f"user:{s}".encode()).decode()),
    "percent": _encoded(lambda s: quote(s, safe="")),
    "backslash": _encoded(lambda s: "".join(c if c.isalnum() else f"\\u{ord(c):04x}" for c in s)),
    "utf-16": _declared(
        "value {secret} number {i} {filler};",
        "application/octet-stream",
        lambda t: t.encode("utf-16-le"),
    ),
}


def _cpu(action: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(2):
        started = time.process_time()
        action()
        best = min(best, time.process_time() - started)
    return max(best, 1e-3)


def _pipeline(body: bytes, content_type: str, secrets: list[str]) -> float:
    def run() -> None:
        assert redact_and_scan(body, content_type, secrets=secrets) == 0

    return _cpu(run)


@pytest.mark.parametrize("name", sorted(BODIES))
def test_redact_and_scan_are_linear_in_size_and_secrets(name: str) -> None:
    small = BODIES[name](64 * KIB)
    large = BODIES[name](256 * KIB)
    assert len(large[2]) >= 3 * len(small[2])  # the number of secrets grows too
    first = _pipeline(*small)
    second = _pipeline(*large)
    ratio = second / first
    assert ratio <= BOUND, f"{name}: 4x the body took {ratio:.1f}x the time"


@pytest.mark.parametrize("name", sorted(BODIES))
def test_the_dense_bodies_hold_secrets_the_scan_finds(name: str) -> None:
    """The timed bodies are not trivially clean: unredacted, the scan reports them."""
    body, content_type, secrets = BODIES[name](4 * KIB)
    response = {
        "status": {"code": 200, "message": "OK"},
        "headers": {"Content-Type": [content_type]},
        "body": {"string": body},
    }
    request: dict[str, object] = {
        "method": "GET",
        "uri": "https://h.test/",
        "body": None,
        "headers": {},
    }
    text = yaml.safe_dump(
        {"version": 1, "interactions": [{"request": request, "response": response}]}
    )
    findings = scan_cassette(text, secrets)
    assert findings, name
    assert {fingerprint(s) for s in secrets} <= {f.excerpt for f in findings}


@pytest.mark.heavy
def test_one_megabyte_of_tokens_is_redacted_and_scanned_in_linear_time() -> None:
    small = _json_tokens(256 * KIB)
    large = _json_tokens(1024 * KIB)
    ratio = _pipeline(*large) / _pipeline(*small)
    assert ratio <= BOUND, f"1 MiB of tokens took {ratio:.1f}x the time of 256 KiB"


def test_the_scan_is_linear_in_the_number_of_secrets() -> None:
    """Many secrets, one text: 4x the secrets costs about 4x, never 16x."""
    text = "".join(f"line {i}: {_secret(i)} and some words\n" for i in range(2000)) * 4

    def timed(count: int) -> float:
        secrets = [_secret(i) for i in range(count)]
        return _cpu(lambda: scan(text, secrets))

    ratio = timed(8000) / timed(2000)
    assert ratio <= BOUND, f"4x the secrets took {ratio:.1f}x the time"
    assert len(scan(text, [_secret(i) for i in range(2000)])) == 2000


def test_many_secrets_sharing_a_long_prefix_stay_linear() -> None:
    """Secrets that agree on their first 64 characters defeat a prefix index, not this."""
    head = "A" * 70

    def timed(count: int) -> float:
        secrets = [f"{head}{i:08d}" for i in range(count)]
        text = ("x " + head + " ") * (count // 4) + " ".join(secrets[::97])
        return _cpu(lambda: scan(text, secrets))

    ratio = timed(2000) / timed(500)
    assert ratio <= BOUND * 2, f"4x the secrets and text took {ratio:.1f}x the time"


def test_json_round_trip_keeps_every_secret_out() -> None:
    body, content_type, _ = _json_tokens(64 * KIB)
    assert json.loads(body)  # a real UCWA token list
    assert redact_and_scan(body, content_type) == 0


HOSTILE: dict[str, Callable[[int], str]] = {
    "unterminated-keys": lambda n: ('"password":"' + "9" * 50) * (n // 62),
    "base64-run": lambda n: "QUJD" * (n // 4),
    "percent-pairs": lambda n: "%2" * (n // 2),
    "bad-u-escapes": lambda n: "\\u" * (n // 2),
    "unclosed-tags": lambda n: "<property name='password'>" * (n // 26),
    "query-pairs": lambda n: "?access_token=" * (n // 14),
    "entities": lambda n: "&#" * (n // 2),
}


@pytest.mark.heavy
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_bodies_are_linear(name: str) -> None:
    secrets = ["tenant-secret-42", "abcdefgh"]

    def run(size: int) -> float:
        body = HOSTILE[name](size).encode()
        return _pipeline(body, "application/x-www-form-urlencoded", secrets)

    ratio = run(1024 * KIB) / run(256 * KIB)
    assert ratio <= BOUND, f"{name}: 4x the body took {ratio:.1f}x the time"
