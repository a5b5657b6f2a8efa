"""The deposit index's bulk insert on both stores: insert-if-absent, counted, transactional."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from seat_manager.adapters.db.deposit_index import DepositRow
from seat_manager.adapters.db.tables import ElDepositRow
from seat_manager.adapters.db.uow import UnitOfWorkFactory

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def row(n: int, *, block: int = 100, block_hash: bytes = b"\x11" * 32) -> DepositRow:
    return (
        n.to_bytes(48, "big"),
        b"\x01" + b"\x00" * 11 + n.to_bytes(20, "big"),
        32_000_000_000 + n,
        n,
        block,
        block_hash,
        n.to_bytes(32, "big"),
        n,
    )


async def test_insert_skips_rows_already_indexed_and_counts_only_new_ones(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        assert await uow.deposits.insert_rows([row(0), row(1)], NOW) == 2
        await uow.commit()
    async with uow_factory() as uow:
        # (block hash, log index) 1 is there already; 2 and 3 are new.
        assert await uow.deposits.insert_rows([row(1), row(2), row(3)], NOW) == 2
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.deposits.all()
        stamps = set((await uow.session.execute(select(ElDepositRow.created_at))).scalars())
    assert stamps == {NOW}
    assert [d.deposit_index for d in stored] == [0, 1, 2, 3]
    first = stored[0]
    assert first.pubkey == row(0)[0] and first.withdrawal_credentials == row(0)[1]
    assert first.amount_gwei == 32_000_000_000 and first.block_number == 100
    assert first.block_hash == "0x" + "11" * 32 and first.tx_hash == "0x" + "00" * 32


async def test_the_same_log_index_in_another_block_is_another_deposit(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        inserted = await uow.deposits.insert_rows(
            [row(5), row(5, block=101, block_hash=b"\x22" * 32)], NOW
        )
        await uow.commit()
    assert inserted == 2


async def test_a_rolled_back_insert_leaves_nothing_and_the_next_transaction_starts_clean(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        assert await uow.deposits.insert_rows([row(n) for n in range(3)], NOW) == 3
        # leaving the unit of work without a commit rolls it back
    async with uow_factory() as uow:
        assert await uow.deposits.count() == 0
        # Whatever was staged for the rolled-back insert is gone too: only these count.
        assert await uow.deposits.insert_rows([row(7)], NOW) == 1
        await uow.commit()
    async with uow_factory() as uow:
        assert [d.deposit_index for d in await uow.deposits.all()] == [7]


async def test_thousands_of_rows_in_one_call(uow_factory: UnitOfWorkFactory) -> None:
    rows = [row(n, block=1000 + n // 100) for n in range(5000)]
    async with uow_factory() as uow:
        assert await uow.deposits.insert_rows(rows, NOW) == 5000
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.deposits.insert_rows(rows, NOW) == 0
        assert await uow.deposits.count() == 5000
        assert await uow.deposits.count_between(1000, 1009) == 1000


async def test_append_stores_rows_known_to_be_absent(uow_factory: UnitOfWorkFactory) -> None:
    rows = [row(n, block=2000 + n // 10) for n in range(300)]
    async with uow_factory() as uow:
        assert await uow.deposits.append_rows(rows, NOW) == 300
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.deposits.all()
        stamps = set((await uow.session.execute(select(ElDepositRow.created_at))).scalars())
    assert stamps == {NOW}
    assert [d.deposit_index for d in stored] == list(range(300))
    assert stored[-1].pubkey == rows[-1][0] and stored[-1].block_number == 2029


async def test_append_of_a_row_already_there_fails_and_changes_nothing(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.deposits.append_rows([row(0)], NOW)
        await uow.commit()
    duplicate = (
        r"uniq_el_deposits_block_hash_log_index"  # PostgreSQL names the index
        r"|UNIQUE constraint failed: el_deposits\.block_hash, el_deposits\.log_index"
    )
    with pytest.raises(Exception, match=duplicate):  # noqa: PT011 - a driver's own type
        async with uow_factory() as uow:
            await uow.deposits.append_rows([row(1), row(0)], NOW)
            await uow.commit()
    async with uow_factory() as uow:
        assert [d.deposit_index for d in await uow.deposits.all()] == [0]


async def test_append_in_a_rolled_back_unit_of_work_leaves_nothing(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        assert await uow.deposits.append_rows([row(n) for n in range(5)], NOW) == 5
    async with uow_factory() as uow:
        assert await uow.deposits.count() == 0
