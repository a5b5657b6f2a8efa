"""Is an operation's effect on chain? The reads PROPOSE mode relies on twice: before
proposing (already done: succeed without a proposal) and in the proposal watcher (a
proposal executed by the Safe, or by anyone: mark the operation succeeded).

They look at state, not at who sent it, so an operator who executed the call another
way (a different Safe nonce, the Safe UI's own batch) is still recognised; the Safe's
`ExecutionSuccess` for the stored safeTxHash is only added as evidence when present.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode

from seat_manager.adapters.chain import contracts, safe
from seat_manager.adapters.chain.errors import RpcError
from seat_manager.adapters.chain.plans import Plan
from seat_manager.adapters.chain.rpc import RpcClient
from seat_manager.adapters.db import deposit_guard
from seat_manager.adapters.db.uow import UnitOfWorkFactory
from seat_manager.domain.operations import OperationKind
from seat_manager.domain.policy import DEPOSIT_AMOUNT_WEI
from seat_manager.domain.vaults import withdrawal_credentials

_REWARDS_CLAIMED = (
    "0x" + contracts.load_artifact(contracts.SEAT_VAULT).event_topic("RewardsClaimed").hex()
)


@dataclass(frozen=True)
class Observation:
    vault_deployed: bool
    evidence: dict[str, Any] | None
    """What shows the effect is on chain, or None when it is not (yet)."""


class ChainEffects:
    """The chain reads that say an operation's effect happened, whoever sent it.

    DEPLOY_VAULT: code at the vault. DEPOSIT: the vault records 32 ETH of principal
    (only a deposit through the factory does that), or the watcher's index holds a
    32 ETH deposit for the pubkey with the vault's credentials. GRANT_CLAIM_EXECUTOR:
    the grant lasts at least until the requested expiry. CLAIM has no lasting state: a
    `RewardsClaimed` from the vault since the proposal's block (a claim pays the
    beneficiary whoever calls it, so the rewards the proposal meant to move have moved).
    With a safeTxHash, the Safe's `ExecutionSuccess` for it is added as evidence.
    """

    def __init__(self, rpc: RpcClient, uow: UnitOfWorkFactory) -> None:
        self._rpc = rpc
        self._uow = uow

    async def observe(self, plan: Plan, proposal: Mapping[str, Any] | None = None) -> Observation:
        head = await self._rpc.block_number()
        deployed = bool(await self._rpc.get_code(plan.vault, block=head))
        evidence = await self._effect(plan, deployed, head, proposal or {})
        if evidence is None:
            return Observation(deployed, None)
        evidence["checked_at_block"] = head
        if proposal:
            evidence.update(await self._safe_execution(proposal, head))
        return Observation(deployed, evidence)

    async def _view(self, to: str, data: bytes, abi_type: str, head: int) -> Any:
        (value,) = decode([abi_type], await self._rpc.call(to, data, block=head))
        return value

    async def _effect(
        self, plan: Plan, deployed: bool, head: int, proposal: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        if plan.kind is OperationKind.DEPLOY_VAULT:
            return (
                {"effect": "vault code present", "vault_address": plan.vault} if deployed else None
            )
        if plan.kind is OperationKind.DEPOSIT:
            return await self._deposit(plan, deployed, head)
        if not deployed:
            return None
        if plan.kind is OperationKind.GRANT_CLAIM_EXECUTOR:
            assert plan.executor is not None and plan.expires_at is not None
            calldata = contracts.claim_executor_expiry_calldata(plan.executor)
            expiry = await self._view(plan.vault, calldata, "uint256", head)
            if expiry >= plan.expires_at:
                return {"effect": "grant lasts long enough", "expires_at": int(expiry)}
            return None
        since = proposal.get("proposed_at_block")
        if not isinstance(since, int):
            return None  # a claim is never "already done" before it was proposed
        logs = await self._rpc.get_logs(
            address=plan.vault, from_block=since, to_block=head, topics=[_REWARDS_CLAIMED]
        )
        for log in logs:
            (amount,) = decode(["uint256"], log.data)
            return {
                "effect": "rewards claimed since the proposal",
                "tx_hash": log.transaction_hash,
                "block_number": log.block_number,
                "amount_wei": str(amount),
            }
        return None

    async def _deposit(self, plan: Plan, deployed: bool, head: int) -> dict[str, Any] | None:
        if deployed:
            calldata = contracts.load_artifact(contracts.SEAT_VAULT).encode_call(
                "principalOutstanding"
            )
            principal = await self._view(plan.vault, calldata, "uint256", head)
            if principal >= DEPOSIT_AMOUNT_WEI:
                return {"effect": "vault records the deposit", "principal_wei": str(principal)}
        credentials = "0x" + withdrawal_credentials(plan.vault).hex()
        async with self._uow() as uow:
            seen = await deposit_guard.deposits_for_pubkey(uow.session, plan.pubkey)
        for deposit in seen:
            if (
                deposit.withdrawal_credentials == credentials
                and deposit.amount_gwei * 10**9 == DEPOSIT_AMOUNT_WEI
            ):
                return {
                    "effect": "deposit indexed with the vault's credentials",
                    "tx_hash": deposit.tx_hash,
                    "block_number": deposit.block_number,
                    "pubkey": "0x" + plan.pubkey.hex(),
                }
        return None

    async def _safe_execution(self, proposal: Mapping[str, Any], head: int) -> dict[str, Any]:
        """Best effort: the Safe transaction that executed this proposal, if it did."""
        tx_hash, address = proposal.get("safe_tx_hash"), proposal.get("safe_address")
        since = proposal.get("proposed_at_block")
        if not isinstance(tx_hash, str) or not isinstance(address, str):
            return {}
        if not isinstance(since, int):
            return {}
        try:
            logs = await self._rpc.get_logs(
                address=address,
                from_block=since,
                to_block=head,
                topics=["0x" + safe.EXECUTION_SUCCESS_TOPIC.hex(), tx_hash],
            )
        except RpcError:
            return {}
        found: dict[str, Any] = {"safe_tx_hash": tx_hash}
        for log in logs:
            found["safe_execution"] = {
                "tx_hash": log.transaction_hash,
                "block_number": log.block_number,
            }
        return found
