"""The per-test context: everything the plugin resolves for one test, once, kept in the item's
stash while the test runs and dropped at teardown.

Seed, clock, token policy, backend, UCWA format and quirks, cassette, and the test's one set
of fakes (shared by ``ucwa_api``, ``relay_api``, ``relaytokens_server`` and the token
fixtures), plus the teardown checks and the coverage bookkeeping.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import pytest

from ..clock import Clock
from .factory_tokens import factory_token
from .lifecycle import configure_service, lifecycle_problems
from .markers import MarkerSettings
from .options import RunState, derive_seed, get_option, secret_patterns
from .strict import (
    fanout_errors,
    service_secrets,
    shown_url,
    unconsumed_faults,
    unobserved_markers,
)

if TYPE_CHECKING:
    from ..http import FakeService, TokenPolicy
    from ..transports.server import FakeServers
    from ..ucwa.wire import UcwaQuirks
    from .backends import Backend
    from .network import TestNetwork

__all__ = [
    "SETTINGS_KEY",
    "STATE_KEY",
    "SharedServer",
    "TestContext",
    "cassette_path",
    "clear_errors",
]

STATE_KEY = pytest.StashKey[RunState]()
SETTINGS_KEY = pytest.StashKey[MarkerSettings]()

ERROR_PROPERTY = "relaytokens_error"
USED_PROPERTY = "relaytokens_used"
CASSETTE_PROPERTY = "relaytokens_cassette"
DESELECTED_PROPERTY = "relaytokens_deselected"

_NO_MARKERS = MarkerSettings()


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


def marker_settings(item: pytest.Item) -> MarkerSettings:
    stash = item.stash  # `in` first: Stash.get pays a KeyError for each test without markers
    return stash[SETTINGS_KEY] if SETTINGS_KEY in stash else _NO_MARKERS  # noqa: SIM401


# --- what the default setting fixtures return ------------------------------------------------
def default_seed(context: TestContext) -> int:
    return derive_seed(context.state.run_seed, context.item.nodeid)


def default_clock(context: TestContext) -> Clock:
    """The test's own clock, frozen at the run's start instant."""
    return Clock(context.state.start, frozen=True)


def default_backend(context: TestContext) -> str:
    return context.settings.backend or context.state.backend


def default_format(context: TestContext) -> str:
    return context.settings.ucwa_format or context.state.ucwa_format


def default_quirks(context: TestContext) -> UcwaQuirks:
    state: RunState = context.state
    base = state.default_quirks
    if base is None:  # options and ini: the same for every test of the run, made once
        from ..ucwa.wire import UcwaQuirks

        base = state.default_quirks = UcwaQuirks(
            uri_key=state.uri_key,  # type: ignore[arg-type]
            timestamps=state.timestamps,  # type: ignore[arg-type]
            location=state.relay_location,  # type: ignore[arg-type]
        )
    marked = context.settings.ucwa_quirks
    return dataclasses.replace(base, **marked) if marked else base


def default_policy(context: TestContext) -> TokenPolicy:
    return policy_for(context.settings, context.state)


def policy_for(settings: MarkerSettings, state: RunState) -> TokenPolicy:
    """The token policy the expiry markers ask for (one shared default when none does)."""
    if settings is not _NO_MARKERS and settings.any_token_policy:
        from ..http import TokenPolicy

        return TokenPolicy(
            settings.already_expired,
            settings.lifetime,
            settings.never_expires,
            settings.server_skew,
        )
    policy = state.default_policy
    if policy is None:
        from ..http import TokenPolicy

        policy = state.default_policy = TokenPolicy()
    return policy


def marked_policy(policy: TokenPolicy, settings: MarkerSettings) -> TokenPolicy:
    """``policy`` with what the expiry and skew markers of ``settings`` set replacing it."""
    changes: dict[str, Any] = {}
    if settings.already_expired or settings.lifetime is not None or settings.never_expires:
        changes.update(
            already_expired=settings.already_expired,
            lifetime=settings.lifetime,
            never_expires=settings.never_expires,
        )
    if settings.server_skew:
        changes["server_skew"] = settings.server_skew
    return dataclasses.replace(policy, **changes) if changes else policy


#: The setting fixtures and what the plugin's own definition of each gives a test.
DEFAULTS: dict[str, Callable[[TestContext], Any]] = {
    "relaytokens_seed": default_seed,
    "relaytokens_clock": default_clock,
    "relaytokens_token_policy": default_policy,
    "relaytokens_backend": default_backend,
    "relaytokens_ucwa_format": default_format,
    "relaytokens_ucwa_quirks": default_quirks,
}

_API_FIXTURES = {"ucwa": "ucwa_api", "relay": "relay_api"}
PLUGIN_MODULE = "pytest_relaytokens.plugin"  # where the plugin's own fixtures are defined
_DEFINES_KEY = pytest.StashKey[dict[str, bool]]()


def plugin_defines(request: pytest.FixtureRequest, fixture: str, known: dict[str, bool]) -> bool:
    """Whether pytest would set ``fixture`` up for this test from the plugin's own definition
    (no conftest, module, class or ``name=`` override). Asked of pytest's own fixture lookup,
    ``FixtureManager.getfixturedefs``, through the private ``request._fixturemanager``:
    pytest has no public way to ask which definition a test gets without setting it up, and
    one set-up per setting would cost more than the token itself (docs/performance.md;
    tests/test_plugin_overrides.py pins every spelling). ``known``: the answers cached for
    the test's module or class (``parent.stash``)."""
    ours: bool | None = known.get(fixture)
    if ours is None:
        item = request.node
        where: Any = item if pytest.version_tuple >= (8, 1) else item.nodeid
        found = request._fixturemanager.getfixturedefs(fixture, where)
        last = found[-1] if found else None
        module = getattr(getattr(last, "func", None), "__module__", None)
        ours = known[fixture] = module == PLUGIN_MODULE
    return bool(ours)


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


