"""On-chain operations and their status machine, and the retry/cancel gates (SPEC §7).

Each move is a named action with the statuses it may start from, the status it ends
in and the actors allowed to take it (``RULES``):

    enqueue   (new)                         → queued      any actor
    claim     queued                        → processing  system (worker), attempts + 1
    reclaim   processing (lease expired)    → processing  system (worker), attempts + 1
    requeue   processing                    → queued      system: retryable error or lease released
    propose   processing                    → proposed    system, evidence = the proposal
    succeed   processing                    → succeeded   system, evidence = receipt/chain read
    succeed   proposed                      → succeeded   watcher, evidence = effect on chain
    fail      processing                    → failed      system, with error code and message
    retry     failed | proposed             → queued      admin with reason; attempts reset
    cancel    queued | processing | proposed → failed     admin with reason

Retry and cancel refuse other statuses with the runbook's exact messages
(``Operation retry not allowed from status <status>``). Cancelling only marks the row:
a transaction already broadcast, or a multisig proposal already written, is not
recalled by it; the worker's later result is then refused by this machine and the
effect, if any, shows up on chain for an admin to reconcile.

An admin retry resets ``attempts`` so the requeued operation gets the full retry
budget again (the earlier attempts stay in the history). The retry decisions after an
error (equal-jitter backoff, the attempt budget) live in ``domain.retry`` and are
re-exported here; ``apply_error_decision`` turns one into a requeue or a fail.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from seat_manager.domain.actors import Actor, ActorKind
from seat_manager.domain.errors import InvalidTransition, ValidationFailed
from seat_manager.domain.retry import DEFAULT_BACKOFF_BASE as DEFAULT_BACKOFF_BASE
from seat_manager.domain.retry import DEFAULT_BACKOFF_CAP as DEFAULT_BACKOFF_CAP
from seat_manager.domain.retry import DEFAULT_MAX_ATTEMPTS as DEFAULT_MAX_ATTEMPTS
from seat_manager.domain.retry import ErrorDecision as ErrorDecision
from seat_manager.domain.retry import Fail as Fail
from seat_manager.domain.retry import Requeue as Requeue
from seat_manager.domain.retry import decide_after_error as decide_after_error
from seat_manager.domain.retry import next_attempt_at as next_attempt_at
from seat_manager.domain.seats import Evidence, freeze_evidence, require_aware
from seat_manager.domain.types import OperationId, SeatId

OPERATION_ID_PATTERN = re.compile(r"^op_[a-z2-7]{26}$")
OPERATION_ID_RANDOM_BYTES = 16
CANCELLED_ERROR_CODE = "OPERATION_CANCELLED"


class OperationKind(StrEnum):
    DEPLOY_VAULT = "DEPLOY_VAULT"
    DEPOSIT = "DEPOSIT"
    GRANT_CLAIM_EXECUTOR = "GRANT_CLAIM_EXECUTOR"
    CLAIM = "CLAIM"


class OperationStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    PROPOSED = "proposed"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


LIVE_STATUSES = frozenset(
    {OperationStatus.QUEUED, OperationStatus.PROCESSING, OperationStatus.PROPOSED}
)
"""At most one live operation per seat and kind (``uniq_operations_live_seat_kind``)."""


class OperationAction(StrEnum):
    ENQUEUE = "enqueue"
    CLAIM = "claim"
    RECLAIM = "reclaim"
    REQUEUE = "requeue"
    PROPOSE = "propose"
    SUCCEED = "succeed"
    FAIL = "fail"
    RETRY = "retry"
    CANCEL = "cancel"


@dataclass(frozen=True)
class Rule:
    sources: frozenset[OperationStatus]
    target: OperationStatus
    actors: frozenset[ActorKind]


_S = OperationStatus
_SYSTEM = frozenset({ActorKind.SYSTEM})
RULES: Mapping[OperationAction, tuple[Rule, ...]] = MappingProxyType(
    {
        OperationAction.CLAIM: (Rule(frozenset({_S.QUEUED}), _S.PROCESSING, _SYSTEM),),
        OperationAction.RECLAIM: (Rule(frozenset({_S.PROCESSING}), _S.PROCESSING, _SYSTEM),),
        OperationAction.REQUEUE: (Rule(frozenset({_S.PROCESSING}), _S.QUEUED, _SYSTEM),),
        OperationAction.PROPOSE: (Rule(frozenset({_S.PROCESSING}), _S.PROPOSED, _SYSTEM),),
        OperationAction.SUCCEED: (
            Rule(frozenset({_S.PROCESSING}), _S.SUCCEEDED, _SYSTEM),
            Rule(frozenset({_S.PROPOSED}), _S.SUCCEEDED, frozenset({ActorKind.WATCHER})),
        ),
        OperationAction.FAIL: (Rule(frozenset({_S.PROCESSING}), _S.FAILED, _SYSTEM),),
        OperationAction.RETRY: (
            Rule(frozenset({_S.FAILED, _S.PROPOSED}), _S.QUEUED, frozenset({ActorKind.ADMIN})),
        ),
        OperationAction.CANCEL: (Rule(LIVE_STATUSES, _S.FAILED, frozenset({ActorKind.ADMIN})),),
    }
)


def is_live(status: OperationStatus) -> bool:
    return status in LIVE_STATUSES


def new_operation_id(random_bytes: bytes) -> OperationId:
    """``op_`` + 26 lower-case base32 characters from 16 random bytes the caller draws."""
    if len(random_bytes) != OPERATION_ID_RANDOM_BYTES:
        raise ValueError(f"operation ids need {OPERATION_ID_RANDOM_BYTES} random bytes")
    encoded = base64.b32encode(random_bytes).decode("ascii").rstrip("=").lower()
    return OperationId(f"op_{encoded}")


def is_operation_id(value: str) -> bool:
    return OPERATION_ID_PATTERN.fullmatch(value) is not None


@dataclass(frozen=True)
class OperationTransition:
    """One append-only history entry; ``from_status`` is None for the enqueue."""

    action: OperationAction
    from_status: OperationStatus | None
    to_status: OperationStatus
    actor: Actor
    at: datetime
    reason: str | None = None
    evidence: Evidence = field(default_factory=lambda: freeze_evidence(None))
    error_code: str | None = None
    error_message: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "evidence", freeze_evidence(self.evidence))


@dataclass(frozen=True)
class Operation:
    operation_id: OperationId
    seat_id: SeatId
    kind: OperationKind
    status: OperationStatus
    attempts: int
    available_at: datetime
    error_code: str | None = None
    error_message: str | None = None
    history: tuple[OperationTransition, ...] = ()


@dataclass(frozen=True)
class OperationTransitioned:
    """Event for the service to persist and audit."""

    operation_id: OperationId
    seat_id: SeatId
    kind: OperationKind
    transition: OperationTransition


def is_due(op: Operation, now: datetime) -> bool:
    return op.status is OperationStatus.QUEUED and op.available_at <= now


def enqueue(
    operation_id: OperationId,
    seat_id: SeatId,
    kind: OperationKind,
    *,
    actor: Actor,
    now: datetime,
    available_at: datetime | None = None,
    evidence: Evidence | None = None,
    reason: str | None = None,
) -> tuple[Operation, OperationTransitioned]:
    if not is_operation_id(operation_id):
        raise ValidationFailed(f"Not an operation id: {operation_id!r}")
    record = OperationTransition(
        OperationAction.ENQUEUE,
        None,
        OperationStatus.QUEUED,
        actor,
        require_aware(now),
        reason=reason,
        evidence=freeze_evidence(evidence),
    )
    op = Operation(
        operation_id,
        seat_id,
        kind,
        OperationStatus.QUEUED,
        attempts=0,
        available_at=require_aware(available_at or now),
        history=(record,),
    )
    return op, OperationTransitioned(operation_id, seat_id, kind, record)


def _gate_message(op: Operation, action: OperationAction) -> str:
    if action in (OperationAction.RETRY, OperationAction.CANCEL):
        return f"Operation {action} not allowed from status {op.status}"
    return f"Operation {op.operation_id} cannot {action} from status {op.status}"


def _apply(
    op: Operation,
    action: OperationAction,
    *,
    actor: Actor,
    now: datetime,
    reason: str | None = None,
    evidence: Evidence | None = None,
    require_evidence: bool = False,
    require_reason: bool = False,
    error: tuple[str | None, str | None] | None = None,
    attempts: int | None = None,
    available_at: datetime | None = None,
) -> tuple[Operation, OperationTransitioned]:
    """Check the rule for ``action`` and build the moved operation.

    ``error`` sets (or, with ``(None, None)``, clears) the operation's error; left as
    None the operation keeps its last error and the history entry records none.
    """
    data: dict[str, object] = {
        "operation_id": op.operation_id,
        "action": action,
        "from": op.status,
        "actor": str(actor),
    }
    rules = [rule for rule in RULES[action] if op.status in rule.sources]
    if not rules:
        raise InvalidTransition(_gate_message(op, action), data=data)
    rule = next((r for r in rules if actor.kind in r.actors), None)
    if rule is None:
        allowed = sorted({kind for r in rules for kind in r.actors})
        raise InvalidTransition(
            f"Operation {op.operation_id} cannot {action} from status {op.status}"
            f" as {actor.kind} (allowed: {', '.join(allowed)})",
            data={**data, "allowed_actors": allowed},
        )
    data["to"] = rule.target
    frozen = freeze_evidence(evidence)
    reason = reason.strip() if reason and reason.strip() else None
    if require_evidence and not frozen:
        raise ValidationFailed(
            f"Operation {op.operation_id} {action} requires evidence",
            code="EVIDENCE_REQUIRED",
            data=data,
        )
    if require_reason and reason is None:
        raise ValidationFailed(
            f"Operation {action} requires a reason", code="REASON_REQUIRED", data=data
        )
    record = OperationTransition(
        action,
        op.status,
        rule.target,
        actor,
        require_aware(now),
        reason=reason,
        evidence=frozen,
        error_code=error[0] if error else None,
        error_message=error[1] if error else None,
    )
    error_code, error_message = (op.error_code, op.error_message) if error is None else error
    moved = replace(
        op,
        status=rule.target,
        attempts=op.attempts if attempts is None else attempts,
        available_at=op.available_at if available_at is None else require_aware(available_at),
        error_code=error_code,
        error_message=error_message,
        history=(*op.history, record),
    )
    return moved, OperationTransitioned(op.operation_id, op.seat_id, op.kind, record)


def claim(op: Operation, *, actor: Actor, now: datetime) -> tuple[Operation, OperationTransitioned]:
    """A worker takes a due queued operation; each claim counts as an attempt."""
    return _apply(
        op,
        OperationAction.CLAIM,
        actor=actor,
        now=now,
        attempts=op.attempts + 1,
    )


def reclaim_expired(
    op: Operation, *, actor: Actor, now: datetime, evidence: Evidence | None = None
) -> tuple[Operation, OperationTransitioned]:
    """A worker takes over a processing operation whose lease expired (the caller checked)."""
    return _apply(
        op,
        OperationAction.RECLAIM,
        actor=actor,
        now=now,
        evidence=evidence,
        attempts=op.attempts + 1,
    )


def requeue(
    op: Operation,
    *,
    actor: Actor,
    at: datetime,
    now: datetime,
    error_code: str | None = None,
    error_message: str | None = None,
    reason: str | None = None,
) -> tuple[Operation, OperationTransitioned]:
    """Back to queued, due at ``at``: after a retryable error, or a lease released on stop."""
    return _apply(
        op,
        OperationAction.REQUEUE,
        actor=actor,
        now=now,
        reason=reason,
        error=None if error_code is None else (error_code, error_message),
        available_at=at,
    )


def propose(
    op: Operation, *, actor: Actor, evidence: Evidence, now: datetime
) -> tuple[Operation, OperationTransitioned]:
    """PROPOSE mode wrote a multisig proposal (the evidence: to, value, data, chain id)."""
    return _apply(
        op,
        OperationAction.PROPOSE,
        actor=actor,
        now=now,
        evidence=evidence,
        require_evidence=True,
        error=(None, None),
    )


def succeed(
    op: Operation, *, actor: Actor, evidence: Evidence, now: datetime
) -> tuple[Operation, OperationTransitioned]:
    """The effect is on chain; the evidence says where (tx hash, block, or the read)."""
    return _apply(
        op,
        OperationAction.SUCCEED,
        actor=actor,
        now=now,
        evidence=evidence,
        require_evidence=True,
        error=(None, None),
    )


def fail(
    op: Operation,
    *,
    actor: Actor,
    error_code: str,
    error_message: str,
    now: datetime,
    evidence: Evidence | None = None,
) -> tuple[Operation, OperationTransitioned]:
    if not error_code.strip() or not error_message.strip():
        raise ValueError("a failed operation needs an error code and message")
    return _apply(
        op,
        OperationAction.FAIL,
        actor=actor,
        now=now,
        evidence=evidence,
        error=(error_code, error_message),
    )


def admin_retry(
    op: Operation, *, actor: Actor, reason: str | None, now: datetime
) -> tuple[Operation, OperationTransitioned]:
    """Failed or proposed → queued now, with a fresh attempt budget."""
    return _apply(
        op,
        OperationAction.RETRY,
        actor=actor,
        now=now,
        reason=reason,
        require_reason=True,
        error=(None, None),
        attempts=0,
        available_at=now,
    )


def admin_cancel(
    op: Operation, *, actor: Actor, reason: str | None, now: datetime
) -> tuple[Operation, OperationTransitioned]:
    """Queued, processing or proposed → failed, recording who cancelled and why."""
    note = reason.strip() if reason else ""
    return _apply(
        op,
        OperationAction.CANCEL,
        actor=actor,
        now=now,
        reason=reason,
        require_reason=True,
        error=(CANCELLED_ERROR_CODE, f"Cancelled by {actor.id}: {note}"),
    )


def apply_error_decision(
    op: Operation, decision: ErrorDecision, *, actor: Actor, now: datetime
) -> tuple[Operation, OperationTransitioned]:
    if isinstance(decision, Requeue):
        return requeue(
            op,
            actor=actor,
            at=decision.at,
            now=now,
            error_code=decision.error_code,
            error_message=decision.error_message,
        )
    return fail(
        op,
        actor=actor,
        error_code=decision.error_code,
        error_message=decision.error_message,
        now=now,
    )
