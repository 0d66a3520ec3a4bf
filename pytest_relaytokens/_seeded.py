"""A cheap seeded random stream for the factories and fakes.

``random.Random(seed)`` fills the Mersenne Twister's 624-word state on every construction
(~6-8 us), which dominated a test that builds one token. :class:`SeededRandom` is a
:class:`random.Random` whose bits come from BLAKE2b of the seed and a block counter: making
one costs a fraction of a microsecond, the same seed always gives the same stream (on every
platform and Python version), and every ``random.Random`` method (``choice``, ``randint``,
``choices``, ``randbytes``...) works on top of it. Not for cryptography.
"""

from __future__ import annotations

import os
import random
from hashlib import blake2b
from typing import Any

__all__ = ["SeedStream", "SeededRandom", "seed_bytes"]

_DOMAIN = b"relaytokens-rng1:"
_INT_KEY = _DOMAIN + b"i"
_BLOCK_BYTES = 64
_STATE_TAG = "relaytokens-seeded-2"


def seed_bytes(seed: object) -> bytes:
    """The canonical bytes of a seed (an int, str or bytes), tagged by kind: different seeds
    never share bytes (1 and "1" and b"1" are three streams)."""
    if isinstance(seed, int):  # bool included, as random.Random(True) == random.Random(1)
        value = int(seed)
        length = (value.bit_length() + 8) // 8
        return b"i" + value.to_bytes(length, "little", signed=True)
    if isinstance(seed, str):
        return b"s" + seed.encode("utf-8", "surrogatepass")
    if isinstance(seed, (bytes, bytearray)):
        return b"b" + bytes(seed)
    raise TypeError(f"seed must be an int, str or bytes, got {type(seed).__name__}: {seed!r}")


class SeedStream:
    """The bytes of one seed's stream: BLAKE2b(domain, seed, block counter), 64 bytes a block.

    Cheap to make (no state to fill); ``take(n)`` hands out the next ``n`` bytes.
    """

    __slots__ = ("_buf", "_counter", "_key", "_pos")

    def __init__(self, seed: object) -> None:
        if type(seed) is int:  # the common case, inlined: what seed_bytes() does
            length = (seed.bit_length() + 8) // 8
            self._key = _INT_KEY + seed.to_bytes(length, "little", signed=True)
        else:
            self._key = _DOMAIN + seed_bytes(seed)
        self._counter = self._pos = 0
        self._buf = b""

    def take(self, count: int) -> bytes:
        """The next ``count`` bytes of the stream."""
        pos = self._pos
        end = pos + count
        buf = self._buf
        if pos <= end <= len(buf):
            self._pos = end
            return buf[pos:end]
        if count < 0:
            raise ValueError("number of bytes must be non-negative")
        buf = buf[pos:]
        key, counter = self._key, self._counter
        while len(buf) < count:
            # the counter has a fixed width at the end, so (seed, counter) pairs never collide
            buf += blake2b(key + counter.to_bytes(8, "little")).digest()  # 64 bytes: the default
            counter += 1
        self._counter = counter
        self._buf = buf
        self._pos = count
        return buf[:count]

    def getstate(self) -> tuple[bytes, int, bytes]:
        return (self._key, self._counter, self._buf[self._pos :])

    def setstate(self, state: tuple[bytes, int, bytes]) -> None:
        self._key, self._counter, self._buf = state
        self._pos = 0


class SeededRandom(random.Random):
    """``random.Random`` drawing from a :class:`SeedStream`; see the module docstring.

    Bits are handed out a whole byte at a time, in the order the digests give them:
    ``randbytes(n)`` is the next ``n`` bytes, ``getrandbits(k)`` the next ``ceil(k / 8)``
    bytes read little-endian, masked to ``k`` bits. ``stream=`` shares an existing stream
    (what a factory drew from it is not drawn again).
    """

    def __init__(self, seed: object = None, *, stream: SeedStream | None = None) -> None:
        self.gauss_next = None
        self._stream = stream if stream is not None else SeedStream(_or_entropy(seed))

    def seed(self, a: object = None, version: int = 2) -> None:
        """Restart the stream from ``a`` (``None``: fresh system entropy)."""
        self._stream = SeedStream(_or_entropy(a))
        self.gauss_next = None

    def randbytes(self, n: int) -> bytes:
        """The next ``n`` bytes of the stream."""
        return self._stream.take(n)

    def getrandbits(self, k: int) -> int:
        """``k`` random bits as a non-negative int (the next ``ceil(k / 8)`` bytes)."""
        if k <= 0:
            if k < 0:
                raise ValueError("number of bits must be non-negative")
            return 0
        value = int.from_bytes(self._stream.take((k + 7) >> 3), "little")
        return value & ((1 << k) - 1) if k & 7 else value

    def random(self) -> float:
        """A float in [0.0, 1.0) with 53 random bits."""
        return self.getrandbits(53) * 1.1102230246251565e-16  # 2 ** -53

    def getstate(self) -> tuple[Any, ...]:
        return (_STATE_TAG, self._stream.getstate(), self.gauss_next)

    def setstate(self, state: tuple[Any, ...]) -> None:
        if not (isinstance(state, tuple) and len(state) == 3 and state[0] == _STATE_TAG):
            raise ValueError(f"not a SeededRandom state: {state!r:.80}")
        stream = SeedStream(0)
        stream.setstate(state[1])
        self._stream, self.gauss_next = stream, state[2]


def _or_entropy(seed: object) -> object:
    return os.urandom(32) if seed is None else seed
