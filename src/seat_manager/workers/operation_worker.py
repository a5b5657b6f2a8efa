"""The operation worker: claim one operation, execute it under a kept-alive lease, finish.

`run_once(now)` is the whole cycle for one operation, so tests drive it step by step;
`run_cycle(now)` repeats it until the queue has nothing due (bounded per cycle, so a
stop signal is seen) and is what the periodic runner calls.

While the executor works, a heartbeat task extends the lease every third of its
length. If a heartbeat finds the lease gone (this worker stalled and another one took
the operation over), the execution is cancelled and nothing is written: the new owner
carries on from what was committed (a signed transaction is re-broadcast, never
re-signed). Every finish is guarded by the lease, so a stale worker changes nothing.

Decisions on results go through the domain status machine (`domain.operations`):
Succeeded → succeeded with evidence; Failed → failed with code and message; Retry →
`decide_after_error` (jittered capped backoff, failed after `max_attempts`); Wait →
queued again after the delay without spending an attempt. One exception to
`max_attempts`: an operation that has a signed transaction is never failed by the
attempt budget, since its nonce must still be mined (a given-up nonce would block
every later transaction of the signer); it keeps being requeued with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from seat_manager.adapters.chain.executor import (
    DEFAULT_LEASE_S,
    Abandoned,
    ExecutionResult,
    Executor,
    Failed,
    Proposed,
    Retry,
    Succeeded,
    Wait,
    utc_now,
)
from seat_manager.adapters.db import queue
from seat_manager.adapters.db.queue import ClaimedOperation
from seat_manager.adapters.db.uow import UnitOfWorkFactory
from seat_manager.domain import operations as domain
from seat_manager.domain.operations import DEFAULT_MAX_ATTEMPTS, OperationStatus
from seat_manager.domain.seats import Actor, ActorKind

log = logging.getLogger("seat_manager.worker")

MAX_OPERATIONS_PER_CYCLE = 50
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


@dataclass(frozen=True)
class Outcome:
    """What one cycle did: `result` is succeeded, failed, requeued, proposed or abandoned."""

    operation_id: str
    kind: str
    result: str
    code: str | None = None
    message: str | None = None


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
        counts: Counts | None = None,
        clock: Callable[[], datetime] = utc_now,
        jitter: Callable[[], float] = random.random,
        stop: asyncio.Event | None = None,
    ) -> None:
        self._uow = uow
        self._executor = executor
        self.worker_id = worker_id or new_worker_id()
        self._actor = Actor(ActorKind.SYSTEM, self.worker_id)
        self._lease_s = lease_s
        self._max_attempts = max_attempts
        self.counts: Counts = counts if counts is not None else LocalCounts()
        self._clock = clock
        self._jitter = jitter
        self._stop = stop

    async def run_cycle(self, now: datetime) -> int:
        """Process operations until none is due (at most MAX_OPERATIONS_PER_CYCLE)."""
        done = 0
        while done < MAX_OPERATIONS_PER_CYCLE and not (self._stop and self._stop.is_set()):
            if await self.run_once(now if done == 0 else self._clock()) is None:
                break
            done += 1
        return done

    async def run_once(self, now: datetime) -> Outcome | None:
        """Claim the next due operation, execute it, record the result; None if idle."""
        async with self._uow() as uow:
            op = await queue.claim_next(uow.session, self.worker_id, now, self._lease_s)
            await uow.commit()
        if op is None:
            return None
        log.info(
            "operation %s %s claimed (seat %s, attempt %d)",
            op.operation_id,
            op.kind,
            op.seat_id,
            op.attempts,
        )
        result = await self._execute(op)
        outcome = await self._finish(op, result)
        self.counts.processed += 1
        if outcome.result in ("succeeded", "failed", "requeued"):
            setattr(self.counts, outcome.result, getattr(self.counts, outcome.result) + 1)
        log.info(
            "operation %s %s %s%s",
            op.operation_id,
            op.kind,
            outcome.result,
            f" {outcome.code}: {outcome.message}" if outcome.code else "",
        )
        return outcome

    # ---- execution under a lease ---------------------------------------------------------

    async def _execute(self, op: ClaimedOperation) -> ExecutionResult:
        lost = asyncio.Event()
        beat = asyncio.create_task(self._heartbeat(op, lost))
        work = asyncio.create_task(self._executor.execute(op))
        watchers = [asyncio.create_task(lost.wait())]
        if self._stop is not None:
            watchers.append(asyncio.create_task(self._stop.wait()))
        try:
            await asyncio.wait([work, *watchers], return_when=asyncio.FIRST_COMPLETED)
            if work.done():
                return self._result_of(op, work)
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await work
            if lost.is_set():
                return Abandoned("the lease was lost while executing")
            return Wait("WORKER_STOPPED", "the worker stopped; lease released", 0.0)
        finally:
            for task in (beat, *watchers):
                task.cancel()
            await asyncio.gather(beat, *watchers, return_exceptions=True)

    @staticmethod
    def _result_of(op: ClaimedOperation, work: asyncio.Task[ExecutionResult]) -> ExecutionResult:
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

    async def _heartbeat(self, op: ClaimedOperation, lost: asyncio.Event) -> None:
        while True:
            await asyncio.sleep(self._lease_s / 3)
            try:
                async with self._uow() as uow:
                    held = await queue.heartbeat(
                        uow.session, op.operation_id, self.worker_id, self._clock(), self._lease_s
                    )
                    await uow.commit()
            except Exception:  # noqa: BLE001 - a missed beat is retried; the lease has slack
                log.warning("heartbeat for %s failed", op.operation_id, exc_info=True)
                continue
            if not held:
                log.warning("lease on %s lost to another worker", op.operation_id)
                lost.set()
                return

    # ---- finishing -----------------------------------------------------------------------

    async def _finish(self, op: ClaimedOperation, result: ExecutionResult) -> Outcome:
        if isinstance(result, Abandoned):
            log.warning("operation %s abandoned: %s", op.operation_id, result.reason)
            return Outcome(op.operation_id, op.kind, "abandoned", None, result.reason)
        now = self._clock()
        async with self._uow() as uow:
            outcome, changed = await self._record(uow.session, op, result, now)
            if not changed:
                log.warning(
                    "operation %s: lease lost before finishing; result %s dropped",
                    op.operation_id,
                    outcome.result,
                )
                return Outcome(op.operation_id, op.kind, "abandoned", outcome.code, outcome.message)
            await uow.commit()
        return outcome

    async def _record(
        self, session: Any, op: ClaimedOperation, result: ExecutionResult, now: datetime
    ) -> tuple[Outcome, bool]:
        current = op.to_domain()
        if isinstance(result, Succeeded):
            domain.succeed(current, actor=self._actor, evidence=result.evidence, now=now)
            changed = await self._move(session, op, OperationStatus.SUCCEEDED, now)
            self._audit(session, op, "succeeded", now, data=result.evidence)
            return Outcome(op.operation_id, op.kind, "succeeded"), changed
        if isinstance(result, Proposed):
            domain.propose(current, actor=self._actor, evidence=result.proposal, now=now)
            changed = await self._move(
                session, op, OperationStatus.PROPOSED, now, proposal=result.proposal
            )
            self._audit(session, op, "proposed", now, data=result.proposal)
            return Outcome(op.operation_id, op.kind, "proposed"), changed
        if isinstance(result, Failed):
            return await self._fail(session, op, result.code, result.message, now, result.evidence)
        if isinstance(result, Wait):
            at = now + timedelta(seconds=result.delay_s)
            domain.requeue(current, actor=self._actor, at=at, now=now)
            changed = await self._move(
                session,
                op,
                OperationStatus.QUEUED,
                now,
                error=(result.code, result.message),
                available_at=at,
                refund_attempt=True,
            )
            return Outcome(
                op.operation_id, op.kind, "requeued", result.code, result.message
            ), changed
        assert isinstance(result, Retry)
        decision = domain.decide_after_error(
            current,
            retryable=True,
            error_code=result.code,
            error_message=result.message,
            max_attempts=self._max_attempts,
            now=now,
            jitter=self._jitter(),
        )
        if isinstance(decision, domain.Fail) and await queue.has_transaction(
            session, op.operation_id
        ):
            at = domain.next_attempt_at(op.attempts, now, jitter=self._jitter())
            decision = domain.Requeue(
                at,
                result.code,
                f"{result.message} (a signed transaction is outstanding: its nonce must be"
                " mined, so the operation is not failed)",
            )
        if isinstance(decision, domain.Fail):
            return await self._fail(session, op, decision.error_code, decision.error_message, now)
        domain.apply_error_decision(current, decision, actor=self._actor, now=now)
        changed = await self._move(
            session,
            op,
            OperationStatus.QUEUED,
            now,
            error=(decision.error_code, decision.error_message),
            available_at=decision.at,
        )
        self._audit(
            session,
            op,
            "requeued",
            now,
            reason_code=decision.error_code,
            note=decision.error_message,
            data={"available_at": decision.at.isoformat(), "attempts": op.attempts},
        )
        return Outcome(
            op.operation_id, op.kind, "requeued", decision.error_code, decision.error_message
        ), changed

    async def _fail(
        self,
        session: Any,
        op: ClaimedOperation,
        code: str,
        message: str,
        now: datetime,
        evidence: dict[str, Any] | None = None,
    ) -> tuple[Outcome, bool]:
        domain.fail(
            op.to_domain(),
            actor=self._actor,
            error_code=code,
            error_message=message,
            now=now,
            evidence=evidence,
        )
        changed = await self._move(session, op, OperationStatus.FAILED, now, error=(code, message))
        self._audit(session, op, "failed", now, reason_code=code, note=message, data=evidence)
        return Outcome(op.operation_id, op.kind, "failed", code, message), changed

    async def _move(
        self,
        session: Any,
        op: ClaimedOperation,
        status: OperationStatus,
        now: datetime,
        *,
        error: tuple[str | None, str | None] = (None, None),
        available_at: datetime | None = None,
        refund_attempt: bool = False,
        proposal: dict[str, Any] | None = None,
    ) -> bool:
        return await queue.finish(
            session,
            op.operation_id,
            self.worker_id,
            status=status,
            now=now,
            error_code=error[0],
            error_message=error[1],
            available_at=available_at,
            refund_attempt=refund_attempt,
            proposal=proposal,
        )

    def _audit(
        self,
        session: Any,
        op: ClaimedOperation,
        what: str,
        now: datetime,
        *,
        reason_code: str | None = None,
        note: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        queue.record_audit(
            session,
            f"operation.{what}",
            actor=str(self._actor),
            operation_id=op.operation_id,
            now=now,
            reason_code=reason_code,
            note=note,
            data={"seat_id": op.seat_id, "kind": op.kind.value, **(data or {})},
        )
