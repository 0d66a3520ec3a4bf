"""One ``relaytokens serve`` shared by a suite under ``-n 2``: each worker drives the control
plane for its own paths, and what one arms never reaches the other."""

from __future__ import annotations

import pytest
from serve_process import start_serve

INNER = """
import json, os, urllib.error, urllib.request
import pytest
from pytest_relaytokens.admin import AdminClient

admin = AdminClient.from_env()
TOKEN = os.environ["SHARED_RELAY_TOKEN"]

def get(path):
    request = urllib.request.Request(
        os.environ["RELAYTOKENS_RELAY_URL"] + path, headers={"X-Access-Token": TOKEN}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, None

@pytest.mark.parametrize("n", range(6))
def test_own_route_and_own_error(n, worker_id):
    path = f"/api/{worker_id}/t{n}"
    admin.add_route("GET", path, json={"who": worker_id, "n": n})
    admin.arm_error("relay", "503-ListenerOffline", path=f"{path}$", times=1)
    assert get(path)[0] == 503
    assert get(path) == (200, {"who": worker_id, "n": n})
    admin.remove_route("GET", path)
    assert get(path)[0] == 404
"""


@pytest.mark.heavy
def test_a_shared_serve_under_xdist(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = start_serve()
    try:
        for name, value in served.exports.items():
            monkeypatch.setenv(name, value)
        token = served.banner.split("access token: ", 1)[1].split()[0]
        monkeypatch.setenv("SHARED_RELAY_TOKEN", token)
        pytester.makepyfile(test_inner=INNER)
        result = pytester.runpytest_subprocess("-p", "xdist", "-n", "2", "-q")
        result.assert_outcomes(passed=6)
        from pytest_relaytokens.admin import AdminClient

        admin = AdminClient(served.url, served.token)
        log = admin.log("relay")
        assert len(log) == 18
        assert {e["status"] for e in log} == {200, 404, 503}
        assert len({e["url"].split("/")[4] for e in log}) == 2  # both workers used it
        assert admin.routes() == [] and admin.faults() == []
    finally:
        served.stop()
