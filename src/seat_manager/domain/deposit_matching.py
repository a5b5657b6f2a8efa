"""What a DepositEvent on the execution layer means for a seat (SPEC §5), as pure decisions.

The watcher indexes every DepositEvent of the deposit contract. For deposits whose
pubkey belongs to a seat, ``judge_deposits`` says what to do, one deposit at a time in
chain order (block number, log index), carrying the seat's status from one to the next:

- the seat is ENROLLED, this is the first deposit ever seen for the pubkey, its
  withdrawal credentials are the seat vault's and its amount is exactly 32 ETH
  → DEPOSITED, with the log as evidence;
- any other deposit for the pubkey while the seat is ENROLLED..ACTIVE → EXCEPTION, with
  a reason code naming what is wrong (checked in this order):
  ``FOREIGN_DEPOSIT_FOR_PUBKEY`` (other withdrawal credentials: someone holding the
  validator key front-ran or followed us to their own credentials),
  ``ADDITIONAL_DEPOSIT_FOR_PUBKEY`` (our credentials again, for a seat whose deposit
  is already recorded: a top-up nobody asked for),
  ``EARLIER_DEPOSIT_FOR_PUBKEY`` (ours, but the pubkey was already deposited: the
  beacon chain keeps the first credentials, so ours are not the validator's),
  ``WRONG_DEPOSIT_AMOUNT`` (our credentials, an amount other than 32 ETH);
- a seat the watcher may not move (CREATED, EXCEPTION, EXITED, REVOKED) gets a note
  only: the deposit is recorded as audit evidence for the admin, the status stays.

Reorganisations (``judge_reorg``). seat_events is append-only history, so evidence that
pointed at a block which is no longer canonical cannot be deleted or edited. And the
lifecycle forbids the watcher moving a seat backwards (DEPOSITED → ENROLLED). So when a
reorg abandons the block an EL-watcher transition of a seat rested on:

- a seat in DEPOSITED, CL_VISIBLE or ACTIVE moves to EXCEPTION with evidence
  ``{"reason": "REORGED_DEPOSIT", "reorged_evidence": {...}, "common_ancestor_block":
  ..., "common_ancestor_hash": ...}``: its recorded state now contradicts the chain, which
  SPEC §5 says is an anomaly. Keeping DEPOSITED with evidence pointing at an abandoned
  block would be silent corruption; if the deposit is re-included on the new branch, an
  admin resolves the EXCEPTION with the new evidence (the watcher notes it for them);
- any other seat whose EL evidence was abandoned (typically already in EXCEPTION
  because of a foreign deposit that has now vanished) gets a note only.

So "abandoned deposits disappear from seat evidence" is implemented as: the index rows
go, and the newest seat evidence says explicitly which earlier evidence was reorged.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from seat_manager.domain.seats import Actor, ActorKind, SeatStatus, SeatTransition
from seat_manager.domain.types import DEPOSIT_AMOUNT_GWEI

EL_WATCHER = Actor(ActorKind.WATCHER, "el")
"""The actor of every seat move the execution-layer watcher makes."""

MOVABLE_TO_EXCEPTION = frozenset(
    {SeatStatus.ENROLLED, SeatStatus.DEPOSITED, SeatStatus.CL_VISIBLE, SeatStatus.ACTIVE}
)
DEPOSIT_BACKED = frozenset({SeatStatus.DEPOSITED, SeatStatus.CL_VISIBLE, SeatStatus.ACTIVE})


class DepositReason(StrEnum):
    DEPOSIT_MATCHED = "DEPOSIT_MATCHED"
    FOREIGN_DEPOSIT_FOR_PUBKEY = "FOREIGN_DEPOSIT_FOR_PUBKEY"
    EARLIER_DEPOSIT_FOR_PUBKEY = "EARLIER_DEPOSIT_FOR_PUBKEY"
    ADDITIONAL_DEPOSIT_FOR_PUBKEY = "ADDITIONAL_DEPOSIT_FOR_PUBKEY"
    WRONG_DEPOSIT_AMOUNT = "WRONG_DEPOSIT_AMOUNT"
    REORGED_DEPOSIT = "REORGED_DEPOSIT"


@dataclass(frozen=True, slots=True)
class ObservedDeposit:
    """One DepositEvent as indexed; hashes are 0x-prefixed lower-case hex."""

    pubkey: bytes
    withdrawal_credentials: bytes
    amount_gwei: int
    deposit_index: int
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int

    def evidence(self) -> dict[str, object]:
        """Where the deposit is on chain: enough for anyone to look it up again."""
        return {
            "block_number": self.block_number,
            "block_hash": self.block_hash,
            "tx_hash": self.tx_hash,
            "log_index": self.log_index,
            "deposit_index": self.deposit_index,
            "amount_gwei": self.amount_gwei,
        }


@dataclass(frozen=True, slots=True)
class SeatFacts:
    """What the decision needs to know about a seat; ``expected_credentials`` is None
    when the seat has no vault address (then no deposit can be ours)."""

    seat_id: str
    status: SeatStatus
    expected_credentials: bytes | None


@dataclass(frozen=True)
class Verdict:
    """Move ``seat_id`` to ``to`` (None: record a note, move nothing) because of ``reason``."""

    seat_id: str
    to: SeatStatus | None
    reason: DepositReason
    evidence: dict[str, object] = field(default_factory=dict)

    @property
    def moves(self) -> bool:
        return self.to is not None


def _classify(
    seat: SeatFacts, status: SeatStatus, deposit: ObservedDeposit, earlier: int
) -> DepositReason:
    if deposit.withdrawal_credentials != seat.expected_credentials:
        return DepositReason.FOREIGN_DEPOSIT_FOR_PUBKEY
    if status in DEPOSIT_BACKED:
        return DepositReason.ADDITIONAL_DEPOSIT_FOR_PUBKEY
    if earlier > 0:
        return DepositReason.EARLIER_DEPOSIT_FOR_PUBKEY
    if deposit.amount_gwei != DEPOSIT_AMOUNT_GWEI:
        return DepositReason.WRONG_DEPOSIT_AMOUNT
    return DepositReason.DEPOSIT_MATCHED


def judge_deposits(seat: SeatFacts, earlier: int, new: Sequence[ObservedDeposit]) -> list[Verdict]:
    """Verdicts for the newly indexed deposits of the seat's pubkey, in chain order.

    ``earlier`` is how many deposits for the pubkey the index held before ``new`` (all
    of them earlier on chain, since the index grows in chain order).
    """
    status, seen, verdicts = seat.status, earlier, []
    for deposit in sorted(new, key=lambda d: (d.block_number, d.log_index)):
        reason = _classify(seat, status, deposit, seen)
        evidence = deposit.evidence()
        to: SeatStatus | None = None
        if reason is not DepositReason.DEPOSIT_MATCHED:
            evidence |= {
                "reason": reason.value,
                "pubkey": "0x" + deposit.pubkey.hex(),
                "withdrawal_credentials": "0x" + deposit.withdrawal_credentials.hex(),
                "expected_withdrawal_credentials": None
                if seat.expected_credentials is None
                else "0x" + seat.expected_credentials.hex(),
            }
        if status is SeatStatus.ENROLLED and reason is DepositReason.DEPOSIT_MATCHED:
            to = SeatStatus.DEPOSITED
        elif status in MOVABLE_TO_EXCEPTION and reason is not DepositReason.DEPOSIT_MATCHED:
            to = SeatStatus.EXCEPTION
        if to is None:
            evidence["seat_status"] = status.value
        verdicts.append(Verdict(seat.seat_id, to, reason, evidence))
        status = to or status
        seen += 1
    return verdicts


def _el_evidence_on(
    history: Sequence[SeatTransition], abandoned_hashes: Collection[str]
) -> dict[str, object] | None:
    """The newest EL-watcher evidence of the history that rests on an abandoned block."""
    for record in reversed(history):
        if record.actor == EL_WATCHER and record.evidence.get("block_hash") in abandoned_hashes:
            return dict(record.evidence)
    return None


def judge_reorg(
    seat: SeatFacts,
    history: Sequence[SeatTransition],
    abandoned_hashes: Collection[str],
    ancestor_block: int,
    ancestor_hash: str | None,
) -> Verdict | None:
    """What a reorg that abandoned ``abandoned_hashes`` means for the seat (None: nothing)."""
    reorged = _el_evidence_on(history, abandoned_hashes)
    if reorged is None:
        return None
    evidence: dict[str, object] = {
        "reason": DepositReason.REORGED_DEPOSIT.value,
        "reorged_evidence": reorged,
        "common_ancestor_block": ancestor_block,
        "common_ancestor_hash": ancestor_hash,
    }
    if seat.status in DEPOSIT_BACKED:
        return Verdict(seat.seat_id, SeatStatus.EXCEPTION, DepositReason.REORGED_DEPOSIT, evidence)
    evidence["seat_status"] = seat.status.value
    return Verdict(seat.seat_id, None, DepositReason.REORGED_DEPOSIT, evidence)
