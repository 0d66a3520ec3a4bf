"""Instruction counts with valgrind's callgrind, for the figures the machine's noise cannot move.

A tiny C helper (built once per run with the system C compiler from ``valgrind/callgrind.h``)
lets the measured process switch callgrind's instrumentation on and off around each measured
section (``--instr-atstart=no``), so start-up and warm-up run uninstrumented and every section
is dumped under its own name. Without valgrind, a C compiler or the header, :func:`available`
says why and the rows carry timings only.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = [
    "LIB_ENV",
    "Probe",
    "available",
    "callgrind_command",
    "library",
    "read_dumps",
    "read_total",
    "whole_process_command",
]

#: Environment variable naming the helper library inside a measured process.
LIB_ENV = "RELAYTOKENS_BENCH_CG_LIB"

HELPER_SOURCE = r"""
#include <valgrind/callgrind.h>
int cg_on_valgrind(void) { return RUNNING_ON_VALGRIND; }
void cg_start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; }
void cg_stop(const char *name) { CALLGRIND_STOP_INSTRUMENTATION; CALLGRIND_DUMP_STATS_AT(name); }
"""

_built: dict[str, Path | str] = {}


def library() -> Path | str:
    """The helper's path, or a sentence saying why instruction counts are not available."""
    if "lib" in _built:
        return _built["lib"]
    _built["lib"] = _build()
    return _built["lib"]


def available() -> bool:
    return isinstance(library(), Path)


def _build() -> Path | str:
    if shutil.which("valgrind") is None:
        return "valgrind is not installed"
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return "no C compiler for the callgrind helper"
    folder = Path(tempfile.mkdtemp(prefix="relaytokens-cg-"))
    atexit.register(shutil.rmtree, folder, True)
    source, target = folder / "cg.c", folder / "cg.so"
    source.write_text(HELPER_SOURCE, encoding="utf-8")
    done = subprocess.run(
        [compiler, "-O2", "-shared", "-fPIC", "-o", str(target), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["failed"])[0]
        return f"the callgrind helper did not build ({first[:120]})"
    return target


def callgrind_command(out_dir: Path) -> list[str]:
    """The valgrind prefix: instrumentation off until the process turns it on."""
    return [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        "--dump-instr=no",
        f"--callgrind-out-file={out_dir}/cg.%p",
    ]


def whole_process_command(out_dir: Path) -> list[str]:
    """The valgrind prefix counting every instruction of the process (start-up rows)."""
    return [
        "valgrind",
        "--tool=callgrind",
        "--dump-instr=no",
        f"--callgrind-out-file={out_dir}/cg.%p",
    ]


def read_total(out_dir: Path) -> int:
    """Instructions of every process dumped into ``out_dir`` (whole-process counts)."""
    total = 0
    for path in sorted(out_dir.glob("cg.*")):
        with path.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                if line.startswith("totals: "):
                    total += int(line.split()[1])
    if not total:
        raise RuntimeError(f"callgrind wrote no totals into {out_dir}")
    return total


def read_dumps(out_dir: Path) -> dict[str, int]:
    """Instructions of each named section dumped into ``out_dir`` (sections add up by name)."""
    totals: dict[str, int] = {}
    for path in sorted(out_dir.glob("cg.*")):
        name, total = None, None
        with path.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                if line.startswith("desc: Trigger: Client Request: "):
                    name = line.split(": ", 3)[3].strip()
                elif line.startswith("totals: "):
                    total = int(line.split()[1])
        if name is not None and total is not None:
            totals[name] = totals.get(name, 0) + total
    return totals


class Probe:
    """In a measured process: ``start()`` / ``stop(name)`` around a section, when under valgrind."""

    def __init__(self) -> None:
        path = os.environ.get(LIB_ENV)
        self._lib = ctypes.CDLL(path) if path else None
        self.active = bool(self._lib is not None and self._lib.cg_on_valgrind())

    def start(self) -> None:
        if self.active and self._lib is not None:
            self._lib.cg_start()

    def stop(self, name: str) -> None:
        if self.active and self._lib is not None:
            self._lib.cg_stop(name.encode("ascii", "replace"))
