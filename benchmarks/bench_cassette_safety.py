"""Goal 5. Cassette safety: what recording costs on a large body, and whether it stays linear.

One interaction whose response body is ``size`` bytes is recorded the way a test records it:
``pytest_relaytokens.cassettes.record(path, mode="all")`` (vcrpy wired to the package's
redactor and persister) and ``cassette.append(request, response)``, timed to the end of the
block, so every redaction pass the recorder makes (its ``before_record`` hooks and the
persister's save), the YAML, the leak scan and the atomic write are in; only the network is
not. Bodies: ``realistic`` (a token response followed by a large JSON list of non-secret
records), ``token-dense`` (distinct UCWA token bodies back to back: a secret every ~400
bytes), ``adversarial`` (one long base64-looking run, unterminated ``"password":"`` keys, long
digit runs, percent escapes) and ``multipart`` (a secret part every ~80 bytes). Each body is
timed at two fixed sizes in MIN_ROUNDS interleaved pairs, each run in its own process with a
time limit, so a quadratic case shows as a 4x ratio or a timeout instead of hanging.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import textwrap

from _common import MIN_ROUNDS, Benchmark, Row, Settings, compare, guarded, missing, pytest_env

LIMIT_S = 120.0  # a hang guard only: linearity is judged by the time ratio

CHILD = textwrap.dedent(
    """
    import json, os, sys, tempfile, time
    from pytest_relaytokens import UcwaTokenFactory

    try:
        from pytest_relaytokens.ucwa.wire import render_json
    except ImportError:  # the renderer moved: the model's own JSON, same fields
        def render_json(token):
            return token.model_dump_json(by_alias=True).encode()

    kind, size = sys.argv[1], int(sys.argv[2])
    factory = UcwaTokenFactory(7)

    def realistic():
        head = render_json(factory.build()).decode()
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
            item = render_json(factory.build()).decode()
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
    # a real recording: vcrpy's cassette through the package's recorder (its
    # before_record hooks, then the persister's save: every redaction pass it makes,
    # serialisation, the leak scan, the atomic write); only the network is left out
    from vcr.request import Request

    from pytest_relaytokens.cassettes import SecretLeakError, record

    payload = body.encode()
    response["body"]["string"] = payload
    response["headers"]["Content-Length"] = [str(len(payload))]
    headers = {name: values[0] for name, values in request["headers"].items()}
    findings = 0
    with tempfile.TemporaryDirectory(prefix="relaytokens-bench-") as folder:
        path = os.path.join(folder, "cassette.yaml")
        start = time.process_time()
        try:
            with record(path, mode="all") as tape:
                tape.append(Request("GET", request["uri"], None, headers), response)
        except SecretLeakError as error:  # the same work was done; the row's note says so
            findings = len(error.findings)
        cpu = time.process_time() - start
        written = os.path.getsize(path) if os.path.exists(path) else 0
    print(json.dumps({"cpu": cpu, "bytes": len(body), "findings": findings, "written": written}))
    """
)


#: Per body, the sizes whose time ratio judges linearity (small, large): fixed, so rows keep
#: their names between runs, and small enough that MIN_ROUNDS interleaved pairs of a real
#: recording fit in about 20 s of CPU each (a quadratic case still shows as a 4x ratio).
SIZES_KIB = {
    "realistic": (1024, 2048),
    "token-dense": (256, 512),
    "adversarial": (4096, 8192),
    "multipart": (256, 512),
}
QUICK_KIB = (16, 32)


def measure(kind: str, size: int) -> tuple[float, int] | None:
    """CPU seconds of one recording of a ``size``-byte body and the leak findings it raised,
    or None past the time limit."""
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
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return float(found["cpu"]), int(found["findings"])


PEER_CHILD = CHILD.replace(
    "from pytest_relaytokens.cassettes import SecretLeakError, record",
    "import vcr\nfrom pytest_relaytokens.cassettes import SecretLeakError\n"
    "record = lambda path, mode: vcr.VCR(record_mode=mode).use_cassette(path)",
)
"""The peer: vcrpy recording the same body, without redaction or scan."""

VERIFY_CHILD = textwrap.dedent(
    """
    import json, os, resource, sys, tempfile, time
    import yaml
    size = int(sys.argv[1])
    record = {"id": "5d1e4b0a9f", "name": "Room", "type": "H323", "status": "online"}
    body = json.dumps([dict(record, name=f"Room {n}") for n in range(80)])
    interaction = {
        "request": {"method": "GET", "uri": "https://relay.example.com/api/rooms",
                    "body": None, "headers": {"Authorization": ["Bearer REDACTED0000000001"]}},
        "response": {"status": {"code": 200, "message": "OK"},
                     "headers": {"Content-Type": ["application/json"]},
                     "body": {"string": body}},
    }
    unit = yaml.safe_dump([interaction])
    with tempfile.TemporaryDirectory(prefix="relaytokens-bench-") as folder:
        path = os.path.join(folder, "big.yaml")
        with open(path, "w", encoding="utf-8") as out:  # written streaming: small memory
            out.write("interactions:\\n")
            for _ in range(max(1, (size - 200) // len(unit))):
                out.write(unit)
            out.write("relaytokens:\\n  placeholders:\\n  - REDACTED0000000001\\n  version: 1\\n")
            out.write("version: 1\\n")
        from pathlib import Path
        from pytest_relaytokens.cassettes.verify import check_cassette
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.process_time()
        problems = check_cassette(Path(path), schema=False)
        cpu = time.process_time() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        print(json.dumps({"cpu": cpu, "peak_kib": peak, "before_kib": before,
                          "bytes": os.path.getsize(path), "findings": len(problems)}))
    """
)
"""One ``verify`` of a generated cassette of ``size`` bytes (many ~6 KiB interactions) in a
fresh process: CPU seconds and peak RSS (``resource.getrusage``)."""


def _child(script: str, *args: str) -> dict[str, float] | None:
    try:
        done = subprocess.run(
            [sys.executable, "-c", script, *args],
            env=pytest_env(),
            capture_output=True,
            text=True,
            timeout=LIMIT_S * 2,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"{args}: {tail}")
    found: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def gate_rows(settings: Settings) -> list[Row]:
    """Issue 20: redaction + scan on a realistic 8 MiB body against vcrpy recording it
    without a scan (and the 10 MB/s goal), and ``verify`` of a 64 MiB cassette: time
    against 32 MiB (linear) and its peak RSS (bounded by the largest interaction)."""
    mib = 1024 * 1024
    size = 64 * 1024 if settings.quick else 8 * mib
    ours, peers = [], []
    for _ in range(1 if settings.quick else MIN_ROUNDS):
        first = _child(CHILD, "realistic", str(size))
        second = _child(PEER_CHILD, "realistic", str(size))
        if first is None or second is None:
            return [Row("cassette safety, realistic 8 MiB vs vcrpy", "s CPU", note="timed out")]
        ours.append(first["cpu"])
        peers.append(second["cpu"])
    rate = size / 1e6 / statistics.median(ours)
    vs_peer = compare(
        f"cassette safety, realistic {size // 1024:,} KiB: recording vs vcrpy (no scan)",
        "s CPU",
        ours,
        peers,
        note=f"ours {rate:.1f} MB/s (redaction + scan + YAML + write), vcrpy "
        f"{size / 1e6 / statistics.median(peers):.1f} MB/s",
    )
    goal = Row(
        f"cassette safety, realistic {size // 1024:,} KiB: MB/s vs the 10 MB/s goal",
        "MB/s",
        rate,
        10.0,
        ">= 1",
        ours_rounds=[size / 1e6 / t for t in ours],
        baseline_rounds=[10.0] * len(ours),
        absolute=True,
    )
    big = 256 * 1024 if settings.quick else 64 * mib - 4096
    half, full = _child(VERIFY_CHILD, str(big // 2)), _child(VERIFY_CHILD, str(big))
    if half is None or full is None:
        return [vs_peer, goal, Row("verify, 64 MiB cassette", "s CPU", note="timed out")]
    verify = Row(
        f"verify, {full['bytes'] / mib:.0f} MiB cassette: time vs {half['bytes'] / mib:.0f} MiB",
        "s CPU",
        full["cpu"],
        half["cpu"],
        "<= 2.2",
        note=f"peak RSS {full['peak_kib'] / 1024:.0f} MiB at {full['bytes'] / mib:.0f} MiB, "
        f"{half['peak_kib'] / 1024:.0f} MiB at {half['bytes'] / mib:.0f} MiB (the interpreter "
        f"and imports: {full['before_kib'] / 1024:.0f} MiB); one parse, streamed",
        absolute=True,
    )
    return [vs_peer, goal, verify]


def rows(settings: Settings) -> list[Row]:
    missing("yaml", "vcr", "pytest_relaytokens.cassettes")
    kib = 1024
    out = []
    for kind, sizes in SIZES_KIB.items():
        small, large = QUICK_KIB if settings.quick else sizes
        title = f"cassette safety, {kind}: time for {large:,} KiB vs {small:,} KiB"
        smalls: list[float] = []
        larges: list[float] = []
        findings = 0
        for _ in range(1 if settings.quick else MIN_ROUNDS):  # interleaved pairs
            first = measure(kind, small * kib)
            second = measure(kind, large * kib) if first is not None else None
            if first is None or second is None:
                size = small if first is None else large
                note = f"did not finish within {LIMIT_S:.0f} s at {size:,} KiB"
                out.append(Row(title, "s CPU", goal="<= 2.2", note=note))
                break
            smalls.append(first[0])
            larges.append(second[0])
            findings = max(findings, first[1], second[1])
        else:
            row = compare(title, "s CPU", larges, smalls, "<= 2.2", absolute=True)
            large_s, small_s = statistics.median(larges), statistics.median(smalls)
            row.note = (
                f"{large / 1024 / large_s:.2f} MB/s at {large:,} KiB, "
                f"{small / 1024 / small_s:.2f} MB/s at {small:,} KiB; "
                "a whole recording (record(mode='all'): the recorder's hooks and its persister's "
                "save, every redaction pass, YAML, the leak scan, the write)"
                + (f"; the scan refused it: {findings} finding(s)" if findings else "")
            )
            out.append(row)
    return out


def run(settings: Settings) -> list[Row]:
    return guarded("cassette safety", lambda: rows(settings) + gate_rows(settings))


BENCHMARK = Benchmark("cassette_safety", "cassette safety", run)
