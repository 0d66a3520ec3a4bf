"""The ``relaytokens`` command: ``serve`` (the loopback fakes), ``admin`` (the control plane of
a running serve), ``verify`` (cassettes) and ``record-library`` (the shipped cassettes)."""

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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve.run(args)
    if args.command == "admin":
        return admin.run(args)
    if args.command == "record-library":
        return library.run(args)
    return verify.run(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
