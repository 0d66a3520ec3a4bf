"""Run a command until the parent lets go: ``python _watchdog.py MAX_SECONDS -- COMMAND...``.

The parent holds this process's stdin open. The command (in this process's group) is ended
with SIGTERM, then SIGKILL, when stdin reaches end of file (the parent closed it, or died),
after ``MAX_SECONDS``, or on SIGTERM; this process then exits with the command's status.
Standard library only: it runs as a script, without importing the package.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time

GRACE_SECONDS = 2.0


def _end(child: subprocess.Popen[bytes]) -> int:
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            child.kill()
    return child.wait()


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: _watchdog.py MAX_SECONDS -- COMMAND...", file=sys.stderr)
        return 2
    deadline = time.monotonic() + float(argv[0])
    child = subprocess.Popen(argv[2:], stdin=subprocess.DEVNULL)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    while not stopping and child.poll() is None:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            ready, _, _ = select.select([sys.stdin], [], [], min(left, 0.5))
        except InterruptedError:  # pragma: no cover - a signal during select
            continue
        if ready and not os.read(sys.stdin.fileno(), 4096):
            break  # end of file: the parent closed its end, or died
    return _end(child)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
