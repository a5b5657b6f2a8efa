"""The EL watcher through a misbehaving proxy: every deposit indexed exactly once, and the
cursor never past a block whose deposits are not all recorded, checked after every cycle.

The loop below is what the runner does: call the cycle, and on a typed error log it and
call again. After each call the index is compared with the node's own logs up to the
stored cursor, so a single cycle that advanced too far, or recorded twice, fails.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from seat_manager.adapters.chain.errors import RpcError, RpcNodeError
from seat_manager.adapters.db.uow import UnitOfWorkFactory
from seat_manager.domain.vaults import withdrawal_credentials
from seat_manager.workers.el_errors import (
    DepositCountUnavailable,
    ElWatcherError,
    ElWatcherHalt,
)
from seat_manager.workers.el_metrics import ElWatcherMetrics
from seat_manager.workers.el_watcher import IN_FLIGHT, ElDepositWatcher
from tests.chain.helpers import deploy_vault, deposit_for_seat, signed_deposit
from tests.support.anvil import ACCOUNTS, Anvil, Deployed
from tests.support.el_chain import (
    NOW,
    add_enrolled_seat,
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
)
from tests.support.rpc_proxy import FaultPlan, RpcProxy

pytestmark = pytest.mark.anvil

BENEFICIARY, DESTINATION, DEPOSITOR = ACCOUNTS[1], ACCOUNTS[2], ACCOUNTS[3]


@pytest.fixture
async def uows(tmp_path: Path) -> AsyncIterator[UnitOfWorkFactory]:
    env = {"ONBOARDING_STORE_DRIVER": "sqlite", "ONBOARDING_SQLITE_PATH": str(tmp_path / "s.db")}
    engine = await migrated_engine(env)
    try:
        yield UnitOfWorkFactory(engine)
    finally:
        await engine.dispose()


def spread_deposits(anvil: Anvil, contract: str, first: int, count: int, gap: int) -> None:
    for n in range(count):
        deposit_direct(anvil, contract, fake_pubkey(first + n), credentials_for(DEPOSITOR))
        mine(anvil, gap)


async def assert_index_matches_chain_up_to_cursor(
    anvil: Anvil, uows: UnitOfWorkFactory, contract: str, start: int
) -> int | None:
    """The invariant: indexed == the chain's deposits of start..cursor, each once."""
    scanned = await cursor(uows)
    rows = await indexed(uows)
    if scanned is None:
        assert rows == []
        return None
    assert rows == chain_deposits(anvil, contract, start, scanned)
    assert len({(d.block_hash, d.log_index) for d in rows}) == len(rows)
    return scanned


async def drive(
    watcher: ElDepositWatcher,
    anvil: Anvil,
    uows: UnitOfWorkFactory,
    contract: str,
    start: int,
    *,
    cycles: int,
) -> Counter[str]:
    """Run cycles like the runner until caught up with the node's head; check each one."""
    failures: Counter[str] = Counter()
    for _ in range(cycles):
        try:
            result = await watcher.run_cycle(NOW)
        except ElWatcherHalt:
            raise
        except (RpcError, ElWatcherError) as exc:
            failures[exc.code] += 1
            await assert_index_matches_chain_up_to_cursor(anvil, uows, contract, start)
            continue
        scanned = await assert_index_matches_chain_up_to_cursor(anvil, uows, contract, start)
        if result.caught_up and scanned == head(anvil):
            return failures
    raise AssertionError(f"not caught up after {cycles} cycles; failures {dict(failures)}")


async def test_random_transport_and_node_faults_never_lose_or_double_a_deposit(
    anvil: Anvil, deployed: Deployed, uows: UnitOfWorkFactory
) -> None:
    contract = deployed.deposit_contract.address
    start = head(anvil) + 1
    vault = deploy_vault(deployed, "seat-el-f", BENEFICIARY, DESTINATION).address
    pubkey = signed_deposit(911, withdrawal_credentials(vault)).pubkey
    await add_enrolled_seat(uows, "seat-el-f", pubkey, vault)
    spread_deposits(anvil, contract, 100, 6, gap=7)
    deposit_for_seat(deployed, "seat-el-f", 911)
    spread_deposits(anvil, contract, 200, 6, gap=3)

    plan = FaultPlan(
        seed=4,
        rates={
            "rpc_error": 0.08,
            "http_503": 0.08,
            "timeout": 0.05,
            "drop": 0.08,
            "truncate": 0.08,
            "short_body": 0.08,
        },
        max_log_range=24,
        hold_seconds=1.0,
    )
    registry = CollectorRegistry()
    async with RpcProxy(anvil.url, plan) as proxy, rpc_client(proxy.url) as rpc:
        watcher = make_watcher(
            rpc,
            uows,
            contract,
            start_block=start,
            max_range=64,
            metrics=ElWatcherMetrics(registry),
        )
        failures = await drive(watcher, anvil, uows, contract, start, cycles=150)
        for n in range(3):  # the chain moves on while the faults continue
            spread_deposits(anvil, contract, 300 + 10 * n, 2, gap=2)
            failures += await drive(watcher, anvil, uows, contract, start, cycles=150)

    assert set(proxy.injected) >= {*plan.rates, "range_too_large"}, proxy.injected
    assert failures, "no cycle failed: the faults did not reach the watcher"
    assert registry.get_sample_value(
        "seat_manager_el_range_refusals_total", {"kind": "RPC_NODE_ERROR"}
    )
    assert len(await indexed(uows)) == 19
    events = await seat_events(uows, "seat-el-f")
    assert [(e.from_status, e.to_status) for e in events] == [("ENROLLED", "DEPOSITED")]


