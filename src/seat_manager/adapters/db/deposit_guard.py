"""The store's side of the deposit guards: what the watcher's index says, and what
principal is at risk. Read inside the signing transaction, after the signer lock, so
two deposits being signed at once cannot both pass the reserve check on the same
figures (the second one sees the first one's signed transaction as in flight)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, not_, select
from sqlalchemy.ext.asyncio import AsyncSession

from seat_manager.adapters.db.repositories import SeatRepository
from seat_manager.adapters.db.tables import ElDepositRow, OperationRow, SeatRow, WatcherStateRow
from seat_manager.domain.operations import OperationKind
from seat_manager.domain.policy import seats_with_principal_at_risk
from seat_manager.domain.seats import PRINCIPAL_AT_RISK_STATUSES, SeatStatus

EL_LAST_SCANNED_BLOCK = "el_last_scanned_block"
TX_REVERTED = "TX_REVERTED"
"""Error code of an operation whose transaction was mined and reverted: nothing sent."""


async def last_scanned_block(session: AsyncSession) -> int | None:
    result = await session.execute(
        select(WatcherStateRow.value).where(WatcherStateRow.key == EL_LAST_SCANNED_BLOCK)
    )
    value = result.scalar_one_or_none()
    try:
        return None if value is None else int(value)
    except ValueError:
        return None


async def seat_status(session: AsyncSession, seat_id: str) -> str | None:
    """The seat's stored status value, or None when there is no such seat."""
    result = await session.execute(select(SeatRow.status).where(SeatRow.seat_id == seat_id))
    return result.scalar_one_or_none()


@dataclass(frozen=True)
class SeenDeposit:
    block_number: int
    tx_hash: str
    withdrawal_credentials: str
    amount_gwei: int


async def deposits_for_pubkey(session: AsyncSession, pubkey: bytes) -> list[SeenDeposit]:
    """Every DepositEvent the watcher indexed for this pubkey, ours or anyone's."""
    result = await session.execute(
        select(ElDepositRow).where(ElDepositRow.pubkey == pubkey).order_by(ElDepositRow.id)
    )
    return [
        SeenDeposit(
            row.block_number,
            "0x" + row.tx_hash.hex(),
            "0x" + row.withdrawal_credentials.hex(),
            row.amount_gwei,
        )
        for row in result.scalars()
    ]


@dataclass(frozen=True)
class AtRisk:
    seats_at_risk: int
    deposits_in_flight: int


async def principal_at_risk(session: AsyncSession, *, excluding_operation: str) -> AtRisk:
    """Seats whose principal is at risk, and deposits signed but not yet seen.

    In flight: a DEPOSIT operation with a signed transaction whose seat is still
    ENROLLED (the watcher has not recorded the deposit), whatever the operation's
    status, unless its transaction was mined and reverted. A cancelled operation's
    transaction can still be mined, so it counts.
    """
    by_status = select(func.count()).where(
        SeatRow.status.in_([status.value for status in PRINCIPAL_AT_RISK_STATUSES])
    )
    plain = int((await session.execute(by_status)).scalar_one())
    exception_ids = (
        await session.execute(
            select(SeatRow.seat_id).where(SeatRow.status == SeatStatus.EXCEPTION.value)
        )
    ).scalars()
    seats = SeatRepository(session)
    exceptions = [await seats.load(seat_id) for seat_id in list(exception_ids)]
    in_flight = select(func.count()).where(
        OperationRow.kind == OperationKind.DEPOSIT.value,
        OperationRow.tx_hash.is_not(None),
        OperationRow.operation_id != excluding_operation,
        not_(and_(OperationRow.status == "failed", OperationRow.error_code == TX_REVERTED)),
        OperationRow.seat_id.in_(
            select(SeatRow.seat_id).where(SeatRow.status == SeatStatus.ENROLLED.value)
        ),
    )
    return AtRisk(
        seats_at_risk=plain + seats_with_principal_at_risk(exceptions),
        deposits_in_flight=int((await session.execute(in_flight)).scalar_one()),
    )
