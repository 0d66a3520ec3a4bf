"""The cross-process cassette lock sits beside the cassette: recorders exclude each other
whatever their ``TMPDIR`` (issue 20, item 5)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from pytest_relaytokens.cassettes.locking import cassette_lock, lock_path_for
from pytest_relaytokens.clock import Clock
from pytest_relaytokens.relay.service import RelayService
from pytest_relaytokens.transports.server import LoopbackServer

RECORDER = """
import os, time
import pytest, requests

@pytest.mark.relaytokens_cassette("cassettes/shared.yaml")
def test_record(relay_api):
    creds = relay_api.credentials
    answer = requests.post(
        relay_api.base_url + "/api/auth/accesstokens?clientName=" + os.environ["WHO"],
        auth=(creds.username, creds.password),
    )
    assert answer.status_code == 200
    time.sleep(1.5)  # still recording when the other process starts
"""


@pytest.fixture
def live_relay(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackServer]:
    """A loopback server standing in for a live Relay server."""
    relay = RelayService(clock=Clock(), seed=31)
    with LoopbackServer(relay) as server:
        monkeypatch.setenv("RELAYTOKENS_RELAY_URL", server.url)
        monkeypatch.setenv("RELAYTOKENS_RELAY_USERNAME", relay.credentials.username)
        monkeypatch.setenv("RELAYTOKENS_RELAY_PASSWORD", relay.credentials.password)
        yield server


def test_two_processes_with_different_tmpdirs_both_keep_their_interactions(
    pytester: pytest.Pytester, live_relay: LoopbackServer
) -> None:
    pytester.makepyfile(test_recorder=RECORDER)
    runs = []
    for who in ("one", "two"):
        tmp = pytester.path / f"tmp-{who}"
        tmp.mkdir()
        env = {**os.environ, "TMPDIR": str(tmp), "TEMP": str(tmp), "TMP": str(tmp), "WHO": who}
        command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly"]
        command += ["--relaytokens-backend=live", "--relaytokens-record-mode=all", "-q"]
        runs.append(
            subprocess.Popen(
                command,
                cwd=pytester.path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        )
    for run in runs:
        output = run.communicate(timeout=120)[0].decode(errors="replace")
        assert run.returncode == 0, output
    data = yaml.safe_load((pytester.path / "cassettes" / "shared.yaml").read_text())
    uris = sorted(i["request"]["uri"].rpartition("=")[2] for i in data["interactions"])
    assert uris == ["one", "two"], "one process's recording was lost"
    assert lock_path_for(pytester.path / "cassettes" / "shared.yaml").is_file()


def test_the_lock_file_sits_beside_the_cassette_and_follows_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "store" / "real.yaml"
    real.parent.mkdir()
    real.write_text("")
    link = tmp_path / "link.yaml"
    link.symlink_to(real)
    assert lock_path_for(tmp_path / "new" / "a.yaml") == tmp_path / "new" / ".a.yaml.lock"
    assert lock_path_for(link) == real.parent / ".real.yaml.lock"


def test_the_lock_excludes_a_second_holder_until_released(tmp_path: Path) -> None:
    cassette = tmp_path / "deep" / "c.yaml"
    order: list[str] = []
    inside = threading.Event()

    def second() -> None:
        inside.wait()
        with cassette_lock(cassette):
            order.append("second")

    thread = threading.Thread(target=second)
    thread.start()
    with cassette_lock(cassette) as lock_file:
        assert lock_file.parent == cassette.parent  # the folder was created
        inside.set()
        thread.join(timeout=0.5)  # cannot get in while we hold it
        order.append("first")
    thread.join()
    assert order == ["first", "second"]


WRITER = """
import sys, time
from pathlib import Path
from vcr.request import Request
from pytest_relaytokens.cassettes.recording import record

path, who, wait_for, done = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
response = {
    "status": {"code": 200, "message": "OK"},
    "headers": {"Content-Type": ["application/json"]},
    "body": {"string": b'{"ok": true}'},
}
with record(path, mode="new_episodes") as tape:
    tape.append(Request("GET", "https://h.example/" + who, None, {}), response)
    Path(done + ".loaded").touch()
    while wait_for != "-" and not Path(wait_for).exists():  # the other one saves meanwhile
        time.sleep(0.01)
Path(done).touch()
"""


def test_two_processes_recording_one_unshared_cassette_keep_both(tmp_path: Path) -> None:
    """Both load the cassette before either saves (the default-named, not shared, case): the
    later save merges the earlier one's interactions instead of replacing them."""
    cassette = tmp_path / "cassettes" / "test_x.yaml"
    first_done, second_done = tmp_path / "first.done", tmp_path / "second.done"

    def start(who: str, wait_for: str, done: Path) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-c", WRITER, str(cassette), who, wait_for, str(done)]
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    first = start("first", str(second_done), first_done)
    while not Path(str(first_done) + ".loaded").exists():
        assert first.poll() is None, first.communicate()[0]
        threading.Event().wait(0.01)
    second = start("second", "-", second_done)
    for run in (second, first):
        output = run.communicate(timeout=120)[0].decode(errors="replace")
        assert run.returncode == 0, output
    data = yaml.safe_load(cassette.read_text())
    uris = sorted(i["request"]["uri"] for i in data["interactions"])
    assert uris == ["https://h.example/first", "https://h.example/second"]


def test_a_cassette_another_process_left_unreadable_fails_the_later_save_loudly(
    tmp_path: Path,
) -> None:
    from vcr.request import Request

    from pytest_relaytokens.cassettes.recording import record
    from pytest_relaytokens.cassettes.storage import CassetteError

    cassette = tmp_path / "c.yaml"
    response = {"status": {"code": 200, "message": "OK"}, "headers": {}, "body": {"string": b"x"}}
    with (
        pytest.raises(CassetteError, match="another process wrote this cassette"),
        record(cassette, mode="new_episodes") as tape,
    ):
        tape.append(Request("GET", "https://h.example/", None, {}), response)
        cassette.write_text("interactions: [\n")  # another writer, meanwhile
    assert cassette.read_text() == "interactions: [\n"  # kept, not replaced
