"""A real Safe 1.4.1 on anvil, from the npm package's compiled artifacts, and the
helpers that drive PROPOSE mode against it (worker, watcher, store reads, admin moves).

`@safe-global/safe-contracts` 1.4.1 (node_modules, installed by `make setup`) ships the
Safe singleton, SafeProxyFactory and CompatibilityFallbackHandler with their bytecode.
`deploy_safe` deploys the three and creates a Safe proxy of anvil accounts exactly as
the Safe UI does (`createProxyWithNonce(singleton, setup(...), salt)`).

Owners sign the safeTxHash with their keys: a 65-byte ECDSA signature each (r ‖ s ‖ v,
v = 27/28, no message prefix), concatenated in ascending owner-address order, which
is what `execTransaction` verifies.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from eth_account import Account
from sqlalchemy import select
from web3 import Web3
from web3.contract import Contract

from seat_manager.adapters.chain.proposer import ProposeExecutor
from seat_manager.adapters.chain.rpc import RpcClient
from seat_manager.adapters.db import queue
from seat_manager.adapters.db.tables import AuditEventRow, OperationRow
from seat_manager.adapters.db.uow import UnitOfWorkFactory
from seat_manager.domain.operations import (
    Operation,
    OperationKind,
    OperationStatus,
    admin_cancel,
    admin_retry,
)
from seat_manager.domain.seats import Actor, ActorKind
from seat_manager.workers.operation_worker import OperationWorker
from seat_manager.workers.proposal_watcher import ProposalWatcher
from tests.support.anvil import ACCOUNT_KEYS, ACCOUNTS, CHAIN_ID, REPO, Anvil, Deployed, deploy
from tests.support.worker_setup import ChainSetup, enroll, later

SAFE_ARTIFACTS = REPO / "node_modules" / "@safe-global" / "safe-contracts" / "build" / "artifacts"
ZERO = "0x0000000000000000000000000000000000000000"
_PATHS = {
    "Safe": "contracts/Safe.sol/Safe.json",
    "SafeProxyFactory": "contracts/proxies/SafeProxyFactory.sol/SafeProxyFactory.json",
    "CompatibilityFallbackHandler": (
        "contracts/handler/CompatibilityFallbackHandler.sol/CompatibilityFallbackHandler.json"
    ),
}


@cache
def safe_artifact(name: str) -> dict[str, Any]:
    path = SAFE_ARTIFACTS / _PATHS[name]
    if not path.exists():
        raise FileNotFoundError(f"{path} missing: run `make setup` (@safe-global/safe-contracts)")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _deploy(w3: Web3, name: str, sender: str) -> str:
    data = safe_artifact(name)
    tx = (
        w3.eth.contract(abi=data["abi"], bytecode=data["bytecode"])
        .constructor()
        .transact({"from": sender})
    )
    receipt = w3.eth.wait_for_transaction_receipt(tx, timeout=30)
    assert receipt["status"] == 1, f"deploying {name} reverted"
    return str(receipt["contractAddress"])


def _transact(call: Any, sender: str, **extra: Any) -> Any:
    tx = call.transact({"from": sender, **extra})
    receipt = call.w3.eth.wait_for_transaction_receipt(tx, timeout=30)
    return receipt


@dataclass(frozen=True)
class SafeOnChain:
    contract: Contract
    owners: tuple[str, ...]
    keys: tuple[str, ...]
    threshold: int

    @property
    def address(self) -> str:
        return str(self.contract.address)


def deploy_safe(
    w3: Web3,
    *,
    owner_indexes: Sequence[int] = (1, 2, 3),
    threshold: int = 2,
    deployer: str = ACCOUNTS[0],
    salt_nonce: int = 0,
) -> SafeOnChain:
    """Singleton, proxy factory and fallback handler, then a Safe of anvil accounts."""
    singleton = _deploy(w3, "Safe", deployer)
    factory_address = _deploy(w3, "SafeProxyFactory", deployer)
    handler = _deploy(w3, "CompatibilityFallbackHandler", deployer)
    owners = tuple(ACCOUNTS[i] for i in owner_indexes)
    template = w3.eth.contract(abi=safe_artifact("Safe")["abi"])
    initializer = template.encode_abi(
        "setup", [list(owners), threshold, ZERO, b"", handler, ZERO, 0, ZERO]
    )
    factory = w3.eth.contract(address=factory_address, abi=safe_artifact("SafeProxyFactory")["abi"])
    create = factory.functions.createProxyWithNonce(singleton, initializer, salt_nonce)
    proxy = create.call({"from": deployer})
    assert _transact(create, deployer)["status"] == 1, "creating the Safe proxy reverted"
    contract = w3.eth.contract(address=proxy, abi=safe_artifact("Safe")["abi"])
    assert contract.functions.getThreshold().call() == threshold
    keys = tuple(ACCOUNT_KEYS[i] for i in owner_indexes)
    return SafeOnChain(contract, owners, keys, threshold)


def sign_safe_tx_hash(safe_tx_hash: bytes, keys: Sequence[str]) -> bytes:
    """Owners' signatures over the hash, sorted by owner address as the Safe requires."""
    signed = []
    for key in keys:
        account = Account.from_key(key)
        signature = Account.unsafe_sign_hash(safe_tx_hash, key)
        packed = (
            signature.r.to_bytes(32, "big") + signature.s.to_bytes(32, "big") + bytes([signature.v])
        )
        signed.append((int(account.address, 16), packed))
    return b"".join(packed for _, packed in sorted(signed))


