"""Serving fakes to ``requests`` and ``httpx`` for the length of a test."""

from __future__ import annotations

import importlib.util
from contextlib import ExitStack
from types import TracebackType

from .core import FakeService

__all__ = ["Activation"]


class Activation:
    """The fakes of one test, joined with :meth:`add`; all leave on exit.

    Each fake answers ``requests`` (through ``responses``: nested activations share one mock)
    and ``httpx`` calls to its own host; requests to any other host are left alone (they
    really go out, e.g. to a loopback server).
    """

    def __init__(self) -> None:
        self._stack = ExitStack()
        self.services: list[FakeService] = []

    def __enter__(self) -> Activation:
        return self

    def add(self, service: FakeService) -> None:
        from .transports.responses_transport import activate_responses

        self._stack.enter_context(activate_responses(service, [service.host]))
        if importlib.util.find_spec("httpx") is not None:
            from .transports.httpx_transport import patch_httpx

            self._stack.enter_context(patch_httpx(service, [service.host]))
        self.services.append(service)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stack.close()
