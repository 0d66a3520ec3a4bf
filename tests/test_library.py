"""The shipped cassette library: complete, loadable, clean, secret-free, replayable and
reproducible byte for byte."""

from __future__ import annotations

import argparse
import datetime as _dt
import io
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

import pytest_relaytokens
from pytest_relaytokens import cli
from pytest_relaytokens.cassettes.replay import ReplayService
from pytest_relaytokens.cassettes.secrets import scan
from pytest_relaytokens.cassettes.storage import load_interactions
from pytest_relaytokens.cassettes.verify import check_cassette
from pytest_relaytokens.cassettes.verify import run as verify_run
from pytest_relaytokens.http import FakeRequest
from pytest_relaytokens.library import (
    DEFAULT_SEED,
    RECORDED_AT,
    RELAY_BASE,
    SCENARIOS,
    UCWA_BASE,
    library_root,
    record_scenario,
    run,
    scenario_path,
)
from pytest_relaytokens.relay import wire as relay_wire
from pytest_relaytokens.relay.catalogue import RELAY_ERRORS
from pytest_relaytokens.ucwa import wire as ucwa_wire
from pytest_relaytokens.ucwa.catalogue import UCWA_ERRORS

SHIPPED = sorted(library_root().rglob("*.yaml"))
UCWA_TOKEN_SCENARIOS = [n for n in SCENARIOS if n.startswith("ucwa/token-")] + ["ucwa/full-flow"]
RELAY_TOKEN_SCENARIOS = [n for n in SCENARIOS if n.startswith("relay/token-")]
#: Re-recorded to learn the fakes' credentials; together they use every kind of secret.
PROBES = (
    "ucwa/full-flow",
    "ucwa/bearer-401",
    "ucwa/errors-xml/409-Conflict-TooManyGroups",
    "relay/token-pairing-code",
    "relay/enterprise-by-query",
    "relay/bad-credentials",
    "relay/unknown-token",
)


def _header(headers: dict[str, Any], name: str) -> str | None:
    for key, values in headers.items():
        if key.lower() == name:
            return str(values[0]) if isinstance(values, list) else str(values)
    return None


def test_the_library_is_the_packaged_folder_or_the_source_trees_cassettes() -> None:
    package = Path(pytest_relaytokens.__file__).resolve().parent
    packaged = package / "cassette_library"  # where the wheel puts the source tree's cassettes/
    expected = packaged if packaged.is_dir() else package.parent / "cassettes"
    assert library_root() == expected
    assert scenario_path("ucwa/token-json") == expected / "ucwa" / "token-json.yaml"


def test_every_scenario_has_its_file_and_nothing_else_ships() -> None:
    expected = {scenario_path(name) for name in SCENARIOS}
    assert {p for p in expected if not p.is_file()} == set()
    assert set(SHIPPED) == expected
    assert sum(p.stat().st_size for p in SHIPPED) < 2_000_000


def test_the_catalogues_are_covered() -> None:
    for entry in UCWA_ERRORS:
        assert f"ucwa/errors/{entry.id}" in SCENARIOS
    xml = {n.split("/", 2)[2] for n in SCENARIOS if n.startswith("ucwa/errors-xml/")}
    assert xml == {e.id for e in UCWA_ERRORS if e.group == "mediaRelayAccessToken"}
    assert len(xml) == 5
    for relay_entry in RELAY_ERRORS:
        assert f"relay/errors/{relay_entry.id}" in SCENARIOS


def test_the_readme_lists_every_scenario_and_the_command() -> None:
    readme = (library_root() / "README.md").read_text(encoding="utf-8")
    assert "relaytokens record-library" in readme
    assert "python -m pytest_relaytokens.cli record-library" in readme
    for name in SCENARIOS:
        assert f"`{name}`" in readme


def test_every_shipped_cassette_loads_and_verifies_clean() -> None:
    for path in SHIPPED:
        cassette = load_interactions(path)
        assert cassette.interactions, path
        assert cassette.recorded_at == RECORDED_AT.isoformat(), path
        for request, _response in cassette.interactions:
            assert str(request["uri"]).startswith((UCWA_BASE + "/", RELAY_BASE + "/api/")), path
        assert "127.0.0.1" not in path.read_text(encoding="utf-8"), path
        assert check_cassette(path) == [], path
    out, err = io.StringIO(), io.StringIO()
    args = argparse.Namespace(paths=[str(library_root())], pattern=[], secret=[], no_schema=False)
    assert verify_run(args, out=out, err=err) == 0, out.getvalue()
    assert f"{len(SHIPPED)} cassette(s), 0 finding(s)" in err.getvalue()


