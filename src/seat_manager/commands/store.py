"""`seat-manager migrate`: apply pending migrations, move to a revision, or check drift."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from seat_manager.adapters.db import migrator
from seat_manager.bootstrap import announce, open_store
from seat_manager.config import load_settings
from seat_manager.domain.errors import ConfigurationError


def register(sub: argparse._SubParsersAction[Any]) -> None:
    parser = sub.add_parser(
        "migrate",
        help="apply pending migrations (or --to REVISION, or --check for drift)",
        description="Stop the API and watchers before moving the schema down.",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--to", metavar="REVISION", help="move up or down to REVISION (`base` = empty schema)"
    )
    group.add_argument(
        "--check",
        action="store_true",
        help="compare the live schema, indexes included, with the models; exit 1 on drift",
    )
    parser.set_defaults(handler=lambda args: asyncio.run(run_migrate(args.to, args.check)))


async def run_migrate(target: str | None, check: bool) -> int:
    settings = load_settings()
    container = await open_store(settings)
    try:
        if check:
            problems = await migrator.drift(container.engine)
            if not problems:
                announce(f"Schema matches the models ({settings.store.display}).")
                return 0
            announce(f"Schema drift detected ({settings.store.display}):")
            for problem in problems:
                announce(f"  - {problem}")
            return 1
        try:
            steps = await migrator.migrate(container.engine, target or "head")
        except migrator.UnknownRevision as exc:
            raise ConfigurationError(
                f"{exc}; known revisions: {', '.join(migrator.linear_history())}, base"
            ) from None
        if not steps:
            announce("No pending migrations to apply.")
            return 0
        for step in steps:
            verb = "Applied" if step.direction == "upgrade" else "Reverted"
            announce(f"{verb} migration {step.revision}: {step.description}")
        state = await migrator.schema_state(container.engine)
        announce(f"Schema is now at {state.current or 'base'} (head {state.head}).")
        return 0
    finally:
        await container.close()
