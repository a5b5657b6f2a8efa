"""Chain reorganisations on anvil (evm_snapshot / evm_revert, then a different branch):
abandoned deposits leave the index and the seat evidence, the new branch's deposits
come in, and a reorg deeper than the window halts the watcher without changing a row."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from seat_manager.adapters.db.uow import UnitOfWorkFactory
from seat_manager.domain.vaults import withdrawal_credentials
from seat_manager.workers.el_errors import ChainMovedDuringScan, ReorgTooDeep
from seat_manager.workers.el_watcher import ElCycleResult, ElDepositWatcher
from tests.chain.helpers import deploy_vault, deposit_for_seat, signed_deposit
from tests.support.anvil import ACCOUNTS, Anvil, Deployed
from tests.support.el_chain import (
    NOW,
    add_enrolled_seat,
    audit_events,
    chain_deposits,
    credentials_for,
    cursor,
    deposit_direct,
    fake_pubkey,
    head,
    indexed,
    make_watcher,
    migrated_engine,
    mine,
    rpc_client,
    seat_events,
    seat_status,
    table_dump,
)

pytestmark = pytest.mark.anvil

BENEFICIARY, DESTINATION, STRANGER = ACCOUNTS[1], ACCOUNTS[2], ACCOUNTS[4]
Store = tuple[AsyncEngine, UnitOfWorkFactory]


@pytest.fixture
async def store(store_env: dict[str, str]) -> AsyncIterator[Store]:
    engine = await migrated_engine(store_env)
    try:
        yield engine, UnitOfWorkFactory(engine)
    finally:
        await engine.dispose()


async def catch_up(watcher: ElDepositWatcher) -> list[ElCycleResult]:
    results = [await watcher.run_cycle(NOW)]
    while not results[-1].caught_up:
        assert len(results) < 20, results[-1]
        results.append(await watcher.run_cycle(NOW))
    return results


async def enrolled_seat(
    deployed: Deployed, uows: UnitOfWorkFactory, seat_id: str, key: int
) -> bytes:
    vault = deploy_vault(deployed, seat_id, BENEFICIARY, DESTINATION).address
    pubkey = signed_deposit(key, withdrawal_credentials(vault)).pubkey
    await add_enrolled_seat(uows, seat_id, pubkey, vault)
    return pubkey


async def test_reorg_drops_abandoned_deposits_indexes_the_new_branch_and_flags_the_seat(
    anvil: Anvil, deployed: Deployed, store: Store
) -> None:
    _, uows = store
    contract = deployed.deposit_contract.address
    await enrolled_seat(deployed, uows, "seat-el-g", 921)
    start = head(anvil) + 1
    mine(anvil, 2)
    fork = anvil.snapshot()
    fork_block = head(anvil)
    deposit_for_seat(deployed, "seat-el-g", 921)
    deposit_direct(anvil, contract, fake_pubkey(800), credentials_for(STRANGER))
    mine(anvil, 2)
    async with rpc_client(anvil.url) as rpc:
        watcher = make_watcher(rpc, uows, contract, start_block=start, reorg_window=16)
        await catch_up(watcher)
        assert await seat_status(uows, "seat-el-g") == "DEPOSITED"
        abandoned = await indexed(uows)
        assert len(abandoned) == 2
        old_cursor = await cursor(uows)

        anvil.revert(fork)  # branch B: other deposits, and longer
        deposit_direct(anvil, contract, fake_pubkey(801), credentials_for(STRANGER))
        with pytest.raises(ChainMovedDuringScan, match="behind the scanned block"):
            await watcher.run_cycle(NOW)  # the node is behind our cursor: wait, change nothing
        assert await indexed(uows) == abandoned
        deposit_direct(anvil, contract, fake_pubkey(802), credentials_for(STRANGER))
        mine(anvil, 5)
        results = await catch_up(watcher)

    assert results[0].rewound_to == fork_block
    assert results[0].reorg_depth == old_cursor - fork_block
    assert await cursor(uows) == head(anvil)
    now_indexed = await indexed(uows)
    assert now_indexed == chain_deposits(anvil, contract, start, head(anvil))
    assert [d.pubkey for d in now_indexed] == [fake_pubkey(801), fake_pubkey(802)]
    assert not {(d.block_hash, d.log_index) for d in abandoned} & {
        (d.block_hash, d.log_index) for d in now_indexed
    }

    assert await seat_status(uows, "seat-el-g") == "EXCEPTION"
    deposited, reorged = await seat_events(uows, "seat-el-g")
    assert deposited.to_status == "DEPOSITED"
    assert deposited.evidence["block_hash"] in {d.block_hash for d in abandoned}
    assert (reorged.from_status, reorged.to_status, reorged.reason) == (
        "DEPOSITED",
        "EXCEPTION",
        "REORGED_DEPOSIT",
    )
    assert reorged.evidence["reorged_evidence"] == deposited.evidence
    assert reorged.evidence["common_ancestor_block"] == fork_block
    (rewound,) = await audit_events(uows, "el.reorg.rewound")
    assert rewound.data["deposits_removed"] == 2


async def test_deposit_reincluded_on_the_new_branch_is_noted_for_the_seat_in_exception(
    anvil: Anvil, deployed: Deployed, store: Store
) -> None:
    _, uows = store
    contract = deployed.deposit_contract.address
    pubkey = await enrolled_seat(deployed, uows, "seat-el-h", 922)
    start = head(anvil) + 1
    fork = anvil.snapshot()
    deposit_direct(anvil, contract, pubkey, credentials_for(STRANGER), sender=STRANGER)
    mine(anvil, 1)
    async with rpc_client(anvil.url) as rpc:
        watcher = make_watcher(rpc, uows, contract, start_block=start)
        await catch_up(watcher)
        assert await seat_status(uows, "seat-el-h") == "EXCEPTION"  # front-run on branch A

        anvil.revert(fork)  # branch B: no front-run, our deposit instead
        ours = deposit_for_seat(deployed, "seat-el-h", 922)
        mine(anvil, 3)
        await catch_up(watcher)

    assert [d.pubkey for d in await indexed(uows)] == [pubkey]
    (exception,) = await seat_events(uows, "seat-el-h")  # sticky: no new seat transition
    assert exception.reason == "FOREIGN_DEPOSIT_FOR_PUBKEY"
    (reorged,) = await audit_events(uows, "seat.deposit.reorged")
    assert reorged.subject_id == "seat-el-h"
    assert reorged.data["reorged_evidence"]["block_hash"] == exception.evidence["block_hash"]
    (noted,) = await audit_events(uows, "seat.deposit.noted")
    assert (noted.subject_id, noted.reason_code) == ("seat-el-h", "DEPOSIT_MATCHED")
    assert noted.data["tx_hash"] == "0x" + bytes(ours["transactionHash"]).hex()
    assert await seat_status(uows, "seat-el-h") == "EXCEPTION"


async def test_reorg_deeper_than_the_window_halts_and_changes_nothing(
    anvil: Anvil, deployed: Deployed, store: Store
) -> None:
    engine, uows = store
    contract = deployed.deposit_contract.address
    start = head(anvil) + 1
    fork = anvil.snapshot()
    deposit_direct(anvil, contract, fake_pubkey(810), credentials_for(STRANGER))
    mine(anvil, 10)
    async with rpc_client(anvil.url) as rpc:
        watcher = make_watcher(rpc, uows, contract, start_block=start, reorg_window=4)
        await catch_up(watcher)
        before = await table_dump(engine)
        assert len(before["el_blocks"]) <= 4 + 2  # pruned to the window (and the cursor)

        anvil.revert(fork)
        deposit_direct(anvil, contract, fake_pubkey(811), credentials_for(STRANGER))
        mine(anvil, 15)
        for _ in range(2):  # stays halted: every later cycle refuses again
            with pytest.raises(ReorgTooDeep, match="deeper than the window of 4 blocks") as info:
                await watcher.run_cycle(NOW)
            assert info.value.code == "EL_REORG_TOO_DEEP"
            assert await table_dump(engine) == before
