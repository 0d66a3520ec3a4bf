"""A vcrpy persister that scans before it writes, writes atomically and loads safely.

Cassettes stay standard vcrpy YAML (``version: 1``, ``interactions:``). Our metadata sits
in an extra top-level key that vcrpy's deserializer ignores::

    relaytokens:
      version: 1
      recorded_at: '2024-05-01T12:00:00.123000+00:00'
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import re
import secrets as _random
import stat as _stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml

from ..clock import Clock
from ..http.urls import http_url_problem
from .loading import MAX_CASSETTE_BYTES, CassetteError, load_yaml
from .normalise import MAX_BODY_BYTES, UndecodableBodyError, _decode_one, content_codings
from .redaction import Redactor
from .secrets import Finding, SecretLeakError, cassette_placeholders, scan_cassette

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_CASSETTE_BYTES",
    "METADATA_KEY",
    "Cassette",
    "CassetteError",
    "CassetteStore",
    "atomic_write_text",
    "check_interaction",
    "check_metadata",
    "load_interactions",
    "parse_cassette",
    "resolve_cassette_path",
]

METADATA_KEY = "relaytokens"
METADATA_VERSION = 1
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TEMP_SUFFIX = ".relaytokens-tmp"


@dataclass
class Cassette:
    """A loaded cassette: ``interactions`` are (request dict, response dict) pairs as stored
    (request: method, uri, headers {name: [values]}, body bytes|None; response: status
    {code, message}, headers, body {string: bytes})."""

    path: Path
    recorded_at: str | None
    interactions: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return True  # not ours to judge
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _owner_pid(name: str) -> int | None:
    """The pid in one of our temporary names (``.<file>.<pid>.<random>.relaytokens-tmp``
    or ``.<stem>.rewrite-<pid>.<suffix>``), or None when the name is not ours."""
    if not name.startswith("."):
        return None
    if name.endswith(_TEMP_SUFFIX):
        parts = name[: -len(_TEMP_SUFFIX)].split(".")
        if len(parts) >= 4 and parts[-2].isdigit() and len(parts[-1]) == 16:
            return int(parts[-2])
        return None
    stem, sep, rest = name.rpartition(".rewrite-")
    if sep and stem:
        pid, dot, suffix = rest.partition(".")
        if pid.isdigit() and dot and suffix in ("yaml", "yml"):
            return int(pid)
    return None


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete our temporary files in ``folder`` whose writing process is dead (left by a
    killed write); nothing else is touched. Returns what was removed."""
    if os.name != "posix":
        return []
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        pid = _owner_pid(entry.name)
        if pid is None or pid == os.getpid() or _pid_alive(pid):
            continue
        with contextlib.suppress(OSError):
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def resolve_cassette_path(path: str | os.PathLike[str]) -> Path:
    """The file a cassette path stands for: a symlink is followed to its target (a write
    replaces the target and the link stays a link), a missing file is fine (it will be
    written). :class:`CassetteError` names the path when it is a directory, not a regular
    file (a FIFO, socket or device), a symlink loop, or under a path that is a file."""
    where = Path(path)
    target = Path(os.path.realpath(where)) if where.is_symlink() else where
    shown = f" (the symlink's target {target})" if target != where else ""
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        parent = target.parent
        if parent.exists() and not parent.is_dir():
            raise CassetteError(
                where, f"its folder {parent} is a file, not a directory{shown}", field="path"
            ) from None
        return target
    except OSError as error:  # ELOOP, ENOTDIR, EACCES
        problem = error.strerror or type(error).__name__
        problem = f"cannot use this path: {problem}{shown}"
        raise CassetteError(where, problem, field="path") from None
    if _stat.S_ISDIR(mode):
        raise CassetteError(
            where,
            f"is a directory, not a cassette file{shown}; name a .yaml file "
            "(@pytest.mark.relaytokens_cassette('folder/name.yaml'))",
            field="path",
        )
    if not _stat.S_ISREG(mode):
        raise CassetteError(
            where, f"is not a regular file (a FIFO, socket or device){shown}", field="path"
        )
    return target


_ANY: Any = object()


