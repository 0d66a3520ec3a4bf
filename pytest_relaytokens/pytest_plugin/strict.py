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
    from ..http import FakeResponse, FakeService
    from ..http.messages import Exchange

__all__ = [
    "FANOUT_PATHS",
    "arm_errors",
    "fanout_conflicts",
    "fanout_errors",
    "hide_secrets",
    "service_secrets",
    "shown_calls",
    "shown_url",
    "ucwa_client_answer",
    "unconsumed_faults",
    "unobserved_markers",
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
    listed = "\n".join(f"  {fault.describe()}" for fault in left)
    called = shown_calls(list(service.log), service_secrets(service))
    return [
        f"{fixture}: {len(left)} armed error(s)/fault(s) were never consumed by a request:\n"
        f"{listed}\nWhat the client called instead:\n{called}\n"
        "A declared error must reach a client (a request, or a response fixture such as "
        "ucwa_token_response). If it need not, say so: optional=True on that marker or arm "
        "call, or for the whole test @pytest.mark.relaytokens_allow(unused_faults=True) or "
        "--relaytokens-allow-unused-faults=true (ini relaytokens_allow_unused_faults = true)."
    ]


def ucwa_client_answer(service: Any, fmt: str, bearer_dead: bool) -> FakeResponse | None:
    """What a client presenting the handed-out bearer gets for ``GET .../mediaRelayAccessToken``
    when it is not the test's token: an armed fault (one of its uses, as the client's GET
    would take it; an error armed on the sign-in, a ``webticket`` row, as its password grant
    would: the GET is never reached), or (``bearer_dead``: expired or revoked) the 401 the
    fake answers; None when it is the test's token."""
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
    if fault is None:
        grant = service.password_grant_request()
        first = next((f for f in service.faults.armed if f.matches(grant)), None)
        if first is not None and first.respond is not None:
            fault, request = service.faults.take(grant), grant
    if fault is not None and fault.respond is not None:
        answer: FakeResponse = fault.respond(request)
        return answer
    if not bearer_dead:  # the GET would issue a token: the caller renders the test's own
        return None
    response: FakeResponse = service.dispatch(request)[0]
    return response


#: The credential fields whose values are secrets (the fakes' credentials dataclasses).
_SECRET_FIELDS = (
    "password",
    "bearer",
    "seam_token",
    "access_token",
    "readonly_access_token",
    "pairing_code",
    "conference_key",
)
#: Shorter values are not masked (they would hide ordinary text).
_MIN_SECRET = 6


def service_secrets(service: Any) -> set[str]:
    """Every secret ``service`` handed out, issued or saw carried: its credentials, the tokens
    it issued, the tokens requests carried."""
    credentials = getattr(service, "credentials", None)
    found = {getattr(credentials, name, None) for name in _SECRET_FIELDS}
    for token in getattr(service, "issued_tokens", ()) or ():
        found |= {getattr(token, name, None) for name in ("access_token", "password", "user_name")}
    found |= {e.token for e in getattr(service, "log", ())}
    found |= {o.issued for o in getattr(service, "lifecycle", ())}
    return {v for v in found if isinstance(v, str) and len(v) >= _MIN_SECRET}


def hide_secrets(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every encoded form of each of ``secrets`` (raw, percent-, base64-...
    encoded: the cassettes' one list of forms) replaced by ``<hidden>``."""
    from ..cassettes.redaction import encoded_variants

    for secret in sorted(secrets, key=len, reverse=True):
        for form in encoded_variants(secret):
            if len(form) >= _MIN_SECRET and form in text:
                text = text.replace(form, "<hidden>")
    return text


def shown_url(url: str, secrets: Iterable[str]) -> str:
    """``url`` fit for a failure message: :func:`safe_url` (query values, user info hidden),
    then every known secret hidden wherever it sits (a path segment too)."""
    from ..cassettes.structure import safe_url

    return hide_secrets(safe_url(url), secrets)


def shown_calls(calls: Sequence[Exchange], secrets: Iterable[str] = ()) -> str:
    """What the client called, newest first cut, one line each (URLs by :func:`shown_url`)."""
    if not calls:
        return "  (no request reached the fake)"
    secrets = set(secrets)
    shown = calls[-_SHOWN_CALLS:]
    more = f"  ... and {len(calls) - len(shown)} earlier\n" if len(calls) > len(shown) else ""
    return more + "\n".join(
        f"  {e.request.method} {shown_url(e.request.url, secrets)} -> {e.response.status}"
        for e in shown
    )


#: What a UCWA answer's media type ends with, per ``ucwa_format``.
_FORMAT_SUFFIXES = {"json": ("+json", "/json"), "xml": ("+xml", "/xml")}


def unobserved_markers(
    settings: MarkerSettings,
    services: dict[str, FakeService],
    fixtures: dict[str, str],
    rendered: Sequence[FakeResponse],
) -> list[str]:
    """The teardown failures of ``token_expired``, ``token_revoked`` and ``ucwa_format``
    declared on a test whose client never met them (fake backend; ``rendered``: the
    ``ucwa_token_response`` answers the test read, which count as served to it)."""
    problems: list[str] = []

    def dead(api: str) -> bool:  # a request carrying a known token, answered 401
        log = services[api].log if api in services else ()
        return any(e.response.status == 401 and e.token is not None for e in log) or (
            api == "ucwa" and any(r.status == 401 for r in rendered)
        )

    def fail(marker: str, apis: Sequence[str], what: str, hint: str) -> None:
        calls = [e for api in apis if api in services for e in services[api].log]
        secrets = {s for api in apis if api in services for s in service_secrets(services[api])}
        names = ", ".join(dict.fromkeys(fixtures.get(api, f"{api}_api") for api in apis))
        args = marker.partition("(")[2].rstrip(")")
        opt_out = f"{marker.partition('(')[0]}({args + ', ' if args else ''}optional=True)"
        problems.append(
            f"{names}: declared @pytest.mark.{marker} but {what}; the client did:\n"
            f"{shown_calls(calls, secrets)}\n{hint} If the test need not observe it, opt out with "
            f"@pytest.mark.{opt_out}."
        )

    if settings.already_expired and "token_expired" not in settings.optional:
        apis = list(services)
        if not any(dead(api) for api in apis):
            fail(
                "token_expired",
                apis,
                "no request carried the expired token (none was answered 401)",
                "Send the token the fake handed out or issued (or read ucwa_token_response).",
            )
    revoked = settings.revoked
    if revoked and "token_revoked" not in settings.optional:
        # api="ucwa" or "relay": that API must see one; no api (both): either will do
        apis = list(revoked) if len(revoked) == 1 else [a for a in revoked if a in services]
        if not any(dead(api) for api in apis):
            fixture = ", ".join(f"{fixtures.get(api, f'{api}_api')}.credentials" for api in apis)
            fail(
                f"token_revoked(api={revoked[0]!r})" if len(revoked) == 1 else "token_revoked",
                apis,
                f"no request carried a revoked {' or '.join(apis)} credential (none was "
                "answered 401)",
                f"Present a credential {fixture} hands out"
                + (" (or read ucwa_token_response)." if "ucwa" in apis else "."),
            )
    fmt = settings.ucwa_format
    if fmt is not None and "ucwa" in services and "ucwa_format" not in settings.optional:
        answers = [e.response for e in services["ucwa"].log] + list(rendered)
        if not any(r.content_type.endswith(_FORMAT_SUFFIXES[fmt]) for r in answers):
            fail(
                f"ucwa_format({fmt!r})",
                ["ucwa"],
                f"no UCWA answer was served as {fmt}",
                f"Ask for it (Accept: application/vnd.microsoft.com.ucwa+{fmt}, */* or none) "
                "or read ucwa_token_response.",
            )
    return problems
