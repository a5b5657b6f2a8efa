"""The execution-layer deposit index (el_deposits) and the scanned block hashes (el_blocks).

Only the EL watcher writes here, always in the same transaction as the scan cursor, so
the index never holds a block the cursor has not reached, and a rolled-back range
leaves nothing behind. Inserts are bulk (one executemany per range) and skip rows that
already exist on (block_hash, log_index): a rescan of a range changes nothing.
Hashes are stored as raw bytes and handed out as 0x-prefixed lower-case hex.

The bulk insert is the catch-up's hot path (tens of thousands of rows per minute of
history), so it skips the ORM and per-row bind processing: SQLite gets one C-level
executemany; PostgreSQL a binary COPY into a session-local staging table (emptied at
every commit or rollback) and one INSERT ... SELECT ... ON CONFLICT DO NOTHING from it,
all in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Dialect, Table, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from seat_manager.adapters.db.tables import ElBlockRow, ElDepositRow, SeatRow, WatcherStateRow
from seat_manager.domain.deposit_matching import ObservedDeposit

PUBKEY_CHUNK = 500
"""Pubkeys per IN (...) query: far below both drivers' bound-parameter limits."""

DepositRow = tuple[bytes, bytes, int, int, int, bytes, bytes, int]
"""(pubkey, withdrawal_credentials, amount_gwei, deposit_index, block_number, block_hash,
tx_hash, log_index): one el_deposits row as the range reader produces it."""

_ROW_COLUMNS = (
    "pubkey, withdrawal_credentials, amount_gwei, deposit_index, block_number, block_hash,"
    " tx_hash, log_index"
)
"""The columns of a ``DepositRow``, in its order."""
_COLUMNS = _ROW_COLUMNS + ", created_at"
_SQLITE_APPEND = f"INSERT INTO el_deposits ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
_SQLITE_INSERT = _SQLITE_APPEND + " ON CONFLICT (block_hash, log_index) DO NOTHING"
_INCOMING = "el_deposits_incoming"
_POSTGRES_STAGE = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {_INCOMING} (pubkey bytea, withdrawal_credentials"
    " bytea, amount_gwei bigint, deposit_index bigint, block_number bigint, block_hash bytea,"
    " tx_hash bytea, log_index integer) ON COMMIT DELETE ROWS"
)
_POSTGRES_INSERT = (
    f"INSERT INTO el_deposits ({_COLUMNS}) SELECT {_ROW_COLUMNS}, $1"
    f" FROM {_INCOMING} ON CONFLICT (block_hash, log_index) DO NOTHING"
)

_ROW_COPY_COLUMNS = [name.strip() for name in _ROW_COLUMNS.split(",")]

_DEPOSITS = cast(Table, ElDepositRow.__table__)
_BLOCKS = cast(Table, ElBlockRow.__table__)
_STATE = cast(Table, WatcherStateRow.__table__)


def _hash(value: str) -> bytes:
    return bytes.fromhex(value[2:])


def observed(row: DepositRow) -> ObservedDeposit:
    pubkey, credentials, amount, index, block_number, block_hash, tx_hash, log_index = row
    return ObservedDeposit(
        pubkey=pubkey,
        withdrawal_credentials=credentials,
        amount_gwei=amount,
        deposit_index=index,
        block_number=block_number,
        block_hash="0x" + block_hash.hex(),
        tx_hash="0x" + tx_hash.hex(),
        log_index=log_index,
    )


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


def _created_at(dialect: Dialect, now: datetime) -> Any:
    """``now`` as the driver takes it for created_at (SQLite: SQLAlchemy's text form),
    converted once for a whole bulk insert instead of once per row."""
    column_type = _DEPOSITS.c.created_at.type.dialect_impl(dialect)
    process = column_type.bind_processor(dialect)
    return process(now) if process is not None else now


async def _driver_in_transaction(conn: AsyncConnection) -> Any:
    """The asyncpg connection under the session, once the session's transaction has
    really begun there (SQLAlchemy begins it lazily, at its first statement)."""
    driver = (await conn.get_raw_connection()).driver_connection
    if driver is not None and not driver.is_in_transaction():
        await conn.exec_driver_sql("SELECT 1")  # no statement yet: make it begin
    if driver is None or not driver.is_in_transaction():
        raise RuntimeError("a deposit index COPY must run inside the session's transaction")
    return driver