def atomic_write_text(path: Path, text: str, *, expected: Any = _ANY) -> bool:
    """Write ``text`` to ``path`` through a synced temporary file in the same directory and
    ``os.replace``: readers see the old file or the new one, never a partial one. Stale
    temporary files of dead writers in that directory are removed first. A symlink is
    written through: its target is replaced (the temporary file sits next to the target)
    and the link stays.

    ``expected`` (the text the file held when read, None for no file) makes the write
    conditional: False, and nothing written, when the file changed meanwhile (a missing
    file is created with ``os.link``, which fails when another writer created it)."""
    path = resolve_cassette_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{_random.token_hex(8)}{_TEMP_SUFFIX}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask()
        with contextlib.suppress(OSError):
            os.chmod(tmp, mode)
        if expected is _ANY:
            os.replace(tmp, path)
        elif expected is None:
            try:
                os.link(tmp, path)  # atomic: fails when the file appeared meanwhile
            except FileExistsError:
                return False
            finally:
                with contextlib.suppress(OSError):
                    tmp.unlink()
        elif (_read(path) if path.is_file() else None) != expected:
            tmp.unlink()
            return False
        else:
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
    return True


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _require(path: Path, node: Any, keys: Iterable[str], where: str) -> None:
    if not isinstance(node, Mapping):
        raise CassetteError(path, f"{where} is not a mapping (got {type(node).__name__})")
    missing = [k for k in keys if k not in node]
    if missing:
        raise CassetteError(path, f"{where} is missing {', '.join(map(repr, missing))}")


def parse_cassette(
    text: str, path: str | os.PathLike[str] = "<string>", *, check_encodings: bool = True
) -> dict[str, Any]:
    """Safely parse and check the structure of a vcrpy cassette; :class:`CassetteError`
    names the file and the problem (line/column for YAML errors). ``check_encodings=False``
    leaves a body that does not decode as its Content-Encoding to the caller (``verify``
    reports it as one finding and still scans the rest)."""
    where = Path(path)
    data = load_yaml(text, where)
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
        check_interaction(where, index, interaction, check_encodings)
    check_metadata(where, data.get(METADATA_KEY))
    return data


def check_interaction(
    where: Path, index: int, interaction: Any, check_encodings: bool = True
) -> None:
    """Raise :class:`CassetteError` when one interaction is not what vcrpy writes."""
    label = f"interaction {index}"
    _require(where, interaction, ("request", "response"), label)
    request, response = interaction["request"], interaction["response"]
    _require(where, request, ("method", "uri"), f"{label} request")
    _require(where, response, ("status", "body"), f"{label} response")
    _require(where, response["status"], ("code",), f"{label} response.status")
    code = response["status"]["code"]
    if isinstance(code, bool) or not isinstance(code, int) or not 100 <= code <= 599:
        shown = code if isinstance(code, int) and not isinstance(code, bool) else None
        raise CassetteError(
            where,
            f"{label} response.status.code must be an integer from 100 to 599 "
            f"(got {shown if shown is not None else type(code).__name__})",
            field=f"{label} response.status.code",
        )
    body = response["body"]
    _require(where, body, ("string",), f"{label} response.body")
    for side_name, value in (("request.body", request.get("body")), ("response.body", body)):
        if isinstance(value, Mapping):
            value = value.get("string")
        if isinstance(value, (str, bytes)) and len(value) > MAX_BODY_BYTES:
            raise CassetteError(
                where,
                f"{label} {side_name} is larger than {MAX_BODY_BYTES} bytes",
                field=f"{label} {side_name}",
            )
    for side_name, side in (("request", request), ("response", response)):
        headers = side.get("headers") or {}
        if not isinstance(headers, Mapping):
            name = f"{label} {side_name}.headers"
            raise CassetteError(where, f"{name} must be a mapping", field=name)
    _check_types(where, label, request, response, check_encodings)


def _wrong(where: Path, name: str, wanted: str, value: Any) -> CassetteError:
    return CassetteError(where, f"{name} must be {wanted} (got {type(value).__name__})", field=name)


def _check_headers(where: Path, name: str, headers: Mapping[Any, Any]) -> None:
    for key, values in headers.items():
        if not isinstance(key, str):
            raise _wrong(where, f"{name} name {key!r:.40}", "a string", key)
        items = values if isinstance(values, list) else [values]
        for value in items:
            if not isinstance(value, str):
                raise _wrong(where, f"{name} {key[:40]!r}", "a string or a list of strings", value)


