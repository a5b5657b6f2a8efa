"""A seat and its lifecycle: one pure state machine that every caller goes through (SPEC §5).

    CREATED → ENROLLED → DEPOSITED → CL_VISIBLE → ACTIVE → EXITED      (the main path)
    any of CREATED..ACTIVE → EXCEPTION                                  (watcher or admin)
    any status but REVOKED → REVOKED                                    (admin, terminal)

Who may move a seat, and why (the table is ``ALLOWED_MOVES``):

- operator: only CREATED → ENROLLED (the enrollment call). Everything after that is a
  chain fact, and chain facts are not taken from the party that benefits from them.
- watcher: forward along the main path from ENROLLED onwards, skipping states when the
  chain is ahead of us (the beacon node shows the validator before the EL deposit log
  has its confirmations; a validator became ACTIVE between two polls). Never from
  CREATED: before enrollment there is no pubkey to tie evidence to the seat. Never
  backwards: evidence that contradicts the recorded state is an anomaly, so the watcher
  raises EXCEPTION instead. Every watcher move needs non-empty evidence (block, log,
  slot, ...).
- admin: EXCEPTION from any state of CREATED..ACTIVE; REVOKED from any state but
  REVOKED; and resolving an EXCEPTION into the main-path state the chain supports
  (ENROLLED..EXITED), which needs evidence as well as a reason. Every admin move needs a
  governance reason. EXCEPTION → CREATED is refused on purpose: a seat that must be
  enrolled afresh (for example after a front-run deposit burnt its pubkey) is revoked
  and a new seat is seeded, so the history of the old key stays on the old seat.
- seeder: creates seats (``create_seat``) and moves none.
- system: moves no seat. The operation worker records its results on operations; the
  seat only moves when the watcher sees the confirmed effect on chain, so a receipt
  that is later reorganised away never advances a seat.

Terminal states: REVOKED is terminal for everyone. EXITED is terminal for the normal
path (the watcher should record EXITED only once the principal is withdrawn, after
which nothing on chain can still go wrong for that validator), but an admin may still
revoke an exited seat: revocation is what frees the operator's one non-revoked seat, so
without it an operator whose validator exited could never be given a new seat.
EXCEPTION is sticky: only an admin moves a seat out of it.

Principal at risk (reserve coverage, SPEC §6): DEPOSITED, CL_VISIBLE and ACTIVE, plus
EXCEPTION unless the seat entered EXCEPTION from CREATED. An exception raised at
ENROLLED may mean our 32 ETH went to a front-run pubkey, so it is counted; over-counting
only blocks a deposit, under-counting could exceed the reserve.

Timestamps are timezone-aware (UTC); a naive ``now`` is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from seat_manager.domain.actors import Actor as Actor
from seat_manager.domain.actors import ActorKind as ActorKind
from seat_manager.domain.errors import InvalidTransition, ValidationFailed
from seat_manager.domain.types import OperatorId, SeatId

Evidence = Mapping[str, object]
"""What a transition rests on: block number, log index, tx hash, slot, ... (JSON-like)."""


class SeatStatus(StrEnum):
    CREATED = "CREATED"
    ENROLLED = "ENROLLED"
    DEPOSITED = "DEPOSITED"
    CL_VISIBLE = "CL_VISIBLE"
    ACTIVE = "ACTIVE"
    EXITED = "EXITED"
    EXCEPTION = "EXCEPTION"
    REVOKED = "REVOKED"


def freeze_evidence(evidence: Evidence | None) -> Evidence:
    """A read-only copy, so a caller mutating its dict later cannot rewrite history."""
    return MappingProxyType(dict(evidence or {}))


def require_aware(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime (UTC)")
    return now


MAIN_PATH: tuple[SeatStatus, ...] = (
    SeatStatus.CREATED,
    SeatStatus.ENROLLED,
    SeatStatus.DEPOSITED,
    SeatStatus.CL_VISIBLE,
    SeatStatus.ACTIVE,
    SeatStatus.EXITED,
)
TERMINAL_STATUSES = frozenset({SeatStatus.EXITED, SeatStatus.REVOKED})
"""No lifecycle progress from here; only the admin EXITED → REVOKED remains."""
EXCEPTION_SOURCES = frozenset(MAIN_PATH[:-1])
"""The non-terminal states EXCEPTION can be raised from (EXCEPTION itself excluded)."""
PRINCIPAL_AT_RISK_STATUSES = frozenset(
    {SeatStatus.DEPOSITED, SeatStatus.CL_VISIBLE, SeatStatus.ACTIVE}
)
"""At risk by status alone; EXCEPTION seats need their history (``has_principal_at_risk``)."""


def _build_allowed_moves() -> dict[tuple[SeatStatus, ActorKind], frozenset[SeatStatus]]:
    moves: dict[tuple[SeatStatus, ActorKind], set[SeatStatus]] = {}

    def allow(src: SeatStatus, actor: ActorKind, *targets: SeatStatus) -> None:
        moves.setdefault((src, actor), set()).update(targets)

    allow(SeatStatus.CREATED, ActorKind.OPERATOR, SeatStatus.ENROLLED)
    for index in range(1, len(MAIN_PATH) - 1):
        allow(MAIN_PATH[index], ActorKind.WATCHER, *MAIN_PATH[index + 1 :])
    for src in EXCEPTION_SOURCES:
        allow(src, ActorKind.WATCHER, SeatStatus.EXCEPTION)
        allow(src, ActorKind.ADMIN, SeatStatus.EXCEPTION)
    for src in SeatStatus:
        if src is not SeatStatus.REVOKED:
            allow(src, ActorKind.ADMIN, SeatStatus.REVOKED)
    allow(SeatStatus.EXCEPTION, ActorKind.ADMIN, *MAIN_PATH[1:])
    return {key: frozenset(targets) for key, targets in moves.items()}


ALLOWED_MOVES: Mapping[tuple[SeatStatus, ActorKind], frozenset[SeatStatus]] = MappingProxyType(
    _build_allowed_moves()
)


def allowed_targets(status: SeatStatus, actor: ActorKind) -> frozenset[SeatStatus]:
    """Where ``actor`` may move a seat that is in ``status`` (for callers and consoles)."""
    return ALLOWED_MOVES.get((status, actor), frozenset())


def is_active(status: SeatStatus) -> bool:
    """Whether the seat holds its operator's one seat (every status but REVOKED).

    Not the same as ``status is ACTIVE``: this mirrors ``uniq_seats_active_operator_id``.
    """
    return status is not SeatStatus.REVOKED


@dataclass(frozen=True)
class SeatTransition:
    """One append-only history entry; ``from_status`` is None for the seat's creation."""

    from_status: SeatStatus | None
    to_status: SeatStatus
    actor: Actor
    at: datetime
    reason: str | None = None
    evidence: Evidence = field(default_factory=lambda: freeze_evidence(None))

    def __post_init__(self) -> None:
        object.__setattr__(self, "evidence", freeze_evidence(self.evidence))