async def test_the_next_range_is_asked_for_while_the_previous_answer_is_awaited(
    anvil: Anvil, deployed: Deployed, uows: UnitOfWorkFactory
) -> None:
    contract = deployed.deposit_contract.address
    start = head(anvil) + 1
    spread_deposits(anvil, contract, 700, 6, gap=5)
    plan = FaultPlan(slow_methods={"eth_getLogs": 0.2})
    async with RpcProxy(anvil.url, plan) as proxy, rpc_client(proxy.url) as rpc:
        watcher = make_watcher(rpc, uows, contract, start_block=start, max_range=4)
        failures = await drive(watcher, anvil, uows, contract, start, cycles=3)
    assert failures == Counter()
    assert proxy.max_in_flight == IN_FLIGHT == 2
    assert len(await indexed(uows)) == 6


async def test_range_limit_of_the_node_shrinks_the_range_until_it_is_accepted(
    anvil: Anvil, deployed: Deployed, uows: UnitOfWorkFactory
) -> None:
    """The ranges asked for after a refused one (in flight, the node being slow) are
    dropped with it: the invariant in ``drive`` fails if any were recorded."""
    contract = deployed.deposit_contract.address
    start = head(anvil) + 1
    spread_deposits(anvil, contract, 400, 5, gap=6)
    plan = FaultPlan(max_log_range=5, slow_methods={"eth_getLogs": 0.05})
    async with RpcProxy(anvil.url, plan) as proxy, rpc_client(proxy.url) as rpc:
        watcher = make_watcher(rpc, uows, contract, start_block=start, max_range=64)
        failures = await drive(watcher, anvil, uows, contract, start, cycles=5)
    assert failures == Counter()
    assert proxy.injected["range_too_large"] >= 4  # 64 -> 32 -> 16 -> 8 -> 4
    assert watcher.range_size <= 5
    assert len(await indexed(uows)) == 5


async def test_too_many_results_shrinks_the_range_below_the_node_result_cap(
    anvil: Anvil, deployed: Deployed, uows: UnitOfWorkFactory
) -> None:
    contract = deployed.deposit_contract.address
    start = head(anvil) + 1
    spread_deposits(anvil, contract, 500, 8, gap=1)
    async with (
        RpcProxy(anvil.url, FaultPlan(max_log_results=2)) as proxy,
        rpc_client(proxy.url) as rpc,
    ):
        watcher = make_watcher(rpc, uows, contract, start_block=start, max_range=64)
        failures = await drive(watcher, anvil, uows, contract, start, cycles=5)
    assert failures == Counter()
    assert proxy.injected["too_many_results"] > 0
    assert len(await indexed(uows)) == 8


async def test_a_node_that_silently_drops_logs_is_caught_by_the_deposit_count(
    anvil: Anvil, deployed: Deployed, uows: UnitOfWorkFactory
) -> None:
    contract = deployed.deposit_contract.address
    start = head(anvil) + 1
    spread_deposits(anvil, contract, 600, 4, gap=2)
    registry = CollectorRegistry()
    async with (
        RpcProxy(anvil.url, FaultPlan(hide_logs_over=1)) as proxy,
        rpc_client(proxy.url) as rpc,
    ):
        watcher = make_watcher(
            rpc,
            uows,
            contract,
            start_block=start,
            max_range=64,
            metrics=ElWatcherMetrics(registry),
        )
        await drive(watcher, anvil, uows, contract, start, cycles=5)
    assert proxy.injected["hidden_logs"] > 0
    assert registry.get_sample_value(
        "seat_manager_el_range_refusals_total", {"kind": "EL_INDEX_INCOMPLETE"}
    )
    assert len(await indexed(uows)) == 4


async def test_a_node_that_always_refuses_get_logs_leaves_cursor_and_index_untouched(
    anvil: Anvil, deployed: Deployed, uows: UnitOfWorkFactory
) -> None:
    contract = deployed.deposit_contract.address
    start = head(anvil) + 1
    spread_deposits(anvil, contract, 700, 2, gap=1)
    plan = FaultPlan(rates={"rpc_error": 1.0}, only_methods=frozenset({"eth_getLogs"}))
    async with RpcProxy(anvil.url, plan) as proxy, rpc_client(proxy.url) as rpc:
        watcher = make_watcher(rpc, uows, contract, start_block=start, max_range=8)
        for _ in range(3):
            with pytest.raises(RpcNodeError, match="injected failure"):
                await watcher.run_cycle(NOW)
            assert await cursor(uows) is None
            assert await indexed(uows) == []
        assert watcher.range_size == 1  # halved down to one block before giving up
    assert proxy.injected["rpc_error"] >= 3


async def test_node_without_historical_state_stops_the_scan_with_a_clear_error(
    anvil: Anvil, deployed: Deployed, uows: UnitOfWorkFactory
) -> None:
    contract = deployed.deposit_contract.address
    start = head(anvil) + 1
    spread_deposits(anvil, contract, 800, 2, gap=1)
    plan = FaultPlan(refuse_methods={"eth_call": "missing trie node abc (path )"})
    async with RpcProxy(anvil.url, plan) as proxy, rpc_client(proxy.url) as rpc:
        watcher = make_watcher(rpc, uows, contract, start_block=start, max_range=8)
        with pytest.raises(DepositCountUnavailable, match="archive node") as info:
            await watcher.run_cycle(NOW)
        assert info.value.data["rpc_message"] == "missing trie node abc (path )"
        assert watcher.range_size == 8  # a smaller range cannot help: not retried smaller
    assert await cursor(uows) is None
    assert await indexed(uows) == []
