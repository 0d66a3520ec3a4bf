"""A real HTTP/1.1 server on 127.0.0.1 serving a fake: for clients you cannot patch.

One thread per connection (keep-alive). Requests are parsed and framed by h11 (the HTTP/1.1
state machine httpx and uvicorn use); a complete bodiless head in the plain ASCII subset takes
:func:`quick_head`, kept for speed and pinned to h11 by a differential test. The limits h11
leaves to its user are checked on what it read: request line, header line, size and count,
body size, an idle timeout, a whole-request deadline, a connection cap that closes idle
keep-alive connections before refusing new ones. On Linux reads and writes are timed by the
kernel on blocking sockets (one system call each). Header values the fakes return are
validated before they are written. ``stop()`` returns within a second even while requests
are in flight.
"""

from __future__ import annotations

import contextlib
import email.utils
import re
import select
import selectors
import socket
import struct
import sys
import threading
import time

import h11

from .._background import Background
from ..http import FakeRequest, FakeResponse, FakeService
from ..http.chaos import (
    DRIBBLE_PAUSE_SECONDS,
    DRIBBLE_PIECE,
    SLOW_HEADERS_SECONDS,
    truncated_length,
)
from ..http.messages import first_bad_header, unsendable_answer
from ..http.urls import is_loopback
from . import PathRouter, Target, bodiless_status

__all__ = ["FakeServers", "LoopbackServer", "PathRouter"]

MAX_REQUEST_LINE = 8192
MAX_HEADER_BYTES = 65536
MAX_HEADERS = 100
MAX_HEADER_LINE = 16384
MAX_BODY_BYTES = 1024 * 1024
DEFAULT_TIMEOUT = 10.0
MAX_CONNECTIONS = 1000
#: The longest ``timeout`` or ``request_deadline`` accepted, in seconds (about three years).
MAX_TIMEOUT = 1e8
#: The whole request (head and body) must arrive within this many times ``timeout``.
REQUEST_DEADLINE_FACTOR = 3.0
_MAX_HEAD = MAX_REQUEST_LINE + MAX_HEADER_BYTES

_STATUS_LINES: dict[int, bytes] = {}
#: The seeded chaos kinds whose answer cannot arrive whole (http/chaos.py).
_BROKEN = frozenset({"truncate", "reset", "bad_chunked"})
#: The request fields the server itself reads (the rest only reach the fake).
_HOST_FIELD, _CONNECTION, _CONTENT_LENGTH, _TRANSFER_ENCODING, _EXPECT = range(5)
_REQUEST_FIELDS = {
    b"host": _HOST_FIELD,
    b"connection": _CONNECTION,
    b"content-length": _CONTENT_LENGTH,
    b"transfer-encoding": _TRANSFER_ENCODING,
    b"expect": _EXPECT,
}
_CONTENT_LENGTH_LINE = re.compile(rb"(?im)^content-length:[^\r\n]*\r\n")
_SKIP_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})


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


_LINUX = sys.platform.startswith("linux")


def _timeval(seconds: float) -> bytes:
    """``struct timeval`` for ``SO_RCVTIMEO``/``SO_SNDTIMEO`` (never 0: that means "never")."""
    micro = max(1, round(seconds * 1_000_000))
    return struct.pack("@ll", micro // 1_000_000, micro % 1_000_000)


def _kernel_timeouts_work(sock: socket.socket, seconds: float) -> bool:
    """Whether this kernel takes and gives back a ``SO_RCVTIMEO`` in the layout we write."""
    try:
        wanted = _timeval(seconds)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, wanted)
        return sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, len(wanted)) == wanted
    except (OSError, AttributeError, OverflowError, struct.error):  # e.g. a huge timeout
        return False


class _Peer:
    """One connection: its socket and thread, and what the connection cap needs to know."""

    __slots__ = ("evicted", "read_timeout", "sock", "thread", "writing")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.thread: threading.Thread = threading.current_thread()  # set before it starts
        self.writing = False  # idle, but still writing its last answer
        self.evicted = False
        self.read_timeout = 0.0  # what a read waits for at most now

    def set_read_timeout(self, seconds: float) -> None:
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _timeval(seconds))
        self.read_timeout = seconds


