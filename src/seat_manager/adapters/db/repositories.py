"""Repositories: load and store rows for one session. They never commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from seat_manager.adapters.db.tables import (
    AuditEventRow,
    OperationRow,
    SeatEventRow,
    SeatRow,
    WatcherStateRow,
)
from seat_manager.domain.seats import SeatTransitioned


class SeatRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, seat_id: str) -> SeatRow | None:
        return await self._session.get(SeatRow, seat_id)

    async def find_active_by_operator(self, operator_id: str) -> SeatRow | None:
        result = await self._session.execute(
            select(SeatRow).where(SeatRow.operator_id == operator_id, SeatRow.status != "REVOKED")
        )
        return result.scalars().first()

    def add(self, seat: SeatRow) -> None:
        self._session.add(seat)

    def record_transition(self, event: SeatTransitioned) -> None:
        """Append the lifecycle evidence of one transition."""
        record = event.transition
        self._session.add(
            SeatEventRow(
                seat_id=event.seat_id,
                from_status=record.from_status,
                to_status=record.to_status,
                actor=str(record.actor),
                reason=record.reason,
                evidence=dict(record.evidence),
                created_at=record.at,
            )
        )

    async def events(self, seat_id: str) -> list[SeatEventRow]:
        result = await self._session.execute(
            select(SeatEventRow).where(SeatEventRow.seat_id == seat_id).order_by(SeatEventRow.id)
        )
        return list(result.scalars())

    async def count_by_status(self) -> dict[str, int]:
        result = await self._session.execute(
            select(SeatRow.status, func.count()).group_by(SeatRow.status)
        )
        return {status: count for status, count in result.tuples()}


class OperationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def count_by_status(self) -> dict[str, int]:
        result = await self._session.execute(
            select(OperationRow.status, func.count()).group_by(OperationRow.status)
        )
        return {status: count for status, count in result.tuples()}


class WatcherStateRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def all(self) -> dict[str, str]:
        result = await self._session.execute(select(WatcherStateRow.key, WatcherStateRow.value))
        return {key: value for key, value in result.tuples()}

    async def get(self, key: str) -> str | None:
        row = await self._session.get(WatcherStateRow, key)
        return row.value if row else None

    async def set(self, key: str, value: str, now: datetime) -> None:
        row = await self._session.get(WatcherStateRow, key)
        if row is None:
            self._session.add(WatcherStateRow(key=key, value=value, updated_at=now))
        else:
            row.value = value
            row.updated_at = now


class AuditRepository:
    """Append-only: there is no update or delete here on purpose."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def record(
        self,
        event_type: str,
        *,
        actor: str,
        now: datetime,
        subject_type: str | None = None,
        subject_id: str | None = None,
        reason_code: str | None = None,
        note: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        self._session.add(
            AuditEventRow(
                event_type=event_type,
                actor=actor,
                subject_type=subject_type,
                subject_id=subject_id,
                reason_code=reason_code,
                note=note,
                data=data or {},
                created_at=now,
            )
        )

    async def list_recent(self, limit: int = 100) -> list[AuditEventRow]:
        result = await self._session.execute(
            select(AuditEventRow).order_by(AuditEventRow.id.desc()).limit(limit)
        )
        return list(result.scalars())
