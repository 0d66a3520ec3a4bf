"""What the UCWA and Relay token models, wire formats and factories share."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from ._seeded import SeededRandom, SeedStream
from .clock import Clock
from .errors import WireFormatError
from .http import TokenPolicy

__all__ = ["SeededFactory", "TokenModel", "load_json_text"]


class TokenModel(BaseModel):
    """A token model: compared field by field, so a clock bound by
    :func:`~pytest_relaytokens.clock.bind_clock` (kept in ``__dict__``) never counts
    (pydantic before 2.6 compares the whole ``__dict__``)."""

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in type(self).model_fields)

    __hash__ = None  # type: ignore[assignment]  # mutable, as pydantic's own models


class SeededFactory:
    """The seed, clock and policy every token factory starts from.

    ``seed`` is an int (or str/bytes), drawn from through a :class:`SeedStream`, or any
    :class:`random.Random` to draw from; ``clock`` defaults to a flowing :class:`Clock`.
    """

    def __init__(
        self,
        seed: int | random.Random = 0,
        clock: Clock | None = None,
        policy: TokenPolicy | None = None,
    ) -> None:
        if isinstance(seed, random.Random):
            self._rng: random.Random | None = seed
            self._take: Callable[[int], bytes] = seed.randbytes
        else:
            self._rng = None
            self._stream = SeedStream(seed)
            self._take = self._stream.take
        self.clock = clock or Clock()
        self.policy = policy or TokenPolicy()
        self._start()

    def _start(self) -> None:
        """What a factory draws once it has its stream (the first draws of every seed)."""

    @property
    def rng(self) -> random.Random:
        """The ``random.Random`` this factory draws from (for an int seed, a
        :class:`SeededRandom` sharing the factory's stream, made on first use)."""
        if self._rng is None:
            self._rng = SeededRandom(stream=self._stream)
        return self._rng


def load_json_text(text: str, source: str | None) -> Any:
    """``json.loads(text)``; what it cannot read is a :class:`WireFormatError` that quotes
    the text around the fault and names ``source``."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise WireFormatError(
            f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            value=text[max(0, exc.pos - 30) : exc.pos + 30],
            source=source,
        ) from None
    except RecursionError:
        raise WireFormatError("JSON nested too deeply", source=source) from None
    except ValueError as exc:  # e.g. an integer over the int-string conversion limit
        raise WireFormatError(f"malformed JSON body: {exc}", source=source) from None
