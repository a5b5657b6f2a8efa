"""Fixtures shared by the integration and migration tiers: fresh stores of both drivers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from seat_manager.adapters.db.engine import make_engine
from seat_manager.adapters.db.migrator import migrate
from seat_manager.adapters.db.uow import UnitOfWorkFactory
from seat_manager.config import load_settings
from tests.support.store import create_database, database_url, drop_database, require_postgres


@pytest.fixture(params=["sqlite", "postgres"])
def store_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment variables pointing at a fresh, empty store of each driver."""
    if request.param == "sqlite":
        yield {
            "ONBOARDING_STORE_DRIVER": "sqlite",
            "ONBOARDING_SQLITE_PATH": str(tmp_path / "store.sqlite3"),
        }
        return
    require_postgres()
    name = create_database()
    try:
        yield {"ONBOARDING_STORE_DRIVER": "postgres", "ONBOARDING_POSTGRES_URL": database_url(name)}
    finally:
        drop_database(name)


@pytest.fixture
def pg_env() -> Iterator[dict[str, str]]:
    require_postgres()
    name = create_database()
    try:
        yield {"ONBOARDING_STORE_DRIVER": "postgres", "ONBOARDING_POSTGRES_URL": database_url(name)}
    finally:
        drop_database(name)


@pytest.fixture
async def uow_factory(store_env: dict[str, str]) -> AsyncIterator[UnitOfWorkFactory]:
    """Units of work on a fresh, migrated store of each driver."""
    engine = make_engine(load_settings(store_env, env_file=None).store)
    await migrate(engine)
    try:
        yield UnitOfWorkFactory(engine)
    finally:
        await engine.dispose()
