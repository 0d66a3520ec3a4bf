"""The loopback server's quick head reader is pinned to h11: whatever it reads, h11 reads the
same way (method, target, version, fields as sent, what follows the head); whatever it
declines (None), h11 reads or refuses as before. Generated heads mix valid and hostile parts;
a corpus adds the classic smuggling and parser-confusion shapes."""

from __future__ import annotations

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_relaytokens.transports.server import MAX_HEADERS, MAX_REQUEST_LINE, quick_head

Parsed = tuple[bytes, bytes, bytes, list[tuple[bytes, bytes]], bytes]


def h11_reads(data: bytes) -> Parsed | None:
    """What h11 makes of ``data`` as a bodiless request (None: refused, incomplete or with a
    body)."""
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(data)
    try:
        event = conn.next_event()
        if not isinstance(event, h11.Request):
            return None
        if not isinstance(conn.next_event(), h11.EndOfMessage):
            return None  # a body follows
    except h11.RemoteProtocolError:
        return None
    fields = [(bytes(name), bytes(value)) for name, value in event.headers.raw_items()]
    rest = bytes(conn.trailing_data[0])
    return bytes(event.method), bytes(event.target), bytes(event.http_version), fields, rest


def assert_pinned(data: bytes) -> Parsed | None:
    quick = quick_head(data)
    if quick is not None:
        assert quick == h11_reads(data), data
    return quick


REQUESTS_HEAD = (
    b"GET /ucwa/oauth/v1/applications/101/communication/mediaRelayAccessToken HTTP/1.1\r\n"
    b"Host: 127.0.0.1:8080\r\nUser-Agent: python-requests/2.32.3\r\n"
    b"Accept-Encoding: gzip, deflate\r\nAccept: application/json\r\nConnection: keep-alive\r\n"
    b"Authorization: Bearer cwt=AAEBHAEFAAAAAAAFFQAAAA\r\n\r\n"
)


def test_a_clients_usual_head_takes_the_quick_path_and_reads_as_h11_reads_it() -> None:
    quick = assert_pinned(REQUESTS_HEAD + b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    assert quick is not None
    method, target, version, fields, rest = quick
    assert (method, version, rest) == (b"GET", b"1.1", b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    assert target.endswith(b"/mediaRelayAccessToken")
    assert (b"Authorization", b"Bearer cwt=AAEBHAEFAAAAAAAFFQAAAA") in fields


@pytest.mark.parametrize(
    "head",
    [
        # bodies and framing: h11 frames them
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc",
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: h\r\ncontent-length : 3\r\n\r\nabc",
        b"GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n",
        # Host: missing on 1.1, repeated, or hidden behind a space
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost : h\r\n\r\n",
        # line ends, folding, control characters, obs-text, empty values
        b"GET / HTTP/1.1\nHost: h\n\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nX: caf\xc3\xa9\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nX:\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\n: no-name\r\n\r\n",
        # request lines h11 or this server treat specially
        b"get / HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET http://evil/ HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET * HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET  / HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET / HTTP/2.0\r\nHost: h\r\n\r\n",
        b"GET / HTTP/1.1 \r\nHost: h\r\n\r\n",
        b"GET /\x7f HTTP/1.1\r\nHost: h\r\n\r\n",
        # incomplete, oversize, too many fields
        b"GET / HTTP/1.1\r\nHost: h\r\n",
        b"GET /" + b"a" * MAX_REQUEST_LINE + b" HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\n" + b"X: y\r\n" * MAX_HEADERS + b"\r\n",
    ],
)
def test_what_h11_frames_refuses_or_reads_differently_goes_to_h11(head: bytes) -> None:
    assert assert_pinned(head) is None


def test_http_1_0_without_host_and_pipelined_requests_are_read_as_h11_reads_them() -> None:
    assert assert_pinned(b"GET / HTTP/1.0\r\n\r\n") is not None
    quick = assert_pinned(b"HEAD /x?y=1 HTTP/1.1\r\nHost: h\r\nX:  a \t b \t\r\n\r\nGET /")
    assert quick is not None and quick[3] == [(b"Host", b"h"), (b"X", b"a \t b")]
    assert quick[4] == b"GET /"


_TOKEN = st.text("-!#$%&'*+.^_`|~0123456789abcxyzHOST:", min_size=0, max_size=8)
_VALUE = st.binary(max_size=12) | st.text(" \tab\x7f\x80", max_size=8).map(str.encode)
_LINE_END = st.sampled_from([b"\r\n", b"\r\n", b"\r\n", b"\n", b"\r", b""])


@st.composite
def heads(draw: st.DrawFn) -> bytes:
    method = draw(st.sampled_from([b"GET", b"HEAD", b"DELETE", b"OPTIONS", b"get", b"G", b""]))
    target = draw(st.sampled_from([b"/", b"/a?b=c", b"*", b"http://h/", b"/\x00", b"/ a", b""]))
    version = draw(st.sampled_from([b"1.1", b"1.0", b"2.0", b"1.x"]))
    lines = [method + b" " + target + b" HTTP/" + version + draw(_LINE_END)]
    for _ in range(draw(st.integers(0, 6))):
        name = draw(_TOKEN).encode()
        separator = draw(st.sampled_from([b": ", b":", b" : ", b":\t", b""]))
        lines.append(name + separator + draw(_VALUE) + draw(_LINE_END))
    return b"".join(lines) + draw(_LINE_END) + draw(st.binary(max_size=6))


@settings(max_examples=3000, deadline=None)
@given(heads())
def test_generated_heads_read_by_the_quick_path_read_the_same_in_h11(head: bytes) -> None:
    assert_pinned(head)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text("abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=10),
            st.text("abcdefghijklmnopqrstuvwxyz0123456789 ,;=/.", min_size=1, max_size=20),
        ),
        max_size=10,
    )
)
def test_valid_heads_are_read_by_the_quick_path(fields: list[tuple[str, str]]) -> None:
    """The quick path is not a dead branch: a valid bodiless head of printable fields takes
    it unless it names a field h11 must frame or a second Host."""
    names = [name for name, _ in fields]
    framed = {"content-length", "transfer-encoding", "expect", "host"} & set(names)
    if framed or any(not value.strip() for _, value in fields):
        return
    lines = "".join(f"{name}: {value}\r\n" for name, value in fields)
    head = f"GET /x HTTP/1.1\r\nHost: h\r\n{lines}\r\n".encode()
    assert assert_pinned(head) is not None
