"""The ``relaytokens`` command: ``serve`` (the loopback fakes), ``verify`` (cassettes) and
``record-library`` (the shipped cassettes)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="relaytokens", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    from .transports import serve

    serve.add_arguments(sub.add_parser("serve", help="run the UCWA and Relay fakes on 127.0.0.1"))
    from .cassettes import verify

    verify.add_arguments(sub.add_parser("verify", help="check cassettes: schema, secrets, format"))
    from . import library

    library.add_arguments(
        sub.add_parser("record-library", help="re-record the shipped cassette library")
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        from .transports import serve

        return serve.run(args)
    if args.command == "record-library":
        from . import library

        return library.run(args)
    from .cassettes import verify

    return verify.run(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
