"""A real HTTP/1.1 server on 127.0.0.1 serving a fake: for clients you cannot patch.

One thread per connection (keep-alive), a lean hand-written parser with hard limits (request
line, header size and count, body size, per-read timeout), and a ``stop()`` that returns within
a second even while requests are in flight.
"""

from __future__ import annotations

import contextlib
import email.utils
import ipaddress
import re
import selectors
import socket
import threading
import time
from types import TracebackType
from typing import BinaryIO, cast

from ..core import FakeRequest, FakeResponse, FakeService
from . import PathRouter, Target, bodiless_status

__all__ = ["FakeServers", "LoopbackServer", "PathRouter", "is_loopback"]

MAX_REQUEST_LINE = 8192
MAX_HEADER_BYTES = 65536
MAX_HEADERS = 100
MAX_HEADER_LINE = 16384
MAX_BODY_BYTES = 1024 * 1024
DEFAULT_TIMEOUT = 10.0
MAX_CONNECTIONS = 1000

_METHOD = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_STATUS_LINES: dict[int, bytes] = {}
_SKIP_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})
# Initials of the headers the parser looks at: Content-Length, Transfer-Encoding, Connection,
# Host, Expect.
_SPECIAL_INITIALS = frozenset("cCtThHeE")


class _HttpError(Exception):
    """A request we answer with ``status`` and then close the connection."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Closed(Exception):
    """The client went away (or the server is stopping): close without answering."""


def _status_line(status: int, reason: str) -> bytes:
    line = _STATUS_LINES.get(status)
    if line is None:
        line = f"HTTP/1.1 {status} {reason}\r\n".encode("latin-1", "replace")
        if 100 <= status < 600:
            _STATUS_LINES[status] = line
    return line


class _DateCache:
    """The ``Date`` header value, formatted once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._value = b""

    def get(self) -> bytes:
        now = int(time.time())
        if now != self._second:
            self._value = email.utils.formatdate(now, usegmt=True).encode("ascii")
            self._second = now
        return self._value


