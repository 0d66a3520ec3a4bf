"""A loopback server that hides given secrets in hostile places, for the cassette tests.

Each route answers with one hiding place: compressed bodies (every coding, stacked,
header in any case), escapes the redactor does not generate, URLs in headers and bodies,
XML CDATA/namespaces/attributes, folded cookies, UTF-16 JSON. It binds 127.0.0.1 on an
ephemeral port and stops when its ``with`` block ends.
"""

from __future__ import annotations

import base64
import gzip
import json
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import quote

import yaml

from pytest_relaytokens.cassettes.forms import encoded_forms
from pytest_relaytokens.cassettes.secrets import scan_cassette


@dataclass(frozen=True)
class Secrets:
    """The values the server hides; ``token`` is issued, the others echoed back."""

    token: str
    password: str
    declared: str

    @property
    def all(self) -> tuple[str, ...]:
        return (self.token, self.password, self.declared)


Response = tuple[int, list[tuple[str, str]], bytes]


def _raw_deflate(data: bytes) -> bytes:
    engine = zlib.compressobj(wbits=-15)
    return engine.compress(data) + engine.flush()


def dotnet_escape(value: str) -> str:
    """System.Text.Json style: everything outside [A-Za-z0-9] as upper-case ``\\uXXXX``."""
    out = []
    for char in value:
        if char.isascii() and char.isalnum():
            out.append(char)
            continue
        code = ord(char)
        if code >= 0x10000:
            code -= 0x10000
            out.append(f"\\u{0xD800 + (code >> 10):04X}\\u{0xDC00 + (code & 0x3FF):04X}")
        else:
            out.append(f"\\u{code:04X}")
    return "".join(out)


def _json(value: object) -> bytes:
    return json.dumps(value).encode()


def routes(s: Secrets) -> dict[str, Callable[[], Response]]:
    """Path -> response for every hiding place."""
    token_body = _json({"accessToken": s.token, "clientName": None, "note": s.declared})
    json_type = ("Content-Type", "application/json")

    def encoded(coding: str, data: bytes) -> bytes:
        if coding in ("gzip", "x-gzip"):
            return gzip.compress(data)
        return zlib.compress(data) if coding == "deflate" else _raw_deflate(data)

    table: dict[str, Callable[[], Response]] = {}
    for coding in ("gzip", "x-gzip", "deflate", "raw-deflate"):
        header = "deflate" if coding == "raw-deflate" else coding

        def answer(coding: str = coding, header: str = header) -> Response:
            return 200, [json_type, ("Content-Encoding", header)], encoded(coding, token_body)

        table[f"/compressed/{coding}"] = answer
    table["/compressed/stacked"] = lambda: (
        200,
        [json_type, ("content-encoding", "deflate"), ("CONTENT-ENCODING", "GZIP")],
        gzip.compress(zlib.compress(token_body)),
    )
    table["/compressed/listed"] = lambda: (
        200,
        [json_type, ("Content-Encoding", "gzip, deflate")],
        zlib.compress(gzip.compress(token_body)),
    )
    table["/escapes/dotnet-401"] = lambda: (
        401,
        [json_type],
        ('{"Message":"bad password ' + dotnet_escape(s.password) + '"}').encode(),
    )
    table["/escapes/percent-lower"] = lambda: (
        200,
        [("Content-Type", "text/plain")],
        ("t=" + quote(s.token + s.password, safe="").lower()).encode(),
    )
    table["/escapes/html-entities"] = lambda: (
        200,
        [("Content-Type", "text/html")],
        ("<p>" + "".join(f"&#{ord(c)};" for c in s.password) + "</p>").encode(),
    )
    table["/escapes/base64url"] = lambda: (
        200,
        [("Content-Type", "text/plain")],
        base64.urlsafe_b64encode(("pw=" + s.password).encode()).rstrip(b"="),
    )
    table["/urls/location"] = lambda: (
        302,
        [("Location", f"/next?accesstoken={quote(s.token, safe='')}&code=000042")],
        b"",
    )
    table["/urls/links"] = lambda: (
        200,
        [
            json_type,
            ("Link", f'</page2?access_token={quote(s.token, safe="")}>; rel="next"'),
            ("Content-Location", f"/here#access_token={quote(s.token, safe='')}"),
        ],
        _json({"_links": {"next": {"href": f"/x?seamaccesstoken={quote(s.token, safe='')}"}}}),
    )
    table["/xml/cdata"] = lambda: (
        200,
        [("Content-Type", "application/vnd.microsoft.com.ucwa+xml")],
        (
            '<resource xmlns:x="urn:x"><x:property name="password"><![CDATA['
            + s.password
            + ']]></x:property><link token="'
            + s.token.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
            + '"/></resource>'
        ).encode(),
    )
    table["/cookies/folded"] = lambda: (
        200,
        [("Set-Cookie", f"lang=en; Path=/, session={quote(s.token, safe='')}; HttpOnly")],
        b"ok",
    )
    table["/charset/utf16"] = lambda: (
        200,
        [("Content-Type", "application/json; charset=utf-16")],
        json.dumps({"password": s.password}, ensure_ascii=False).encode("utf-16"),
    )
    table["/charset/utf32-no-bom"] = lambda: (
        200,
        [("Content-Type", "application/json")],
        json.dumps({"note": s.password}, ensure_ascii=False).encode("utf-32-le"),
    )
    table["/echo/basic"] = lambda: (200, [("Content-Type", "text/plain")], b"")  # see handler
    return table


