"""Strict by default: every error a test declares reaches a client, or the test fails.

At collection, declarations that cannot all happen are usage errors (:func:`fanout_conflicts`):
an error marker and a fan-out on the same API, a fan-out whose selectors keep no row. At
teardown, every armed fault no request (or response fixture) consumed is a failure naming
who armed it, the endpoint it waited on, what the client called instead, and the opt-outs
(:func:`unconsumed_faults`). See docs/strictness.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import pytest

from .markers import MarkedError, MarkerSettings

if TYPE_CHECKING:
    from ..http import FakeResponse, FakeService, Fault

__all__ = [
    "FANOUT_PATHS",
    "arm_errors",
    "fanout_conflicts",
    "fanout_errors",
    "ucwa_client_answer",
    "unconsumed_faults",
]

#: Where each API's fan-out and error markers arm their error (None: the service's default,
#: for UCWA the ``mediaRelayAccessToken`` resource). Relay markers arm every path.
FANOUT_PATHS: dict[str, str | None] = {"ucwa": None, "relay": r"^/api/auth/accesstokens$"}
_FANOUTS = ("ucwa_error", "relay_error")
#: How many requests the failure lists, newest last.
_SHOWN_CALLS = 10


def fanout_errors(item: pytest.Item, api: str) -> list[MarkedError]:
    """The fan-out id ``item`` runs with for ``api`` (``ucwa_error``/``relay_error``), if any."""
    callspec = getattr(item, "callspec", None)
    entry = None if callspec is None else callspec.params.get(f"{api}_error")
    if entry is None or not hasattr(entry, "id"):
        return []
    origin = f"the {api}_error fan-out (id {entry.id})"
    return [MarkedError(api, entry.id, None, False, origin, FANOUT_PATHS[api])]


def arm_errors(service: Any, errors: Iterable[MarkedError]) -> None:
    """Arm each declared error on ``service`` (its ``arm_error``), remembering its origin."""
    for error in errors:
        fault = service.arm_error(
            error.error_id, times=error.times, path=error.path, optional=error.optional
        )
        fault.origin = error.origin


def fanout_conflicts(
    item: pytest.Item, settings: MarkerSettings | None, option: str | None
) -> list[str]:
    """Why ``item``'s error declarations cannot all happen (empty: they can)."""
    names = getattr(item, "fixturenames", ())
    fanned = [name for name in _FANOUTS if name in names]
    if not fanned:
        return []
    problems = []
    nodeid = item.nodeid.partition("[")[0]  # one line per test function, not per fan-out id
    for name in fanned:
        api = name.split("_")[0]
        marked = [] if settings is None else getattr(settings, f"{api}_errors")
        if marked:
            problems.append(
                f"{nodeid}: @pytest.mark.{name} and the {name} fan-out both arm the {api} "
                f"fake ({marked[0].origin} would answer before every fan-out id); drop the "
                f"marker, or the {name} argument"
            )
    selectors, source = _selectors(item, settings, option)
    if selectors is None:
        return problems
    from ..selection import select_errors

    for name in fanned:
        api = name.split("_")[0]
        try:
            kept = select_errors(api, selectors)
        except LookupError:  # an unknown selector: reported by the marker or option check
            continue
        if not kept:
            other = "relay" if api == "ucwa" else "ucwa"
            try:
                elsewhere = len(select_errors(other, selectors))
            except LookupError:
                elsewhere = 0
            hint = f" (it keeps {elsewhere} {other} row(s))" if elsewhere else ""
            problems.append(
                f"{nodeid}: {source}{tuple(selectors)!r} keeps no {api} error{hint}, so "
                f"the {name} fan-out would run nothing; choose selectors that match the {api} "
                f"catalogue (relaytokens catalogue), or drop the {name} argument"
            )
    return problems


def _selectors(
    item: pytest.Item, settings: MarkerSettings | None, option: str | None
) -> tuple[Sequence[str] | None, str]:
    if settings is not None and settings.error_selectors is not None:
        return settings.error_selectors, "@pytest.mark.relaytokens_errors"
    if item.get_closest_marker("relaytokens_errors") is not None:
        return None, ""  # a wrong marker: reported by the marker check
    if option:
        selected = tuple(s.strip() for s in option.split(",") if s.strip())
        return (selected or None), "--relaytokens-errors / ini relaytokens_errors "
    return None, ""


def unconsumed_faults(fixture: str, service: FakeService) -> list[str]:
    """The teardown failure for ``service``'s faults no client consumed (empty: none)."""
    left = service.faults.unconsumed
    if not left:
        return []
    listed = "\n".join(f"  {_described(fault)}" for fault in left)
    calls = list(service.log)
    if calls:
        from ..cassettes.structure import safe_url

        shown = calls[-_SHOWN_CALLS:]
        more = f"  ... and {len(calls) - len(shown)} earlier\n" if len(calls) > len(shown) else ""
        called = more + "\n".join(
            f"  {e.request.method} {safe_url(e.request.url)} -> {e.response.status}" for e in shown
        )
    else:
        called = "  (no request reached the fake)"
    return [
        f"{fixture}: {len(left)} armed error(s)/fault(s) were never consumed by a request:\n"
        f"{listed}\nWhat the client called instead:\n{called}\n"
        "A declared error must reach a client (a request, or a response fixture such as "
        "ucwa_token_response). If it need not, say so: optional=True on that marker or arm "
        "call, or for the whole test @pytest.mark.relaytokens_allow(unused_faults=True) or "
        "--relaytokens-allow-unused-faults=true (ini relaytokens_allow_unused_faults = true)."
    ]


def _described(fault: Fault) -> str:
    who = f"{fault.label} from {fault.origin}" if fault.origin else fault.label
    where = f" on paths matching {fault.path!r}" if fault.path else " on every path"
    if fault.method:
        where = f" on {fault.method.upper()}{where.removeprefix(' on')}"
    if fault.times is None:
        uses = "never served; times=None means every matching request, at least one"
    else:
        uses = f"{fault.times} use(s) left"
    return f"{who}{where} ({uses})"


def ucwa_client_answer(service: Any, fmt: str, bearer_dead: bool) -> FakeResponse | None:
    """What a client presenting the handed-out bearer gets for ``GET .../mediaRelayAccessToken``
    when it is not the test's token: an armed fault (one of its uses, as the client's GET
    would take it), or (``bearer_dead``: expired or revoked) the 401 the fake answers; None
    when it is the test's token."""
    from ..http import FakeRequest

    accept = "xml" if fmt == "xml" else "json"
    request = FakeRequest.build(
        "GET",
        service.token_url(),
        {
            "Accept": f"application/vnd.microsoft.com.ucwa+{accept}",
            "Authorization": f"Bearer {service.credentials.bearer}",
        },
    )
    fault = service.faults.take(request)
    if fault is not None and fault.respond is not None:
        answer: FakeResponse = fault.respond(request)
        return answer
    if not bearer_dead:  # the GET would issue a token: the caller renders the test's own
        return None
    response: FakeResponse = service.dispatch(request)[0]
    return response
