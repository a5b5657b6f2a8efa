"""Engine construction for both drivers. Users give plain `postgresql://` URLs; the
async driver (asyncpg / aiosqlite) is chosen here and nowhere else."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from seat_manager.config import StoreConfig

SQLITE_BUSY_TIMEOUT_MS = 10_000


def async_url(store: StoreConfig) -> URL:
    if store.driver == "sqlite":
        return URL.create("sqlite+aiosqlite", database=str(store.sqlite_path))
    assert store.postgres_url is not None
    url = make_url(store.postgres_url.get_secret_value())
    return url.set(drivername="postgresql+asyncpg")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Python's sqlite3 opens transactions lazily; let SQLAlchemy's BEGIN drive them so
    # that `BEGIN IMMEDIATE` (used by the queue) really takes the write lock up front.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # NORMAL under WAL syncs the log at checkpoints, not at every commit: a committed
    # transaction survives a crash of the application (or of SQLite) as with FULL; only
    # the last transactions before a power loss or OS crash may be lost, and the
    # database stays consistent (no corruption). Every commit then costs no fsync.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # Every transaction takes the write lock up front: a deferred transaction that
    # read a stale WAL snapshot would fail on its first write instead of waiting, and
    # check-then-insert rules (one active seat per operator) need the serialisation.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(store: StoreConfig, *, echo: bool = False) -> AsyncEngine:
    """One engine per process, built by bootstrap; never at import time."""
    if store.driver == "sqlite":
        store.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(async_url(store), echo=echo)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    return create_async_engine(
        async_url(store),
        echo=echo,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        connect_args={"timeout": 10, "server_settings": {"application_name": "seat-manager"}},
    )
