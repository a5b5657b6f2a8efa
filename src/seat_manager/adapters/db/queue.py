"""The operation queue's SQL, in one module: enqueue, claim, lease, finish, requeue.

Enqueue is idempotent per seat and kind: `uniq_operations_live_seat_kind` allows one
live (queued, processing, proposed) operation per seat and kind, and enqueueing one
that already exists returns the existing operation instead of failing.

A claim is `UPDATE … WHERE operation_id IN (SELECT … ORDER BY available_at LIMIT n
FOR UPDATE SKIP LOCKED) RETURNING …`. On PostgreSQL the inner SELECT locks the chosen
rows and skips rows other workers hold, so many workers claim side by side without
waiting on each other and never claim one row twice. SQLite has no row locks (SQLAlchemy
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
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Integer,
    String,
    Table,
    bindparam,
    exists,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from seat_manager.adapters.db.claimed import (
    CLAIMED_COLUMNS,
    ClaimedOperation,
    claimed_from_row,
)
from seat_manager.adapters.db.operation_audit import append_audits, audit_entry, record_audit
from seat_manager.adapters.db.tables import OperationRow
from seat_manager.domain.operations import (
    LIVE_STATUSES,
    OperationKind,
    OperationStatus,
    new_operation_id,
)

__all__ = [
    "ClaimedOperation",
    "append_audits",
    "audit_entry",
    "claim",
    "claim_next",
    "enqueue",
    "find_live",
    "finish",
    "finish_succeeded",
    "forget_transaction",
    "has_transaction",
    "heartbeat",
    "heartbeat_many",
    "record_audit",
    "record_transaction",
]

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

# Statements are built once (SQLAlchemy then caches their compiled SQL too): building
# them per call cost more CPU than the database spent running them.
_OPS = cast(Table, OperationRow.__table__)
_WHEN = _OPS.c.available_at.type


def _claim_statements() -> tuple[Any, Any]:
    """Two claims, each `UPDATE … WHERE operation_id IN (SELECT … ORDER BY available_at
    LIMIT :limit FOR UPDATE SKIP LOCKED) RETURNING …`: processing rows whose lease
    expired, then due queued rows. Each subquery is an ordered scan of
    `ix_operations_status_available_at` that stops after `limit` unlocked matches, so a
    claim costs the same with 10 or 100,000 rows queued. A queued operation on a vault
    is skipped while its seat has a live DEPLOY_VAULT (a probe of
    `uniq_operations_live_seat_kind`). Aliases keep the subqueries from correlating
    to the UPDATE.
    """
    now = bindparam("now", type_=_WHEN)
    limit = bindparam("limit", type_=Integer())
    expired, due, deploy = _OPS.alias("expired"), _OPS.alias("due"), _OPS.alias("deploy")
    reclaim = (
        select(expired.c.operation_id)
        .where(expired.c.status == _PROCESSING, expired.c.lease_expires_at < now)
        .order_by(expired.c.available_at)
        .limit(limit)
        .with_for_update(skip_locked=True, of=expired)
    )
    waits_for_vault = exists().where(
        deploy.c.seat_id == due.c.seat_id,
        deploy.c.kind == OperationKind.DEPLOY_VAULT.value,
        deploy.c.status.in_(_LIVE),
        due.c.kind != OperationKind.DEPLOY_VAULT.value,
    )
    fresh = (
        select(due.c.operation_id)
        .where(due.c.status == _QUEUED, due.c.available_at <= now, ~waits_for_vault)
        .order_by(due.c.available_at)
        .limit(limit)
        .with_for_update(skip_locked=True, of=due)
    )

    def claiming(candidates: Any) -> Any:
        return (
            update(_OPS)
            .where(_OPS.c.operation_id.in_(candidates))
            .values(
                status=_PROCESSING,
                attempts=_OPS.c.attempts + 1,
                lease_owner=bindparam("worker_id", type_=String()),
                lease_expires_at=bindparam("lease_until", type_=_WHEN),
                updated_at=now,
            )
            .returning(*(_OPS.c[column.key] for column in CLAIMED_COLUMNS))
        )

    return claiming(reclaim), claiming(fresh)


_RECLAIM, _CLAIM = _claim_statements()


async def claim(
    session: AsyncSession,
    worker_id: str,
    now: datetime,
    lease_s: float,
    limit: int = 1,
    *,
    expired_first: bool = True,
) -> list[ClaimedOperation]:
    """Claim up to `limit` due operations for `worker_id`, oldest `available_at` first.

    The caller commits. With `expired_first`, expired leases go first: their operations
    were already started (a transaction may be in flight) and their worker is gone.
    Without it (a busy worker's usual claim), they are looked for only when the queued
    rows do not fill the batch: one statement instead of two per batch; the worker
    still asks for them first every few seconds, so they are never starved.
    """
    params = {
        "now": now,
        "worker_id": worker_id,
        "lease_until": now + timedelta(seconds=lease_s),
        "limit": limit,
    }
    order = (_RECLAIM, _CLAIM) if expired_first else (_CLAIM, _RECLAIM)
    claimed: list[ClaimedOperation] = []
    for statement in order:
        params["limit"] = limit - len(claimed)
        claimed += [claimed_from_row(row) for row in await session.execute(statement, params)]
        if len(claimed) >= limit:
            break
    return sorted(claimed, key=lambda op: op.available_at)


async def claim_next(
    session: AsyncSession, worker_id: str, now: datetime, lease_s: float
) -> ClaimedOperation | None:
    """Claim the next due operation, or None when nothing is due (see `claim`)."""
    claimed = await claim(session, worker_id, now, lease_s, 1)
    return claimed[0] if claimed else None


_SUCCEED_MANY = (
    update(_OPS)
    .where(
        _OPS.c.operation_id.in_(bindparam("ids", expanding=True)),
        _OPS.c.lease_owner == bindparam("w_worker_id", type_=String()),
        _OPS.c.status == _PROCESSING,
    )
    .values(
        status=OperationStatus.SUCCEEDED.value,
        lease_owner=None,
        lease_expires_at=None,
        error_code=None,
        error_message=None,
        updated_at=bindparam("now", type_=_WHEN),
    )
    .returning(_OPS.c.operation_id)
)


async def finish_succeeded(
    session: AsyncSession, operation_ids: list[str], worker_id: str, now: datetime
) -> set[str]:
    """Mark many leased operations succeeded in one statement; returns the ids it
    changed (the others' leases were lost, and they are left alone)."""
    if not operation_ids:
        return set()
    result = await session.execute(
        _SUCCEED_MANY, {"ids": operation_ids, "w_worker_id": worker_id, "now": now}
    )
    return {row[0] for row in result}


_GUARDED: dict[tuple[tuple[str, ...], bool], Any] = {}


def _guarded_statement(columns: tuple[str, ...], refund_attempt: bool) -> Any:
    """UPDATE of `columns` guarded by the lease, built once per set of columns."""
    key = (columns, refund_attempt)
    statement = _GUARDED.get(key)
    if statement is None:
        values: dict[str, Any] = {
            name: bindparam(f"v_{name}", type_=_OPS.c[name].type) for name in columns
        }
        if refund_attempt:
            values["attempts"] = _OPS.c.attempts - 1
        statement = (
            update(_OPS)
            .where(
                _OPS.c.operation_id == bindparam("w_operation_id", type_=String()),
                _OPS.c.lease_owner == bindparam("w_worker_id", type_=String()),
                _OPS.c.status == _PROCESSING,
            )
            .values(values)
        )
        _GUARDED[key] = statement
    return statement


async def _guarded_update(
    session: AsyncSession,
    operation_id: str,
    worker_id: str,
    *,
    refund_attempt: bool = False,
    **values: Any,
) -> bool:
    columns = tuple(sorted(values))
    params = {f"v_{name}": values[name] for name in columns}
    result = await session.execute(
        _guarded_statement(columns, refund_attempt),
        {"w_operation_id": operation_id, "w_worker_id": worker_id, **params},
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


_HEARTBEAT_MANY = (
    update(_OPS)
    .where(
        _OPS.c.operation_id.in_(bindparam("ids", expanding=True)),
        _OPS.c.lease_owner == bindparam("w_worker_id", type_=String()),
        _OPS.c.status == _PROCESSING,
    )
    .values(
        lease_expires_at=bindparam("lease_until", type_=_WHEN),
        updated_at=bindparam("now", type_=_WHEN),
    )
    .returning(_OPS.c.operation_id)
)


async def heartbeat_many(
    session: AsyncSession, operation_ids: list[str], worker_id: str, now: datetime, lease_s: float
) -> set[str]:
    """Extend several leases in one statement; returns the ids still held."""
    if not operation_ids:
        return set()
    result = await session.execute(
        _HEARTBEAT_MANY,
        {
            "ids": operation_ids,
            "w_worker_id": worker_id,
            "now": now,
            "lease_until": now + timedelta(seconds=lease_s),
        },
    )
    return {row[0] for row in result}


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
    if proposal is not None:
        values["proposal"] = proposal
    return await _guarded_update(
        session, operation_id, worker_id, refund_attempt=refund_attempt, **values
    )


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
