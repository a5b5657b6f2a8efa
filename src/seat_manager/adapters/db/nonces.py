"""Nonce allocation and the record of signed transactions, in the store.

One signer serves many workers (and processes), so the chain's pending nonce cannot be
trusted to allocate: two workers reading it at once would sign two transactions with
one nonce, and a nonce taken by a worker that then crashed would leave a gap that
blocks every later transaction. Instead:

- `signer_nonces` holds the next nonce per address. `reserve_nonce` locks that row
  (`SELECT … FOR UPDATE` on PostgreSQL; SQLite's `BEGIN IMMEDIATE` already holds the
  write lock), hands out max(next_nonce, the chain's pending nonce) and moves it on.
  The chain's value only matters when the key was used outside this system.
- `nonce_reservations` ties each (signer, nonce) to one operation; its primary key
  makes a double allocation a database error rather than a double spend.
- The reservation, the signed transaction and the operation's tx fields are written
  in ONE transaction with the lease check (see chain/nonces.py), so a nonce is never
  reserved without a signed transaction that will be broadcast until it is mined: a
  crash before the commit rolls the reservation back, a crash after it leaves the
  signed bytes for the next worker to re-broadcast.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from seat_manager.adapters.db.tables import (
    NonceReservationRow,
    OperationTransactionRow,
    SignerNonceRow,
)
from seat_manager.domain.policy import Fees


@dataclass
class StoredTx:
    """A signed transaction as stored (a plain copy: ORM rows die with their session)."""

    operation_id: str
    signer_address: str
    nonce: int
    tx_hash: str
    raw_tx: str
    gas_limit: int
    max_fee_per_gas: int
    max_priority_fee_per_gas: int
    created_at: datetime
    broadcast_at: datetime | None

    @classmethod
    def of(cls, row: OperationTransactionRow) -> StoredTx:
        return cls(
            operation_id=row.operation_id,
            signer_address=row.signer_address,
            nonce=row.nonce,
            tx_hash=row.tx_hash,
            raw_tx=row.raw_tx,
            gas_limit=row.gas_limit,
            max_fee_per_gas=int(row.max_fee_per_gas),
            max_priority_fee_per_gas=int(row.max_priority_fee_per_gas),
            created_at=row.created_at,
            broadcast_at=row.broadcast_at,
        )


async def lock_signer(
    session: AsyncSession, address: str, chain_pending_nonce: int, now: datetime
) -> int:
    """Lock the signer's row (creating it from the chain's nonce the first time) and
    return the next free nonce. Every signing transaction calls this first, so signing
    is serialised per signer for the rest of the transaction."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(
        insert(SignerNonceRow)
        .values(address=address, next_nonce=chain_pending_nonce, updated_at=now)
        .on_conflict_do_nothing(index_elements=["address"])
    )
    result = await session.execute(
        select(SignerNonceRow.next_nonce).where(SignerNonceRow.address == address).with_for_update()
    )
    return max(int(result.scalar_one()), chain_pending_nonce)


async def reserve_nonce(
    session: AsyncSession,
    *,
    address: str,
    next_free: int,
    operation_id: str,
    now: datetime,
) -> int:
    """Give `next_free` (from `lock_signer`, same transaction) to the operation."""
    await session.execute(
        update(SignerNonceRow)
        .where(SignerNonceRow.address == address)
        .values(next_nonce=next_free + 1, updated_at=now)
    )
    session.add(
        NonceReservationRow(
            signer_address=address, nonce=next_free, operation_id=operation_id, created_at=now
        )
    )
    return next_free


def add_transaction(
    session: AsyncSession,
    *,
    operation_id: str,
    signer_address: str,
    nonce: int,
    tx_hash: str,
    raw_hex: str,
    gas_limit: int,
    fees: Fees,
    now: datetime,
) -> StoredTx:
    row = OperationTransactionRow(
        operation_id=operation_id,
        signer_address=signer_address,
        nonce=nonce,
        tx_hash=tx_hash,
        raw_tx=raw_hex,
        gas_limit=gas_limit,
        max_fee_per_gas=str(fees.max_fee_per_gas),
        max_priority_fee_per_gas=str(fees.max_priority_fee_per_gas),
        created_at=now,
    )
    session.add(row)
    return StoredTx.of(row)


async def mark_broadcast(session: AsyncSession, tx_hash: str, now: datetime) -> None:
    """Remember the first time the node accepted the transaction (the replacement clock)."""
    await session.execute(
        update(OperationTransactionRow)
        .where(
            OperationTransactionRow.tx_hash == tx_hash,
            OperationTransactionRow.broadcast_at.is_(None),
        )
        .values(broadcast_at=now)
    )


async def transactions_for(session: AsyncSession, operation_id: str, nonce: int) -> list[StoredTx]:
    """The operation's transactions with this nonce, oldest first (the last is current)."""
    result = await session.execute(
        select(OperationTransactionRow)
        .where(
            OperationTransactionRow.operation_id == operation_id,
            OperationTransactionRow.nonce == nonce,
        )
        .order_by(OperationTransactionRow.id)
    )
    return [StoredTx.of(row) for row in result.scalars()]
