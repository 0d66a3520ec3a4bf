"""Per-test resolution shared by the plugin's fixtures and the backends: run state, marker
settings, overrides, seed, clock, policy, format, quirks, and clear errors.

Kept out of ``plugin.py`` so that module holds only hooks, options, markers and fixtures.
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .markers import MarkerSettings
from .settings import RunState, derive_seed, get_option

if TYPE_CHECKING:
    from .clock import Clock
    from .core import TokenPolicy
    from .ucwa.wire import UcwaQuirks


STATE_KEY = pytest.StashKey[RunState]()


SETTINGS_KEY = pytest.StashKey[MarkerSettings]()


ERROR_PROPERTY = "relaytokens_error"


USED_PROPERTY = "relaytokens_used"

CASSETTE_PROPERTY = "relaytokens_cassette"


def report_unused_cassettes(terminalreporter: Any, config: pytest.Config, state: RunState) -> None:
    folder = get_option(config, "cassette_dir")
    roots: set[Path] = set()
    for module in state.modules:
        path = config.rootpath / module
        base = config.rootpath / folder if folder else path.parent / "cassettes"
        roots.add(base / path.stem)
    files = sorted(
        str(f.resolve()) for root in roots if root.is_dir() for f in root.rglob("*.y*ml")
    )
    unused = [f for f in files if f not in state.cassettes_used]
    terminalreporter.write_sep("-", "relaytokens unused cassettes")
    if not unused:
        terminalreporter.write_line(f"every one of {len(files)} cassette(s) was used")
    for name in unused:
        terminalreporter.write_line(f"unused: {name}")


@contextlib.contextmanager
def clear_errors() -> Iterator[None]:
    """Our own errors (missing cassette, bad environment, corrupt file) fail the test with
    their message alone, never a traceback from deep inside the plugin."""
    from .errors import RelayTokensError

    try:
        yield
    except RelayTokensError as exc:
        message = str(exc)
    else:
        return
    try:
        pytest.fail(message, pytrace=False)
    except pytest.fail.Exception as failed:
        raise failed from None  # the message alone: no "during handling" chain


_OVERRIDES_KEY = pytest.StashKey[frozenset[str]]()


_OVERRIDABLE = (
    "relaytokens_seed",
    "relaytokens_clock",
    "relaytokens_token_policy",
    "relaytokens_backend",
    "relaytokens_ucwa_format",
    "relaytokens_ucwa_quirks",
)


_LOCAL_OVERRIDES_KEY = pytest.StashKey[dict[Any, frozenset[str]]]()


def overrides(request: pytest.FixtureRequest) -> frozenset[str]:
    """The overridable fixtures a conftest, the test module or its class defines itself.

    Lets the hot path skip fixture lookups when nobody overrides a default. Computed once per
    module or class (the session's conftests and plugins once) and cached.
    """
    config = request.config
    parent = request.node.parent
    cache = config.stash.get(_LOCAL_OVERRIDES_KEY, None)
    if cache is None:
        cache = config.stash[_LOCAL_OVERRIDES_KEY] = {}
    names = cache.get(parent)
    if names is None:
        found = config.stash.get(_OVERRIDES_KEY, None)
        if found is None:
            this = sys.modules.get("pytest_relaytokens.plugin")
            found = config.stash[_OVERRIDES_KEY] = frozenset(
                n
                for plugin in config.pluginmanager.get_plugins()
                if plugin is not this
                for n in _OVERRIDABLE
                if hasattr(plugin, n)
            )
        holders = [
            getattr(node, "obj", None)
            for node in (parent.listchain() if parent is not None else ())
            if isinstance(node, (pytest.Module, pytest.Class))
        ]
        names = cache[parent] = found | frozenset(
            n for n in _OVERRIDABLE for obj in holders if obj is not None and hasattr(obj, n)
        )
    return names


def overridden(request: pytest.FixtureRequest, name: str) -> bool:
    """Whether fixture ``name`` is overridden for this test (see :func:`overrides`)."""
    return name in overrides(request)


_INPUTS_KEY = pytest.StashKey["tuple[int, Clock, TokenPolicy]"]()


def token_inputs(request: pytest.FixtureRequest) -> tuple[int, Clock, TokenPolicy]:
    """This test's seed, clock and token policy, resolved once and shared by every fixture."""
    node = request.node
    inputs: tuple[int, Clock, TokenPolicy] | None = node.stash.get(_INPUTS_KEY, None)
    if inputs is None:
        names = overrides(request)
        if "relaytokens_seed" in names:
            seed: int = request.getfixturevalue("relaytokens_seed")
        else:
            seed = derive_seed(request.config.stash[STATE_KEY].run_seed, node.nodeid)
        if "relaytokens_clock" in names:
            clock: Clock = request.getfixturevalue("relaytokens_clock")
        else:
            clock = own_clock(request)
        if "relaytokens_token_policy" in names:
            policy: TokenPolicy = request.getfixturevalue("relaytokens_token_policy")
        else:
            policy = marker_policy(request)
        inputs = node.stash[_INPUTS_KEY] = (seed, clock, policy)
    return inputs


def marker_policy(request: pytest.FixtureRequest) -> TokenPolicy:
    from .core import TokenPolicy

    settings = marker_settings(request)
    return TokenPolicy(
        settings.already_expired, settings.lifetime, settings.never_expires, settings.server_skew
    )


def marker_settings(request: pytest.FixtureRequest) -> MarkerSettings:
    return request.node.stash.get(SETTINGS_KEY, None) or MarkerSettings()


USED_KEY = pytest.StashKey[bool]()


def mark_used(request: pytest.FixtureRequest) -> None:
    """Note that this test used the plugin: its failure report then shows the seed, and the
    run's coverage report is printed (one report per process carries the flag to xdist's
    controller)."""
    mark_item_used(request.node, request.config)


def mark_item_used(item: pytest.Item, config: pytest.Config) -> None:
    item.stash[USED_KEY] = True
    state = config.stash[STATE_KEY]
    if not state.flagged:
        state.flagged = True
        item.user_properties.append((USED_PROPERTY, True))


def record_error(request: pytest.FixtureRequest, api: str, error_id: str) -> None:
    mark_used(request)
    request.node.user_properties.append((ERROR_PROPERTY, f"{api}:{error_id}"))


_CLOCK_KEY = pytest.StashKey["Clock"]()


def own_clock(request: pytest.FixtureRequest) -> Clock:
    node = request.node
    clock: Clock | None = node.stash.get(_CLOCK_KEY, None)
    if clock is None:
        from .clock import Clock

        clock = node.stash[_CLOCK_KEY] = Clock(request.config.stash[STATE_KEY].start, frozen=True)
    return clock


def effective_format(request: pytest.FixtureRequest) -> str:
    return marker_settings(request).ucwa_format or request.getfixturevalue(
        "relaytokens_ucwa_format"
    )


def effective_quirks(request: pytest.FixtureRequest) -> UcwaQuirks:
    import dataclasses

    quirks: UcwaQuirks = request.getfixturevalue("relaytokens_ucwa_quirks")
    overrides = marker_settings(request).ucwa_quirks
    return dataclasses.replace(quirks, **overrides) if overrides else quirks  # type: ignore[arg-type]


def secret_patterns(config: pytest.Config) -> list[re.Pattern[str]]:
    from_cli = config.getoption("relaytokens_secret_patterns", None) or []
    raw = [*config.getini("relaytokens_secret_patterns"), *from_cli]
    patterns = []
    for text in raw:
        try:
            patterns.append(re.compile(text))
        except re.error as exc:
            raise pytest.UsageError(
                f"relaytokens: secret pattern {text!r} is not a valid regular expression: {exc}"
            ) from None
    return patterns


def check_unexpected(request: pytest.FixtureRequest, service: Any, fixture: str) -> None:
    unexpected = service.log.unexpected
    if not unexpected or not service.fail_on_unexpected:
        return
    if get_option(request.config, "allow_unexpected") == "true":
        return
    listed = "\n".join(
        f"  {e.request.method} {e.request.url} -> {e.response.status}" for e in unexpected
    )
    pytest.fail(
        f"{fixture}: the fake received {len(unexpected)} request(s) it did not expect:\n{listed}\n"
        f"To allow them set `{fixture}.fail_on_unexpected = False` in the test, or run with "
        "--relaytokens-allow-unexpected=true (ini relaytokens_allow_unexpected = true).",
        pytrace=False,
    )


def new_fake(
    request: pytest.FixtureRequest, api: str, seed: int, clock: Clock, policy: TokenPolicy
) -> Any:
    """A fresh fake of ``api`` ("ucwa" or "relay") for this test: one place for the seeds."""
    if api == "ucwa":
        from .ucwa.service import UcwaService

        return UcwaService(clock=clock, seed=seed, policy=policy, quirks=effective_quirks(request))
    from .relay.service import RelayService

    return RelayService(clock=clock, seed=seed ^ 0x5A5A, policy=policy)


def api_service_for(
    request: pytest.FixtureRequest, api: str, seed: int, clock: Clock, policy: TokenPolicy
) -> Any:
    """What ``ucwa_api``/``relay_api`` serve: the fake with the test's error markers armed, or
    its replay or live stand-in."""
    from .backends import api_service, backend_of

    settings = marker_settings(request)
    backend = backend_of(request)
    if backend == "fake":
        service = new_fake(request, api, seed, clock, policy)
        for error_id, times in settings.ucwa_errors if api == "ucwa" else settings.relay_errors:
            service.arm_error(error_id, times=times)
            record_error(request, api, error_id)
        return service
    if (
        settings.ucwa_errors
        or settings.relay_errors
        or "ucwa_error" in request.fixturenames
        or "relay_error" in request.fixturenames
    ):
        raise pytest.UsageError(
            f"{request.node.nodeid}: error markers and the ucwa_error/relay_error fan-out arm "
            f"the fakes, so they need the fake backend (this test runs on {backend!r}); mark it "
            '@pytest.mark.relaytokens_backend("fake")'
        )
    with clear_errors():
        return api_service(request, api, clock, policy)
    raise AssertionError("unreachable")  # pragma: no cover


def arm_fanout(request: pytest.FixtureRequest, api: str, path: str | None = None) -> Any:
    """The catalogue entry ``ucwa_error``/``relay_error`` stands for, armed on the API fixture
    for every matching request (``path`` None: the service's default, the token resource)."""
    entry = getattr(request, "param", None)
    if entry is None:
        raise pytest.UsageError(
            f"{api}_error is parametrized by the plugin; request it directly as a test argument"
        )
    request.getfixturevalue(f"{api}_api").arm_error(entry.id, times=None, path=path)
    record_error(request, api, entry.id)
    return entry


def note_cassette(request: pytest.FixtureRequest, path: Path) -> None:
    """Record that this test used the cassette ``path`` (for the unused-cassettes report)."""
    entry = (CASSETTE_PROPERTY, str(path.resolve()))
    if entry not in request.node.user_properties:
        request.node.user_properties.append(entry)


def relay_location(request: pytest.FixtureRequest) -> str | None:
    """The UCWA relays' location this test asks for (marker, override, option), without a
    fixture lookup on the hot path."""
    marked = marker_settings(request).ucwa_quirks.get("location")
    if marked:
        return marked
    if overridden(request, "relaytokens_ucwa_quirks"):
        return effective_quirks(request).location
    return request.config.stash[STATE_KEY].relay_location
