"""Cassette paths that are not plain files: a directory is a CassetteError naming the path,
before the test body runs, in every record mode, with no temporary file left; a symlinked
cassette is written through to its target (the link stays a link)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from pytest_relaytokens.cassettes import CassetteError, load_interactions, record
from pytest_relaytokens.clock import Clock
from pytest_relaytokens.relay.service import RelayService
from pytest_relaytokens.transports.server import LoopbackServer, PathRouter
from pytest_relaytokens.ucwa.service import UcwaService

MODES = ["once", "new_episodes", "all", "rewrite", "none"]

PATHS = """
import pathlib
import pytest, requests

BODY_RAN = pathlib.Path(__file__).parent / "body-ran"

def _go(api, name):
    creds = api.credentials
    answer = requests.post(api.base_url + "/api/auth/accesstokens?clientName=" + name,
                           auth=(creds.username, creds.password))
    assert answer.status_code == 200

@pytest.mark.relaytokens_cassette("adir.yaml")
def test_dir(relay_api):
    BODY_RAN.touch()
    _go(relay_api, "dir")

@pytest.mark.relaytokens_cassette("link.yaml")
def test_link(relay_api):
    _go(relay_api, "link")
"""


@pytest.fixture
def live_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackServer]:
    clock = Clock()
    relay = RelayService(clock=clock, seed=5)
    with LoopbackServer(PathRouter([("/api/", relay)], default=UcwaService(clock=clock))) as srv:
        monkeypatch.setenv("RELAYTOKENS_RELAY_URL", srv.url)
        monkeypatch.setenv("RELAYTOKENS_RELAY_USERNAME", relay.credentials.username)
        monkeypatch.setenv("RELAYTOKENS_RELAY_PASSWORD", relay.credentials.password)
        yield srv


def _files(folder: Path) -> list[str]:
    return sorted(
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.name != "__pycache__" and "__pycache__" not in p.parts
    )


@pytest.mark.parametrize("mode", MODES[:-1])  # "none" records nothing on the live backend
def test_a_directory_as_cassette_is_an_error_naming_it_before_the_test_runs(
    pytester: pytest.Pytester, live_server: LoopbackServer, mode: str
) -> None:
    pytester.makepyfile(test_paths=PATHS)
    (pytester.path / "adir.yaml").mkdir()
    result = pytester.runpytest(
        "--relaytokens-backend=live", f"--relaytokens-record-mode={mode}", "-k", "test_dir"
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["cassette *adir.yaml: is a directory, not a cassette file*"])
    assert "IsADirectoryError" not in result.stdout.str()
    assert not (pytester.path / "body-ran").exists()
    assert [n for n in os.listdir(pytester.path) if n.startswith(".adir")] == []
    assert os.listdir(pytester.path / "adir.yaml") == []


def test_a_directory_as_cassette_on_replay_names_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_paths=PATHS)
    (pytester.path / "adir.yaml").mkdir()
    result = pytester.runpytest("--relaytokens-backend=replay", "-k", "test_dir")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*cassette *adir.yaml: is a directory, not a cassette file*"])


@pytest.mark.parametrize("mode", ["rewrite", "all"])
def test_a_symlinked_cassette_is_written_through_to_its_target(
    pytester: pytest.Pytester, live_server: LoopbackServer, mode: str
) -> None:
    pytester.makepyfile(test_paths=PATHS)
    target = pytester.path / "elsewhere" / "target.yaml"
    target.parent.mkdir()
    target.write_text("interactions: []\nversion: 1\n")
    (pytester.path / "link.yaml").symlink_to(Path("elsewhere") / "target.yaml")
    result = pytester.runpytest(
        "--relaytokens-backend=live", f"--relaytokens-record-mode={mode}", "-k", "test_link"
    )
    result.assert_outcomes(passed=1)
    link = pytester.path / "link.yaml"
    assert link.is_symlink() and os.readlink(link) == str(Path("elsewhere") / "target.yaml")
    uris = [i["request"]["uri"] for i in yaml.safe_load(target.read_text())["interactions"]]
    assert any(u.endswith("clientName=link") for u in uris)
    # no temporary left; the shared cassette's lock file stays beside the target
    assert sorted(os.listdir(target.parent)) == [".target.yaml.lock", "target.yaml"]
    assert not [n for n in os.listdir(pytester.path) if n.startswith(".link")]


def test_record_refuses_a_directory_and_a_symlink_loop(tmp_path: Path) -> None:
    folder = tmp_path / "c.yaml"
    folder.mkdir()
    for mode in MODES:
        with (
            pytest.raises(CassetteError, match=r"c\.yaml: is a directory") as info,
            record(folder, mode=mode),  # type: ignore[arg-type]
        ):
            pytest.fail("the block must not run")
        assert info.value.field == "path"
    with pytest.raises(CassetteError, match="is a directory"):
        load_interactions(folder)
    loop = tmp_path / "loop.yaml"
    loop.symlink_to(loop)
    with (
        pytest.raises(CassetteError, match=r"loop\.yaml: cannot use this path"),
        record(loop, mode="rewrite"),
    ):
        pytest.fail("the block must not run")
    assert sorted(os.listdir(tmp_path)) == ["c.yaml", "loop.yaml"]
