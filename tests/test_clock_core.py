"""The shared clock and the transport-free core (faults, request log, router)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import time_machine

from pytest_relaytokens.clock import Clock
from pytest_relaytokens.http import FakeRequest, FakeResponse, FakeRouter, FakeService, TokenPolicy

UTC = dt.timezone.utc


class Echo(FakeService):
    name = "echo"

    def dispatch(self, request: FakeRequest) -> tuple[FakeResponse, str | None, bool]:
        known = request.path.startswith("/known")
        return FakeResponse(200 if known else 404, [], request.path.encode()), None, known


def test_frozen_clock_moves_only_when_told() -> None:
    clock = Clock(dt.datetime(2026, 1, 5, 9, 30, tzinfo=UTC), frozen=True)
    assert clock.now() == dt.datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    assert clock.advance(90) == dt.datetime(2026, 1, 5, 9, 31, 30, tzinfo=UTC)
    clock.advance(dt.timedelta(hours=-1))
    assert clock.now_ms() == int(dt.datetime(2026, 1, 5, 8, 31, 30, tzinfo=UTC).timestamp() * 1000)
    clock.set(dt.datetime(2030, 1, 1))  # naive: taken as UTC
    assert clock.now() == dt.datetime(2030, 1, 1, tzinfo=UTC)


def test_frozen_clock_follows_time_machine_travel() -> None:
    clock = Clock(frozen=True)
    before = clock.now()
    with time_machine.travel(before + dt.timedelta(days=20), tick=False):
        assert clock.now() - before == dt.timedelta(days=20)
    assert abs(clock.now() - before) < dt.timedelta(seconds=1)


def test_flowing_clock_follows_the_wall_clock() -> None:
    clock = Clock()
    target = dt.datetime(2031, 5, 5, 12, 0, tzinfo=UTC)
    with time_machine.travel(target, tick=False):
        assert clock.now() == target
        clock.advance(60)
        assert clock.now() == target + dt.timedelta(minutes=1)


@pytest.mark.parametrize("bad", ["10", None, True])
def test_clock_rejects_wrong_types(bad: object) -> None:
    with pytest.raises(TypeError, match="advance"):
        Clock().advance(bad)  # type: ignore[arg-type]


def test_token_policy_expiry_rules() -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=UTC)
    two_weeks = dt.timedelta(weeks=2)
    assert TokenPolicy().expiry(now, two_weeks) == now + two_weeks
    assert TokenPolicy(already_expired=True).expiry(now, two_weeks) < now
    assert TokenPolicy(lifetime=dt.timedelta(seconds=5)).expiry(
        now, two_weeks
    ) == now + dt.timedelta(seconds=5)
    assert TokenPolicy(never_expires=True).expiry(now, two_weeks) is None


def test_faults_times_path_sequence_and_log() -> None:
    service = Echo(base_url="https://echo.test")
    teapot = lambda r: FakeResponse(418)  # noqa: E731
    service.arm(teapot, times=2, path=r"^/known/a")
    service.arm_sequence([teapot, None, teapot], path=r"^/known/b")
    get = lambda p: service.handle(FakeRequest.build("GET", "https://echo.test" + p)).status  # noqa: E731
    assert [get("/known/a") for _ in range(3)] == [418, 418, 200]
    assert [get("/known/b") for _ in range(4)] == [418, 200, 418, 200]
    assert get("/other") == 404
    assert len(service.log) == 8
    assert [e.request.path for e in service.log.unexpected] == ["/other"]
    assert sum(e.injected for e in service.log) == 5
    with pytest.raises(ValueError, match="times must be a positive"):
        service.arm(teapot, times=0)


def test_drop_and_delay_are_instructions_to_transports() -> None:
    service = Echo(base_url="https://echo.test")
    service.arm_drop()
    service.arm_delay(0.25)
    dropped = service.handle(FakeRequest.build("GET", "https://echo.test/known"))
    delayed = service.handle(FakeRequest.build("GET", "https://echo.test/known"))
    assert dropped.drop_connection and not delayed.drop_connection
    assert delayed.delay == 0.25 and delayed.status == 200


def test_log_is_consistent_under_threads() -> None:
    service = Echo(base_url="https://echo.test")

    def hammer() -> None:
        for _ in range(200):
            service.handle(FakeRequest.build("GET", "https://echo.test/known"))

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(service.log) == 1600


def test_router_by_host_and_unknown_host() -> None:
    a, b = Echo(base_url="https://a.test"), Echo(base_url="https://b.test")
    router = FakeRouter([a, b])
    router.handle(FakeRequest.build("GET", "https://b.test/known"))
    assert len(a.log) == 0 and len(b.log) == 1
    with pytest.raises(LookupError, match=r"no fake serves host .c\.test."):
        router.handle(FakeRequest.build("GET", "https://c.test/"))


def test_request_helpers() -> None:
    request = FakeRequest.build(
        "post", "https://x.test/p?a=1&a=2&b=", {"X-One": "1"}, "grant_type=password&user=me"
    )
    assert request.method == "POST" and request.header("x-one") == "1"
    assert request.query == {"a": ["1", "2"], "b": [""]} and request.query_value("a") == "1"
    assert request.form()["user"] == ["me"]
