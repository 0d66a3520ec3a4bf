"""One test's HTTP interception: ``requests`` (at its transport adapter) and ``httpx`` calls to
the fakes' hosts are answered by the fakes; in fake and replay mode every other host except
loopback (and hosts allowed on purpose) is refused with :class:`NetworkBlockedError`."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from ..cassettes.structure import safe_url
from ..errors import NetworkBlockedError
from ..http import FakeRequest, FakeResponse, FakeService
from ..http.urls import is_loopback
from ..transports import strip_port

__all__ = ["TestNetwork"]


def _strip_port(netloc: str) -> str:
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
        self._started = False
        self._real_send_below = True

    # --- routing -------------------------------------------------------------------------------
    def add(self, service: FakeService, host: str | None = None) -> None:
        """Serve ``service`` on ``host`` (default: its current one; kept if it moves) and on
        the hosts it names as ``discovery_hosts`` (the UCWA fake's ``lyncdiscover.<domain>``
        and ``lyncdiscoverinternal.<domain>``), unless another fake has them."""
        host = (host or service.host).lower()
        if self.routes.get(host) is service:
            return
        self.routes[host] = service
        aliases: tuple[str, ...] = getattr(service, "discovery_hosts", ())
        for alias in aliases:
            self.routes.setdefault(alias.lower(), service)
        if not self._started:
            self._start()

    def _reachable(self, netloc: str) -> bool:
        host = _strip_port(netloc)
        return not self.block or is_loopback(host) or host in self.allowed

    def route(self, netloc: str) -> FakeService | None:
        """The fake serving ``netloc`` (``host[:port]``, any case, user info ignored); a fake's
        host on an explicit port (``:443``) is still that fake."""
        netloc = netloc.lower().rsplit("@", 1)[-1]
        service = self.routes.get(netloc)
        if service is None and self.routes:
            bare = _strip_port(netloc)
            service = next((s for h, s in self.routes.items() if _strip_port(h) == bare), None)
        return service

    def handle(self, request: FakeRequest) -> FakeResponse:
        service = self.route(request.host)
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
    def _answer_requests(self, request: Any) -> FakeResponse | None:
        """A fake's answer to a ``requests`` call, ``None`` to let it go on, or the blocked
        error. When the ``send`` we replaced is not requests' own (a ``responses`` mock the
        user started first), unserved hosts go to it: it refuses what it does not know."""
        from ..transports.requests_adapter import request_netloc, to_fake_request

        netloc = request_netloc(str(request.url))
        if not netloc:  # not http(s): nothing of ours
            return None
        service = self.route(netloc)
        if service is not None:
            return service.handle(to_fake_request(request))
        if self._reachable(netloc) or not self._real_send_below:
            return None
        raise self._blocked(to_fake_request(request))

    def _start(self) -> None:
        import importlib.util

        from ..transports.requests_adapter import patch_requests

        self._started = True
        below = self._stack.enter_context(patch_requests(self._answer_requests))
        self._real_send_below = getattr(below, "__module__", None) == "requests.adapters"
        if importlib.util.find_spec("httpx") is not None:
            self._patch_httpx()

    # --- httpx ---------------------------------------------------------------------------------
    def _patch_httpx(self) -> None:
        from ..transports.httpx_transport import route_httpx

        def choose(request: Any) -> TestNetwork | None:
            netloc = request.url.netloc.decode("ascii", "replace")
            if self.route(netloc) is not None or not self._reachable(netloc):
                return self  # the fake answers, or handle() raises the blocked error
            return None

        self._stack.enter_context(route_httpx(choose))

    def start(self) -> None:
        """Intercept now, even before a fake joins (to block the network)."""
        if not self._started:
            self._start()

    def close(self) -> None:
        self._stack.close()
        self.routes.clear()
