"""One record-time pass (redact, serialize, scan) for benchmarks: time it for MB/s."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["redact_and_scan"]


def redact_and_scan(
    body: bytes,
    content_type: str = "application/json",
    *,
    secrets: Iterable[str] = (),
    uri: str = "https://relay.example.test/api/auth/accesstokens",
) -> int:
    """Redact one response carrying ``body``, serialize it as a cassette and scan it, as
    recording does; returns the number of findings (0 when the redactor did its job).

    ``benchmarks`` time this over a body of known size to report redaction+scan MB/s.
    """
    import yaml

    from .redaction import Redactor
    from .secrets import scan_cassette

    redactor = Redactor(extra_secrets=secrets)
    response: dict[str, Any] = {
        "status": {"code": 200, "message": "OK"},
        "headers": {"Content-Type": [content_type], "Content-Length": [str(len(body))]},
        "body": {"string": body},
    }
    redactor.redact_response(response)
    request: dict[str, Any] = {"method": "GET", "uri": redactor.redact_uri(uri)}
    request.update(body=None, headers={})
    cassette = {
        "version": 1,
        "interactions": [{"request": request, "response": response}],
        "relaytokens": {"version": 1, "placeholders": sorted(redactor.placeholders)},
    }
    text = yaml.dump(cassette, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper))
    findings = scan_cassette(text, redactor.secrets | set(redactor.declared), redactor.patterns)
    return len(findings)
