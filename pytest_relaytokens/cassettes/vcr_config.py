"""The redaction and the leak scan for pytest-recording and plain vcrpy users.

In a ``conftest.py``::

    from pytest_relaytokens.cassettes import safe_vcr_config

    @pytest.fixture(scope="module")
    def vcr_config():
        return safe_vcr_config()
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from .recording import QUIET_LOGGERS
from .redaction import Redactor
from .storage import CassetteStore

__all__ = ["adopt_pytest_recording", "safe_vcr", "safe_vcr_config"]

#: The scanning persister of the newest ``safe_vcr_config()`` of this process, for
#: :func:`adopt_pytest_recording`.
_latest_store: list[type[CassetteStore]] = []


def safe_vcr_config(
    *,
    extra_secrets: Iterable[str] = (),
    extra_patterns: Iterable[str | re.Pattern[str]] = (),
    redactor: Redactor | None = None,
    **options: Any,
) -> dict[str, Any]:
    """``vcr.use_cassette`` keyword arguments (pytest-recording's ``vcr_config``) that
    redact every request and response and refuse to write a cassette that still leaks.

    ``before_record_request`` / ``before_record_response`` run our :class:`Redactor`
    (bodies decoded, structure walked); ``persister`` scans the serialized cassette and
    raises :class:`SecretLeakError` instead of writing it. ``options`` are passed through
    (``filter_headers``, ``match_on``...). vcrpy's and the HTTP clients' loggers are set to
    WARNING, since vcrpy logs whole responses at INFO. One redactor is shared by every
    cassette the config is used for (pytest-recording deep-copies the config; the
    redactor survives that as itself), so a secret keeps one placeholder.
    """
    from ._vcr_compat import apply as apply_vcr_compat

    apply_vcr_compat()  # vcrpy 7-8 would drop a repeated response header on playback
    secrets = tuple(s for s in extra_secrets if s)
    patterns = tuple(extra_patterns)
    if redactor is None:
        redactor = Redactor(extra_secrets=secrets, extra_patterns=patterns)
    for name in QUIET_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)
    config: dict[str, Any] = {
        "before_record_request": redactor.redact_request,
        "before_record_response": redactor.redact_response,
        "decode_compressed_response": False,  # the redactor decodes every coding itself
    }
    _latest_store[:] = [CassetteStore.bind(redactor, patterns, extra_secrets=secrets)]
    config.update(options)
    return config


class _ScanningCombinedPersister:
    """pytest-recording's persister made safe: loads the cassette and the marker's extra
    cassettes through our checked loader, and saves only after the leak scan."""

    def __init__(self, store: type[CassetteStore], extra_paths: Iterable[str]) -> None:
        self.store = store
        self.extra_paths = list(extra_paths)

    def load_cassette(self, cassette_path: Any, serializer: Any) -> tuple[list[Any], list[Any]]:
        from vcr.persisters.filesystem import CassetteNotFoundError

        requests: list[Any] = []
        responses: list[Any] = []
        for path in dict.fromkeys([str(cassette_path), *self.extra_paths]):
            try:
                found, answers = self.store.load_cassette(path, serializer)
            except CassetteNotFoundError:
                continue
            requests.extend(found)
            responses.extend(answers)
        if not requests:
            raise CassetteNotFoundError()
        return requests, responses

    def save_cassette(self, cassette_path: Any, cassette_dict: Any, serializer: Any) -> None:
        self.store.save_cassette(cassette_path, cassette_dict, serializer)


def adopt_pytest_recording(vcr: Any) -> None:
    """Put the scanning persister of the newest :func:`safe_vcr_config` on pytest-recording's
    ``vcr`` (called from the ``pytest_recording_configure`` hook). vcrpy before 9 ignores a
    ``persister`` passed to ``use_cassette``, so without this the final scan would not run
    there; the marker's extra cassettes keep loading."""
    if not _latest_store:
        return
    store = _latest_store[0]
    extra = getattr(vcr.persister, "extra_paths", ())
    vcr.register_persister(_ScanningCombinedPersister(store, extra))


def safe_vcr(
    *,
    extra_secrets: Iterable[str] = (),
    extra_patterns: Iterable[str | re.Pattern[str]] = (),
    **options: Any,
) -> Any:
    """A plain ``vcr.VCR`` with the redaction hooks and the scanning persister registered
    (``register_persister`` works on every vcrpy; a ``persister`` keyword to ``use_cassette``
    is ignored before vcrpy 9)."""
    import vcr

    config = safe_vcr_config(extra_secrets=extra_secrets, extra_patterns=extra_patterns)
    config.update(options)
    recorder = vcr.VCR(**config)
    recorder.register_persister(_latest_store[0])
    return recorder
