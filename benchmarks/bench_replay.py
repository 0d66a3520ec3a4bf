"""Goal 3. Replay through the fixture path users get, against vcrpy and pytest-recording.

One pytest process runs interleaved rounds of: ``ucwa_api`` on the replay backend with the
cassette named by the ``relaytokens_cassette`` marker; vcrpy's ``use_cassette`` (``record_mode
"none"``, ``allow_playback_repeats``); pytest-recording's ``@pytest.mark.vcr(path)`` on the same
cassette. The cassette is the shipped ``cassettes/ucwa/token-json-iso.yaml``; a second set of
rows uses a generated 1,000-interaction cassette (the same token GET under 1,000 application
ids) and spreads the GETs over all of them. Only the GETs are timed (every side loads its
cassette before), from one ``requests.Session``, each answer checked.
"""

from __future__ import annotations

import copy
import textwrap
from pathlib import Path
from typing import Any

from _common import (
    REPO_ROOT,
    Benchmark,
    Row,
    Settings,
    compare,
    guarded,
    in_suite_rounds,
    missing,
)

SHIPPED = REPO_ROOT / "cassettes" / "ucwa" / "token-json-iso.yaml"

CALLS = """
    with requests.Session() as session:

        def work():
            for n in range({calls}):
                url = URLS[n * len(URLS) // {calls}]  # spread evenly over all of them
                answer = session.get(url, headers={{"Accept": "application/json"}})
                assert answer.status_code == 200, answer.text[:200]

        measure("{name}", {calls}, work)
"""


#: The floor through ``requests`` alone: its adapter answering the recorded response, built by
#: requests and urllib3 themselves (no package code, so it reads the same before and after).
LIMIT = """
def {{test}}():
    import io

    import urllib3
    from requests.adapters import HTTPAdapter

    body = RECORDED["body"]["string"]
    body = body.encode() if isinstance(body, str) else body
    skip = ("content-encoding", "transfer-encoding")
    headers = dict((k, v[0]) for k, v in RECORDED["headers"].items() if k.lower() not in skip)
    status = RECORDED["status"]["code"]

    def send(self, request, stream=False, **kwargs):
        raw = urllib3.HTTPResponse(
            body=io.BytesIO(body), headers=headers, status=status, preload_content=False
        )
        return self.build_response(request, raw)

    real, HTTPAdapter.send = HTTPAdapter.send, send
    try:
{calls}
    finally:
        HTTPAdapter.send = real
"""


def sides(cassette: Path, tag: str) -> dict[str, str]:
    """Each side's test: ours through the plugin's markers, vcrpy's context manager and
    pytest-recording's marker on the same cassette; for the shipped cassette also the limit
    through ``requests``: its adapter answering the recorded response at no cost."""
    quoted = repr(str(cassette))
    limit = {} if tag else {"limit": LIMIT.format(calls=textwrap.indent(CALLS, "    "))}
    return {
        **limit,
        f"ours{tag}": f"""
@pytest.mark.relaytokens_backend("replay")
@pytest.mark.relaytokens_cassette({quoted})
@pytest.mark.relaytokens_allow(unplayed=True)  # as vcrpy: the sign-in steps are not replayed
@pytest.mark.relaytokens_replay(allow_playback_repeats=True)  # as the peers below
def {{test}}(ucwa_api):
{CALLS}""",
        f"vcrpy{tag}": f"""
def {{test}}():
    tape = vcr.VCR(record_mode="none").use_cassette({quoted}, allow_playback_repeats=True)
    with tape:
{textwrap.indent(CALLS, "    ")}""",
        f"recording{tag}": f"""
@pytest.mark.vcr({quoted}, allow_playback_repeats=True)
def {{test}}():
{CALLS}""",
    }


def token_interaction(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    items = data["interactions"]
    for item in items:
        request = item["request"]
        if request["method"] == "GET" and request["uri"].endswith("/mediaRelayAccessToken"):
            return data, [item]
    raise RuntimeError(f"{path} holds no GET of mediaRelayAccessToken")


def big_cassette(folder: Path, count: int) -> tuple[Path, list[str]]:
    """``count`` copies of the shipped token GET, each under its own application id."""
    import yaml

    data, (item,) = token_interaction(SHIPPED)
    uri = item["request"]["uri"]
    app = uri.split("/applications/")[1].split("/")[0]
    interactions, urls = [], []
    for n in range(count):
        copy_ = copy.deepcopy(item)
        new_app = f"{100_000_000_000 + n}"
        copy_["request"]["uri"] = uri.replace(app, new_app)
        body = copy_["response"]["body"]
        body["string"] = body["string"].replace(app, new_app)
        interactions.append(copy_)
        urls.append(copy_["request"]["uri"])
    path = folder / "big.yaml"
    path.write_text(yaml.safe_dump({**data, "interactions": interactions}), encoding="utf-8")
    return path, urls


def rows(settings: Settings) -> list[Row]:
    missing("requests", "vcr", "yaml", "pytest_recording", "pytest_relaytokens.plugin")
    import tempfile

    if not SHIPPED.exists():
        raise RuntimeError(f"the shipped cassette {SHIPPED} is missing")
    _, (item,) = token_interaction(SHIPPED)
    out = []
    with tempfile.TemporaryDirectory(prefix="relaytokens-replay-") as tmp:
        size = 20 if settings.quick else 1_000
        big, urls = big_cassette(Path(tmp), size)
        for tag, cassette, targets, calls in (
            ("", SHIPPED, [item["request"]["uri"]], settings.calls // 2),
            ("_big", big, urls, max(20, settings.calls // 20)),
        ):
            found = sides(cassette, tag)
            measured = in_suite_rounds(
                found,
                settings,
                ["ours", "recording"],
                header=(
                    f"import pytest\nimport requests\nimport vcr\n\nURLS = {targets!r}\n"
                    f"RECORDED = {item['response']!r}\n"
                ),
                calls=calls,
                count_calls=100 if not tag else 0,  # loading 1,000 interactions under valgrind
                rounds=None,  # at least MIN_ROUNDS: a verdict needs them
            )
            what = (
                "the shipped token cassette"
                if not tag
                else f"a {size:,}-interaction cassette, GETs over all of them"
            )
            goal = ">= 2.0" if not tag else ">= 10"
            for peer, label in ((f"vcrpy{tag}", "vcrpy"), (f"recording{tag}", "pytest-recording")):
                out.append(
                    compare(
                        f"replay: {calls:,} GETs from {what}, ucwa_api vs {label}",
                        "calls/s",
                        measured.rates[f"ours{tag}"],
                        measured.rates[peer],
                        goal if label == "vcrpy" or not tag else "",
                        instr=(measured.instr[f"ours{tag}"], measured.instr[peer]),
                    )
                )
            if not tag:
                out.append(
                    compare(
                        f"limit: {calls:,} GETs, requests' adapter answering the recorded response "
                        "at no cost vs vcrpy",
                        "calls/s",
                        measured.rates["limit"],
                        measured.rates["vcrpy"],
                        instr=(measured.instr["limit"], measured.instr["vcrpy"]),
                    )
                )
    return out


def run(settings: Settings) -> list[Row]:
    return guarded("replay", lambda: rows(settings))


BENCHMARK = Benchmark("replay", "replay", run)