def _check_types(
    where: Path,
    label: str,
    request: Mapping[str, Any],
    response: Mapping[str, Any],
    check_encodings: bool = True,
) -> None:
    """Hand-edited cassettes: every field the replay reads has the type vcrpy writes."""
    method = request["method"]
    if not isinstance(method, str) or not method or not method.isascii() or not method.isalpha():
        raise _wrong(where, f"{label} request.method", "an HTTP method such as 'GET'", method)
    if not isinstance(request["uri"], str) or not request["uri"]:
        raise _wrong(where, f"{label} request.uri", "a URL string", request["uri"])
    problem = http_url_problem(request["uri"])
    if problem is not None:  # the value is not echoed: a URI may carry a token
        name = f"{label} request.uri"
        raise CassetteError(
            where,
            f"{name} must be an absolute http or https URL with a host ({problem})",
            field=name,
        )
    body = request.get("body")
    if body is not None and not isinstance(body, (str, bytes)):
        raise _wrong(where, f"{label} request.body", "a string, binary or null", body)
    message = response["status"].get("message")
    if message is not None and not isinstance(message, str):
        raise _wrong(where, f"{label} response.status.message", "a string", message)
    string = response["body"]["string"]
    if string is not None and not isinstance(string, (str, bytes)):
        raise _wrong(where, f"{label} response.body.string", "a string, binary or null", string)
    _check_headers(where, f"{label} request.headers", request.get("headers") or {})
    headers = response.get("headers") or {}
    _check_headers(where, f"{label} response.headers", headers)
    codings = content_codings(headers)
    if check_encodings and codings and string and set(codings) <= {"gzip", "x-gzip", "deflate"}:
        raw = string if isinstance(string, bytes) else string.encode("utf-8", "surrogatepass")
        try:
            for coding in reversed(codings):
                raw = _decode_one(raw, coding, f"{label} response.body")
        except UndecodableBodyError:
            raise CassetteError(
                where,
                f"{label} response.body is undecodable: it does not decode as its Content-Encoding "
                f"{', '.join(codings)!r} (a client replaying it would fail); remove the "
                "header or store the encoded body",
                field=f"{label} response.headers.Content-Encoding",
            ) from None


def check_metadata(where: Path, meta: Any) -> None:
    """Raise :class:`CassetteError` when the ``relaytokens`` key is malformed."""
    if meta is None:
        return
    if not isinstance(meta, Mapping):
        raise CassetteError(where, f"'{METADATA_KEY}' must be a mapping", field=METADATA_KEY)
    for key in ("recorded_at", "first_recorded_at"):
        value = meta.get(key)
        if value is None or isinstance(value, _dt.datetime):
            continue
        valid = isinstance(value, str)
        if valid:
            try:
                _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                valid = False
        if not valid:
            raise CassetteError(
                where,
                f"{METADATA_KEY}.{key} must be an ISO 8601 date-time "
                f"such as '2024-05-01T12:00:00+00:00' (got a {type(value).__name__} "
                "that is not one)",
                field=f"{METADATA_KEY}.{key}",
            )
    placeholders = meta.get("placeholders")
    if placeholders is not None and not (
        isinstance(placeholders, list) and all(isinstance(p, str) for p in placeholders)
    ):
        raise CassetteError(
            where,
            f"{METADATA_KEY}.placeholders must be a list of strings",
            field=f"{METADATA_KEY}.placeholders",
        )


def _as_bytes(value: Any) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    return str(value).encode("utf-8")


def _read(path: Path) -> str:
    try:
        size = path.stat().st_size
    except OSError as error:
        raise CassetteError(path, f"cannot read: {error.strerror or error}") from None
    if size > MAX_CASSETTE_BYTES:
        raise CassetteError(path, f"file is larger than {MAX_CASSETTE_BYTES} bytes", field="file")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        problem = f"not UTF-8 text ({error.reason} at byte {error.start})"
        raise CassetteError(path, problem) from None


