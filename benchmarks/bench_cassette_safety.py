"""Goal 5. Cassette safety: redaction + secret scan throughput, and whether it stays linear.

One interaction whose response body is ``size`` bytes goes through the pipeline a recording
uses: ``Redactor.redact_interaction``, YAML serialisation, then ``secrets.scan`` of the text for
every secret the redactor learnt (or ``pytest_relaytokens.cassettes.redact_and_scan(request,
response)`` when the package provides one). Bodies: ``realistic`` (a token response followed by
a large JSON list of non-secret records), ``token-dense`` (distinct UCWA token bodies back to
back: a secret every ~400 bytes) and ``adversarial`` (one long base64-looking run, unterminated
``"password":"`` keys, long digit runs, percent escapes). Each size runs in its own process
with a time limit, so a quadratic case shows as a timeout instead of hanging the harness.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import textwrap

from _common import Benchmark, Row, Settings, guarded, missing, pytest_env

LIMIT_S = 120.0  # a hang guard only: linearity is judged by the time ratio
CHEAP_S = 2.0  # a body done faster than this at the larger size is measured three times

CHILD = textwrap.dedent(
    """
    import json, sys, time
    import yaml
    from pytest_relaytokens import cassettes
    from pytest_relaytokens.ucwa import wire
    from pytest_relaytokens.ucwa.factories import UcwaTokenFactory

    kind, size = sys.argv[1], int(sys.argv[2])
    factory = UcwaTokenFactory(7)

    def realistic():
        head = wire.render_json(factory.build()).decode()
        record = '{"id":"5d1e4b0a9f","name":"Room %d","type":"H323","status":"online"}'
        parts, total, n = [], len(head) + 2, 0
        while total < size:
            item = record % n
            parts.append(item)
            total += len(item) + 1
            n += 1
        return '[' + head + ',' + ','.join(parts) + ']'

    def dense():
        parts, total = [], 2
        while total < size:
            item = wire.render_json(factory.build()).decode()
            parts.append(item)
            total += len(item) + 1
        return '[' + ','.join(parts) + ']'

    def adversarial():
        unit = (
            'A' * 4096 + '"password":"' + '9' * 512 + '%2' * 256
            + '"userName":"' + 'QUJD' * 256 + '<property name="password">' + '='
        )
        return (unit * (size // len(unit) + 1))[:size]

    def multipart():
        # a secret part every ~80 bytes, mixed-case boundary (one pass, not one per part)
        unit = (
            '--BoUnDaRy\\r\\nContent-Disposition: form-data; name="password"'
            '\\r\\n\\r\\npw%08d\\r\\n'
        )
        parts, total, n = [], 0, 0
        while total < size:
            parts.append(unit % n)
            total += len(parts[-1])
            n += 1
        return ''.join(parts)[:size - 14] + '--BoUnDaRy--\\r\\n'

    body = {
        "realistic": realistic, "token-dense": dense, "adversarial": adversarial,
        "multipart": multipart,
    }[kind]()
    content_type = (
        "multipart/form-data; boundary=BoUnDaRy" if kind == "multipart" else "application/json"
    )
    request = {
        "method": "GET",
        "uri": "https://fe1.contoso.com/ucwa/oauth/v1/applications/1/communication/x",
        "headers": {
            "Accept": ["application/json"],
            "Authorization": ["Bearer cwt=AAEBHAEFAAAAAAAFFQAAAOeN"],
        },
        "body": None,
    }
    response = {
        "status": {"code": 200, "message": "OK"},
        "headers": {"Content-Type": [content_type]},
        "body": {"string": body},
    }
    start = time.process_time()
    combined = getattr(cassettes, "redact_and_scan", None)
    if combined is not None:
        combined(body.encode(), content_type)
    else:
        from pytest_relaytokens.cassettes.redaction import Redactor
        from pytest_relaytokens.cassettes.secrets import scan

        redactor = Redactor()
        redactor.redact_interaction(request, response)
        text = yaml.dump(
            {"interactions": [{"request": request, "response": response}], "version": 1},
            Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper),
        )
        scan(text, redactor.secrets)
    print(json.dumps({"cpu": time.process_time() - start, "bytes": len(body)}))
    """
)


def measure(kind: str, size: int) -> float | None:
    """CPU seconds of the pipeline on one body, or None past the time limit."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, kind, str(size)],
            env=pytest_env(),
            capture_output=True,
            text=True,
            timeout=LIMIT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"the {kind} {size}-byte run failed: {tail}")
    return float(json.loads(done.stdout.strip().splitlines()[-1])["cpu"])


def rows(settings: Settings) -> list[Row]:
    missing(
        "yaml", "pytest_relaytokens.cassettes.redaction", "pytest_relaytokens.cassettes.secrets"
    )
    kib = 1024
    # 4 -> 8 MiB; a body that cannot do 4 MiB in the time limit is shown at 64 -> 128 KiB.
    ladder = (
        [(16 * kib, 32 * kib)]
        if settings.quick
        else [(4096 * kib, 8192 * kib), (64 * kib, 128 * kib)]
    )
    out = []
    for kind in ("realistic", "token-dense", "adversarial", "multipart"):
        notes: list[str] = []
        for small, large in ladder:
            first = measure(kind, small)
            second = measure(kind, large) if first is not None else None
            if first is not None and second is not None and second < CHEAP_S:
                # a body done in well under a second: one sample is mostly noise, take the
                # median of three interleaved pairs (the costly bodies are steady enough)
                pairs = [(first, second)] + [
                    (measure(kind, small) or first, measure(kind, large) or second)
                    for _ in range(2)
                ]
                first = statistics.median(p[0] for p in pairs)
                second = statistics.median(p[1] for p in pairs)
            if first is not None and second is not None:
                notes.append(
                    f"{large / 2**20 / second:.2f} MB/s at {large // kib:,} KiB, "
                    f"{small / 2**20 / first:.2f} MB/s at {small // kib:,} KiB"
                )
                out.append(
                    Row(
                        f"cassette safety, {kind}: time for {large // kib:,} KiB"
                        f" vs {small // kib:,} KiB",
                        "s CPU",
                        second,
                        first,
                        "<= 2.2",
                        "; ".join(notes),
                    )
                )
                break
            size = small if first is None else large
            notes.append(f"did not finish within {LIMIT_S:.0f} s at {size // kib:,} KiB")
        else:
            out.append(
                Row(
                    f"cassette safety, {kind}: redact + scan",
                    "s CPU",
                    goal="<= 2.2",
                    note="; ".join(notes),
                )
            )
    return out


def run(settings: Settings) -> list[Row]:
    return guarded("cassette safety", lambda: rows(settings))


BENCHMARK = Benchmark("cassette_safety", "cassette safety", run)
