"""Run the pytest-relaytokens benchmarks against their peers and references; print a table.

    python benchmarks/run.py [--quick | --full] [--no-instructions] [--no-venvs]
                             [--json PATH] [--only NAME ...] [--list] [--compare JSON]

Every row measures ours and its peer (or reference) in the same run, in interleaved rounds;
figures are medians, ``spread`` is the lowest and highest single-round ratio, and instruction
counts (callgrind) are given where valgrind and a C compiler are available. Installs nothing:
``pip install -e '.[bench]'`` provides the peers. Writes JSON (default
``benchmarks/results.json``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
if str(HERE.parent) not in sys.path:
    sys.path.insert(1, str(HERE.parent))

import _cg  # noqa: E402
from _common import COUNTED_UNITS, MIN_ROUNDS, Benchmark, Row, Settings, Skip  # noqa: E402

#: Benchmark modules in the order of the issue's goals; each defines ``BENCHMARK``.
MODULES = (
    "bench_per_test",
    "bench_mocked_calls",
    "bench_replay",
    "bench_loopback",
    "bench_cassette_safety",
    "bench_startup",
    "bench_scale",
)
DEFAULT_JSON = HERE / "results.json"


def load_benchmarks() -> list[Benchmark | tuple[str, str]]:
    """Each module's ``BENCHMARK``, or ``(module, error)`` when the module itself is broken."""
    found: list[Benchmark | tuple[str, str]] = []
    for name in MODULES:
        try:
            found.append(importlib.import_module(name).BENCHMARK)
        except Exception as exc:  # a broken module becomes an error row, not a crash
            found.append((name.removeprefix("bench_"), f"{type(exc).__name__}: {exc}"))
    return found


def run_one(bench: Benchmark, settings: Settings) -> list[Row]:
    try:
        return bench.run(settings)
    except Skip as exc:
        return [Row(bench.title, skipped=str(exc))]
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        first = (str(exc).strip().splitlines() or [""])[0]
        return [Row(bench.title, error=f"{type(exc).__name__}: {first}"[:200])]


