"""The loop around a cycle: errors are logged and recorded, fatal ones halt, leadership."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from seat_manager.adapters.db.engine import make_engine
from seat_manager.adapters.db.leader import FileLeaderLock, PostgresLeaderLock
from seat_manager.adapters.db.uow import UnitOfWorkFactory
from seat_manager.config import load_settings
from seat_manager.services.health import watcher_health
from seat_manager.workers.runner import PeriodicTask, WatcherHalted, run_periodic


class Flaky:
    """Fails the first `failures` cycles, then stops the loop."""

    def __init__(self, failures: int, stop: asyncio.Event) -> None:
        self.failures = failures
        self.calls = 0
        self.stop = stop

    async def __call__(self, now: datetime) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError(f"node unreachable #{self.calls}")
        self.stop.set()


async def test_failing_cycles_are_logged_recorded_and_retried(
    uow_factory: UnitOfWorkFactory, store_env: dict[str, str], caplog: pytest.LogCaptureFixture
):
    stop = asyncio.Event()
    cycle = Flaky(2, stop)
    with caplog.at_level(logging.ERROR, logger="seat_manager.watch"):
        await asyncio.wait_for(
            run_periodic(PeriodicTask("el", cycle, poll_s=0.001), stop, uow_factory), timeout=10
        )
    assert cycle.calls == 3
    errors = [r.getMessage() for r in caplog.records if "lifecycle watcher loop error" in r.message]
    assert len(errors) == 2
    assert "node unreachable #2" in errors[-1]
    settings = load_settings(store_env, env_file=None)
    async with uow_factory() as uow:
        health = await watcher_health(uow, settings)
    assert health.last_error == "el: ConnectionError: node unreachable #2"
    assert health.last_error_at is not None


async def test_a_fatal_error_halts_the_loop(uow_factory: UnitOfWorkFactory):
    class Deep(Exception):
        pass

    async def cycle(now: datetime) -> None:
        raise Deep("reorg deeper than the window")

    with pytest.raises(WatcherHalted, match="reorg deeper"):
        await asyncio.wait_for(
            run_periodic(
                PeriodicTask("el", cycle, poll_s=0.001, fatal=(Deep,)), asyncio.Event(), uow_factory
            ),
            timeout=10,
        )


async def test_a_process_without_the_leader_lock_does_not_run_the_cycle(
    uow_factory: UnitOfWorkFactory, tmp_path: Path
):
    holder = FileLeaderLock(tmp_path / "watch.lock")
    assert await holder.acquire()
    stop = asyncio.Event()
    calls = 0

    async def cycle(now: datetime) -> None:
        nonlocal calls
        calls += 1
        stop.set()

    standby = PeriodicTask("el", cycle, poll_s=0.01, leader=FileLeaderLock(tmp_path / "watch.lock"))
    loop = asyncio.create_task(run_periodic(standby, stop, uow_factory))
    await asyncio.sleep(0.2)
    assert calls == 0
    await holder.release()  # the holder goes away: the standby takes over
    await asyncio.wait_for(loop, timeout=10)
    assert calls == 1


async def test_postgres_leader_lock_is_exclusive_and_passes_on_when_the_holder_dies(
    pg_env: dict[str, str],
):
    engine_a = make_engine(load_settings(pg_env, env_file=None).store)
    engine_b = make_engine(load_settings(pg_env, env_file=None).store)
    try:
        a, b = PostgresLeaderLock(engine_a), PostgresLeaderLock(engine_b)
        assert await a.acquire()
        assert await a.acquire()  # still held by its holder
        assert not await b.acquire()
        async with engine_b.connect() as conn:  # the holder's session dies
            # (only sessions of this test's database; waiting until they are gone, so
            # their locks are released before b asks again)
            ended = await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid, 10000) FROM pg_locks"
                    " WHERE locktype = 'advisory' AND granted AND database ="
                    " (SELECT oid FROM pg_database WHERE datname = current_database())"
                )
            )
            assert ended.scalars().all() == [True]
        assert await b.acquire()
        assert not await a.acquire()  # notices its lost connection, cannot take it back
        await b.release()
        assert await a.acquire()
        await a.release()
    finally:
        await engine_a.dispose()
        await engine_b.dispose()
