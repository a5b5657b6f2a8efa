"""Apply the deposit-matching decisions to seats, inside the range's unit of work.

The decisions themselves are pure (``domain.deposit_matching``); this module loads what
they need (seats by pubkey, each pubkey's deposits from the index, the seat's history),
moves seats through the domain ``transition()`` as ``watcher:el``, and records an audit
event for every verdict, including those that move nothing (a deposit for a seat in
EXCEPTION, say), so an admin sees every chain fact the watcher tied to a seat.
Nothing here commits: the caller commits the index, the seats and the cursor together.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from seat_manager.adapters.db.deposit_index import DepositRow, observed
from seat_manager.adapters.db.repositories import SeatRepository
from seat_manager.adapters.db.tables import SeatRow
from seat_manager.adapters.db.uow import SqlUnitOfWork
from seat_manager.domain.deposit_matching import (
    EL_WATCHER,
    DepositReason,
    ObservedDeposit,
    SeatFacts,
    Verdict,
    judge_deposits,
    judge_reorg,
)
from seat_manager.domain.seats import Seat, SeatStatus, transition
from seat_manager.domain.vaults import withdrawal_credentials

PUBKEY_CHUNK = 500

AUDIT_MATCHED = "seat.deposit.observed"
AUDIT_ANOMALY = "seat.deposit.anomaly"
AUDIT_NOTED = "seat.deposit.noted"
AUDIT_REORGED = "seat.deposit.reorged"


def pubkey_text(pubkey: bytes) -> str:
    """A pubkey as the seats table stores it: 0x + 96 lower-case hex digits."""
    return "0x" + pubkey.hex()


async def seats_for_pubkeys(seats: SeatRepository, pubkeys: set[bytes]) -> list[SeatRow]:
    keys = sorted(pubkey_text(p) for p in pubkeys)
    rows: list[SeatRow] = []
    for start in range(0, len(keys), PUBKEY_CHUNK):
        rows.extend(await seats.find_by_pubkeys(keys[start : start + PUBKEY_CHUNK]))
    return sorted(rows, key=lambda row: row.seat_id)


def _facts(row: SeatRow, seat: Seat) -> SeatFacts:
    expected = None if row.vault_address is None else withdrawal_credentials(row.vault_address)
    return SeatFacts(seat.seat_id, seat.status, expected)


async def _apply(uow: SqlUnitOfWork, seat: Seat, verdict: Verdict, now: datetime) -> Seat:
    if verdict.to is None:
        event_type = (
            AUDIT_REORGED if verdict.reason is DepositReason.REORGED_DEPOSIT else (AUDIT_NOTED)
        )
    else:
        reason = None if verdict.to is SeatStatus.DEPOSITED else verdict.reason.value
        seat, event = transition(
            seat, verdict.to, actor=EL_WATCHER, now=now, evidence=verdict.evidence, reason=reason
        )
        await uow.seats.save_transition(event)
        if verdict.reason is DepositReason.REORGED_DEPOSIT:
            event_type = AUDIT_REORGED
        else:
            event_type = AUDIT_MATCHED if verdict.to is SeatStatus.DEPOSITED else AUDIT_ANOMALY
    uow.audit.record(
        event_type,
        actor=str(EL_WATCHER),
        now=now,
        subject_type="seat",
        subject_id=seat.seat_id,
        reason_code=verdict.reason.value,
        data={"to_status": None if verdict.to is None else verdict.to.value, **verdict.evidence},
    )
    return seat


async def apply_new_deposits(
    uow: SqlUnitOfWork, new: Sequence[DepositRow], up_to_block: int, now: datetime
) -> list[SeatStatus]:
    """Judge the deposits just indexed for seats' pubkeys; returns the statuses seats
    were moved to (one entry per move)."""
    if not new:
        return []
    held = await uow.deposits.seat_pubkeys()
    hits = [observed(row) for row in new if held and pubkey_text(row[0]) in held]
    if not hits:
        return []
    rows = await seats_for_pubkeys(uow.seats, {d.pubkey for d in hits})
    fresh = {(d.block_hash, d.log_index) for d in hits}
    history: dict[bytes, list[ObservedDeposit]] = defaultdict(list)
    pubkeys = {bytes.fromhex((row.validator_pubkey or "")[2:]) for row in rows}
    for deposit in await uow.deposits.for_pubkeys(pubkeys, up_to_block):
        history[deposit.pubkey].append(deposit)
    moved: list[SeatStatus] = []
    for row in rows:
        deposits = history[bytes.fromhex((row.validator_pubkey or "")[2:])]
        earlier = [d for d in deposits if (d.block_hash, d.log_index) not in fresh]
        current = [d for d in deposits if (d.block_hash, d.log_index) in fresh]
        seat = await uow.seats.load(row.seat_id)
        for verdict in judge_deposits(_facts(row, seat), len(earlier), current):
            seat = await _apply(uow, seat, verdict, now)
            moved += [verdict.to] if verdict.to is not None else []
    return moved


async def apply_reorg(
    uow: SqlUnitOfWork,
    removed: Sequence[ObservedDeposit],
    ancestor_block: int,
    ancestor_hash: str | None,
    now: datetime,
) -> list[SeatStatus]:
    """Seats whose EL evidence rested on abandoned blocks; returns the statuses seats
    were moved to."""
    if not removed:
        return []
    abandoned = {d.block_hash for d in removed}
    moved: list[SeatStatus] = []
    for row in await seats_for_pubkeys(uow.seats, {d.pubkey for d in removed}):
        seat = await uow.seats.load(row.seat_id)
        verdict = judge_reorg(
            _facts(row, seat), seat.history, abandoned, ancestor_block, ancestor_hash
        )
        if verdict is not None:
            await _apply(uow, seat, verdict, now)
            moved += [verdict.to] if verdict.to is not None else []
    return moved
