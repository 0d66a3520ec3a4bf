"""Record and replay through vcrpy with our redactor and persister."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal, get_args

from ..errors import RelayTokensError
from .redaction import SECRET_QUERY_PARAMS, Redactor
from .storage import (
    CassetteError,
    CassetteStore,
    remove_stale_temporaries,
    resolve_cassette_path,
)

__all__ = [
    "MATCH_ON",
    "QUIET_LOGGERS",
    "CassetteKeptWarning",
    "RecordMode",
    "RecordingAborted",
    "cassette_path_for",
    "make_vcr",
    "quiet_http_loggers",
    "record",
]

QUIET_LOGGERS = ("vcr", "urllib3", "httpx", "httpcore", "requests", "aiohttp")
"""Loggers held at WARNING while recording: vcrpy logs whole responses at INFO, and the
HTTP clients log URLs (with their query strings) at INFO/DEBUG."""


@contextlib.contextmanager
def quiet_http_loggers() -> Iterator[None]:
    """Hold vcrpy's and the HTTP clients' loggers (and their children) at WARNING."""
    manager = logging.Logger.manager
    names = set(QUIET_LOGGERS)
    names.update(
        name
        for name in list(manager.loggerDict)
        if any(name.startswith(root + ".") for root in QUIET_LOGGERS)
    )
    saved: list[tuple[logging.Logger, int]] = []
    for name in sorted(names):
        logger = logging.getLogger(name)
        saved.append((logger, logger.level))
        if logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in saved:
            logger.setLevel(level)


class RecordingAborted(RelayTokensError):
    """Thrown into :func:`record` by a caller whose recorded work did not succeed (the
    plugin's live backend: the test failed or the run was interrupted); its message says
    why. ``rewrite`` then keeps the previous cassette."""


class CassetteKeptWarning(UserWarning):
    """``rewrite`` kept the previous cassette (or wrote none) because the recording block
    did not finish: the message names the cassette and the reason."""


RecordMode = Literal["none", "once", "new_episodes", "all", "rewrite"]
MATCH_ON = ("method", "scheme", "host", "port", "path", "query")
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _query_without_secrets(r1: Any, r2: Any) -> None:
    """vcrpy matcher: queries equal once secret parameter values are ignored."""

    def key(request: Any) -> list[tuple[str, str]]:
        return sorted((k, "" if k.lower() in SECRET_QUERY_PARAMS else v) for k, v in request.query)

    if key(r1) != key(r2):
        raise AssertionError(f"{key(r1)} != {key(r2)} (secret query values ignored)")


def make_vcr(
    redactor: Redactor,
    extra_patterns: Iterable[str | re.Pattern[str]] = (),
    *,
    record_mode: str = "once",
    extra_secrets: Iterable[str] = (),
) -> Any:
    """A ``vcr.VCR`` wired to ``redactor`` and a :class:`CassetteStore` bound to it."""
    import vcr

    from ._vcr_compat import apply as apply_vcr_compat

    apply_vcr_compat()
    recorder = vcr.VCR(
        record_mode=record_mode,
        match_on=MATCH_ON,
        decode_compressed_response=False,  # our redactor decodes every coding itself
        before_record_request=redactor.redact_request,
        before_record_response=redactor.redact_response,
    )
    recorder.register_matcher("query", _query_without_secrets)
    recorder.register_persister(
        CassetteStore.bind(redactor, extra_patterns, extra_secrets=tuple(extra_secrets))
    )
    return recorder


@contextlib.contextmanager
def _use_cassette(recorder: Any, path: Path, allow_playback_repeats: bool) -> Iterator[Any]:
    """``recorder.use_cassette``, but vcrpy's patches are undone even when saving raises
    (vcrpy skips its unpatching when the persister fails, e.g. with SecretLeakError)."""
    context = recorder.use_cassette(str(path), allow_playback_repeats=allow_playback_repeats)
    try:
        with context as cassette:
            yield cassette
    finally:
        finish = getattr(context, "_CassetteContextDecorator__finish", None)
        if finish is not None:  # still patched: close the generator holding the patches
            finish.close()


@contextlib.contextmanager
def record(
    cassette_path: str | os.PathLike[str],
    *,
    mode: RecordMode = "once",
    redactor: Redactor | None = None,
    extra_patterns: Iterable[str | re.Pattern[str]] = (),
    extra_secrets: Iterable[str] = (),
    allow_playback_repeats: bool = False,
) -> Iterator[Any]:
    """Use a cassette through vcrpy, redacted and scanned before anything is written.

    ``extra_secrets`` are values (the live backend's credentials, say) replaced wherever
    they appear and searched for in every encoded form before writing; ``extra_patterns``
    are regular expressions whose match, or first group, is a secret. vcrpy's and the HTTP
    clients' loggers are held at WARNING meanwhile (see :data:`QUIET_LOGGERS`).

    ``mode`` is a vcrpy record mode, or ``"rewrite"``: record everything afresh into a
    temporary file next to the cassette and replace the old cassette only once the new
    one is written and the block finished without an exception. Yields vcrpy's cassette.
    """
    if mode not in get_args(RecordMode):
        raise ValueError(f"unknown record mode {mode!r}; valid: {', '.join(get_args(RecordMode))}")
    path = Path(cassette_path)
    target = resolve_cassette_path(path)  # before anything runs: no directory, FIFO or loop
    secrets = tuple(s for s in extra_secrets if s)
    patterns = tuple(extra_patterns)
    if redactor is None:
        redactor = Redactor(extra_secrets=secrets, extra_patterns=patterns)
    else:
        redactor.declare(secrets)
    if mode == "none" and not path.is_file():
        raise CassetteError(
            path,
            "cassette not found and the record mode is 'none' (nothing "
            "may be recorded); record it first with "
            "`pytest --relaytokens-record-mode=once`",
        )
    if mode != "rewrite":
        recorder = make_vcr(redactor, patterns, record_mode=mode, extra_secrets=secrets)
        with quiet_http_loggers(), _use_cassette(recorder, path, allow_playback_repeats) as tape:
            yield tape
        return
    # a symlinked cassette is written through: the temporary file sits next to its target
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target.parent)
    temporary = target.with_name(f".{target.stem}.rewrite-{os.getpid()}{target.suffix}")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    recorder = make_vcr(redactor, patterns, record_mode="all", extra_secrets=secrets)
    try:
        with (
            quiet_http_loggers(),
            _use_cassette(recorder, temporary, allow_playback_repeats) as tape,
        ):
            yield tape
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        reason = str(error) if isinstance(error, RecordingAborted) else _raised(error)
        kept = f"kept the previous cassette {path}" if path.is_file() else f"wrote no {path}"
        warnings.warn(CassetteKeptWarning(f"{kept}: {reason}"), stacklevel=3)
        raise
    if temporary.is_file():
        try:
            resolve_cassette_path(path)  # still a file (or missing), not a directory now
            os.replace(temporary, target)
        except BaseException as error:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
            if isinstance(error, OSError):
                raise CassetteError(
                    path, f"cannot replace it: {error.strerror or error}", field="path"
                ) from None
            raise


def _raised(error: BaseException) -> str:
    if isinstance(error, KeyboardInterrupt):
        return "the recording was interrupted"
    return f"the recording block raised {type(error).__name__}"


def _sanitise(name: str) -> str:
    base, bracket, params = name.partition("[")
    cleaned = _SAFE.sub("_", base).strip("._") or "test"
    if bracket:
        cleaned += "-" + (_SAFE.sub("_", params.rstrip("]")).strip("._") or "_")
    if cleaned != name.replace("[", "-").rstrip("]") or len(cleaned) > 120:
        digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
        cleaned = f"{cleaned[:110]}-{digest}"
    return cleaned


def cassette_path_for(
    test_module_path: str | os.PathLike[str],
    test_name: str,
    cassette_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """``<module dir>/cassettes/<module stem>/<test name>.yaml`` (``cassette_dir`` replaces
    ``<module dir>/cassettes``). Parametrize ids are made file-safe; when that changes
    them, a short hash keeps distinct ids distinct."""
    module = Path(test_module_path)
    base = Path(cassette_dir) if cassette_dir is not None else module.parent / "cassettes"
    return base / module.stem / f"{_sanitise(test_name)}.yaml"
