"""Only one watcher scans at a time.

PostgreSQL: a session-level advisory lock held on a dedicated connection. When the
holder dies its connection closes and the lock is free for the next process, which
tries again every cycle. SQLite (one machine by definition): an exclusive `flock` on a
file beside the database, released by the kernel when the holder dies.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from pathlib import Path
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from seat_manager.config import StoreConfig

log = logging.getLogger("seat_manager.leader")

WATCHER_LOCK_KEY = 0x5EA7_0002


class LeaderLock(Protocol):
    async def acquire(self) -> bool:
        """True while this process holds the lock (taking it if it is free)."""

    async def release(self) -> None: ...


class PostgresLeaderLock:
    def __init__(self, engine: AsyncEngine, key: int = WATCHER_LOCK_KEY) -> None:
        self._engine = engine
        self._key = key
        self._conn: AsyncConnection | None = None
        self._guard = asyncio.Lock()  # several loops of one process share the connection

    async def acquire(self) -> bool:
        async with self._guard:
            return await self._acquire()

    async def _acquire(self) -> bool:
        if self._conn is not None:
            try:  # still ours only while our connection is alive
                await self._conn.execute(text("SELECT 1"))
                return True
            except Exception:  # noqa: BLE001 - a dead connection means the lock is gone
                log.warning("lost the watcher leader connection; trying to take the lock again")
                await self._discard()
        conn = await self._engine.connect()
        try:
            got = (
                await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key})
            ).scalar_one()
            await conn.commit()
        except BaseException:
            await conn.close()
            raise
        if not got:
            await conn.close()
            return False
        self._conn = conn
        return True

    async def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.invalidate()
            except Exception:  # noqa: BLE001 - closing a broken connection may fail too
                log.debug("could not invalidate the old leader connection", exc_info=True)

    async def release(self) -> None:
        async with self._guard:
            await self._release()

    async def _release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
            await conn.commit()
        finally:
            await conn.close()


class FileLeaderLock:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    async def acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    async def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def leader_lock(store: StoreConfig, engine: AsyncEngine) -> LeaderLock:
    if store.driver == "postgres":
        return PostgresLeaderLock(engine)
    return FileLeaderLock(store.sqlite_path.with_name(store.sqlite_path.name + ".watch.lock"))
