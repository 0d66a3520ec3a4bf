"""One recorder at a time per cassette, across processes, on every platform.

The lock file sits beside the cassette (``.<name>.lock``), so every process that can write
the cassette finds the same lock whatever its ``TMPDIR`` (issue 20). ``filelock`` gives
``flock`` on POSIX and ``msvcrt`` locking on Windows.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock

from .storage import resolve_cassette_path

__all__ = ["cassette_lock", "lock_path_for"]


def lock_path_for(cassette: str | os.PathLike[str]) -> Path:
    """The lock file of ``cassette``: beside the file it stands for (a symlink's target)."""
    target = resolve_cassette_path(cassette)
    return target.with_name(f".{target.name}.lock")


@contextlib.contextmanager
def cassette_lock(cassette: str | os.PathLike[str]) -> Iterator[Path]:
    """Hold the exclusive cross-process lock of ``cassette`` (its folder is created);
    yields the lock file's path."""
    path = lock_path_for(cassette)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path)):
        yield path
