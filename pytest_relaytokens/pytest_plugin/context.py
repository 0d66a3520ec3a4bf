"""The per-test context: everything the plugin resolves for one test, once, kept in the item's
stash while the test runs and dropped at teardown.

Seed, clock, token policy, backend, UCWA format and quirks, cassette, and the test's one set
of fakes (shared by ``ucwa_api``, ``relay_api``, ``relaytokens_server`` and the token
fixtures), plus the teardown checks and the coverage bookkeeping.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..clock import Clock
from .markers import MarkerSettings
from .options import RunState, derive_seed, get_option, secret_patterns

if TYPE_CHECKING:
    from ..core import FakeService, TokenPolicy
    from ..transports.server import FakeServers
    from ..ucwa.wire import UcwaQuirks
    from .backends import Backend
    from .network import TestNetwork

__all__ = [
    "CONTEXT_KEY",
    "SETTINGS_KEY",
    "STATE_KEY",
    "SharedServer",
    "TestContext",
    "cassette_path",
    "clear_errors",
    "context_for",
]

STATE_KEY = pytest.StashKey[RunState]()
SETTINGS_KEY = pytest.StashKey[MarkerSettings]()
CONTEXT_KEY = pytest.StashKey["TestContext"]()

ERROR_PROPERTY = "relaytokens_error"
USED_PROPERTY = "relaytokens_used"
CASSETTE_PROPERTY = "relaytokens_cassette"
DESELECTED_PROPERTY = "relaytokens_deselected"

_NO_MARKERS = MarkerSettings()

_OVERRIDABLE = (
    "relaytokens_seed",
    "relaytokens_clock",
    "relaytokens_token_policy",
    "relaytokens_backend",
    "relaytokens_ucwa_format",
    "relaytokens_ucwa_quirks",
)
_OVERRIDES_KEY = pytest.StashKey[frozenset[str]]()
_LOCAL_OVERRIDES_KEY = pytest.StashKey[dict[int, frozenset[str]]]()


@contextlib.contextmanager
def clear_errors() -> Iterator[None]:
    """Our own errors (missing cassette, bad environment, corrupt file) fail the test with
    their message alone, never a traceback from deep inside the plugin."""
    from ..errors import RelayTokensError

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


def overrides(item: pytest.Item) -> frozenset[str]:
    """The overridable fixtures a conftest, plugin, the test module or its class defines.

    Lets the hot path skip fixture lookups when nobody overrides a default. Computed once per
    module or class (the session's conftests and plugins once) and cached.
    """
    config = item.config
    parent = item.parent
    cache = config.stash.get(_LOCAL_OVERRIDES_KEY, None)
    if cache is None:
        cache = config.stash[_LOCAL_OVERRIDES_KEY] = {}
    key = id(parent)  # nodes live as long as the session's cache: no hashing of a node
    names = cache.get(key)
    if names is None:
        found = config.stash.get(_OVERRIDES_KEY, None)
        if found is None:
            ours = {
                sys.modules.get("pytest_relaytokens.plugin"),
                sys.modules.get("pytest_relaytokens.pytest_plugin.hooks"),
            }
            found = config.stash[_OVERRIDES_KEY] = frozenset(
                n
                for plugin in config.pluginmanager.get_plugins()
                if plugin not in ours
                for n in _OVERRIDABLE
                if hasattr(plugin, n)
            )
        holders = [
            getattr(node, "obj", None)
            for node in (parent.listchain() if parent is not None else ())
            if isinstance(node, (pytest.Module, pytest.Class))
        ]
        names = cache[key] = found | frozenset(
            n for n in _OVERRIDABLE for obj in holders if obj is not None and hasattr(obj, n)
        )
    return names


def marker_settings(item: pytest.Item) -> MarkerSettings:
    return item.stash.get(SETTINGS_KEY, None) or _NO_MARKERS


# --- the resolved settings (also what the default setting fixtures return) ---------------------
def default_backend(item: pytest.Item, state: RunState) -> str:
    return marker_settings(item).backend or state.backend


def default_format(item: pytest.Item, state: RunState) -> str:
    return marker_settings(item).ucwa_format or state.ucwa_format


def default_quirks(item: pytest.Item, state: RunState) -> UcwaQuirks:
    base = state.default_quirks
    if base is None:  # options and ini: the same for every test of the run, made once
        from ..ucwa.wire import UcwaQuirks

        base = state.default_quirks = UcwaQuirks(
            uri_key=state.uri_key,  # type: ignore[arg-type]
            timestamps=state.timestamps,  # type: ignore[arg-type]
            location=state.relay_location,  # type: ignore[arg-type]
        )
    marked = marker_settings(item).ucwa_quirks
    return dataclasses.replace(base, **marked) if marked else base  # type: ignore[arg-type]


def default_policy(item: pytest.Item) -> TokenPolicy:
    return policy_for(marker_settings(item), item.config.stash[STATE_KEY])


def policy_for(settings: MarkerSettings, state: RunState) -> TokenPolicy:
    """The token policy the expiry markers ask for (one shared default when none does)."""
    if settings is not _NO_MARKERS and settings.any_token_policy:
        from ..core import TokenPolicy

        return TokenPolicy(
            settings.already_expired,
            settings.lifetime,
            settings.never_expires,
            settings.server_skew,
        )
    policy = state.default_policy
    if policy is None:
        from ..core import TokenPolicy

        policy = state.default_policy = TokenPolicy()
    return policy


_CLOCK_KEY = pytest.StashKey["Clock"]()

#: api -> its token factory class, imported on first use (pydantic stays out of plugin import;
#: an import statement in the per-test path costs more than the lookup)
_FACTORIES: dict[str, Any] = {}


def _load_factory(api: str) -> Any:
    if api == "ucwa":
        from ..ucwa.factories import UcwaTokenFactory as factory
    else:
        from ..relay.factories import RelayTokenFactory as factory  # type: ignore[assignment]
    _FACTORIES[api] = factory
    return factory


def own_clock(item: pytest.Item, state: RunState) -> Clock:
    """The test's own clock (frozen at the run's start instant), made once per test: the
    context's when the test has one, else kept in the item's stash until the test ends."""
    stash = item.stash
    context = stash.get(CONTEXT_KEY, None)
    if context is not None and context.own_clock is not None:
        return context.own_clock
    clock: Clock | None = stash.get(_CLOCK_KEY, None)
    if clock is None:
        clock = stash[_CLOCK_KEY] = Clock(state.start, frozen=True)
    return clock


def cassette_name(item: pytest.Item) -> str:
    """``Class.test_name`` (nested classes joined by dots), or ``test_name``."""
    names = [node.name for node in item.listchain() if isinstance(node, pytest.Class)]
    return ".".join([*names, item.name])


def cassette_path(item: pytest.Item) -> Path:
    """This test's cassette: the ``relaytokens_cassette`` marker, else the per-test file
    ``<module dir>/cassettes/<module>/<Class.test_name>.yaml``."""
    from ..cassettes.recording import cassette_path_for

    settings = marker_settings(item)
    module_path = Path(str(item.path))
    if settings.cassette is not None:
        if settings.cassette.startswith("library:"):
            from ..library import scenario_path

            try:
                return scenario_path(settings.cassette.split(":", 1)[1])
            except LookupError as exc:
                from .backends import BackendError

                raise BackendError(
                    f"{item.nodeid}: @pytest.mark.relaytokens_cassette: {exc}"
                ) from None
        marked = Path(settings.cassette)
        return marked if marked.is_absolute() else module_path.parent / marked
    folder = get_option(item.config, "cassette_dir")
    base = None if folder is None else Path(item.config.rootpath, folder)
    return cassette_path_for(module_path, cassette_name(item), base)


class SharedServer:
    """The session's loopback server as one test sees it: its ``url`` and this test's fakes.
    Read-only. (A plain class: a frozen dataclass costs ~3M instructions at every import.)"""

    __slots__ = ("relay", "ucwa", "url")
    url: str
    ucwa: Any
    relay: Any

    def __init__(self, url: str, ucwa: Any, relay: Any) -> None:
        object.__setattr__(self, "url", url)
        object.__setattr__(self, "ucwa", ucwa)
        object.__setattr__(self, "relay", relay)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"SharedServer is read-only: cannot set {name!r}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SharedServer):
            return NotImplemented
        return (self.url, self.ucwa, self.relay) == (other.url, other.ucwa, other.relay)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"SharedServer(url={self.url!r}, ucwa={self.ucwa!r}, relay={self.relay!r})"


class TestContext:
    """Everything the plugin resolved for one test (see the module docstring)."""

    __test__ = False  # not a test class

    # What most tests never set, read from the class until set (fewer stores per test).
    _quirks: UcwaQuirks | None = None
    #: the test's own clock when the context made it (not kept in the stash)
    own_clock: Clock | None = None
    _backend: Backend | None = None
    #: why the test's recording is not a complete one (None: its call phase passed)
    unfinished: str | None = None
    _cassette: Path | None = None
    network: TestNetwork | None = None
    server: FakeServers | None = None
    _unplug: Any = None  # the session server's router serving this test's fakes

    def __init__(self, request: pytest.FixtureRequest, item: pytest.Item | None = None) -> None:
        if item is None:
            item = request.node
        state = item.config.stash[STATE_KEY]
        self.item = item
        self.state = state
        settings: MarkerSettings = item.stash.get(SETTINGS_KEY, None) or _NO_MARKERS
        self.settings = settings
        names = overrides(item)
        if not names:  # the fast path: nobody overrides a default (markers and options only)
            self.seed: int = derive_seed(state.run_seed, item.nodeid)
            clock: Clock | None = item.stash.get(_CLOCK_KEY, None)
            if clock is None:  # relaytokens_clock did not make it first: the context owns it
                clock = self.own_clock = Clock(state.start, frozen=True)
            self.clock: Clock = clock
            self.policy: TokenPolicy = policy_for(settings, state)
            self.backend_name: str = settings.backend or state.backend
            self.ucwa_format: str = settings.ucwa_format or state.ucwa_format
        else:
            self._resolve_overrides(request, names)
        #: tokens made without a backend: no marker, no override (the quirks one may move the
        #: relays), the fake backend, no relay location option
        self._plain = (
            not names
            and settings is _NO_MARKERS
            and self.backend_name == "fake"
            and state.relay_location is None
        )
        self._tokens: dict[str, Any] = {}
        self.blocked: list[str] = []
        self.fixtures: dict[str, str] = {}  # api -> the fixture name that serves it
        self._home_hosts: dict[str, str] = {}  # api -> the host its service had at creation

    def _resolve_overrides(self, request: pytest.FixtureRequest, names: frozenset[str]) -> None:
        """Settings from the conftest/module/class overrides of the setting fixtures, each
        checked (a bad override fails the test naming the fixture)."""
        item, state, settings = self.item, self.state, self.settings
        lookup = request.getfixturevalue
        self.seed = (
            lookup("relaytokens_seed")
            if "relaytokens_seed" in names
            else derive_seed(state.run_seed, item.nodeid)
        )
        self.clock = (
            lookup("relaytokens_clock") if "relaytokens_clock" in names else own_clock(item, state)
        )
        self.policy = (
            lookup("relaytokens_token_policy")
            if "relaytokens_token_policy" in names
            else policy_for(settings, state)
        )
        self.backend_name = settings.backend or (
            lookup("relaytokens_backend") if "relaytokens_backend" in names else state.backend
        )
        self.ucwa_format = settings.ucwa_format or (
            lookup("relaytokens_ucwa_format")
            if "relaytokens_ucwa_format" in names
            else state.ucwa_format
        )
        for fixture, value, valid in (
            ("relaytokens_backend", self.backend_name, ("fake", "replay", "live")),
            ("relaytokens_ucwa_format", self.ucwa_format, ("json", "xml")),
        ):
            if value not in valid:
                pytest.fail(
                    f"{item.nodeid}: the override of fixture {fixture} returned {value!r}; "
                    f"valid values: {', '.join(valid)}",
                    pytrace=False,
                )
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            pytest.fail(
                f"{item.nodeid}: the override of fixture relaytokens_seed returned "
                f"{self.seed!r}; valid values: an int",
                pytrace=False,
            )
        if "relaytokens_ucwa_quirks" in names:  # an override: resolved now, while setting up
            quirks: UcwaQuirks = lookup("relaytokens_ucwa_quirks")
            if settings.ucwa_quirks:
                quirks = dataclasses.replace(quirks, **settings.ucwa_quirks)  # type: ignore[arg-type]
            self._quirks = quirks

    # --- lazily resolved parts ------------------------------------------------------------------
    @property
    def allow_unexpected(self) -> bool:
        return bool(self.settings.allow.get("unexpected", self.state.allow_unexpected))

    @property
    def allow_unused_faults(self) -> bool:
        return bool(self.settings.allow.get("unused_faults", self.state.allow_unused_faults))

    @property
    def allow_unplayed(self) -> bool:
        return bool(self.settings.allow.get("unplayed", self.state.allow_unplayed))

    @property
    def allowed_hosts(self) -> tuple[str, ...]:
        return (*self.state.allow_hosts, *self.settings.allow.get("hosts", ()))

    @property
    def quirks(self) -> UcwaQuirks:
        """The UCWA quirks: an override of ``relaytokens_ucwa_quirks``, else options/ini, then
        the ``ucwa_quirks`` marker (resolved on first use: Relay-only tests never pay it)."""
        if self._quirks is None:
            self._quirks = default_quirks(self.item, self.state)
        return self._quirks

    @property
    def cassette(self) -> Path:
        if self._cassette is None:
            self._cassette = cassette_path(self.item)
        return self._cassette

    @property
    def backend(self) -> Backend:
        backend = self._backend
        if backend is None:
            from .backends import FakeBackend, TestInputs, make_backend

            config = self.item.config
            settings = self.settings
            inputs = TestInputs(
                nodeid=self.item.nodeid,
                seed=self.seed,
                clock=self.clock,
                policy=self.policy,
                ucwa_format=self.ucwa_format,
                quirks_source=lambda: self.quirks,
                cassette=self.cassette if self.backend_name != "fake" else Path(),
                ucwa_errors=settings.ucwa_errors,
                relay_errors=settings.relay_errors,
                rebase=self.state.rebase,
                record_mode=self.state.record_mode,
                secret_patterns=secret_patterns(config) if self.backend_name == "live" else [],
                shared=settings.cassette is not None,
                run_id=self.state.run_id,
                revoked=settings.revoked,
                cors_origins=settings.cors_origins,
                ucwa_online=settings.ucwa_online,
            )
            if self._quirks is None:  # no override: the location without building the quirks
                inputs.relay_location = settings.ucwa_quirks.get(
                    "location", self.state.relay_location
                )
            backend = make_backend(self.backend_name, inputs)
            if self._tokens and isinstance(backend, FakeBackend):
                backend.adopt_tokens(**self._tokens)  # handed out before: still the test's
            self._backend = backend
        return backend

    def finish(self) -> None:
        """The test item's finalizer: stop the fakes, record coverage, drop the context, and
        fail the test on what strict mode does not allow."""
        item = self.item
        state = self.state
        if state.passed_call != item.nodeid and self._backend is not None:
            self.unfinished = _why_unfinished(item, state.failed_call == item.nodeid)
        try:
            problems = self.teardown(state.failed_call == item.nodeid)
        finally:
            del item.stash[CONTEXT_KEY]  # nothing of the test stays in its item
            if self.own_clock is None:  # a clock relaytokens_clock stashed, if any
                drop_clock(item)
        # --setup-only / --setup-plan run no test body: nothing was meant to be consumed
        if problems and not item.config.getoption("setuponly", False):
            pytest.fail("\n\n".join(problems), pytrace=False)

    def mark_used(self) -> None:
        state = self.state
        state.current_used = self.item.nodeid
        if not state.flagged:
            mark_item_used(self.item, self.item.config)

    # --- what the fixtures ask for --------------------------------------------------------------
    def service(self, api: str) -> Any:
        """The test's one ``api`` service ("ucwa" or "relay") of its backend."""
        if self.backend_name != "fake":
            self._fake_only()
        with self._backend_errors():
            service = self.backend.api_service(api)
        self._home_hosts.setdefault(api, service.host)  # before a loopback server moves it
        return service

    def _fake_only(self) -> None:
        """Markers that act on the fakes fail a test on another backend, naming them."""
        settings = self.settings
        used = [
            name
            for name, on in (
                ("ucwa_error/relay_error", settings.ucwa_errors or settings.relay_errors),
                ("token_revoked", settings.revoked),
                (
                    "relaytokens_service_options",
                    settings.cors_origins is not None or settings.ucwa_online,
                ),
            )
            if on
        ]
        if used:
            pytest.fail(
                f"{self.item.nodeid}: the {' and '.join(used)} marker(s) act on the fakes, so "
                f"they need the fake backend (this test runs on {self.backend_name!r}); mark it "
                '@pytest.mark.relaytokens_backend("fake")',
                pytrace=False,
            )

    def ucwa_token(self) -> Any:
        if self._plain and self._backend is None:  # the fast path: a factory alone
            token = self._tokens.get("ucwa")
            if token is None:
                factory = _FACTORIES.get("ucwa") or _load_factory("ucwa")
                token = factory(self.seed, self.clock, self.policy).build()
                self._tokens["ucwa"] = token
            return token
        if self.backend_name == "fake":  # the factories bind the test's clock themselves
            return self.backend.ucwa_token()
        self._fake_only()
        with self._backend_errors():
            token = self.backend.ucwa_token()
        return self._bind_clock(token)

    def ucwa_token_response(self) -> Any:
        with self._backend_errors():
            return self.backend.ucwa_token_response()

    def relay_token(self) -> Any:
        if self._plain and self._backend is None:  # the fast path: a factory alone
            token = self._tokens.get("relay")
            if token is None:
                factory = _FACTORIES.get("relay") or _load_factory("relay")
                token = factory(self.seed, self.clock, self.policy).build()
                self._tokens["relay"] = token
            return token
        if self.backend_name == "fake":  # the factories bind the test's clock themselves
            return self.backend.relay_token()
        self._fake_only()
        with self._backend_errors():
            token = self.backend.relay_token()
        return self._bind_clock(token)

    def _bind_clock(self, token: Any) -> Any:
        """Let the token answer ``is_expired()``/``remaining()`` on this test's clock."""
        from .backends import bind_clock

        return bind_clock(token, self.clock)

    @contextlib.contextmanager
    def _backend_errors(self) -> Iterator[None]:
        if self.backend_name == "live" and self.state.live_missing == "skip":
            from .backends import MissingEnvironment

            try:
                yield
            except MissingEnvironment as exc:
                pytest.skip(str(exc))
            return
        with clear_errors():
            yield

    def serve_in_process(self, api: str, fixture: str) -> Any:
        """``api``'s service, answering ``requests`` and ``httpx`` calls to its host."""
        service = self.service(api)
        self.fixtures.setdefault(api, fixture)
        self.start_network().add(service, self._home_hosts.get(api))
        return service

    def start_network(self) -> TestNetwork:
        if self.network is None:
            from .network import TestNetwork

            block = self.state.block_network and self.backend_name != "live"
            self.network = TestNetwork(
                block=block, allowed=self.allowed_hosts, on_blocked=self.blocked.append
            )
            self.network.start()
        return self.network

    def serve_on_loopback(self) -> FakeServers:
        """Both services behind one loopback server; the URLs they hand out point at it."""
        if self.server is None:
            from ..transports.server import FakeServers

            ucwa, relay = self.service("ucwa"), self.service("relay")
            self.fixtures.setdefault("ucwa", "relaytokens_server")
            self.fixtures.setdefault("relay", "relaytokens_server")
            if self.network is not None:  # keep the in-process hosts served
                self.network.add(ucwa, self._home_hosts.get("ucwa"))
                self.network.add(relay, self._home_hosts.get("relay"))
            server = FakeServers(ucwa, relay)
            server.start()
            self.server = server
            if self.backend_name == "fake":
                ucwa.base_url = relay.base_url = server.url.rstrip("/")
        return self.server

    def serve_on_shared(self, server: Any, router: Any) -> SharedServer:
        """Plug this test's fakes into the session's loopback server (``router`` routes its
        requests) until the test ends; the URLs they hand out point at it."""
        ucwa, relay = self.service("ucwa"), self.service("relay")
        self.fixtures.setdefault("ucwa", "relaytokens_shared_server")
        self.fixtures.setdefault("relay", "relaytokens_shared_server")
        network = self.start_network()
        network.add(ucwa, self._home_hosts.get("ucwa"))
        network.add(relay, self._home_hosts.get("relay"))
        router.routes = [("/api/", relay)]
        router.default = ucwa
        self._unplug = router
        if self.backend_name == "fake":
            ucwa.base_url = relay.base_url = server.url.rstrip("/")
        return SharedServer(server.url, ucwa, relay)

    # --- teardown ---------------------------------------------------------------------------
    def services(self) -> dict[str, FakeService]:
        return dict(getattr(self._backend, "services", {}) or {})

    def teardown(self, call_failed: bool) -> list[str]:
        """Stop what runs, record coverage, and return the teardown problems (strict mode)."""
        backend = self._backend
        if (
            self.network is None
            and self.server is None
            and self._unplug is None
            and not self.blocked
            and (backend is None or (backend.name == "fake" and not self.services()))
        ):  # the fast path: a token fixture alone, nothing served, nothing to check
            self._backend = None
            self._tokens.clear()
            return []
        problems: list[str] = []
        try:
            services = self.services()
            self._record_coverage(services)
            if self.blocked:
                problems.append("\n".join(dict.fromkeys(self.blocked)))
            for api, service in services.items():
                problems.extend(self._unexpected(api, service))
            if not call_failed:
                for api, service in services.items():
                    problems.extend(self._unused_faults(api, service))
                if self._backend is not None:
                    problems.extend(self._backend.teardown_problems(self.allow_unplayed))
            for path in getattr(self._backend, "used", ()):
                entry = (CASSETTE_PROPERTY, str(Path(path).resolve()))
                if entry not in self.item.user_properties:
                    self.item.user_properties.append(entry)
        finally:
            self.close()
        return problems

    def close(self) -> None:
        router, self._unplug = self._unplug, None
        if router is not None:  # the session server answers 404 until the next test plugs in
            router.routes, router.default = [], None
        server, self.server = self.server, None
        network, self.network = self.network, None
        backend, self._backend = self._backend, None
        try:
            if server is not None:
                server.stop()
        finally:
            try:
                if network is not None:
                    network.close()
            finally:
                if backend is not None:
                    if self.unfinished is not None and backend.name == "live":
                        from .backends import LiveBackend

                        if isinstance(backend, LiveBackend):
                            backend.unfinished = self.unfinished
                    backend.close()

    def _record_coverage(self, services: dict[str, FakeService]) -> None:
        served = {
            (api, exchange.error_id)
            for api, service in services.items()
            for exchange in service.log
            if exchange.error_id
        }
        served.update(getattr(self._backend, "rendered_errors", ()))
        for api, error_id in sorted(served):
            self.item.user_properties.append((ERROR_PROPERTY, f"{api}:{error_id}"))

    def _unexpected(self, api: str, service: Any) -> list[str]:
        unexpected = service.log.unexpected
        if not unexpected or not getattr(service, "fail_on_unexpected", True):
            return []
        if self.allow_unexpected:
            return []
        from .network import safe_url

        fixture = self.fixtures.get(api, f"{api}_api")
        listed = "\n".join(
            f"  {e.request.method} {safe_url(e.request.url)} -> {e.response.status}"
            for e in unexpected
        )
        return [
            f"{fixture}: the fake received {len(unexpected)} request(s) it did not expect:\n"
            f"{listed}\nTo allow them mark the test @pytest.mark.relaytokens_allow(unexpected=True)"
            f", set `{fixture}.fail_on_unexpected = False` in the test, or run with "
            "--relaytokens-allow-unexpected=true (ini relaytokens_allow_unexpected = true)."
        ]

    def _unused_faults(self, api: str, service: Any) -> list[str]:
        if self.allow_unused_faults:
            return []
        left = [f for f in service.faults.armed if f.times is not None]
        if not left:
            return []
        fixture = self.fixtures.get(api, f"{api}_api")
        listed = "\n".join(
            f"  {f.label}"
            + (f" on paths matching {f.path!r}" if f.path else "")
            + f" ({f.times} use(s) left)"
            for f in left
        )
        return [
            f"{fixture}: {len(left)} armed error(s)/fault(s) were never consumed by a request:\n"
            f"{listed}\nAllow this with @pytest.mark.relaytokens_allow(unused_faults=True) or "
            "--relaytokens-allow-unused-faults=true (ini relaytokens_allow_unused_faults = true)."
        ]


