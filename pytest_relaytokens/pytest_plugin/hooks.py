"""The pytest plugin: options, markers, hooks and fixtures only.

Everything heavy (pydantic models, faker, responses, httpx, vcrpy) is imported inside the
fixtures that need it, so loading this module in every pytest run costs next to nothing.
Per-test work lives in :mod:`.context` (one context per test, in the item's stash).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .context import (
    _CLOCK_KEY,
    CASSETTE_PROPERTY,
    CONTEXT_KEY,
    SETTINGS_KEY,
    STATE_KEY,
    SharedServer,
    TestContext,
    cassette_path,
    clear_errors,
    context_for,
    default_backend,
    default_format,
    default_policy,
    default_quirks,
    drop_clock,
    mark_item_used,
    own_clock,
)
from .markers import MARKERS, read_markers
from .options import OPTIONS, RunState, check_options, derive_seed, get_option

if TYPE_CHECKING:
    from faker import Faker

    from ..clock import Clock
    from ..core import FakeResponse, TokenPolicy
    from ..relay.catalogue import RelayErrorEntry
    from ..relay.models import RelayAccessToken
    from ..relay.service import RelayService
    from ..transports.server import FakeServers
    from ..ucwa.catalogue import UcwaErrorEntry
    from ..ucwa.models import MediaRelayAccessToken
    from ..ucwa.service import UcwaService
    from ..ucwa.wire import UcwaQuirks

_OUR_MARKERS = frozenset(MARKERS)
#: Fixtures that make a test use a cassette (for the same-file check at collection).
_CASSETTE_FIXTURES = frozenset(
    {
        "ucwa_api",
        "relay_api",
        "relaytokens_server",
        "relaytokens_shared_server",
        "ucwa_token",
        "ucwa_token_response",
        "relay_access_token",
        "relaytokens_cassette",
    }
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("relaytokens", "fake UCWA and Relay token APIs (pytest-relaytokens)")
    for name, (help_text, default, choices) in OPTIONS.items():
        flag = f"--relaytokens-{name.replace('_', '-')}"
        shown = "" if default is None else f"; default: {default}"
        suffix = f" (ini: relaytokens_{name}{shown})"
        group.addoption(
            flag,
            dest=f"relaytokens_{name}",
            default=None,
            metavar=name.upper() if not choices else "{" + ",".join(choices) + "}",
            help=help_text + suffix,
        )
        parser.addini(f"relaytokens_{name}", help_text, default=None)
    group.addoption(
        "--relaytokens-secret-pattern",
        dest="relaytokens_secret_patterns",
        action="append",
        default=[],
        metavar="REGEX",
        help="an extra secret pattern: recording redacts its matches and refuses to write a "
        "cassette still matching it (repeatable; ini: relaytokens_secret_patterns, one per line)",
    )
    parser.addini(
        "relaytokens_secret_patterns",
        "extra secret patterns (regular expressions), one per line",
        type="linelist",
        default=[],
    )


@pytest.hookimpl(trylast=True)  # after pytest-randomly has settled its seed
def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS.values():
        config.addinivalue_line("markers", line)
    check_options(config)  # every bad option or ini key at once, before any test
    state = config.stash[STATE_KEY] = RunState.from_config(config)
    from .report import ReportCollector

    track = get_option(config, "unused_cassettes") == "true"
    config.pluginmanager.register(
        ReportCollector(state, track, hasattr(config, "workerinput")),
        "relaytokens-report-collector",
    )


def _split_selectors(option: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in option.split(",") if s.strip())


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist: every worker gets the controller's run seed."""
    state = node.config.stash[STATE_KEY]
    node.workerinput["relaytokens_seed"] = state.run_seed
    node.workerinput["relaytokens_run_id"] = state.run_id


