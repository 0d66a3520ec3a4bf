"""Selecting catalogue rows for the ``ucwa_error`` / ``relay_error`` fan-out."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from .relay.catalogue import RELAY_ERRORS
from .ucwa.catalogue import UCWA_ERRORS, UCWA_GROUPS

__all__ = ["select_errors"]

_STATUS_CLASS = re.compile(r"^[1-5]xx$", re.IGNORECASE)
_STATUS = re.compile(r"^[1-5]\d\d$")
#: The group selectors: the UCWA catalogue's groups, then the documented/inferred split.
_GROUPS = (*UCWA_GROUPS, "documented", "inferred")


def _entries(api: str) -> Sequence[Any]:
    return UCWA_ERRORS if api == "ucwa" else RELAY_ERRORS


def select_errors(api: str, selectors: Sequence[str] | None) -> list[Any]:
    """The catalogue rows of ``api`` ("ucwa" or "relay") that ``selectors`` keep.

    Selectors of one kind are alternatives (``"4xx", "5xx"``); kinds combine
    (``"5xx", "mediaRelayAccessToken"``: 5xx rows of that group). Kinds: a status class
    (``5xx``), a status (``409``), a group (a UCWA group such as ``webticket``,
    ``documented``, ``inferred``), an error name, code or id.
    A selector matching nothing in either catalogue is a :class:`LookupError`.
    """
    entries = list(_entries(api))
    if not selectors:
        return entries
    statuses: list[str] = []
    groups: list[str] = []
    names: list[str] = []
    for raw in selectors:
        selector = raw.strip()
        if _STATUS_CLASS.match(selector) or _STATUS.match(selector):
            statuses.append(selector.lower())
        elif selector in _GROUPS:
            groups.append(selector)
        else:
            names.append(selector)
    for name in names:
        if not any(_name_matches(e, name) for a in ("ucwa", "relay") for e in _entries(a)):
            raise LookupError(
                f"relaytokens errors selector {name!r} matches no catalogued "
                f"error; use a status (409), a class (5xx), a group ({', '.join(_GROUPS)}), "
                "an error name or an id"
            )

    def keep(entry: Any) -> bool:
        if statuses and not any(_status_matches(entry.status, s) for s in statuses):
            return False
        if groups and not any(_group_matches(entry, g) for g in groups):
            return False
        return not names or any(_name_matches(entry, n) for n in names)

    return [e for e in entries if keep(e)]


def _status_matches(status: int, selector: str) -> bool:
    if selector.endswith("xx"):
        return str(status)[0] == selector[0]
    return str(status) == selector


def _group_matches(entry: Any, group: str) -> bool:
    if group == "documented":
        return not entry.inferred
    if group == "inferred":
        return bool(entry.inferred)
    return getattr(entry, "group", None) == group


def _name_matches(entry: Any, name: str) -> bool:
    candidates = {
        entry.id,
        entry.name,
        getattr(entry, "code", None),
        getattr(entry, "subcode", None),
    }
    return name in candidates
