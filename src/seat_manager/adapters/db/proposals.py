"""The store's side of multisig proposals (PROPOSE mode and the proposal watcher).

Every function takes the session of the unit of work the caller already holds and
neither commits nor rolls back: transaction boundaries stay with the caller.

- The executor writes a proposal in one transaction serialised per Safe
  (`lock_proposals`), reads the Safe nonces live proposals hold (`nonces_in_use`), the
  deposits proposed but not yet executed (`deposits_proposed`), and stores the
  proposal under its lease (`store_proposal`).
- The watcher reads the `proposed` operations (`proposed_operations`) and moves one to
  `succeeded` guarded by that status (`mark_proposed_succeeded`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from eth_utils.crypto import keccak
from sqlalchemy import or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from seat_manager.adapters.db.queue import ClaimedOperation
from seat_manager.adapters.db.tables import OperationRow, SeatRow
from seat_manager.domain.operations import LIVE_STATUSES, OperationKind, OperationStatus
from seat_manager.domain.seats import SeatStatus

_LIVE = [status.value for status in LIVE_STATUSES]
_PROPOSED = OperationStatus.PROPOSED.value


# ---- the executor: one proposal per Safe nonce -----------------------------------------------


async def lock_proposals(session: AsyncSession, safe_address: str | None) -> None:
    """Serialise proposal writing per Safe until the transaction ends (PostgreSQL)."""
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite: this transaction began with BEGIN IMMEDIATE (engine.py)
    seed = f"seat-manager:proposals:{(safe_address or 'none').lower()}"
    key = int.from_bytes(keccak(text=seed)[:8], "big", signed=True)
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _same_safe(proposal: Any, safe_address: str, chain_id: int) -> bool:
    return (
        isinstance(proposal, Mapping)
        and isinstance(proposal.get("safe_nonce"), int)
        and str(proposal.get("safe_address", "")).lower() == safe_address.lower()
        and proposal.get("chain_id") == chain_id
    )


async def nonces_in_use(
    session: AsyncSession, safe_address: str, chain_id: int, operation_id: str
) -> tuple[int | None, frozenset[int]]:
    """(this operation's stored Safe nonce, the nonces other live proposals hold)."""
    result = await session.execute(
        select(OperationRow.operation_id, OperationRow.status, OperationRow.proposal).where(
            OperationRow.proposal.is_not(None),
            or_(OperationRow.status.in_(_LIVE), OperationRow.operation_id == operation_id),
        )
    )
    previous: int | None = None
    taken: set[int] = set()
    for row_id, status, proposal in result.all():
        if not _same_safe(proposal, safe_address, chain_id):
            continue
        if row_id == operation_id:
            previous = int(proposal["safe_nonce"])
        elif status in _LIVE:
            taken.add(int(proposal["safe_nonce"]))
    return previous, frozenset(taken)


async def store_proposal(
    session: AsyncSession, op: ClaimedOperation, proposal: dict[str, Any], now: datetime
) -> bool:
    """Write the proposal on the operation while its lease is still ours."""
    result = await session.execute(
        update(OperationRow)
        .where(
            OperationRow.operation_id == op.operation_id,
            OperationRow.lease_owner == op.lease_owner,
            OperationRow.status == OperationStatus.PROCESSING.value,
        )
        .values(proposal=proposal, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def deposits_proposed(session: AsyncSession, excluding: str) -> int:
    """Live DEPOSIT proposals for seats still ENROLLED: 32 ETH each that a signature away
    from leaving, which `principal_at_risk` (signed transactions only) does not count."""
    result = await session.execute(
        select(OperationRow.operation_id).where(
            OperationRow.kind == OperationKind.DEPOSIT.value,
            OperationRow.status.in_(_LIVE),
            OperationRow.proposal.is_not(None),
            OperationRow.tx_hash.is_(None),
            OperationRow.operation_id != excluding,
            OperationRow.seat_id.in_(
                select(SeatRow.seat_id).where(SeatRow.status == SeatStatus.ENROLLED.value)
            ),
        )
    )
    return len(result.all())


# ---- the watcher: proposed → succeeded -------------------------------------------------------


async def proposed_operations(session: AsyncSession, limit: int) -> Sequence[OperationRow]:
    """Operations in `proposed`, oldest update first (then by id), at most `limit`.

    The rows belong to the session: read what is needed before the unit of work ends."""
    result = await session.execute(
        select(OperationRow)
        .where(OperationRow.status == _PROPOSED)
        .order_by(OperationRow.updated_at, OperationRow.operation_id)
        .limit(limit)
    )
    return result.scalars().all()


async def mark_proposed_succeeded(session: AsyncSession, operation_id: str, now: datetime) -> bool:
    """Move the operation `proposed → succeeded`, clearing its error; False (nothing
    written) when it is no longer `proposed`."""
    moved = await session.execute(
        update(OperationRow)
        .where(
            OperationRow.operation_id == operation_id,
            OperationRow.status == _PROPOSED,
        )
        .values(
            status=OperationStatus.SUCCEEDED.value,
            error_code=None,
            error_message=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(moved.rowcount == 1)  # type: ignore[attr-defined]