def pytest_report_header(config: pytest.Config) -> str:
    seed = config.stash[STATE_KEY].run_seed
    return f"relaytokens: run seed {seed} (reproduce with --relaytokens-seed={seed})"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Validate every relaytokens marker of the run now (all problems at once), let an error
    marker alone activate the fake it arms, and refuse two tests sharing a cassette file by
    accident."""
    problems: list[tuple[pytest.Item, str]] = []
    parents: dict[int, bool] = {}
    for item in items:
        if not carries_our_markers(item, parents):
            continue
        settings, found = read_markers(item)
        problems.extend((item, problem) for problem in found)
        item.stash[SETTINGS_KEY] = settings
        names = getattr(item, "fixturenames", None)
        if names is None:
            continue
        for needed, wanted in (
            ("ucwa_api", settings.ucwa_errors),
            ("relay_api", settings.relay_errors),
        ):
            if wanted and needed not in names:
                names.append(needed)
    if not problems:
        problems.extend(_cassette_collisions(items))
    if not problems:
        return
    if hasattr(config, "workerinput"):
        # An xdist worker cannot stop the run with a usage error (xdist reports a crash):
        # each test concerned errors at setup with its problems instead.
        config.pluginmanager.register(_ProblemReporter(problems), "relaytokens-problems")
        return
    listed = "\n".join(dict.fromkeys(problem for _, problem in problems))
    count = len(dict.fromkeys(problem for _, problem in problems))
    raise pytest.UsageError(f"relaytokens: {count} problem(s) with markers or cassettes:\n{listed}")


def carries_our_markers(item: pytest.Item, parents: dict[int, bool]) -> bool:
    """Whether ``item`` or a node above it carries a relaytokens marker: the same answer as
    scanning ``item.iter_markers()``, with each parent's chain scanned once per collection
    (``parents``, by node id) instead of once per test."""
    for mark in item.own_markers:
        if mark.name in _OUR_MARKERS:
            return True
    parent = item.parent
    if parent is None:
        return False
    found = parents.get(id(parent))
    if found is None:
        found = parents[id(parent)] = any(m.name in _OUR_MARKERS for m in parent.iter_markers())
    return found


class _ProblemReporter:
    """Fails each test with a wrong marker (or a clashing cassette) at setup, under xdist."""

    def __init__(self, problems: list[tuple[pytest.Item, str]]) -> None:
        self.problems: dict[str, list[str]] = {}
        for item, problem in problems:
            self.problems.setdefault(item.nodeid, []).append(problem)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        found = self.problems.get(item.nodeid)
        if found:
            pytest.fail("relaytokens: usage error:\n" + "\n".join(found), pytrace=False)


def _cassette_collisions(items: list[pytest.Item]) -> list[tuple[pytest.Item, str]]:
    """Two tests whose default cassette files are the same (case-folded): one would replay or
    overwrite the other's recording. A cassette named by the marker is shared on purpose."""
    owners: dict[str, list[pytest.Item]] = {}
    run_backend = items[0].config.stash[STATE_KEY].backend if items else "fake"
    for item in items:
        names = getattr(item, "fixturenames", ())
        if not _CASSETTE_FIXTURES.intersection(names):
            continue
        settings = item.stash.get(SETTINGS_KEY, None)
        if settings is not None and settings.cassette is not None:
            continue
        backend = (settings.backend if settings is not None else None) or run_backend
        if backend == "fake" and "relaytokens_cassette" not in names:
            continue  # the fake backend reads and writes no cassette
        path = cassette_path(item)
        owners.setdefault(str(path).casefold(), []).append(item)
    problems: list[tuple[pytest.Item, str]] = []
    for tests in owners.values():
        if len({t.nodeid for t in tests}) > 1:
            problem = (
                f"tests {', '.join(t.nodeid for t in tests)} resolve to the same cassette file "
                f"{cassette_path(tests[0])}; rename one, or share the file on purpose with "
                "@pytest.mark.relaytokens_cassette(path) on each"
            )
            problems.extend((test, problem) for test in tests)
    return problems


