"""The execution-layer deposit index (el_deposits) and the scanned block hashes (el_blocks).

Only the EL watcher writes here, always in the same transaction as the scan cursor, so
the index never holds a block the cursor has not reached, and a rolled-back range
leaves nothing behind. Inserts are bulk (one executemany per range) and skip rows that
already exist on (block_hash, log_index): a rescan of a range changes nothing.
Hashes are stored as raw bytes and handed out as 0x-prefixed lower-case hex.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from seat_manager.adapters.db.tables import ElBlockRow, ElDepositRow
from seat_manager.domain.deposit_matching import ObservedDeposit

PUBKEY_CHUNK = 500
"""Pubkeys per IN (...) query: far below both drivers' bound-parameter limits."""

_DEPOSITS = cast(Table, ElDepositRow.__table__)
_BLOCKS = cast(Table, ElBlockRow.__table__)


def _hash(value: str) -> bytes:
    return bytes.fromhex(value[2:])


def _deposit(row: Any) -> ObservedDeposit:
    return ObservedDeposit(
        pubkey=bytes(row.pubkey),
        withdrawal_credentials=bytes(row.withdrawal_credentials),
        amount_gwei=row.amount_gwei,
        deposit_index=row.deposit_index,
        block_number=row.block_number,
        block_hash="0x" + bytes(row.block_hash).hex(),
        tx_hash="0x" + bytes(row.tx_hash).hex(),
        log_index=row.log_index,
    )


_DEPOSIT_COLUMNS = (
    ElDepositRow.pubkey,
    ElDepositRow.withdrawal_credentials,
    ElDepositRow.amount_gwei,
    ElDepositRow.deposit_index,
    ElDepositRow.block_number,
    ElDepositRow.block_hash,
    ElDepositRow.tx_hash,
    ElDepositRow.log_index,
)


class DepositIndexRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def _insert(self, table: Table) -> Any:
        dialect = self._session.get_bind().dialect.name
        return pg_insert(table) if dialect == "postgresql" else sqlite_insert(table)

    # ---- deposits -----------------------------------------------------------------------

    async def keys_between(self, first: int, last: int) -> set[tuple[str, int]]:
        """(block_hash, log_index) of the deposits indexed in blocks first..last."""
        result = await self._session.execute(
            select(ElDepositRow.block_hash, ElDepositRow.log_index).where(
                ElDepositRow.block_number.between(first, last)
            )
        )
        return {("0x" + bytes(h).hex(), i) for h, i in result.all()}

    async def insert_if_absent(self, deposits: Sequence[ObservedDeposit], now: datetime) -> None:
        if not deposits:
            return
        rows = [
            {
                "pubkey": d.pubkey,
                "withdrawal_credentials": d.withdrawal_credentials,
                "amount_gwei": d.amount_gwei,
                "deposit_index": d.deposit_index,
                "block_number": d.block_number,
                "block_hash": _hash(d.block_hash),
                "tx_hash": _hash(d.tx_hash),
                "log_index": d.log_index,
                "created_at": now,
            }
            for d in deposits
        ]
        statement = self._insert(_DEPOSITS).on_conflict_do_nothing(
            index_elements=["block_hash", "log_index"]
        )
        await self._session.execute(statement, rows)

    async def count_between(self, first: int, last: int) -> int:
        result = await self._session.execute(
            select(func.count()).where(ElDepositRow.block_number.between(first, last))
        )
        return int(result.scalar_one())

    async def count(self) -> int:
        return int((await self._session.execute(select(func.count(ElDepositRow.id)))).scalar_one())

    async def for_pubkeys(
        self, pubkeys: Iterable[bytes], up_to_block: int | None = None
    ) -> list[ObservedDeposit]:
        """Every indexed deposit for these pubkeys, in chain order."""
        keys = sorted(set(pubkeys))
        found: list[ObservedDeposit] = []
        for start in range(0, len(keys), PUBKEY_CHUNK):
            query = select(*_DEPOSIT_COLUMNS).where(
                ElDepositRow.pubkey.in_(keys[start : start + PUBKEY_CHUNK])
            )
            if up_to_block is not None:
                query = query.where(ElDepositRow.block_number <= up_to_block)
            found.extend(_deposit(row) for row in await self._session.execute(query))
        found.sort(key=lambda d: (d.block_number, d.log_index))
        return found

    async def all(self) -> list[ObservedDeposit]:
        """The whole index in chain order (for checks and tests; never on the hot path)."""
        query = select(*_DEPOSIT_COLUMNS).order_by(
            ElDepositRow.block_number, ElDepositRow.log_index
        )
        return [_deposit(row) for row in await self._session.execute(query)]

    async def delete_above(self, block: int) -> list[ObservedDeposit]:
        """Remove the deposits of blocks after ``block``; returns what was removed."""
        query = select(*_DEPOSIT_COLUMNS).where(ElDepositRow.block_number > block)
        removed = [_deposit(row) for row in await self._session.execute(query)]
        if removed:
            await self._session.execute(
                delete(ElDepositRow).where(ElDepositRow.block_number > block)
            )
        return removed

    # ---- scanned block hashes -----------------------------------------------------------

    async def record_blocks(self, blocks: Sequence[tuple[int, str]], now: datetime) -> None:
        """Store (number, hash) pairs, replacing a stale hash stored for the same number."""
        if not blocks:
            return
        statement = self._insert(_BLOCKS)
        statement = statement.on_conflict_do_update(
            index_elements=["block_number"],
            set_={"block_hash": statement.excluded.block_hash, "created_at": now},
        )
        rows = [{"block_number": n, "block_hash": _hash(h), "created_at": now} for n, h in blocks]
        await self._session.execute(statement, rows)

    async def blocks_newest_first(self) -> list[tuple[int, str]]:
        result = await self._session.execute(
            select(ElBlockRow.block_number, ElBlockRow.block_hash).order_by(
                ElBlockRow.block_number.desc()
            )
        )
        return [(n, "0x" + bytes(h).hex()) for n, h in result.all()]

    async def delete_blocks_above(self, block: int) -> None:
        await self._session.execute(delete(ElBlockRow).where(ElBlockRow.block_number > block))

    async def prune_blocks_below(self, block: int) -> None:
        await self._session.execute(delete(ElBlockRow).where(ElBlockRow.block_number < block))