class SharedServer(NamedTuple):
    """The session's loopback server as one test sees it: its ``url`` and this test's fakes."""

    url: str
    ucwa: Any
    relay: Any


CONTEXT_KEY = pytest.StashKey["TestContext"]()


def context_for(request: pytest.FixtureRequest) -> TestContext:
    """This test's context, made by the first plugin fixture that needs it; an item finalizer
    (run in order with the fixtures' teardowns) stops its fakes and runs the strict checks."""
    item = request.node
    stash = item.stash  # `in` first: Stash.get pays a KeyError for each new test
    if CONTEXT_KEY in stash:
        found: TestContext = stash[CONTEXT_KEY]
        return found
    context = stash[CONTEXT_KEY] = TestContext(request, item)
    item.addfinalizer(context.finish)
    return context


class TestContext:
    """Everything the plugin resolved for one test (see the module docstring)."""

    __test__ = False  # not a test class

    # What most tests never set, read from the class until set (fewer stores per test).
    _backend: Backend | None = None
    #: why the test's recording is not a complete one (None: its call phase passed)
    unfinished: str | None = None
    _cassette: Path | None = None
    network: TestNetwork | None = None
    server: FakeServers | None = None
    _unplug: Any = None  # the session server's router serving this test's fakes
    #: setting fixture -> an override's value (an override, or a parametrization), checked
    _overridden: dict[str, Any] | None = None
    # the settings with markers on top, once resolved (see the properties below)
    _policy: TokenPolicy | None = None
    _backend_name: str | None = None
    _ucwa_format: str | None = None
    _quirks: UcwaQuirks | None = None

    def __init__(self, request: pytest.FixtureRequest, item: Any = None) -> None:
        if item is None:
            item = request.node
        self.request = request
        self.item = item
        self.state = item.config.stash[STATE_KEY]
        self.settings = marker_settings(item)
        self.blocked: list[str] = []
        self.fixtures: dict[str, str] = {}  # api -> the fixture name that serves it
        self._home_hosts: dict[str, str] = {}  # api -> the host its service had at creation
        self._defaults: dict[str, Any] = {}  # setting fixture -> the plugin's own value
        callspec = getattr(item, "callspec", None)
        #: the fixtures this test parametrizes (directly or indirectly)
        self._params: dict[str, Any] = {} if callspec is None else callspec.params
        self._known: dict[str, bool] | None = None  # plugin_defines, cached per module/class
        self._tokens: dict[str, Any] = {}  # api -> the token handed to the test
        # this test used the plugin: its failure report shows the seed, and the run's coverage
        # report is printed (one report per process carries the flag to xdist's controller)
        state = self.state
        state.current_used = item.nodeid
        if not state.flagged:
            state.flagged = True
            item.user_properties.append((USED_PROPERTY, True))

    # --- settings: each one a fixture, resolved on first use ------------------------------------
    def default(self, fixture: str) -> Any:
        """What the plugin's own definition of setting ``fixture`` gives this test (its
        parameter when a test parametrizes it indirectly), made once: the fixture and the
        fakes share it (one clock)."""
        found = self._defaults
        if fixture not in found:
            params = self._params  # indirect parametrize: pytest hands it to the fixture
            found[fixture] = params[fixture] if fixture in params else DEFAULTS[fixture](self)
        return found[fixture]

    def setting(self, fixture: str) -> Any:
        """Setting ``fixture`` for this test: computed here when pytest would pick the
        plugin's own definition, else set up by pytest (an override however declared, or a
        parametrization) and checked. A test pays for the settings it uses, not one fixture
        each."""
        known = self._known
        if known is None:
            known = self._known = self.item.parent.stash.setdefault(_DEFINES_KEY, {})
        ours = known.get(fixture)
        if ours is None:
            ours = plugin_defines(self.request, fixture, known)
        if ours and fixture not in self._params:
            found = self._defaults
            if fixture not in found:
                found[fixture] = DEFAULTS[fixture](self)
            return found[fixture]
        overridden = self._overridden
        if overridden is None:
            overridden = self._overridden = {}
        if fixture not in overridden:
            value = self.request.getfixturevalue(fixture)
            if fixture in _VALID:
                _checked(fixture, value, self.item)
            overridden[fixture] = value
        return overridden[fixture]

    # Each resolved on first use and kept (plain properties: functools.cached_property takes
    # a lock on every first access before Python 3.12, the larger part of a setting's cost).
    @property
    def seed(self) -> int:
        seed: int = self.setting("relaytokens_seed")
        return seed

    @property
    def clock(self) -> Clock:
        clock: Clock = self.setting("relaytokens_clock")
        return clock

    @property
    def policy(self) -> TokenPolicy:
        """``relaytokens_token_policy`` with the expiry and skew markers on top (a marker wins
        over an override, as ``ucwa_format`` does)."""
        policy = self._policy
        if policy is None:
            policy = self.setting("relaytokens_token_policy")
            if self.settings is not _NO_MARKERS:
                policy = marked_policy(policy, self.settings)
            self._policy = policy
        return policy

    @property
    def backend_name(self) -> str:
        """The ``relaytokens_backend`` marker, else ``relaytokens_backend``."""
        name = self._backend_name
        if name is None:
            name = self._backend_name = self.settings.backend or self.setting("relaytokens_backend")
        return name

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
    def ucwa_format(self) -> str:
        """The ``ucwa_format`` marker, else ``relaytokens_ucwa_format``."""
        fmt = self._ucwa_format
        if fmt is None:
            fmt = self.settings.ucwa_format or self.setting("relaytokens_ucwa_format")
            self._ucwa_format = fmt
        return fmt

    @property
    def quirks(self) -> UcwaQuirks:
        """``relaytokens_ucwa_quirks`` with the ``ucwa_quirks`` marker's keywords on top."""
        quirks = self._quirks
        if quirks is None:
            quirks = self.setting("relaytokens_ucwa_quirks")
            marked = self.settings.ucwa_quirks
            quirks = self._quirks = dataclasses.replace(quirks, **marked) if marked else quirks
        return quirks

    @property
    def cassette(self) -> Path:
        if self._cassette is None:
            self._cassette = cassette_path(self.item)
        return self._cassette

    @property
    def backend(self) -> Backend:
        backend = self._backend
        if backend is None:
            from .backends import TestInputs, make_backend

            config = self.item.config
            settings = self.settings
            inputs = TestInputs(
                nodeid=self.item.nodeid,
                seed=self.seed,
                clock=self.clock,
                policy=self.policy,
                format_source=lambda: self.ucwa_format,
                quirks_source=lambda: self.quirks,
                cassette=self.cassette if self.backend_name != "fake" else Path(),
                # strict.py: markers and the fan-out id, each checked at teardown
                ucwa_errors=[*settings.ucwa_errors, *fanout_errors(self.item, "ucwa")],
                relay_errors=[*settings.relay_errors, *fanout_errors(self.item, "relay")],
                rebase=self.state.rebase,
                record_mode=self.state.record_mode,
                secret_patterns=secret_patterns(config) if self.backend_name == "live" else [],
                shared=settings.cassette is not None,
                run_id=self.state.run_id,
                revoked=settings.revoked,
                cors_origins=settings.cors_origins,
                ucwa_online=settings.ucwa_online,
                replay={**self.state.replay, **settings.replay},  # relaytokens_replay over ini
                marked_ucwa=(settings.ucwa_format is not None, bool(settings.ucwa_quirks)),
                tokens=self._tokens,  # one token a test, also when issued before the backend
            )
            backend = self._backend = make_backend(self.backend_name, inputs)
        return backend

    def finish(self) -> None:
        """The context's teardown (an item finalizer): stop the fakes, record coverage, and
        fail the test on what strict mode does not allow."""
        item = self.item
        del item.stash[CONTEXT_KEY]
        if self._backend is None and self._nothing_to_check():
            return  # a token fixture alone: nothing served, nothing to check
        state = self.state
        call_failed = state.failed_call == item.nodeid
        if state.passed_call != item.nodeid and self._backend is not None:
            self.unfinished = _why_unfinished(item, call_failed)
        problems = self.teardown(call_failed)
        # --setup-only / --setup-plan run no test body: nothing was meant to be consumed
        if problems and not item.config.getoption("setuponly", False):
            pytest.fail("\n\n".join(problems), pytrace=False)

    # --- what the fixtures ask for --------------------------------------------------------------
    def service(self, api: str) -> Any:
        """The test's one ``api`` service ("ucwa" or "relay") of its backend."""
        if self.backend_name != "fake":
            self._fake_only()
        with self._backend_errors():
            service = self.backend.api_service(api)
        configure_service(self.item, service, self.seed)  # lifecycle markers (chaos, Date)
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

    def token(self, api: str) -> Any:
        """The test's ``api`` token ("ucwa" or "relay"): issued by the test's fake when the
        test uses that fake too (the fakes bind the test's clock themselves), else read from
        the backend and bound to the test's clock."""
        if self.backend_name == "fake":
            names = self.item.fixturenames
            if (
                _API_FIXTURES[api] in names
                or "relaytokens_server" in names
                or "relaytokens_shared_server" in names
            ):  # the test uses the fake: it issues the token
                self.service(api)
            if api == "ucwa" and (
                "relaytokens_turn" in names or "relaytokens_shared_turn" in names
            ):
                for turn in ("relaytokens_turn", "relaytokens_shared_turn"):
                    if turn in names:  # its relays point there
                        self.request.getfixturevalue(turn)
            if self._backend is not None:
                return self._issue(api)
            token = self._tokens.get(api)
            if token is None:  # a token alone: built as the fake would, with no backend
                location = self.quirks.location if api == "ucwa" else None
                token = self._tokens[api] = factory_token(
                    api, self.seed, self.clock, self.policy, location
                )
            return token
        self._fake_only()
        with self._backend_errors():
            token = self._issue(api)
        return self._bind_clock(token)

    def _issue(self, api: str) -> Any:
        backend = self.backend
        return backend.ucwa_token() if api == "ucwa" else backend.relay_token()

    def ucwa_token_response(self) -> Any:
        with self._backend_errors():
            return self.backend.ucwa_token_response()

    def _bind_clock(self, token: Any) -> Any:
        """Let the token answer ``is_expired()``/``remaining()`` on this test's clock."""
        from ..clock import bind_clock

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
            server = self._tls_servers(ucwa, relay) or FakeServers(ucwa, relay)
            server.start()
            self.server = server
            if self.backend_name == "fake":
                ucwa.base_url = relay.base_url = server.url.rstrip("/")
        return self.server

    def _tls_servers(self, ucwa: Any, relay: Any) -> FakeServers | None:
        """``relaytokens_service_options(tls=True)``: the server over https (throwaway CA)."""
        if not marker_settings(self.item).tls:
            return None
        from ..transports.tls import ThrowawayCA, TlsFakeServers

        try:
            return TlsFakeServers(ucwa, relay, ThrowawayCA())
        except RuntimeError as error:  # trustme missing: say which extra to install
            pytest.fail(f"relaytokens_service_options(tls=True): {error}", pytrace=False)

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

    def _nothing_to_check(self) -> bool:
        return (
            self.network is None
            and self.server is None
            and self._unplug is None
            and not self.blocked
        )

    def teardown(self, call_failed: bool) -> list[str]:
        """Stop what runs, record coverage, and return the teardown problems (strict mode)."""
        backend = self._backend
        if self._nothing_to_check() and (
            backend is None or (backend.name == "fake" and not self.services())
        ):  # a token fixture alone, nothing served, nothing to check
            self._backend = None
            return []
        problems: list[str] = []
        try:
            services = self.services()
            self._record_coverage(services)
            if self.blocked:
                problems.append("\n".join(dict.fromkeys(self.blocked)))
            for api, service in services.items():
                problems.extend(self._unexpected(api, service))
            problems.extend(lifecycle_problems(self.item, services))
            if not call_failed:
                for api, service in services.items():
                    problems.extend(self._unused_faults(api, service))
                if services and backend is not None and backend.name == "fake":
                    rendered = getattr(backend, "rendered", ())
                    problems.extend(
                        unobserved_markers(self.settings, services, self.fixtures, rendered)
                    )
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
        fixture = self.fixtures.get(api, f"{api}_api")
        secrets = service_secrets(service)
        listed = "\n".join(
            f"  {e.request.method} {shown_url(e.request.url, secrets)} -> {e.response.status}"
            for e in unexpected
        )
        explain = getattr(service, "miss_report", None)  # replay: the nearest recorded ones
        if callable(explain) and (report := explain()):
            listed += f"\n{report}"
        return [
            f"{fixture}: the fake received {len(unexpected)} request(s) it did not expect:\n"
            f"{listed}\nTo allow them mark the test @pytest.mark.relaytokens_allow(unexpected=True)"
            f", set `{fixture}.fail_on_unexpected = False` in the test, or run with "
            "--relaytokens-allow-unexpected=true (ini relaytokens_allow_unexpected = true)."
        ]

    def _unused_faults(self, api: str, service: Any) -> list[str]:
        if self.allow_unused_faults:
            return []
        return unconsumed_faults(self.fixtures.get(api, f"{api}_api"), service)  # strict.py


def _why_unfinished(item: pytest.Item, call_failed: bool) -> str:
    """Why a test whose call phase did not pass left an incomplete recording."""
    if call_failed:
        return "the test failed"
    if getattr(item.session, "exitstatus", None) == pytest.ExitCode.INTERRUPTED:
        return "the run was interrupted"
    return "the test did not pass"


def _checked(fixture: str, value: Any, item: pytest.Item) -> Any:
    """A setting fixture's value, checked: an override returning something unusable fails
    the test naming the fixture."""
    valid = _VALID[fixture]
    if fixture == "relaytokens_seed":
        good = isinstance(value, int) and not isinstance(value, bool)
    else:
        good = value in valid
    if not good:
        pytest.fail(
            f"{item.nodeid}: the override of fixture {fixture} returned {value!r}; "
            f"valid values: {', '.join(valid)}",
            pytrace=False,
        )
    return value


_VALID = {
    "relaytokens_seed": ("an int",),
    "relaytokens_backend": ("fake", "replay", "live"),
    "relaytokens_ucwa_format": ("json", "xml"),
}
