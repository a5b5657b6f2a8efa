"""The EL watcher on anvil and a real store (SQLite and PostgreSQL): indexing, matching,
rescans, completeness offsets and metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from seat_manager.adapters.db.tables import WatcherStateRow
from seat_manager.adapters.db.uow import UnitOfWorkFactory
from seat_manager.domain.vaults import withdrawal_credentials
from seat_manager.workers.el_metrics import ElWatcherMetrics
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
    watcher_state,
)

pytestmark = pytest.mark.anvil

OWNER, BENEFICIARY, DESTINATION, ATTACKER = ACCOUNTS[:4]
Store = tuple[AsyncEngine, UnitOfWorkFactory]


@pytest.fixture
async def store(store_env: dict[str, str]) -> AsyncIterator[Store]:
    engine = await migrated_engine(store_env)
    try:
        yield engine, UnitOfWorkFactory(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    env = {"ONBOARDING_STORE_DRIVER": "sqlite", "ONBOARDING_SQLITE_PATH": str(tmp_path / "s.db")}
    engine = await migrated_engine(env)
    try:
        yield engine, UnitOfWorkFactory(engine)
    finally:
        await engine.dispose()


async def catch_up(watcher: ElDepositWatcher, limit: int = 20) -> list[ElCycleResult]:
    results = []
    for _ in range(limit):
        results.append(await watcher.run_cycle(NOW))
        if results[-1].caught_up:
            return results
    raise AssertionError(f"not caught up after {limit} cycles: {results[-1]}")


async def test_factory_and_foreign_deposits_are_indexed_once_and_move_their_seats(
    anvil: Anvil, deployed: Deployed, store: Store
) -> None:
    _, uows = store
    contract = deployed.deposit_contract.address
    start = head(anvil) + 1
    vault_a = deploy_vault(deployed, "seat-el-a", BENEFICIARY, DESTINATION).address
    vault_b = deploy_vault(deployed, "seat-el-b", BENEFICIARY, DESTINATION).address
    pubkey_a = signed_deposit(901, withdrawal_credentials(vault_a)).pubkey
    pubkey_b = signed_deposit(902, withdrawal_credentials(vault_b)).pubkey
    await add_enrolled_seat(uows, "seat-el-a", pubkey_a, vault_a)
    await add_enrolled_seat(uows, "seat-el-b", pubkey_b, vault_b)

    ours_a = deposit_for_seat(deployed, "seat-el-a", 901)
    mine(anvil, 3)
    foreign_b = deposit_direct(
        anvil, contract, pubkey_b, credentials_for(ATTACKER), amount_gwei=10**9, sender=ATTACKER
    )
    deposit_for_seat(deployed, "seat-el-b", 902)  # ours, after the front-run
    deposit_direct(anvil, contract, fake_pubkey(7), credentials_for(ATTACKER))  # nobody's
    mine(anvil, 5)

    registry = CollectorRegistry()
    async with rpc_client(anvil.url) as rpc:
        watcher = make_watcher(
            rpc, uows, contract, start_block=start, max_range=4, metrics=ElWatcherMetrics(registry)
        )
        results = await catch_up(watcher)

    tip = head(anvil)
    truth = chain_deposits(anvil, contract, start, tip)
    assert len(truth) == 4
    assert await indexed(uows) == truth
    assert sum(r.deposits_indexed for r in results) == 4
    assert sum(r.seats_moved for r in results) == 2
    for to_status in ("DEPOSITED", "EXCEPTION"):
        moves = registry.get_sample_value(
            "seat_manager_el_seat_moves_total", {"to_status": to_status}
        )
        assert moves == 1
    state = await watcher_state(uows)
    assert state["el_last_scanned_block"] == str(tip)
    assert (
        state["el_last_scanned_block_hash"]
        == anvil.rpc("eth_getBlockByNumber", [hex(tip), False])["hash"]
    )
    assert state["el_head_block"] == str(tip)

    assert await seat_status(uows, "seat-el-a") == "DEPOSITED"
    (deposited,) = await seat_events(uows, "seat-el-a")
    receipt_log = next(log for log in ours_a["logs"] if log["address"].lower() == contract.lower())
    assert deposited.actor == "watcher:el"
    assert deposited.evidence == {
        "block_number": ours_a["blockNumber"],
        "block_hash": "0x" + bytes(ours_a["blockHash"]).hex(),
        "tx_hash": "0x" + bytes(ours_a["transactionHash"]).hex(),
        "log_index": receipt_log["logIndex"],
        "deposit_index": 0,
        "amount_gwei": 32 * 10**9,
    }

    assert await seat_status(uows, "seat-el-b") == "EXCEPTION"
    (exception,) = await seat_events(uows, "seat-el-b")
    assert exception.reason == "FOREIGN_DEPOSIT_FOR_PUBKEY"
    assert exception.evidence["tx_hash"] == foreign_b
    assert exception.evidence["withdrawal_credentials"] == "0x" + credentials_for(ATTACKER).hex()
    assert exception.evidence["amount_gwei"] == 10**9
    (noted,) = await audit_events(uows, "seat.deposit.noted")
    assert (noted.subject_id, noted.reason_code) == ("seat-el-b", "EARLIER_DEPOSIT_FOR_PUBKEY")


async def test_scanning_the_same_blocks_again_changes_nothing(
    anvil: Anvil, deployed: Deployed, store: Store
) -> None:
    engine, uows = store
    contract = deployed.deposit_contract.address
    start = head(anvil) + 1
    vault = deploy_vault(deployed, "seat-el-r", BENEFICIARY, DESTINATION).address
    pubkey = signed_deposit(903, withdrawal_credentials(vault)).pubkey
    await add_enrolled_seat(uows, "seat-el-r", pubkey, vault)
    deposit_for_seat(deployed, "seat-el-r", 903)
    for n in range(3):
        deposit_direct(anvil, contract, fake_pubkey(20 + n), credentials_for(ATTACKER))
    mine(anvil, 2)
    async with rpc_client(anvil.url) as rpc:
        watcher = make_watcher(rpc, uows, contract, start_block=start, max_range=3)
        await catch_up(watcher)
        before = await table_dump(engine)
        assert len(before["el_deposits"]) == 4
        assert await seat_status(uows, "seat-el-r") == "DEPOSITED"

        again = await watcher.run_cycle(NOW)  # nothing new on chain
        assert (again.ranges, again.deposits_indexed) == (0, 0)
        assert await table_dump(engine) == before

        await _forget_cursor(engine)  # lose the cursor: every block is scanned again
        results = await catch_up(make_watcher(rpc, uows, contract, start_block=start))
    assert results[0].from_block == start
    assert sum(r.deposits_indexed for r in results) == 0
    assert sum(r.seats_moved for r in results) == 0
    assert await table_dump(engine) == before


async def _forget_cursor(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(delete(WatcherStateRow).where(WatcherStateRow.key.like("el_%")))


async def test_start_block_after_earlier_deposits_checks_completeness_from_that_block(
    anvil: Anvil, deployed: Deployed, sqlite_store: Store
) -> None:
    _, uows = sqlite_store
    contract = deployed.deposit_contract.address
    for n in range(2):
        deposit_direct(anvil, contract, fake_pubkey(30 + n), credentials_for(ATTACKER))
    start = head(anvil) + 1
    deposit_direct(anvil, contract, fake_pubkey(32), credentials_for(ATTACKER))
    mine(anvil, 1)
    async with rpc_client(anvil.url) as rpc:
        await catch_up(make_watcher(rpc, uows, contract, start_block=start))
    assert [d.pubkey for d in await indexed(uows)] == [fake_pubkey(32)]
    assert (await watcher_state(uows))["el_deposit_count"] == "3"


async def test_start_at_genesis_indexes_every_deposit_of_the_contract(
    anvil: Anvil, deployed: Deployed, sqlite_store: Store
) -> None:
    _, uows = sqlite_store
    contract = deployed.deposit_contract.address
    for n in range(3):
        deposit_direct(anvil, contract, fake_pubkey(40 + n), credentials_for(ATTACKER))
    async with rpc_client(anvil.url) as rpc:
        await catch_up(make_watcher(rpc, uows, contract, start_block=0, max_range=5000))
    assert await indexed(uows) == chain_deposits(anvil, contract, 0, head(anvil))
    assert await cursor(uows) == head(anvil)


async def test_confirmations_keep_the_newest_blocks_unscanned(
    anvil: Anvil, deployed: Deployed, sqlite_store: Store
) -> None:
    _, uows = sqlite_store
    contract = deployed.deposit_contract.address
    start = head(anvil) + 1
    deposit_direct(anvil, contract, fake_pubkey(50), credentials_for(ATTACKER))
    mine(anvil, 2)
    deposit_direct(anvil, contract, fake_pubkey(51), credentials_for(ATTACKER))
    async with rpc_client(anvil.url) as rpc:
        result = await make_watcher(
            rpc, uows, contract, start_block=start, confirmations=2
        ).run_cycle(NOW)
    assert result.to_block == head(anvil) - 2
    assert result.lag == 2
    assert [d.pubkey for d in await indexed(uows)] == [fake_pubkey(50)]


async def test_metrics_report_scanned_block_head_lag_and_deposits(
    anvil: Anvil, deployed: Deployed, sqlite_store: Store
) -> None:
    _, uows = sqlite_store
    contract = deployed.deposit_contract.address
    start = head(anvil) + 1
    for n in range(2):
        deposit_direct(anvil, contract, fake_pubkey(60 + n), credentials_for(ATTACKER))
    registry = CollectorRegistry()
    async with rpc_client(anvil.url) as rpc:
        watcher = make_watcher(
            rpc, uows, contract, start_block=start, metrics=ElWatcherMetrics(registry)
        )
        await catch_up(watcher)
    tip = head(anvil)
    assert registry.get_sample_value("seat_manager_el_scanned_block") == tip
    assert registry.get_sample_value("seat_manager_el_head_block") == tip
    assert registry.get_sample_value("seat_manager_el_lag_blocks") == 0
    assert registry.get_sample_value("seat_manager_el_deposits_indexed_total") == 2
    assert registry.get_sample_value("seat_manager_el_cycle_seconds_count") == 1


async def test_a_cycle_stops_after_its_range_budget_and_the_next_one_carries_on(
    anvil: Anvil, deployed: Deployed, sqlite_store: Store
) -> None:
    _, uows = sqlite_store
    contract = deployed.deposit_contract.address
    start = head(anvil) + 1
    for n in range(3):
        deposit_direct(anvil, contract, fake_pubkey(70 + n), credentials_for(ATTACKER))
        mine(anvil, 4)
    async with rpc_client(anvil.url) as rpc:
        watcher = make_watcher(
            rpc, uows, contract, start_block=start, max_range=4, max_ranges_per_cycle=2
        )
        first = await watcher.run_cycle(NOW)
        assert (first.ranges, first.to_block, first.caught_up) == (2, start + 7, False)
        results = [first, *await catch_up(watcher)]
    assert all(r.ranges <= 2 for r in results)
    assert results[-1].to_block == head(anvil)
    assert await indexed(uows) == chain_deposits(anvil, contract, start, head(anvil))
