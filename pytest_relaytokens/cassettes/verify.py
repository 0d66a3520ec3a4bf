"""``relaytokens verify PATH...``: cassettes load safely, bodies parse, no secrets remain.

One line per finding, ``path: interaction N: field: problem`` (``--json``: one JSON document
with every finding as data). Exit status: 0 clean, 1 findings, 2 a cassette that cannot be
read (not UTF-8, not YAML/JSON, not a vcrpy cassette, too large) or a usage error (a path
that does not exist, no cassette found, a bad ``--pattern``).

Each file is read once, as a stream: an interaction is checked and scanned as soon as it is
parsed, so memory is bounded by the largest interaction, not by the file.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from ..errors import RelayTokensError
from .forms import fingerprint
from .loading import MAX_CASSETTE_BYTES, iter_cassette
from .normalise import UndecodableBodyError, content_codings, decode_content
from .secrets import CassetteScanner, Finding
from .storage import METADATA_KEY, CassetteError, check_interaction, check_metadata

__all__ = [
    "EXIT_CLEAN",
    "EXIT_FINDINGS",
    "EXIT_UNREADABLE",
    "Problem",
    "add_arguments",
    "check_cassette",
    "run",
]

_SUFFIXES = (".yaml", ".yml", ".json")
EXIT_CLEAN, EXIT_FINDINGS, EXIT_UNREADABLE = 0, 1, 2


@dataclass(frozen=True)
class Problem:
    """One verify finding; ``interaction`` is None for file-level problems. ``kind`` is
    ``unredacted``, ``secret:<encoding>``, ``pattern:<regex>``, ``undecodable``, ``schema``
    or ``unreadable``; ``fingerprint`` names a value by its length and a short sha256."""

    path: str
    interaction: int | None
    field: str
    problem: str
    kind: str = "schema"
    fingerprint: str | None = None

    def __str__(self) -> str:
        where = "-" if self.interaction is None else str(self.interaction)
        return f"{self.path}: interaction {where}: {self.field}: {self.problem}"

    def as_dict(self) -> dict[str, Any]:
        """The finding as data (``--json``)."""
        return {
            "file": self.path,
            "interaction": self.interaction,
            "field": self.field,
            "kind": self.kind,
            "fingerprint": self.fingerprint,
            "message": self.problem,
        }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="cassette files or directories (searched for *.yaml, *.yml, *.json)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON document: every finding as data (file, interaction, field, "
        "kind, fingerprint) and the exit status",
    )
    parser.add_argument(
        "--pattern",
        action="append",
        default=[],
        metavar="REGEX",
        help="also report text matching this regular expression (repeatable)",
    )
    parser.add_argument(
        "--secret",
        action="append",
        default=[],
        metavar="VALUE",
        help="also report this literal value, raw or re-encoded (repeatable)",
    )
    parser.add_argument(
        "--no-schema", action="store_true", help="skip parsing response bodies into the models"
    )


def _header(headers: Any, name: str) -> str | None:
    if not isinstance(headers, dict):
        return None
    for key, values in headers.items():
        if str(key).lower() == name:
            if isinstance(values, list):
                return str(values[0]) if values else None
            return str(values)
    return None


def _parser_for(path: str, status: int, content_type: str) -> tuple[str, str] | None:
    """(module, function) to check a body with, or None when we have no model for it."""
    is_ucwa = "/ucwa/" in path or path.endswith("/mediaRelayAccessToken")
    is_relay = path.startswith("/api/")
    if status >= 400:
        if is_ucwa and ("json" in content_type or "xml" in content_type):
            return "pytest_relaytokens.ucwa.wire", "parse_error"
        if is_relay and "json" in content_type:
            return "pytest_relaytokens.relay.wire", "parse_error"
        return None
    if status >= 300 or status == 204:
        return None
    if path.endswith("/mediaRelayAccessToken"):
        return "pytest_relaytokens.ucwa.wire", "parse"
    if path.rstrip("/") == "/api/auth/accesstokens" or path.startswith("/api/auth/accesstokens/"):
        return "pytest_relaytokens.relay.wire", "parse_token"
    if path.rstrip("/") == "/api/enterprises/self":
        return "pytest_relaytokens.relay.wire", "parse_enterprise"
    return None


def _call(
    module: str,
    function: str,
    body: bytes,
    content_type: str,
    source: str,
    warn: Callable[[str], None],
) -> None:
    try:
        parse: Callable[..., Any] = getattr(importlib.import_module(module), function)
    except (ImportError, AttributeError) as error:
        warn(f"cannot check schema with {module}.{function}: {error}")
        return
    if module.endswith("ucwa.wire"):
        parse(body, content_type or None, source=source)
    else:
        parse(body, source=source)


def _schema_problems(
    label: str, index: int, interaction: Any, warn: Callable[[str], None]
) -> Iterator[Problem]:
    request, response = interaction["request"], interaction["response"]
    path = urlsplit(str(request.get("uri", ""))).path
    status = int(response["status"]["code"])
    content_type = (_header(response.get("headers"), "content-type") or "").lower()
    choice = _parser_for(path, status, content_type)
    if choice is None:
        return
    body = response["body"].get("string") or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    try:
        body = decode_content(body, content_codings(response.get("headers")))
    except UndecodableBodyError:
        return  # reported by the secret scan
    try:
        _call(*choice, body, content_type, f"{label} interaction {index}", warn)
    except RelayTokensError as error:
        field = getattr(error, "field", None) or "body"
        yield Problem(
            label,
            index,
            f"response.body.{field}",
            f"schema drift ({choice[1]}): {_scrub(str(error))}",
        )
    except Exception as error:  # a parser bug must not hide the other findings
        yield Problem(
            label,
            index,
            "response.body",
            f"{choice[1]} failed: {type(error).__name__}: {_scrub(str(error))}",
        )


def _scrub(message: str) -> str:
    """A parser's message with every quoted value of 6+ characters shown as a fingerprint:
    a body value (a token, say) never reaches the terminal."""
    for quote in ("'", '"'):
        pieces = message.split(quote)
        if len(pieces) < 3:
            continue
        for index in range(1, len(pieces) - 1, 2):
            if len(pieces[index]) >= 6 and not pieces[index - 1].endswith("field "):
                pieces[index] = fingerprint(pieces[index])
        message = quote.join(pieces)
    head, marker, rest = message.partition("(got ")
    if marker:  # an unquoted value the parser echoes
        value, close, tail = rest.partition(")")
        if len(value) >= 6:
            message = f"{head}(got {fingerprint(value)}{close}{tail}"
    return message


def _split_where(where: str) -> tuple[int | None, str]:
    head, _, rest = where.partition(" ")
    number, _, field = rest.partition(" ")
    if head == "interaction" and number.isdigit() and field:
        return int(number), field
    return None, where


def _finding(label: str, finding: Finding) -> Problem:
    index, field = _split_where(finding.where)
    if finding.kind == "unredacted":
        message = f"secret not redacted ({finding.excerpt})"
    else:
        message = f"{finding.kind} ({finding.excerpt})"
    stamp = None if finding.kind == "undecodable" else finding.excerpt
    return Problem(label, index, field, message, finding.kind, stamp)


def _unreadable(label: str, field: str, problem: str) -> Problem:
    return Problem(label, None, field, problem, "unreadable")


def check_cassette(
    path: Path,
    *,
    patterns: Sequence[str] = (),
    secrets: Sequence[str] = (),
    schema: bool = True,
    warn: Callable[[str], None] = lambda message: None,
) -> list[Problem]:
    """Every problem of one cassette file, read once as a stream (YAML, or vcrpy's JSON
    when the name ends in ``.json``). A problem of kind ``unreadable`` means the file
    could not be read to its end; what was read before it is still reported."""
    label = str(path)
    try:
        if path.stat().st_size > MAX_CASSETTE_BYTES:
            return [_unreadable(label, "file", f"larger than {MAX_CASSETTE_BYTES} bytes")]
        handle = path.open(encoding="utf-8", newline="")
    except OSError as error:
        return [_unreadable(label, "file", f"cannot read: {error.strerror or error}")]
    problems: list[Problem] = []
    scanner = CassetteScanner(secrets, patterns)
    keys: set[str] = set()
    try:
        with handle:
            lines = iter_cassette(
                handle, path, json=path.suffix.lower() == ".json", on_lines=scanner.lines
            )
            for key, value in lines:
                if isinstance(key, str):
                    keys.add(key)
                    if key == "interactions":  # given as a value: not a list
                        raise CassetteError(path, "'interactions' must be a list")
                    if key == METADATA_KEY:
                        check_metadata(path, value)
                        scanner.metadata(value)
                    continue
                keys.add("interactions")
                check_interaction(path, key, value, check_encodings=False)
                if schema:
                    problems.extend(_schema_problems(label, key, value, warn))
                scanner.interaction(key, value)
        if "interactions" not in keys:
            raise CassetteError(path, "not a vcrpy cassette: no 'interactions' key")
    except UnicodeDecodeError as error:
        problems.append(_unreadable(label, "format", f"not UTF-8 text ({error.reason})"))
    except OSError as error:
        problems.append(_unreadable(label, "file", f"cannot read: {error.strerror or error}"))
    except CassetteError as error:
        where = f" (line {error.line}, column {error.column})" if error.line is not None else ""
        index = _split_where(error.field or "")[0]
        if index is not None:  # one interaction's field: named as the other findings are
            problem = error.problem.removeprefix(f"interaction {index} ")
            problems.append(Problem(label, index, "format", problem + where, "unreadable"))
        else:
            problems.append(_unreadable(label, "format", f"{error.problem}{where}"))
    problems.extend(_finding(label, finding) for finding in scanner.finish())
    return problems


def _cassette_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix.lower() in _SUFFIXES and p.is_file())
    return [path]


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Check every cassette named by ``args.paths``; the exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    as_json = bool(getattr(args, "json", False))
    patterns: list[str] = list(getattr(args, "pattern", []) or [])
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as error:
            print(f"relaytokens verify: error: bad --pattern {pattern!r}: {error}", file=err)
            return 2
    files: list[Path] = []
    for raw in args.paths:
        path = Path(raw)
        if not path.exists():
            print(f"relaytokens verify: error: no such file or directory: {raw}", file=err)
            return 2
        files.extend(_cassette_files(path))
    if not files:
        print(
            "relaytokens verify: error: no cassettes (*.yaml, *.yml, *.json) found under "
            f"{', '.join(map(str, args.paths))}",
            file=err,
        )
        return 2
    warned: set[str] = set()

    def warn(message: str) -> None:
        if message not in warned:
            warned.add(message)
            print(f"relaytokens verify: warning: {message}", file=err)

    count, unreadable = 0, 0
    found: list[dict[str, Any]] = []
    for file in files:
        for problem in check_cassette(
            file,
            patterns=patterns,
            secrets=list(getattr(args, "secret", []) or []),
            schema=not getattr(args, "no_schema", False),
            warn=warn,
        ):
            if as_json:
                found.append(problem.as_dict())
            else:
                print(problem, file=out)
            count += 1
            unreadable += problem.kind == "unreadable"
    status = EXIT_UNREADABLE if unreadable else EXIT_FINDINGS if count else EXIT_CLEAN
    if as_json:
        document = {"cassettes": len(files), "findings": found, "exit_status": status}
        print(json.dumps(document, indent=2), file=out)
    print(f"relaytokens verify: {len(files)} cassette(s), {count} finding(s)", file=err)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="relaytokens verify", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))