def load_interactions(path: str | os.PathLike[str]) -> Cassette:
    """Load a cassette file into a :class:`Cassette` (raises :class:`CassetteError`)."""
    where = Path(path)
    if not where.is_file():
        resolve_cassette_path(where)  # a directory, FIFO or loop: say so
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
    if isinstance(recorded, _dt.datetime):
        recorded = recorded.isoformat()
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
    _loaded: ClassVar[dict[str, tuple[tuple[int, int] | None, int]]] = {}
    """cassette -> (what the file was when loaded, how many interactions it had)"""
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
        attrs: dict[str, Any] = {
            "_loaded": {},
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
        cls._loaded[_key(path)] = (None, 0)
        if not path.is_file():
            resolve_cassette_path(path)  # a directory, FIFO or loop is no missing cassette
            raise CassetteNotFoundError()
        text = _read(path)
        if not text.strip():
            raise CassetteNotFoundError()
        data = parse_cassette(text, path)
        cls._loaded[_key(path)] = (_signature(text), len(data["interactions"]))
        if cls.redactor is not None:  # its placeholders are ours: keep them as they are
            cls.redactor.adopt_placeholders(cassette_placeholders(data))
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
            raise CassetteError(
                path, f"a request cannot be rebuilt ({type(error).__name__})"
            ) from None
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
        before: Iterable[Mapping[str, Any]] = (),
    ) -> str:
        """The cassette text: vcrpy's layout plus our ``relaytokens`` metadata key;
        ``before`` are interactions (as stored) written ahead of ``cassette_dict``'s."""
        import copy

        from vcr.serializers import compat

        interactions = list(before)
        for hooked, response in zip(
            cassette_dict["requests"], cassette_dict["responses"], strict=True
        ):
            request_dict = compat.convert_to_unicode(copy.deepcopy(hooked)._to_dict())
            response_dict = compat.convert_to_unicode(copy.deepcopy(response))
            # a secret learnt after a message was redacted (a value first seen in a plain
            # field, later in a secret one) is redacted there now; a settled message is not
            # walked twice
            sides = cls.redactor.is_settled(hooked) if cls.redactor is not None else (True, True)
            if cls.redactor is not None and not all(sides):
                cls.redactor.redact_interaction(
                    request_dict, response_dict, sides=(not sides[0], not sides[1])
                )
                request_dict = compat.convert_to_unicode(request_dict)
                response_dict = compat.convert_to_unicode(response_dict)
            interactions.append({"request": request_dict, "response": response_dict})
        now = (cls.clock or Clock()).now().isoformat()
        meta: dict[str, Any] = {"version": METADATA_VERSION, "recorded_at": now}
        issued = set(cls.redactor.placeholders) if cls.redactor is not None else set()
        issued |= set((previous or {}).get("placeholders") or ())
        if issued:
            meta["placeholders"] = sorted(issued)
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
        """Raise :class:`SecretLeakError` when ``text`` holds a secret, an unredacted
        secret position, or when the redactor refused a body it could not decode."""
        secrets = set(cls.extra_secrets)
        patterns = list(cls.extra_patterns)
        placeholders: set[str] | None = None
        refused: list[str] = []
        if cls.redactor is not None:
            secrets |= cls.redactor.secrets
            secrets |= set(cls.redactor.declared)
            patterns.extend(cls.redactor.patterns)
            refused = list(cls.redactor.refused)
            # reported once, by this save: a shared redactor must not refuse every later
            # cassette for a body an earlier one could not decode
            cls.redactor.refused.clear()
            placeholders = set(cls.redactor.placeholders)
        findings = [Finding("recording", "undecodable body", reason) for reason in refused]
        findings.extend(scan_cassette(text, secrets, patterns, placeholders))
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
        for _ in range(5):  # another writer between reading and writing: read again
            text = _read(path) if path.is_file() else None
            loaded, count = cls._loaded.get(_key(path), (_UNREAD, 0))
            previous: Mapping[str, Any] | None = None
            before: list[Mapping[str, Any]] = []
            ours = cassette_dict
            if text is not None and loaded is not _UNREAD and _signature(text) != loaded:
                # another process wrote this cassette since it was loaded here: keep its
                # interactions and add only the ones recorded here (never a silent loss)
                other = _merge_base(path, text)
                before = other["interactions"]
                ours = {
                    **cassette_dict,
                    "requests": list(cassette_dict["requests"])[count:],
                    "responses": list(cassette_dict["responses"])[count:],
                }
                if cls.redactor is not None:  # its placeholders are the other recorder's
                    cls.redactor.adopt_placeholders(cassette_placeholders(other))
                meta = other.get(METADATA_KEY)
                previous = meta if isinstance(meta, Mapping) else None
            elif text is not None:
                with contextlib.suppress(CassetteError):
                    meta = parse_cassette(text, path).get(METADATA_KEY)
                    previous = meta if isinstance(meta, Mapping) else None
            new = cls.serialize(ours, serializer, previous, before)
            cls.check(path, new)
            if atomic_write_text(path, new, expected=text):
                cls._loaded[_key(path)] = (_signature(new), len(before) + len(ours["requests"]))
                return
        raise CassetteError(
            path, "other processes kept writing this cassette; nothing was written, record again"
        )


_UNREAD: Any = object()
"""No load of this cassette was seen: it is written as it is, without a merge."""


def _key(path: Path) -> str:
    return str(resolve_cassette_path(path).absolute())


def _signature(text: str) -> tuple[int, int]:
    """What a cassette file held (its text's hash and length), to tell whether another
    process wrote it since."""
    return (hash(text), len(text))


def _merge_base(path: Path, text: str) -> dict[str, Any]:
    """The cassette another process wrote meanwhile; when it cannot be read, saving here
    fails loudly instead of replacing it."""
    try:
        return parse_cassette(text, path)
    except CassetteError as error:
        raise CassetteError(
            path,
            "another process wrote this cassette while it was being recorded here, and its "
            f"file cannot be merged ({error.problem}); nothing was written, record again",
        ) from None
