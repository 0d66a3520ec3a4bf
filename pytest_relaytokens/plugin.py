"""The ``pytest11`` entry point: options, markers, hooks and fixtures only.

Settings are fixtures that depend on each other through pytest, so an override of any of
them (in a conftest, a module, a class, by ``name=`` or by parametrization) is what the fakes
use. Everything heavy (pydantic, faker, responses, httpx, vcrpy) is imported inside the
fixtures that need it; the work lives in :mod:`pytest_relaytokens.pytest_plugin`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .pytest_plugin.collection import (
    ProblemReporter,
    carries_our_markers,
    cassette_collisions,
    fanout_problems,
)
from .pytest_plugin.context import (
    CASSETTE_PROPERTY,
    SETTINGS_KEY,
    STATE_KEY,
    SharedServer,
    TestContext,
    cassette_path,
    clear_errors,
    context_for,
    policy_for,
)
from .pytest_plugin.lifecycle import (
    LIFECYCLE_MARKERS,
    LifecycleView,
    generate_lifecycle,
    marker_problems,
)
from .pytest_plugin.markers import MARKERS, read_markers
from .pytest_plugin.options import OPTIONS, RunState, check_options, get_option
from .pytest_plugin.turn import (  # noqa: F401  (fixtures: pytest finds them here)
    _relaytokens_session_turn,
    relaytokens_shared_turn,
    relaytokens_turn,
)

if TYPE_CHECKING:
    from faker import Faker

    from .clock import Clock
    from .http import FakeResponse, TokenPolicy
    from .relay.catalogue import RelayErrorEntry
    from .relay.models import RelayAccessToken
    from .relay.service import RelayService
    from .transports.server import FakeServers
    from .ucwa.catalogue import UcwaErrorEntry
    from .ucwa.models import MediaRelayAccessToken
    from .ucwa.service import UcwaService
    from .ucwa.wire import UcwaQuirks


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
    for line in (*MARKERS.values(), *LIFECYCLE_MARKERS.values()):
        config.addinivalue_line("markers", line)
    check_options(config)  # every bad option or ini key at once, before any test
    state = config.stash[STATE_KEY] = RunState.from_config(config)
    from .pytest_plugin.report import ReportCollector

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
        problems.extend((item, problem) for problem in [*found, *marker_problems(item)])
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
    problems.extend(fanout_problems(items))  # strict.py: declarations that cannot all happen
    if not problems:
        problems.extend(cassette_collisions(items))
    if not problems:
        return
    if hasattr(config, "workerinput"):
        # An xdist worker cannot stop the run with a usage error (xdist reports a crash):
        # each test concerned errors at setup with its problems instead.
        config.pluginmanager.register(ProblemReporter(problems), "relaytokens-problems")
        return
    listed = "\n".join(dict.fromkeys(problem for _, problem in problems))
    count = len(dict.fromkeys(problem for _, problem in problems))
    raise pytest.UsageError(f"relaytokens: {count} problem(s) with markers or cassettes:\n{listed}")


def pytest_deselected(items: list[pytest.Item]) -> None:
    """Remember the cassettes of deselected tests, so the unused-cassettes report skips them."""
    if not items:
        return
    config = items[0].config
    state: RunState | None = config.stash.get(STATE_KEY, None)
    if state is None or get_option(config, "unused_cassettes") != "true":
        return
    from .errors import RelayTokensError

    for item in items:
        try:
            state.deselected.add(str(cassette_path(item).resolve()))
        except (TypeError, ValueError, OSError, LookupError, RelayTokensError):
            continue


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Fan ``ucwa_error`` and ``relay_error`` out over every catalogued error."""
    generate_lifecycle(  # lifecycle markers: a fake to act on; one run per skew
        metafunc,
        lambda: policy_for(read_markers(metafunc.definition)[0], metafunc.config.stash[STATE_KEY]),
    )
    wanted = [n for n in ("ucwa_error", "relay_error") if n in metafunc.fixturenames]
    if not wanted:
        return
    from .selection import select_errors

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
    from .pytest_plugin import report

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
    report.render_lifecycle(terminalreporter, config)


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture
def relaytokens_seed(request: pytest.FixtureRequest) -> int:
    """This test's seed for every fake and factory: derived from the run seed and the test id.

    Same run seed, same tokens, whatever the order or xdist worker. Set the run seed with
    ``--relaytokens-seed`` (or ini ``relaytokens_seed``), or override this fixture.
    With ``--relaytokens-start`` fixed too, tokens are identical byte for byte.
    """
    seed: int = context_for(request).default("relaytokens_seed")
    return seed


@pytest.fixture
def relaytokens_clock(request: pytest.FixtureRequest) -> Clock:
    """The clock every fake and factory of this test reads: ``now()``, ``advance(seconds)``,
    ``set(dt)``. Frozen at the test's start: it moves only with ``advance``/``set``."""
    clock: Clock = context_for(request).default("relaytokens_clock")
    return clock


@pytest.fixture
def relaytokens_token_policy(request: pytest.FixtureRequest) -> TokenPolicy:
    """The token lifetime rules the expiry markers ask for (a :class:`TokenPolicy`)."""
    policy: TokenPolicy = context_for(request).default("relaytokens_token_policy")
    return policy


