"""Token-lifecycle scenarios: refresh counts (single-flight), dead-token reuse, Retry-After,
skew sweeps, a skewed ``Date`` header and seeded chaos: their markers, the
``relaytokens_lifecycle`` fixture's object and the teardown checks.

The state lives in each fake's :class:`~pytest_relaytokens.http.lifecycle.Lifecycle`; this
module reads the markers into it and turns what it recorded into test failures.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import inspect
import re
import threading
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from ..clock import DURATION_UNITS, LONGEST_SECONDS, duration_seconds
from .markers import function_id

if TYPE_CHECKING:  # the http core loads with the first fake, not with the plugin
    from ..http import FakeService, TokenPolicy
    from ..http.lifecycle import Observed

__all__ = [
    "CHAOS_NAMES",
    "LIFECYCLE_MARKERS",
    "LIFECYCLE_PROPERTY",
    "LifecycleView",
    "configure_service",
    "generate_lifecycle",
    "lifecycle_problems",
    "marker_problems",
    "parse_skew",
    "skew_id",
]

T = TypeVar("T")
#: The user property carrying the lifecycle scenarios a test exercised (for the report).
LIFECYCLE_PROPERTY = "relaytokens_lifecycle"


# Each marker's signature is its validation (pytest_httpx style): bound, never called.
def _refresh(
    *, token_requests: object = None, max_token_requests: object = None, kind: object = None
) -> None: ...


def _lifecycle(*, dead_tokens: object = True, retry_after: object = True) -> None: ...


def _date_skew(seconds: object) -> None: ...


def _chaos(
    *,
    truncate: object = 0.0,
    reset: object = 0.0,
    dribble: object = 0.0,
    bad_chunked: object = 0.0,
    slow_headers: object = 0.0,
    path: object = None,
    seed: object = None,
) -> None: ...


_SIGNATURES = {
    "relaytokens_refresh": inspect.signature(_refresh),
    "relaytokens_lifecycle": inspect.signature(_lifecycle),
    "relaytokens_date_skew": inspect.signature(_date_skew),
    "relaytokens_chaos": inspect.signature(_chaos),
}
#: The chaos kinds, as the marker spells them (http/chaos.py CHAOS_KINDS: a test pins both).
CHAOS_NAMES = tuple(
    n for n in _SIGNATURES["relaytokens_chaos"].parameters if n not in ("path", "seed")
)
_CHAOS_ARGS = ", ".join(f"{kind}=0.0" for kind in CHAOS_NAMES)

LIFECYCLE_MARKERS: dict[str, str] = {
    "relaytokens_refresh": "relaytokens_refresh(token_requests=None, max_token_requests=None, "
    "kind=None): the test's fakes must get exactly / at most that many token requests and "
    'sign-ins (kind "token" or "sign-in": only those); the failure lists each with its time.',
    "relaytokens_lifecycle": "relaytokens_lifecycle(dead_tokens=True, retry_after=True): turn "
    "off the dead-token reuse check or the Retry-After check (both on by default).",
    "relaytokens_skews": "relaytokens_skews(*skews): run the test once per server clock skew "
    '(seconds, a timedelta, or text like "-50s", "+2h", "0"); ids read skew=-50s.',
    "relaytokens_date_skew": "relaytokens_date_skew(seconds): the fakes' Date header runs that "
    "far from the token timestamps (a proxy with a wrong clock).",
    "relaytokens_chaos": f"relaytokens_chaos({_CHAOS_ARGS}, path=None, seed=None): break "
    "answers with those probabilities, drawn from the test's seed (same seed, same chaos).",
}


def _marker_error(item: pytest.Item | None, marker: str, problem: str) -> str:
    where = f"{function_id(item)}: " if item is not None else ""
    return f"{where}@pytest.mark.{marker}: {problem}"


def _arguments(mark: pytest.Mark) -> dict[str, Any]:
    """``mark``'s arguments bound to its signature (the signature is the validation);
    ValueError says what is wrong."""
    signature = _SIGNATURES[mark.name]
    try:
        bound = signature.bind(*mark.args, **mark.kwargs)
    except TypeError as exc:
        raise ValueError(f"{exc}; valid: {mark.name}{_shown(signature)}") from None
    bound.apply_defaults()
    return dict(bound.arguments)


def _bind(item: pytest.Item, mark: pytest.Mark) -> dict[str, Any]:
    """:func:`_arguments`, or the test fails naming the marker."""
    try:
        return _arguments(mark)
    except ValueError as exc:
        pytest.fail(_marker_error(item, mark.name, str(exc)), pytrace=False)


def _check_refresh(mark: pytest.Mark) -> None:
    args = _arguments(mark)
    for name in ("token_requests", "max_token_requests"):
        value = args[name]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"{name} must be an int, got {value!r}")
        if value is not None and value < 0:
            raise ValueError(f"{name} must be >= 0, got {value!r}")
    if args["kind"] not in (None, "token", "sign-in"):
        raise ValueError(f"kind must be 'token' or 'sign-in', got {args['kind']!r}")


def _check_lifecycle(mark: pytest.Mark) -> None:
    for name, value in _arguments(mark).items():
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be True or False, got {value!r}")


def _check_date_skew(mark: pytest.Mark) -> None:
    parse_skew(_arguments(mark)["seconds"])


def chaos_plan(args: dict[str, Any], seed: int) -> Any:
    """The :class:`~pytest_relaytokens.http.chaos.ChaosPlan` of the chaos marker's bound
    ``args`` (ValueError: a wrong argument, named)."""
    from ..http.chaos import ChaosPlan

    args = dict(args)
    path, chosen_seed = args.pop("path"), args.pop("seed")
    if path is not None:
        if not isinstance(path, str):
            raise ValueError(f"path= must be a regular expression (a str), got {path!r}")
        try:
            re.compile(path)
        except re.error as exc:
            raise ValueError(f"path={path!r} is not a regular expression: {exc}") from None
    if chosen_seed is not None and (
        isinstance(chosen_seed, bool) or not isinstance(chosen_seed, int)
    ):
        raise ValueError(f"seed= must be an int or None, got {chosen_seed!r}")
    odds = {kind: p for kind, p in args.items() if p}
    return ChaosPlan(chosen_seed if chosen_seed is not None else seed, odds, path)


def _check_chaos(mark: pytest.Mark) -> None:
    chaos_plan(_arguments(mark), 0)


def _check_skews(item: pytest.Item, mark: pytest.Mark) -> list[_dt.timedelta]:
    if mark.kwargs or not mark.args:
        raise ValueError("give one or more skews, positionally")
    if item.get_closest_marker("token_clock_skew") is not None:
        raise ValueError("it sets the server skew of each run: drop @pytest.mark.token_clock_skew")
    return [parse_skew(value) for value in mark.args]


_CHECKS: dict[str, Callable[[pytest.Mark], None]] = {
    "relaytokens_refresh": _check_refresh,
    "relaytokens_lifecycle": _check_lifecycle,
    "relaytokens_date_skew": _check_date_skew,
    "relaytokens_chaos": _check_chaos,
}


def marker_problems(item: pytest.Item) -> list[str]:
    """Every wrong lifecycle marker of ``item``, one line each (reported at collection with
    the other marker problems)."""
    problems: list[str] = []
    names = getattr(item, "fixturenames", ())
    ours = sorted({m.name for m in item.iter_markers() if m.name in _ON_THE_FAKES})
    if ours and not any(name in names for name in _FAKE_FIXTURES):
        problems.append(
            f"{function_id(item)}: @pytest.mark.{ours[0]} acts on the test's fakes, but the test "
            f"uses none: request {', '.join(_FAKE_FIXTURES)}"
        )
    for name, check in _CHECKS.items():
        mark = item.get_closest_marker(name)
        if mark is not None:
            try:
                check(mark)
            except ValueError as exc:
                problems.append(_marker_error(item, name, str(exc)))
    mark = item.get_closest_marker("relaytokens_skews")
    if mark is not None:
        try:
            _check_skews(item, mark)
        except ValueError as exc:
            problems.append(_marker_error(item, mark.name, str(exc)))
    return problems


def _shown(signature: inspect.Signature) -> str:
    """A marker signature as a user writes it: ``(*, dead_tokens=True, retry_after=True)``."""
    parts: list[str] = []
    for parameter in signature.parameters.values():
        if parameter.kind is parameter.KEYWORD_ONLY and "*" not in parts:
            parts.append("*")
        empty = parameter.default is parameter.empty
        parts.append(parameter.name if empty else f"{parameter.name}={parameter.default!r}")
    return f"({', '.join(parts)})"


def parse_skew(value: object) -> _dt.timedelta:
    """A skew from seconds, a timedelta, or text (``"-50s"``, ``"+2h"``, ``"90"``, ``"0"``)."""
    seconds = duration_seconds(value)
    if seconds is None:
        raise ValueError(
            f"a skew is seconds, a timedelta or text like '-50s', '+2h', got {value!r}"
        )
    if abs(seconds) > LONGEST_SECONDS:
        raise ValueError(f"a skew must be finite and within 10 years, got {value!r}")
    return _dt.timedelta(seconds=seconds)


def skew_id(skew: _dt.timedelta) -> str:
    """``skew=-50s``, ``skew=0s``, ``skew=+2h``: the largest unit that divides it."""
    seconds = skew.total_seconds()
    sign = "-" if seconds < 0 else "+" if seconds > 0 else ""
    size = abs(seconds)
    for unit in ("d", "h", "m"):
        if size and size % DURATION_UNITS[unit] == 0:
            return f"skew={sign}{size / DURATION_UNITS[unit]:g}{unit}"
    return f"skew={sign}{size:g}s"


#: The markers that act on a test's fakes, and the fixtures that give a test its fakes.
_ON_THE_FAKES = frozenset(
    {"relaytokens_refresh", "relaytokens_chaos", "relaytokens_date_skew", "relaytokens_skews"}
)
_FAKE_FIXTURES = ("relay_api", "ucwa_api", "relaytokens_server", "relaytokens_shared_server")


def generate_lifecycle(metafunc: pytest.Metafunc, base: Callable[[], TokenPolicy]) -> None:
    """At collection, ``relaytokens_skews(...)`` fans the test out over its skews, each run
    getting the token policy ``base()`` with that server skew (a wrong marker is left to
    :func:`marker_problems`, listed with every other usage error)."""
    definition = metafunc.definition
    marker = definition.get_closest_marker("relaytokens_skews")
    if marker is None or not any(name in metafunc.fixturenames for name in _FAKE_FIXTURES):
        return
    try:
        skews = _check_skews(definition, marker)
    except ValueError:  # a usage error at collection (marker_problems), with the others
        return
    policy = base()
    if "relaytokens_token_policy" not in metafunc.fixturenames:  # read by the fakes lazily
        metafunc.fixturenames.append("relaytokens_token_policy")
    metafunc.parametrize(
        "relaytokens_token_policy",
        [dataclasses.replace(policy, server_skew=skew) for skew in skews],
        ids=[skew_id(skew) for skew in skews],
        indirect=True,
    )


def configure_service(item: pytest.Item, service: FakeService, seed: int) -> None:
    """Read the ``relaytokens_chaos`` and ``relaytokens_date_skew`` markers into ``service``'s
    lifecycle ledger (once)."""
    ledger = getattr(service, "lifecycle", None)
    if ledger is None or ledger.configured:
        return
    ledger.configured = True
    mark = item.get_closest_marker("relaytokens_date_skew")
    if mark is not None:
        seconds = _bind(item, mark)["seconds"]
        try:
            ledger.date_skew = parse_skew(seconds)
        except ValueError as exc:
            pytest.fail(_marker_error(item, mark.name, str(exc)), pytrace=False)
    mark = item.get_closest_marker("relaytokens_chaos")
    if mark is not None:
        try:
            ledger.chaos = chaos_plan(_bind(item, mark), seed)
        except ValueError as exc:
            pytest.fail(_marker_error(item, mark.name, str(exc)), pytrace=False)


def _ledgers(services: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(api, s.lifecycle) for api, s in services.items() if hasattr(s, "lifecycle")]


def _requests(services: dict[str, Any], kind: str | None) -> list[Observed]:
    found = [o for _, ledger in _ledgers(services) for o in ledger.token_requests(kind)]
    return sorted(found, key=lambda o: o.real)


def check_count(
    services: dict[str, Any], exactly: int | None, at_most: int | None, kind: str | None
) -> str | None:
    """The failure for a token-request count other than promised (None: as promised)."""
    found = _requests(services, kind)
    what = "token request(s) and sign-in(s)" if kind is None else f"{kind} request(s)"
    if exactly is not None and len(found) != exactly:
        promise = f"exactly {exactly}"
    elif at_most is not None and len(found) > at_most:
        promise = f"at most {at_most}"
    else:
        return None
    hint = (
        "; more than promised: the client asked for a new token once per caller instead of "
        "once (no single-flight refresh: hold one lock around 'is the token still good? "
        "else fetch one', and let the other callers use the token it got)"
        if len(found) > (exactly if exactly is not None else at_most or 0)
        else ""
    )
    from ..http.lifecycle import describe_token_requests

    return f"expected {promise} {what}, the fakes got {len(found)}{hint}:\n" + (
        describe_token_requests(found)
    )


class LifecycleView:
    """What the ``relaytokens_lifecycle`` fixture hands a test: the token requests its fakes
    got, one-line assertions on their number, and helpers to put N calls in flight."""

    def __init__(self, services: Callable[[], dict[str, Any]], item: pytest.Item) -> None:
        self._services = services
        self._item = item

    def token_requests(self, kind: str | None = None) -> list[Observed]:
        """Every token request and sign-in so far (``kind``: ``"token"`` or ``"sign-in"``),
        in the order answered."""
        return _requests(self._services(), kind)

    def assert_token_requests(self, count: int, *, kind: str | None = None) -> None:
        """Fail unless the fakes got exactly ``count`` token requests (and sign-ins)."""
        _note(self._item, "single-flight")
        problem = check_count(self._services(), count, None, kind)
        if problem is not None:
            pytest.fail(f"relaytokens_lifecycle: {problem}", pytrace=False)

    def in_flight(self, call: Callable[[], T], count: int = 5) -> list[T]:
        """Run ``call`` in ``count`` threads released together; their results, in order
        (the first exception is raised after every thread ended)."""
        barrier = threading.Barrier(count)
        results: list[Any] = [None] * count
        errors: list[BaseException] = []

        def run(index: int) -> None:
            barrier.wait()
            try:
                results[index] = call()
            except BaseException as exc:  # re-raised in the test's thread
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        return results

    async def in_flight_async(self, call: Callable[[], Awaitable[T]], count: int = 5) -> list[T]:
        """Run ``count`` asyncio tasks of ``call()`` at once; their results, in order."""
        import asyncio  # only for the tests that use it: the plugin loads without asyncio

        return list(await asyncio.gather(*(call() for _ in range(count))))

    def to_dict(self) -> dict[str, Any]:
        """Every fake's ledger as plain data (tokens as fingerprints)."""
        return {api: ledger.to_dict() for api, ledger in _ledgers(self._services())}


