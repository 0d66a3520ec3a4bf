"""5. Replay: GETs of one cassette interaction through ``ReplayService`` vs raw vcrpy.

The cassette is a shipped one from ``cassettes/`` (a ``GET`` always answered 200, preferring
the UCWA ``mediaRelayAccessToken`` and small cassettes); when none is shipped yet, one is
recorded first with vcrpy against ``LoopbackServer(UcwaService)`` in a temporary directory.
Ours: ``ReplayService`` served to ``requests`` by ``activate_responses``. Baseline:
``vcr.VCR(record_mode="none").use_cassette(path, allow_playback_repeats=True)``. Both load the
cassette inside the timing (once), then make the calls from one ``requests.Session``.
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
    """(cassette, uri, request headers) of the best shipped interaction to replay.

    It must be a ``GET`` whose every recording in its cassette (same URI and Accept) was answered
    200, so that repeats keep answering 200; the UCWA token and small cassettes come first.
    """
    import yaml

    candidates: list[tuple[int, int, Path, str, dict[str, str]]] = []
    folder = REPO_ROOT / "cassettes"
    for path in sorted([*folder.rglob("*.yaml"), *folder.rglob("*.yml")]):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            items = data.get("interactions", []) if isinstance(data, dict) else []
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        statuses: dict[tuple[str, str, str], set[object]] = {}
        for item in items:
            request, response = item.get("request", {}), item.get("response", {})
            accept = next(
                (v for k, v in (request.get("headers") or {}).items() if k.lower() == "accept"), ""
            )
            accept = str(accept[0] if isinstance(accept, list) and accept else accept or "")
            key = (str(request.get("method")), str(request.get("uri")), accept)
            statuses.setdefault(key, set()).add(response.get("status", {}).get("code"))
        for (method, uri, accept), codes in statuses.items():
            if method == "GET" and codes == {200}:
                rank = 0 if "mediaRelayAccessToken" in uri else 1
                headers = {"Accept": accept} if accept else {}
                candidates.append((rank, len(items), path, uri, headers))
    if not candidates:
        return None
    _, _, path, uri, headers = min(candidates, key=lambda c: (c[0], c[1], str(c[2])))
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
    source = f"shipped {shipped[0].relative_to(REPO_ROOT / 'cassettes')}" if shipped else "recorded"
    with recorded_interaction() if shipped is None else _given(shipped) as (path, uri, headers):

        def ours(calls: int) -> float:
            def work() -> None:
                replay: Any = ReplayService(path)
                with activate_responses(replay, [replay.host]), requests.Session() as session:
                    for _ in range(calls):
                        answer = session.get(uri, headers=headers)
                        if answer.status_code != 200:
                            raise RuntimeError(
                                f"ReplayService answered {answer.status_code} for {uri} from "
                                f"{path.name}: {answer.text[:200]}"
                            )

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
            f"replay: {calls:,} replays ({source}), ReplayService vs vcrpy",
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
