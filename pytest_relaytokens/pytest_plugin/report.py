"""The error-coverage report: which documented errors a suite exercised and which it never did."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .context import CASSETTE_PROPERTY, DESELECTED_PROPERTY, ERROR_PROPERTY, USED_PROPERTY
from .lifecycle import LIFECYCLE_PROPERTY, scenario_names
from .options import get_option

if TYPE_CHECKING:
    from .options import RunState

__all__ = [
    "ReportCollector",
    "build_report",
    "render_lifecycle",
    "render_terminal",
    "report_unused_cassettes",
    "write_json",
]


def report_unused_cassettes(terminalreporter: Any, config: pytest.Config, state: RunState) -> None:
    """Cassettes under the folders of the test modules that ran that no test used; the
    cassettes of deselected tests are not listed."""
    folder = get_option(config, "cassette_dir")
    roots: set[Path] = set()
    for module in state.modules:
        path = config.rootpath / module
        base = config.rootpath / folder if folder else path.parent / "cassettes"
        roots.add(base / path.stem)
    files = sorted(
        str(f.resolve()) for root in roots if root.is_dir() for f in root.rglob("*.y*ml")
    )
    skipped = {p.casefold() for p in state.deselected}
    unused = [f for f in files if f not in state.cassettes_used and f.casefold() not in skipped]
    terminalreporter.write_sep("-", "relaytokens unused cassettes")
    if not unused:
        terminalreporter.write_line(f"every one of {len(files)} cassette(s) was used")
    for name in unused:
        terminalreporter.write_line(f"unused: {name}")


class ReportCollector:
    """Gathers, from every test's teardown report (xdist workers' included), what the
    end-of-run reports need: whether the plugin was used, the errors exercised and the
    cassettes used (and, for the unused-cassettes report, the test modules seen).

    It is also the plugin's only per-report hook: it adds the seed section to a failing
    report of a test that used the plugin and notes a failed call for the teardown checks
    (one cheap hook for every test, none of them a wrapper)."""

    def __init__(self, state: RunState, track_modules: bool, worker: bool = False) -> None:
        self.state = state
        self.track_modules = track_modules
        self.worker = worker
        #: lifecycle scenario -> the tests that exercised it (pytest_plugin/lifecycle.py)
        self.lifecycle: dict[str, list[str]] = {}

    @pytest.hookimpl(tryfirst=True)  # before the terminal, junitxml and xdist read the report
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        when, outcome = report.when, report.outcome  # attributes: cheaper than .passed/.failed
        if when == "setup" and outcome == "passed":
            return  # most reports: nothing to note
        state = self.state
        if when == "call" and outcome == "passed":
            state.passed_call = report.nodeid
        if outcome == "failed":
            if when == "call":
                state.failed_call = report.nodeid
            if state.current_used == report.nodeid:
                from .options import derive_seed

                seed = derive_seed(state.run_seed, report.nodeid)
                report.sections.append(
                    (
                        "relaytokens",
                        f"test seed {seed} from run seed {state.run_seed}; reproduce with "
                        f"--relaytokens-seed={state.run_seed}",
                    )
                )
        if when != "teardown":
            return
        state.current_used = state.failed_call = state.passed_call = None
        if state.deselected and not state.deselected_sent and self.worker:
            state.deselected_sent = True  # xdist: the controller learns them from this report
            report.user_properties.append((DESELECTED_PROPERTY, "\n".join(state.deselected)))
        if self.track_modules:
            state.modules.add(report.nodeid.split("::", 1)[0])
        for key, value in report.user_properties:
            if key == CASSETTE_PROPERTY:
                state.cassettes_used.add(str(value))
            elif key == DESELECTED_PROPERTY:
                state.deselected.update(str(value).split("\n"))
            elif key == USED_PROPERTY:
                state.used = True
            elif key == LIFECYCLE_PROPERTY:
                self.lifecycle.setdefault(str(value), []).append(report.nodeid)
            elif key == ERROR_PROPERTY:
                api, _, error_id = str(value).partition(":")
                state.exercised.setdefault(api, set()).add(error_id)


def build_report(exercised: Mapping[str, set[str]]) -> dict[str, Any]:
    """Counts and lists per API, grouped the way the catalogues group their entries."""
    from ..relay.catalogue import RELAY_ERRORS
    from ..ucwa.catalogue import UCWA_ERRORS

    report: dict[str, Any] = {}
    for api, entries in (("ucwa", UCWA_ERRORS), ("relay", RELAY_ERRORS)):
        seen = exercised.get(api, set())
        groups: dict[str, dict[str, list[str]]] = {}
        for entry in entries:
            group = str(getattr(entry, "group", "documented" if not entry.inferred else "inferred"))
            bucket = groups.setdefault(group, {"exercised": [], "missing": []})
            bucket["exercised" if entry.id in seen else "missing"].append(entry.id)
        total = len(entries)
        done = sum(1 for e in entries if e.id in seen)
        report[api] = {"total": total, "exercised": done, "groups": groups}
    return report


def render_terminal(report: Mapping[str, Any], verbose: bool) -> list[str]:
    """The terminal summary lines: a compact table, then what was never exercised."""
    lines = [f"{'api':<6} {'group':<22} {'exercised':>9} {'total':>6}"]
    for api in ("ucwa", "relay"):
        data = report[api]
        for group, bucket in data["groups"].items():
            count = len(bucket["exercised"])
            total = count + len(bucket["missing"])
            lines.append(f"{api:<6} {group:<22} {count:>9} {total:>6}")
        lines.append(f"{api:<6} {'(all)':<22} {data['exercised']:>9} {data['total']:>6}")
    for api in ("ucwa", "relay"):
        missing = [i for b in report[api]["groups"].values() for i in b["missing"]]
        if not missing:
            continue
        shown = (
            missing
            if verbose or len(missing) <= 8
            else [*missing[:8], f"... {len(missing) - 8} more (-v lists all)"]
        )
        lines.append(f"{api} never exercised: {', '.join(shown)}")
    return lines


def render_lifecycle(terminalreporter: Any, config: pytest.Config) -> None:
    """The lifecycle coverage rows: which tests exercised single-flight, dead-token reuse,
    Retry-After, the skews and each chaos kind (nothing when no test did)."""
    collector = config.pluginmanager.get_plugin("relaytokens-report-collector")
    seen: dict[str, list[str]] = getattr(collector, "lifecycle", {})
    if not seen:
        return
    verbose = int(getattr(config.option, "verbose", 0) or 0) > 0
    terminalreporter.write_sep("-", "relaytokens lifecycle coverage")
    terminalreporter.write_line(f"{'scenario':<20} {'tests':>5}  exercised by")
    for name in scenario_names():
        tests = seen.get(name, [])
        shown = tests if verbose or len(tests) <= 2 else [*tests[:2], f"... {len(tests) - 2} more"]
        terminalreporter.write_line(
            f"{name:<20} {len(tests):>5}  {', '.join(shown) if tests else 'never exercised'}"
        )


def write_json(report: Mapping[str, Any], path: str | Path) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(target)
