"""The `seat-manager` command line. Each command group lives in `seat_manager.commands`.

A command module exposes `register(subparsers)`, which adds its sub-commands and sets
`handler` (a function taking the parsed namespace and returning an exit code) on each.
Configuration errors end the process with one `Fatal startup error:` line and exit 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from seat_manager.bootstrap import configure_logging
from seat_manager.commands import chain, deposits, dev, runtime, store
from seat_manager.domain.errors import ConfigurationError

COMMAND_MODULES = (runtime, store, chain, deposits, dev)

Handler = Callable[[argparse.Namespace], int]


def fatal(message: str) -> NoReturn:
    print(f"Fatal startup error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seat-manager",
        description="Validator seats, vaults, deposits and their lifecycle.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    configure_logging()
    try:
        return handler(args)
    except ConfigurationError as exc:
        fatal(exc.message)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
