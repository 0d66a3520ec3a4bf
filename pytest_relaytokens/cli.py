"""The ``relaytokens`` command: ``serve`` (the loopback fakes), ``admin`` (the control plane of
a running serve), ``verify`` (cassettes), ``drift`` (a cassette against the live API) and
``record-library`` (the shipped cassettes)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__, admin, library
from .cassettes import verify
from .transports import serve


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="relaytokens", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve.add_arguments(sub.add_parser("serve", help="run the UCWA and Relay fakes on 127.0.0.1"))
    admin.add_arguments(
        sub.add_parser("admin", help="control a running serve: clock, errors, routes, reset")
    )
    verify.add_arguments(sub.add_parser("verify", help="check cassettes: schema, secrets, format"))
    library.add_arguments(
        sub.add_parser("record-library", help="re-record the shipped cassette library")
    )
    _drift_arguments(
        sub.add_parser("drift", help="resend a cassette's requests to the live API: what changed")
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve.run(args)
    if args.command == "admin":
        return admin.run(args)
    if args.command == "record-library":
        return library.run(args)
    if args.command == "drift":
        return _drift(args)
    return verify.run(args)


# --- drift (docs/cassettes.md, Replay) -------------------------------------------------------
def _drift_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("cassette", help="the cassette whose requests are resent")
    parser.add_argument(
        "--base-url",
        help="the live server (default: RELAYTOKENS_UCWA_URL or RELAYTOKENS_RELAY_URL)",
    )
    parser.add_argument(
        "--api",
        choices=("ucwa", "relay"),
        help="whose credentials (RELAYTOKENS_<API>_USERNAME/_PASSWORD) stand in for the "
        "recorded placeholders (default: relay when the cassette has /api/ paths)",
    )


def _drift(args: argparse.Namespace) -> int:
    """Exit 0: no drift; 1: drift (listed); 2: the cassette or the live settings are wrong."""
    import os
    from pathlib import Path

    from .cassettes.drift import LiveLogin, drift, render_report
    from .cassettes.storage import load_interactions
    from .clock import Clock
    from .errors import RelayTokensError
    from .pytest_plugin.backends import (
        ENVIRONMENT,
        LiveCredentials,
        LiveService,
        live_credentials,
    )

    cassette = Path(args.cassette)
    try:
        uris = [str(request["uri"]) for request, _ in load_interactions(cassette).interactions]
        api = args.api or ("relay" if any("/api/" in u for u in uris) else "ucwa")
        names = ENVIRONMENT[api]
        if args.base_url:
            missing = [names[k] for k in ("username", "password") if not os.environ.get(names[k])]
            if missing:
                raise RelayTokensError(f"drift: set {', '.join(missing)} (the live credentials)")
            base_url = args.base_url.rstrip("/")
            user, password = os.environ[names["username"]], os.environ[names["password"]]
        else:
            base_url, credentials = live_credentials(api)
            user, password = credentials.username, credentials.password
        service = LiveService(api, base_url, LiveCredentials(user, password), Clock())
        login = LiveLogin(user, password, service.credentials.basic_authorization)
        report = drift(cassette, base_url, login, lambda r: service.dispatch(r)[0])
    except (RelayTokensError, OSError) as error:
        print(f"relaytokens drift: {error}", file=sys.stderr)
        return 2
    print(render_report(cassette, base_url, report), end="")
    return 1 if any(d.drifted for d in report) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