def _since(item: tuple[_Peer, float]) -> float:
    return item[1]


def _has_pending(sock: socket.socket) -> bool:
    """Whether bytes (or the end of the stream) wait on ``sock``, without reading them."""
    try:
        if hasattr(select, "poll"):  # no FD_SETSIZE limit
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return False


def _request_waiting(sock: socket.socket) -> bool:
    """Whether request bytes wait on ``sock`` unread: not the end of the stream (a client
    that closed its keep-alive connection leaves nothing to lose by evicting it)."""
    if not _has_pending(sock):
        return False
    try:  # readable, so a peek returns at once: bytes, or b"" at the end of the stream
        return sock.recv(1, socket.MSG_PEEK | getattr(socket, "MSG_DONTWAIT", 0)) != b""
    except (BlockingIOError, InterruptedError):
        return True  # nothing after all, or not yet: keep it, as before
    except OSError:
        return False  # reset by the client: nothing to lose


class LoopbackServer(Background):
    """Serve ``target`` over real HTTP/1.1 on ``host`` (default ``127.0.0.1``), ``port`` 0 =
    an ephemeral port. ``start()``/``stop()`` or use it as a context manager; ``url`` is
    ``http://127.0.0.1:PORT``.

    Each request reaches the target as a :class:`FakeRequest` whose URL is ``url`` + the
    request target, so fakes build absolute links that work. ``FakeResponse.delay`` waits
    (interrupted by ``stop()``), ``drop_connection`` closes the socket without an answer.
    Malformed requests get 400 (HTTP/1.1 without ``Host`` too), oversized request lines 414,
    headers 431, bodies 413 (over ``max_body`` bytes), slow clients 408 after ``timeout``
    seconds of silence mid-request or when the whole request takes longer than
    ``request_deadline`` (default three times ``timeout``); all of these close only their own
    connection. A connection idle for ``timeout`` seconds between requests is closed quietly.
    At ``max_connections``, the longest-idle keep-alive connection is closed to make room;
    only when none is idle is a new one refused with 503. HTTP/1.0 clients are answered with
    ``Connection: close`` unless they ask for keep-alive (then ``Connection: keep-alive``).
    Exceptions raised by the target, and response headers that cannot be written safely (a
    CR or LF in a value), become 500 answers and are kept in ``errors``.
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
        request_deadline: float | None = None,
    ) -> None:
        self.target = target
        self.host = host
        self.port = port
        self.timeout = timeout
        self.max_body = max_body
        self.max_connections = max_connections
        self.request_deadline = (
            request_deadline
            if request_deadline is not None
            else min(timeout * REQUEST_DEADLINE_FACTOR, MAX_TIMEOUT)
        )
        for label, number in (
            ("timeout", timeout),
            ("request_deadline", self.request_deadline),
            ("max_body", max_body),
            ("max_connections", max_connections),
        ):
            if not number > 0:
                raise ValueError(f"LoopbackServer: {label} must be positive, got {number!r}")
        for label, seconds in (("timeout", timeout), ("request_deadline", self.request_deadline)):
            if seconds > MAX_TIMEOUT:  # sockets and the kernel cannot wait that long
                raise ValueError(
                    f"LoopbackServer: {label} must be at most {MAX_TIMEOUT:g} seconds, "
                    f"got {seconds!r}"
                )
        self.errors: list[BaseException] = []
        self._base_url = ""
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._peers: dict[socket.socket, _Peer] = {}  # every open connection
        self._evicted = 0  # peers evicted but not yet closed
        #: Keep-alive peers waiting for a request, since when (monotonic). Taking a peer out
        #: is how both its own thread (a request came) and the cap (evicting it) claim it:
        #: ``dict.pop`` is atomic, so exactly one of them does, and no lock is needed.
        self._idle: dict[_Peer, float] = {}
        self._dates = _DateCache()
        self._use_host_header = False
        #: Time reads and writes with the kernel's ``SO_RCVTIMEO``/``SO_SNDTIMEO`` on blocking
        #: sockets (one system call per read or write; Linux); False uses socket timeouts
        #: (a ``poll`` before each call). ``start()`` turns it off where the kernel refuses.
        self.kernel_timeouts = _LINUX

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
        if self.kernel_timeouts:
            self.kernel_timeouts = _kernel_timeouts_work(listener, self.timeout)
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
            peers = list(self._peers.values())
            for peer in peers:
                with contextlib.suppress(OSError):
                    peer.sock.shutdown(socket.SHUT_RDWR)
        for peer in peers:
            peer.thread.join(max(0.0, deadline - time.monotonic()))
        for sock in (self._listener, self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()
        self._listener = self._wake_r = self._wake_w = None
        self._accept_thread = None

    @property
    def threads(self) -> list[threading.Thread]:
        """The server's live threads (accept loop and connections)."""
        with self._lock:
            found = [peer.thread for peer in self._peers.values()]
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
            peer = _Peer(conn)
            try:
                self._prepare(peer)
            except OSError:
                conn.close()
                continue
            with self._lock:
                if self._stopping.is_set():
                    conn.close()
                    return
                full = len(self._peers) - self._evicted >= self.max_connections
                if full and not self._evict_idle():
                    self._refuse(conn)
                    continue
                peer.thread = threading.Thread(
                    target=self._serve_connection,
                    args=(peer,),
                    name=f"relaytokens-conn-{self.port}",
                    daemon=True,
                )
                self._peers[conn] = peer
            peer.thread.start()

    def _prepare(self, peer: _Peer) -> None:
        """A new connection: no Nagle delay; reads and writes time out after ``timeout``."""
        conn = peer.sock
        conn.setblocking(True)
        with contextlib.suppress(OSError):
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.kernel_timeouts:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _timeval(self.timeout))
            peer.set_read_timeout(self.timeout)
        else:
            conn.settimeout(self.timeout)
            peer.read_timeout = self.timeout

    def _evict_idle(self) -> bool:
        """Close the longest-idle keep-alive connection (caller holds the lock)."""
        for peer, _ in sorted(self._idle.items(), key=_since):  # the longest idle first
            if _request_waiting(peer.sock):
                continue  # its client already sent a request its thread has not read yet
            if self._idle.pop(peer, None) is None:
                continue  # a request came for it meanwhile: it is busy now
            peer.evicted = True
            self._evicted += 1
            if not peer.writing:  # else it closes once its answer is written
                with contextlib.suppress(OSError):
                    peer.sock.shutdown(socket.SHUT_RDWR)
            return True
        return False

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
            conn.settimeout(self.timeout)
            conn.sendall(self._error_bytes(503, "too many connections"))
        conn.close()

    # One connection -----------------------------------------------------------------------
    def _serve_connection(self, peer: _Peer) -> None:
        conn, buffer = peer.sock, bytearray()
        self._idle[peer] = time.monotonic()  # waits for its first request
        try:
            while not self._stopping.is_set():
                if not self._serve_one(peer, buffer):
                    break
        except _HttpError as error:
            with contextlib.suppress(OSError):
                conn.settimeout(self.timeout)
                conn.sendall(self._error_bytes(error.status, error.message))
                self._linger(conn)
        except (_Closed, OSError, ValueError):
            pass
        finally:
            self._idle.pop(peer, None)
            with self._lock:
                self._peers.pop(conn, None)
                if peer.evicted:
                    self._evicted -= 1
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()

    def _busy(self, peer: _Peer) -> None:
        """A request is coming: ``peer`` is no longer idle, unless the cap evicted it first."""
        if self._idle.pop(peer, None) is None:
            raise _Closed()

    def _receive(self, peer: _Peer, deadline: float | None, peek: bool = False) -> bytes:
        """One read: b"" at end of stream. ``deadline`` None: waiting for a new request
        (silence closes quietly); else the whole request must arrive by then (408).
        ``peek``: wait for the first byte and leave it unread. A thread waiting for its next
        request peeks, claims its peer, then reads: until it has claimed the peer the bytes
        stay in the kernel, where the connection cap sees them and does not evict it."""
        if deadline is None:
            wait = self.timeout
        else:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _HttpError(408, "request timeout")
            wait = min(self.timeout, left)
        if wait != peer.read_timeout:
            if self.kernel_timeouts:
                peer.set_read_timeout(wait)
            else:
                peer.sock.settimeout(wait)
                peer.read_timeout = wait
        try:
            return peer.sock.recv(1, socket.MSG_PEEK) if peek else peer.sock.recv(65536)
        except (TimeoutError, BlockingIOError):  # BlockingIOError: SO_RCVTIMEO ran out
            if deadline is None:
                raise _Closed() from None
            raise _HttpError(408, "request timeout") from None

    def _send(self, peer: _Peer, data: bytes) -> None:
        """Write ``data`` whole within ``timeout`` seconds (else the connection closes)."""
        conn = peer.sock
        if not self.kernel_timeouts:
            if peer.read_timeout != self.timeout:
                conn.settimeout(self.timeout)
                peer.read_timeout = self.timeout
            conn.sendall(data)
            return
        started = time.monotonic()
        sent = conn.send(data)  # blocking: all of it, unless SO_SNDTIMEO runs out first
        if sent == len(data):
            return
        left = self.timeout - (time.monotonic() - started)  # a slow reader: the rest in time
        if left <= 0:
            raise TimeoutError("the client does not read its answer")
        conn.settimeout(left)
        try:
            conn.sendall(memoryview(data)[sent:])
        finally:
            conn.settimeout(None)

    def _serve_one(self, peer: _Peer, buffer: bytearray) -> bool:
        """Read, answer one request; False when the connection must close. ``buffer`` holds
        bytes already received (a pipelined request) and keeps what follows this one."""
        request, keep_alive, version = self._read_request(peer, buffer)
        try:
            response = self.target.handle(request)
        except Exception as error:  # the target is broken: answer 500, keep serving
            self.errors.append(error)
            response = _plain(500, f"fake raised {type(error).__name__}: {error}\n")
        if response.problem is not None:  # the fake answered 500 in place of a bad answer
            self.errors.append(ValueError(response.problem))
        if response.delay > 0 and self._stopping.wait(response.delay):
            raise _Closed()
        if response.drop_connection or self._stopping.is_set():
            raise _Closed()
        if response.chaos == "slow_headers" and self._stopping.wait(SLOW_HEADERS_SECONDS):
            raise _Closed()
        answer = self._response_bytes(response, request.method, keep_alive, version)
        if response.chaos in _BROKEN:  # the answer cannot be whole: the connection ends
            self._send_broken(peer, response.chaos, answer)
            return False
        send = self._dribble if response.chaos == "dribble" else self._send
        if not keep_alive:
            send(peer, answer)
            return False
        peer.writing = True  # first: the cap never shuts down an answer being written
        self._idle[peer] = time.monotonic()  # evictable once the answer is out
        try:
            send(peer, answer)
        finally:
            peer.writing = False
        if peer not in self._idle:  # evicted while writing: close now
            raise _Closed()
        return True

    def _dribble(self, peer: _Peer, data: bytes) -> None:
        """Write ``data`` a few bytes at a time (seeded chaos ``dribble``, http/chaos.py)."""
        for start in range(0, len(data), DRIBBLE_PIECE):
            self._send(peer, data[start : start + DRIBBLE_PIECE])
            if self._stopping.wait(DRIBBLE_PAUSE_SECONDS):
                raise _Closed()

    def _send_broken(self, peer: _Peer, kind: str, answer: bytes) -> None:
        """Write ``answer`` broken as the seeded chaos ``kind`` says (http/chaos.py); the
        connection closes after it."""
        split = answer.find(b"\r\n\r\n") + 4
        head, body = answer[:split], answer[split:]
        if kind == "bad_chunked":  # RFC 9112 section 7.1: chunk-size is hex digits
            head = _CONTENT_LENGTH_LINE.sub(b"", head[:-2]) + b"Transfer-Encoding: chunked\r\n\r\n"
            self._send(peer, head + b"zz-not-hex\r\n" + body + b"\r\n0\r\n\r\n")
            return
        self._send(peer, head + body[: truncated_length(len(body))])  # truncate, reset
        if kind == "reset":  # SO_LINGER 0: close() sends RST, not FIN
            peer.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            peer.sock.close()

    def _read_request(self, peer: _Peer, buffer: bytearray) -> tuple[FakeRequest, bool, str]:
        """One request (head and body) read by h11; whether the connection stays open after
        the answer; the HTTP version. ``buffer`` holds bytes already received and keeps what
        follows this request (a pipelined one)."""
        parser = _NO_PARSER  # made for a request the quick path does not read
        data = bytes(buffer)
        buffer.clear()
        deadline: float | None = None
        head: bytes | bytearray = b""  # this request's bytes until h11 has read its head
        try:
            while True:
                if not head:  # RFC 9112 section 2.2: blank lines before a request are ignored
                    if data and deadline is None:  # blank lines too: they start the clock
                        deadline = time.monotonic() + self.request_deadline
                        self._busy(peer)
                    data = data.lstrip(b"\r\n")
                if data:
                    if not head:
                        quick = quick_head(data)  # the usual head: whole, in one read
                        if quick is not None:
                            method_b, target, version_b, fields, rest = quick
                            method, version, _, url, keep_alive, headers = self._request_head(
                                method_b, target, version_b, fields
                            )
                            buffer += rest
                            return FakeRequest(method, url, headers, b""), keep_alive, version
                        head = data  # no copy
                        parser = h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_HEAD)
                    else:  # a head in pieces: append in place (linear in its size)
                        head = bytearray(head) if isinstance(head, bytes) else head
                        head += data
                    parser.receive_data(data)
                    event = parser.next_event()
                    if event is not h11.NEED_DATA:
                        break
                if deadline is None:  # between requests: claim the peer before reading
                    if not self._receive(peer, None, peek=True):
                        raise _Closed()  # the client closed its keep-alive connection
                    deadline = time.monotonic() + self.request_deadline
                    self._busy(peer)
                data = self._receive(peer, deadline)
                if not data:
                    if not head:  # nothing, or only blank lines: a quiet close
                        raise _Closed()
                    raise _HttpError(400, "incomplete request")
            _check_limits(head)
            if not isinstance(event, h11.Request):
                raise _HttpError(400, "malformed request")
            method, version, framed, url, keep_alive, headers = self._request_head(
                bytes(event.method),
                bytes(event.target),
                bytes(event.http_version),
                event.headers.raw_items(),
            )
            if method != "HEAD" and parser.they_are_waiting_for_100_continue:
                self._send(peer, b"HTTP/1.1 100 Continue\r\n\r\n")
            # RFC 9112 section 6.3: a request with neither Content-Length nor
            # Transfer-Encoding has no body (h11's next event would be its end).
            body = self._read_body(peer, parser, deadline) if framed else b""
        except h11.RemoteProtocolError as error:
            _check_limits(head)  # a limit broken is named first, as a server checks them first
            raise _HttpError(error.error_status_hint, str(error) or "malformed request") from None
        leftover, _ = parser.trailing_data
        if leftover:
            buffer += leftover
        return FakeRequest(method, url, headers, body), keep_alive, version

    def _request_head(
        self, method: bytes, target: bytes, version_bytes: bytes, raw: list[tuple[bytes, bytes]]
    ) -> tuple[str, str, bool, str, bool, tuple[tuple[str, str], ...]]:
        """The request h11 read, in one pass over its headers: method, version, whether a
        body is framed, the request's URL, whether the connection stays open after the answer,
        the headers as text. Refused where h11 accepts what this server does not: a version
        other than 1.0 and 1.1 (505), both ``Content-Length`` and ``Transfer-Encoding`` (400;
        RFC 9112 section 6.1: a proxy in front may frame it by the other one, h11 frames it by
        the chunks), an ``Expect`` other than 100-continue (417), a declared body over
        ``max_body`` (413)."""
        version = version_bytes.decode("ascii")
        if version not in ("1.0", "1.1"):
            raise _HttpError(505, "HTTP version not supported")
        headers = tuple([(name.decode("latin-1"), value.decode("latin-1")) for name, value in raw])
        framing = 0
        connection = b""
        host_header = ""
        refusal: _HttpError | None = None  # the first header refused, after the framing
        for index, (name, value) in enumerate(raw):
            field = _REQUEST_FIELDS.get(name.lower())
            if field is None:
                continue
            if field == _HOST_FIELD:
                host_header = headers[index][1]
            elif field == _CONNECTION:
                connection += b"," + value.lower()
            elif field == _CONTENT_LENGTH:
                framing |= 1
                if refusal is None and int(value) > self.max_body:
                    refusal = _HttpError(413, f"request body larger than {self.max_body} bytes")
            elif field == _TRANSFER_ENCODING:
                framing |= 2
            elif value.strip().lower() != b"100-continue":  # Expect
                refusal = refusal or _HttpError(417, "expectation failed")
        if framing == 3:
            raise _HttpError(
                400, "both Content-Length and Transfer-Encoding (RFC 9112 section 6.1)"
            )
        if refusal is not None:
            raise refusal
        tokens = {t.strip() for t in connection.split(b",")} if connection else set()
        if version == "1.1":
            keep_alive = b"close" not in tokens
        else:  # HTTP/1.0 closes unless the client asks for keep-alive
            keep_alive = b"keep-alive" in tokens and b"close" not in tokens
        url = self._request_url(target.decode("latin-1"), host_header)
        return method.decode("ascii").upper(), version, framing != 0, url, keep_alive, headers

    def _read_body(self, peer: _Peer, parser: h11.Connection, deadline: float | None) -> bytes:
        body = bytearray()
        while True:
            event = parser.next_event()
            if event is h11.NEED_DATA:
                parser.receive_data(self._receive(peer, deadline))
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > self.max_body:
                    raise _HttpError(413, f"request body larger than {self.max_body} bytes")
            elif isinstance(event, h11.EndOfMessage):
                if len(event.headers) > MAX_HEADERS:
                    raise _HttpError(431, "too many trailer fields")
                return bytes(body)
            else:
                raise _HttpError(400, "malformed request")

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

    # Writing ------------------------------------------------------------------------------
    def _response_bytes(
        self, response: FakeResponse, method: str, keep_alive: bool, version: str = "1.1"
    ) -> bytes:
        block = _header_lines(response.headers) if 200 <= response.status <= 599 else None
        if block is None:  # a name not seen before, or something to refuse
            problem = _first_bad_header(response.headers)
            if not 200 <= response.status <= 599:
                problem = f"status {response.status!r} as a final answer (expected 200-599)"
            if problem is not None:  # never write a header that could split the response
                self.errors.append(ValueError(problem))
                response = unsendable_answer(problem)  # what the in-process transports send
            block = _checked_header_lines(response.headers)
        lines, has_date = block
        body = response.body
        out = [_status_line(response.status, response.reason), lines]
        if not has_date:
            out.append(b"Date: " + self._dates.get() + b"\r\n")
        no_body = bodiless_status(response.status)
        if not no_body:
            out.append(b"Content-Length: %d\r\n" % len(body))
        if not keep_alive:
            out.append(b"Connection: close\r\n")
        elif version == "1.0":
            out.append(b"Connection: keep-alive\r\n")
        out.append(b"\r\n")
        if method != "HEAD" and not no_body:
            out.append(body)
        return b"".join(out)

    def _error_bytes(self, status: int, message: str) -> bytes:
        reason = FakeResponse(status).reason
        body = f"{status} {reason}: {message}\n".encode("utf-8", "replace")
        return (
            _status_line(status, reason)
            + b"Content-Type: text/plain; charset=utf-8\r\n"
            + b"Content-Length: %d\r\nConnection: close\r\n" % len(body)
            + b"Date: "
            + self._dates.get()
            + b"\r\n\r\n"
            + body
        )