def pytest_deselected(items: list[pytest.Item]) -> None:
    """Remember the cassettes of deselected tests, so the unused-cassettes report skips them."""
    if not items:
        return
    config = items[0].config
    state: RunState | None = config.stash.get(STATE_KEY, None)
    if state is None or get_option(config, "unused_cassettes") != "true":
        return
    from ..errors import RelayTokensError

    for item in items:
        try:
            state.deselected.add(str(cassette_path(item).resolve()))
        except (TypeError, ValueError, OSError, LookupError, RelayTokensError):
            continue


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Fan ``ucwa_error`` and ``relay_error`` out over every catalogued error."""
    wanted = [n for n in ("ucwa_error", "relay_error") if n in metafunc.fixturenames]
    if not wanted:
        return
    from ..selection import select_errors

    marker = metafunc.definition.get_closest_marker("relaytokens_errors")
    selectors: tuple[str, ...] | None = None
    if marker is not None and marker.args and all(isinstance(a, str) for a in marker.args):
        selectors = tuple(marker.args)
    elif marker is None:
        option = get_option(metafunc.config, "errors")
        selectors = _split_selectors(option) if option else None
    for name in wanted:
        api = name.split("_")[0]
        try:
            entries = select_errors(api, selectors)
        except LookupError:  # reported with every other marker problem at collection
            entries = select_errors(api, None)
        metafunc.parametrize(name, entries, ids=[e.id for e in entries], indirect=True)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return
    state: RunState | None = config.stash.get(STATE_KEY, None)
    if state is None:
        return
    from . import report

    if get_option(config, "unused_cassettes") == "true":
        report.report_unused_cassettes(terminalreporter, config, state)
    if not state.used:
        return
    built = report.build_report(state.exercised)
    if get_option(config, "coverage") != "off":
        terminalreporter.write_sep("-", "relaytokens error coverage")
        verbose = int(getattr(config.option, "verbose", 0) or 0) > 0
        for line in report.render_terminal(built, verbose=verbose):
            terminalreporter.write_line(line)
    path = get_option(config, "report")
    if path:
        report.write_json(built, path)
        terminalreporter.write_line(f"relaytokens: error-coverage report written to {path}")


# ---------------------------------------------------------------------------- fixtures


#: The fixtures that find their request through :func:`pytest_fixture_setup`.
_LIGHT_FIXTURES = frozenset(
    {
        "relaytokens_seed",
        "relaytokens_clock",
        "relaytokens_token_policy",
        "relaytokens_ucwa_format",
        "relaytokens_ucwa_quirks",
        "relaytokens_backend",
        "ucwa_token",
        "relay_access_token",
    }
)
#: pytest's request for each of those fixtures while it is being set up, by fixture name.
_SETTING_UP: dict[str, pytest.FixtureRequest] = {}


@pytest.hookimpl(tryfirst=True)
def pytest_fixture_setup(fixturedef: Any, request: pytest.FixtureRequest) -> None:
    """Hand our light fixtures their request (pytest's public hook, called just before it
    calls the fixture function). A fixture that asks for ``request`` makes pytest build a
    new fixture definition for it at every test (~70k instructions each, three per token
    test); this hook costs a dict check per fixture set up. Returns None: pytest sets the
    fixture up as usual."""
    if fixturedef.argname in _LIGHT_FIXTURES:
        _SETTING_UP[fixturedef.argname] = request


def _requesting(fixture: str) -> pytest.FixtureRequest:
    """pytest's request for ``fixture``, being set up now (see :func:`pytest_fixture_setup`);
    taken, so nothing keeps it after the set-up."""
    request = _SETTING_UP.pop(fixture, None)
    if request is None or request.fixturename != fixture:
        pytest.fail(
            f"pytest-relaytokens: the fixture {fixture!r} was set up without its "
            "pytest_fixture_setup hook (is the plugin registered under another name, or did "
            "another plugin answer that hook first?); request it as a test or fixture "
            "argument through pytest",
            pytrace=False,
        )
    return request


def _enter(request: pytest.FixtureRequest) -> TestContext:
    """This test's context, made on first use; the test item's finalizer (it runs after the
    teardown of every fixture set up after it) stops the fakes, records what they served for
    the coverage report and fails the test on what strict mode does not allow."""
    item = request.node
    context: TestContext | None = item.stash.get(CONTEXT_KEY, None)
    if context is None:
        context = item.stash[CONTEXT_KEY] = TestContext(request, item)
        state = context.state
        state.current_used = item.nodeid  # context.mark_used(), inlined
        if not state.flagged:
            mark_item_used(item, item.config)
        item.addfinalizer(context.finish)
    return context


@pytest.fixture
def _relaytokens_context(request: pytest.FixtureRequest) -> TestContext:
    """This test's context (see :func:`_enter`)."""
    return _enter(request)


