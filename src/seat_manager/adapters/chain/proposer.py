"""PROPOSE mode: write a multisig proposal on the operation instead of sending anything.

Without an owner key the back end never signs; the vault factory's owner is a Safe and
people execute what is proposed. For each operation the executor:

1. builds the call (plans.py) and looks on chain for its effect (`ChainEffects`, the
   same reads the proposal watcher uses): already there, it succeeds without proposing;
2. DEPOSIT only: runs the deposit guards (the index caught up, no deposit ever made
   for the pubkey, the deposit root read at head goes into the call data);
3. reads the factory's `owner()` and, with SEAT_MANAGER_SAFE_ADDRESS set, refuses to
   propose to a Safe that does not own the factory; simulates the call from the owner
   with `eth_call`, so a proposal that would revert (NotClaimAuthorized, say) fails
   now with the reason instead of waiting for signatures;
4. in one store transaction, serialised per Safe (a PostgreSQL advisory lock; on
   SQLite every transaction is BEGIN IMMEDIATE already): re-runs the deposit store
   checks (plus reserve coverage counting deposits proposed but not yet executed),
   picks the Safe nonce, computes the safeTxHash and writes the proposal on the
   operation under the lease, then commits; the worker then moves it to `proposed`.

Nonce rule (`safe.choose_safe_nonce`): a re-proposal reuses the nonce stored in the
operation's earlier proposal while the Safe's `nonce()` has not gone past it and no
other live proposal holds it, so re-proposing the same call gives the same
safeTxHash (a DEPOSIT whose deposit root changed meanwhile gets new data under the
same nonce: only one version can ever execute). Otherwise it takes the lowest nonce at
or above the Safe's that no live (queued, processing, proposed) operation's stored
proposal holds. The proposal is stored before the lock is released, so two live
proposals never share a nonce; a cancelled operation's nonce is free again and the
next proposal fills the gap instead of blocking behind it. An admin retry must keep
the `proposal` column (the nonce lives there).

A DEPOSIT proposal carries the deposit root read when it was proposed, so any deposit
to the deposit contract before the Safe executes it (anyone's, on mainnet minutes
apart) makes the execution revert with StaleDepositRoot; with safeTxGas 0 the whole
execTransaction reverts and the Safe nonce is not used up, and an admin retry
re-proposes under the same nonce with the new root.

Without SEAT_MANAGER_SAFE_ADDRESS the proposal is the bare call (to, value, data,
operation, chain id) and the batch file: no nonce, no hash, and the note says so.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from eth_abi.abi import decode
from eth_utils.address import to_checksum_address
from sqlalchemy.ext.asyncio import AsyncSession

from seat_manager.adapters.chain import contracts, safe
from seat_manager.adapters.chain.deposit_guards import DepositGuards, Guarded
from seat_manager.adapters.chain.errors import RpcError, RpcNodeError
from seat_manager.adapters.chain.executor import ExecutorConfig, utc_now
from seat_manager.adapters.chain.plans import PayloadInvalid, Plan, build_plan
from seat_manager.adapters.chain.proposal_effects import ChainEffects
from seat_manager.adapters.chain.results import (
    Abandoned,
    ExecutionResult,
    Failed,
    Proposed,
    Retry,
    Succeeded,
)
from seat_manager.adapters.chain.rpc import RpcClient
from seat_manager.adapters.db import deposit_guard, proposals
from seat_manager.adapters.db.queue import ClaimedOperation
from seat_manager.adapters.db.uow import UnitOfWorkFactory
from seat_manager.domain.operations import OperationKind
from seat_manager.domain.policy import (
    RESERVE_COVERAGE_LIMIT_EXCEEDED,
    reserve_coverage,
)

SAFE_NOT_OWNER = "SAFE_NOT_FACTORY_OWNER"
SAFE_NOT_A_SAFE = "SAFE_NOT_A_SAFE"
SIMULATION_REVERTED = "SIMULATION_REVERTED"
VAULT_NOT_DEPLOYED = "VAULT_NOT_DEPLOYED"


# ---- the executor ----------------------------------------------------------------------------


class ProposeExecutor:
    def __init__(
        self,
        rpc: RpcClient,
        uow: UnitOfWorkFactory,
        config: ExecutorConfig,
        *,
        safe_address: str | None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._rpc = rpc
        self._uow = uow
        self._config = config
        self._safe = str(to_checksum_address(safe_address)) if safe_address else None
        self._clock = clock
        self.effects = ChainEffects(rpc, uow)
        self._guards = DepositGuards(rpc, uow, config)

    async def execute(self, op: ClaimedOperation) -> ExecutionResult:
        try:
            plan = build_plan(op, self._config)
            seen = await self.effects.observe(plan)
            if seen.evidence is not None:
                return Succeeded(seen.evidence)
            if plan.kind is not OperationKind.DEPLOY_VAULT and not seen.vault_deployed:
                return Retry(VAULT_NOT_DEPLOYED, f"no vault code at {plan.vault} yet")
            guarded: Guarded | None = None
            if plan.kind is OperationKind.DEPOSIT:
                checked = await self._guards.before_signing(plan)
                if not isinstance(checked, Guarded):
                    return checked
                guarded, plan = checked, checked.plan
            refused = await self._simulate(plan)
            if refused is not None:
                return refused
            return await self._propose(op, plan, guarded)
        except PayloadInvalid as exc:
            return Failed(exc.code, exc.message)
        except RpcError as exc:
            return Retry(exc.code, exc.message)

    async def _simulate(self, plan: Plan) -> ExecutionResult | None:
        """Run the call as the factory's owner would; refuse a Safe that is not it."""
        raw = await self._rpc.call(
            self._config.vault_factory,
            contracts.load_artifact(contracts.VAULT_FACTORY).encode_call("owner"),
        )
        owner = str(to_checksum_address(decode(["address"], raw)[0]))
        if self._safe is not None and owner != self._safe:
            return Failed(
                SAFE_NOT_OWNER,
                f"the vault factory's owner is {owner}, not the configured Safe {self._safe}:"
                " a proposal to the Safe could never execute",
            )
        call = {"from": owner, "to": plan.to, "data": "0x" + plan.data.hex()}
        if plan.value:
            call["value"] = hex(plan.value)
        try:
            await self._rpc.request("eth_call", [call, "latest"])
        except RpcNodeError as exc:
            if exc.revert_data is None and exc.rpc_code != 3:
                return Retry("SIMULATION_ERROR", f"{plan.label} from {owner}: {exc.rpc_message}")
            reason = (
                contracts.describe_revert(exc.revert_data)
                if exc.revert_data is not None
                else exc.rpc_message
            )
            if reason.startswith("StaleDepositRoot("):
                return Retry("DEPOSIT_ROOT_CHANGED", f"a deposit landed since the guard: {reason}")
            return Failed(SIMULATION_REVERTED, f"{plan.label} from {owner} would revert: {reason}")
        return None

    async def _propose(
        self, op: ClaimedOperation, plan: Plan, guarded: Guarded | None
    ) -> ExecutionResult:
        head = await self._rpc.block_number()
        safe_nonce: int | None = None
        if self._safe is not None:
            read = await self._safe_nonce(self._safe)
            if isinstance(read, Failed):
                return read
            safe_nonce = read
        now = self._clock()
        async with self._uow() as uow:
            session = uow.session
            await proposals.lock_proposals(session, self._safe)
            if guarded is not None:
                refused = await self._deposit_checks(session, op, guarded)
                if refused is not None:
                    return refused
            nonce: int | None = None
            if self._safe is not None and safe_nonce is not None:  # both or neither
                previous, taken = await proposals.nonces_in_use(
                    session, self._safe, self._config.chain_id, op.operation_id
                )
                nonce = safe.choose_safe_nonce(
                    safe_nonce=safe_nonce, previous=previous, taken=taken
                )
            proposal = safe.build_proposal(
                chain_id=self._config.chain_id,
                safe=self._safe,
                call=safe.BatchCall(plan.to, plan.value, plan.data),
                nonce=nonce,
                name=f"seat-manager {op.kind} {op.seat_id}",
                description=f"{plan.label}, operation {op.operation_id}",
                created_at_ms=int(now.timestamp() * 1000),
            )
            proposal.update(
                proposed_at_block=head,
                operation_id=op.operation_id,
                kind=op.kind.value,
                seat_id=op.seat_id,
            )
            if not await proposals.store_proposal(session, op, proposal, now):
                return Abandoned(f"lease on {op.operation_id} lost before the proposal was stored")
            await uow.commit()
        return Proposed(proposal)

    async def _safe_nonce(self, address: str) -> int | Failed:
        raw = await self._rpc.call(address, safe.NONCE_SELECTOR)
        if len(raw) != 32:
            return Failed(
                SAFE_NOT_A_SAFE,
                f"SEAT_MANAGER_SAFE_ADDRESS {address} answered nonce() with {len(raw)} bytes:"
                " it is not a Safe on this chain",
            )
        return int.from_bytes(raw, "big")

    async def _deposit_checks(
        self, session: AsyncSession, op: ClaimedOperation, guarded: Guarded
    ) -> ExecutionResult | None:
        """The guards' store checks, then reserve coverage counting proposed deposits."""
        refused = await self._guards.store_check(op, guarded)(session)
        if refused is not None:
            return refused
        at_risk = await deposit_guard.principal_at_risk(
            session, excluding_operation=op.operation_id
        )
        proposed = await proposals.deposits_proposed(session, op.operation_id)
        coverage = reserve_coverage(
            seats_at_risk=at_risk.seats_at_risk,
            deposits_in_flight=at_risk.deposits_in_flight + proposed,
            limit_wei=self._config.reserve_limit_wei,
        )
        if coverage.within_limit:
            return None
        return Failed(
            RESERVE_COVERAGE_LIMIT_EXCEEDED,
            "Reserve coverage limit exceeded: " + coverage.describe(),
            {**coverage.as_data(), "deposits_proposed": proposed, "head_block": guarded.head},
        )