def _note(item: pytest.Item, scenario: str) -> None:
    entry = (LIFECYCLE_PROPERTY, scenario)
    if entry not in item.user_properties:
        item.user_properties.append(entry)


def lifecycle_problems(item: pytest.Item, services: dict[str, Any]) -> list[str]:
    """The teardown failures of the lifecycle scenarios, and the report's bookkeeping."""
    ledgers = _ledgers(services)
    if not ledgers:
        return []
    problems: list[str] = []
    mark = item.get_closest_marker("relaytokens_refresh")
    if mark is not None:
        try:  # checked at collection too (marker_problems): a usage error there
            _check_refresh(mark)
        except ValueError as exc:
            pytest.fail(_marker_error(item, mark.name, str(exc)), pytrace=False)
        args = _bind(item, mark)
        exactly, at_most, kind = args["token_requests"], args["max_token_requests"], args["kind"]
        _note(item, "single-flight")
        problem = check_count(services, exactly, at_most, kind)
        if problem is not None:
            problems.append(f"@pytest.mark.relaytokens_refresh: {problem}")
    opts = {"dead_tokens": True, "retry_after": True}
    mark = item.get_closest_marker("relaytokens_lifecycle")
    if mark is not None:
        opts = _bind(item, mark)
    for api, ledger in ledgers:
        if ledger.dead_presented():  # a dead token reached the fake: the check had work
            _note(item, "dead-token reuse")
        if ledger.retry_after_answers():
            _note(item, "Retry-After")
        if ledger.chaos is not None:
            for kind in dict.fromkeys(k for *_, k in ledger.chaos.chosen):
                _note(item, f"chaos {kind}")
        if ledger.date_skew is not None:
            _note(item, "Date skew")
        dead = ledger.dead_tokens() if opts["dead_tokens"] else []
        if dead:
            problems.append(
                f"{api}: {len(dead)} request(s) carried a dead (expired or revoked) token after "
                "a fresh one was issued (dead-token reuse):\n"
                + "\n".join(d.describe() for d in dead)
                + "\nSend the newest token on every request after a refresh. To allow this "
                "mark the test @pytest.mark.relaytokens_lifecycle(dead_tokens=False)."
            )
        early = ledger.early_retries() if opts["retry_after"] else []
        if early:
            problems.append(
                f"{api}: {len(early)} retry(ies) came before Retry-After allowed them:\n"
                + "\n".join(e.describe() for e in early)
                + "\nWait the Retry-After seconds on the test's clock before retrying. To "
                "allow this mark the test @pytest.mark.relaytokens_lifecycle(retry_after=False)."
            )
    if item.get_closest_marker("relaytokens_skews") is not None:
        _note(item, "skew sweep")
    return problems


def scenario_names() -> Iterable[str]:
    """The report's rows, in order."""
    return (
        "single-flight",
        "dead-token reuse",
        "Retry-After",
        "skew sweep",
        "Date skew",
        *(f"chaos {kind}" for kind in CHAOS_NAMES),
    )
