"""PROPOSE mode against a real Safe 1.4.1 on anvil and a real store (SQLite and
PostgreSQL): the worker writes a Safe proposal, the Safe's owners sign the stored
safeTxHash and execute it, and the proposal watcher marks the operation succeeded.

The vault factory here is deployed with the Safe as its owner. Admin retry and cancel
are done with the domain's rules on the row (`admin_move`), as the admin service will,
keeping the `proposal` column.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select
from web3.logs import DISCARD

from seat_manager.adapters.chain.rpc import RpcClient
from seat_manager.adapters.db.tables import OperationRow
from seat_manager.adapters.db.uow import UnitOfWorkFactory
from seat_manager.domain.operations import OperationKind
from tests.chain.helpers import DEPOSIT_WEI, ETHER, deploy_vault
from tests.support.anvil import ACCOUNTS, CHAIN_ID, Anvil, Deployed, contract_at
from tests.support.el_chain import credentials_for, deposit_direct, fake_pubkey
from tests.support.safe import (
    BENEFICIARY,
    DESTINATION,
    T1,
    T2,
    SafeOnChain,
    admin_move,
    audit_events,
    chain_for,
    deploy_safe,
    deploy_vaults_through_the_safe,
    enqueue_op,
    execute_proposal,
    make_watcher,
    make_worker,
    on_chain_tx_hash,
    operation,
    proposal_of,
    propose,
    safe_nonce,
)
from tests.support.worker_setup import ChainSetup, enroll, open_store, set_scanned_block

pytestmark = pytest.mark.anvil

OWNER = ACCOUNTS[0]
ZERO = "0x0000000000000000000000000000000000000000"


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
def safe(anvil: Anvil, deployed: Deployed) -> SafeOnChain:
    """A 2-of-3 Safe of anvil accounts 1..3 (inside the test's evm snapshot)."""
    return deploy_safe(anvil.w3, owner_indexes=(1, 2, 3), threshold=2)


@pytest.fixture
def chain(anvil: Anvil, deployed: Deployed, safe: SafeOnChain) -> ChainSetup:
    return chain_for(anvil, deployed, safe.address)


# ---- DEPLOY_VAULT through the Safe ---------------------------------------------------------


async def test_deploy_vault_proposal_executed_by_the_safe_is_marked_succeeded_by_the_watcher(
    anvil: Anvil, store: UnitOfWorkFactory, rpc: RpcClient, chain: ChainSetup, safe: SafeOnChain
) -> None:
    ids, _ = await enroll(
        store, chain, "seat-p1", validator_key=5101, beneficiary=BENEFICIARY,
        kinds=(OperationKind.DEPLOY_VAULT,),
    )  # fmt: skip
    op_id = await propose(make_worker(store, rpc, chain, safe.address), OperationKind.DEPLOY_VAULT)
    assert op_id == ids[OperationKind.DEPLOY_VAULT]
    proposal = await proposal_of(store, op_id)

    assert proposal["to"] == chain.vault_factory
    assert (proposal["value"], proposal["operation"], proposal["chain_id"]) == ("0", 0, CHAIN_ID)
    assert (proposal["safe_address"], proposal["safe_nonce"]) == (safe.address, 0)
    assert (proposal["safe_tx_gas"], proposal["base_gas"], proposal["gas_price"]) == (0, 0, 0)
    assert proposal["gas_token"] == proposal["refund_receiver"] == ZERO
    assert proposal["safe_tx_hash"] == "0x" + on_chain_tx_hash(safe, proposal).hex()
    batch = json.loads(json.dumps(proposal["transaction_builder"]))
    assert (batch["version"], batch["chainId"]) == ("1.0", str(CHAIN_ID))
    assert batch["meta"]["createdFromSafeAddress"] == safe.address
    assert [(t["to"], t["value"], t["data"]) for t in batch["transactions"]] == [
        (proposal["to"], proposal["value"], proposal["data"])
    ]
    assert anvil.w3.eth.get_code(chain.vault("seat-p1")) == b""

    watcher = make_watcher(store, rpc, chain)
    before = await watcher.run_cycle(T2)
    assert (before.checked, before.pending, before.succeeded) == (1, 1, [])
    assert (await operation(store, op_id)).status == "proposed"

    receipt = execute_proposal(safe, proposal)
    assert receipt["status"] == 1
    assert safe.contract.events.ExecutionSuccess().process_receipt(receipt, errors=DISCARD)
    assert anvil.w3.eth.get_code(chain.vault("seat-p1")) != b""

    after = await watcher.run_cycle(T2)
    assert (after.checked, after.pending, after.succeeded) == (1, 0, [op_id])
    row = await operation(store, op_id)
    assert (row.status, row.error_code) == ("succeeded", None)
    *_, event = await audit_events(store, op_id)
    assert (event.event_type, event.actor) == ("operation.succeeded", "watcher:proposals")
    assert event.data["effect"] == "vault code present"
    assert event.data["vault_address"] == chain.vault("seat-p1")
    assert event.data["safe_execution"] == {
        "tx_hash": receipt["transactionHash"].to_0x_hex(),
        "block_number": receipt["blockNumber"],
    }
    assert (await watcher.run_cycle(T2)).checked == 0


async def test_re_proposing_keeps_the_nonce_and_safe_tx_hash_and_new_proposals_fill_gaps(
    store: UnitOfWorkFactory, rpc: RpcClient, chain: ChainSetup, safe: SafeOnChain
) -> None:
    kinds = (OperationKind.DEPLOY_VAULT,)
    worker = make_worker(store, rpc, chain, safe.address)
    proposals: dict[str, dict[str, Any]] = {}
    for seat, key in (("seat-a", 5121), ("seat-b", 5122)):
        await enroll(store, chain, seat, validator_key=key, beneficiary=BENEFICIARY, kinds=kinds)
        op_id = await propose(worker, OperationKind.DEPLOY_VAULT)
        proposals[seat] = {"id": op_id, **await proposal_of(store, op_id)}
    a, b = proposals["seat-a"], proposals["seat-b"]
    assert (a["safe_nonce"], b["safe_nonce"]) == (0, 1)

    await admin_move(store, a["id"], "retry")
    assert (await operation(store, a["id"])).status == "queued"
    assert await propose(worker, OperationKind.DEPLOY_VAULT) == a["id"]
    again = await proposal_of(store, a["id"])
    assert (again["safe_nonce"], again["safe_tx_hash"], again["data"]) == (
        0,
        a["safe_tx_hash"],
        a["data"],
    )

    # A cancelled: nonce 0 is free. B re-proposed keeps 1 (the lowest free would be
    # 0); the next new proposal fills 0 instead of leaving a gap that blocks B.
    await admin_move(store, a["id"], "cancel")
    await admin_move(store, b["id"], "retry")
    assert await propose(worker, OperationKind.DEPLOY_VAULT) == b["id"]
    b_again = await proposal_of(store, b["id"])
    assert (b_again["safe_nonce"], b_again["safe_tx_hash"]) == (1, b["safe_tx_hash"])
    await enroll(store, chain, "seat-c", validator_key=5123, beneficiary=BENEFICIARY, kinds=kinds)
    c_id = await propose(worker, OperationKind.DEPLOY_VAULT)
    c = await proposal_of(store, c_id)
    assert c["safe_nonce"] == 0 and c["safe_tx_hash"] != a["safe_tx_hash"]

    assert execute_proposal(safe, c)["status"] == 1
    assert execute_proposal(safe, b_again)["status"] == 1
    assert safe_nonce(safe) == 2
    result = await make_watcher(store, rpc, chain).run_cycle(T2)
    assert sorted(result.succeeded) == sorted([b["id"], c_id])
    assert (await operation(store, a["id"])).status == "failed"


async def test_a_cancelled_proposals_nonce_goes_to_the_next_proposal_and_the_watcher_ignores_it(
    anvil: Anvil, store: UnitOfWorkFactory, rpc: RpcClient, chain: ChainSetup, safe: SafeOnChain
) -> None:
    kinds = (OperationKind.DEPLOY_VAULT,)
    await enroll(store, chain, "seat-p4", validator_key=5104, beneficiary=BENEFICIARY, kinds=kinds)
    worker = make_worker(store, rpc, chain, safe.address)
    cancelled_id = await propose(worker, OperationKind.DEPLOY_VAULT)
    cancelled = await proposal_of(store, cancelled_id)
    await admin_move(store, cancelled_id, "cancel")

    await enroll(store, chain, "seat-p5", validator_key=5105, beneficiary=BENEFICIARY, kinds=kinds)
    next_id = await propose(worker, OperationKind.DEPLOY_VAULT)
    assert (await proposal_of(store, next_id))["safe_nonce"] == cancelled["safe_nonce"] == 0

    # The cancelled proposal was signed anyway and executed: its effect is on chain,
    # but a failed operation is not the watcher's to move.
    assert execute_proposal(safe, cancelled)["status"] == 1
    assert anvil.w3.eth.get_code(chain.vault("seat-p4")) != b""
    result = await make_watcher(store, rpc, chain).run_cycle(T2)
    assert (result.checked, result.succeeded, result.pending) == (1, [], 1)
    row = await operation(store, cancelled_id)
    assert (row.status, row.error_code) == ("failed", "OPERATION_CANCELLED")


# ---- DEPOSIT through the Safe --------------------------------------------------------------


async def test_deposit_proposal_executed_by_the_safe_lands_32_eth_and_is_marked_succeeded(
    anvil: Anvil,
    deployed: Deployed,
    store: UnitOfWorkFactory,
    rpc: RpcClient,
    chain: ChainSetup,
    safe: SafeOnChain,
) -> None:
    ids, entry = await enroll(store, chain, "seat-p6", validator_key=5106, beneficiary=BENEFICIARY)
    anvil.fund(safe.address, 40 * ETHER)
    worker = make_worker(store, rpc, chain, safe.address)
    watcher = make_watcher(store, rpc, chain)
    deploy_id = await propose(worker, OperationKind.DEPLOY_VAULT)
    assert await worker.run_once(T1) is None, "the deposit must wait for the vault"
    assert execute_proposal(safe, await proposal_of(store, deploy_id))["status"] == 1
    assert (await watcher.run_cycle(T2)).succeeded == [deploy_id]

    await set_scanned_block(store, int(anvil.w3.eth.block_number))
    deposit_id = await propose(worker, OperationKind.DEPOSIT)
    assert deposit_id == ids[OperationKind.DEPOSIT]
    proposal = await proposal_of(store, deposit_id)
    assert (proposal["value"], proposal["safe_nonce"]) == (str(DEPOSIT_WEI), 1)
    assert proposal["safe_tx_hash"] == "0x" + on_chain_tx_hash(safe, proposal).hex()
    root = bytes(deployed.deposit_contract.functions.get_deposit_root().call())
    assert root.hex() in proposal["data"], "the call carries the deposit root read at head"

    await admin_move(store, deposit_id, "retry")
    await propose(worker, OperationKind.DEPOSIT)
    assert (await proposal_of(store, deposit_id))["safe_tx_hash"] == proposal["safe_tx_hash"]

    receipt = execute_proposal(safe, proposal)
    assert receipt["status"] == 1
    (event,) = deployed.deposit_contract.events.DepositEvent().process_receipt(
        receipt, errors=DISCARD
    )
    assert bytes(event["args"]["pubkey"]) == entry.pubkey
    assert bytes(event["args"]["withdrawal_credentials"]) == entry.withdrawal_credentials
    assert (await watcher.run_cycle(T2)).succeeded == [deposit_id]
    *_, audit = await audit_events(store, deposit_id)
    assert audit.data["effect"] == "vault records the deposit"
    assert audit.data["principal_wei"] == str(DEPOSIT_WEI)
    assert audit.data["safe_execution"]["tx_hash"] == receipt["transactionHash"].to_0x_hex()


async def test_a_deposit_proposal_gone_stale_reverts_without_using_the_nonce_and_is_reproposed(
    anvil: Anvil,
    deployed: Deployed,
    store: UnitOfWorkFactory,
    rpc: RpcClient,
    chain: ChainSetup,
    safe: SafeOnChain,
) -> None:
    kinds = (OperationKind.DEPLOY_VAULT, OperationKind.DEPOSIT)
    ids = await deploy_vaults_through_the_safe(store, rpc, chain, safe, {"seat-s1": 5171}, kinds)
    deposit_id = ids["seat-s1"][OperationKind.DEPOSIT]
    anvil.fund(safe.address, 40 * ETHER)
    await set_scanned_block(store, int(anvil.w3.eth.block_number))
    worker = make_worker(store, rpc, chain, safe.address)
    await propose(worker, OperationKind.DEPOSIT)
    stale = await proposal_of(store, deposit_id)

    contract = deployed.deposit_contract.address
    deposit_direct(anvil, contract, fake_pubkey(71), credentials_for(ACCOUNTS[4]))
    reverted = execute_proposal(safe, stale)
    assert reverted["status"] == 0, "StaleDepositRoot makes the whole execution revert"
    assert safe_nonce(safe) == stale["safe_nonce"] == 1

    await set_scanned_block(store, int(anvil.w3.eth.block_number))
    await admin_move(store, deposit_id, "retry")
    await propose(worker, OperationKind.DEPOSIT)
    fresh = await proposal_of(store, deposit_id)
    assert fresh["safe_nonce"] == 1 and fresh["safe_tx_hash"] != stale["safe_tx_hash"]
    assert execute_proposal(safe, fresh)["status"] == 1
    assert (await make_watcher(store, rpc, chain).run_cycle(T2)).succeeded == [deposit_id]


# ---- refusals and the no-Safe shape ----------------------------------------------------------


async def test_a_safe_that_does_not_own_the_factory_fails_the_operation_without_a_proposal(
    anvil: Anvil, deployed: Deployed, store: UnitOfWorkFactory, rpc: RpcClient, safe: SafeOnChain
) -> None:
    chain = chain_for(anvil, deployed, OWNER)
    kinds = (OperationKind.DEPLOY_VAULT,)
    ids, _ = await enroll(
        store, chain, "seat-p7", validator_key=5107, beneficiary=BENEFICIARY, kinds=kinds
    )
    outcome = await make_worker(store, rpc, chain, safe.address).run_once(T1)
    assert outcome is not None
    assert (outcome.result, outcome.code) == ("failed", "SAFE_NOT_FACTORY_OWNER")
    assert OWNER in (outcome.message or "")
    row = await operation(store, ids[OperationKind.DEPLOY_VAULT])
    assert (row.status, row.proposal) == ("failed", None)


async def test_without_a_safe_address_the_proposal_is_the_bare_call_without_nonce_or_hash(
    anvil: Anvil, deployed: Deployed, store: UnitOfWorkFactory, rpc: RpcClient
) -> None:
    chain = chain_for(anvil, deployed, OWNER)
    kinds = (OperationKind.DEPLOY_VAULT,)
    await enroll(store, chain, "seat-p8", validator_key=5108, beneficiary=BENEFICIARY, kinds=kinds)
    op_id = await propose(make_worker(store, rpc, chain, None), OperationKind.DEPLOY_VAULT)
    proposal = await proposal_of(store, op_id)
    assert proposal["safe_address"] is None
    assert "safe_tx_hash" not in proposal and "safe_nonce" not in proposal
    assert "SEAT_MANAGER_SAFE_ADDRESS" in proposal["note"]
    assert (proposal["to"], proposal["value"], proposal["operation"]) == (
        chain.vault_factory,
        "0",
        0,
    )

    # Sent by the factory owner directly: the watcher still sees the effect.
    deploy_vault_from(anvil, chain, proposal)
    assert (await make_watcher(store, rpc, chain).run_cycle(T2)).succeeded == [op_id]


async def test_an_effect_already_on_chain_succeeds_without_a_proposal(
    anvil: Anvil, deployed: Deployed, store: UnitOfWorkFactory, rpc: RpcClient
) -> None:
    chain = chain_for(anvil, deployed, OWNER)
    kinds = (OperationKind.DEPLOY_VAULT,)
    ids, _ = await enroll(
        store, chain, "seat-p9", validator_key=5109, beneficiary=BENEFICIARY, kinds=kinds
    )
    factory = contract_at(anvil.w3, "VaultFactory", chain.vault_factory)
    deploy_vault(
        Deployed(deployed.deposit_contract, factory, OWNER), "seat-p9", BENEFICIARY, DESTINATION
    )
    outcome = await make_worker(store, rpc, chain, None).run_once(T1)
    assert outcome is not None and outcome.result == "succeeded"
    row = await operation(store, ids[OperationKind.DEPLOY_VAULT])
    assert (row.status, row.proposal) == ("succeeded", None)


def deploy_vault_from(anvil: Anvil, chain: ChainSetup, proposal: dict[str, Any]) -> None:
    tx = anvil.w3.eth.send_transaction(
        {"from": OWNER, "to": proposal["to"], "data": proposal["data"], "gas": 1_000_000}
    )
    assert anvil.w3.eth.wait_for_transaction_receipt(tx)["status"] == 1
    assert anvil.w3.eth.get_code(chain.vault("seat-p8")) != b""


async def test_two_workers_proposing_at_once_never_share_a_safe_nonce(
    store: UnitOfWorkFactory, rpc: RpcClient, chain: ChainSetup, safe: SafeOnChain
) -> None:
    kinds = (OperationKind.DEPLOY_VAULT,)
    seats = [f"seat-race-{i}" for i in range(4)]
    for i, seat in enumerate(seats):
        await enroll(
            store, chain, seat, validator_key=5140 + i, beneficiary=BENEFICIARY, kinds=kinds
        )
    workers = [make_worker(store, rpc, chain, safe.address) for _ in range(2)]

    for _ in range(2):
        outcomes = await asyncio.gather(*(worker.run_once(T1) for worker in workers))
        assert [o and o.result for o in outcomes] == ["proposed", "proposed"]

    async with store() as uow:
        result = await uow.session.execute(select(OperationRow.proposal))
        nonces = sorted(row["safe_nonce"] for row in result.scalars())
    assert nonces == [0, 1, 2, 3]


async def test_a_proposed_deposit_counts_against_the_reserve_limit_of_the_next_one(
    anvil: Anvil, store: UnitOfWorkFactory, rpc: RpcClient, chain: ChainSetup, safe: SafeOnChain
) -> None:
    kinds = (OperationKind.DEPLOY_VAULT, OperationKind.DEPOSIT)
    seats = {"seat-r1": 5151, "seat-r2": 5152}
    ids = await deploy_vaults_through_the_safe(store, rpc, chain, safe, seats, kinds)
    anvil.fund(safe.address, 40 * ETHER)
    await set_scanned_block(store, int(anvil.w3.eth.block_number))
    worker = make_worker(store, rpc, chain, safe.address, reserve_limit_wei=DEPOSIT_WEI)

    first = await worker.run_once(T1)
    second = await worker.run_once(T1)

    assert first is not None and first.result == "proposed"
    assert second is not None
    assert (second.result, second.code) == ("failed", "RESERVE_COVERAGE_LIMIT_EXCEEDED")
    deposits = {ids[seat][OperationKind.DEPOSIT] for seat in seats}
    assert {first.operation_id, second.operation_id} == deposits
    failed_id = second.operation_id
    row = await operation(store, failed_id)
    assert (row.status, row.proposal) == ("failed", None)
    *_, audit = await audit_events(store, failed_id)
    assert audit.data["deposits_proposed"] == 1


async def test_grant_then_claim_through_the_safe_are_marked_succeeded_from_their_effects(
    anvil: Anvil, store: UnitOfWorkFactory, rpc: RpcClient, chain: ChainSetup, safe: SafeOnChain
) -> None:
    await deploy_vaults_through_the_safe(store, rpc, chain, safe, {"seat-g1": 5161})
    vault = chain.vault("seat-g1")
    expires_at = anvil.latest_timestamp() + 86_400
    grant_id = await enqueue_op(
        store,
        "seat-g1",
        OperationKind.GRANT_CLAIM_EXECUTOR,
        {"vault_address": vault, "executor": safe.address, "expires_at": expires_at},
    )
    worker = make_worker(store, rpc, chain, safe.address)
    watcher = make_watcher(store, rpc, chain)
    assert await propose(worker, OperationKind.GRANT_CLAIM_EXECUTOR) == grant_id
    assert execute_proposal(safe, await proposal_of(store, grant_id))["status"] == 1
    assert (await watcher.run_cycle(T2)).succeeded == [grant_id]
    *_, granted = await audit_events(store, grant_id)
    assert (granted.data["effect"], granted.data["expires_at"]) == (
        "grant lasts long enough",
        expires_at,
    )

    anvil.fund(vault, ETHER // 10)  # rewards
    claim_id = await enqueue_op(store, "seat-g1", OperationKind.CLAIM, {"vault_address": vault})
    assert await propose(worker, OperationKind.CLAIM) == claim_id
    assert (await watcher.run_cycle(T2)).pending == 1, "a claim is never done before it runs"
    receipt = execute_proposal(safe, await proposal_of(store, claim_id))
    assert receipt["status"] == 1
    assert anvil.w3.eth.get_balance(vault) == 0
    assert (await watcher.run_cycle(T2)).succeeded == [claim_id]
    *_, claimed = await audit_events(store, claim_id)
    assert claimed.data["effect"] == "rewards claimed since the proposal"
    assert claimed.data["amount_wei"] == str(ETHER // 10)
    assert claimed.data["tx_hash"] == receipt["transactionHash"].to_0x_hex()


async def test_a_claim_the_safe_may_not_make_fails_with_the_revert_reason_and_no_proposal(
    anvil: Anvil, store: UnitOfWorkFactory, rpc: RpcClient, chain: ChainSetup, safe: SafeOnChain
) -> None:
    await deploy_vaults_through_the_safe(store, rpc, chain, safe, {"seat-g2": 5162})
    vault = chain.vault("seat-g2")
    anvil.fund(vault, ETHER // 10)
    claim_id = await enqueue_op(store, "seat-g2", OperationKind.CLAIM, {"vault_address": vault})
    outcome = await make_worker(store, rpc, chain, safe.address).run_once(T1)
    assert outcome is not None
    assert (outcome.result, outcome.code) == ("failed", "SIMULATION_REVERTED")
    assert "NotClaimAuthorized" in (outcome.message or "")
    assert (await operation(store, claim_id)).proposal is None
