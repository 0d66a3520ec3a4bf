"""Serving fakes to ``requests`` and ``httpx`` for the length of a test."""

from __future__ import annotations

import importlib.util
from contextlib import ExitStack
from types import TracebackType
from typing import Any

from .core import FakeService

__all__ = ["Activation"]


class Activation:
    """One ``responses`` mock and the ``httpx`` patches; fakes join with :meth:`add`.

    Requests to any other host are left alone (they really go out, e.g. to a loopback server).
    """

    def __init__(self) -> None:
        self._stack = ExitStack()
        self._mock: Any = None
        self.services: list[FakeService] = []

    def __enter__(self) -> Activation:
        import responses

        self._mock = responses.RequestsMock(assert_all_requests_are_fired=False)
        self._mock.start()
        self._stack.callback(self._mock.stop, allow_assert=False)
        self._stack.callback(self._mock.reset)
        return self

    def add(self, service: FakeService) -> None:
        from .transports.responses_transport import activate_responses

        self._stack.enter_context(activate_responses(service, [service.host], mock=self._mock))
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
