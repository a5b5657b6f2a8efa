"""Test stores on both drivers: a fresh SQLite file, or a fresh PostgreSQL database.

PostgreSQL databases are created and dropped by the tests themselves, on the server at
SEAT_MANAGER_TEST_POSTGRES_URL. When that server does not answer, PostgreSQL tests
skip — unless SEAT_MANAGER_REQUIRE_POSTGRES=1 (CI), where they fail.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from functools import cache

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def admin_url() -> str:
    return os.environ.get("SEAT_MANAGER_TEST_POSTGRES_URL", DEFAULT_ADMIN_URL)


def database_url(name: str) -> str:
    return make_url(admin_url()).set(database=name).render_as_string(hide_password=False)


async def _execute(sql: str) -> None:
    conn = await asyncpg.connect(admin_url(), timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@cache
def postgres_problem() -> str | None:
    try:
        asyncio.run(_execute("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means the server is not usable
        return f"{type(exc).__name__}: {exc}"
    return None


def require_postgres() -> None:
    problem = postgres_problem()
    if problem is None:
        return
    message = f"PostgreSQL not reachable at SEAT_MANAGER_TEST_POSTGRES_URL: {problem}"
    if os.environ.get("SEAT_MANAGER_REQUIRE_POSTGRES") == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def create_database(template: str | None = None) -> str:
    name = f"sm_test_{uuid.uuid4().hex[:12]}"
    clause = f" TEMPLATE {template}" if template else ""
    asyncio.run(_execute(f"CREATE DATABASE {name}{clause}"))
    return name


def drop_database(name: str) -> None:
    asyncio.run(_execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


def head_revision() -> str:
    from seat_manager.adapters.db.migrator import script_directory

    head = script_directory().get_current_head()
    assert head is not None
    return head


def all_revisions() -> list[str]:
    from seat_manager.adapters.db.migrator import linear_history

    return linear_history()


def _async_url(env: dict[str, str]) -> str:
    if env["ONBOARDING_STORE_DRIVER"] == "sqlite":
        return "sqlite+aiosqlite:///" + env["ONBOARDING_SQLITE_PATH"]
    return env["ONBOARDING_POSTGRES_URL"].replace("postgresql://", "postgresql+asyncpg://", 1)


def execute_sql(env: dict[str, str], sql: str) -> None:
    async def go() -> None:
        engine = create_async_engine(_async_url(env))
        try:
            async with engine.begin() as conn:
                await conn.execute(text(sql))
        finally:
            await engine.dispose()

    asyncio.run(go())