def test_error_scenarios_hold_their_catalogue_status() -> None:
    for entry in UCWA_ERRORS:
        for kind in ("errors", "errors-xml"):
            name = f"ucwa/{kind}/{entry.id}"
            if name not in SCENARIOS:
                continue
            request, response = load_interactions(scenario_path(name)).interactions[-1]
            path = urlsplit(str(request["uri"])).path
            assert response["status"]["code"] == entry.status, name
            if entry.grant_error:  # a WebTicket error: {"error": ...} on the token endpoint
                assert path == "/WebTicket/oauthtoken", name
                assert json.loads(response["body"]["string"])["error"] == entry.code, name
                continue
            assert path.endswith("/mediaRelayAccessToken")
            if entry.group != "auth":
                parsed = ucwa_wire.parse_error(
                    response["body"]["string"], _header(response["headers"], "content-type")
                )
                assert parsed.code == entry.code, name
                wanted = "xml" if kind == "errors-xml" else "json"
                assert wanted in (_header(response["headers"], "content-type") or ""), name
    for relay_entry in RELAY_ERRORS:
        name = f"relay/errors/{relay_entry.id}"
        request, response = load_interactions(scenario_path(name)).interactions[-1]
        assert request["method"] == "POST"
        assert response["status"]["code"] == relay_entry.status, name
        body = relay_wire.parse_error(response["body"]["string"])
        assert body.error_name == relay_entry.name, name


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str]]:
    """A few scenarios re-recorded with the shipped seed, and every credential their fakes
    used or issued (the same seed gives the shipped files' credentials)."""
    out = tmp_path_factory.mktemp("library")
    secrets: set[str] = set()
    for name in PROBES:
        secrets |= record_scenario(name, out, seed=DEFAULT_SEED).secrets()
    return out, secrets


def test_no_credential_of_the_recording_fakes_ships(recorded: tuple[Path, set[str]]) -> None:
    _, secrets = recorded
    # Fresh fakes with one seed: Basic and Seam logins, pre-issued and issued tokens, the
    # WebTicket password, bearers, MRAS credentials, and the made-up wrong ones.
    assert len(secrets) >= 12
    for path in SHIPPED:
        text = path.read_text(encoding="utf-8")
        assert scan(text, secrets) == [], path
    # The scan would see them: every probe secret was genuinely in the traffic or the fakes.
    sample = sorted(secrets)[0]
    assert scan(f"interactions: []\n# {sample}\n", secrets)


def test_regenerating_gives_byte_identical_files(recorded: tuple[Path, set[str]]) -> None:
    out, _ = recorded
    for name in PROBES:
        assert (out / f"{name}.yaml").read_bytes() == scenario_path(name).read_bytes(), name


def test_the_command_regenerates_a_subset(tmp_path: Path) -> None:
    argv = ["record-library", "--out", str(tmp_path), "--only", "relay/token-*", "--seed", "0"]
    assert cli.main(argv) == 0
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.yaml"))
    assert written == sorted(f"{n}.yaml" for n in RELAY_TOKEN_SCENARIOS)
    for name in RELAY_TOKEN_SCENARIOS:
        assert (tmp_path / f"{name}.yaml").read_bytes() == scenario_path(name).read_bytes()
    assert (tmp_path / "README.md").read_bytes() == (library_root() / "README.md").read_bytes()


def test_another_seed_records_other_credentials(tmp_path: Path) -> None:
    record_scenario("relay/token-basic", tmp_path, seed=DEFAULT_SEED + 1)
    assert (tmp_path / "relay/token-basic.yaml").read_bytes() != scenario_path(
        "relay/token-basic"
    ).read_bytes()


def test_unknown_names_are_refused_with_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(LookupError) as info:
        scenario_path("nope")
    assert "'nope'" in str(info.value)
    assert "ucwa/token-json" in str(info.value) and "relay/unknown-token" in str(info.value)
    err = io.StringIO()
    args = argparse.Namespace(out=str(tmp_path), only=["nope"], seed=0)
    assert run(args, out=io.StringIO(), err=err) == 2
    assert "relay/token-basic" in err.getvalue()
    assert list(tmp_path.iterdir()) == []