class _Handler(BaseHTTPRequestHandler):
    table: ClassVar[dict[str, Callable[[], Response]]] = {}

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        path = self.path.split("?", 1)[0]
        if path == "/echo/basic":  # echo the decoded Basic credential, as latin-1
            credential = (self.headers.get("Authorization") or " ").split(" ", 1)[1]
            body = b"you sent " + base64.b64decode(credential)
            status, headers = 200, [("Content-Type", "text/plain; charset=iso-8859-1")]
        elif path in self.table:
            status, headers, body = self.table[path]()
        else:
            status, headers, body = 404, [("Content-Type", "text/plain")], b"no route"
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer


@contextmanager
def attack_server(secrets: Secrets) -> Iterator[str]:
    """The base URL of a server hiding ``secrets``; stopped on exit."""
    handler = type("Handler", (_Handler,), {"table": routes(secrets)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _every_form(secret: str) -> list[str]:
    return [form for form, _ in encoded_forms(secret)]


def assert_no_secret_on_disk(path: Path, secrets: tuple[str, ...]) -> None:
    """No secret in any encoded form in the file, nor in any decoded body."""
    text = path.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    # a placeholder is not a secret, even when a short secret happens to sit inside one
    # ("00000000" in "000000001"): compare with the placeholders taken out
    issued = sorted(data["relaytokens"]["placeholders"], key=len, reverse=True)
    for placeholder in issued:
        text = text.replace(placeholder, "\uffff")
    for secret in secrets:
        for form in _every_form(secret):
            assert form not in text, (path.name, secret, form)
    for interaction in data["interactions"]:
        for side in ("request", "response"):
            body = interaction[side]["body"]
            body = body.get("string") if isinstance(body, dict) else body
            raw = body.encode() if isinstance(body, str) else body or b""
            for encoding in ("utf-8", "utf-16", "utf-32-le", "latin-1"):
                decoded = raw.decode(encoding, "ignore")
                for placeholder in issued:
                    decoded = decoded.replace(placeholder, "\uffff")
                assert not any(s in decoded for s in secrets), (side, encoding)
    assert scan_cassette(text, secrets) == []


def format_words(text: str) -> set[str]:
    """The words a cassette's own format writes, from a cassette ``text``: every mapping key
    (vcrpy's and the ``relaytokens`` metadata's, header names) and every header value of a
    header that is not a secret's place. A secret inside one of them cannot be told apart
    from the format in the written file: the scan refuses the file (documented)."""
    from pytest_relaytokens.cassettes.structure import SECRET_HEADERS

    words: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                words.add(str(key))
                if key == "headers" and isinstance(value, dict):
                    for name, values in value.items():
                        words.add(str(name))
                        if str(name).lower() not in SECRET_HEADERS:
                            items = values if isinstance(values, list) else [values]
                            words.update(str(v) for v in items)
                    continue
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(yaml.safe_load(text))
    return words


def in_format_words(secrets: tuple[str, ...] | list[str], words: set[str]) -> bool:
    """Whether any of ``secrets`` is part of a word of the cassette format."""
    return any(secret in word for secret in secrets for word in words)
