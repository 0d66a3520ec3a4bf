"""One test's HTTP interception: ``requests`` (through ``responses``) and ``httpx`` calls to
the fakes' hosts are answered by the fakes; in fake and replay mode every other host except
loopback (and hosts allowed on purpose) is refused with :class:`NetworkBlockedError`."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import ExitStack, suppress
from typing import Any

from ..core import FakeRequest, FakeResponse, FakeService
from ..errors import RelayTokensError

__all__ = ["LOOPBACK_HOSTS", "NetworkBlockedError", "TestNetwork"]

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


class NetworkBlockedError(RelayTokensError):
    """A request in fake or replay mode went to a host that is neither a fake nor loopback."""


def safe_url(url: str) -> str:
    """``url`` fit for a message: no user info, every query value hidden (a Relay token
    travels as ``?accesstoken=``), no fragment."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    keys = [pair.split("=", 1)[0] for pair in parts.query.split("&") if pair]
    query = "&".join(f"{key}=<hidden>" for key in keys)
    return f"{parts.scheme}://{host}{parts.path}" + (f"?{query}" if query else "")


def _strip_port(netloc: str) -> str:
    from ..transports import strip_port

    return strip_port(netloc.lower().rsplit("@", 1)[-1])


class TestNetwork:
    """The fakes of one test, joined with :meth:`add`, served to ``requests`` and ``httpx``
    until :meth:`close`. ``block`` refuses other hosts except loopback and ``allowed``."""

    __test__ = False  # not a test class

    def __init__(
        self,
        *,
        block: bool,
        allowed: tuple[str, ...] = (),
        on_blocked: Callable[[str], None] | None = None,
    ) -> None:
        self.block = block
        self.allowed = frozenset(_strip_port(h) for h in allowed)
        self.on_blocked = on_blocked
        self.routes: dict[str, FakeService] = {}
        self._stack = ExitStack()
        self._mock: Any = None
        self._registered: list[Any] = []
        self._started = False

    # --- routing -------------------------------------------------------------------------------
    def add(self, service: FakeService, host: str | None = None) -> None:
        """Serve ``service`` on ``host`` (default: its current one; kept if it moves)."""
        host = (host or service.host).lower()
        if self.routes.get(host) is service:
            return
        self.routes[host] = service
        if not self._started:
            self._start()
        self._register()

    def _reachable(self, netloc: str) -> bool:
        host = _strip_port(netloc)
        return not self.block or host in LOOPBACK_HOSTS or host in self.allowed

    def handle(self, request: FakeRequest) -> FakeResponse:
        netloc = request.host.lower().rsplit("@", 1)[-1]
        service = self.routes.get(netloc)
        if service is None:  # a fake's host on an explicit port (":443") is still the fake
            bare = _strip_port(netloc)
            service = next((s for h, s in self.routes.items() if _strip_port(h) == bare), None)
        if service is None:
            raise self._blocked(request)
        return service.handle(request)

    def _blocked(self, request: FakeRequest) -> NetworkBlockedError:
        host = _strip_port(request.host)
        fakes = ", ".join(sorted(self.routes)) or "none"
        where = safe_url(request.url)
        message = (
            f"relaytokens blocked a request to {host!r} ({request.method} {where})"
            f": in fake and replay mode only the fakes ({fakes}) and loopback are reachable. "
            f'Allow it with @pytest.mark.relaytokens_allow(hosts=["{host}"]) or '
            f"--relaytokens-allow-hosts={host} (ini relaytokens_allow_hosts), or stop blocking "
            "with --relaytokens-block-network=false."
        )
        if self.on_blocked is not None:
            self.on_blocked(message)
        return NetworkBlockedError(message)

    # --- requests ------------------------------------------------------------------------------
    def _pattern(self) -> re.Pattern[str]:
        """What the callback answers: the fakes' hosts and, when blocking, every host but
        loopback and the allowed ones (lookarounds only: nothing to backtrack on)."""
        from ..transports import host_pattern

        start = r"^https?://(?:[^/?#@]*@)?"
        end = r"(?:[/?#]|$)"
        fakes = f"(?={host_pattern(self.routes)}{end})" if self.routes else None
        if not self.block:
            return re.compile(start + (fakes or "(?!)"), re.IGNORECASE)
        open_hosts = f"(?!{host_pattern([*LOOPBACK_HOSTS, *self.allowed])}{end})"
        either = f"(?:{fakes}|{open_hosts})" if fakes else open_hosts
        return re.compile(start + either, re.IGNORECASE)

    def _register(self) -> None:
        import responses

        from ..transports.responses_transport import _callback

        mock = self._mock
        for added in self._registered:
            with suppress(ValueError):
                mock.remove(added)
        pattern = self._pattern()
        callback = _callback(self)
        # keep our own objects: add()/add_callback() return None on older responses versions
        self._registered = [
            responses.CallbackResponse(method, pattern, callback, content_type=None)
            for method in _METHODS
        ]
        for added in self._registered:
            mock.add(added)

    def _start(self) -> None:
        import importlib.util

        import responses

        self._started = True
        self._mock = responses.RequestsMock(assert_all_requests_are_fired=False)
        self._mock.add_passthru(re.compile(r"^https?://"))  # what no callback matches goes out
        self._mock.start()
        self._stack.callback(self._stop_responses)
        if importlib.util.find_spec("httpx") is not None:
            self._patch_httpx()

    def _stop_responses(self) -> None:
        mock, self._mock = self._mock, None
        mock.stop(allow_assert=False)
        mock.reset()

    # --- httpx ---------------------------------------------------------------------------------
    def _patch_httpx(self) -> None:
        from unittest import mock

        import httpx

        from ..transports.httpx_transport import FakeTransport

        fake = FakeTransport(self)
        real_sync = httpx.HTTPTransport.handle_request
        real_async = httpx.AsyncHTTPTransport.handle_async_request
        network = self

        def ours(request: httpx.Request) -> bool:
            netloc = request.url.netloc.decode("ascii", "replace").lower()
            return netloc in network.routes or not network._reachable(netloc)

        def handle_request(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
            if ours(request):
                return fake.handle_request(request)
            return real_sync(self, request)

        async def handle_async_request(
            self: httpx.AsyncHTTPTransport, request: httpx.Request
        ) -> httpx.Response:
            if ours(request):
                return await fake.handle_async_request(request)
            return await real_async(self, request)

        self._stack.enter_context(
            mock.patch.object(httpx.HTTPTransport, "handle_request", handle_request)
        )
        self._stack.enter_context(
            mock.patch.object(
                httpx.AsyncHTTPTransport, "handle_async_request", handle_async_request
            )
        )

    def start(self) -> None:
        """Intercept now, even before a fake joins (to block the network)."""
        if not self._started:
            self._start()
            self._register_if_needed()

    def _register_if_needed(self) -> None:
        if self.block or self.routes:
            self._register()

    def close(self) -> None:
        self._stack.close()
        self.routes.clear()
        self._registered = []
