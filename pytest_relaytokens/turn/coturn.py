"""A real coturn (``turnserver``) on 127.0.0.1, for the length of a test, a session or a
``relaytokens serve --turn``.

The server listens for UDP and TCP on one free port, relays on a small free port range, reads
its users from a SQLite user database (:class:`~pytest_relaytokens.turn.userdb.UserDb`) and
runs under a watchdog that ends it when its owner stops it, when its owner dies (the
watchdog's stdin closes) or after ``max_seconds``.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .._background import Background
from ..errors import RelayTokensError
from ..ucwa.credentials import RelayEndpoint
from .userdb import UserDb

__all__ = [
    "INSTALL_HINT",
    "CoturnServer",
    "TurnServerError",
    "TurnServerMissing",
    "find_turnserver",
]

INSTALL_HINT = (
    "install coturn: `sudo apt-get install -y coturn` (Debian/Ubuntu) or "
    "`brew install coturn` (macOS)"
)
DEFAULT_REALM = "relaytokens"
#: How long a server may live unless told otherwise: a bound for an owner that never stops it.
DEFAULT_MAX_SECONDS = 3600.0
START_TIMEOUT = 15.0
#: How long cancel_sessions waits for coturn to drop the sessions it was told to end.
CANCEL_SECONDS = 5.0
_WATCHDOG = Path(__file__).with_name("_watchdog.py")
#: Relay ports are drawn below every common ephemeral range (Linux 32768+, BSD/macOS 49152+),
#: so they never collide with the listening port the kernel hands out.
_RELAY_LOW, _RELAY_HIGH = 20000, 32000
_HOST = "127.0.0.1"


class TurnServerMissing(RelayTokensError):
    """coturn's ``turnserver`` is not installed (or not on ``PATH``)."""


class TurnServerError(RelayTokensError):
    """coturn did not start, or stopped on its own."""


def find_turnserver() -> str:
    """The path of ``turnserver`` on ``PATH``; :class:`TurnServerMissing` says how to install
    it when there is none."""
    found = shutil.which("turnserver")
    if found is None:
        raise TurnServerMissing(
            "coturn's `turnserver` is not on PATH, and the TURN check needs a real TURN "
            f"server; {INSTALL_HINT}"
        )
    return found


