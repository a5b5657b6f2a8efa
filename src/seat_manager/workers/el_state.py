"""The EL watcher's cursor in watcher_state: what it means, and how it is read and moved.

``el_last_scanned_block`` = N means every DepositEvent of blocks <= N is in the index;
``el_last_scanned_block_hash`` is N's hash (checked at the start of every cycle for
reorgs) and ``el_deposit_count`` the deposit contract's count at N (the base of the
next range's completeness check). ``el_head_block`` and ``el_last_cycle_at`` are for
health reports. The cursor keys are only written in the transaction that records the
blocks they vouch for, and only if the cursor is still where the cycle found it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from seat_manager.adapters.db.uow import SqlUnitOfWork, UnitOfWorkFactory
from seat_manager.workers.el_errors import CursorMoved

KEY_BLOCK = "el_last_scanned_block"
KEY_HASH = "el_last_scanned_block_hash"
KEY_COUNT = "el_deposit_count"
KEY_HEAD = "el_head_block"
KEY_CYCLE_AT = "el_last_cycle_at"


@dataclass
class Cursor:
    block: int
    hash: str | None
    count: int | None
    stored: str | None
    """The watcher_state text this cursor was read as or written to (None: absent)."""
    base: tuple[int, str] | None = None
    """Header of the block before start_block, recorded with the first range."""

    @classmethod
    def written(cls, block: int, block_hash: str, count: int) -> Cursor:
        return cls(block, block_hash, count, str(block))


async def load_cursor(uows: UnitOfWorkFactory, start_block: int) -> Cursor:
    """The stored cursor, or the block before ``start_block`` when there is none."""
    async with uows() as uow:
        block = await uow.watcher_state.get(KEY_BLOCK)
        block_hash = await uow.watcher_state.get(KEY_HASH)
        count = await uow.watcher_state.get(KEY_COUNT)
    if block is None:
        return Cursor(start_block - 1, None, 0 if start_block == 0 else None, None)
    return Cursor(int(block), block_hash, None if count is None else int(count), block)


async def expect_cursor(uow: SqlUnitOfWork, cursor: Cursor) -> None:
    """Refuse to write if another process moved the cursor since this cycle read it."""
    stored = await uow.watcher_state.get(KEY_BLOCK)
    if stored != cursor.stored:
        raise CursorMoved(
            f"the EL cursor moved under this cycle ({stored} != {cursor.stored})",
            data={"stored": stored, "expected": cursor.stored},
        )


async def save_cursor(
    uow: SqlUnitOfWork,
    block: int,
    block_hash: str | None,
    count: int | None,
    head: int,
    now: datetime,
) -> None:
    values = {KEY_BLOCK: str(block), KEY_HEAD: str(head), KEY_CYCLE_AT: now.isoformat()}
    if block_hash is not None:
        values[KEY_HASH] = block_hash
    if count is not None:
        values[KEY_COUNT] = str(count)
    await uow.deposits.save_state(values, now)


async def save_health(uows: UnitOfWorkFactory, head: int, now: datetime) -> None:
    async with uows() as uow:
        await uow.deposits.save_state({KEY_HEAD: str(head), KEY_CYCLE_AT: now.isoformat()}, now)
        await uow.commit()
