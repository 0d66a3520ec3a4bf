"""One shape for what runs in the background between ``start()`` and ``stop()``."""

from __future__ import annotations

from types import TracebackType
from typing import TypeVar

__all__ = ["Background"]

_B = TypeVar("_B", bound="Background")


class Background:
    """Started by ``start()`` (which returns the object), ended by ``stop()``; a context manager."""

    def start(self: _B) -> _B:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self: _B) -> _B:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
