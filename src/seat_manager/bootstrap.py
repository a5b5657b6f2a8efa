"""Builds what a process needs from Settings, in one place, and never at import time."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from seat_manager.adapters.db import migrator
from seat_manager.adapters.db.engine import make_engine
from seat_manager.adapters.db.uow import UnitOfWorkFactory
from seat_manager.config import RuntimeConfig, Settings, StoreConfig
from seat_manager.domain.errors import ConfigurationError

BOOTSTRAP_PREFIX = "[seat-manager-v2]"


def configure_logging() -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)


def announce(line: str) -> None:
    """The lines operators' scripts match on go to stdout, flushed at once."""
    print(line, flush=True)


def bootstrap_line(command: str, runtime: RuntimeConfig, settings: Settings) -> str:
    return (
        f"{BOOTSTRAP_PREFIX} bootstrap command={command} chainId={runtime.chain_id}"
        f" mode={settings.operation_mode}"
    )


class StoreUnavailable(ConfigurationError):
    default_code = "STORE_UNAVAILABLE"


class SchemaNotCurrent(ConfigurationError):
    default_code = "SCHEMA_NOT_CURRENT"


@dataclass
class Container:
    settings: Settings
    engine: AsyncEngine
    uow: UnitOfWorkFactory
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    async def close(self) -> None:
        await self.engine.dispose()


async def check_reachable(engine: AsyncEngine, store: StoreConfig) -> None:
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to connect is reported the same way
        reason = str(exc.__cause__ or exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StoreUnavailable(
            f"cannot reach the {store.driver} store at {store.display}: {reason}."
            " Check ONBOARDING_POSTGRES_URL / ONBOARDING_SQLITE_PATH"
            + (" and that `seat-manager migrate` ran" if store.driver == "postgres" else "")
        ) from None


async def open_store(settings: Settings) -> Container:
    """Connect to the store and fail fast, with one clear message, when it can't."""
    store = settings.store
    engine = make_engine(store)
    try:
        await check_reachable(engine, store)
    except BaseException:
        await engine.dispose()
        raise
    return Container(settings=settings, engine=engine, uow=UnitOfWorkFactory(engine))


async def ensure_schema(container: Container) -> None:
    """SQLite (the embedded default) migrates itself; PostgreSQL must be migrated on
    purpose, by `seat-manager migrate`, before any process serves traffic."""
    state = await migrator.schema_state(container.engine)
    if state.is_current:
        return
    if container.settings.store_driver == "sqlite":
        for step in await migrator.migrate(container.engine):
            logging.getLogger("seat_manager.migrate").info(
                "applied migration %s (%s)", step.revision, step.description
            )
        return
    raise SchemaNotCurrent(
        f"the postgres store has pending migrations ({', '.join(state.pending)});"
        " run `seat-manager migrate` before starting"
    )