@pytest.fixture
def relaytokens_ucwa_format(request: pytest.FixtureRequest) -> str:
    """The UCWA representation this test uses, ``"json"`` or ``"xml"``: the ``ucwa_format``
    marker, else the option/ini."""
    fmt: str = context_for(request).default("relaytokens_ucwa_format")
    return fmt


@pytest.fixture
def relaytokens_ucwa_quirks(request: pytest.FixtureRequest) -> UcwaQuirks:
    """The UCWA wire quirks (``UcwaQuirks``) this test uses: options/ini, then the
    ``ucwa_quirks`` marker's keywords."""
    quirks: UcwaQuirks = context_for(request).default("relaytokens_ucwa_quirks")
    return quirks


@pytest.fixture
def relaytokens_backend(request: pytest.FixtureRequest) -> str:
    """Where this test's token and API fixtures come from: ``"fake"`` (default), ``"replay"``
    (cassettes) or ``"live"`` (``RELAYTOKENS_*`` environment variables): the
    ``relaytokens_backend`` marker, else the option/ini."""
    backend: str = context_for(request).default("relaytokens_backend")
    return backend


@pytest.fixture
def _relaytokens_context(request: pytest.FixtureRequest) -> TestContext:
    """This test's context: its fakes and, at teardown, the strict checks. Its settings are
    the fixtures above, each resolved through pytest on first use (so any override counts)
    without a fixture set-up per setting (see ``context.plugin_defines``)."""
    return context_for(request)


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
def relaytokens_lifecycle(_relaytokens_context: TestContext) -> LifecycleView:
    """The token requests and sign-ins this test's fakes got (``token_requests()``), a
    one-line count check (``assert_token_requests(1)``), ``in_flight(call, n)`` /
    ``in_flight_async(call, n)`` to run N calls at once, and ``to_dict()``."""
    return LifecycleView(_relaytokens_context.services, _relaytokens_context.item)


@pytest.fixture
def relaytokens_faker(relaytokens_seed: int) -> Faker:
    """A Faker seeded with this test's seed, with the ``RelayTokensProvider`` added
    (``fake.ucwa_media_relay_access_token()``, ``fake.relay_access_token()``, ...)."""
    from faker import Faker

    from .fakedata import RelayTokensProvider

    fake = Faker()
    fake.seed_instance(relaytokens_seed)
    fake.add_provider(RelayTokensProvider)
    return fake


@pytest.fixture
def ucwa_token(request: pytest.FixtureRequest) -> MediaRelayAccessToken:
    """A realistic UCWA ``MediaRelayAccessToken`` (480 minutes, valid from now on the test's
    clock, or as the expiry markers say), issued by the test's UCWA fake when the test uses
    one; ``is_expired()``/``remaining()`` read the test's clock."""
    token: MediaRelayAccessToken = context_for(request).token("ucwa")
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
def relay_access_token(request: pytest.FixtureRequest) -> RelayAccessToken:
    """A realistic Relay ``RelayAccessToken`` (two weeks, or as the expiry markers say), issued
    by the test's Relay fake when the test uses one; ``is_expired()``/``remaining()`` read the
    test's clock."""
    token: RelayAccessToken = context_for(request).token("relay")
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
    from .transports import PathRouter
    from .transports.server import LoopbackServer

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


def _fanout(
    request: pytest.FixtureRequest, context: TestContext, api: str, path: str | None = None
) -> Any:
    entry = getattr(request, "param", None)
    if entry is None:
        pytest.fail(
            f"{api}_error is parametrized by the plugin; request it directly as a test argument",
            pytrace=False,
        )
    if context.backend_name != "fake":
        pytest.fail(
            f"{request.node.nodeid}: the {api}_error fan-out arms the fakes, so it needs the "
            f"fake backend (this test runs on {context.backend_name!r}); mark it "
            '@pytest.mark.relaytokens_backend("fake")',
            pytrace=False,
        )
    request.getfixturevalue(f"{api}_api")  # the fake arms the id at creation (strict.py)
    return entry


@pytest.fixture
def ucwa_error(request: pytest.FixtureRequest, _relaytokens_context: TestContext) -> UcwaErrorEntry:
    """Each catalogued UCWA error in turn (ids like ``409-Conflict-TooManyGroups``), armed on
    ``ucwa_api`` for every ``mediaRelayAccessToken`` request. Filter with the
    ``relaytokens_errors`` marker or ``--relaytokens-errors``."""
    entry: UcwaErrorEntry = _fanout(request, _relaytokens_context, "ucwa")
    return entry


@pytest.fixture
def relay_error(
    request: pytest.FixtureRequest, _relaytokens_context: TestContext
) -> RelayErrorEntry:
    """Each catalogued Relay error in turn (ids like ``401-BadCredentialsException``), armed
    on ``relay_api`` for every ``POST /api/auth/accesstokens``. Filter with the
    ``relaytokens_errors`` marker or ``--relaytokens-errors``."""
    entry: RelayErrorEntry = _fanout(
        request, _relaytokens_context, "relay", path=r"^/api/auth/accesstokens$"
    )
    return entry


@pytest.hookimpl(optionalhook=True)
def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    """pytest-recording: a ``vcr_config`` from ``safe_vcr_config()`` keeps its leak scan on
    every vcrpy release, and the ``vcr`` marker's extra cassettes keep loading."""
    from .cassettes.vcr_config import adopt_pytest_recording

    adopt_pytest_recording(vcr)
