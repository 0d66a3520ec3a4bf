"""Safe cassettes: redaction, leak scan, atomic vcrpy persister, fast replay, verify.

Importing this package is cheap; the names below load their modules (and vcrpy) on use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "Redactor": "redaction",
    "is_placeholder": "redaction",
    "Finding": "secrets",
    "SecretLeakError": "secrets",
    "scan": "secrets",
    "Cassette": "storage",
    "CassetteError": "storage",
    "CassetteStore": "storage",
    "load_interactions": "storage",
    "ReplayService": "replay",
    "cassette_path_for": "recording",
    "record": "recording",
    "fingerprint": "forms",
    "safe_vcr": "vcr_config",
    "safe_vcr_config": "vcr_config",
    "scan_cassette": "secrets",
}

__all__ = [
    "Cassette",
    "CassetteError",
    "CassetteStore",
    "Finding",
    "Redactor",
    "ReplayService",
    "SecretLeakError",
    "cassette_path_for",
    "fingerprint",
    "is_placeholder",
    "load_interactions",
    "record",
    "safe_vcr",
    "safe_vcr_config",
    "scan",
    "scan_cassette",
]

if TYPE_CHECKING:  # pragma: no cover
    from .forms import fingerprint
    from .recording import cassette_path_for, record
    from .redaction import Redactor, is_placeholder
    from .replay import ReplayService
    from .secrets import Finding, SecretLeakError, scan, scan_cassette
    from .storage import Cassette, CassetteError, CassetteStore, load_interactions
    from .vcr_config import safe_vcr, safe_vcr_config

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
