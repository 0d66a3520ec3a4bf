"""The error catalogues load their entries without the wire formats or the pydantic models.

The end-of-run error-coverage report reads every entry's id; before this, that alone imported
the XML stack (``xml.sax.saxutils`` pulls in ``urllib.request``, ``ssl`` and ``http.client``),
~4 MiB of peak memory in a run that never rendered an error. Rendering still works: the
wire module and the models load on first use.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
import json, sys
before = set(sys.modules)
from pytest_relaytokens.pytest_plugin import report
from pytest_relaytokens.pytest_plugin.options import RunState
state = RunState(1, True)
state.exercised["ucwa"].add("400-BadRequest")
built = report.build_report(state.exercised)
loaded = sorted(set(sys.modules) - before)
from pytest_relaytokens.ucwa.catalogue import lookup_ucwa_error
from pytest_relaytokens.relay.catalogue import RELAY_ERRORS
ucwa = lookup_ucwa_error("400-BadRequest")
json_body = ucwa.response("json").body
xml_body = ucwa.response("xml").body
relay = RELAY_ERRORS[0].response()
print(json.dumps({
    "loaded": loaded,
    "json": json_body.decode(),
    "xml": xml_body.decode(),
    "relay": [relay.status, relay.body.decode()],
    "model": type(ucwa.body_model()).__name__,
    "relay_model": type(RELAY_ERRORS[0].body_model()).__name__,
    "relay_status": RELAY_ERRORS[0].status,
}))
"""


def run_script() -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found: dict[str, object] = json.loads(done.stdout)
    return found


def test_the_coverage_report_loads_no_wire_format_and_no_model() -> None:
    found = run_script()
    loaded = found["loaded"]
    assert isinstance(loaded, list)
    for heavy in (
        "pytest_relaytokens.ucwa.wire",
        "pytest_relaytokens.relay.wire",
        "pytest_relaytokens.ucwa.models",
        "pytest_relaytokens.relay.models",
        "pydantic",
        "defusedxml",
        "xml.sax.saxutils",
        "ssl",
        "urllib.request",
    ):
        assert heavy not in loaded, heavy
    assert "pytest_relaytokens.ucwa.catalogue" in loaded
    assert "pytest_relaytokens.relay.catalogue" in loaded


def test_responses_and_models_load_what_they_need_on_first_use() -> None:
    found = run_script()
    json_body, xml_body = found["json"], found["xml"]
    assert isinstance(json_body, str) and isinstance(xml_body, str)
    assert json.loads(json_body)["code"] == "BadRequest"
    assert xml_body.lstrip().startswith("<?xml") and "BadRequest" in xml_body
    assert found["model"] == "UcwaErrorBody" and found["relay_model"] == "RelayErrorBody"
    status, body = found["relay"]  # type: ignore[misc]
    assert status == found["relay_status"] and json.loads(body)
