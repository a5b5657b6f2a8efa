"""The operation queue's SQL, in one module: enqueue, claim, lease, finish, requeue.

Enqueue is idempotent per seat and kind: `uniq_operations_live_seat_kind` allows one
live (queued, processing, proposed) operation per seat and kind, and enqueueing one
that already exists returns the existing operation instead of failing.

Claiming is one statement: `UPDATE … WHERE operation_id = (SELECT … LIMIT 1 FOR
UPDATE SKIP LOCKED) RETURNING …`. On PostgreSQL the inner SELECT locks the chosen row
and skips rows other workers hold, so many workers claim side by side without waiting
on each other and never claim one row twice. SQLite has no row locks (SQLAlchemy
renders no FOR UPDATE there); every transaction of ours is `BEGIN IMMEDIATE` (see
engine.py), which takes the database write lock first, so claims are serialised
instead. A claim takes a due `queued` row or a `processing` row whose lease expired
(its worker died or hung), counts an attempt and writes the lease.

Every later change (heartbeat, finish, requeue, storing a signed transaction) is
guarded by `lease_owner = me AND status = 'processing'` and reports whether it changed
the row: a worker whose lease was taken over changes nothing, and must stop.

A DEPOSIT (or grant, or claim) is not claimed while a live DEPLOY_VAULT exists for its
seat: it needs the vault, and waiting in the queue costs no attempts and no RPC calls.
Once claimed, an absent vault is an ordinary retryable error (VAULT_NOT_DEPLOYED): the
deployment failed or was cancelled, and the budget of attempts must end the wait.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, not_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from seat_manager.adapters.db.tables import AuditEventRow, OperationRow
from seat_manager.domain.operations import (
    LIVE_STATUSES,
    Operation,
    OperationKind,
    OperationStatus,
    new_operation_id,
)
from seat_manager.domain.types import OperationId, SeatId

_LIVE = [status.value for status in LIVE_STATUSES]
_QUEUED = OperationStatus.QUEUED.value
_PROCESSING = OperationStatus.PROCESSING.value


async def find_live(
    session: AsyncSession, seat_id: str, kind: OperationKind
) -> OperationRow | None:
    result = await session.execute(
        select(OperationRow).where(
            OperationRow.seat_id == seat_id,
            OperationRow.kind == kind.value,
            OperationRow.status.in_(_LIVE),
        )
    )
    return result.scalars().first()


async def enqueue(
    session: AsyncSession,
    seat_id: str,
    kind: OperationKind,
    payload: dict[str, Any],
    now: datetime,
    available_at: datetime | None = None,
) -> tuple[OperationRow, bool]:
    """Queue an operation, or return the live one for this seat and kind.

    Returns (operation, created). Runs inside the caller's transaction; a concurrent
    insert of the same seat and kind is refused by the partial unique index at flush or
    commit, which the caller's unit of work reports as a Conflict.
    """
    existing = await find_live(session, seat_id, kind)
    if existing is not None:
        return existing, False
    row = OperationRow(
        operation_id=new_operation_id(os.urandom(16)),
        seat_id=seat_id,
        kind=kind.value,
        status="queued",
        attempts=0,
        available_at=available_at or now,
        payload=payload,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    return row, True


# ---- claiming and leases -------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimedOperation:
    """A snapshot of an operation as its worker claimed it (the lease is `lease_owner`)."""

    operation_id: OperationId
    seat_id: SeatId
    kind: OperationKind
    attempts: int
    available_at: datetime
    lease_owner: str
    lease_expires_at: datetime
    payload: dict[str, Any]
    tx_nonce: int | None
    tx_hash: str | None
    signed_tx: str | None
    error_code: str | None
    error_message: str | None

    @property
    def has_transaction(self) -> bool:
        """A signed transaction exists: its nonce must be seen through to a mined tx."""
        return self.tx_hash is not None

    def to_domain(self) -> Operation:
        return Operation(
            self.operation_id,
            self.seat_id,
            self.kind,
            OperationStatus.PROCESSING,
            attempts=self.attempts,
            available_at=self.available_at,
            error_code=self.error_code,
            error_message=self.error_message,
        )


_CLAIMED_COLUMNS = (
    OperationRow.operation_id,
    OperationRow.seat_id,
    OperationRow.kind,
    OperationRow.attempts,
    OperationRow.available_at,
    OperationRow.lease_owner,
    OperationRow.lease_expires_at,
    OperationRow.payload,
    OperationRow.tx_nonce,
    OperationRow.tx_hash,
    OperationRow.signed_tx,
    OperationRow.error_code,
    OperationRow.error_message,
)


def _claimed(row: Any) -> ClaimedOperation:
    return ClaimedOperation(
        operation_id=OperationId(row.operation_id),
        seat_id=SeatId(row.seat_id),
        kind=OperationKind(row.kind),
        attempts=row.attempts,
        available_at=row.available_at,
        lease_owner=row.lease_owner,
        lease_expires_at=row.lease_expires_at,
        payload=dict(row.payload or {}),
        tx_nonce=row.tx_nonce,
        tx_hash=row.tx_hash,
        signed_tx=row.signed_tx,
        error_code=row.error_code,
        error_message=row.error_message,
    )


def _due(op: Any, now: datetime) -> Any:
    """Due rows of `op` (an alias of operations): queued and available, or leased with
    an expired lease; work on a vault waits while its seat has a live DEPLOY_VAULT."""
    deploy = aliased(OperationRow)
    vault_pending = exists().where(
        deploy.seat_id == op.seat_id,
        deploy.kind == OperationKind.DEPLOY_VAULT.value,
        deploy.status.in_(_LIVE),
    )
    return and_(
        or_(
            and_(op.status == _QUEUED, op.available_at <= now),
            and_(op.status == _PROCESSING, op.lease_expires_at < now),
        ),
        not_(and_(op.kind != OperationKind.DEPLOY_VAULT.value, vault_pending)),
    )


async def claim_next(
    session: AsyncSession, worker_id: str, now: datetime, lease_s: float
) -> ClaimedOperation | None:
    """Claim the next due operation for `worker_id`, or None when nothing is due.

    The caller commits. Oldest `available_at` first, so a reclaimed operation (its
    available_at is from before the dead worker took it) goes ahead of new work.
    """
    # An alias, so the subquery stands alone instead of correlating to the UPDATE.
    pick = aliased(OperationRow, name="pick")
    candidate = (
        select(pick.operation_id)
        .where(_due(pick, now))
        .order_by(pick.available_at)
        .limit(1)
        .with_for_update(skip_locked=True, of=pick)
        .scalar_subquery()
    )
    result = await session.execute(
        update(OperationRow)
        .where(OperationRow.operation_id == candidate)
        .values(
            status=_PROCESSING,
            attempts=OperationRow.attempts + 1,
            lease_owner=worker_id,
            lease_expires_at=now + timedelta(seconds=lease_s),
            updated_at=now,
        )
        .returning(*_CLAIMED_COLUMNS)
        .execution_options(synchronize_session=False)
    )
    row = result.first()
    return None if row is None else _claimed(row)


def _held(operation_id: str, worker_id: str) -> Any:
    return and_(
        OperationRow.operation_id == operation_id,
        OperationRow.lease_owner == worker_id,
        OperationRow.status == _PROCESSING,
    )


async def _guarded_update(
    session: AsyncSession, operation_id: str, worker_id: str, **values: Any
) -> bool:
    result = await session.execute(
        update(OperationRow)
        .where(_held(operation_id, worker_id))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def heartbeat(
    session: AsyncSession, operation_id: str, worker_id: str, now: datetime, lease_s: float
) -> bool:
    """Extend the lease; False when it is no longer ours (then stop working on it)."""
    return await _guarded_update(
        session,
        operation_id,
        worker_id,
        lease_expires_at=now + timedelta(seconds=lease_s),
        updated_at=now,
    )


async def finish(
    session: AsyncSession,
    operation_id: str,
    worker_id: str,
    *,
    status: OperationStatus,
    now: datetime,
    error_code: str | None,
    error_message: str | None,
    available_at: datetime | None = None,
    refund_attempt: bool = False,
    proposal: dict[str, Any] | None = None,
) -> bool:
    """Move a leased operation out of processing (to succeeded, failed, queued or
    proposed) and drop the lease, only if `worker_id` still holds it. Returns whether
    it did. `refund_attempt` gives back the attempt the claim counted (a wait is not
    an attempt at the work)."""
    values: dict[str, Any] = {
        "status": status.value,
        "lease_owner": None,
        "lease_expires_at": None,
        "error_code": error_code,
        "error_message": error_message,
        "updated_at": now,
    }
    if available_at is not None:
        values["available_at"] = available_at
    if refund_attempt:
        values["attempts"] = OperationRow.attempts - 1
    if proposal is not None:
        values["proposal"] = proposal
    return await _guarded_update(session, operation_id, worker_id, **values)


async def has_transaction(session: AsyncSession, operation_id: str) -> bool:
    result = await session.execute(
        select(OperationRow.tx_hash).where(OperationRow.operation_id == operation_id)
    )
    return result.scalar_one_or_none() is not None


async def record_transaction(
    session: AsyncSession,
    operation_id: str,
    worker_id: str,
    *,
    nonce: int,
    tx_hash: str,
    raw_hex: str,
    now: datetime,
) -> bool:
    """Store the signed transaction on the operation (the lease holder only)."""
    return await _guarded_update(
        session,
        operation_id,
        worker_id,
        tx_nonce=nonce,
        tx_hash=tx_hash,
        signed_tx=raw_hex,
        updated_at=now,
    )


async def forget_transaction(
    session: AsyncSession, operation_id: str, worker_id: str, now: datetime
) -> bool:
    """Clear the operation's transaction once its nonce was consumed by a transaction
    that is not ours (the signer was used elsewhere), so the next attempt signs anew.
    The signed transactions stay in operation_transactions as history."""
    return await _guarded_update(
        session,
        operation_id,
        worker_id,
        tx_nonce=None,
        tx_hash=None,
        signed_tx=None,
        updated_at=now,
    )


def record_audit(
    session: AsyncSession,
    event_type: str,
    *,
    actor: str,
    operation_id: str,
    now: datetime,
    reason_code: str | None = None,
    note: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Append the operation's history entry (the audit trail is its evidence log)."""
    session.add(
        AuditEventRow(
            event_type=event_type,
            actor=actor,
            subject_type="operation",
            subject_id=operation_id,
            reason_code=reason_code,
            note=note,
            data=data or {},
            created_at=now,
        )
    )