def _free_port() -> int:
    """A port free for both TCP and UDP on 127.0.0.1."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((_HOST, 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((_HOST, port))
                except OSError:
                    continue
                return port
    raise TurnServerError("no port free for both TCP and UDP on 127.0.0.1 after 50 tries")


def _free_range(count: int) -> tuple[int, int]:
    """``count`` consecutive UDP ports free on 127.0.0.1, from a random start."""
    draw = random.SystemRandom()
    for _ in range(50):
        low = draw.randrange(_RELAY_LOW, _RELAY_HIGH - count)
        sockets = []
        try:
            for port in range(low, low + count):
                udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sockets.append(udp)
                udp.bind((_HOST, port))
        except OSError:
            continue
        finally:
            for udp in sockets:
                udp.close()
        return low, low + count - 1
    raise TurnServerError(f"no {count} consecutive free UDP ports on 127.0.0.1 after 50 tries")


def _stun_binding_answered(port: int, timeout: float) -> bool:
    """Whether a STUN Binding request (RFC 8489 §5) to ``port`` over UDP gets any answer."""
    request = b"\x00\x01\x00\x00\x21\x12\xa4\x42" + os.urandom(12)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(timeout)
        try:
            udp.sendto(request, (_HOST, port))
            answer = udp.recv(2048)
        except OSError:
            return False
    return len(answer) >= 20 and answer[8:20] == request[8:20]


def _tcp_accepts(port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((_HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


#: One session in coturn's CLI ``ps`` listing: ``1) id=0010..., user <name>:``
_SESSION = re.compile(r"^\s*\d+\) id=(\d+), user <(.*)>:\r?$", re.M)


def _read_until(cli: socket.socket, prompt: bytes) -> str:
    """What the CLI prints until its output ends with ``prompt`` (trailing white space
    aside): ``b"password:"`` or the command prompt ``b"\n>"``."""
    data = b""
    while not (b"\n" + data).rstrip().endswith(prompt):
        chunk = cli.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.decode("utf-8", "replace")


class CoturnServer(Background):
    """One coturn on 127.0.0.1: ``start()``/``stop()`` or a ``with`` block.

    ``host``, ``port`` (UDP and TCP), ``realm``, ``relay_ports`` and ``users`` (its user
    database) are set once started; ``endpoint`` is what a ``mediaRelay`` entry points at.
    """

    def __init__(
        self,
        *,
        realm: str = DEFAULT_REALM,
        relay_port_count: int = 32,
        max_seconds: float = DEFAULT_MAX_SECONDS,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        if not realm or any(not (c.isalnum() or c in ".-_") for c in realm):
            raise ValueError(f"realm must be letters, digits, '.', '-' or '_', got {realm!r}")
        self.realm = realm
        self.relay_port_count = relay_port_count
        self.max_seconds = max_seconds
        self.extra_args = extra_args
        self.host = _HOST
        self.port = 0
        self.relay_ports = (0, 0)
        self.cli_port = 0
        self._cli_password = secrets.token_hex(16)
        self._dir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._users: UserDb | None = None

    # --- what a running server offers --------------------------------------------------------
    @property
    def users(self) -> UserDb:
        if self._users is None:
            raise TurnServerError("the TURN server is not running: start() it first")
        return self._users

    @property
    def endpoint(self) -> RelayEndpoint:
        """Where a ``mediaRelay`` entry points: this host, UDP and TCP on ``port``."""
        return RelayEndpoint(host=self.host, udp_port=self.port, tcp_port=self.port)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The watchdog's pid (the process group coturn runs in)."""
        return None if self._process is None else self._process.pid

    @property
    def server_pid(self) -> int | None:
        """coturn's own pid (from its pid file), while it runs."""
        pidfile = None if self._dir is None else self._dir / "turnserver.pid"
        if pidfile is None or not pidfile.is_file():
            return None
        text = pidfile.read_text("ascii", "replace").strip()
        return int(text) if text.isdigit() else None

    def log_text(self) -> str:
        """coturn's log so far (its stdout)."""
        if self._dir is None or not (self._dir / "turnserver.log").exists():
            return ""
        return (self._dir / "turnserver.log").read_text("utf-8", "replace")

    def sessions(self) -> dict[str, str]:
        """``{session id: user name}`` of the allocations coturn holds now (its CLI's ``ps``)."""
        listing = self._cli(["ps"])
        return dict(_SESSION.findall(listing))

    def cancel_sessions(self, names: set[str]) -> int:
        """End every allocation made with one of ``names`` (coturn's CLI ``cs``): the
        client's next Refresh gets 437, nothing more is relayed. Returns how many ended."""
        if not names:
            return 0
        doomed = [sid for sid, user in self.sessions().items() if user in names]
        if doomed:
            self._cli([f"cs {sid}" for sid in doomed])
            # coturn ends them on its relay thread after answering: wait until `ps` agrees
            deadline = time.monotonic() + CANCEL_SECONDS
            while set(doomed) & self.sessions().keys() and time.monotonic() < deadline:
                time.sleep(0.02)
        return len(doomed)

    def _cli(self, commands: list[str]) -> str:
        """Run ``commands`` (never user input: ``ps`` and ``cs <digits>``) on coturn's telnet
        CLI and return what it printed."""
        if not self.running:
            raise TurnServerError("the TURN server is not running: start() it first")
        with socket.create_connection((self.host, self.cli_port), timeout=5.0) as cli:
            _read_until(cli, b"password:")
            printed = []
            for line in [self._cli_password, *commands]:
                cli.sendall(line.encode("ascii") + b"\r\n")
                printed.append(_read_until(cli, b"\n>"))
        return "".join(printed)

    # --- lifecycle --------------------------------------------------------------------------
    def start(self) -> CoturnServer:
        """Start coturn and wait until it answers STUN over UDP and accepts TCP."""
        if self._process is not None:
            raise TurnServerError("this TURN server is already started")
        executable = find_turnserver()
        self._dir = Path(tempfile.mkdtemp(prefix="relaytokens-turn-"))  # mode 0700
        self._users = UserDb(self._dir / "users.sqlite", self.realm)
        self._users.create()
        problem = ""
        for _ in range(3):  # a port taken between the check and coturn's bind: try again
            self.port = _free_port()
            self.cli_port = _free_port()
            self.relay_ports = _free_range(self.relay_port_count)
            self._spawn(executable)
            problem = self._wait_ready()
            if not problem:
                return self
            self._kill()
            if "bind" not in self.log_text().lower():
                break
        log = self.log_text()
        self.stop()
        tail = "\n".join(log.splitlines()[-15:])
        raise TurnServerError(f"coturn did not start: {problem}; its log ends:\n{tail}")

    def _arguments(self, executable: str) -> list[str]:
        assert self._dir is not None and self._users is not None
        low, high = self.relay_ports
        return [
            executable,
            "-n",  # no configuration file: everything is below
            f"--listening-ip={self.host}",
            f"--relay-ip={self.host}",
            f"--listening-port={self.port}",
            f"--min-port={low}",
            f"--max-port={high}",
            f"--realm={self.realm}",
            "--lt-cred-mech",
            f"--userdb={self._users.path}",
            "--no-tls",
            "--no-dtls",
            f"--cli-ip={self.host}",  # the admin CLI: how sessions of a dead credential end
            f"--cli-port={self.cli_port}",
            f"--cli-password={self._cli_password}",
            "--allow-loopback-peers",  # the peers a test runs are on 127.0.0.1
            "--fingerprint",
            "--log-file=stdout",
            "--simple-log",
            f"--pidfile={self._dir / 'turnserver.pid'}",
            *self.extra_args,
        ]

    def _spawn(self, executable: str) -> None:
        assert self._dir is not None
        log = (self._dir / "turnserver.log").open("wb")
        try:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    str(_WATCHDOG),
                    str(self.max_seconds),
                    "--",
                    *self._arguments(executable),
                ],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped as one
            )
        finally:
            log.close()

    def _wait_ready(self) -> str:
        """'' once coturn answers, else what went wrong."""
        deadline = time.monotonic() + START_TIMEOUT
        process = self._process
        assert process is not None
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return f"it exited with status {process.returncode}"
            if _stun_binding_answered(self.port, 0.2) and _tcp_accepts(self.port, 0.2):
                return ""
            time.sleep(0.05)
        return f"no STUN answer on 127.0.0.1:{self.port} within {START_TIMEOUT:.0f} s"

    def _kill(self) -> None:
        """End the watchdog and coturn: close the watchdog's stdin, then the whole group."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(5.0)  # the watchdog ends coturn and waits for it
        except subprocess.TimeoutExpired:  # coturn and the watchdog share its group
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def stop(self) -> None:
        """Stop coturn (the whole process group) and remove its files."""
        self._kill()
        self._users = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __repr__(self) -> str:
        state = f"127.0.0.1:{self.port}" if self.running else "stopped"
        return f"CoturnServer({state}, realm={self.realm!r})"
