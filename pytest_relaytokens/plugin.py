"""The pytest plugin: options, markers, hooks and fixtures only.

Everything heavy (pydantic models, faker, responses, httpx, vcrpy) is imported inside the
fixtures that need it, so loading this module in every pytest run costs next to nothing.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .context import (
    SETTINGS_KEY,
    STATE_KEY,
    USED_KEY,
    api_service_for,
    arm_fanout,
    check_unexpected,
    clear_errors,
    effective_format,
    effective_quirks,
    mark_item_used,
    mark_used,
    marker_policy,
    new_fake,
    note_cassette,
    own_clock,
    report_unused_cassettes,
    secret_patterns,
    token_inputs,
)
from .markers import MARKERS, read_markers
from .settings import OPTIONS, RunState, clock_start, derive_seed, get_option

if TYPE_CHECKING:
    from faker import Faker

    from .clock import Clock
    from .core import FakeResponse, TokenPolicy
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
            choices=list(choices) if choices else None,
            metavar=name.upper() if not choices else None,
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


def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS.values():
        config.addinivalue_line("markers", line)
    state = config.stash[STATE_KEY] = RunState.from_config(config)
    state.backend = get_option(config, "backend") or "fake"
    state.start = clock_start(config)
    state.relay_location = get_option(config, "relay_location")
    secret_patterns(config)  # a bad pattern stops the run before any test
    from .report import ReportCollector

    track = get_option(config, "unused_cassettes") == "true"
    config.pluginmanager.register(ReportCollector(state, track), "relaytokens-report-collector")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist: every worker gets the controller's run seed."""
    node.workerinput["relaytokens_seed"] = node.config.stash[STATE_KEY].run_seed


def pytest_report_header(config: pytest.Config) -> str:
    state = config.stash[STATE_KEY]
    seed = state.run_seed
    return f"relaytokens: run seed {seed} (reproduce with --relaytokens-seed={seed})"


