"""HTTPS for the loopback server: a throwaway CA (``trustme``, the ``tls`` extra) that signs a
certificate for 127.0.0.1, localhost and ``::1``; the CA file is what clients trust."""

from __future__ import annotations

import importlib.util
import socket
import ssl
import tempfile
from pathlib import Path
from typing import Any

from .server import FakeServers, LoopbackServer, _Peer

__all__ = [
    "TLS_MISSING",
    "ThrowawayCA",
    "TlsFakeServers",
    "TlsLoopbackServer",
    "ca_exports",
    "tls_available",
]

TLS_MISSING = (
    "TLS needs the tls extra: pip install -e '.[tls]' in a clone of pytest-relaytokens, "
    "or pip install 'trustme>=1.1'"
)
#: The names the certificate is valid for.
NAMES = ("127.0.0.1", "localhost", "::1")


def tls_available() -> bool:
    return importlib.util.find_spec("trustme") is not None


class _PeekableSSLSocket(ssl.SSLSocket):
    """An ``SSLSocket`` whose ``recv`` with flags (the connection cap's ``MSG_PEEK``: is a
    request waiting?) looks at the raw stream, where ``SSLSocket`` raises ``ValueError``."""

    def recv(self, buflen: int = 1024, flags: int = 0) -> bytes:
        if flags:
            return socket.socket.recv(self, buflen, flags)
        return super().recv(buflen, flags)


class ThrowawayCA:
    """A CA made for one run: ``ca_file`` (PEM, what clients trust) in ``directory``, and
    the server context for :data:`NAMES`. Raises ``RuntimeError`` (:data:`TLS_MISSING`)
    without trustme."""

    def __init__(self, directory: str | Path | None = None) -> None:
        if not tls_available():
            raise RuntimeError(TLS_MISSING)
        import trustme

        self._tmp = None if directory is not None else tempfile.TemporaryDirectory("-relaytokens")
        where = Path(directory if directory is not None else self._tmp.name)  # type: ignore[union-attr]
        self.ca = trustme.CA(organization_name="pytest-relaytokens throwaway CA")
        self.ca_file = where / "relaytokens-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        leaf = self.ca.issue_cert(*NAMES)
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.sslsocket_class = _PeekableSSLSocket
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        leaf.configure_cert(self.context)

    def client_context(self) -> ssl.SSLContext:
        """A client context trusting this CA only."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()


def ca_exports(ca_file: str | Path) -> dict[str, str]:
    """The variables clients read for an extra CA: Python ssl/OpenSSL, requests, Node."""
    value = str(ca_file)
    return {"SSL_CERT_FILE": value, "REQUESTS_CA_BUNDLE": value, "NODE_EXTRA_CA_CERTS": value}


class _TlsMixin:
    """Wraps each accepted connection in TLS on its own thread (the handshake never holds up
    the accept loop) and serves ``https://`` URLs."""

    tls: ThrowawayCA
    _base_url: str

    @property
    def ca_file(self) -> Path:
        """The CA certificate (PEM) a client trusts to reach this server."""
        return self.tls.ca_file

    def start(self) -> Any:
        started = super().start()  # type: ignore[misc]
        self._base_url = "https" + self._base_url[len("http") :]
        return started

    def _serve_connection(self, peer: _Peer) -> None:
        raw = peer.sock
        wrapped: ssl.SSLSocket | None = None
        try:  # wrapping takes over raw's descriptor: from here on, close the wrapper
            wrapped = self.tls.context.wrap_socket(
                raw, server_side=True, do_handshake_on_connect=False
            )
            wrapped.do_handshake()  # bounded by the socket's read timeout
        except (OSError, ValueError):  # not TLS, a bad handshake, or too slow
            (wrapped or raw).close()
            with self._lock:  # type: ignore[attr-defined]
                self._peers.pop(raw, None)  # type: ignore[attr-defined]
            return
        with self._lock:  # type: ignore[attr-defined]
            self._peers.pop(raw, None)  # type: ignore[attr-defined]
            self._peers[wrapped] = peer  # type: ignore[attr-defined]
        peer.sock = wrapped
        super()._serve_connection(peer)  # type: ignore[misc]


class TlsLoopbackServer(_TlsMixin, LoopbackServer):
    """:class:`LoopbackServer` over HTTPS with ``tls`` (a :class:`ThrowawayCA`)."""

    def __init__(self, target: Any, tls: ThrowawayCA, *args: Any, **kwargs: Any) -> None:
        super().__init__(target, *args, **kwargs)
        self.tls = tls


class TlsFakeServers(_TlsMixin, FakeServers):
    """:class:`FakeServers` over HTTPS with ``tls`` (a :class:`ThrowawayCA`)."""

    def __init__(self, ucwa: Any, relay: Any, tls: ThrowawayCA) -> None:
        super().__init__(ucwa, relay)
        self.tls = tls

    def stop(self, timeout: float = 1.0) -> None:
        """Stop, then delete the CA (it was made for this server)."""
        super().stop(timeout)
        self.tls.close()
