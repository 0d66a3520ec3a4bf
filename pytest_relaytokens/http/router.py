"""Routing by host: one entry point in front of several fakes."""

from __future__ import annotations

from collections.abc import Iterable

from .messages import FakeRequest, FakeResponse
from .service import FakeService

__all__ = ["FakeRouter"]


class FakeRouter:
    """Routes each request to the fake whose base URL host matches; 502-free: an unknown
    host is a programming error of the test and raises :class:`LookupError`."""

    def __init__(self, services: Iterable[FakeService] = ()) -> None:
        self.services: list[FakeService] = list(services)

    def add(self, service: FakeService) -> None:
        self.services.append(service)

    def service_for(self, request: FakeRequest) -> FakeService | None:
        """The service for the request's host; among services sharing a host, the one whose
        ``path_prefix`` starts the path (case-insensitively), else one without a prefix."""
        host = request.host.lower()
        path = request.path.lower()
        fallback: FakeService | None = None
        for service in self.services:
            if service.host.lower() != host:
                continue
            prefix = getattr(service, "path_prefix", None)
            if prefix is None:
                fallback = fallback or service
            elif path.startswith(prefix.lower()):
                return service
        if fallback is None:  # a single service on that host answers everything (its 404)
            fallback = next((s for s in self.services if s.host.lower() == host), None)
        return fallback

    def handle(self, request: FakeRequest) -> FakeResponse:
        service = self.service_for(request)
        if service is None:
            raise LookupError(
                f"no fake serves host {request.host!r} "
                f"(known: {', '.join(s.host for s in self.services)})"
            )
        return service.handle(request)
