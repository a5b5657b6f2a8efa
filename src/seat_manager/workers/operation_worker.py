"""The operation worker: claim operations, execute them under kept-alive leases, finish.

`run_once(now)` is the whole cycle for one operation, so tests drive it step by step.
`run_cycle(now)` is what the periodic runner calls: it claims up to `concurrency`
operations at a time, executes them side by side (an operation waiting for a receipt
does not hold up the others) and records the batch's results in one transaction,
until nothing is due (bounded per cycle, so a stop signal is seen).

While an executor works, a heartbeat task extends its lease every third of the lease
length. If a heartbeat finds the lease gone (this worker stalled and another one took
the operation over), the execution is cancelled and nothing is written: the new owner
carries on from what was committed (a signed transaction is re-broadcast, never
re-signed). Every write is guarded by the lease, so a stale worker changes nothing.
How results become statuses is in `operation_results.py`.

When the stop event is set, executions in progress are cancelled and their leases
released (queued again at once, the attempt given back).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from seat_manager.adapters.chain.executor import (
    DEFAULT_LEASE_S,
    Abandoned,
    ExecutionResult,
    Executor,
    Retry,
    Wait,
    utc_now,
)
from seat_manager.adapters.db import queue
from seat_manager.adapters.db.queue import ClaimedOperation
from seat_manager.adapters.db.uow import UnitOfWorkFactory
from seat_manager.domain.operations import DEFAULT_MAX_ATTEMPTS
from seat_manager.domain.seats import Actor, ActorKind
from seat_manager.workers.operation_results import Outcome, ResultRecorder

__all__ = ["LocalCounts", "OperationWorker", "Outcome", "new_worker_id"]

log = logging.getLogger("seat_manager.worker")

MAX_OPERATIONS_PER_CYCLE = 200
EXPIRED_LEASES_EVERY_S = 5.0
"""How often a busy worker looks for expired leases before new work (see queue.claim)."""
DEFAULT_CONCURRENCY = 16
WORKER_ERROR = "WORKER_ERROR"


class Counts(Protocol):
    processed: int
    succeeded: int
    failed: int
    requeued: int


@dataclass
class LocalCounts:
    processed: int = 0
    succeeded: int = 0
    failed: int = 0
    requeued: int = 0


def new_worker_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{os.urandom(4).hex()}"


class OperationWorker:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        executor: Executor,
        *,
        worker_id: str | None = None,
        lease_s: float = DEFAULT_LEASE_S,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        concurrency: int = DEFAULT_CONCURRENCY,
        counts: Counts | None = None,
        clock: Callable[[], datetime] = utc_now,
        jitter: Callable[[], float] = random.random,
        stop: asyncio.Event | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._uow = uow
        self._executor = executor
        self.worker_id = worker_id or new_worker_id()
        self._lease_s = lease_s
        self._concurrency = concurrency
        self.counts: Counts = counts if counts is not None else LocalCounts()
        self._clock = clock
        self._stop = stop
        self._expired_checked_at: datetime | None = None
        self._recorder = ResultRecorder(
            Actor(ActorKind.SYSTEM, self.worker_id), max_attempts=max_attempts, jitter=jitter
        )

    def _stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    async def run_cycle(self, now: datetime) -> int:
        """Process due operations, `concurrency` at a time, until none is left (at most
        MAX_OPERATIONS_PER_CYCLE); returns how many were processed."""
        done = 0
        while done < MAX_OPERATIONS_PER_CYCLE and not self._stopping():
            outcomes = await self.run_batch(now if done == 0 else self._clock(), self._concurrency)
            if not outcomes:
                break
            done += len(outcomes)
        return done

    async def run_once(self, now: datetime) -> Outcome | None:
        """Claim the next due operation, execute it, record the result; None if idle."""
        outcomes = await self.run_batch(now, 1)
        return outcomes[0] if outcomes else None

    async def run_batch(self, now: datetime, limit: int) -> list[Outcome]:
        """Claim up to `limit` operations, execute them side by side, record the results."""
        checked = self._expired_checked_at
        expired_first = checked is None or (now - checked).total_seconds() >= EXPIRED_LEASES_EVERY_S
        if expired_first:
            self._expired_checked_at = now
        async with self._uow() as uow:
            ops = await queue.claim(
                uow.session,
                self.worker_id,
                now,
                self._lease_s,
                limit,
                expired_first=expired_first,
            )
            await uow.commit()
        for op in ops:
            log.info(
                "operation %s %s claimed (seat %s, attempt %d)",
                op.operation_id,
                op.kind,
                op.seat_id,
                op.attempts,
            )
        if not ops:
            return []
        results = await self._execute_all(ops)
        async with self._uow() as uow:
            outcomes = await self._recorder.record(
                uow.session, list(zip(ops, results, strict=True)), self._clock()
            )
            await uow.commit()
        for outcome in outcomes:
            self._count(outcome)
        return outcomes

    def _count(self, outcome: Outcome) -> None:
        self.counts.processed += 1
        if outcome.result in ("succeeded", "failed", "requeued"):
            setattr(self.counts, outcome.result, getattr(self.counts, outcome.result) + 1)
        level = logging.WARNING if outcome.result == "abandoned" else logging.INFO
        log.log(
            level,
            "operation %s %s %s%s",
            outcome.operation_id,
            outcome.kind,
            outcome.result,
            f" {outcome.code}: {outcome.message}" if outcome.code or outcome.message else "",
        )

    # ---- execution under leases ----------------------------------------------------------

    async def _execute_all(self, ops: list[ClaimedOperation]) -> list[ExecutionResult]:
        """Run the executions side by side under one heartbeat; on stop, cancel them."""
        works: dict[str, asyncio.Task[ExecutionResult]] = {
            op.operation_id: asyncio.create_task(self._executor.execute(op)) for op in ops
        }
        lost: set[str] = set()
        beat = asyncio.create_task(self._heartbeat(works, lost))
        stopping = asyncio.create_task(self._stop.wait()) if self._stop is not None else None
        try:
            pending: set[asyncio.Future[Any]] = set(works.values())
            while pending:
                waiting = pending | ({stopping} if stopping is not None else set())
                done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if stopping is not None and stopping in done:
                    for task in pending:
                        task.cancel()
                    await asyncio.gather(*pending, return_exceptions=True)
                    break
                pending -= done
        finally:
            beat.cancel()
            if stopping is not None:
                stopping.cancel()
            await asyncio.gather(beat, *([stopping] if stopping else []), return_exceptions=True)
        return [self._result_of(op, works[op.operation_id], lost) for op in ops]

    def _result_of(
        self, op: ClaimedOperation, work: asyncio.Task[ExecutionResult], lost: set[str]
    ) -> ExecutionResult:
        if work.cancelled():
            if op.operation_id in lost:
                return Abandoned("the lease was lost while executing")
            return Wait("WORKER_STOPPED", "the worker stopped; lease released", 0.0)
        exc = work.exception()
        if exc is None:
            return work.result()
        log.error(
            "operation %s %s: executor raised %s: %s",
            op.operation_id,
            op.kind,
            type(exc).__name__,
            exc,
            exc_info=exc,
        )
        return Retry(str(getattr(exc, "code", WORKER_ERROR)), f"{type(exc).__name__}: {exc}")

    async def _heartbeat(
        self, works: dict[str, asyncio.Task[ExecutionResult]], lost: set[str]
    ) -> None:
        """Every third of the lease, extend the leases of executions still running; an
        execution whose lease is gone is cancelled (another worker owns it now)."""
        while True:
            await asyncio.sleep(self._lease_s / 3)
            running = [op_id for op_id, task in works.items() if not task.done()]
            try:
                async with self._uow() as uow:
                    held = await queue.heartbeat_many(
                        uow.session, running, self.worker_id, self._clock(), self._lease_s
                    )
                    await uow.commit()
            except Exception:  # noqa: BLE001 - a missed beat is retried; the lease has slack
                log.warning("heartbeat for %d operation(s) failed", len(running), exc_info=True)
                continue
            for op_id in running:
                if op_id not in held and not works[op_id].done():
                    log.warning("lease on %s lost to another worker", op_id)
                    lost.add(op_id)
                    works[op_id].cancel()
