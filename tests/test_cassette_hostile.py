"""Hostile files and pathological bodies: refused quickly, with our error naming file and field.

Redaction, the scan, loading and ``verify`` are linear: on each adversarial input up to 1 MiB,
4x the input costs at most 8x the CPU (a ratio, never a wall-clock bound; marked heavy).
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
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
LINEAR_BOUND = 8.0  # CPU ratio for 4x the input; quadratic work is 16x
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
QUARTERS = {"json-long-secret": json.dumps({"password": "x" * (MIB // 4)})}
"""Bodies whose first quarter is not the same kind of body (cut JSON is refused, as it
must be: its secret value cannot be delimited), made at a quarter of the size instead."""


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


def _cpu(action: Callable[[], object], rounds: int = 3) -> float:
    """CPU seconds of ``action``, best of ``rounds`` with the garbage collector paused (only
    ever compared in ratios; a collection of other tests' garbage is not the action's cost)."""
    best = float("inf")
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            started = time.process_time()
            action()
            best = min(best, time.process_time() - started)
    finally:
        gc.enable()
    return max(best, 1e-4)


def _steps(body: str, path: Path) -> dict[str, Callable[[], object]]:
    """Redaction, the scan and ``verify`` of one body, each runnable again."""
    redactor = Redactor(extra_secrets=["tenant-secret-42"], extra_patterns=[r"sig=(\w+)"])
    text = _cassette_text(body)
    path.write_text(text)

    def redact() -> None:
        response = {
            "status": {"code": 200, "message": "OK"},
            "headers": {"Content-Type": ["application/x-www-form-urlencoded"]},
            "body": {"string": body.encode()},
        }
        redactor.redact_response(response)

    return {
        "redaction": redact,
        "scan": lambda: scan_cassette(text, ["tenant-secret-42", "abcdefgh"], [r"sig=(\w+)"]),
        "verify": lambda: check_cassette(path),
    }


@pytest.mark.heavy
@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_redaction_scan_and_verify_are_linear(name: str, tmp_path: Path) -> None:
    """4x the body costs at most 8x the CPU (quadratic work costs 16x, a backtracking regex
    far more): a ratio, so a busy machine slows both sides alike."""
    body = ADVERSARIAL[name]
    full = _steps(body, tmp_path / "full.yaml")
    quarter = _steps(QUARTERS.get(name, body[: len(body) // 4]), tmp_path / "quarter.yaml")
    for step in full:
        ratio = _cpu(full[step]) / _cpu(quarter[step])
        assert ratio <= LINEAR_BOUND, f"{name}: {step} of 4x the body took {ratio:.1f}x the CPU"


def test_the_110_byte_form_is_instant() -> None:
    """The form that once made a regex backtrack costs about what a plain form of its size
    does (a ratio with a wide margin: backtracking costs millions of times more)."""
    hostile, plain = "a=b&" + "c" * 104 + "&&", "a=b&" + "c=d&" * 26 + "ee"

    def run(form: str) -> Callable[[], object]:
        def both() -> None:
            Redactor().redact_text(form, "application/x-www-form-urlencoded")
            scan_cassette(_cassette_text(form), ["abcdefgh"])

        return both

    assert len(hostile) == len(plain) == 110
    ratio = _cpu(run(hostile), rounds=5) / _cpu(run(plain), rounds=5)
    assert ratio <= 20, f"the 110-byte form took {ratio:.1f}x a plain form's CPU"


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


def test_an_alias_bomb_is_refused_fast_everywhere(
    tmp_path: Path, count_calls: Callable[[Callable[[], object]], int]
) -> None:
    assert len(ALIAS_BOMB) < 1024
    path = tmp_path / "bomb.yaml"
    path.write_text(ALIAS_BOMB)

    def everywhere() -> None:
        with pytest.raises(CassetteError, match="anchors and aliases") as info:
            load_interactions(path)
        assert str(path) in str(info.value)
        with pytest.raises(CassetteError, match="anchors and aliases"):
            ReplayService(path)
        (problem,) = check_cassette(path)
        assert "anchors and aliases" in problem.problem
        assert scan_cassette(ALIAS_BOMB, ["x" * 8]) == []  # not parsed: nothing expanded

    # refused, not expanded (9**9 nodes): the work stays in proportion to the 1 KiB file
    calls = count_calls(everywhere)
    assert calls <= 20 * len(ALIAS_BOMB), f"{calls} calls for a {len(ALIAS_BOMB)}-byte bomb"


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
