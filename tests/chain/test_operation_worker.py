"""The operation worker with the OWNER_SEND executor on anvil and a real store (SQLite
and PostgreSQL): vault deployment and the 32 ETH deposit, effects already on chain,
leases, retries, the deposit guards and the reserve limit, confirmations and fee
replacement."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from web3.logs import DISCARD

from seat_manager.adapters.chain.errors import RpcTransportError
from seat_manager.adapters.chain.executor import Executor, OwnerSendExecutor, Succeeded
from seat_manager.adapters.chain.nonces import Step
from seat_manager.adapters.chain.rpc import RetryPolicy, RpcClient
from seat_manager.adapters.chain.signer import LocalSigner
from seat_manager.adapters.db import queue
from seat_manager.adapters.db.queue import ClaimedOperation
from seat_manager.adapters.db.tables import AuditEventRow, NonceReservationRow, OperationRow
from seat_manager.adapters.db.uow import UnitOfWorkFactory
from seat_manager.domain.operations import OperationKind
from seat_manager.workers.operation_worker import OperationWorker
from tests.chain.helpers import DEPOSIT_WEI, ETHER, deploy_vault, send
from tests.support.anvil import ACCOUNT_KEYS, ACCOUNTS, CHAIN_ID, Anvil, Deployed
from tests.support.cli import runtime_env, start_cli
from tests.support.deposit_data import make_deposit_data
from tests.support.worker_setup import (
    ETH,
    ChainSetup,
    enroll,
    index_deposit,
    later,
    open_store,
    operation,
    set_scanned_block,
    transactions,
)

pytestmark = pytest.mark.anvil

OWNER, BENEFICIARY, DESTINATION, ATTACKER = ACCOUNTS[:4]
OWNER_KEY = ACCOUNT_KEYS[0]
T1 = later(1)


@pytest.fixture
async def store(store_env: dict[str, str]) -> AsyncIterator[UnitOfWorkFactory]:
    engine, uow = await open_store(store_env)
    try:
        yield uow
    finally:
        await engine.dispose()


@pytest.fixture
async def rpc(anvil: Anvil) -> AsyncIterator[RpcClient]:
    async with RpcClient(anvil.url) as client:
        yield client


@pytest.fixture
def chain(deployed: Deployed) -> ChainSetup:
    factory = deployed.factory.functions
    return ChainSetup(
        chain_id=CHAIN_ID,
        vault_factory=deployed.factory.address,
        vault_init_code_hash="0x" + bytes(factory.vaultInitCodeHash().call()).hex(),
        deposit_contract=deployed.deposit_contract.address,
        principal_destination=DESTINATION,
    )


def make_worker(
    store: UnitOfWorkFactory,
    rpc: RpcClient,
    chain: ChainSetup,
    *,
    on_step: Step | None = None,
    max_attempts: int = 8,
    **config: Any,
) -> OperationWorker:
    executor = OwnerSendExecutor(
        rpc,
        LocalSigner(OWNER_KEY),
        store,
        chain.config(**config),
        clock=lambda: T1,
        on_step=on_step,
    )
    return OperationWorker(
        store, executor, worker_id="worker-a", clock=lambda: T1, max_attempts=max_attempts
    )


def chain_nonce(anvil: Anvil) -> int:
    return int(anvil.w3.eth.get_transaction_count(OWNER))


async def caught_up(store: UnitOfWorkFactory, anvil: Anvil) -> None:
    await set_scanned_block(store, int(anvil.w3.eth.block_number))


async def audit_types(store: UnitOfWorkFactory, operation_id: str) -> list[str]:
    async with store() as uow:
        result = await uow.session.execute(
            select(AuditEventRow.event_type)
            .where(AuditEventRow.subject_id == operation_id)
            .order_by(AuditEventRow.id)
        )
        return list(result.scalars())


async def deployed_and_queued_deposit(
    anvil: Anvil, store: UnitOfWorkFactory, rpc: RpcClient, chain: ChainSetup, seat: str, key: int
) -> tuple[str, Any]:
    """A seat whose vault the worker deployed, with its DEPOSIT queued next."""
    ids, entry = await enroll(store, chain, seat, validator_key=key, beneficiary=BENEFICIARY)
    outcome = await make_worker(store, rpc, chain).run_once(T1)
    assert outcome is not None and outcome.kind == OperationKind.DEPLOY_VAULT
    assert outcome.result == "succeeded"
    await caught_up(store, anvil)
    return ids[OperationKind.DEPOSIT], entry


# ---- the deposit path ----------------------------------------------------------------------


async def test_deploy_vault_then_deposit_lands_32_eth_with_the_submitted_deposit_data(
    anvil: Anvil, deployed: Deployed, store: UnitOfWorkFactory, rpc: RpcClient, chain: ChainSetup
) -> None:
    ids, entry = await enroll(store, chain, "seat-w1", validator_key=4101, beneficiary=BENEFICIARY)
    await caught_up(store, anvil)
    worker = make_worker(store, rpc, chain)
    nonce_before = chain_nonce(anvil)

    first = await worker.run_once(T1)
    second = await worker.run_once(T1)
    assert await worker.run_once(T1) is None

    assert (first and first.kind, first and first.result) == (
        OperationKind.DEPLOY_VAULT,
        "succeeded",
    )
    assert (second and second.kind, second and second.result) == (
        OperationKind.DEPOSIT,
        "succeeded",
    )
    vault = chain.vault("seat-w1")
    assert deployed.factory.functions.predictVault("seat-w1").call() == vault
    assert anvil.w3.eth.get_code(vault) != b""
    assert deployed.vault(vault).functions.principalOutstanding().call() == DEPOSIT_WEI
    assert chain_nonce(anvil) == nonce_before + 2

    deposit_op = await operation(store, ids[OperationKind.DEPOSIT])
    assert deposit_op.status == "succeeded" and deposit_op.attempts == 1
    receipt = anvil.w3.eth.get_transaction_receipt(deposit_op.tx_hash)
    (event,) = deployed.deposit_contract.events.DepositEvent().process_receipt(
        receipt, errors=DISCARD
    )
    args = event["args"]
    assert bytes(args["pubkey"]) == entry.pubkey
    assert bytes(args["withdrawal_credentials"]) == entry.withdrawal_credentials
    assert bytes(args["signature"]) == entry.signature
    assert int.from_bytes(args["amount"], "little") == entry.amount_gwei
    assert await audit_types(store, ids[OperationKind.DEPOSIT]) == ["operation.succeeded"]
    (stored,) = await transactions(store, ids[OperationKind.DEPOSIT])
    assert (stored.tx_hash, stored.nonce) == (deposit_op.tx_hash, deposit_op.tx_nonce)
    assert int(stored.max_fee_per_gas) >= int(stored.max_priority_fee_per_gas) >= 0


async def test_a_deposit_is_not_claimed_while_its_vault_deployment_is_live(
    store: UnitOfWorkFactory, chain: ChainSetup
) -> None:
    ids, _ = await enroll(store, chain, "seat-w2", validator_key=4102, beneficiary=BENEFICIARY)
    async with store() as uow:
        claimed = await queue.claim_next(uow.session, "w", T1, 30)
        second = await queue.claim_next(uow.session, "w", T1, 30)
        await uow.commit()
    assert claimed is not None and claimed.operation_id == ids[OperationKind.DEPLOY_VAULT]
    assert second is None


async def test_an_effect_already_on_chain_succeeds_without_sending(
    anvil: Anvil, deployed: Deployed, store: UnitOfWorkFactory, rpc: RpcClient, chain: ChainSetup
) -> None:
    ids, _ = await enroll(
        store,
        chain,
        "seat-w3",
        validator_key=4103,
        beneficiary=BENEFICIARY,
        kinds=(OperationKind.DEPLOY_VAULT,),
    )
    deploy_vault(deployed, "seat-w3", BENEFICIARY, DESTINATION)
    nonce_before = chain_nonce(anvil)

    outcome = await make_worker(store, rpc, chain).run_once(T1)

    assert outcome is not None and outcome.result == "succeeded"
    assert chain_nonce(anvil) == nonce_before
    row = await operation(store, ids[OperationKind.DEPLOY_VAULT])
    assert row.status == "succeeded" and row.tx_hash is None
    assert await transactions(store, ids[OperationKind.DEPLOY_VAULT]) == []


# ---- leases and retries --------------------------------------------------------------------


async def test_a_stale_worker_cannot_finish_heartbeat_or_store_a_transaction(
    store: UnitOfWorkFactory, chain: ChainSetup
) -> None:
    ids, _ = await enroll(
        store,
        chain,
        "seat-w4",
        validator_key=4104,
        beneficiary=BENEFICIARY,
        kinds=(OperationKind.DEPLOY_VAULT,),
    )
    async with store() as uow:
        stale = await queue.claim_next(uow.session, "stale", T1, 30)
        await uow.commit()
    async with store() as uow:
        assert await queue.claim_next(uow.session, "fresh", later(20), 30) is None
        fresh = await queue.claim_next(uow.session, "fresh", later(32), 30)
        await uow.commit()
    assert stale is not None and fresh is not None
    assert fresh.operation_id == stale.operation_id and fresh.attempts == 2

    async with store() as uow:
        s = uow.session
        assert not await queue.heartbeat(s, stale.operation_id, "stale", later(33), 30)
        assert not await queue.record_transaction(
            s, stale.operation_id, "stale", nonce=1, tx_hash="0x" + "00" * 32, raw_hex="0x", now=T1
        )
        assert not await queue.finish(
            s,
            stale.operation_id,
            "stale",
            status=queue.OperationStatus.SUCCEEDED,
            now=later(33),
            error_code=None,
            error_message=None,
        )
        await uow.commit()
    row = await operation(store, ids[OperationKind.DEPLOY_VAULT])
    assert (row.status, row.lease_owner, row.attempts, row.tx_hash) == (
        "processing",
        "fresh",
        2,
        None,
    )


class TakenOverExecutor:
    """Another worker reclaims the operation while this one is still executing."""

    def __init__(self, store: UnitOfWorkFactory) -> None:
        self.store = store

    async def execute(self, op: ClaimedOperation) -> Succeeded:
        async with self.store() as uow:
            assert await queue.claim_next(uow.session, "worker-b", later(3600), 30) is not None
            await uow.commit()
        return Succeeded({"done": True})


async def test_a_worker_that_lost_its_lease_drops_its_result(
    store: UnitOfWorkFactory, chain: ChainSetup
) -> None:
    ids, _ = await enroll(
        store,
        chain,
        "seat-w5",
        validator_key=4105,
        beneficiary=BENEFICIARY,
        kinds=(OperationKind.DEPLOY_VAULT,),
    )
    executor: Executor = TakenOverExecutor(store)
    worker = OperationWorker(store, executor, worker_id="worker-a", clock=lambda: T1)

    outcome = await worker.run_once(T1)

    assert outcome is not None and outcome.result == "abandoned"
    row = await operation(store, ids[OperationKind.DEPLOY_VAULT])
    assert (row.status, row.lease_owner) == ("processing", "worker-b")
    assert worker.counts.processed == 1 and worker.counts.succeeded == 0
    assert await audit_types(store, ids[OperationKind.DEPLOY_VAULT]) == []


async def test_retryable_rpc_errors_requeue_with_backoff_then_fail_after_max_attempts(
    store: UnitOfWorkFactory, chain: ChainSetup
) -> None:
    ids, _ = await enroll(
        store,
        chain,
        "seat-w6",
        validator_key=4106,
        beneficiary=BENEFICIARY,
        kinds=(OperationKind.DEPLOY_VAULT,),
    )
    async with RpcClient("http://127.0.0.1:9", retry=RetryPolicy(attempts=1)) as dead:
        worker = make_worker(store, dead, chain, max_attempts=2)
        first = await worker.run_once(T1)
        row = await operation(store, ids[OperationKind.DEPLOY_VAULT])
        assert first is not None and first.result == "requeued"
        assert first.code == RpcTransportError.default_code
        assert (row.status, row.attempts, row.error_code) == ("queued", 1, "RPC_TRANSPORT_ERROR")
        assert row.available_at > T1
        assert await worker.run_once(T1) is None  # not due before its backoff

        second = await worker.run_once(later(3600))
    row = await operation(store, ids[OperationKind.DEPLOY_VAULT])
    assert second is not None and second.result == "failed"
    assert (row.status, row.attempts, row.error_code) == ("failed", 2, "RPC_TRANSPORT_ERROR")
    assert "gave up after 2 attempts" in (row.error_message or "")
    assert await audit_types(store, ids[OperationKind.DEPLOY_VAULT]) == [
        "operation.requeued",
        "operation.failed",
    ]


# ---- deposit guards ------------------------------------------------------------------------


async def nonce_reservations(store: UnitOfWorkFactory, operation_id: str) -> int:
    async with store() as uow:
        result = await uow.session.execute(
            select(func.count()).where(NonceReservationRow.operation_id == operation_id)
        )
        return int(result.scalar_one())


async def test_a_deposit_over_the_reserve_limit_fails_with_the_figures_and_sends_nothing(
    anvil: Anvil, store: UnitOfWorkFactory, rpc: RpcClient, chain: ChainSetup
) -> None:
    deposit_id, _ = await deployed_and_queued_deposit(anvil, store, rpc, chain, "seat-w7", 4107)
    nonce_before = chain_nonce(anvil)

    outcome = await make_worker(store, rpc, chain, reserve_limit_wei=32 * ETH - 1).run_once(T1)

    assert outcome is not None and outcome.result == "failed"
    row = await operation(store, deposit_id)
    assert row.error_code == "RESERVE_COVERAGE_LIMIT_EXCEEDED"
    assert str(32 * ETH) in (row.error_message or "")
    assert str(32 * ETH - 1) in (row.error_message or "")
    assert chain_nonce(anvil) == nonce_before
    assert await nonce_reservations(store, deposit_id) == 0


async def test_a_signed_deposit_of_another_seat_counts_against_the_reserve(
    anvil: Anvil, store: UnitOfWorkFactory, rpc: RpcClient, chain: ChainSetup
) -> None:
    first, _ = await enroll(store, chain, "seat-w8a", validator_key=4108, beneficiary=BENEFICIARY)
    second, _ = await enroll(store, chain, "seat-w8b", validator_key=4109, beneficiary=BENEFICIARY)
    await caught_up(store, anvil)
    worker = make_worker(store, rpc, chain, reserve_limit_wei=64 * ETH - 1)

    assert await worker.run_cycle(T1) == 4

    # Both seats stay ENROLLED (no watcher here): the first deposit is in flight.
    deposits = [await operation(store, ids[OperationKind.DEPOSIT]) for ids in (first, second)]
    assert sorted((op.status, op.error_code) for op in deposits) == [
        ("failed", "RESERVE_COVERAGE_LIMIT_EXCEEDED"),
        ("succeeded", None),
    ]
    failed = next(op for op in deposits if op.status == "failed")
    assert "deposits in flight 32000000000000000000 wei (1)" in (failed.error_message or "")


async def test_a_deposit_for_a_pubkey_the_index_has_seen_fails_and_is_never_sent(
    anvil: Anvil, store: UnitOfWorkFactory, rpc: RpcClient, chain: ChainSetup
) -> None:
    deposit_id, entry = await deployed_and_queued_deposit(anvil, store, rpc, chain, "seat-w9", 4110)
    theirs = b"\x01" + b"\x00" * 11 + bytes.fromhex(ATTACKER[2:])
    await index_deposit(store, entry, block=int(anvil.w3.eth.block_number), credentials=theirs)
    nonce_before = chain_nonce(anvil)

    outcome = await make_worker(store, rpc, chain).run_once(T1)

    assert outcome is not None and outcome.result == "failed"
    row = await operation(store, deposit_id)
    assert row.error_code == "PUBKEY_ALREADY_DEPOSITED"
    assert "0x" + theirs.hex() in (row.error_message or "")
    assert chain_nonce(anvil) == nonce_before


def front_run(deployed: Deployed, validator_key: int) -> None:
    """Someone holding the validator key deposits 1 ETH to credentials of their own."""
    theirs = make_deposit_data(
        validator_key, b"\x01" + b"\x00" * 11 + bytes.fromhex(ATTACKER[2:]), amount_gwei=10**9
    )
    call = deployed.deposit_contract.functions.deposit(
        theirs.pubkey, theirs.withdrawal_credentials, theirs.signature, theirs.deposit_data_root
    )
    assert send(call, {"from": ATTACKER, "value": ETHER})["status"] == 1


async def test_a_front_run_deposit_not_yet_indexed_is_found_on_chain_and_ours_never_goes_out(
    anvil: Anvil, deployed: Deployed, store: UnitOfWorkFactory, rpc: RpcClient, chain: ChainSetup
) -> None:
    deposit_id, _ = await deployed_and_queued_deposit(anvil, store, rpc, chain, "seat-w10", 4111)
    front_run(deployed, 4111)  # after the index's last scanned block
    nonce_before = chain_nonce(anvil)

    outcome = await make_worker(store, rpc, chain).run_once(T1)

    assert outcome is not None and outcome.result == "failed"
    row = await operation(store, deposit_id)
    assert row.error_code == "PUBKEY_ALREADY_DEPOSITED"
    assert "not yet indexed" in (row.error_message or "")
    assert chain_nonce(anvil) == nonce_before


async def test_a_front_run_after_the_guard_makes_our_deposit_revert_on_the_root_and_nothing_is_lost(
    anvil: Anvil, deployed: Deployed, store: UnitOfWorkFactory, rpc: RpcClient, chain: ChainSetup
) -> None:
    deposit_id, _ = await deployed_and_queued_deposit(anvil, store, rpc, chain, "seat-w11", 4112)

    async def front_run_once_signed(step: str, op: ClaimedOperation) -> None:
        if step == "signed":
            front_run(deployed, 4112)

    owner_before = anvil.w3.eth.get_balance(OWNER)
    outcome = await make_worker(store, rpc, chain, on_step=front_run_once_signed).run_once(T1)

    assert outcome is not None and outcome.result == "failed"
    row = await operation(store, deposit_id)
    assert row.error_code == "TX_REVERTED"
    assert "StaleDepositRoot(" in (row.error_message or "")
    (ours,) = await transactions(store, deposit_id)
    assert ours.tx_hash in (row.error_message or "")
    receipt = anvil.w3.eth.get_transaction_receipt(ours.tx_hash)
    assert receipt["status"] == 0
    gas_paid = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert anvil.w3.eth.get_balance(OWNER) == owner_before - gas_paid
    vault = deployed.vault(chain.vault("seat-w11"))
    assert vault.functions.principalOutstanding().call() == 0
    assert anvil.w3.eth.get_balance(deployed.deposit_contract.address) == ETHER  # theirs only


async def test_a_deposit_waits_while_the_index_lags_without_spending_attempts(
    anvil: Anvil, store: UnitOfWorkFactory, rpc: RpcClient, chain: ChainSetup
) -> None:
    deposit_id, _ = await deployed_and_queued_deposit(anvil, store, rpc, chain, "seat-w12", 4113)
    anvil.rpc("anvil_mine", [hex(20)])
    nonce_before = chain_nonce(anvil)

    outcome = await make_worker(store, rpc, chain, watcher_max_lag_blocks=5).run_once(T1)

    assert outcome is not None and outcome.result == "requeued"
    row = await operation(store, deposit_id)
    assert (row.status, row.error_code, row.attempts) == ("queued", "WATCHER_NOT_CAUGHT_UP", 0)
    assert chain_nonce(anvil) == nonce_before


# ---- confirmations and replacement ---------------------------------------------------------


async def test_success_waits_for_confirmations_and_never_sends_twice(
    anvil: Anvil, store: UnitOfWorkFactory, rpc: RpcClient, chain: ChainSetup
) -> None:
    ids, _ = await enroll(
        store,
        chain,
        "seat-w13",
        validator_key=4114,
        beneficiary=BENEFICIARY,
        kinds=(OperationKind.DEPLOY_VAULT,),
    )
    worker = make_worker(store, rpc, chain, confirmations=2)
    nonce_before = chain_nonce(anvil)

    first = await worker.run_once(T1)
    assert first is not None and (first.result, first.code) == (
        "requeued",
        "TX_AWAITING_CONFIRMATIONS",
    )
    anvil.rpc("anvil_mine", [hex(2)])
    second = await worker.run_once(T1)

    assert second is not None and second.result == "succeeded"
    assert chain_nonce(anvil) == nonce_before + 1
    row = await operation(store, ids[OperationKind.DEPLOY_VAULT])
    assert row.attempts == 1  # waiting for confirmations spent no attempt
    assert len(await transactions(store, ids[OperationKind.DEPLOY_VAULT])) == 1


async def test_a_transaction_not_mined_in_time_is_replaced_with_the_same_nonce_and_higher_fees(
    anvil: Anvil, store: UnitOfWorkFactory, rpc: RpcClient, chain: ChainSetup
) -> None:
    ids, _ = await enroll(
        store,
        chain,
        "seat-w14",
        validator_key=4115,
        beneficiary=BENEFICIARY,
        kinds=(OperationKind.DEPLOY_VAULT,),
    )
    worker = make_worker(store, rpc, chain, receipt_wait_s=0.0, replace_after_s=0.0)
    nonce_before = chain_nonce(anvil)
    anvil.rpc("evm_setAutomine", [False])
    try:
        first = await worker.run_once(T1)
    finally:
        anvil.rpc("evm_setAutomine", [True])
    assert first is not None and (first.result, first.code) == ("requeued", "TX_REPLACED")
    original, replacement = await transactions(store, ids[OperationKind.DEPLOY_VAULT])
    assert original.nonce == replacement.nonce == nonce_before
    assert int(replacement.max_fee_per_gas) * 100 >= int(original.max_fee_per_gas) * 110
    assert (
        int(replacement.max_priority_fee_per_gas) * 100
        >= int(original.max_priority_fee_per_gas) * 110
    )

    anvil.mine()
    second = await worker.run_once(T1)

    assert second is not None and second.result == "succeeded"
    assert chain_nonce(anvil) == nonce_before + 1
    row = await operation(store, ids[OperationKind.DEPLOY_VAULT])
    assert row.tx_hash == replacement.tx_hash
    assert anvil.w3.eth.get_transaction_receipt(replacement.tx_hash)["status"] == 1


async def test_a_cycle_with_the_noop_executor_processes_what_is_due_and_counts_it(
    store: UnitOfWorkFactory, chain: ChainSetup
) -> None:
    """The no-op executor used by the benchmark goes through the same claim and finish."""
    from seat_manager.adapters.chain.executor import NoopExecutor

    ids, _ = await enroll(
        store,
        chain,
        "seat-w15",
        validator_key=4116,
        beneficiary=BENEFICIARY,
        kinds=(OperationKind.DEPLOY_VAULT,),
    )
    worker = OperationWorker(store, NoopExecutor(), clock=lambda: T1)
    assert await worker.run_cycle(T1) == 1
    assert (worker.counts.processed, worker.counts.succeeded) == (1, 1)
    assert (await operation(store, ids[OperationKind.DEPLOY_VAULT])).status == "succeeded"


# ---- concurrency, stop and lost leases -----------------------------------------------------


class BlockingExecutor:
    """Starts, says so, and waits until cancelled (or until `release` is set)."""

    def __init__(self, expected: int = 1) -> None:
        self.started: list[str] = []
        self.all_started = asyncio.Event()
        self.release = asyncio.Event()
        self._expected = expected

    async def execute(self, op: ClaimedOperation) -> Succeeded:
        self.started.append(op.operation_id)
        if len(self.started) >= self._expected:
            self.all_started.set()
        await self.release.wait()
        return Succeeded({"released": True})


async def enroll_deploys(store: UnitOfWorkFactory, chain: ChainSetup, count: int) -> list[str]:
    ids = []
    for n in range(count):
        queued, _ = await enroll(
            store,
            chain,
            f"seat-batch-{n}",
            validator_key=4200 + n,
            beneficiary=BENEFICIARY,
            kinds=(OperationKind.DEPLOY_VAULT,),
        )
        ids.append(queued[OperationKind.DEPLOY_VAULT])
    return ids


async def test_a_cycle_runs_a_batch_of_operations_side_by_side(
    store: UnitOfWorkFactory, chain: ChainSetup
) -> None:
    ids = await enroll_deploys(store, chain, 3)
    executor = BlockingExecutor(expected=3)
    worker = OperationWorker(store, executor, concurrency=3, clock=lambda: T1)

    cycle = asyncio.create_task(worker.run_cycle(T1))
    # Only possible if the three executions are in flight at once.
    await asyncio.wait_for(executor.all_started.wait(), timeout=60)
    executor.release.set()

    assert await cycle == 3
    assert sorted(executor.started) == sorted(ids)
    assert [(await operation(store, i)).status for i in ids] == ["succeeded"] * 3


async def test_a_stop_signal_cancels_executions_and_releases_their_leases_at_no_attempt(
    store: UnitOfWorkFactory, chain: ChainSetup
) -> None:
    (op_id,) = await enroll_deploys(store, chain, 1)
    executor = BlockingExecutor()
    stop = asyncio.Event()
    worker = OperationWorker(store, executor, stop=stop, clock=lambda: T1)

    cycle = asyncio.create_task(worker.run_cycle(T1))
    await asyncio.wait_for(executor.all_started.wait(), timeout=60)
    stop.set()

    assert await cycle == 1
    row = await operation(store, op_id)
    assert (row.status, row.lease_owner, row.attempts, row.error_code) == (
        "queued",
        None,
        0,
        "WORKER_STOPPED",
    )
    assert row.available_at <= T1


async def test_a_heartbeat_that_finds_the_lease_taken_cancels_the_execution_and_writes_nothing(
    store: UnitOfWorkFactory, chain: ChainSetup
) -> None:
    (op_id,) = await enroll_deploys(store, chain, 1)
    executor = BlockingExecutor()
    worker = OperationWorker(store, executor, worker_id="worker-a", lease_s=0.3, clock=lambda: T1)

    run = asyncio.create_task(worker.run_once(T1))
    await asyncio.wait_for(executor.all_started.wait(), timeout=60)
    async with store() as uow:  # worker-b takes the operation over
        assert await queue.claim_next(uow.session, "worker-b", later(3600), 30) is not None
        await uow.commit()

    outcome = await asyncio.wait_for(run, timeout=60)

    assert outcome is not None and outcome.result == "abandoned"
    row = await operation(store, op_id)
    assert (row.status, row.lease_owner) == ("processing", "worker-b")
    assert await audit_types(store, op_id) == []


# ---- reconciliation of a signed nonce ------------------------------------------------------


async def queued_deploy(store: UnitOfWorkFactory, chain: ChainSetup, seat: str, key: int) -> str:
    ids, _ = await enroll(
        store,
        chain,
        seat,
        validator_key=key,
        beneficiary=BENEFICIARY,
        kinds=(OperationKind.DEPLOY_VAULT,),
    )
    return ids[OperationKind.DEPLOY_VAULT]


async def test_a_reclaimed_pending_transaction_is_broadcast_again_with_the_same_bytes(
    anvil: Anvil, store: UnitOfWorkFactory, rpc: RpcClient, chain: ChainSetup
) -> None:
    op_id = await queued_deploy(store, chain, "seat-w16", 4117)
    worker = make_worker(store, rpc, chain, receipt_wait_s=0.0)
    nonce_before = chain_nonce(anvil)
    anvil.rpc("evm_setAutomine", [False])
    try:
        first = await worker.run_once(T1)
        again = await worker.run_once(T1)  # the node already knows the bytes
    finally:
        anvil.rpc("evm_setAutomine", [True])
    assert first is not None and (first.result, first.code) == ("requeued", "TX_PENDING")
    assert again is not None and (again.result, again.code) == ("requeued", "TX_PENDING")

    anvil.mine()
    done = await worker.run_once(T1)

    assert done is not None and done.result == "succeeded"
    (only,) = await transactions(store, op_id)
    assert (await operation(store, op_id)).tx_hash == only.tx_hash
    assert chain_nonce(anvil) == nonce_before + 1


async def test_a_nonce_used_by_someone_else_is_confirmed_twice_then_the_operation_signs_afresh(
    anvil: Anvil, store: UnitOfWorkFactory, rpc: RpcClient, chain: ChainSetup
) -> None:
    op_id = await queued_deploy(store, chain, "seat-w17", 4118)
    worker = make_worker(store, rpc, chain, receipt_wait_s=0.0)
    nonce = chain_nonce(anvil)
    anvil.rpc("evm_setAutomine", [False])
    try:
        assert (await worker.run_once(T1)) is not None
        (ours,) = await transactions(store, op_id)
        anvil.rpc("anvil_dropTransaction", [ours.tx_hash])
    finally:
        anvil.rpc("evm_setAutomine", [True])
    # The owner key is used outside the seat manager, with the nonce we had reserved.
    anvil.rpc(
        "eth_sendTransaction", [{"from": OWNER, "to": OWNER, "value": "0x0", "nonce": hex(nonce)}]
    )

    first = await worker.run_once(T1)
    second = await worker.run_once(T1)
    assert first is not None and first.code == "NONCE_CONSUMED_UNCONFIRMED"
    assert second is not None and (second.result, second.code) == (
        "requeued",
        "NONCE_CONSUMED_ELSEWHERE",
    )
    row = await operation(store, op_id)
    assert (row.tx_hash, row.tx_nonce) == (None, None)

    final = await worker.run_once(later(3600))

    assert final is not None and final.result == "succeeded"
    row = await operation(store, op_id)
    assert row.tx_nonce == nonce + 1
    assert anvil.rpc("eth_getTransactionReceipt", [ours.tx_hash]) is None
    assert anvil.w3.eth.get_transaction_receipt(row.tx_hash)["status"] == 1
    assert chain_nonce(anvil) == nonce + 2


async def test_an_admin_retry_after_a_revert_signs_a_new_transaction(
    anvil: Anvil, deployed: Deployed, store: UnitOfWorkFactory, rpc: RpcClient, chain: ChainSetup
) -> None:
    deposit_id, _ = await deployed_and_queued_deposit(anvil, store, rpc, chain, "seat-w18", 4119)

    # An unrelated deposit lands between the guard's root read and ours: ours reverts.
    async def unrelated_deposit_once(step: str, op: ClaimedOperation) -> None:
        if step == "signed" and op.operation_id == deposit_id and not reverted:
            reverted.append(op.operation_id)
            front_run(deployed, 9999)

    reverted: list[str] = []
    worker = make_worker(store, rpc, chain, on_step=unrelated_deposit_once)
    failed = await worker.run_once(T1)
    assert failed is not None and failed.code == "TX_REVERTED"
    row = await operation(store, deposit_id)
    assert (row.tx_hash, row.tx_nonce) == (None, None)  # the spent nonce is let go
    (reverted_tx,) = await transactions(store, deposit_id)

    async with store() as uow:  # what an admin retry does to the row
        await uow.session.execute(
            update(OperationRow)
            .where(OperationRow.operation_id == deposit_id)
            .values(status="queued", attempts=0, error_code=None, error_message=None)
        )
        await uow.commit()
    await caught_up(store, anvil)
    retried = await worker.run_once(T1)

    assert retried is not None and retried.result == "succeeded"
    row = await operation(store, deposit_id)
    assert row.tx_nonce == reverted_tx.nonce + 1
    assert anvil.w3.eth.get_transaction_receipt(row.tx_hash)["status"] == 1


# ---- inside `seat-manager watch` -----------------------------------------------------------


async def wait_until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 90) -> None:
    """Poll until `check` holds (a guard against hanging, not a timing assertion)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.2)


