"""One recorder at a time per cassette, across processes, on every platform.

The lock file sits beside the cassette (``.<name>.lock``), so every process that can write
the cassette finds the same lock whatever its ``TMPDIR`` (issue 20). ``filelock`` gives
``flock`` on POSIX and ``msvcrt`` locking on Windows.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock

__all__ = ["cassette_lock", "lock_path_for"]

_LOCKS: dict[str, FileLock] = {}
"""One lock object per lock file in this process: filelock counts re-entries per object, so
a save inside a held recording lock (a shared cassette) re-enters instead of waiting."""
_GUARD = threading.Lock()


def lock_path_for(cassette: str | os.PathLike[str]) -> Path:
    """The lock file of ``cassette``: beside the file it stands for (a symlink's target)."""
    where = Path(cassette)
    target = Path(os.path.realpath(where)) if where.is_symlink() else where
    return target.with_name(f".{target.name}.lock")


@contextlib.contextmanager
def cassette_lock(cassette: str | os.PathLike[str]) -> Iterator[Path]:
    """Hold the exclusive cross-process lock of ``cassette`` (its folder is created);
    yields the lock file's path."""
    path = lock_path_for(cassette)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _GUARD:
        lock = _LOCKS.setdefault(str(path.absolute()), FileLock(str(path)))
    with lock:
        yield path
