"""Repositories: load and store rows for one session. They never commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from seat_manager.adapters.db.tables import (
    AuditEventRow,
    OperationRow,
    SeatEventRow,
    SeatRow,
    WatcherStateRow,
)
from seat_manager.domain.errors import Conflict, NotFound
from seat_manager.domain.operations import OperationKind
from seat_manager.domain.seats import (
    Actor,
    Seat,
    SeatStatus,
    SeatTransition,
    SeatTransitioned,
)
from seat_manager.domain.types import OperatorId, SeatId

_KIND_ORDER = {kind.value: index for index, kind in enumerate(OperationKind)}


class StaleSeat(Conflict):
    """Another transaction moved the seat since it was loaded; reload and decide again."""

    default_code = "SEAT_CHANGED_CONCURRENTLY"


class SeatRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, seat_id: str) -> SeatRow | None:
        return await self._session.get(SeatRow, seat_id)

    async def load(self, seat_id: str) -> Seat:
        """The seat as the domain sees it, with its full lifecycle history."""
        row = await self.get(seat_id)
        if row is None:
            raise NotFound(f"seat {seat_id} not found", code="SEAT_NOT_FOUND")
        history = tuple(
            SeatTransition(
                SeatStatus(event.from_status) if event.from_status else None,
                SeatStatus(event.to_status),
                Actor.parse(event.actor),
                event.created_at,
                reason=event.reason,
                evidence=event.evidence,
            )
            for event in await self.events(seat_id)
        )
        return Seat(
            SeatId(row.seat_id), OperatorId(row.operator_id), SeatStatus(row.status), history
        )

    async def save_transition(self, event: SeatTransitioned) -> None:
        """Persist one transition: the new status (only if the row still has the status
        the decision was made from) and its evidence."""
        record = event.transition
        result = await self._session.execute(
            update(SeatRow)
            .where(SeatRow.seat_id == event.seat_id, SeatRow.status == record.from_status)
            .values(status=record.to_status, updated_at=record.at, version=SeatRow.version + 1)
            .execution_options(synchronize_session="fetch")
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise StaleSeat(
                f"seat {event.seat_id} is no longer {record.from_status}",
                data={"seat_id": event.seat_id},
            )
        self.record_transition(event)

    async def find_by_pubkeys(self, pubkeys: list[str]) -> list[SeatRow]:
        """Seats enrolled with any of these validator pubkeys (0x + 96 lower-case hex)."""
        if not pubkeys:
            return []
        result = await self._session.execute(
            select(SeatRow).where(SeatRow.validator_pubkey.in_(pubkeys))
        )
        return list(result.scalars())

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
        return {status: count for status, count in result.all()}


class OperationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def list_for_seat(self, seat_id: str) -> list[OperationRow]:
        """The seat's operations, oldest first; operations queued together appear in
        execution order (the order of ``OperationKind``)."""
        result = await self._session.execute(
            select(OperationRow).where(OperationRow.seat_id == seat_id)
        )
        return sorted(
            result.scalars(),
            key=lambda op: (
                op.created_at,
                _KIND_ORDER.get(op.kind, len(_KIND_ORDER)),
                op.operation_id,
            ),
        )

    async def count_by_status(self) -> dict[str, int]:
        result = await self._session.execute(
            select(OperationRow.status, func.count()).group_by(OperationRow.status)
        )
        return {status: count for status, count in result.all()}


class WatcherStateRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def all(self) -> dict[str, str]:
        result = await self._session.execute(select(WatcherStateRow.key, WatcherStateRow.value))
        return {key: value for key, value in result.all()}

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