#: A line that starts with a space or a tab (obsolete line folding, when in the head).
_FOLDED = re.compile(rb"\n[ \t]")


def _check_limits(head: bytes | bytearray) -> None:
    """Raise the :class:`_HttpError` for the first limit h11 leaves to its user that a request
    head (whole, or the part received) breaks: the request line over ``MAX_REQUEST_LINE``
    bytes (414), a header line over ``MAX_HEADER_LINE``, more than ``MAX_HEADERS`` fields or a
    head over ``_MAX_HEAD`` bytes (431), obsolete line folding (400; RFC 9112 section 5.2 lets
    a server reject it, and h11 would unfold it)."""
    if (
        len(head) < MAX_REQUEST_LINE  # no line, nor the head, can be too long
        and head.count(b"\n") <= MAX_HEADERS  # nor can there be too many lines
        and _FOLDED.search(head) is None  # and no line is folded
    ):
        return
    lines = head[:_MAX_HEAD].split(b"\n")
    if len(lines[0]) >= MAX_REQUEST_LINE:  # with its line end, over the limit
        raise _HttpError(414, "request line too long")
    for fields, line in enumerate(lines[1:]):
        if line in (b"", b"\r"):  # the end of the head
            return
        if len(line) >= MAX_HEADER_LINE or fields >= MAX_HEADERS:
            raise _HttpError(431, "request header fields too large")
        if line[0] in (32, 9):
            raise _HttpError(400, "obsolete line folding in a header")
    if len(head) > _MAX_HEAD:
        raise _HttpError(431, "request header fields too large")