@pytest.fixture
def relaytokens_seed() -> int:
    """This test's seed for every fake and factory: derived from the run seed and the test id.

    Same run seed, same tokens, whatever the order or xdist worker. Set the run seed with
    ``--relaytokens-seed`` (or ini ``relaytokens_seed``), or override this fixture in a conftest.
    With ``--relaytokens-start`` fixed too, tokens are identical byte for byte.
    """
    item = _requesting("relaytokens_seed").node
    return derive_seed(item.config.stash[STATE_KEY].run_seed, item.nodeid)


@pytest.fixture
def relaytokens_clock() -> Clock:
    """The clock every fake and factory of this test reads: ``now()``, ``advance(seconds)``,
    ``set(dt)``. Frozen at the test's start: it moves only with ``advance``/``set``."""
    item = _requesting("relaytokens_clock").node
    stash = item.stash
    if CONTEXT_KEY not in stash and _CLOCK_KEY not in stash:  # made here: dropped at the end
        item.addfinalizer(functools.partial(drop_clock, item))
    return own_clock(item, item.config.stash[STATE_KEY])


@pytest.fixture
def relaytokens_token_policy() -> TokenPolicy:
    """The token lifetime rules the expiry markers ask for (a :class:`TokenPolicy`)."""
    return default_policy(_requesting("relaytokens_token_policy").node)


@pytest.fixture
def relaytokens_ucwa_format() -> str:
    """The UCWA representation this test uses, ``"json"`` or ``"xml"``: the ``ucwa_format``
    marker, else the option/ini."""
    item = _requesting("relaytokens_ucwa_format").node
    return default_format(item, item.config.stash[STATE_KEY])


@pytest.fixture
def relaytokens_ucwa_quirks() -> UcwaQuirks:
    """The UCWA wire quirks (``UcwaQuirks``) this test uses: options/ini, then the
    ``ucwa_quirks`` marker's keywords."""
    item = _requesting("relaytokens_ucwa_quirks").node
    return default_quirks(item, item.config.stash[STATE_KEY])


@pytest.fixture
def relaytokens_backend() -> str:
    """Where this test's token and API fixtures come from: ``"fake"`` (default), ``"replay"``
    (cassettes) or ``"live"`` (``RELAYTOKENS_*`` environment variables): the
    ``relaytokens_backend`` marker, else the option/ini."""
    item = _requesting("relaytokens_backend").node
    return default_backend(item, item.config.stash[STATE_KEY])


@pytest.fixture
def relaytokens_cassette(request: pytest.FixtureRequest) -> Path:
    """This test's cassette file: the ``relaytokens_cassette`` marker, else
    ``<test module dir>/cassettes/<module>/<Class.test_name>.yaml`` (``--relaytokens-cassette-dir``
    replaces ``<test module dir>/cassettes``)."""
    with clear_errors():
        path = cassette_path(request.node)
    if path.is_file():  # the test has its cassette in hand: it counts as used
        request.node.user_properties.append((CASSETTE_PROPERTY, str(path.resolve())))
    return path