@dataclass(frozen=True)
class Seat:
    seat_id: SeatId
    operator_id: OperatorId
    status: SeatStatus
    history: tuple[SeatTransition, ...] = ()


@dataclass(frozen=True)
class SeatTransitioned:
    """Event for the service to persist as lifecycle evidence and audit."""

    seat_id: SeatId
    operator_id: OperatorId
    transition: SeatTransition


def create_seat(
    seat_id: SeatId,
    operator_id: OperatorId,
    *,
    actor: Actor,
    now: datetime,
    evidence: Evidence | None = None,
) -> tuple[Seat, SeatTransitioned]:
    """A new CREATED seat, by the seeder (startup seeding) or an admin."""
    if actor.kind not in (ActorKind.SEEDER, ActorKind.ADMIN):
        raise InvalidTransition(
            f"Seat {seat_id} cannot be created by {actor.kind}",
            data={"seat_id": seat_id, "actor": str(actor)},
        )
    if not seat_id.strip() or not operator_id.strip():
        raise ValidationFailed(
            "seat_id and operator_id must be non-empty",
            data={"seat_id": seat_id, "operator_id": operator_id},
        )
    record = SeatTransition(
        None, SeatStatus.CREATED, actor, require_aware(now), evidence=freeze_evidence(evidence)
    )
    seat = Seat(seat_id, operator_id, SeatStatus.CREATED, (record,))
    return seat, SeatTransitioned(seat_id, operator_id, record)


def transition(
    seat: Seat,
    to: SeatStatus,
    *,
    actor: Actor,
    now: datetime,
    evidence: Evidence | None = None,
    reason: str | None = None,
) -> tuple[Seat, SeatTransitioned]:
    """Move ``seat`` to ``to`` if ``actor`` may, returning a new seat and the event.

    Raises ``InvalidTransition`` (data: seat_id, from, to, actor) when the move is not in
    ``ALLOWED_MOVES``, and ``ValidationFailed`` (code EVIDENCE_REQUIRED or
    REASON_REQUIRED) when the move is allowed but its justification is missing.
    """
    src = seat.status
    data: dict[str, object] = {"seat_id": seat.seat_id, "from": src, "to": to}
    allowed_by = sorted(kind for kind in ActorKind if to in allowed_targets(src, kind))
    if not allowed_by:
        raise InvalidTransition(f"Seat {seat.seat_id} cannot move from {src} to {to}", data=data)
    data["actor"] = str(actor)
    if actor.kind not in allowed_by:
        raise InvalidTransition(
            f"Seat {seat.seat_id} cannot move from {src} to {to} as {actor.kind}"
            f" (allowed: {', '.join(allowed_by)})",
            data={**data, "allowed_actors": allowed_by},
        )
    frozen = freeze_evidence(evidence)
    reason = reason.strip() if reason and reason.strip() else None
    needs_evidence = actor.kind is ActorKind.WATCHER or (
        actor.kind is ActorKind.ADMIN and src is SeatStatus.EXCEPTION and to in MAIN_PATH
    )
    if needs_evidence and not frozen:
        raise ValidationFailed(
            f"Seat {seat.seat_id} move from {src} to {to} by {actor.kind} requires evidence",
            code="EVIDENCE_REQUIRED",
            data=data,
        )
    if actor.kind is ActorKind.ADMIN and reason is None:
        raise ValidationFailed(
            f"Seat {seat.seat_id} move from {src} to {to} by admin requires a reason",
            code="REASON_REQUIRED",
            data=data,
        )
    record = SeatTransition(src, to, actor, require_aware(now), reason=reason, evidence=frozen)
    moved = replace(seat, status=to, history=(*seat.history, record))
    return moved, SeatTransitioned(seat.seat_id, seat.operator_id, record)


def status_before_exception(seat: Seat) -> SeatStatus | None:
    """The state the seat left when it last entered EXCEPTION (None if unknown)."""
    for record in reversed(seat.history):
        if record.to_status is SeatStatus.EXCEPTION:
            return record.from_status
    return None


def has_principal_at_risk(seat: Seat) -> bool:
    """Whether this seat's 32 ETH counts against the reserve coverage limit."""
    if seat.status is SeatStatus.EXCEPTION:
        return status_before_exception(seat) is not SeatStatus.CREATED
    return seat.status in PRINCIPAL_AT_RISK_STATUSES
