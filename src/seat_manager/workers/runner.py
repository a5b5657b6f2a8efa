"""The loop around a cycle: sleep, stop signal, leadership, error handling, counts.

A cycle is one call a test can drive step by step (`run_cycle(now)`); this module owns
everything around it. A failing cycle is logged as `lifecycle watcher loop error`, its
cause is recorded for the health report, and the loop waits longer before the next try
(capped). Nothing here advances a cursor: a cycle that raised recorded nothing.
Errors listed as fatal (a reorg deeper than the window, say) stop the whole process
loudly instead of looping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from seat_manager.adapters.db.leader import LeaderLock
from seat_manager.adapters.db.uow import UnitOfWorkFactory

log = logging.getLogger("seat_manager.watch")

MAX_ERROR_DELAY_S = 60.0

Cycle = Callable[[datetime], Awaitable[object]]


class WatcherHalted(Exception):
    """A fatal cycle error stopped the process; the cause is chained."""


@dataclass
class PeriodicTask:
    """One named cycle run every `poll_s`, optionally only while holding `leader`."""

    name: str
    cycle: Cycle
    poll_s: float
    leader: LeaderLock | None = None
    fatal: tuple[type[BaseException], ...] = ()
    close: Callable[[], Awaitable[None]] | None = None
    """Releases what the cycle holds (HTTP clients) when the loop ends."""


async def sleep_until_stopped(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def record_error(
    uow_factory: UnitOfWorkFactory, name: str, exc: BaseException, now: datetime
) -> None:
    """Keep the last error per loop in watcher_state for `status` and the admin health."""
    message = f"{type(exc).__name__}: {exc}"[:2000]
    try:
        async with uow_factory() as uow:
            await uow.watcher_state.set(f"{name}_last_error", message, now)
            await uow.watcher_state.set(f"{name}_last_error_at", now.isoformat(), now)
            await uow.commit()
    except Exception:  # noqa: BLE001 - the store may be what failed; the log has it
        log.warning("could not record the %s error in watcher_state", name, exc_info=True)


async def run_periodic(
    task: PeriodicTask, stop: asyncio.Event, uow_factory: UnitOfWorkFactory
) -> None:
    failures = 0
    waiting_logged = False
    try:
        while not stop.is_set():
            now = datetime.now(UTC)
            if task.leader is not None and not await task.leader.acquire():
                if not waiting_logged:
                    log.info("%s: another process holds the watcher lock; standing by", task.name)
                    waiting_logged = True
                await sleep_until_stopped(stop, task.poll_s)
                continue
            waiting_logged = False
            try:
                await task.cycle(now)
            except task.fatal as exc:
                log.critical(
                    "lifecycle watcher halted (%s): %s: %s", task.name, type(exc).__name__, exc
                )
                await record_error(uow_factory, task.name, exc, now)
                raise WatcherHalted(f"{task.name}: {exc}") from exc
            except Exception as exc:  # noqa: BLE001 - every cycle failure is logged and retried
                failures += 1
                log.error(
                    "lifecycle watcher loop error (%s): %s: %s", task.name, type(exc).__name__, exc
                )
                await record_error(uow_factory, task.name, exc, now)
                delay = min(task.poll_s * 2 ** min(failures, 16), MAX_ERROR_DELAY_S)
                await sleep_until_stopped(stop, max(delay, task.poll_s))
                continue
            failures = 0
            await sleep_until_stopped(stop, task.poll_s)
    finally:
        if task.leader is not None:
            with contextlib.suppress(Exception):
                await task.leader.release()
        if task.close is not None:
            with contextlib.suppress(Exception):
                await task.close()