_NO_PARSER = h11.Connection(h11.SERVER)  # never fed: stands for "not made yet"
#: The common request head, read without h11 (see :func:`quick_head`): RFC 9112 section 3
#: request line with an origin-form target, section 5 field lines of ASCII token names and
#: ASCII values (OWS around them), CR LF line ends. Character classes that cannot overlap
#: where they repeat: matching is linear in the head's length.
_QUICK_REQUEST_LINE = re.compile(rb"([A-Z]{3,7}) (/[\x21-\x7e]*) HTTP/(1\.[01])\r\n")
_QUICK_FIELD = re.compile(
    rb"([-!#$%&'*+.^_`|~0-9a-zA-Z]+):[ \t]*([\x21-\x7e]+(?:[ \t]+[\x21-\x7e]+)*)[ \t]*\r\n"
)
#: Fields whose presence sends a request to h11: it frames bodies and answers 100-continue.
_H11_FIELDS = frozenset({b"content-length", b"transfer-encoding", b"expect"})


def quick_head(
    data: bytes,
) -> tuple[bytes, bytes, bytes, list[tuple[bytes, bytes]], bytes] | None:
    """``(method, target, version, fields, rest)`` of a complete, bodiless request head in
    ``data`` that h11 reads the same way (tests/test_server_quick_head.py checks this against
    h11 on generated and hostile heads); None for anything else, which h11 then reads: a
    head in pieces, a body, ``Expect``, a missing or repeated ``Host``, obs-text, an empty
    value, bare LF line ends, a broken limit. Kept for speed only: docs/performance.md."""
    end = data.find(b"\r\n\r\n")
    if end < 0 or end >= MAX_REQUEST_LINE or data.count(b"\n", 0, end) >= MAX_HEADERS:
        return None
    line = _QUICK_REQUEST_LINE.match(data)
    if line is None:
        return None
    fields: list[tuple[bytes, bytes]] = []
    pos, stop, hosts = line.end(), end + 2, 0
    match = _QUICK_FIELD.match
    while pos < stop:
        field = match(data, pos, stop)
        if field is None:
            return None
        name = field[1]
        lowered = name.lower()
        if lowered in _H11_FIELDS:
            return None
        if lowered == b"host":
            hosts += 1
        fields.append((name, field[2]))
        pos = field.end()
    if hosts > 1 or (hosts == 0 and line[3] == b"1.1"):  # h11 refuses these (RFC 9112 3.2)
        return None
    return line[1], line[2], line[3], fields, data[end + 4 :]


