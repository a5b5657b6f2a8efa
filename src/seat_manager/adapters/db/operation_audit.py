"""An operation's history in the audit trail: one row per decision, append-only.

`record_audit` adds a row to the caller's ORM session; `append_audits` writes many
rows in one prepared executemany (no ORM flush), for the worker's batch of results.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from seat_manager.adapters.db.tables import AuditEventRow


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
        AuditEventRow(**audit_entry(event_type, actor, operation_id, now, reason_code, note, data))
    )


_APPEND_AUDIT = insert(cast(Table, AuditEventRow.__table__))


async def append_audits(session: AsyncSession, entries: list[dict[str, Any]]) -> None:
    """Many `audit_entry` rows in one prepared executemany (no ORM flush): the worker's
    hot path records a batch of results at once."""
    if entries:
        await session.execute(_APPEND_AUDIT, entries)


def audit_entry(
    event_type: str,
    actor: str,
    operation_id: str,
    now: datetime,
    reason_code: str | None,
    note: str | None,
    data: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "event_type": event_type,
        "actor": actor,
        "subject_type": "operation",
        "subject_id": operation_id,
        "reason_code": reason_code,
        "note": note,
        "data": data or {},
        "created_at": now,
    }