@pytest.fixture
def relaytokens_faker(relaytokens_seed: int) -> Faker:
    """A Faker seeded with this test's seed, with the ``RelayTokensProvider`` added
    (``fake.ucwa_media_relay_access_token()``, ``fake.relay_access_token()``, ...)."""
    from faker import Faker

    from ..fakedata import RelayTokensProvider

    fake = Faker()
    fake.seed_instance(relaytokens_seed)
    fake.add_provider(RelayTokensProvider)
    return fake


def _wants_service(request: pytest.FixtureRequest, api: str) -> bool:
    """The test asks for ``api``'s service (one requested dynamically earlier is already in the
    context's backend, which then issues the token)."""
    names = request.node.fixturenames
    return len(names) > 1 and (  # one name: the token fixture itself
        f"{api}_api" in names
        or "relaytokens_server" in names
        or "relaytokens_shared_server" in names
    )


@pytest.fixture
def ucwa_token() -> MediaRelayAccessToken:
    """A realistic UCWA ``MediaRelayAccessToken`` (480 minutes, valid from now on the test's
    clock, or as the expiry markers say), issued by the test's UCWA fake when the test uses
    one; ``is_expired()``/``remaining()`` read the test's clock."""
    request = _requesting("ucwa_token")
    context = _enter(request)
    if context.backend_name == "fake" and _wants_service(request, "ucwa"):
        context.service("ucwa")
    token: MediaRelayAccessToken = context.ucwa_token()
    return token


@pytest.fixture
def ucwa_token_response(
    _relaytokens_context: TestContext, ucwa_token: MediaRelayAccessToken
) -> FakeResponse:
    """The full HTTP response (``status``, ``headers``, ``body`` bytes) of a
    ``GET .../mediaRelayAccessToken`` for ``ucwa_token``, in the test's format and quirks."""
    response: FakeResponse = _relaytokens_context.ucwa_token_response()
    return response


@pytest.fixture
def relay_access_token() -> RelayAccessToken:
    """A realistic Relay ``RelayAccessToken`` (two weeks, or as the expiry markers say), issued
    by the test's Relay fake when the test uses one; ``is_expired()``/``remaining()`` read the
    test's clock."""
    request = _requesting("relay_access_token")
    context = _enter(request)
    if context.backend_name == "fake" and _wants_service(request, "relay"):
        context.service("relay")
    token: RelayAccessToken = context.relay_token()
    return token


@pytest.fixture
def ucwa_api(_relaytokens_context: TestContext) -> UcwaService:
    """The test's UCWA fake, serving ``requests`` and ``httpx`` calls to its ``base_url``:
    ``credentials``, ``log``, ``arm_error(...)``, ``token_url()``. The same object as
    ``relaytokens_server.ucwa``. Strict at teardown (see the README)."""
    service: UcwaService = _relaytokens_context.serve_in_process("ucwa", "ucwa_api")
    return service


@pytest.fixture
def relay_api(_relaytokens_context: TestContext) -> RelayService:
    """The test's Relay fake, serving ``requests`` and ``httpx`` calls to its ``base_url``:
    ``credentials``, ``log``, ``issue_token(...)``, ``arm_error(...)``. The same object as
    ``relaytokens_server.relay``. Strict at teardown (see the README)."""
    service: RelayService = _relaytokens_context.serve_in_process("relay", "relay_api")
    return service


@pytest.fixture
def relaytokens_server(_relaytokens_context: TestContext) -> FakeServers:
    """A real HTTP/1.1 server on 127.0.0.1 (ephemeral port) serving the test's fakes, for
    clients in subprocesses or other languages: ``url``, ``ucwa`` and ``relay`` (the same
    services as ``ucwa_api``/``relay_api``, whose URLs now point at the server). Stopped after
    the test."""
    _relaytokens_context.start_network()
    return _relaytokens_context.serve_on_loopback()


