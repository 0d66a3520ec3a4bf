"""Transports: adapters that let real HTTP clients talk to the fakes.

Every transport wraps a *target*: any object with ``handle(FakeRequest) -> FakeResponse``
(a :class:`~pytest_relaytokens.http.FakeService`, a :class:`~pytest_relaytokens.http.FakeRouter`
or a :class:`PathRouter`). Importing this package is cheap; ``requests``, ``responses`` and
``httpx`` load only with their own modules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from .._lazy import lazy_exports
from ..http import FakeRequest, FakeResponse

__all__ = [
    "FakeTransport",
    "LoopbackServer",
    "PathRouter",
    "Target",
    "activate_responses",
    "patch_httpx",
    "serve_requests",
    "target_hosts",
]

_LAZY: dict[str, str] = {
    "activate_responses": "pytest_relaytokens.transports.responses_transport",
    "FakeTransport": "pytest_relaytokens.transports.httpx_transport",
    "patch_httpx": "pytest_relaytokens.transports.httpx_transport",
    "LoopbackServer": "pytest_relaytokens.transports.server",
    "serve_requests": "pytest_relaytokens.transports.requests_adapter",
}

if TYPE_CHECKING:  # pragma: no cover
    from .httpx_transport import FakeTransport, patch_httpx
    from .requests_adapter import serve_requests
    from .responses_transport import activate_responses
    from .server import LoopbackServer


@runtime_checkable
class Target(Protocol):
    """Anything a transport can serve: ``handle(FakeRequest) -> FakeResponse``."""

    def handle(self, request: FakeRequest) -> FakeResponse: ...


class PathRouter:
    """Route by path prefix (case-insensitive), first match wins, else ``default`` (else a
    plain 404).

    ``PathRouter([("/api/", relay)], default=ucwa)`` serves both fakes on one port.
    """

    def __init__(
        self, routes: Iterable[tuple[str, Target]] = (), default: Target | None = None
    ) -> None:
        self.routes: list[tuple[str, Target]] = list(routes)
        self.default = default

    def target_for(self, request: FakeRequest) -> Target | None:
        path = request.path.lower()
        for prefix, target in self.routes:
            if path.startswith(prefix.lower()):  # IIS and Relay prefixes: case-insensitive
                return target
        return self.default

    def handle(self, request: FakeRequest) -> FakeResponse:
        target = self.target_for(request)
        if target is None:
            return FakeResponse(
                404,
                [("Content-Type", "text/plain; charset=utf-8")],
                f"no fake serves {request.path}\n".encode(),
            )
        return target.handle(request)


def bodiless_status(status: int) -> bool:
    """Statuses whose responses never carry a body (1xx, 204, 304)."""
    return status < 200 or status in (204, 304)


def target_hosts(target: object) -> list[str]:
    """The hosts (``netloc``) a target serves: a service's ``host``, a router's services'
    hosts, a :class:`PathRouter`'s routes'. Raises ``ValueError`` when none can be found."""
    hosts: list[str] = []

    def collect(obj: object) -> None:
        if isinstance(obj, PathRouter):
            for _, sub in obj.routes:
                collect(sub)
            if obj.default is not None:
                collect(obj.default)
            return
        services = getattr(obj, "services", None)
        if isinstance(services, list):
            for sub in services:
                collect(sub)
            return
        host = getattr(obj, "host", None)
        if isinstance(host, str) and host and host not in hosts:
            hosts.append(host)

    collect(target)
    if not hosts:
        raise ValueError(f"cannot tell which hosts {target!r} serves; pass hosts=[...]")
    return hosts


def strip_port(host: str) -> str:
    """``host:port`` -> ``host`` (``[::1]:80`` -> ``[::1]``); a host without port unchanged."""
    name, sep, port = host.rpartition(":")
    bracketed = name.startswith("[") and name.endswith("]")
    if sep and port.isdigit() and (bracketed or ":" not in name):
        return name
    return host


def host_pattern(hosts: Iterable[str]) -> str:
    """A regex (no anchors) matching ``host`` or ``host:port`` for each host; a host given
    with a port matches that port only, one without matches any port."""
    parts = []
    for host in hosts:
        host = host.strip().lower()
        if not host:
            continue
        if strip_port(host) != host:
            parts.append(re.escape(host))
        else:
            parts.append(re.escape(host) + r"(?::\d+)?")
    if not parts:
        raise ValueError("hosts is empty")
    return "(?:" + "|".join(parts) + ")"


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