async def test_watch_deploys_and_deposits_and_prints_the_real_counts_when_stopped(
    anvil: Anvil,
    store_env: dict[str, str],
    store: UnitOfWorkFactory,
    chain: ChainSetup,
    tmp_path: Path,
) -> None:
    ids, _ = await enroll(store, chain, "seat-watch", validator_key=4120, beneficiary=BENEFICIARY)
    env = {
        **runtime_env(),
        **store_env,
        "DEPOSIT_CONTRACT_ADDRESS": chain.deposit_contract,
        "VAULT_FACTORY_ADDRESS": chain.vault_factory,
        "VAULT_INIT_CODE_HASH": chain.vault_init_code_hash,
        "PRINCIPAL_DESTINATION_ADDRESS": DESTINATION,
        "ETH_RPC_URL": anvil.url,
        "SEAT_MANAGER_OWNER_PRIVATE_KEY": OWNER_KEY,
        "SEAT_MANAGER_EL_CONFIRMATIONS": "0",
        "SEAT_MANAGER_WATCH_POLL_MS": "200",
    }
    service = start_cli(["watch"], env, tmp_path)
    try:
        service.wait_for("watch loop started")

        async def both_succeeded() -> bool:
            rows = [await operation(store, op_id) for op_id in ids.values()]
            return all(row.status == "succeeded" for row in rows)

        async def seat_deposited() -> bool:
            async with store() as uow:
                seat = await uow.seats.get("seat-watch")
                return seat is not None and seat.status == "DEPOSITED"

        await wait_until(both_succeeded, "both operations to succeed")
        await wait_until(seat_deposited, "the watcher to record the deposit")
    finally:
        code = service.stop()
    assert code == 0, service.stderr[-3000:]
    (line,) = [line for line in service.lines if "watch loop stopped" in line]
    counts = dict(part.split("=") for part in line.split()[-4:])
    assert counts["succeeded"] == "2" and counts["failed"] == "0"
    assert int(counts["processed"]) == 2 + int(counts["requeued"])