class LoopbackServer:
    """Serve ``target`` over real HTTP/1.1 on ``host`` (default ``127.0.0.1``), ``port`` 0 =
    an ephemeral port. ``start()``/``stop()`` or use it as a context manager; ``url`` is
    ``http://127.0.0.1:PORT``.

    Each request reaches the target as a :class:`FakeRequest` whose URL is ``url`` + the
    request target, so fakes build absolute links that work. ``FakeResponse.delay`` waits
    (interrupted by ``stop()``), ``drop_connection`` closes the socket without an answer.
    Malformed requests get 400, oversized request lines 414, headers 431, bodies 413 (over
    ``max_body`` bytes), slow clients 408 after ``timeout`` seconds of silence mid-request;
    all of these close only their own connection. Exceptions raised by the target become
    500 answers and are kept in ``errors``.
    """

    def __init__(
        self,
        target: Target,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_body: int = MAX_BODY_BYTES,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.target = target
        self.host = host
        self.port = port
        self.timeout = timeout
        self.max_body = max_body
        self.max_connections = max_connections
        self.errors: list[BaseException] = []
        self._base_url = ""
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._dates = _DateCache()
        self._use_host_header = False

    # Lifecycle ----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """``http://HOST:PORT`` (only valid once started)."""
        if not self._base_url:
            raise RuntimeError("the server is not started")
        return self._base_url

    @property
    def running(self) -> bool:
        return self._accept_thread is not None and not self._stopping.is_set()

    def start(self) -> LoopbackServer:
        """Bind, listen and start accepting; returns at once."""
        if self._accept_thread is not None:
            raise RuntimeError("the server is already started")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.host, self.port))
            listener.listen(min(socket.SOMAXCONN, 1024))
            listener.setblocking(False)
        except BaseException:
            listener.close()
            raise
        self._listener = listener
        self.port = listener.getsockname()[1]
        shown = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        shown = "[::1]" if shown == "::" else shown
        if ":" in shown and not shown.startswith("["):
            shown = f"[{shown}]"
        self._base_url = f"http://{shown}:{self.port}"
        self._use_host_header = not is_loopback(self.host)
        self._wake_r, self._wake_w = socket.socketpair()
        self._stopping.clear()
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name=f"relaytokens-accept-{self.port}", daemon=True
        )
        self._accept_thread.start()
        return self

    def stop(self, timeout: float = 1.0) -> None:
        """Stop accepting, close every connection (in-flight requests are abandoned) and join
        every thread, within ``timeout`` seconds. Idempotent."""
        if self._accept_thread is None:
            return
        deadline = time.monotonic() + timeout
        self._stopping.set()
        if self._wake_w is not None:
            with contextlib.suppress(OSError):
                self._wake_w.send(b"x")
        self._accept_thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            connections = list(self._connections.items())
            for conn, _ in connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        for _, thread in connections:
            thread.join(max(0.0, deadline - time.monotonic()))
        for sock in (self._listener, self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()
        self._listener = self._wake_r = self._wake_w = None
        self._accept_thread = None

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def threads(self) -> list[threading.Thread]:
        """The server's live threads (accept loop and connections)."""
        with self._lock:
            found = list(self._connections.values())
        if self._accept_thread is not None:
            found.append(self._accept_thread)
        return [t for t in found if t.is_alive()]

    def __repr__(self) -> str:
        state = self._base_url or "not started"
        return f"<LoopbackServer {state} serving {self.target!r}>"

    # Accepting ----------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        listener, wake = self._listener, self._wake_r
        assert listener is not None and wake is not None
        with selectors.DefaultSelector() as selector:
            selector.register(listener, selectors.EVENT_READ)
            selector.register(wake, selectors.EVENT_READ)
            while not self._stopping.is_set():
                for key, _ in selector.select():
                    if key.fileobj is wake or self._stopping.is_set():
                        return
                    self._accept_some(listener)

    def _accept_some(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. EMFILE: back off a little, keep serving
                time.sleep(0.01)
                return
            conn.setblocking(True)
            conn.settimeout(self.timeout)
            with contextlib.suppress(OSError):
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                if self._stopping.is_set():
                    conn.close()
                    return
                if len(self._connections) >= self.max_connections:
                    self._refuse(conn)
                    continue
                thread = threading.Thread(
                    target=self._serve_connection,
                    args=(conn,),
                    name=f"relaytokens-conn-{self.port}",
                    daemon=True,
                )
                self._connections[conn] = thread
            thread.start()

    def _linger(self, conn: socket.socket) -> None:
        """After an error answer: stop sending, discard what the client still sends for a
        moment, so closing does not reset the connection before it reads our answer."""
        conn.shutdown(socket.SHUT_WR)
        conn.settimeout(0.2)
        deadline = time.monotonic() + 0.5
        drained = 0
        while time.monotonic() < deadline and drained < 4 * self.max_body:
            chunk = conn.recv(65536)
            if not chunk:
                return
            drained += len(chunk)

    def _refuse(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            conn.sendall(self._error_bytes(503, "too many connections"))
        conn.close()

    # One connection -----------------------------------------------------------------------
    def _serve_connection(self, conn: socket.socket) -> None:
        rfile = cast(BinaryIO, conn.makefile("rb", buffering=65536))
        try:
            while not self._stopping.is_set():
                if not self._serve_one(conn, rfile):
                    break
        except _HttpError as error:
            with contextlib.suppress(OSError):
                conn.sendall(self._error_bytes(error.status, error.message))
                self._linger(conn)
        except (_Closed, OSError, ValueError):
            pass
        finally:
            with self._lock:
                self._connections.pop(conn, None)
                with contextlib.suppress(OSError):
                    rfile.close()
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()

    def _readline(self, rfile: BinaryIO, limit: int, status: int, first: bool = False) -> bytes:
        try:
            line = rfile.readline(limit + 1)
        except TimeoutError:
            if first:
                raise _Closed() from None
            raise _HttpError(408, "request timeout") from None
        if len(line) > limit:
            raise _HttpError(
                status,
                "request line too long" if status == 414 else "request header fields too large",
            )
        if not line.endswith(b"\n"):
            if first and not line:
                raise _Closed()
            raise _HttpError(400, "incomplete request")
        return line

    def _serve_one(self, conn: socket.socket, rfile: BinaryIO) -> bool:
        """Read, answer one request; False when the connection must close."""
        line = self._readline(rfile, MAX_REQUEST_LINE, 414, first=True)
        while line in (b"\r\n", b"\n"):  # tolerate blank lines between requests (RFC 9112)
            line = self._readline(rfile, MAX_REQUEST_LINE, 414, first=True)
        parts = line.split()
        if len(parts) != 3 or not _METHOD.match(parts[0]):
            raise _HttpError(400, "malformed request line")
        method_b, target_b, version = parts
        if version == b"HTTP/1.1":
            keep_alive = True
        elif version == b"HTTP/1.0":
            keep_alive = False
        else:
            raise _HttpError(505 if version.startswith(b"HTTP/") else 400, "bad HTTP version")
        # Headers
        headers: list[tuple[str, str]] = []
        total = 0
        content_length: int | None = None
        chunked = False
        host_header = ""
        expect_continue = False
        readline = rfile.readline
        while True:
            try:
                raw = readline(MAX_HEADER_LINE + 1)
            except TimeoutError:
                raise _HttpError(408, "request timeout") from None
            if raw == b"\r\n" or raw == b"\n":
                break
            if raw[-1:] != b"\n":
                if len(raw) > MAX_HEADER_LINE:
                    raise _HttpError(431, "request header fields too large")
                raise _HttpError(400, "incomplete request")
            total += len(raw)
            if total > MAX_HEADER_BYTES or len(headers) >= MAX_HEADERS:
                raise _HttpError(431, "request header fields too large")
            name_b, colon, value_b = raw.partition(b":")
            if not colon or not name_b or name_b[-1:] in b" \t" or name_b[:1] in b" \t":
                raise _HttpError(400, "malformed header line")
            name = name_b.decode("latin-1")
            value = value_b.strip().decode("latin-1")
            headers.append((name, value))
            if name[0] not in _SPECIAL_INITIALS:
                continue
            lname = name.lower()
            if lname == "content-length":
                if not value.isdigit() or (
                    content_length is not None and int(value) != content_length
                ):
                    raise _HttpError(400, "bad Content-Length")
                content_length = int(value)
            elif lname == "transfer-encoding":
                if value.lower() != "chunked" or chunked:
                    raise _HttpError(501, "unsupported Transfer-Encoding")
                chunked = True
            elif lname == "connection":
                tokens = {t.strip().lower() for t in value.split(",")}
                if "close" in tokens:
                    keep_alive = False
                elif "keep-alive" in tokens:
                    keep_alive = True
            elif lname == "host":
                host_header = value
            elif lname == "expect":
                if value.lower() != "100-continue":
                    raise _HttpError(417, "expectation failed")
                expect_continue = True
        if chunked and content_length is not None:
            raise _HttpError(400, "both Content-Length and Transfer-Encoding")
        # Body
        if content_length is not None and content_length > self.max_body:
            raise _HttpError(413, f"request body larger than {self.max_body} bytes")
        if expect_continue and (chunked or content_length):
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = b""
        if chunked:
            body = self._read_chunked(rfile)
        elif content_length:
            body = self._read_exact(rfile, content_length)
        # Dispatch
        method = method_b.decode("ascii").upper()
        url = self._request_url(target_b.decode("latin-1"), host_header)
        try:
            response = self.target.handle(FakeRequest(method, url, tuple(headers), body))
        except Exception as error:  # the target is broken: answer 500, keep serving
            self.errors.append(error)
            response = FakeResponse(
                500,
                [("Content-Type", "text/plain; charset=utf-8")],
                f"fake raised {type(error).__name__}: {error}\n".encode(),
            )
        if response.delay > 0 and self._stopping.wait(response.delay):
            raise _Closed()
        if response.drop_connection or self._stopping.is_set():
            raise _Closed()
        conn.sendall(self._response_bytes(response, method, keep_alive))
        return keep_alive

    def _request_url(self, target: str, host_header: str) -> str:
        if not target.startswith("/"):
            if "://" in target:  # absolute-form: keep path and query only
                _, _, rest = target.partition("://")
                slash = rest.find("/")
                target = rest[slash:] if slash >= 0 else "/"
            else:  # "*" or authority-form
                target = "/"
        if self._use_host_header and host_header and _valid_host(host_header):
            return f"http://{host_header}{target}"
        return self._base_url + target

    def _read_exact(self, rfile: BinaryIO, size: int) -> bytes:
        try:
            data = rfile.read(size)
        except TimeoutError:
            raise _HttpError(408, "request timeout") from None
        if len(data) != size:
            raise _HttpError(400, "incomplete request body")
        return data

    def _read_chunked(self, rfile: BinaryIO) -> bytes:
        chunks: list[bytes] = []
        size_total = 0
        while True:
            line = self._readline(rfile, 1024, 400)
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise _HttpError(400, "bad chunk size") from None
            if size < 0:
                raise _HttpError(400, "bad chunk size")
            if size == 0:
                while self._readline(rfile, MAX_HEADER_BYTES, 431) not in (b"\r\n", b"\n"):
                    pass  # trailers are ignored
                return b"".join(chunks)
            size_total += size
            if size_total > self.max_body:
                raise _HttpError(413, f"request body larger than {self.max_body} bytes")
            chunks.append(self._read_exact(rfile, size))
            if self._readline(rfile, 2, 400) not in (b"\r\n", b"\n"):
                raise _HttpError(400, "bad chunk terminator")

    # Writing ------------------------------------------------------------------------------
    def _response_bytes(self, response: FakeResponse, method: str, keep_alive: bool) -> bytes:
        body = response.body
        out = [_status_line(response.status, response.reason)]
        has_date = False
        for name, value in response.headers:
            lname = name.lower()
            if lname in _SKIP_HEADERS:
                continue
            if lname == "date":
                has_date = True
            out.append(f"{name}: {value}\r\n".encode("latin-1", "replace"))
        if not has_date:
            out.append(b"Date: " + self._dates.get() + b"\r\n")
        no_body = bodiless_status(response.status)
        if not no_body:
            out.append(b"Content-Length: %d\r\n" % len(body))
        if not keep_alive:
            out.append(b"Connection: close\r\n")
        out.append(b"\r\n")
        if method != "HEAD" and not no_body:
            out.append(body)
        return b"".join(out)

    def _error_bytes(self, status: int, message: str) -> bytes:
        reason = FakeResponse(status).reason
        body = f"{status} {reason}: {message}\n".encode()
        return (
            _status_line(status, reason)
            + b"Content-Type: text/plain; charset=utf-8\r\n"
            + b"Content-Length: %d\r\nConnection: close\r\n" % len(body)
            + b"Date: "
            + self._dates.get()
            + b"\r\n\r\n"
            + body
        )


_HOST = re.compile(r"[A-Za-z0-9.\-]+(?::\d{1,5})?\Z|\[[0-9A-Fa-f:.]+\](?::\d{1,5})?\Z")


def _valid_host(value: str) -> bool:
    return _HOST.match(value) is not None


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an IP, brackets allowed) is a loopback address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class FakeServers(LoopbackServer):
    """Both fakes behind one loopback server: Relay under ``/api/``, UCWA everywhere else.

    ``url`` is the base URL of both; ``ucwa`` and ``relay`` are the services (their
    ``credentials``, ``log`` and ``arm_*`` methods work as with ``ucwa_api``/``relay_api``).
    """

    def __init__(
        self, ucwa: FakeService, relay: FakeService, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        super().__init__(PathRouter([("/api/", relay)], default=ucwa), host, port)
        self.ucwa = ucwa
        self.relay = relay