def _plain(status: int, text: str) -> FakeResponse:
    return FakeResponse(status, [("Content-Type", "text/plain; charset=utf-8")], text.encode())


_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f]")  # a character class: no backtracking
#: Every byte but the control characters other than tab, CR and LF: deleting these from
#: header lines leaves nothing unless they hold a control character.
_PLAIN_BYTES = bytes(b for b in range(256) if b in (9, 10, 13) or 32 <= b != 127)


#: Header names already found valid (fakes return the same few names on every answer), with
#: what the writer does with each: write it, skip it (framing the server writes itself), or
#: write it and send no ``Date`` of its own.
_VALID_NAMES: dict[str, int] = {}
_MAX_VALID_NAMES = 512
_WRITE, _SKIP, _DATE = 0, 1, 2


def _name_kind(name: str) -> int:
    lname = name.lower()
    return _SKIP if lname in _SKIP_HEADERS else _DATE if lname == "date" else _WRITE


#: Header blocks :func:`_header_lines` built, by the headers they were built from: a fake
#: answers with the same headers (the ``Date`` changes once a second), checked and encoded
#: once. Cleared when full.
_BLOCKS: dict[tuple[tuple[str, str], ...], tuple[bytes, bool]] = {}
_MAX_BLOCKS = 256


def _header_lines(headers: list[tuple[str, str]]) -> tuple[bytes, bool] | None:
    """The fast path: the header lines to write and whether they hold a ``Date``, when every
    name was found valid before and every value is plain text (checked all at once);
    otherwise None (then :func:`_first_bad_header` looks at each header)."""
    try:
        key = tuple(headers)
        found = _BLOCKS.get(key)
    except TypeError:  # an unhashable name or value: never written as it is
        return None
    if found is None:
        found = _new_header_lines(key)
        if found is not None:
            if len(_BLOCKS) >= _MAX_BLOCKS:
                _BLOCKS.clear()
            _BLOCKS[key] = found
    return found