_OUR_MARKERS = frozenset(MARKERS)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Validate every relaytokens marker now, so a wrong argument stops the run early, and
    let a marker alone activate the fake it arms (no autouse fixture in every test)."""
    for item in items:
        if not any(m.name in _OUR_MARKERS for m in item.iter_markers()):
            continue
        settings = item.stash[SETTINGS_KEY] = read_markers(item)
        mark_item_used(item, config)
        names = getattr(item, "fixturenames", None)
        if names is None:
            continue
        for needed, wanted in (
            ("ucwa_api", settings.ucwa_errors),
            ("relay_api", settings.relay_errors),
        ):
            if wanted and needed not in names:
                names.append(needed)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Fan ``ucwa_error`` and ``relay_error`` out over every catalogued error."""
    wanted = [n for n in ("ucwa_error", "relay_error") if n in metafunc.fixturenames]
    if not wanted:
        return
    from .selection import select_errors

    marker = metafunc.definition.get_closest_marker("relaytokens_errors")
    selectors: tuple[str, ...] | None
    if marker is not None:
        selectors = tuple(str(a) for a in marker.args)
    else:
        option = get_option(metafunc.config, "errors")
        selectors = tuple(s.strip() for s in option.split(",") if s.strip()) if option else None
    for name in wanted:
        api = name.split("_")[0]
        try:
            entries = select_errors(api, selectors)
        except LookupError as exc:
            raise pytest.UsageError(f"{metafunc.definition.nodeid}: {exc}") from None
        metafunc.parametrize(name, entries, ids=[e.id for e in entries], indirect=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed and item.stash.get(USED_KEY, False):
        state = item.config.stash[STATE_KEY]
        funcargs = getattr(item, "funcargs", {})
        seed = funcargs.get("relaytokens_seed", derive_seed(state.run_seed, item.nodeid))
        report.sections.append(
            (
                "relaytokens",
                f"test seed {seed} from run seed {state.run_seed}; reproduce with "
                f"--relaytokens-seed={state.run_seed}",
            )
        )
    return report


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return
    state = config.stash.get(STATE_KEY, None)
    if state is None:
        return
    if get_option(config, "unused_cassettes") == "true":
        report_unused_cassettes(terminalreporter, config, state)
    if not state.used:
        return
    from .report import build_report, render_terminal, write_json

    report = build_report(state.exercised)
    terminalreporter.write_sep("-", "relaytokens error coverage")
    for line in render_terminal(report, verbose=config.getoption("verbose") > 0):
        terminalreporter.write_line(line)
    path = get_option(config, "report")
    if path:
        write_json(report, path)
        terminalreporter.write_line(f"relaytokens: error-coverage report written to {path}")


@pytest.fixture
def relaytokens_seed(request: pytest.FixtureRequest) -> int:
    """This test's seed for every fake and factory: derived from the run seed and the test id.

    Same run seed, same tokens, whatever the order or xdist worker. Set the run seed with
    ``--relaytokens-seed`` (or ini ``relaytokens_seed``), or override this fixture in a conftest.
    With ``--relaytokens-start`` fixed too, tokens are identical byte for byte.
    """
    return derive_seed(request.config.stash[STATE_KEY].run_seed, request.node.nodeid)


@pytest.fixture
def relaytokens_clock(request: pytest.FixtureRequest) -> Clock:
    """The clock every fake and factory reads: ``now()``, ``advance(seconds)``, ``set(dt)``.

    Frozen at the test's start: it moves only with ``advance``/``set``, or when time-machine or
    freezegun travel moves the wall clock (tokens then expire with the travelled time). It never
    touches the event loop's monotonic clock.
    """
    return own_clock(request)


@pytest.fixture
def relaytokens_token_policy(request: pytest.FixtureRequest) -> TokenPolicy:
    """The token lifetime rules the expiry markers ask for (a :class:`TokenPolicy`)."""
    return marker_policy(request)


@pytest.fixture
def relaytokens_ucwa_format(request: pytest.FixtureRequest) -> str:
    """The default UCWA representation, ``"json"`` or ``"xml"`` (option/ini; a
    ``ucwa_format`` marker still wins over an override of this fixture)."""
    return get_option(request.config, "ucwa_format") or "json"


@pytest.fixture
def relaytokens_ucwa_quirks(request: pytest.FixtureRequest) -> UcwaQuirks:
    """The UCWA wire quirks (``UcwaQuirks``) from options/ini; ``ucwa_quirks`` markers win."""
    from .ucwa.wire import UcwaQuirks

    options: dict[str, Any] = {
        "uri_key": get_option(request.config, "uri_key") or "Uri",
        "timestamps": get_option(request.config, "timestamps") or "utc_ms",
        "location": get_option(request.config, "relay_location"),
    }
    return UcwaQuirks(**options)


@pytest.fixture
def relaytokens_backend(request: pytest.FixtureRequest) -> str:
    """Where token and API fixtures come from: ``"fake"`` (default), ``"replay"`` (cassettes)
    or ``"live"`` (``RELAYTOKENS_*`` environment variables). A ``relaytokens_backend`` marker
    wins over an override of this fixture."""
    return get_option(request.config, "backend") or "fake"


@pytest.fixture
def relaytokens_cassette(request: pytest.FixtureRequest) -> Path:
    """This test's cassette file: the ``relaytokens_cassette`` marker, else
    ``<test module dir>/cassettes/<module>/<test name>.yaml`` (``--relaytokens-cassette-dir``)."""
    from .backends import cassette_path

    return cassette_path(request)


@pytest.fixture
def _relaytokens_recording(
    request: pytest.FixtureRequest, relaytokens_cassette: Path
) -> Iterator[None]:
    """Live backend: record this test's exchanges into its cassette (unless mode is none)."""
    from .settings import get_option

    mode = get_option(request.config, "record_mode") or "none"
    if mode == "none":
        yield
        return
    from .backends import ENVIRONMENT
    from .cassettes.recording import record
    from .cassettes.redaction import Redactor

    secrets = [
        os.environ[name]
        for api in ENVIRONMENT.values()
        for key, name in api.items()
        if key != "url" and key != "username" and os.environ.get(name)
    ]
    patterns = secret_patterns(request.config)
    note_cassette(request, relaytokens_cassette)
    with (
        clear_errors(),
        record(
            relaytokens_cassette,
            mode=mode,  # type: ignore[arg-type]
            redactor=Redactor(extra_secrets=secrets, extra_patterns=patterns),
            extra_patterns=patterns,
        ),
    ):
        yield


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
    """A realistic UCWA ``MediaRelayAccessToken`` (480 minutes, valid from now on the clock,
    or as the expiry markers say)."""
    from .backends import ucwa_token_for

    mark_used(request)
    with clear_errors():
        return ucwa_token_for(request, *token_inputs(request))


@pytest.fixture
def ucwa_token_response(
    request: pytest.FixtureRequest, ucwa_token: MediaRelayAccessToken
) -> FakeResponse:
    """The full HTTP response (``status``, ``headers``, ``body`` bytes) of a
    ``GET .../mediaRelayAccessToken`` for ``ucwa_token``, in the chosen format and quirks."""
    from .backends import ucwa_token_response_for

    with clear_errors():
        return ucwa_token_response_for(
            request, ucwa_token, effective_format(request), effective_quirks(request)
        )


@pytest.fixture
def relay_access_token(request: pytest.FixtureRequest) -> RelayAccessToken:
    """A realistic Relay ``RelayAccessToken`` (two weeks, or as the expiry markers say)."""
    from .backends import relay_token_for

    mark_used(request)
    with clear_errors():
        return relay_token_for(request, *token_inputs(request))


@pytest.fixture
def _relaytokens_transports(request: pytest.FixtureRequest) -> Iterator[Any]:
    """One responses mock and httpx patch shared by ``ucwa_api`` and ``relay_api``."""
    from .activation import Activation

    with Activation() as activation:
        yield activation


@pytest.fixture
def ucwa_api(
    request: pytest.FixtureRequest,
    relaytokens_seed: int,
    relaytokens_clock: Clock,
    relaytokens_token_policy: TokenPolicy,
    _relaytokens_transports: Any,
) -> Iterator[UcwaService]:
    """The stateful UCWA fake, serving ``requests`` and ``httpx`` calls to its ``base_url``
    for this test: ``credentials``, ``log``, ``arm_error(...)``, ``token_url()``.

    The test fails at teardown on requests no route of the fake matched.
    """
    mark_used(request)
    service: UcwaService = api_service_for(
        request, "ucwa", relaytokens_seed, relaytokens_clock, relaytokens_token_policy
    )
    _relaytokens_transports.add(service)
    yield service
    check_unexpected(request, service, "ucwa_api")


@pytest.fixture
def relay_api(
    request: pytest.FixtureRequest,
    relaytokens_seed: int,
    relaytokens_clock: Clock,
    relaytokens_token_policy: TokenPolicy,
    _relaytokens_transports: Any,
) -> Iterator[RelayService]:
    """The stateful Relay fake, serving ``requests`` and ``httpx`` calls to its ``base_url``
    for this test: ``credentials``, ``log``, ``issue_token(...)``, ``arm_error(...)``.

    The test fails at teardown on requests no route of the fake matched.
    """
    mark_used(request)
    service: RelayService = api_service_for(
        request, "relay", relaytokens_seed, relaytokens_clock, relaytokens_token_policy
    )
    _relaytokens_transports.add(service)
    yield service
    check_unexpected(request, service, "relay_api")


@pytest.fixture
def relaytokens_server(
    request: pytest.FixtureRequest,
    relaytokens_seed: int,
    relaytokens_clock: Clock,
    relaytokens_token_policy: TokenPolicy,
) -> Iterator[FakeServers]:
    """A real HTTP/1.1 server on 127.0.0.1 (ephemeral port) serving both fakes, for clients in
    subprocesses or other languages: ``url``, ``ucwa`` and ``relay`` (the services, with their
    ``credentials``). Stopped after the test."""
    from .transports.server import FakeServers

    mark_used(request)
    args = (relaytokens_seed, relaytokens_clock, relaytokens_token_policy)
    ucwa, relay = new_fake(request, "ucwa", *args), new_fake(request, "relay", *args)
    server = FakeServers(ucwa, relay)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def ucwa_error(request: pytest.FixtureRequest) -> UcwaErrorEntry:
    """Each catalogued UCWA error in turn (ids like ``409-Conflict-TooManyGroups``), armed on
    ``ucwa_api`` for every ``mediaRelayAccessToken`` request. Filter with the
    ``relaytokens_errors`` marker or ``--relaytokens-errors``."""
    entry: UcwaErrorEntry = arm_fanout(request, "ucwa")
    return entry


@pytest.fixture
def relay_error(request: pytest.FixtureRequest) -> RelayErrorEntry:
    """Each catalogued Relay error in turn (ids like ``401-BadCredentialsException``), armed
    on ``relay_api`` for every ``POST /api/auth/accesstokens``. Filter with the
    ``relaytokens_errors`` marker or ``--relaytokens-errors``."""
    entry: RelayErrorEntry = arm_fanout(request, "relay", path=r"^/api/auth/accesstokens$")
    return entry