def fmt_value(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    if unit.endswith("/s"):
        return f"{value:,.0f} {unit}"
    if abs(value) >= 1000:
        return f"{value:,.0f} {unit}"
    return f"{value:.3f} {unit}".strip()


def fmt_instr(row: Row) -> str:
    if row.ours_instr is None or row.baseline_instr is None or row.instr_ratio is None:
        return ""
    return (
        f"{row.ours_instr / 1e3:,.0f}k / {row.baseline_instr / 1e3:,.0f}k = {row.instr_ratio:.2f}"
    )


HEADER = [
    "benchmark",
    "ours",
    "peer or reference",
    "ratio",
    "spread",
    "instructions",
    "goal",
    "met",
]
#: ``--compare`` flags a row whose figure got more than this much worse.
WORSE = 0.10


def table(rows: list[Row]) -> str:
    lines = [HEADER, ["---"] * len(HEADER)]
    for row in rows:
        if row.skipped is not None or row.error is not None:
            reason = f"skipped: {row.skipped}" if row.skipped is not None else f"error: {row.error}"
            lines.append([row.name, reason, "", "", "", "", row.goal, ""])
            continue
        ratio, spread = row.ratio, row.spread
        lines.append(
            [
                row.name,
                fmt_value(row.ours, row.unit),
                fmt_value(row.baseline, row.unit),
                "" if ratio is None else f"{ratio:.2f}",
                "" if spread is None else f"{spread[0]:.2f}-{spread[1]:.2f}",
                fmt_instr(row),
                row.goal,
                row.verdict,
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
    out = []
    for line in lines:
        if line[0] == "---":
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        else:
            cells = (cell.ljust(width) for cell, width in zip(line, widths, strict=True))
            out.append("| " + " | ".join(cells) + " |")
    notes = [f"- {row.name}: {row.note}" for row in rows if row.note and row.error is None]
    return "\n".join(out + (["", *notes] if notes else []))


def _change(before: float | None, after: float | None, higher_is_better: bool) -> float | None:
    """How much worse ``after`` is than ``before`` (0.12 = 12% worse; negative: better)."""
    if before is None or after is None or before == 0:
        return None
    return (before - after) / before if higher_is_better else (after - before) / before


def _pct(change: float | None) -> str:
    return "" if change is None else f"{-change:+.0%}"


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"


def compare_table(before: dict[str, Any], after: list[dict[str, Any]]) -> tuple[str, list[str]]:
    """Before and after per row (matched by name): the ratio, the instruction ratio, and
    ``ours`` itself for rows whose own figure matters (``absolute``); a change is worse in the
    row's direction (``+5%`` better, ``-12%`` worse). As in verdicts, a timed ratio is flagged
    only from MIN_ROUNDS rounds and where no instruction ratio was counted on both sides.
    Returns the table and the worse rows."""
    old = {row["name"]: row for row in before.get("rows", [])}
    head = ["benchmark", "ratio before", "after", "change", "instr before", "after", "change"]
    head += ["ours before", "after", "change", "flag"]
    lines = [head]
    worse: list[str] = []
    for row in after:
        was = old.pop(row["name"], None)
        if was is None or row.get("error") or row.get("skipped"):
            why = row.get("error") or row.get("skipped") or "no row of this name before"
            lines.append([row["name"], *[""] * 9, f"not compared: {why}"[:90]])
            continue
        rate = str(row.get("unit", "")).endswith("/s")
        ratio = _change(was.get("ratio"), row.get("ratio"), rate)
        instr = _change(was.get("instr_ratio"), row.get("instr_ratio"), rate)
        absolute = row.get("absolute") or was.get("absolute")
        own = _change(was.get("ours"), row.get("ours"), rate) if absolute else None
        # a timed figure from fewer than MIN_ROUNDS rounds is noise: shown, never flagged
        timed = (
            row.get("unit") in COUNTED_UNITS
            or min(len(was.get("ours_rounds") or ()), len(row.get("ours_rounds") or ()))
            >= MIN_ROUNDS
        )
        # where instructions were counted on both sides they decide the ratio (as in verdicts)
        counted = instr is not None
        bad = [
            what
            for what, change in (("ratio", ratio), ("instructions", instr), ("ours", own))
            if change is not None
            and change > WORSE
            and (what == "instructions" or (timed and not (counted and what == "ratio")))
        ]
        noisy = [
            what
            for what, change in (("ratio", ratio), ("ours", own))
            if change is not None and change > WORSE and what not in bad
        ]
        bad_note = ""
        if noisy and not bad:
            why = "instructions decide" if counted else f"under {MIN_ROUNDS} rounds"
            bad_note = f"(timed {', '.join(noisy)} >{WORSE:.0%} worse; {why})"
        if bad:
            worse.append(f"{row['name']}: {', '.join(bad)}")
        lines.append(
            [
                row["name"],
                _fmt(was.get("ratio")),
                _fmt(row.get("ratio")),
                _pct(ratio),
                _fmt(was.get("instr_ratio")),
                _fmt(row.get("instr_ratio")),
                _pct(instr),
                _fmt(was.get("ours")) if absolute else "",
                _fmt(row.get("ours")) if absolute else "",
                _pct(own),
                f"WORSE >{WORSE:.0%}: {', '.join(bad)}" if bad else bad_note,
            ]
        )
    for name in old:
        lines.append([name, *[""] * 9, "not compared: no row of this name now"])
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |"
        for line in lines
    ]
    out.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out), worse


def print_comparison(before_path: str, after: dict[str, Any]) -> int:
    """Print :func:`compare_table` for an earlier run's JSON and ``after`` (a run's payload)."""
    before = json.loads(Path(before_path).read_text(encoding="utf-8"))
    text, worse = compare_table(before, after["rows"])
    print(f"\nbefore: {before_path} ({before.get('command')}, load {before.get('load_average')})")
    print(f"after: {after.get('command')}, load {after.get('load_average')}\n{text}")
    summary = f"{len(worse)} row(s) more than {WORSE:.0%} worse" if worse else "no row"
    print(f"\n{summary}" + "".join(f"\n- {line}" for line in worse))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="tiny sizes, one round (smoke test)")
    size.add_argument(
        "--full", action="store_true", help="more rounds (start-up, the 20,000-test suites)"
    )
    parser.add_argument(
        "--no-instructions", action="store_true", help="skip the callgrind instruction counts"
    )
    parser.add_argument(
        "--no-venvs",
        action="store_true",
        help="start-up: measure every side in this venv with -p instead of making a venv each",
    )
    parser.add_argument("--json", metavar="PATH", default=str(DEFAULT_JSON), help="JSON output")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks")
    parser.add_argument("--list", action="store_true", help="list the benchmark names and exit")
    parser.add_argument(
        "--compare",
        metavar="JSON",
        help="also print before (JSON of an earlier run) / after per row; flag >"
        + f"{WORSE:.0%}".replace("%", "%%")
        + " worse",
    )
    parser.add_argument(
        "--against",
        metavar="JSON",
        help="with --compare: compare with this earlier run's JSON instead of running anything",
    )
    args = parser.parse_args(argv)
    if args.against:
        if not args.compare:
            parser.error("--against needs --compare BEFORE.json")
        return print_comparison(args.compare, json.loads(Path(args.against).read_text("utf-8")))

    settings = Settings(
        quick=args.quick,
        full=args.full,
        instructions=not args.no_instructions,
        venvs=not args.no_venvs,
    )
    benchmarks = load_benchmarks()
    names = [b.name if isinstance(b, Benchmark) else b[0] for b in benchmarks]
    if args.list:
        print("\n".join(names))
        return 0
    if args.only:
        unknown = sorted(set(args.only) - set(names))
        if unknown:
            parser.error(
                f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(names)}"
            )
        benchmarks = [b for b, n in zip(benchmarks, names, strict=True) if n in args.only]

    started = time.perf_counter()
    rows: list[Row] = []
    for bench in benchmarks:
        if not isinstance(bench, Benchmark):
            rows.append(Row(bench[0], error=bench[1]))
            continue
        print(f"running {bench.name} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        rows.extend(run_one(bench, settings))
        print(f"  {bench.name}: {time.perf_counter() - t0:.1f}s", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - started

    mode = "quick" if args.quick else "full" if args.full else "default"
    lib = _cg.library() if settings.instructions and not args.quick else "not requested"
    counts = "callgrind" if not isinstance(lib, str) else f"none ({lib})"
    print(table(rows))
    print(
        f"\n{mode} run, {elapsed:.0f}s, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, instructions: {counts}"
    )
    payload = {
        "command": " ".join(["python", "benchmarks/run.py", *(argv or sys.argv[1:])]),
        "mode": mode,
        "elapsed_s": round(elapsed, 2),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "instructions": counts,
        "rows": [row.as_dict() for row in rows],
    }
    Path(args.json).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    if args.compare:
        print_comparison(args.compare, payload)
    return 1 if any(row.error is not None for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
