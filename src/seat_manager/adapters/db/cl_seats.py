"""The consensus-layer watcher's query: which seats it follows on the beacon chain.

Kept apart from ``repositories.py`` so the CL watcher owns its one query. It reads;
it never writes or commits (the watcher re-reads the rows it changes inside its own
unit of work).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from seat_manager.adapters.db.tables import SeatRow
from seat_manager.domain.seats import SeatStatus

WATCHED_STATUSES = frozenset(
    {
        SeatStatus.ENROLLED,
        SeatStatus.DEPOSITED,
        SeatStatus.CL_VISIBLE,
        SeatStatus.ACTIVE,
        SeatStatus.EXITED,
    }
)
"""Seats whose validator can still move forward, plus EXITED ones, whose validator is
followed to catch evidence that contradicts the exit (slashing, reactivation)."""


@dataclass(frozen=True)
class WatchedSeat:
    seat_id: str
    status: SeatStatus
    pubkey: str


async def list_watched_seats(session: AsyncSession) -> list[WatchedSeat]:
    """Seats with a validator pubkey in a watched status, in seat id order."""
    result = await session.execute(
        select(SeatRow.seat_id, SeatRow.status, SeatRow.validator_pubkey)
        .where(
            SeatRow.status.in_(sorted(WATCHED_STATUSES)),
            SeatRow.validator_pubkey.is_not(None),
        )
        .order_by(SeatRow.seat_id)
    )
    return [
        WatchedSeat(seat_id, SeatStatus(status), pubkey)
        for seat_id, status, pubkey in result.all()
        if pubkey is not None
    ]
