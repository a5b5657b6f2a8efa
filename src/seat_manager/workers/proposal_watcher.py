"""The proposal watcher: a `proposed` operation becomes `succeeded` once its effect is
on chain (SPEC §7, PROPOSE).

People execute proposals (the Safe's owners sign the safeTxHash and one of them sends
`execTransaction`), so nothing tells the back end when that happened; this cycle looks.
For every operation in `proposed` it asks `ChainEffects` (the same reads the PROPOSE
executor makes before proposing): vault code for DEPLOY_VAULT, principal recorded or a
32 ETH deposit with the vault's credentials in the index for DEPOSIT, a long enough
grant for GRANT_CLAIM_EXECUTOR, a `RewardsClaimed` since the proposal for CLAIM. When
the effect is there the operation moves `proposed → succeeded` through the domain's
status machine as the watcher, with the reads (block checked, the Safe execution when
found) as evidence and an `operation.succeeded` audit event.

Only `proposed` rows are ever touched, and the update is guarded by that status: an
admin who cancelled or retried the operation meanwhile wins, and the watcher's result
is dropped. One cycle is one `run_cycle(now)` call; the runner owns the loop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from seat_manager.adapters.chain.plans import PayloadInvalid, PlanConfig, build_plan
from seat_manager.adapters.chain.proposal_effects import ChainEffects
from seat_manager.adapters.chain.rpc import RpcClient
from seat_manager.adapters.db import proposals
from seat_manager.adapters.db.claimed import claimed_from_row
from seat_manager.adapters.db.queue import ClaimedOperation
from seat_manager.adapters.db.tables import OperationRow
from seat_manager.adapters.db.uow import UnitOfWorkFactory
from seat_manager.domain import operations as domain
from seat_manager.domain.operations import Operation, OperationStatus
from seat_manager.domain.seats import Actor, ActorKind

log = logging.getLogger("seat_manager.proposals")

DEFAULT_BATCH_SIZE = 100


@dataclass(frozen=True)
class ProposalCycleResult:
    checked: int = 0
    succeeded: list[str] = field(default_factory=list)
    """Operation ids moved to succeeded in this cycle."""
    pending: int = 0
    unreadable: int = 0
    """Proposed operations whose payload no longer builds a call (logged, left alone)."""


def _snapshot(row: OperationRow) -> tuple[ClaimedOperation, dict[str, Any]]:
    """The row as plain values (read inside the unit of work, which expires its rows on
    the way out) and its proposal. `build_plan` reads only the id, seat, kind and
    payload; no lease is involved."""
    claimed = replace(claimed_from_row(row), lease_owner="", lease_expires_at=row.available_at)
    return claimed, dict(row.proposal or {})


class ProposalWatcher:
    def __init__(
        self,
        rpc: RpcClient,
        uow: UnitOfWorkFactory,
        config: PlanConfig,
        *,
        name: str = "proposals",
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        self._uow = uow
        self._config = config
        self._effects = ChainEffects(rpc, uow)
        self._actor = Actor(ActorKind.WATCHER, name)
        self._batch_size = batch_size

    async def run_cycle(self, now: datetime) -> ProposalCycleResult:
        """Check every proposed operation (oldest first, up to the batch size) once."""
        async with self._uow() as uow:
            found = await proposals.proposed_operations(uow.session, self._batch_size)
            rows = [_snapshot(row) for row in found]
        succeeded: list[str] = []
        pending = unreadable = 0
        for op, proposal in rows:
            try:
                plan = build_plan(op, self._config)
            except PayloadInvalid as exc:
                log.warning("proposed operation %s: %s", op.operation_id, exc.message)
                unreadable += 1
                continue
            seen = await self._effects.observe(plan, proposal)
            if seen.evidence is None:
                pending += 1
            elif await self._succeed(op, seen.evidence, now):
                succeeded.append(op.operation_id)
        return ProposalCycleResult(len(rows), succeeded, pending, unreadable)

    async def _succeed(self, op: ClaimedOperation, evidence: dict[str, Any], now: datetime) -> bool:
        current = Operation(
            op.operation_id,
            op.seat_id,
            op.kind,
            OperationStatus.PROPOSED,
            attempts=op.attempts,
            available_at=op.available_at,
        )
        domain.succeed(current, actor=self._actor, evidence=evidence, now=now)
        async with self._uow() as uow:
            if not await proposals.mark_proposed_succeeded(uow.session, op.operation_id, now):
                log.info("operation %s left proposed meanwhile; not marked", op.operation_id)
                return False
            uow.audit.record(
                "operation.succeeded",
                actor=str(self._actor),
                now=now,
                subject_type="operation",
                subject_id=op.operation_id,
                data={"seat_id": op.seat_id, "kind": op.kind.value, **evidence},
            )
            await uow.commit()
        log.info("operation %s %s succeeded: %s", op.operation_id, op.kind, evidence.get("effect"))
        return True
