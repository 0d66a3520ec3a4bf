"""5. Replay: GETs of one cassette interaction through ``ReplayService`` vs raw vcrpy.

The cassette is a shipped one from ``cassettes/`` (the first ``GET`` answered 200, preferring the
UCWA ``mediaRelayAccessToken``); when none is shipped yet, one is recorded first with vcrpy
against ``LoopbackServer(UcwaService)`` in a temporary directory. Ours: ``ReplayService`` served to
``requests`` by ``activate_responses``. Baseline: ``vcr.VCR(record_mode="none").use_cassette(path,
allow_playback_repeats=True)``. Both load the cassette inside the timing (once), then make the
calls from one ``requests.Session``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _common import REPO_ROOT, Benchmark, Row, Settings, guarded, interleave_rates, missing, rate

GOAL = ">= 2.0"


def shipped_interaction() -> tuple[Path, str, dict[str, str]] | None:
    """(cassette, uri, request headers) of the best shipped GET interaction answered 200."""
    import yaml

    candidates: list[tuple[int, Path, str, dict[str, str]]] = []
    folder = REPO_ROOT / "cassettes"
    for path in sorted([*folder.rglob("*.yaml"), *folder.rglob("*.yml")]):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        for item in (data or {}).get("interactions", []) if isinstance(data, dict) else []:
            request, response = item.get("request", {}), item.get("response", {})
            if request.get("method") != "GET" or response.get("status", {}).get("code") != 200:
                continue
            headers = {
                str(k): str(v[0] if isinstance(v, list) else v)
                for k, v in (request.get("headers") or {}).items()
                if k.lower() == "accept" and v
            }
            rank = 0 if "mediaRelayAccessToken" in request["uri"] else 1
            candidates.append((rank, path, str(request["uri"]), headers))
    if not candidates:
        return None
    _, path, uri, headers = min(candidates, key=lambda c: c[0])
    return path, uri, headers


@contextmanager
def recorded_interaction() -> Iterator[tuple[Path, str, dict[str, str]]]:
    """Record one UCWA token GET with vcrpy against the loopback server, in a temp dir."""
    missing("pytest_relaytokens.ucwa.service", "pytest_relaytokens.transports.server")
    import requests
    import vcr

    from pytest_relaytokens.transports.server import LoopbackServer
    from pytest_relaytokens.ucwa.service import UcwaService

    service: Any = UcwaService(seed=1)
    headers = {
        "Authorization": "Bearer " + service.credentials.bearer,
        "Accept": "application/json",
    }
    with tempfile.TemporaryDirectory(prefix="relaytokens-bench-") as tmp:
        path = Path(tmp) / "ucwa_token.yaml"
        with LoopbackServer(service) as server:
            uri = server.url + service.token_path()
            with vcr.VCR(record_mode="all").use_cassette(str(path)):
                status = requests.get(uri, headers=headers, timeout=10).status_code
        if status != 200:
            raise RuntimeError(f"recording the UCWA token answered {status}")
        yield path, uri, {"Accept": "application/json"}


def rows(settings: Settings) -> list[Row]:
    missing("requests", "vcr", "yaml", "pytest_relaytokens.cassettes.replay")
    missing("pytest_relaytokens.transports.responses_transport")
    import requests
    import vcr

    from pytest_relaytokens.cassettes.replay import ReplayService
    from pytest_relaytokens.transports.responses_transport import activate_responses

    calls = settings.calls
    shipped = shipped_interaction()
    source = "shipped" if shipped else "recorded"
    with recorded_interaction() if shipped is None else _given(shipped) as (path, uri, headers):

        def ours(calls: int) -> float:
            def work() -> None:
                replay: Any = ReplayService(path)
                with activate_responses(replay, [replay.host]), requests.Session() as session:
                    for _ in range(calls):
                        assert session.get(uri, headers=headers).status_code == 200

            return rate(calls, work)

        def baseline(calls: int) -> float:
            def work() -> None:
                tape = vcr.VCR(record_mode="none")
                cassette = tape.use_cassette(str(path), allow_playback_repeats=True)
                with cassette, requests.Session() as session:
                    for _ in range(calls):
                        assert session.get(uri, headers=headers).status_code == 200

            return rate(calls, work)

        mine, theirs = interleave_rates([ours, baseline], calls, settings.repeats)
    return [
        Row(
            f"replay: {calls:,} replays ({source} cassette), ReplayService vs vcrpy",
            "calls/s",
            mine,
            theirs,
            GOAL,
        )
    ]


@contextmanager
def _given(found: tuple[Path, str, dict[str, str]]) -> Iterator[tuple[Path, str, dict[str, str]]]:
    yield found


def run(settings: Settings) -> list[Row]:
    return guarded("replay: ReplayService vs vcrpy", lambda: rows(settings))


BENCHMARK = Benchmark("replay", "replay", run)
