"""The operation queue's SQL, in one module: enqueue (idempotent per seat and kind).

`uniq_operations_live_seat_kind` allows one live (queued, processing, proposed)
operation per seat and kind. Enqueueing one that already exists returns the existing
operation instead of failing, so a retried request never queues twice.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from seat_manager.adapters.db.tables import OperationRow
from seat_manager.domain.operations import LIVE_STATUSES, OperationKind, new_operation_id


async def find_live(
    session: AsyncSession, seat_id: str, kind: OperationKind
) -> OperationRow | None:
    result = await session.execute(
        select(OperationRow).where(
            OperationRow.seat_id == seat_id,
            OperationRow.kind == kind.value,
            OperationRow.status.in_([status.value for status in LIVE_STATUSES]),
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
