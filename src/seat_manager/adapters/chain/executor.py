"""Executors: what the operation worker calls to carry out one claimed operation.

`Executor` is the seam between the worker (claim, lease, finish) and a mode:
`OwnerSendExecutor` signs with the owner key and broadcasts (OWNER_SEND); a PROPOSE
executor writes a multisig proposal instead and returns `Proposed` (not built yet);
READ_ONLY has no executor at all. An executor returns an `ExecutionResult` and never
finishes the operation itself; it raises only when the worker should treat the
attempt as an infrastructure failure.

OWNER_SEND, for an operation without a transaction yet:
1. build the call from the payload (vault address re-derived and compared);
2. if the effect is already on chain (vault code; principal recorded by a deposit
   through the factory; a grant that lasts long enough), succeed without sending;
3. DEPOSIT only: the guards (deposit_guards.py), which also fix the deposit root the
   transaction carries;
4. simulate with `eth_call`, estimate gas, price within the fee cap;
5. reserve a nonce, sign and store in one store transaction, commit, then broadcast
   and follow the nonce (nonces.py) to a receipt with enough confirmations.
An operation that already has a transaction goes straight to step 5's follow-up.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from eth_abi.abi import decode
from sqlalchemy.ext.asyncio import AsyncSession

from seat_manager.adapters.chain import contracts
from seat_manager.adapters.chain.deposit_guards import DepositGuards, Guarded
from seat_manager.adapters.chain.deposit_logs import decode_deposit_log
from seat_manager.adapters.chain.errors import DepositLogInvalid, RpcError, RpcNodeError
from seat_manager.adapters.chain.nonces import (
    LeaseLost,
    Mined,
    NonceConsumed,
    Step,
    TrackerConfig,
    TransactionTracker,
    TxRequest,
    decode_raw,
)
from seat_manager.adapters.chain.plans import PayloadInvalid, Plan, build_plan
from seat_manager.adapters.chain.results import (
    Abandoned,
    ExecutionResult,
    Failed,
    Proposed,
    Retry,
    Succeeded,
    Wait,
)
from seat_manager.adapters.chain.rpc import RpcClient
from seat_manager.adapters.chain.signer import LocalSigner
from seat_manager.adapters.db.deposit_guard import TX_REVERTED
from seat_manager.adapters.db.nonces import StoredTx
from seat_manager.adapters.db.queue import ClaimedOperation
from seat_manager.adapters.db.uow import UnitOfWorkFactory
from seat_manager.config import Settings
from seat_manager.domain.operations import OperationKind
from seat_manager.domain.policy import DEPOSIT_AMOUNT_WEI, FeeCapTooLow, initial_fees
from seat_manager.domain.types import GWEI

StoreCheck = Callable[[AsyncSession], Awaitable[ExecutionResult | None]]

GAS_HEADROOM_PERCENT = 20
DEFAULT_FEE_CAP_WEI = 200 * GWEI
DEFAULT_WATCHER_MAX_LAG_BLOCKS = 8
DEFAULT_RECEIPT_WAIT_S = 20.0
DEFAULT_POLL_INTERVAL_S = 1.0
DEFAULT_REPLACE_AFTER_S = 180.0
DEFAULT_PENDING_DELAY_S = 5.0
DEFAULT_LEASE_S = 60.0
TUNABLE = ("fee_cap_wei", "watcher_max_lag_blocks", "receipt_wait_s", "replace_after_s", "lease_s")


__all__ = [
    "Abandoned",
    "ExecutionResult",
    "Executor",
    "ExecutorConfig",
    "Failed",
    "NoopExecutor",
    "OwnerSendExecutor",
    "Proposed",
    "Retry",
    "Succeeded",
    "Wait",
]


class Executor(Protocol):
    async def execute(self, op: ClaimedOperation) -> ExecutionResult: ...


class NoopExecutor:
    """Succeeds at once: for queue tests and the queue benchmark."""

    async def execute(self, op: ClaimedOperation) -> ExecutionResult:
        return Succeeded({"noop": True})


# ---- configuration -------------------------------------------------------------------------


@dataclass(frozen=True)
class ExecutorConfig:
    chain_id: int
    vault_factory: str
    vault_init_code_hash: str
    deposit_contract: str
    principal_destination: str
    confirmations: int
    reserve_limit_wei: int
    fee_cap_wei: int = DEFAULT_FEE_CAP_WEI
    watcher_max_lag_blocks: int = DEFAULT_WATCHER_MAX_LAG_BLOCKS
    receipt_wait_s: float = DEFAULT_RECEIPT_WAIT_S
    poll_interval_s: float = DEFAULT_POLL_INTERVAL_S
    replace_after_s: float = DEFAULT_REPLACE_AFTER_S
    pending_delay_s: float = DEFAULT_PENDING_DELAY_S
    lease_s: float = DEFAULT_LEASE_S

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> ExecutorConfig:
        """From the runtime settings. The tuning values take a Settings field of the same
        name when one exists (proposed: SEAT_MANAGER_MAX_FEE_PER_GAS_WEI -> fee_cap_wei,
        SEAT_MANAGER_DEPOSIT_MAX_INDEX_LAG_BLOCKS -> watcher_max_lag_blocks,
        SEAT_MANAGER_TX_RECEIPT_WAIT_SECONDS -> receipt_wait_s,
        SEAT_MANAGER_TX_REPLACE_AFTER_SECONDS -> replace_after_s,
        SEAT_MANAGER_WORKER_LEASE_SECONDS -> lease_s), else the defaults here."""
        runtime = settings.require_runtime()
        values: dict[str, Any] = {
            "chain_id": runtime.chain_id,
            "vault_factory": runtime.vault_factory_address,
            "vault_init_code_hash": runtime.vault_init_code_hash,
            "deposit_contract": runtime.deposit_contract_address,
            "principal_destination": runtime.principal_destination_address,
            "confirmations": settings.el_confirmations,
            "reserve_limit_wei": runtime.reserve_coverage_limit_wei,
        }
        for name in TUNABLE:
            values[name] = getattr(settings, name)
        return cls(**{**values, **overrides})

    def tracker(self) -> TrackerConfig:
        return TrackerConfig(
            chain_id=self.chain_id,
            confirmations=self.confirmations,
            fee_cap_wei=self.fee_cap_wei,
            receipt_wait_s=self.receipt_wait_s,
            poll_interval_s=self.poll_interval_s,
            replace_after_s=self.replace_after_s,
            lease_s=self.lease_s,
        )


async def _no_store_check(session: AsyncSession) -> ExecutionResult | None:
    return None


def utc_now() -> datetime:
    return datetime.now(UTC)


def _revert_text(exc: RpcNodeError) -> str:
    data = exc.revert_data
    return contracts.describe_revert(data) if data is not None else exc.rpc_message


# ---- OWNER_SEND ----------------------------------------------------------------------------


class OwnerSendExecutor:
    def __init__(
        self,
        rpc: RpcClient,
        signer: LocalSigner,
        uow: UnitOfWorkFactory,
        config: ExecutorConfig,
        *,
        clock: Callable[[], datetime] = utc_now,
        on_step: Step | None = None,
    ) -> None:
        self._rpc = rpc
        self._signer = signer
        self._config = config
        self.tracker = TransactionTracker(
            rpc, signer, uow, config.tracker(), clock=clock, on_step=on_step
        )
        self._guards = DepositGuards(rpc, uow, config)

    async def execute(self, op: ClaimedOperation) -> ExecutionResult:
        try:
            plan = build_plan(op, self._config)
            if op.has_transaction:
                return await self._follow(op, plan)
            return await self._first_attempt(op, plan)
        except PayloadInvalid as exc:
            return Failed(exc.code, exc.message)
        except LeaseLost as exc:
            return Abandoned(f"lease on {exc} was taken over by another worker")
        except RpcError as exc:
            return Retry(exc.code, exc.message)

    async def _first_attempt(self, op: ClaimedOperation, plan: Plan) -> ExecutionResult:
        done = await self._effect_on_chain(plan)
        if isinstance(done, Retry | dict):
            return Succeeded(done) if isinstance(done, dict) else done
        check: StoreCheck = _no_store_check
        if plan.kind is OperationKind.DEPOSIT:
            guarded = await self._guards.before_signing(plan)
            if not isinstance(guarded, Guarded):
                return guarded
            plan = guarded.plan
            check = self._guards.store_check(op, guarded)
        gas = await self._simulate(plan)
        if not isinstance(gas, int):
            return gas
        try:
            fees = initial_fees(
                base_fee=await self.tracker.base_fee(),
                suggested_priority=await self._rpc.max_priority_fee_per_gas(),
                cap=self._config.fee_cap_wei,
            )
        except FeeCapTooLow as exc:
            return Wait("FEE_CAP_TOO_LOW", str(exc), self._config.pending_delay_s)
        request = TxRequest(plan.to, plan.data, plan.value, gas, plan.label)
        stored: StoredTx | ExecutionResult = await self.tracker.sign_and_store(
            op, request, fees, check
        )
        if not isinstance(stored, StoredTx):
            return stored
        signed = replace(op, tx_nonce=stored.nonce, tx_hash=stored.tx_hash, signed_tx=stored.raw_tx)
        return await self._follow(signed, plan)

    async def _follow(self, op: ClaimedOperation, plan: Plan) -> ExecutionResult:
        outcome = await self.tracker.follow(op)
        if isinstance(outcome, Mined):
            result = await self._interpret(plan, outcome)
            if isinstance(result, Failed) and result.code == TX_REVERTED:
                # The nonce is spent and nothing happened: an admin retry must sign anew
                # rather than find this receipt again. The hash stays in the evidence.
                await self.tracker.forget(op)
            return result
        if isinstance(outcome, NonceConsumed):
            done = await self._effect_on_chain(plan)
            if isinstance(done, dict):
                return Succeeded({**done, "nonce_consumed": outcome.message})
            await self.tracker.forget(op)
            return Retry("NONCE_CONSUMED_ELSEWHERE", outcome.message)
        return Wait(outcome.code, outcome.message, self._config.pending_delay_s)

    # ---- chain reads -----------------------------------------------------------------------

    async def _view(self, to: str, data: bytes, abi_type: str) -> Any:
        (value,) = decode([abi_type], await self._rpc.call(to, data))
        return value

    async def _effect_on_chain(self, plan: Plan) -> dict[str, Any] | Retry | None:
        """Evidence that the operation's effect is already on chain, a Retry when the
        vault it needs is missing, or None (go ahead and send)."""
        has_code = bool(await self._rpc.get_code(plan.vault))
        if plan.kind is OperationKind.DEPLOY_VAULT:
            return (
                {"effect": "vault code present", "vault_address": plan.vault} if has_code else None
            )
        if not has_code:
            return Retry("VAULT_NOT_DEPLOYED", f"no vault code at {plan.vault} yet")
        if plan.kind is OperationKind.DEPOSIT:
            principal = await self._view(
                plan.vault,
                contracts.load_artifact(contracts.SEAT_VAULT).encode_call("principalOutstanding"),
                "uint256",
            )
            if principal >= DEPOSIT_AMOUNT_WEI:
                return {"effect": "vault records the deposit", "principal_wei": str(principal)}
        if plan.kind is OperationKind.GRANT_CLAIM_EXECUTOR:
            assert plan.executor is not None and plan.expires_at is not None
            expiry = await self._view(
                plan.vault, contracts.claim_executor_expiry_calldata(plan.executor), "uint256"
            )
            if expiry >= plan.expires_at:
                return {"effect": "grant already lasts long enough", "expires_at": expiry}
        return None

    def _call(self, to: str, data: bytes, value: int) -> dict[str, str]:
        return {
            "from": self._signer.address,
            "to": to,
            "data": "0x" + data.hex(),
            "value": hex(value),
        }

    async def _simulate(self, plan: Plan) -> int | ExecutionResult:
        """Run the call with `eth_call`, then estimate gas; classify a revert."""
        call = self._call(plan.to, plan.data, plan.value)
        try:
            await self._rpc.request("eth_call", [call, "latest"])
            gas = await self._rpc.estimate_gas(call)
        except RpcNodeError as exc:
            reason = _revert_text(exc)
            if reason.startswith("StaleDepositRoot("):
                return Retry("DEPOSIT_ROOT_CHANGED", f"a deposit landed since the guard: {reason}")
            if reason.startswith("VaultNotDeployed("):
                return Retry("VAULT_NOT_DEPLOYED", reason)
            if reason.startswith("VaultAlreadyDeployed("):
                done = await self._effect_on_chain(plan)
                if isinstance(done, dict):
                    return Succeeded(done)
            if exc.revert_data is None and exc.rpc_code != 3:
                return Retry("SIMULATION_ERROR", f"{plan.label}: {exc.rpc_message}")
            return Failed("SIMULATION_REVERTED", f"{plan.label} would revert: {reason}")
        return gas + gas * GAS_HEADROOM_PERCENT // 100

    async def _revert_reason(self, mined: Mined) -> str:
        """Replay the reverted call on the state before and at its block."""
        fields = decode_raw(mined.tx.raw_tx)
        call = self._call(
            "0x" + bytes(fields["to"]).hex(), bytes(fields["data"]), int(fields["value"])
        )
        number = mined.receipt.block_number
        for block in (number - 1, number):
            try:
                await self._rpc.request("eth_call", [call, hex(max(block, 0))])
            except RpcNodeError as exc:
                return _revert_text(exc)
        return "reverted (the reason could not be reproduced by replaying the call)"

    async def _interpret(self, plan: Plan, mined: Mined) -> ExecutionResult:
        receipt = mined.receipt
        evidence: dict[str, Any] = {
            "tx_hash": receipt.transaction_hash,
            "block_number": receipt.block_number,
            "block_hash": receipt.block_hash,
            "nonce": mined.tx.nonce,
            "gas_used": receipt.gas_used,
        }
        if not receipt.succeeded:
            reason = await self._revert_reason(mined)
            if plan.kind is OperationKind.DEPLOY_VAULT:
                done = await self._effect_on_chain(plan)
                if isinstance(done, dict):
                    return Succeeded({**evidence, **done, "reverted_with": reason})
            return Failed(
                TX_REVERTED,
                f"{plan.label} transaction {receipt.transaction_hash} reverted in block"
                f" {receipt.block_number}: {reason}",
                evidence,
            )
        if plan.kind is OperationKind.DEPLOY_VAULT:
            evidence["vault_address"] = plan.vault
        if plan.kind is OperationKind.DEPOSIT:
            return self._deposit_evidence(plan, receipt.logs, evidence)
        return Succeeded(evidence)

    def _deposit_evidence(self, plan: Plan, logs: Any, evidence: dict[str, Any]) -> ExecutionResult:
        """A successful deposit must show the deposit contract's DepositEvent for our key."""
        for log in logs:
            try:
                event = decode_deposit_log(log, deposit_contract=self._config.deposit_contract)
            except DepositLogInvalid:
                continue
            if event.pubkey == plan.pubkey:
                return Succeeded(
                    {
                        **evidence,
                        "deposit_index": event.index,
                        "pubkey": "0x" + event.pubkey.hex(),
                        "withdrawal_credentials": "0x" + event.withdrawal_credentials.hex(),
                        "amount_gwei": event.amount_gwei,
                    }
                )
        return Failed(
            "DEPOSIT_EVENT_MISSING",
            f"deposit transaction {evidence['tx_hash']} succeeded without a DepositEvent for"
            " the pubkey from the deposit contract",
            evidence,
        )
