"""The consensus-layer half of the lifecycle watcher: one poll of the beacon node per call.

``ClWatcher.run_cycle(now)`` is the whole cycle; the runner owns sleeping, stop signals
and error logging, so every failure here is raised as a typed error, never swallowed.

One cycle:
1. ask the node whether it is ready: a syncing or optimistic node, or one whose EL is
   offline, shows a state nobody has verified, and acting on it could push seats into
   a sticky EXCEPTION (``BeaconNodeNotReady``); a head more than an epoch behind the
   slot recorded at the last poll means we are talking to a lagging node
   (``BeaconNodeBehind``);
2. list the watched seats (ENROLLED..EXITED with a pubkey) in a short read;
3. per batch of ``batch_size`` pubkeys: fetch the validators over the network with no
   transaction open (SQLite writers would otherwise wait on the beacon node), fetch the
   pending deposits queue once per cycle if some pubkey is not a validator yet, then in
   one transaction re-read the rows, ask the pure domain what to do, record moves with
   their evidence and audit events, and update ``validator_index`` / ``cl_status``.
   The last batch's transaction also writes ``cl_last_poll_at`` and ``cl_head_slot``,
   so those keys only ever say "a complete poll ended here".

A seat another transaction moved since it was read (the EL watcher, an admin) is left
alone this cycle (``stale``) and decided again on the next one.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from seat_manager.adapters.beacon import (
    BeaconError,
    HeadHeader,
    PendingDeposits,
    StateValidators,
    SyncStatus,
    Validator,
)
from seat_manager.adapters.db.cl_seats import WATCHED_STATUSES, WatchedSeat, list_watched_seats
from seat_manager.adapters.db.repositories import StaleSeat
from seat_manager.adapters.db.tables import SeatRow
from seat_manager.adapters.db.uow import SqlUnitOfWork, UnitOfWorkFactory
from seat_manager.domain.errors import SeatManagerError
from seat_manager.domain.seats import Actor, ActorKind, SeatStatus, require_aware, transition
from seat_manager.domain.types import Epoch, Gwei, Slot
from seat_manager.domain.validator_status import (
    ClDecision,
    ClObservation,
    PendingDepositRecord,
    ValidatorRecord,
    Verdict,
    decide,
    move_evidence,
    parse_validator_status,
    vault_credentials,
)
from seat_manager.workers.cl_metrics import ClMetrics

CL_ACTOR = Actor(ActorKind.WATCHER, "cl")
LAST_POLL_KEY = "cl_last_poll_at"
HEAD_SLOT_KEY = "cl_head_slot"
MOVED_EVENT = "seat.cl.moved"
ANOMALY_EVENT = "seat.cl.anomaly"
SLOTS_PER_EPOCH = 32


class BeaconNodeNotReady(BeaconError):
    default_code = "BEACON_NODE_NOT_READY"


class BeaconNodeBehind(BeaconError):
    default_code = "BEACON_NODE_BEHIND"


class BeaconReader(Protocol):
    """What the cycle needs from a beacon node (``BeaconClient`` is the real one)."""

    async def get_syncing(self) -> SyncStatus: ...

    async def get_head(self) -> HeadHeader: ...

    async def get_validators(
        self, pubkeys: Sequence[str], state_id: str = "head"
    ) -> StateValidators: ...

    async def get_pending_deposits(self, state_id: str = "head") -> PendingDeposits | None: ...


@dataclass(frozen=True)
class ClMove:
    seat_id: str
    from_status: SeatStatus
    to_status: SeatStatus
    anomaly: str | None = None


@dataclass(frozen=True)
class ClFlag:
    """A contradiction on a seat the watcher may not move (EXITED); ``new`` when it was
    first seen (and audited) in this cycle."""

    seat_id: str
    status: SeatStatus
    anomaly: str
    detail: str
    new: bool


@dataclass(frozen=True)
class ClCycleResult:
    configured: bool
    """False when no beacon URL is set: the cycle did nothing."""
    polled_at: datetime | None = None
    head_slot: int | None = None
    seats_watched: int = 0
    batches: int = 0
    moves: tuple[ClMove, ...] = ()
    flagged: tuple[ClFlag, ...] = ()
    stale: tuple[str, ...] = ()
    seen: Mapping[str, int] = field(default_factory=dict)
    """Watched seats by the ``cl_status`` the beacon showed (``not_found`` included)."""
    queue_supported: bool | None = None
    """Whether the node served the pending deposits queue; None when not asked."""


@dataclass
class _Tally:
    moves: list[ClMove] = field(default_factory=list)
    flagged: list[ClFlag] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    seen: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class _Queue:
    supported: bool
    by_pubkey: Mapping[str, tuple[PendingDepositRecord, ...]]


class ClWatcher:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        beacon: BeaconReader | None,
        *,
        batch_size: int = 100,
        metrics: ClMetrics | None = None,
        vault_for: Callable[[str], str] | None = None,
        max_head_regression_slots: int = SLOTS_PER_EPOCH,
    ) -> None:
        """``vault_for(seat_id)`` supplies the vault when a seat row has none recorded
        (bootstrap passes the CREATE2 prediction); without either, the credential
        check is skipped and the evidence says ``credentials_checked: false``."""
        if batch_size <= 0:
            raise ValueError("batch_size must be positive")
        self._uow = uow_factory
        self._beacon = beacon
        self._batch_size = batch_size
        self._metrics = metrics
        self._vault_for = vault_for
        self._max_regression = max_head_regression_slots

    async def run_cycle(self, now: datetime) -> ClCycleResult:
        now = require_aware(now).astimezone(UTC)
        if self._beacon is None:
            return ClCycleResult(configured=False)
        started = time.perf_counter()
        try:
            result = await self._poll(self._beacon, now)
        except Exception as exc:
            if self._metrics is not None:
                kind = exc.code if isinstance(exc, SeatManagerError) else type(exc).__name__
                self._metrics.record_error(kind)
            raise
        if self._metrics is not None:
            self._metrics.record_poll(
                polled_at=now.timestamp(),
                head_slot=result.head_slot or 0,
                seen=result.seen,
                moves=Counter(str(move.to_status) for move in result.moves),
                anomalies=Counter(
                    [m.anomaly for m in result.moves if m.anomaly]
                    + [f.anomaly for f in result.flagged if f.new]
                ),
                duration_s=time.perf_counter() - started,
            )
        return result

    # ---- the cycle -----------------------------------------------------------------------

    async def _poll(self, beacon: BeaconReader, now: datetime) -> ClCycleResult:
        head = await _ready_head(beacon)
        seats, last_slot = await self._watched()
        if last_slot is not None and head.slot + self._max_regression < last_slot:
            raise BeaconNodeBehind(
                f"beacon head slot {head.slot} is behind slot {last_slot} seen at the last"
                " poll; is this a lagging node behind a load balancer?",
                data={"head_slot": head.slot, "last_head_slot": last_slot},
            )
        size = self._batch_size
        batches = [seats[i : i + size] for i in range(0, len(seats), size)] or [[]]
        tally = _Tally()
        queue: _Queue | None = None
        for number, batch in enumerate(batches, start=1):
            observations, queue = await _observe(beacon, batch, queue)
            async with self._uow() as uow:
                await self._apply(uow, observations, head, now, tally)
                if number == len(batches):
                    await uow.watcher_state.set(LAST_POLL_KEY, now.isoformat(), now)
                    await uow.watcher_state.set(HEAD_SLOT_KEY, str(head.slot), now)
                await uow.commit()
        return ClCycleResult(
            configured=True,
            polled_at=now,
            head_slot=head.slot,
            seats_watched=len(seats),
            batches=len(batches) if seats else 0,
            moves=tuple(tally.moves),
            flagged=tuple(tally.flagged),
            stale=tuple(tally.stale),
            seen=dict(tally.seen),
            queue_supported=None if queue is None else queue.supported,
        )

    async def _watched(self) -> tuple[list[WatchedSeat], int | None]:
        async with self._uow() as uow:
            seats = await list_watched_seats(uow.session)
            raw = await uow.watcher_state.get(HEAD_SLOT_KEY)
        return seats, int(raw) if raw is not None and raw.isdigit() else None

    async def _apply(
        self,
        uow: SqlUnitOfWork,
        observations: Mapping[str, ClObservation],
        head: HeadHeader,
        now: datetime,
        tally: _Tally,
    ) -> None:
        rows = await uow.seats.find_by_pubkeys(list(observations))
        for row in sorted(rows, key=lambda r: r.seat_id):
            status = SeatStatus(row.status)
            if status not in WATCHED_STATUSES or row.validator_pubkey is None:
                continue  # moved out of our reach since the listing
            observation = observations[row.validator_pubkey]
            tally.seen[observation.cl_status] += 1
            expected = self._expected_credentials(row)
            decision = decide(
                status,
                observation,
                expected_credentials=expected,
                known_index=row.validator_index,
            )
            evidence = move_evidence(
                observation,
                decision,
                slot=head.slot,
                block_root=head.root,
                credentials_checked=expected is not None,
            )
            if decision.verdict is Verdict.MOVE:
                if not await _move(uow, row, status, decision, evidence, now, tally):
                    continue
            elif decision.verdict is Verdict.FLAG:
                _flag(uow, row, status, decision, evidence, observation, now, tally)
            _update_row(row, observation, now)

    def _expected_credentials(self, row: SeatRow) -> frozenset[bytes] | None:
        vault = row.vault_address
        if vault is None and self._vault_for is not None:
            vault = self._vault_for(row.seat_id)
        return vault_credentials(vault) if vault else None


async def _ready_head(beacon: BeaconReader) -> HeadHeader:
    sync = await beacon.get_syncing()
    problems = [
        name
        for name, flag in (
            ("syncing", sync.is_syncing),
            ("optimistic", sync.is_optimistic),
            ("el_offline", sync.el_offline),
        )
        if flag
    ]
    head = await beacon.get_head()
    if head.execution_optimistic and "optimistic" not in problems:
        problems.append("optimistic")
    if problems:
        raise BeaconNodeNotReady(
            f"beacon node is not ready ({', '.join(problems)}; head slot {head.slot},"
            f" sync distance {sync.sync_distance}); no seat was changed",
            data={"problems": problems, "head_slot": head.slot},
        )
    return head


async def _observe(
    beacon: BeaconReader, batch: Sequence[WatchedSeat], queue: _Queue | None
) -> tuple[dict[str, ClObservation], _Queue | None]:
    """What the node says about each pubkey of ``batch``; raises before any write."""
    if not batch:
        return {}, queue
    answer = await beacon.get_validators([seat.pubkey for seat in batch])
    if answer.execution_optimistic:
        raise BeaconNodeNotReady("beacon node answered validators from an optimistic state")
    validators = {entry.validator.pubkey: _record(entry) for entry in answer.data}
    if queue is None and any(seat.pubkey not in validators for seat in batch):
        queue = await _fetch_queue(beacon)
    return {
        seat.pubkey: ClObservation(
            validators.get(seat.pubkey),
            queue.by_pubkey.get(seat.pubkey, ()) if queue else (),
            queue_known=queue.supported if queue else True,
        )
        for seat in batch
    }, queue


async def _fetch_queue(beacon: BeaconReader) -> _Queue:
    answer = await beacon.get_pending_deposits()
    if answer is None:
        return _Queue(False, {})
    if answer.execution_optimistic:
        raise BeaconNodeNotReady("beacon node answered pending deposits from an optimistic state")
    by_pubkey: dict[str, list[PendingDepositRecord]] = {}
    for deposit in answer.data:
        by_pubkey.setdefault(deposit.pubkey, []).append(
            PendingDepositRecord(
                bytes.fromhex(deposit.withdrawal_credentials[2:]),
                Gwei(deposit.amount),
                Slot(deposit.slot),
            )
        )
    return _Queue(True, {key: tuple(value) for key, value in by_pubkey.items()})


def _record(entry: Validator) -> ValidatorRecord:
    fields = entry.validator
    return ValidatorRecord(
        index=entry.index,
        status=parse_validator_status(entry.status),
        slashed=fields.slashed,
        withdrawal_credentials=bytes.fromhex(fields.withdrawal_credentials[2:]),
        activation_epoch=Epoch(fields.activation_epoch),
        exit_epoch=Epoch(fields.exit_epoch),
    )


async def _move(
    uow: SqlUnitOfWork,
    row: SeatRow,
    status: SeatStatus,
    decision: ClDecision,
    evidence: dict[str, object],
    now: datetime,
    tally: _Tally,
) -> bool:
    """Record one transition; False when another transaction moved the seat first."""
    assert decision.target is not None
    seat = await uow.seats.load(row.seat_id)
    _, event = transition(
        seat,
        decision.target,
        actor=CL_ACTOR,
        now=now,
        evidence=evidence,
        reason=decision.detail or None,
    )
    try:
        await uow.seats.save_transition(event)
    except StaleSeat:
        tally.stale.append(row.seat_id)
        return False
    anomaly = decision.anomaly.value if decision.anomaly else None
    uow.audit.record(
        MOVED_EVENT,
        actor=str(CL_ACTOR),
        now=now,
        subject_type="seat",
        subject_id=row.seat_id,
        reason_code=anomaly,
        note=decision.detail or None,
        data={"from": status.value, "to": decision.target.value, "evidence": evidence},
    )
    tally.moves.append(ClMove(row.seat_id, status, decision.target, anomaly))
    return True


def _flag(
    uow: SqlUnitOfWork,
    row: SeatRow,
    status: SeatStatus,
    decision: ClDecision,
    evidence: dict[str, object],
    observation: ClObservation,
    now: datetime,
    tally: _Tally,
) -> None:
    """Audit a contradiction the state machine will not let us record as a move, once:
    when the beacon status behind it is new for this seat."""
    assert decision.anomaly is not None
    new = observation.cl_status != row.cl_status
    if new:
        uow.audit.record(
            ANOMALY_EVENT,
            actor=str(CL_ACTOR),
            now=now,
            subject_type="seat",
            subject_id=row.seat_id,
            reason_code=decision.anomaly.value,
            note=decision.detail,
            data={"status": status.value, "evidence": evidence},
        )
    tally.flagged.append(ClFlag(row.seat_id, status, decision.anomaly.value, decision.detail, new))


def _update_row(row: SeatRow, observation: ClObservation, now: datetime) -> None:
    """Record what the beacon showed; a recorded validator index is never overwritten
    (a different one is an anomaly, kept in the evidence)."""
    changed = False
    if observation.validator is not None and row.validator_index is None:
        row.validator_index = observation.validator.index
        changed = True
    if row.cl_status != observation.cl_status:
        row.cl_status = observation.cl_status
        changed = True
    if changed:
        row.updated_at = now