async def _copy_insert(conn: AsyncConnection, rows: Sequence[DepositRow], stamp: Any) -> int:
    """PostgreSQL bulk insert-if-absent: COPY into the staging table, then INSERT ...
    SELECT ... ON CONFLICT DO NOTHING from it, all in the session's transaction (outside
    one, ON COMMIT would empty the staging table between the two)."""
    driver = await _driver_in_transaction(conn)
    await driver.execute(_POSTGRES_STAGE)
    await driver.copy_records_to_table(_INCOMING, records=rows, columns=_ROW_COPY_COLUMNS)
    result = await conn.exec_driver_sql(_POSTGRES_INSERT, (stamp,))
    return int(result.rowcount)


async def _copy_append(conn: AsyncConnection, rows: Sequence[DepositRow], stamp: Any) -> int:
    """PostgreSQL bulk insert of absent rows: one COPY straight into el_deposits."""
    driver = await _driver_in_transaction(conn)
    records = [(*row, stamp) for row in rows]
    columns = [*_ROW_COPY_COLUMNS, "created_at"]
    await driver.copy_records_to_table("el_deposits", records=records, columns=columns)
    return len(rows)


class DepositIndexRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def _insert(self, table: Table) -> Any:
        dialect = self._session.get_bind().dialect.name
        return pg_insert(table) if dialect == "postgresql" else sqlite_insert(table)

    # ---- deposits -----------------------------------------------------------------------

    async def keys_between(self, first: int, last: int) -> set[tuple[bytes, int]]:
        """(block_hash, log_index) of the deposits indexed in blocks first..last."""
        result = await self._session.execute(
            select(ElDepositRow.block_hash, ElDepositRow.log_index).where(
                ElDepositRow.block_number.between(first, last)
            )
        )
        return {(bytes(h), i) for h, i in result.all()}

    async def insert_rows(self, rows: Sequence[DepositRow], now: datetime) -> int:
        """Bulk insert-if-absent on (block_hash, log_index), in the session's transaction;
        returns how many rows the database says it inserted."""
        return await self._bulk(rows, now, skip_present=True)

    async def append_rows(self, rows: Sequence[DepositRow], now: datetime) -> int:
        """Bulk insert of rows the caller knows are absent (no deposit of their blocks is
        indexed yet: a first scan). A row that is there after all fails the statement,
        and with it the transaction, instead of being skipped. Cheaper than
        ``insert_rows`` on PostgreSQL: one COPY straight into the table."""
        return await self._bulk(rows, now, skip_present=False)

    async def _bulk(self, rows: Sequence[DepositRow], now: datetime, *, skip_present: bool) -> int:
        if not rows:
            return 0
        conn = await self._session.connection()
        stamp = _created_at(conn.dialect, now)
        if conn.dialect.name == "postgresql":
            copy = _copy_insert if skip_present else _copy_append
            return await copy(conn, rows, stamp)
        statement = _SQLITE_INSERT if skip_present else _SQLITE_APPEND
        result = await conn.exec_driver_sql(statement, [(*row, stamp) for row in rows])
        return int(result.rowcount)

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

    # ---- what the matching and the cursor need, in one statement each --------------------

    async def seat_pubkeys(self) -> set[str]:
        """Every validator pubkey a seat holds (0x + 96 hex): one query per range instead of
        an IN (...) list of every deposit's pubkey; the seats themselves are loaded through
        the seat repository only for the pubkeys that match."""
        result = await self._session.execute(
            select(SeatRow.validator_pubkey).where(SeatRow.validator_pubkey.is_not(None))
        )
        return {key for (key,) in result.all() if key is not None}

    async def save_state(self, values: Mapping[str, str], now: datetime) -> None:
        """Upsert the EL watcher's own watcher_state keys (el_*) in one statement."""
        statement = self._insert(_STATE)
        statement = statement.on_conflict_do_update(
            index_elements=["key"],
            set_={"value": statement.excluded.value, "updated_at": statement.excluded.updated_at},
        )
        rows = [{"key": k, "value": v, "updated_at": now} for k, v in values.items()]
        await self._session.execute(statement, rows)
