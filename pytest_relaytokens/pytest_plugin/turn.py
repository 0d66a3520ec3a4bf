"""The TURN fixtures: a real coturn checking the credentials the test's UCWA fake issues.

``plugin.py`` wires them; everything they run lives in :mod:`pytest_relaytokens.turn`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from .context import TestContext, clear_errors

if TYPE_CHECKING:
    from ..turn import CoturnServer, CredentialSync

__all__ = ["_relaytokens_session_turn", "relaytokens_shared_turn", "relaytokens_turn"]


def _attach(context: TestContext, server: CoturnServer) -> CredentialSync:
    """This test's UCWA fake, its relays pointed at ``server`` and its live tokens synced."""
    from ..turn import CredentialSync

    if context.backend_name != "fake":
        pytest.fail(
            f"{context.item.nodeid}: the TURN check needs the fake backend, whose tokens it "
            f"syncs to coturn (this test runs on {context.backend_name!r}); mark it "
            '@pytest.mark.relaytokens_backend("fake")',
            pytrace=False,
        )
    service = context.service("ucwa")
    return CredentialSync(server, service.media_credentials).attach()


def _started() -> CoturnServer:
    from ..turn import CoturnServer

    with clear_errors():  # coturn missing or not starting: an error naming the fix, no skip
        return CoturnServer().start()


@pytest.fixture
def relaytokens_turn(_relaytokens_context: TestContext) -> Iterator[CredentialSync]:
    """A real coturn on 127.0.0.1 for this test: every ``mediaRelay`` the UCWA fake issues
    points at it (``host``, ``port``), and it accepts exactly the tokens the fake issued, not
    revoked and not expired on the test's clock (401 otherwise). Stopped after the test."""
    server = _started()
    try:
        sync = _attach(_relaytokens_context, server)
        yield sync
        sync.detach()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def _relaytokens_session_turn() -> Iterator[CoturnServer]:
    """One coturn for the session (per xdist worker), started on first use."""
    server = _started()
    yield server
    server.stop()


@pytest.fixture
def relaytokens_shared_turn(
    _relaytokens_context: TestContext, _relaytokens_session_turn: CoturnServer
) -> Iterator[CredentialSync]:
    """Like ``relaytokens_turn``, but one coturn started once per session (per xdist worker):
    each test's tokens are its users during the test only, and the sessions they opened end
    at its teardown."""
    sync = _attach(_relaytokens_context, _relaytokens_session_turn)
    yield sync
    sync.detach()