def _new_header_lines(headers: tuple[tuple[str, str], ...]) -> tuple[bytes, bool] | None:
    lines: list[str] = []
    skipped: list[str] = []
    has_date = False
    for name, value in headers:
        if type(name) is not str or type(value) is not str:
            return None
        kind = _VALID_NAMES.get(name)
        if kind is None:
            return None
        if kind:
            if kind == _SKIP:
                skipped.append(value)  # not written, still checked
                continue
            has_date = True
        lines.append(f"{name}: {value}\r\n")
    try:
        block = "".join(lines).encode("latin-1")
    except UnicodeEncodeError:
        return None
    # The only line ends are ours (one CR LF a line); no other control character anywhere.
    if block.count(b"\n") != len(lines) or block.count(b"\r") != len(lines):
        return None
    if skipped:  # framing values are not written, but are refused as the checked path does
        framing = "\t".join(skipped)
        if _CONTROL.search(framing) or (not framing.isascii() and max(framing) > "\xff"):
            return None
    if block.translate(None, _PLAIN_BYTES):  # what is left is a control character
        return None
    return block, has_date


def _checked_header_lines(headers: list[tuple[str, str]]) -> tuple[bytes, bool]:
    """The header lines of headers :func:`_first_bad_header` found valid."""
    lines: list[str] = []
    has_date = False
    for name, value in headers:
        kind = _name_kind(name)
        if kind == _SKIP:
            continue
        has_date = has_date or kind == _DATE
        lines.append(f"{name}: {value}\r\n")
    return "".join(lines).encode("latin-1"), has_date


def _first_bad_header(headers: list[tuple[str, str]]) -> str | None:
    """What is wrong with the first header that must not be written (the core's
    :func:`~pytest_relaytokens.http.first_bad_header`, which every transport applies), or
    None; when all are valid, remembers their names for :func:`_header_lines`."""
    problem = first_bad_header(headers)
    if problem is None:
        for name, _ in headers:
            if type(name) is str and len(_VALID_NAMES) < _MAX_VALID_NAMES:
                _VALID_NAMES[name] = _name_kind(name)
    return problem


_HOST = re.compile(r"[A-Za-z0-9.\-]+(?::\d{1,5})?\Z|\[[0-9A-Fa-f:.]+\](?::\d{1,5})?\Z")


def _valid_host(value: str) -> bool:
    return _HOST.match(value) is not None


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
