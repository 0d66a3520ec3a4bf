"""Start ``relaytokens serve`` as a subprocess and read what it prints (for tests/test_serve_*)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_EXPORT = re.compile(
    r"^export (RELAYTOKENS_\w+|SSL_CERT_FILE|REQUESTS_CA_BUNDLE|NODE_EXTRA_CA_CERTS)=(.*)$"
)


@dataclass
class ServeProcess:
    """A running serve: ``url``, ``exports`` (the ``export`` lines it printed), ``banner``."""

    proc: subprocess.Popen[str]
    url: str
    banner: str
    exports: dict[str, str] = field(default_factory=dict)

    @property
    def token(self) -> str:
        return self.exports["RELAYTOKENS_ADMIN_TOKEN"]

    def env(self) -> dict[str, str]:
        """The environment a client in a subprocess gets: the process's own plus exports."""
        return {**os.environ, "PYTHONPATH": str(ROOT), **self.exports}

    def stop(self) -> str:
        """SIGTERM, then what it printed after the banner."""
        if self.proc.poll() is None:
            self.proc.terminate()
        rest, _ = self.proc.communicate(timeout=20)
        return rest


def serve_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "pytest_relaytokens.cli", "serve", *args]


def start_serve(*args: str, max_seconds: int = 120) -> ServeProcess:
    """Start serve (``--quiet``, stops by itself after ``max_seconds``) and wait for its
    banner, up to the last line it prints before serving."""
    command = serve_command("--quiet", "--max-seconds", str(max_seconds), *args)
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    lines: list[str] = []
    while True:
        line = proc.stdout.readline()
        if not line:
            _, err = proc.communicate(timeout=20)
            raise AssertionError(f"serve exited ({proc.returncode}):\n{''.join(lines)}\n{err}")
        lines.append(line)
        if line.startswith("Ctrl-C stops the server."):
            break
    banner = "".join(lines)
    exports = {}
    for text in lines:
        match = _EXPORT.match(text.rstrip("\n"))
        if match:
            exports[match.group(1)] = shlex.split(match.group(2))[0]
    return ServeProcess(proc, exports["RELAYTOKENS_ADMIN_URL"], banner, exports)