def _replay(name: str, path_suffix: str, method: str) -> tuple[bytes, str | None]:
    """Ask a ReplayService for the scenario's token interaction, as a client would."""
    path = scenario_path(name)
    cassette = load_interactions(path)
    request, _ = next(
        (req, resp)
        for req, resp in reversed(cassette.interactions)
        if req["method"] == method
        and urlsplit(str(req["uri"])).path.endswith(path_suffix)
        and resp["status"]["code"] == 200
    )
    headers = {"Accept": _header(request["headers"], "accept") or "*/*"}
    service = ReplayService(path)
    answer = service.handle(FakeRequest.build(method, str(request["uri"]), headers))
    assert answer.status == 200, answer.body[:300]
    content_type = next((v for k, v in answer.headers if k.lower() == "content-type"), None)
    return answer.body, content_type


@pytest.mark.parametrize("name", UCWA_TOKEN_SCENARIOS)
def test_replay_serves_the_ucwa_token_scenarios(name: str) -> None:
    body, content_type = _replay(name, "/mediaRelayAccessToken", "GET")
    token = ucwa_wire.parse(body, content_type, source=name)
    assert ("xml" in (content_type or "")) == ("-xml" in name)
    # to validUntil's millisecond: the recorded XML/ISO digits carry sub-ms server ticks
    assert token.remaining(RECORDED_AT) == _dt.timedelta(minutes=token.duration)
    assert token.media_relays
    if "-uri" in name:
        assert b'"uri"' in body or b'name="uri"' in body
    if "-iso" in name:
        assert b"/Date(" not in body
    if "-ms_offset" in name:
        assert b"-0700)" in body


@pytest.mark.parametrize("name", RELAY_TOKEN_SCENARIOS)
def test_replay_serves_the_relay_token_scenarios(name: str) -> None:
    body, _ = _replay(name, "/api/auth/accesstokens", "POST")
    token = relay_wire.parse_token(body, source=name)
    assert token.creation_date == RECORDED_AT
    lifetime = None if token.expiration_date is None else token.expiration_date - RECORDED_AT
    expected_roles, expected_lifetime = {
        "relay/token-basic": (["ROLE_READONLY", "ROLE_READWRITE"], _dt.timedelta(days=14)),
        "relay/token-seam": (["ROLE_READONLY", "ROLE_READWRITE"], _dt.timedelta(days=14)),
        "relay/token-pairing-code": (["ROLE_PAIRINGCODE"], _dt.timedelta(days=1)),
        "relay/token-readonly": (["ROLE_READONLY"], _dt.timedelta(days=14)),
        "relay/token-duration": (["ROLE_READONLY", "ROLE_READWRITE"], _dt.timedelta(hours=1)),
        "relay/token-never-expires": (["ROLE_READONLY", "ROLE_READWRITE"], None),
    }[name]
    assert token.roles == expected_roles
    assert lifetime == expected_lifetime
    if name == "relay/token-pairing-code":
        assert token.pairing_code_id and token.pairing_code_endpoint_id


@pytest.mark.parametrize("by", ["query", "header"])
def test_replay_serves_enterprise_self(by: str) -> None:
    path = scenario_path(f"relay/enterprise-by-{by}")
    request, _ = load_interactions(path).interactions[-1]
    headers = {k: str(v[0]) for k, v in request["headers"].items()}
    answer = ReplayService(path).handle(FakeRequest.build("GET", str(request["uri"]), headers))
    assert answer.status == 200
    enterprise = relay_wire.parse_enterprise(answer.body)
    assert enterprise.name
    assert ("accesstoken=" in str(request["uri"])) == (by == "query")
    assert ("X-Access-Token" in request["headers"]) == (by == "header")


def test_bearer_scenarios_hold_the_401_challenges() -> None:
    for name, statuses in (
        ("ucwa/bearer-401", [401, 401]),
        ("ucwa/bearer-expired", [200, 200, 401]),
    ):
        interactions = load_interactions(scenario_path(name)).interactions
        assert [resp["status"]["code"] for _, resp in interactions] == statuses, name
        challenges = interactions[-1][1]["headers"]["WWW-Authenticate"]
        assert [c.split(" ", 1)[0] for c in challenges] == ["Bearer", "MsRtcOAuth"]
        assert f'href="{UCWA_BASE}/WebTicket/oauthtoken"' in challenges[1]
    expired = load_interactions(scenario_path("ucwa/bearer-expired")).interactions
    assert expired[-1][1]["headers"]["Date"] == ["Mon, 05 Jan 2026 17:30:01 GMT"]
