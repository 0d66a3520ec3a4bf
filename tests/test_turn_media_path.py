"""The media path is real: the TURN credentials the UCWA fake issues work on a real coturn,
through aioice's TURN client, until they expire or are revoked (then 401, and the relay they
opened ends). Needs coturn: marked ``turn`` (deselected by default; ``pytest -m turn``)."""

from __future__ import annotations

import asyncio
import datetime
import json
import urllib.request
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import requests

from pytest_relaytokens.clock import Clock
from pytest_relaytokens.turn import CredentialSync
from pytest_relaytokens.ucwa.models import MediaRelayAccessToken
from pytest_relaytokens.ucwa.service import UcwaService

if TYPE_CHECKING:
    from types import ModuleType

pytestmark = pytest.mark.turn

#: A safety net for a lost datagram, never a timing assert.
PATIENCE = 10.0


def aioice() -> tuple[ModuleType, ModuleType]:
    """aioice's ``turn`` and ``stun`` modules (the turn extra), imported by the tests that run:
    the default selection collects this module without it."""
    from aioice import stun, turn

    return turn, stun


class Inbox(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: asyncio.Queue[tuple[bytes, Any]] = asyncio.Queue()
        self.closed: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result("closed")

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.received.put_nowait((data, addr))


async def relay_round_trip(
    server: tuple[str, int], user: str, password: str, transport: str
) -> tuple[str, int]:
    """Allocate a relay, send a datagram through it to a local UDP peer and get its answer
    back; returns the relayed address."""
    loop = asyncio.get_running_loop()
    turn, _ = aioice()
    relay, client = await turn.create_turn_endpoint(
        Inbox, server, user, password, transport=transport
    )
    peer_transport, peer = await loop.create_datagram_endpoint(Inbox, local_addr=("127.0.0.1", 0))
    try:
        relayed = relay.get_extra_info("sockname")
        relay.sendto(b"ping", peer_transport.get_extra_info("sockname"))
        data, source = await asyncio.wait_for(peer.received.get(), PATIENCE)
        assert (data, tuple(source)) == (b"ping", tuple(relayed))  # it came from the relay
        peer_transport.sendto(b"pong", source)
        back, _ = await asyncio.wait_for(client.received.get(), PATIENCE)
        assert back == b"pong"
        return tuple(relayed)  # type: ignore[return-value]
    finally:
        peer_transport.close()
        relay.close()


def allocate_error(server: tuple[str, int], user: str, password: str, transport: str) -> int:
    """The STUN error code an Allocate with these credentials gets."""
    turn, stun = aioice()

    async def allocate() -> None:
        relay, _ = await turn.create_turn_endpoint(
            Inbox, server, user, password, transport=transport
        )
        relay.close()

    with pytest.raises(stun.TransactionFailed) as failed:
        asyncio.run(allocate())
    code: int = failed.value.response.attributes["ERROR-CODE"][0]
    return code


def relay_of(document: dict[str, Any]) -> tuple[str, int, int]:
    relay = document["_embedded"]["mediaRelay"][0]
    return relay["host"], relay["udpPort"], relay["tcpPort"]


def ucwa_headers(ucwa: UcwaService) -> dict[str, str]:
    return {"Authorization": f"Bearer {ucwa.credentials.bearer}", "Accept": "application/json"}


# --- fetched by real clients, used on the relay ---------------------------------------------
@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_a_token_fetched_with_requests_allocates_and_relays(
    ucwa_api: UcwaService, relaytokens_turn: CredentialSync, transport: str
) -> None:
    answer = requests.get(ucwa_api.token_url(), headers=ucwa_headers(ucwa_api), timeout=10)
    assert answer.status_code == 200
    token = answer.json()
    host, udp_port, tcp_port = relay_of(token)
    assert (host, udp_port, tcp_port) == (*relaytokens_turn.address, relaytokens_turn.port)
    port = udp_port if transport == "udp" else tcp_port
    asyncio.run(relay_round_trip((host, port), token["userName"], token["password"], transport))


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_a_token_fetched_with_httpx_allocates_and_relays(
    ucwa_api: UcwaService, relaytokens_shared_turn: CredentialSync, transport: str
) -> None:
    with httpx.Client() as client:
        answer = client.get(ucwa_api.token_url(), headers=ucwa_headers(ucwa_api))
    token = answer.json()
    host, udp_port, tcp_port = relay_of(token)
    port = udp_port if transport == "udp" else tcp_port
    asyncio.run(relay_round_trip((host, port), token["userName"], token["password"], transport))


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_a_token_fetched_from_the_loopback_server_allocates_and_relays(
    relaytokens_server: Any, relaytokens_shared_turn: CredentialSync, transport: str
) -> None:
    ucwa = relaytokens_server.ucwa
    assert ucwa.token_url().startswith("http://127.0.0.1:")
    request = urllib.request.Request(ucwa.token_url(), headers=ucwa_headers(ucwa))
    with urllib.request.urlopen(request, timeout=10) as answer:
        token = json.load(answer)
    host, udp_port, tcp_port = relay_of(token)
    port = udp_port if transport == "udp" else tcp_port
    asyncio.run(relay_round_trip((host, port), token["userName"], token["password"], transport))


def test_the_xml_representation_points_at_the_relay_too(
    ucwa_api: UcwaService, relaytokens_shared_turn: CredentialSync
) -> None:
    headers = {**ucwa_headers(ucwa_api), "Accept": "application/xml"}
    answer = requests.get(ucwa_api.token_url(), headers=headers, timeout=10)
    from pytest_relaytokens.ucwa.wire import parse_xml

    token = parse_xml(answer.content)
    relay = token.media_relays[0]
    assert (relay.host, relay.udp_port) == relaytokens_shared_turn.address
    asyncio.run(
        relay_round_trip(relaytokens_shared_turn.address, token.user_name, token.password, "udp")
    )


def test_the_token_fixture_works_on_the_relay(
    ucwa_token: MediaRelayAccessToken, relaytokens_shared_turn: CredentialSync
) -> None:
    relay = ucwa_token.media_relays[0]
    assert (relay.host, relay.udp_port) == relaytokens_shared_turn.address
    asyncio.run(
        relay_round_trip(
            relaytokens_shared_turn.address, ucwa_token.user_name, ucwa_token.password, "udp"
        )
    )


# --- refused: wrong field, unknown, expired, revoked ------------------------------------------
@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_a_wrong_password_or_a_wrong_field_is_refused(
    ucwa_token: MediaRelayAccessToken, relaytokens_shared_turn: CredentialSync, transport: str
) -> None:
    server = relaytokens_shared_turn.address
    # one character changed, never the same password whatever the seed drew
    last = "B" if ucwa_token.password[-2] == "A" else "A"
    wrong = ucwa_token.password[:-2] + last + ucwa_token.password[-1]
    assert wrong != ucwa_token.password
    assert allocate_error(server, ucwa_token.user_name, wrong, transport) == 401
    assert allocate_error(server, ucwa_token.user_name, ucwa_token.uri or "", transport) == 401
    assert allocate_error(server, ucwa_token.password, ucwa_token.user_name, transport) == 401


def test_a_token_the_fake_never_issued_is_refused(
    ucwa_api: UcwaService, relaytokens_shared_turn: CredentialSync
) -> None:
    stranger = ucwa_api.factory.build()  # same shape, never handed out
    assert (
        allocate_error(
            relaytokens_shared_turn.address, stranger.user_name, stranger.password, "udp"
        )
        == 401
    )


def test_a_token_is_refused_once_the_test_clock_passes_valid_until(
    ucwa_token: MediaRelayAccessToken,
    relaytokens_clock: Clock,
    relaytokens_shared_turn: CredentialSync,
) -> None:
    server = relaytokens_shared_turn.address
    relaytokens_clock.advance(ucwa_token.remaining() - datetime.timedelta(seconds=1))
    asyncio.run(relay_round_trip(server, ucwa_token.user_name, ucwa_token.password, "udp"))
    relaytokens_clock.advance(1)
    assert ucwa_token.is_expired()
    assert allocate_error(server, ucwa_token.user_name, ucwa_token.password, "udp") == 401
    assert allocate_error(server, ucwa_token.user_name, ucwa_token.password, "tcp") == 401


@pytest.mark.token_expires_in(90)
def test_token_expires_in_is_enforced_on_the_relay(
    ucwa_token: MediaRelayAccessToken,
    relaytokens_clock: Clock,
    relaytokens_shared_turn: CredentialSync,
) -> None:
    server = relaytokens_shared_turn.address
    asyncio.run(relay_round_trip(server, ucwa_token.user_name, ucwa_token.password, "tcp"))
    relaytokens_clock.advance(90)
    assert allocate_error(server, ucwa_token.user_name, ucwa_token.password, "udp") == 401


# optional: the expired token is presented to coturn, not to the UCWA fake, and the test
# asserts the refusal itself (the plugin does not see coturn's answers)
@pytest.mark.token_expired(optional=True)
def test_an_already_expired_token_is_refused(
    ucwa_token: MediaRelayAccessToken, relaytokens_shared_turn: CredentialSync
) -> None:
    assert relaytokens_shared_turn.sync() == set()
    assert (
        allocate_error(
            relaytokens_shared_turn.address, ucwa_token.user_name, ucwa_token.password, "udp"
        )
        == 401
    )


def test_a_revoked_token_is_refused(
    ucwa_api: UcwaService, relaytokens_shared_turn: CredentialSync
) -> None:
    answer = requests.get(ucwa_api.token_url(), headers=ucwa_headers(ucwa_api), timeout=10)
    kept = answer.json()
    second = requests.get(ucwa_api.token_url(), headers=ucwa_headers(ucwa_api), timeout=10)
    revoked = second.json()
    ucwa_api.revoke(MediaRelayAccessToken.model_validate(revoked))
    server = relaytokens_shared_turn.address
    assert allocate_error(server, revoked["userName"], revoked["password"], "udp") == 401
    asyncio.run(relay_round_trip(server, kept["userName"], kept["password"], "udp"))


@pytest.mark.token_revoked(api="ucwa", optional=True)  # presented to coturn only, as above
def test_the_token_revoked_marker_revokes_the_turn_credential(
    ucwa_token: MediaRelayAccessToken, relaytokens_shared_turn: CredentialSync
) -> None:
    assert (
        allocate_error(
            relaytokens_shared_turn.address, ucwa_token.user_name, ucwa_token.password, "udp"
        )
        == 401
    )


# --- an allocation made before expiry --------------------------------------------------------
def refresh(protocol: Any, stun: ModuleType) -> Any:
    request = stun.Message(message_method=stun.Method.REFRESH, message_class=stun.Class.REQUEST)
    request.attributes["LIFETIME"] = 600
    return protocol.request_with_retry(request)


def create_permission(protocol: Any, stun: ModuleType) -> Any:
    request = stun.Message(
        message_method=stun.Method.CREATE_PERMISSION, message_class=stun.Class.REQUEST
    )
    request.attributes["XOR-PEER-ADDRESS"] = ("127.0.0.1", 9)
    return protocol.request_with_retry(request)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_coturn_keeps_an_allocations_key_after_its_user_is_deleted(
    ucwa_token: MediaRelayAccessToken, relaytokens_turn: CredentialSync, transport: str
) -> None:
    """The measured behaviour the sync works around: coturn reads the user database for a
    new Allocate only; Refresh, CreatePermission and ChannelBind of an allocation made
    before use the key it cached then."""
    turn, stun = aioice()

    async def scenario() -> None:
        relay, _ = await turn.create_turn_endpoint(
            Inbox,
            relaytokens_turn.address,
            ucwa_token.user_name,
            ucwa_token.password,
            transport=transport,
        )
        try:
            relaytokens_turn.server.users.replace({})  # behind the sync's back
            protocol = relay._TurnTransport__inner_protocol  # aioice keeps it private
            await refresh(protocol, stun)
            await create_permission(protocol, stun)
            await protocol.channel_bind(0x4001, ("127.0.0.1", 10))
        finally:
            relay.close()

    asyncio.run(scenario())
    assert (
        allocate_error(
            relaytokens_turn.address, ucwa_token.user_name, ucwa_token.password, transport
        )
        == 401
    )


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_the_relay_a_token_opened_ends_when_it_expires(
    ucwa_token: MediaRelayAccessToken,
    relaytokens_clock: Clock,
    relaytokens_turn: CredentialSync,
    transport: str,
) -> None:
    """So the sync ends the sessions of a dead credential (coturn's CLI): over UDP the next
    Refresh and CreatePermission are unauthenticated (401, no allocation is left); over TCP
    coturn closes the connection."""
    turn, stun = aioice()

    async def scenario() -> list[object]:
        relay, client = await turn.create_turn_endpoint(
            Inbox,
            relaytokens_turn.address,
            ucwa_token.user_name,
            ucwa_token.password,
            transport=transport,
        )
        try:
            assert set(relaytokens_turn.server.sessions().values()) == {ucwa_token.user_name}
            relaytokens_clock.advance(ucwa_token.remaining())
            assert relaytokens_turn.server.sessions() == {}
            if transport == "tcp":
                return [await asyncio.wait_for(client.closed, PATIENCE)]
            protocol = relay._TurnTransport__inner_protocol  # aioice keeps it private
            codes: list[object] = []
            for request in (refresh, create_permission):
                with pytest.raises(stun.TransactionFailed) as failed:
                    await request(protocol, stun)
                codes.append(failed.value.response.attributes["ERROR-CODE"][0])
            return codes
        finally:
            relay.close()

    assert asyncio.run(scenario()) == (["closed"] if transport == "tcp" else [401, 401])
