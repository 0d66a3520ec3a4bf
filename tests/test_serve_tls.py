"""``relaytokens_service_options(tls=True)``: ``relaytokens_server`` over https with a
throwaway CA; clients trusting ``ca_file`` connect, others are refused."""

from __future__ import annotations

import http.client
import socket

import pytest

from pytest_relaytokens.http import FakeRequest, FakeResponse
from pytest_relaytokens.transports.tls import ThrowawayCA, TlsLoopbackServer

INNER = """
import json, ssl, subprocess, urllib.error, urllib.request
from pathlib import Path
import pytest

@pytest.mark.relaytokens_service_options(tls=True)
def test_https(relaytokens_server):
    url = relaytokens_server.url
    assert url.startswith("https://127.0.0.1:")
    ca = Path(relaytokens_server.ca_file)
    Path("ca-path.txt").write_text(str(ca))
    trusting = ssl.create_default_context(cafile=str(ca))
    ucwa = relaytokens_server.ucwa
    request = urllib.request.Request(
        ucwa.token_url(), headers={"Authorization": "Bearer " + ucwa.credentials.bearer}
    )
    with urllib.request.urlopen(request, context=trusting) as reply:
        assert json.loads(reply.read())["_links"]["self"]["href"].endswith("/mediaRelayAccessToken")
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        urllib.request.urlopen(request, context=ssl.create_default_context())
    curl = subprocess.run(
        ["curl", "-s", "--cacert", str(ca), url + "/api/enterprises/self",
         "-H", "X-Access-Token: " + relaytokens_server.relay.credentials.access_token],
        capture_output=True, text=True,
    )
    assert json.loads(curl.stdout)["name"] == relaytokens_server.relay.credentials.enterprise_name

def test_plain(relaytokens_server):
    assert relaytokens_server.url.startswith("http://")
"""


def test_tls_marker_serves_https_and_removes_the_ca(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner=INNER)
    result = pytester.runpytest_subprocess("-q")
    result.assert_outcomes(passed=2)
    ca = (pytester.path / "ca-path.txt").read_text()
    assert ca.endswith("relaytokens-ca.pem")
    assert not (pytester.path / ca).exists()  # made for the test, gone after it


def test_tls_marker_argument_is_checked(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.relaytokens_service_options(tls="yes")
        def test_x(relaytokens_server):
            pass
        """
    )
    result = pytester.runpytest("-q")
    result.stderr.fnmatch_lines(["*relaytokens_service_options: tls must be True or False*"])
    assert result.ret != 0


class _Ok:
    def handle(self, request: FakeRequest) -> FakeResponse:
        return FakeResponse(200, [("Content-Type", "text/plain")], b"ok")


def test_the_connection_cap_evicts_an_idle_tls_connection() -> None:
    """At the cap the server peeks at idle connections; on TLS ones too (not a crash)."""
    ca = ThrowawayCA()
    try:
        with TlsLoopbackServer(_Ok(), ca, max_connections=1) as server:
            context = ca.client_context()
            first = http.client.HTTPSConnection("127.0.0.1", server.port, context=context)
            first.request("GET", "/")
            assert first.getresponse().read() == b"ok"  # now an idle keep-alive connection
            second = http.client.HTTPSConnection(
                "127.0.0.1", server.port, context=context, timeout=10
            )
            second.request("GET", "/")
            assert second.getresponse().read() == b"ok"
            assert server.running
            first.close()
            second.close()
    finally:
        ca.close()


def test_a_tls_connection_can_be_peeked_at_as_the_cap_does() -> None:
    """``_request_waiting`` peeks with ``MSG_PEEK``; a plain ``SSLSocket`` raises there."""
    ca = ThrowawayCA()
    left, right = socket.socketpair()
    try:
        wrapped = ca.context.wrap_socket(left, server_side=True, do_handshake_on_connect=False)
        right.sendall(b"\x16\x03\x01")  # the start of a ClientHello
        assert wrapped.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"\x16"
        wrapped.close()
    finally:
        right.close()
        ca.close()