def safe_tx_args(proposal: Mapping[str, Any]) -> list[Any]:
    """The SafeTx fields of a stored proposal, in execTransaction's argument order."""
    return [
        Web3.to_checksum_address(proposal["to"]),
        int(proposal["value"]),
        bytes.fromhex(str(proposal["data"]).removeprefix("0x")),
        int(proposal["operation"]),
        int(proposal["safe_tx_gas"]),
        int(proposal["base_gas"]),
        int(proposal["gas_price"]),
        Web3.to_checksum_address(proposal["gas_token"]),
        Web3.to_checksum_address(proposal["refund_receiver"]),
    ]


def on_chain_tx_hash(safe: SafeOnChain, proposal: Mapping[str, Any]) -> bytes:
    """The Safe's own `getTransactionHash` for the proposal's fields and nonce."""
    args = [*safe_tx_args(proposal), int(proposal["safe_nonce"])]
    return bytes(safe.contract.functions.getTransactionHash(*args).call())


def execute_proposal(
    safe: SafeOnChain,
    proposal: Mapping[str, Any],
    *,
    signers: int | None = None,
    sender: str = ACCOUNTS[5],
) -> Any:
    """Sign the stored safeTxHash with `signers` owners (default: the threshold) and
    send `execTransaction` from `sender` (anyone may); returns the receipt."""
    safe_tx_hash = bytes.fromhex(str(proposal["safe_tx_hash"]).removeprefix("0x"))
    signatures = sign_safe_tx_hash(safe_tx_hash, safe.keys[: signers or safe.threshold])
    call = safe.contract.functions.execTransaction(*safe_tx_args(proposal), signatures)
    return _transact(call, sender, gas=3_000_000)


# ---- driving PROPOSE mode: worker, watcher, store reads, admin moves ------------------------

T1 = later(1)
"""When the worker proposes (its clock)."""
T2 = later(2)
"""When the proposal watcher looks."""
DESTINATION = ACCOUNTS[2]
BENEFICIARY = ACCOUNTS[1]


def chain_for(anvil: Anvil, deployed: Deployed, owner: str) -> ChainSetup:
    """A vault factory owned by `owner`, on the session's deposit contract."""
    factory = deploy(anvil.w3, "VaultFactory", deployed.deposit_contract.address, owner)
    return ChainSetup(
        chain_id=CHAIN_ID,
        vault_factory=factory.address,
        vault_init_code_hash="0x" + bytes(factory.functions.vaultInitCodeHash().call()).hex(),
        deposit_contract=deployed.deposit_contract.address,
        principal_destination=DESTINATION,
    )


