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

__all__ = ["safe_vcr_config"]


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
        "persister": CassetteStore.bind(redactor, patterns, extra_secrets=secrets),
    }
    config.update(options)
    return config