def _why_unfinished(item: pytest.Item, call_failed: bool) -> str:
    """Why a test whose call phase did not pass left an incomplete recording."""
    if call_failed:
        return "the test failed"
    if getattr(item.session, "exitstatus", None) == pytest.ExitCode.INTERRUPTED:
        return "the run was interrupted"
    return "the test did not pass"


def context_for(request: pytest.FixtureRequest) -> TestContext:
    """The test's context, resolved on first use and kept in the item's stash."""
    item = request.node
    context: TestContext | None = item.stash.get(CONTEXT_KEY, None)
    if context is None:
        context = item.stash[CONTEXT_KEY] = TestContext(request, item)
    return context


def drop_context(item: pytest.Item) -> TestContext | None:
    """Forget the test's context and clock: nothing of the test stays in its item."""
    stash = item.stash
    context = stash.get(CONTEXT_KEY, None)
    if context is not None:
        del stash[CONTEXT_KEY]
    if context is None or context.own_clock is None:  # else the clock was never stashed
        drop_clock(item)
    return context


def drop_clock(item: pytest.Item) -> None:
    """Forget the test's clock (``relaytokens_clock`` alone makes one without a context)."""
    if _CLOCK_KEY in item.stash:
        del item.stash[_CLOCK_KEY]


def mark_item_used(item: pytest.Item, config: pytest.Config) -> None:
    """Note that this test used the plugin: its failure report shows the seed, and the run's
    coverage report is printed (one report per process carries the flag to xdist's
    controller)."""
    state = config.stash[STATE_KEY]
    state.current_used = item.nodeid
    if not state.flagged:
        state.flagged = True
        item.user_properties.append((USED_PROPERTY, True))