def make_worker(
    store: UnitOfWorkFactory,
    rpc: RpcClient,
    chain: ChainSetup,
    safe_address: str | None,
    **config: Any,
) -> OperationWorker:
    executor = ProposeExecutor(
        rpc, store, chain.config(**config), safe_address=safe_address, clock=lambda: T1
    )
    return OperationWorker(
        store, executor, worker_id=f"worker-{os.urandom(3).hex()}", clock=lambda: T1
    )


def make_watcher(store: UnitOfWorkFactory, rpc: RpcClient, chain: ChainSetup) -> ProposalWatcher:
    return ProposalWatcher(rpc, store, chain.config())


async def propose(worker: OperationWorker, kind: OperationKind) -> str:
    outcome = await worker.run_once(T1)
    assert outcome is not None, "nothing was claimed"
    assert (outcome.kind, outcome.result, outcome.message) == (kind, "proposed", None)
    return outcome.operation_id


async def operation(store: UnitOfWorkFactory, operation_id: str) -> OperationRow:
    """The row, detached with its values loaded (the unit of work rolls back on exit)."""
    async with store() as uow:
        row = await uow.session.get(OperationRow, operation_id)
        assert row is not None
        uow.session.expunge(row)
        return row


async def proposal_of(store: UnitOfWorkFactory, operation_id: str) -> dict[str, Any]:
    row = await operation(store, operation_id)
    assert row.status == "proposed", (row.status, row.error_code, row.error_message)
    assert row.proposal is not None
    return dict(row.proposal)


async def admin_move(store: UnitOfWorkFactory, operation_id: str, action: str) -> None:
    """Admin retry or cancel by the domain's rules, keeping the stored proposal."""
    rule = admin_retry if action == "retry" else admin_cancel
    async with store() as uow:
        row = await uow.session.get(OperationRow, operation_id)
        assert row is not None
        current = Operation(
            row.operation_id,  # type: ignore[arg-type]
            row.seat_id,  # type: ignore[arg-type]
            OperationKind(row.kind),
            OperationStatus(row.status),
            attempts=row.attempts,
            available_at=row.available_at,
        )
        moved, _ = rule(current, actor=Actor(ActorKind.ADMIN, "alice"), reason="test", now=T1)
        row.status = moved.status.value
        row.attempts = moved.attempts
        row.available_at = moved.available_at
        row.error_code, row.error_message = moved.error_code, moved.error_message
        await uow.commit()


async def audit_events(store: UnitOfWorkFactory, operation_id: str) -> list[AuditEventRow]:
    async with store() as uow:
        result = await uow.session.execute(
            select(AuditEventRow)
            .where(AuditEventRow.subject_id == operation_id)
            .order_by(AuditEventRow.id)
        )
        rows = list(result.scalars())
        uow.session.expunge_all()
        return rows


def safe_nonce(safe: SafeOnChain) -> int:
    return int(safe.contract.functions.nonce().call())


async def deploy_vaults_through_the_safe(
    store: UnitOfWorkFactory,
    rpc: RpcClient,
    chain: ChainSetup,
    safe: SafeOnChain,
    seats: dict[str, int],
    kinds: tuple[OperationKind, ...] = (OperationKind.DEPLOY_VAULT,),
) -> dict[str, dict[OperationKind, str]]:
    """Enroll the seats, propose their vaults, execute them, let the watcher mark them."""
    worker = make_worker(store, rpc, chain, safe.address)
    ids = {}
    for seat, key in seats.items():
        ids[seat], _ = await enroll(
            store, chain, seat, validator_key=key, beneficiary=BENEFICIARY, kinds=kinds
        )
    for _ in seats:
        proposal = await proposal_of(store, await propose(worker, OperationKind.DEPLOY_VAULT))
        assert execute_proposal(safe, proposal)["status"] == 1
    marked = await make_watcher(store, rpc, chain).run_cycle(T2)
    assert len(marked.succeeded) == len(seats)
    return ids


async def enqueue_op(
    store: UnitOfWorkFactory, seat_id: str, kind: OperationKind, payload: dict[str, Any]
) -> str:
    async with store() as uow:
        row, _ = await queue.enqueue(uow.session, seat_id, kind, payload, T1)
        await uow.commit()
        return row.operation_id
