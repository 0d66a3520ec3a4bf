"""Hostile files and pathological bodies: refused quickly, with our error naming file and field.

Redaction, the scan, loading and ``verify`` are linear: each adversarial input up to 1 MiB
finishes well inside a generous bound (the machine may be shared and slow).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from pytest_relaytokens.cassettes.redaction import Redactor
from pytest_relaytokens.cassettes.replay import ReplayService
from pytest_relaytokens.cassettes.secrets import scan_cassette
from pytest_relaytokens.cassettes.storage import (
    CassetteError,
    atomic_write_text,
    load_interactions,
    remove_stale_temporaries,
)
from pytest_relaytokens.cassettes.verify import check_cassette

MIB = 1024 * 1024
BOUND = 20.0  # seconds; a backtracking regex takes minutes to hours on these
ADVERSARIAL = {
    "form-110": "a=b&" + "c" * 104 + "&&",
    "form-1MiB": "a=b&" + "c" * (MIB - 6) + "&&",
    "ampersands": "&" * MIB,
    "equals": "=" * MIB,
    "question-marks": "?" * MIB,
    "query-pairs": "?a=" * (MIB // 3),
    "unclosed-tags": "<property name='password'>" * (MIB // 26),
    "open-angles": "<" * MIB,
    "one-char": "a" * MIB,
    "backslashes": "\\" * MIB,
    "bad-u-escapes": "\\u" * (MIB // 2),
    "entities": "&#" * (MIB // 2),
    "percents": "%" * MIB,
    "percent-pairs": "%2" * (MIB // 2),
    "base64-run": "QUFB" * (MIB // 4),
    "spaces-and-words": "a " * (MIB // 2),
    "json-deep": "[" * MIB,
    "json-long-secret": json.dumps({"password": "x" * MIB}),
    "cookie-pairs": "a=b;" * (MIB // 4),
    "json-quotes": '"' * MIB,
}


def _cassette_text(body: str) -> str:
    response = {
        "status": {"code": 200, "message": "OK"},
        "headers": {"Content-Type": ["application/x-www-form-urlencoded"]},
        "body": {"string": body},
    }
    request = {"method": "POST", "uri": "http://h/x?" + body[:65536], "body": body, "headers": {}}
    return yaml.safe_dump(
        {"version": 1, "interactions": [{"request": request, "response": response}]}
    )


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_redaction_scan_and_verify_are_linear(name: str, tmp_path: Path) -> None:
    body = ADVERSARIAL[name]
    redactor = Redactor(extra_secrets=["tenant-secret-42"], extra_patterns=[r"sig=(\w+)"])
    response = {
        "status": {"code": 200, "message": "OK"},
        "headers": {"Content-Type": ["application/x-www-form-urlencoded"]},
        "body": {"string": body.encode()},
    }
    started = time.perf_counter()
    redactor.redact_response(response)
    redacted = time.perf_counter() - started
    assert redacted < BOUND, f"{name}: redaction took {redacted:.1f}s"
    text = _cassette_text(body)
    started = time.perf_counter()
    scan_cassette(text, ["tenant-secret-42", "abcdefgh"], [r"sig=(\w+)"])
    scanned = time.perf_counter() - started
    assert scanned < BOUND, f"{name}: scan took {scanned:.1f}s"
    path = tmp_path / "adversarial.yaml"
    path.write_text(text)
    started = time.perf_counter()
    check_cassette(path)
    verified = time.perf_counter() - started
    assert verified < BOUND, f"{name}: verify took {verified:.1f}s"


def test_the_110_byte_form_is_instant() -> None:
    started = time.perf_counter()
    Redactor().redact_text("a=b&" + "c" * 104 + "&&", "application/x-www-form-urlencoded")
    scan_cassette(_cassette_text("a=b&" + "c" * 104 + "&&"), ["abcdefgh"])
    assert time.perf_counter() - started < 1.0


ALIAS_BOMB = (
    'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
    "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
    "interactions: [*i]\n"
)


def test_an_alias_bomb_is_refused_fast_everywhere(tmp_path: Path) -> None:
    assert len(ALIAS_BOMB) < 1024
    path = tmp_path / "bomb.yaml"
    path.write_text(ALIAS_BOMB)
    started = time.perf_counter()
    with pytest.raises(CassetteError, match="anchors and aliases") as info:
        load_interactions(path)
    assert str(path) in str(info.value)
    with pytest.raises(CassetteError, match="anchors and aliases"):
        ReplayService(path)
    (problem,) = check_cassette(path)
    assert "anchors and aliases" in problem.problem
    assert scan_cassette(ALIAS_BOMB, ["x" * 8]) == []  # not parsed: nothing expanded
    assert time.perf_counter() - started < 2.0


def _one(**response: object) -> dict[str, object]:
    base: dict[str, object] = {
        "status": {"code": 200, "message": "OK"},
        "headers": {},
        "body": {"string": ""},
    }
    base.update(response)
    return {
        "version": 1,
        "interactions": [
            {"request": {"method": "GET", "uri": "http://h/x", "headers": {}}, "response": base}
        ],
    }


@pytest.mark.parametrize(
    ("status", "shown"),
    [(True, "bool"), (1, "1"), (99, "99"), (600, "600"), ("200", "str"), (200.0, "float")],
)
def test_a_status_outside_100_599_or_not_an_int_is_refused(
    status: object, shown: str, tmp_path: Path
) -> None:
    path = tmp_path / "status.yaml"
    path.write_text(yaml.safe_dump(_one(status={"code": status, "message": "x"})))
    with pytest.raises(CassetteError) as info:
        load_interactions(path)
    message = str(info.value)
    assert str(path) in message and "interaction 0 response.status.code" in message
    assert f"(got {shown})" in message


@pytest.mark.parametrize("value", ["not a date", "2024-13-45T00:00:00", 12, ["x"]])
def test_a_bad_recorded_at_is_refused_naming_the_field(value: object, tmp_path: Path) -> None:
    data = _one()
    data["relaytokens"] = {"version": 1, "recorded_at": value}
    path = tmp_path / "meta.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(CassetteError) as info:
        load_interactions(path)
    assert str(path) in str(info.value) and "relaytokens.recorded_at" in str(info.value)
    assert "not a date" not in str(info.value)  # the value itself is not echoed


def test_over_large_files_and_bodies_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pytest_relaytokens.cassettes.loading as loading
    import pytest_relaytokens.cassettes.storage as storage

    path = tmp_path / "big.yaml"
    path.write_text(yaml.safe_dump(_one(body={"string": "x" * 5000})))
    monkeypatch.setattr(storage, "MAX_BODY_BYTES", 4096)
    with pytest.raises(CassetteError, match="larger than 4096 bytes") as info:
        load_interactions(path)
    assert "response.body" in str(info.value)
    monkeypatch.setattr(storage, "MAX_CASSETTE_BYTES", 1000)
    monkeypatch.setattr(loading, "MAX_CASSETTE_BYTES", 1000)
    with pytest.raises(CassetteError, match="larger than 1000 bytes"):
        load_interactions(path)


def test_stale_temporaries_of_dead_writers_are_removed_and_nothing_else(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead_pid = int(dead.stdout)
    alive_pid = os.getppid()
    stale = tmp_path / f".c.yaml.{dead_pid}.0123456789abcdef.relaytokens-tmp"
    stale_rewrite = tmp_path / f".c.rewrite-{dead_pid}.yaml"
    live = tmp_path / f".c.yaml.{alive_pid}.0123456789abcdef.relaytokens-tmp"
    keep = [
        live,
        tmp_path / ".c.yaml.abcdefgh.tmp",  # an older name without a pid: not provably ours
        tmp_path / "notes.relaytokens-tmp",
        tmp_path / f"c.yaml.{dead_pid}.0123456789abcdef.relaytokens-tmp",  # not hidden
        tmp_path / "other.yaml",
    ]
    for file in (stale, stale_rewrite, *keep):
        file.write_text("x")
    target = tmp_path / "linked"
    target.mkdir()
    symlink = tmp_path / f".d.yaml.{dead_pid}.0123456789abcdef.relaytokens-tmp"
    symlink.symlink_to(target)
    atomic_write_text(tmp_path / "c.yaml", "interactions: []\n")
    assert not stale.exists() and not stale_rewrite.exists()
    assert all(file.exists() for file in keep)
    assert target.is_dir() and symlink.is_symlink()  # a link is never followed or removed
    assert remove_stale_temporaries(tmp_path) == []
    assert (tmp_path / "c.yaml").read_text() == "interactions: []\n"
