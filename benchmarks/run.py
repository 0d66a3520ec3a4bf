"""Run the pytest-relaytokens benchmarks against their baselines and print a table.

    python benchmarks/run.py [--quick | --full] [--ambient] [--json PATH] [--only NAME ...] [--list]

Every figure is the median of interleaved runs (ours, baseline, ours, baseline...) and every
ratio is ours / baseline measured in the same run. Installs nothing: the ``bench`` extra
(``pip install -e '.[bench]'``) provides the baselines. Works with the package installed or
not (then the repo root is put on ``PYTHONPATH`` and the plugin loaded with ``-p``).
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
if str(HERE.parent) not in sys.path:
    sys.path.insert(1, str(HERE.parent))

from _common import Benchmark, Row, Settings, Skip, plugin_installed  # noqa: E402

#: Benchmark modules in the order of the issue; each defines ``BENCHMARK``.
MODULES = (
    "bench_startup",
    "bench_per_test",
    "bench_mocked_calls",
    "bench_loopback",
    "bench_replay",
    "bench_generation",
    "bench_scale",
)


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
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return [Row(bench.title, error=f"{type(exc).__name__}: {first}"[:200])]


def fmt_value(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    if unit.endswith("/s"):
        return f"{value:,.0f} {unit}"
    if unit.endswith("/test"):
        return f"{value:.3f} {unit}"
    return f"{value:.3f} {unit}".strip()


def table(rows: list[Row]) -> str:
    header = ["benchmark", "ours", "baseline", "ratio", "goal", "met"]
    lines = [header, ["---"] * len(header)]
    for row in rows:
        if row.skipped is not None or row.error is not None:
            reason = f"skipped: {row.skipped}" if row.skipped is not None else f"error: {row.error}"
            lines.append([row.name, reason, "", "", row.goal, ""])
            continue
        ratio = row.ratio
        met = row.met
        lines.append(
            [
                row.name,
                fmt_value(row.ours, row.unit),
                fmt_value(row.baseline, row.unit),
                "" if ratio is None else f"{ratio:.2f}",
                row.goal,
                "" if met is None else ("yes" if met else "NO"),
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for line in lines:
        if line[0] == "---":
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        else:
            cells = (cell.ljust(width) for cell, width in zip(line, widths, strict=True))
            out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="small sizes, one pair (smoke test)")
    size.add_argument("--full", action="store_true", help="also the 20,000-test scale run")
    parser.add_argument(
        "--ambient",
        action="store_true",
        help="suite benchmarks autoload every installed pytest plugin (default: only ours)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks")
    parser.add_argument("--list", action="store_true", help="list the benchmark names and exit")
    args = parser.parse_args(argv)

    settings = Settings(quick=args.quick, full=args.full, ambient=args.ambient)
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
    print(table(rows))
    print(
        f"\n{mode} run, {elapsed:.0f}s, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, plugin {'installed' if plugin_installed() else 'loaded with -p'}, "
        f"suite benchmarks with {'every installed plugin' if args.ambient else 'only ours'}"
    )
    if args.json:
        payload = {
            "command": " ".join(["python", "benchmarks/run.py", *(argv or sys.argv[1:])]),
            "mode": mode,
            "elapsed_s": round(elapsed, 2),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "plugin_installed": plugin_installed(),
            "suite_plugins": "ambient" if args.ambient else "isolated",
            "rows": [row.as_dict() for row in rows],
        }
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 1 if any(row.error is not None for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
