"""Startup seeding of CREATED seats (runbook "Seed Seats Today").

All seeds of one start go in one transaction: either every listed seat exists
afterwards or none was written. The database's partial unique index is the last word
on "one non-revoked seat per operator", so two processes racing each other cannot both
win; the loser gets the same OPERATOR_ALREADY_HAS_ACTIVE_SEAT as a sequential retry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from seat_manager.adapters.db.tables import SeatRow
from seat_manager.adapters.db.uow import UnitOfWorkFactory, constraint_of
from seat_manager.config import SeedSeat
from seat_manager.domain.errors import Conflict, OperatorAlreadyHasActiveSeat, SeatManagerError
from seat_manager.domain.seats import Actor, ActorKind, create_seat

SEEDER_ACTOR = Actor(ActorKind.SEEDER, "startup")
SEEDER = str(SEEDER_ACTOR)


@dataclass(frozen=True)
class SeedResult:
    created: tuple[str, ...]
    unchanged: tuple[str, ...]

    @property
    def total(self) -> int:
        return len(self.created) + len(self.unchanged)


class SeedFailed(SeatManagerError):
    """A seed seat was refused; names the seat and carries the underlying code."""

    default_code = "SEED_FAILED"


def _operator_busy(seed: SeedSeat, other_seat: str | None) -> OperatorAlreadyHasActiveSeat:
    where = f" ({other_seat})" if other_seat else ""
    return OperatorAlreadyHasActiveSeat(
        f"OPERATOR_ALREADY_HAS_ACTIVE_SEAT: operator {seed.operator_id} already has a"
        f" non-revoked seat{where}",
        data={"operator_id": seed.operator_id, "existing_seat_id": other_seat},
    )


async def seed_created_seats(
    uow_factory: UnitOfWorkFactory, seeds: list[SeedSeat], now: datetime
) -> SeedResult:
    created: list[str] = []
    unchanged: list[str] = []
    if not seeds:
        return SeedResult((), ())
    current: SeedSeat | None = None
    try:
        async with uow_factory() as uow:
            for seed in seeds:
                current = seed
                existing = await uow.seats.get(seed.seat_id)
                if existing is not None:
                    if existing.operator_id != seed.operator_id:
                        raise Conflict(
                            f"SEAT_BELONGS_TO_ANOTHER_OPERATOR: seat {seed.seat_id} already"
                            f" exists for operator {existing.operator_id}",
                            code="SEAT_BELONGS_TO_ANOTHER_OPERATOR",
                        )
                    unchanged.append(seed.seat_id)
                    uow.audit.record(
                        "seat.seed.unchanged",
                        actor=SEEDER,
                        now=now,
                        subject_type="seat",
                        subject_id=seed.seat_id,
                        data={"operator_id": seed.operator_id, "status": existing.status},
                    )
                    continue
                active = await uow.seats.find_active_by_operator(seed.operator_id)
                if active is not None:
                    raise _operator_busy(seed, active.seat_id)
                seat, event = create_seat(
                    seed.seat_id,
                    seed.operator_id,
                    actor=SEEDER_ACTOR,
                    now=now,
                    evidence={"source": "SEAT_MANAGER_CREATED_SEATS_JSON"},
                )
                uow.seats.add(
                    SeatRow(
                        seat_id=seat.seat_id,
                        operator_id=seat.operator_id,
                        status=seat.status,
                        created_at=now,
                        updated_at=now,
                    )
                )
                await uow.flush()
                uow.seats.record_transition(event)
                uow.audit.record(
                    "seat.seeded",
                    actor=SEEDER,
                    now=now,
                    subject_type="seat",
                    subject_id=seed.seat_id,
                    data={"operator_id": seed.operator_id},
                )
                created.append(seed.seat_id)
            await uow.flush()
            await uow.commit()
    except IntegrityError as exc:
        assert current is not None
        if constraint_of(exc) == "uniq_seats_active_operator_id":
            error: SeatManagerError = _operator_busy(current, None)
        else:
            error = Conflict(f"the store refused the seat: {constraint_of(exc)}")
        await _record_rejection(uow_factory, current, error, now)
        raise _seed_failed(current, error) from exc
    except SeatManagerError as exc:
        assert current is not None
        await _record_rejection(uow_factory, current, exc, now)
        raise _seed_failed(current, exc) from exc
    return SeedResult(tuple(created), tuple(unchanged))


def _seed_failed(seed: SeedSeat, error: SeatManagerError) -> SeedFailed:
    return SeedFailed(
        f"seed seat {seed.seat_id} (operator {seed.operator_id}) refused: {error.message}",
        code=error.code,
        data={"seat_id": seed.seat_id, "operator_id": seed.operator_id, **error.data},
    )


async def _record_rejection(
    uow_factory: UnitOfWorkFactory, seed: SeedSeat, error: SeatManagerError, now: datetime
) -> None:
    """The refused seeding leaves nothing behind but its audit event."""
    async with uow_factory() as uow:
        uow.audit.record(
            "seat.seed.rejected",
            actor=SEEDER,
            now=now,
            subject_type="seat",
            subject_id=seed.seat_id,
            reason_code=error.code,
            data={"operator_id": seed.operator_id, "message": error.message},
        )
        await uow.commit()
