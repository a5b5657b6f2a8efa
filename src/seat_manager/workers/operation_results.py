"""Recording what executors said about a batch of operations, in one store transaction.

Decisions go through the domain status machine (`domain.operations`):

    Succeeded  → succeeded (evidence in the audit trail)
    Proposed   → proposed, with the proposal on the row
    Failed     → failed with its code and message
    Retry      → `decide_after_error`: requeued after jittered capped backoff, or
                 failed once `max_attempts` is spent
    Wait       → queued again after its delay; the attempt is given back
    Abandoned  → nothing (the lease went to another worker)

One exception to `max_attempts`: an operation that has a signed transaction is never
failed by the attempt budget, since its nonce must still be mined (a given-up nonce
would block every later transaction of the signer); it keeps being requeued.

Every change is guarded by the lease; an operation whose lease was lost meanwhile is
left alone and reported `abandoned`. Successes, the common case, are written with one
statement for the whole batch, and all audit rows with one executemany.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from seat_manager.adapters.chain.results import (
    Abandoned,
    ExecutionResult,
    Failed,
    Proposed,
    Retry,
    Succeeded,
    Wait,
)
from seat_manager.adapters.db import queue
from seat_manager.adapters.db.queue import ClaimedOperation
from seat_manager.domain import operations as domain
from seat_manager.domain.operations import OperationStatus
from seat_manager.domain.seats import Actor


@dataclass(frozen=True)
class Outcome:
    """What became of one operation: succeeded, failed, requeued, proposed or abandoned."""

    operation_id: str
    kind: str
    result: str
    code: str | None = None
    message: str | None = None


class ResultRecorder:
    def __init__(self, actor: Actor, *, max_attempts: int, jitter: Callable[[], float]) -> None:
        self._actor = actor
        self._worker_id = actor.id
        self._max_attempts = max_attempts
        self._jitter = jitter

    async def record(
        self,
        session: AsyncSession,
        done: list[tuple[ClaimedOperation, ExecutionResult]],
        now: datetime,
    ) -> list[Outcome]:
        """Persist every result (the caller commits); outcomes in the order given."""
        audits: list[dict[str, Any]] = []
        outcomes: dict[str, Outcome] = {}
        successes = [(op, r) for op, r in done if isinstance(r, Succeeded)]
        for op, success in successes:
            domain.succeed(op.to_domain(), actor=self._actor, evidence=success.evidence, now=now)
        changed = await queue.finish_succeeded(
            session, [op.operation_id for op, _ in successes], self._worker_id, now
        )
        for op, success in successes:
            if op.operation_id in changed:
                outcomes[op.operation_id] = Outcome(op.operation_id, op.kind, "succeeded")
                audits.append(self._audit(op, "succeeded", now, data=success.evidence))
        for op, result in done:
            if isinstance(result, Succeeded | Abandoned):
                continue
            outcome, moved, audit = await self._one(session, op, result, now)
            if moved:
                outcomes[op.operation_id] = outcome
                if audit is not None:
                    audits.append(audit)
        await queue.append_audits(session, audits)
        return [outcomes.get(op.operation_id) or _abandoned(op, result) for op, result in done]

    async def _one(
        self, session: AsyncSession, op: ClaimedOperation, result: ExecutionResult, now: datetime
    ) -> tuple[Outcome, bool, dict[str, Any] | None]:
        current = op.to_domain()
        if isinstance(result, Proposed):
            domain.propose(current, actor=self._actor, evidence=result.proposal, now=now)
            moved = await self._move(
                session, op, OperationStatus.PROPOSED, now, proposal=result.proposal
            )
            audit = self._audit(op, "proposed", now, data=result.proposal)
            return Outcome(op.operation_id, op.kind, "proposed"), moved, audit
        if isinstance(result, Failed):
            return await self._fail(session, op, result.code, result.message, now, result.evidence)
        if isinstance(result, Wait):
            at = now + timedelta(seconds=result.delay_s)
            domain.requeue(current, actor=self._actor, at=at, now=now)
            moved = await self._move(
                session,
                op,
                OperationStatus.QUEUED,
                now,
                error=(result.code, result.message),
                available_at=at,
                refund_attempt=True,
            )
            outcome = Outcome(op.operation_id, op.kind, "requeued", result.code, result.message)
            return outcome, moved, None
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
            decision = domain.Requeue(
                domain.next_attempt_at(op.attempts, now, jitter=self._jitter()),
                result.code,
                f"{result.message} (a signed transaction is outstanding: its nonce must be"
                " mined, so the operation is not failed)",
            )
        if isinstance(decision, domain.Fail):
            return await self._fail(session, op, decision.error_code, decision.error_message, now)
        domain.apply_error_decision(current, decision, actor=self._actor, now=now)
        moved = await self._move(
            session,
            op,
            OperationStatus.QUEUED,
            now,
            error=(decision.error_code, decision.error_message),
            available_at=decision.at,
        )
        audit = self._audit(
            op,
            "requeued",
            now,
            reason_code=decision.error_code,
            note=decision.error_message,
            data={"available_at": decision.at.isoformat(), "attempts": op.attempts},
        )
        outcome = Outcome(
            op.operation_id, op.kind, "requeued", decision.error_code, decision.error_message
        )
        return outcome, moved, audit

    async def _fail(
        self,
        session: AsyncSession,
        op: ClaimedOperation,
        code: str,
        message: str,
        now: datetime,
        evidence: dict[str, Any] | None = None,
    ) -> tuple[Outcome, bool, dict[str, Any] | None]:
        domain.fail(
            op.to_domain(),
            actor=self._actor,
            error_code=code,
            error_message=message,
            now=now,
            evidence=evidence,
        )
        moved = await self._move(session, op, OperationStatus.FAILED, now, error=(code, message))
        audit = self._audit(op, "failed", now, reason_code=code, note=message, data=evidence)
        return Outcome(op.operation_id, op.kind, "failed", code, message), moved, audit

    async def _move(
        self,
        session: AsyncSession,
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
            self._worker_id,
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
        op: ClaimedOperation,
        what: str,
        now: datetime,
        *,
        reason_code: str | None = None,
        note: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return queue.audit_entry(
            f"operation.{what}",
            str(self._actor),
            op.operation_id,
            now,
            reason_code,
            note,
            {"seat_id": op.seat_id, "kind": op.kind.value, **(data or {})},
        )


def _abandoned(op: ClaimedOperation, result: ExecutionResult) -> Outcome:
    reason = result.reason if isinstance(result, Abandoned) else "the lease was lost"
    return Outcome(op.operation_id, op.kind, "abandoned", None, reason)
