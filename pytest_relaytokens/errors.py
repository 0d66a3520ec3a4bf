"""The project's own exception types: every documented failure is one of these."""

from __future__ import annotations

__all__ = ["NetworkBlockedError", "RelayTokensError", "WireFormatError"]


class RelayTokensError(Exception):
    """Base class of every error this package raises on purpose."""


class WireFormatError(RelayTokensError, ValueError):
    """A body, timestamp or cassette could not be read.

    ``field`` names what was being read (``validUntil``, ``_embedded.mediaRelay[0].tcpPort``),
    ``value`` quotes the offending input (shortened) and ``source`` says where it came from
    (a file name, ``cassette x.yaml interaction 3``) when known.
    """

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        value: object = None,
        source: str | None = None,
    ) -> None:
        self.field = field
        self.value = value
        self.source = source
        parts = []
        if source:
            parts.append(source)
        if field:
            parts.append(f"field {field!r}")
        prefix = ": ".join(parts)
        text = f"{prefix}: {message}" if prefix else message
        if value is not None:
            shown = repr(value)
            if len(shown) > 120:
                shown = shown[:117] + "..."
            text = f"{text} (got {shown})"
        super().__init__(text)


class NetworkBlockedError(RelayTokensError):
    """A request in fake or replay mode went to a host that is neither a fake nor loopback."""
