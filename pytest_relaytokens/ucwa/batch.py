"""UCWA ``batch``: ``multipart/batching`` bodies of raw HTTP requests in, raw responses out.

Each part is ``Content-Type: application/http; msgtype=request`` followed by one request
(request line, headers, blank line, body). The answer is 200 ``multipart/batching`` with one
``application/http; msgtype=response`` part per request, in order. Parsing is linear and
bounded: no regular expressions, at most :data:`MAX_PARTS` parts.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..http import FakeResponse
from ..http.headers import content_type_param, media_type

__all__ = ["MAX_PARTS", "BatchError", "BatchPart", "boundary_of", "parse_batch", "render_batch"]

#: More outstanding requests than this in one batch: 429 for the whole batch (documented).
MAX_PARTS = 100
_MAX_BOUNDARY = 70  # RFC 2046
_BOUNDARY_CHARS = frozenset(
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-./:=? "
)


class BatchError(ValueError):
    """A batch body that cannot be read; the message says what and where."""


@dataclass(frozen=True)
class BatchPart:
    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


def boundary_of(content_type: str | None) -> str:
    """The ``boundary`` parameter of a ``multipart/batching`` Content-Type."""
    if media_type(content_type) != "multipart/batching":
        raise BatchError(f"Content-Type must be multipart/batching, got {content_type!r}")
    value = content_type_param(content_type, "boundary")
    if value is None:
        raise BatchError("multipart/batching Content-Type without a boundary parameter")
    if not 0 < len(value) <= _MAX_BOUNDARY or not set(value) <= _BOUNDARY_CHARS:
        raise BatchError(f"invalid multipart boundary {value[:80]!r}")
    return value


def _split_head(block: bytes, where: str) -> tuple[list[str], bytes]:
    """Header lines and the rest of ``block`` (CRLF or LF line ends)."""
    for separator in (b"\r\n\r\n", b"\n\n"):
        head, found, rest = block.partition(separator)
        if found:
            lines = head.decode("latin-1").replace("\r\n", "\n").split("\n")
            return lines, rest
    raise BatchError(f"{where}: no blank line after the headers")


def _headers(lines: list[str], where: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not name.strip() or name != name.strip():
            raise BatchError(f"{where}: malformed header line {line[:80]!r}")
        pairs.append((name, value.strip()))
    return tuple(pairs)


def parse_batch(body: bytes, boundary: str) -> list[BatchPart]:
    """The requests of a batch body, in order; :class:`BatchError` when malformed and
    ``OverflowError`` when it holds more than :data:`MAX_PARTS` requests."""
    delimiter = b"--" + boundary.encode("latin-1")
    chunks = body.split(delimiter)
    if len(chunks) < 3:
        raise BatchError("the batch body has no parts delimited by its boundary")
    parts: list[BatchPart] = []
    for index, chunk in enumerate(chunks[1:], start=1):
        if chunk.startswith(b"--"):
            break  # the closing delimiter
        if len(parts) >= MAX_PARTS:
            raise OverflowError(f"more than {MAX_PARTS} requests in one batch")
        where = f"batch part {index}"
        chunk = chunk.removeprefix(b"\r\n").removeprefix(b"\n")
        part_lines, raw = _split_head(chunk, where)
        part_headers = dict((k.lower(), v) for k, v in _headers(part_lines, where))
        if not part_headers.get("content-type", "").lower().startswith("application/http"):
            raise BatchError(f"{where}: Content-Type must be application/http; msgtype=request")
        lines, rest = _split_head(raw, where)
        request_line, *header_lines = lines
        method, _, remainder = request_line.partition(" ")
        target = remainder.rpartition(" ")[0] if remainder.count(" ") else remainder
        if not method.isalpha() or not target.startswith(("/", "http://", "https://")):
            raise BatchError(f"{where}: malformed request line {request_line[:80]!r}")
        parts.append(
            BatchPart(
                method.upper(),
                target,
                _headers(header_lines, where),
                rest.removesuffix(b"\r\n").removesuffix(b"\n"),
            )
        )
    if not parts:
        raise BatchError("the batch body has no requests")
    return parts


def render_batch(responses: list[FakeResponse], boundary: str) -> bytes:
    """One ``application/http; msgtype=response`` part per response."""
    out: list[bytes] = []
    for response in responses:
        lines = [f"HTTP/1.1 {response.status} {response.reason}"]
        lines.extend(f"{k}: {v}" for k, v in response.headers)
        head = "\r\n".join(lines).encode("latin-1", "replace")
        out.append(
            f"--{boundary}\r\nContent-Type: application/http; msgtype=response\r\n\r\n".encode()
            + head
            + b"\r\n\r\n"
            + response.body
            + b"\r\n"
        )
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out)