@pytest.fixture(scope="session")
def _relaytokens_session_loopback() -> Iterator[tuple[Any, Any]]:
    """One loopback server for the whole session (per xdist worker) and its router."""
    from ..transports import PathRouter
    from ..transports.server import LoopbackServer

    router = PathRouter()
    with LoopbackServer(router) as server:
        yield server, router


@pytest.fixture
def relaytokens_shared_server(
    _relaytokens_context: TestContext, _relaytokens_session_loopback: tuple[Any, Any]
) -> SharedServer:
    """Like ``relaytokens_server``, but one server started once per session (per xdist
    worker): each test plugs in its own fresh fakes (the same as ``ucwa_api``/``relay_api``),
    so state never leaks from one test to the next. ``url``, ``ucwa``, ``relay``."""
    server, router = _relaytokens_session_loopback
    return _relaytokens_context.serve_on_shared(server, router)


def _fanout(request: pytest.FixtureRequest, api: str, path: str | None = None) -> Any:
    entry = getattr(request, "param", None)
    if entry is None:
        pytest.fail(
            f"{api}_error is parametrized by the plugin; request it directly as a test argument",
            pytrace=False,
        )
    context = context_for(request)
    if context.backend_name != "fake":
        pytest.fail(
            f"{request.node.nodeid}: the {api}_error fan-out arms the fakes, so it needs the "
            f"fake backend (this test runs on {context.backend_name!r}); mark it "
            '@pytest.mark.relaytokens_backend("fake")',
            pytrace=False,
        )
    service = request.getfixturevalue(f"{api}_api")
    service.arm_error(entry.id, times=None, path=path)
    return entry


@pytest.fixture
def ucwa_error(request: pytest.FixtureRequest, _relaytokens_context: TestContext) -> UcwaErrorEntry:
    """Each catalogued UCWA error in turn (ids like ``409-Conflict-TooManyGroups``), armed on
    ``ucwa_api`` for every ``mediaRelayAccessToken`` request. Filter with the
    ``relaytokens_errors`` marker or ``--relaytokens-errors``."""
    entry: UcwaErrorEntry = _fanout(request, "ucwa")
    return entry


@pytest.fixture
def relay_error(
    request: pytest.FixtureRequest, _relaytokens_context: TestContext
) -> RelayErrorEntry:
    """Each catalogued Relay error in turn (ids like ``401-BadCredentialsException``), armed
    on ``relay_api`` for every ``POST /api/auth/accesstokens``. Filter with the
    ``relaytokens_errors`` marker or ``--relaytokens-errors``."""
    entry: RelayErrorEntry = _fanout(request, "relay", path=r"^/api/auth/accesstokens$")
    return entry


@pytest.hookimpl(optionalhook=True)
def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    """pytest-recording: a ``vcr_config`` from ``safe_vcr_config()`` keeps its leak scan on
    every vcrpy release, and the ``vcr`` marker's extra cassettes keep loading."""
    from ..cassettes.vcr_config import adopt_pytest_recording

    adopt_pytest_recording(vcr)


__all__ = [
    "CONTEXT_KEY",
    "_relaytokens_context",
    "_relaytokens_session_loopback",
    "mark_item_used",
    "pytest_addoption",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_configure_node",
    "pytest_deselected",
    "pytest_generate_tests",
    "pytest_recording_configure",
    "pytest_report_header",
    "pytest_terminal_summary",
    "relay_access_token",
    "relay_api",
    "relay_error",
    "relaytokens_backend",
    "relaytokens_cassette",
    "relaytokens_clock",
    "relaytokens_faker",
    "relaytokens_seed",
    "relaytokens_server",
    "relaytokens_shared_server",
    "relaytokens_token_policy",
    "relaytokens_ucwa_format",
    "relaytokens_ucwa_quirks",
    "ucwa_api",
    "ucwa_error",
    "ucwa_token",
    "ucwa_token_response",
]
