"""4. The loopback server: keep-alive GETs of the UCWA token over real HTTP on 127.0.0.1.

Ours: ``LoopbackServer(UcwaService)``. Baseline: pytest-httpserver (werkzeug, ``threaded=True``
so that it speaks HTTP/1.1 keep-alive and serves threads concurrently) answering every request
with the same body. First from one ``requests.Session``, then from 8 threads with a session
each. Servers start before the timing; each measurement opens fresh sessions.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from _common import Benchmark, Row, Settings, guarded, interleave_rates, missing, rate

GOAL = ">= 2.0"
THREADS = 8


def hammer(url: str, headers: dict[str, str], threads: int) -> Callable[[int], float]:
    """A measurement: ``calls`` GETs split over ``threads`` sessions, in calls per second."""
    import requests

    def one_thread(count: int, failures: list[int]) -> None:
        with requests.Session() as session:
            session.trust_env = False  # loopback: no proxy lookups (the same client for both)
            for _ in range(count):
                status = session.get(url, headers=headers).status_code
                if status != 200:
                    failures.append(status)

    def measure(calls: int) -> float:
        failures: list[int] = []
        share = calls // threads
        workers = [
            threading.Thread(target=one_thread, args=(share, failures)) for _ in range(threads)
        ]

        def work() -> None:
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()

        result = rate(share * threads, work)
        if failures:
            raise RuntimeError(f"{len(failures)} requests failed, e.g. status {failures[0]}")
        return result

    return measure


def rows(settings: Settings) -> list[Row]:
    missing("requests", "pytest_httpserver", "pytest_relaytokens.ucwa.service")
    missing("pytest_relaytokens.transports.server")
    import requests
    from pytest_httpserver import HTTPServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request on stderr
    from pytest_relaytokens.transports.server import LoopbackServer
    from pytest_relaytokens.ucwa.service import UcwaService

    service: Any = UcwaService(seed=1)
    headers = {
        "Authorization": "Bearer " + service.credentials.bearer,
        "Accept": "application/json",
    }
    path = service.token_path()
    calls = settings.calls
    out = []
    with LoopbackServer(service) as ours_server:
        ours_url = ours_server.url + path
        first = requests.get(ours_url, headers=headers, timeout=10)
        if first.status_code != 200:
            raise RuntimeError(f"LoopbackServer answered {first.status_code}: {first.text[:200]}")
        theirs_server = HTTPServer(threaded=True)
        theirs_server.expect_request(path).respond_with_data(
            first.content, content_type=first.headers["Content-Type"]
        )
        theirs_server.start()
        try:
            theirs_url = theirs_server.url_for(path)
            for threads in (1, THREADS):
                mine, theirs = interleave_rates(
                    [hammer(ours_url, headers, threads), hammer(theirs_url, headers, threads)],
                    calls,
                    min(settings.repeats, 2),
                    warm=10 * threads,
                )
                who = "one Session" if threads == 1 else f"{threads} threads"
                out.append(
                    Row(
                        f"loopback: {calls:,} keep-alive GETs, {who}, vs pytest-httpserver",
                        "calls/s",
                        mine,
                        theirs,
                        GOAL,
                    )
                )
        finally:
            theirs_server.clear()
            theirs_server.stop()
    return out


def run(settings: Settings) -> list[Row]:
    return guarded("loopback: LoopbackServer vs pytest-httpserver", lambda: rows(settings))


BENCHMARK = Benchmark("loopback", "loopback server", run)
