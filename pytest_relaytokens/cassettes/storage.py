"""A vcrpy persister that scans before it writes, writes atomically and loads safely.

Cassettes stay standard vcrpy YAML (``version: 1``, ``interactions:``). Our metadata sits
in an extra top-level key that vcrpy's deserializer ignores::

    relaytokens:
      version: 1
      recorded_at: '2024-05-01T12:00:00.123000+00:00'
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml

from ..clock import Clock
from ..errors import RelayTokensError
from .redaction import Redactor
from .secrets import SecretLeakError, find_unredacted, scan

__all__ = [
    "METADATA_KEY",
    "Cassette",
    "CassetteError",
    "CassetteStore",
    "atomic_write_text",
    "load_interactions",
    "parse_cassette",
]

METADATA_KEY = "relaytokens"
METADATA_VERSION = 1
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class CassetteError(RelayTokensError, ValueError):
    """A cassette file that cannot be used: corrupt YAML, wrong structure, missing keys."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        problem: str,
        *,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.path = str(path)
        self.problem = problem
        self.line = line
        self.column = column
        where = f"{self.path}:{line}:{column}" if line is not None else self.path
        super().__init__(f"cassette {where}: {problem}")


@dataclass
class Cassette:
    """A loaded cassette: ``interactions`` are (request dict, response dict) pairs as stored
    (request: method, uri, headers {name: [values]}, body bytes|None; response: status
    {code, message}, headers, body {string: bytes})."""

    path: Path
    recorded_at: str | None
    interactions: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a synced temporary file in the same directory and
    ``os.replace``: readers see the old file or the new one, never a partial one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            with contextlib.suppress(OSError):
                os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    with contextlib.suppress(OSError, AttributeError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _yaml_error(path: Path, error: yaml.YAMLError) -> CassetteError:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    if mark is not None:
        return CassetteError(
            path, f"invalid YAML: {problem}", line=mark.line + 1, column=mark.column + 1
        )
    position = getattr(error, "position", None)  # reader errors (bad characters) have no mark
    if isinstance(position, int):
        return CassetteError(path, f"invalid YAML: {problem} (at character {position})")
    return CassetteError(path, f"invalid YAML: {problem}")


def _require(path: Path, node: Any, keys: Iterable[str], where: str) -> None:
    if not isinstance(node, Mapping):
        raise CassetteError(path, f"{where} is not a mapping (got {type(node).__name__})")
    missing = [k for k in keys if k not in node]
    if missing:
        raise CassetteError(path, f"{where} is missing {', '.join(map(repr, missing))}")


def parse_cassette(text: str, path: str | os.PathLike[str] = "<string>") -> dict[str, Any]:
    """Safely parse and check the structure of a vcrpy cassette; :class:`CassetteError`
    names the file and the problem (line/column for YAML errors)."""
    where = Path(path)
    try:
        data = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as error:
        raise _yaml_error(where, error) from None
    if not isinstance(data, dict):
        raise CassetteError(
            where,
            "not a vcrpy cassette: the top level must be a mapping with "
            f"'interactions' (got {type(data).__name__})",
        )
    if "interactions" not in data:
        raise CassetteError(where, "not a vcrpy cassette: no 'interactions' key")
    if not isinstance(data["interactions"], list):
        raise CassetteError(where, "'interactions' must be a list")
    for index, interaction in enumerate(data["interactions"]):
        label = f"interaction {index}"
        _require(where, interaction, ("request", "response"), label)
        request, response = interaction["request"], interaction["response"]
        _require(where, request, ("method", "uri"), f"{label} request")
        _require(where, response, ("status", "body"), f"{label} response")
        _require(where, response["status"], ("code",), f"{label} response.status")
        if not isinstance(response["status"]["code"], int):
            raise CassetteError(
                where,
                f"{label} response.status.code must be an integer "
                f"(got {response['status']['code']!r})",
            )
        body = response["body"]
        _require(where, body, ("string",), f"{label} response.body")
        for side in (request, response):
            headers = side.get("headers") or {}
            if not isinstance(headers, Mapping):
                raise CassetteError(where, f"{label} headers must be a mapping")
    return data


def _as_bytes(value: Any) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    return str(value).encode("utf-8")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        problem = f"not UTF-8 text ({error.reason} at byte {error.start})"
        raise CassetteError(path, problem) from None


def load_interactions(path: str | os.PathLike[str]) -> Cassette:
    """Load a cassette file into a :class:`Cassette` (raises :class:`CassetteError`)."""
    where = Path(path)
    if not where.is_file():
        raise CassetteError(where, "no such cassette file")
    data = parse_cassette(_read(where), where)
    interactions: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for item in data["interactions"]:
        request = dict(item["request"])
        request["headers"] = dict(request.get("headers") or {})
        request["body"] = _as_bytes(request.get("body"))
        response = dict(item["response"])
        response["headers"] = dict(response.get("headers") or {})
        response["body"] = {"string": _as_bytes(response["body"]["string"]) or b""}
        interactions.append((request, response))
    meta = data.get(METADATA_KEY) if isinstance(data.get(METADATA_KEY), dict) else {}
    recorded = meta.get("recorded_at") if meta else None
    return Cassette(
        where, str(recorded) if recorded is not None else None, interactions, dict(meta or {})
    )


class CassetteStore:
    """vcrpy persister (``vcr.VCR().register_persister(CassetteStore)``).

    ``save_cassette`` serializes, scans (known secrets of the bound :class:`Redactor`, its
    extra patterns, and every secret position that is not a placeholder), refuses with
    :class:`SecretLeakError` before anything is written, then writes atomically.
    Use :meth:`bind` to get a persister that knows a redactor.
    """

    redactor: ClassVar[Redactor | None] = None
    extra_patterns: ClassVar[tuple[str | re.Pattern[str], ...]] = ()
    clock: ClassVar[Clock | None] = None
    extra_secrets: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def bind(
        cls,
        redactor: Redactor | None = None,
        extra_patterns: Iterable[str | re.Pattern[str]] = (),
        clock: Clock | None = None,
        extra_secrets: Iterable[str] = (),
    ) -> type[CassetteStore]:
        """A subclass whose scans know ``redactor``'s secrets, ``extra_patterns`` and
        ``extra_secrets`` (values only scanned for, never redacted)."""
        attrs = {
            "redactor": redactor,
            "extra_patterns": tuple(extra_patterns),
            "clock": clock,
            "extra_secrets": tuple(extra_secrets),
        }
        return type("BoundCassetteStore", (cls,), attrs)

    @classmethod
    def load_cassette(cls, cassette_path: str | os.PathLike[str], serializer: Any) -> Any:
        from vcr.persisters.filesystem import CassetteNotFoundError
        from vcr.request import Request

        path = Path(cassette_path)
        if not path.is_file():
            raise CassetteNotFoundError()
        text = _read(path)
        if not text.strip():
            raise CassetteNotFoundError()
        data = parse_cassette(text, path)
        try:
            requests = [
                Request._from_dict(
                    dict(
                        i["request"],
                        body=i["request"].get("body"),
                        headers=i["request"].get("headers") or {},
                    )
                )
                for i in data["interactions"]
            ]
        except (TypeError, ValueError, AttributeError) as error:
            raise CassetteError(path, f"request cannot be rebuilt: {error}") from None
        responses = []
        for item in data["interactions"]:
            response = dict(item["response"])
            response["body"] = {"string": _as_bytes(response["body"]["string"]) or b""}
            response["headers"] = dict(response.get("headers") or {})
            responses.append(response)
        if data.get("metadata"):
            return requests, responses, data["metadata"]
        return requests, responses

    @classmethod
    def serialize(
        cls,
        cassette_dict: Mapping[str, Any],
        serializer: Any,
        previous: Mapping[str, Any] | None = None,
    ) -> str:
        """The cassette text: vcrpy's layout plus our ``relaytokens`` metadata key."""
        import copy

        from vcr.serializers import compat

        requests = [copy.deepcopy(r) for r in cassette_dict["requests"]]
        responses = [copy.deepcopy(r) for r in cassette_dict["responses"]]
        interactions = []
        for request, response in zip(requests, responses, strict=True):
            request_dict = compat.convert_to_unicode(request._to_dict())
            response_dict = compat.convert_to_unicode(response)
            if cls.redactor is not None:  # late-learnt secrets: a final idempotent pass
                cls.redactor.redact_interaction(request_dict, response_dict)
                request_dict = compat.convert_to_unicode(request_dict)
                response_dict = compat.convert_to_unicode(response_dict)
            interactions.append({"request": request_dict, "response": response_dict})
        now = (cls.clock or Clock()).now().isoformat()
        meta: dict[str, Any] = {"version": METADATA_VERSION, "recorded_at": now}
        first = (previous or {}).get("first_recorded_at") or (previous or {}).get("recorded_at")
        if first:
            meta["first_recorded_at"] = first
        data: dict[str, Any] = {"version": 1, "interactions": interactions}
        if cassette_dict.get("metadata"):
            data["metadata"] = cassette_dict["metadata"]
        data[METADATA_KEY] = meta
        text: str = serializer.serialize(data)
        return text

    @classmethod
    def check(cls, path: str | os.PathLike[str], text: str) -> None:
        """Raise :class:`SecretLeakError` when ``text`` holds a secret."""
        secrets = set(cls.extra_secrets)
        if cls.redactor is not None:
            secrets |= cls.redactor.secrets
        patterns = (*cls.extra_patterns, *(cls.redactor.patterns if cls.redactor else ()))
        findings = scan(text, secrets, patterns)
        try:
            data = yaml.load(text, Loader=_LOADER)
        except yaml.YAMLError:
            data = None
        findings.extend(find_unredacted(data))
        if findings:
            raise SecretLeakError(str(path), findings)

    @classmethod
    def save_cassette(
        cls,
        cassette_path: str | os.PathLike[str],
        cassette_dict: Mapping[str, Any],
        serializer: Any,
    ) -> None:
        path = Path(cassette_path)
        previous: Mapping[str, Any] | None = None
        if path.is_file():
            with contextlib.suppress(CassetteError, OSError):
                previous = load_interactions(path).metadata
        text = cls.serialize(cassette_dict, serializer, previous)
        cls.check(path, text)
        atomic_write_text(path, text)
