"""What the consensus layer says about a seat's validator, and what the seat should do.

Pure: the watcher turns beacon answers into a ``ClObservation`` and asks ``decide``.

Status mapping (Beacon API validator statuses, SPEC §5):

    pending_initialized, pending_queued             → CL_VISIBLE
    active_ongoing, active_exiting                  → ACTIVE
    exited_unslashed, withdrawal_possible/_done     → EXITED
    active_slashed, exited_slashed, slashed == true → EXCEPTION (slashed)
    only in the pending deposits queue (Electra)    → CL_VISIBLE

``decide`` only moves a seat forward (the state machine lets the watcher skip states),
stays put when the seat is already where the chain is, and treats every contradiction
as an anomaly: the seat goes to EXCEPTION when the state machine allows it. An EXITED
seat cannot go to EXCEPTION (EXITED is terminal for the watcher), so its anomalies are
*flagged* for the watcher to record loudly instead of silently dropped.

Contradictions, in the order they are checked:
- withdrawal credentials that do not point at the seat's vault (0x01 or 0x02 prefix:
  an 0x01 validator may be switched to compounding, and only the vault can ask for
  that); for a pubkey that is not a validator yet, every pending deposit is checked,
  since any of them could be the one that creates the validator;
- a validator index other than the one recorded (indices are permanent);
- slashing;
- a chain status behind the seat's (ACTIVE on record, pending on chain);
- a validator that was visible and is gone (the queue dropped its deposit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from seat_manager.domain.errors import SeatManagerError
from seat_manager.domain.seats import MAIN_PATH, ActorKind, SeatStatus, allowed_targets
from seat_manager.domain.types import Epoch, Gwei, Slot
from seat_manager.domain.vaults import (
    COMPOUNDING_WITHDRAWAL_PREFIX,
    ETH1_ADDRESS_WITHDRAWAL_PREFIX,
    withdrawal_credentials,
)

FAR_FUTURE_EPOCH = Epoch(2**64 - 1)
"""The spec's "not yet" for activation, exit and withdrawable epochs."""


class ValidatorStatus(StrEnum):
    PENDING_INITIALIZED = "pending_initialized"
    PENDING_QUEUED = "pending_queued"
    ACTIVE_ONGOING = "active_ongoing"
    ACTIVE_EXITING = "active_exiting"
    ACTIVE_SLASHED = "active_slashed"
    EXITED_UNSLASHED = "exited_unslashed"
    EXITED_SLASHED = "exited_slashed"
    WITHDRAWAL_POSSIBLE = "withdrawal_possible"
    WITHDRAWAL_DONE = "withdrawal_done"


class UnknownValidatorStatus(SeatManagerError):
    """The beacon node reported a status this code does not know: refuse to guess."""

    default_code = "UNKNOWN_VALIDATOR_STATUS"


def parse_validator_status(raw: str) -> ValidatorStatus:
    try:
        return ValidatorStatus(raw)
    except ValueError:
        raise UnknownValidatorStatus(
            f"unknown beacon validator status {raw[:40]!r}", data={"status": raw[:40]}
        ) from None


_STATUS_TARGET: dict[ValidatorStatus, SeatStatus] = {
    ValidatorStatus.PENDING_INITIALIZED: SeatStatus.CL_VISIBLE,
    ValidatorStatus.PENDING_QUEUED: SeatStatus.CL_VISIBLE,
    ValidatorStatus.ACTIVE_ONGOING: SeatStatus.ACTIVE,
    ValidatorStatus.ACTIVE_EXITING: SeatStatus.ACTIVE,
    ValidatorStatus.ACTIVE_SLASHED: SeatStatus.EXCEPTION,
    ValidatorStatus.EXITED_UNSLASHED: SeatStatus.EXITED,
    ValidatorStatus.EXITED_SLASHED: SeatStatus.EXCEPTION,
    ValidatorStatus.WITHDRAWAL_POSSIBLE: SeatStatus.EXITED,
    ValidatorStatus.WITHDRAWAL_DONE: SeatStatus.EXITED,
}


@dataclass(frozen=True)
class ValidatorRecord:
    """One validator as a beacon state shows it."""

    index: int
    status: ValidatorStatus
    slashed: bool
    withdrawal_credentials: bytes
    activation_epoch: Epoch = FAR_FUTURE_EPOCH
    exit_epoch: Epoch = FAR_FUTURE_EPOCH


@dataclass(frozen=True)
class PendingDepositRecord:
    """One entry of the Electra pending deposits queue for the seat's pubkey."""

    withdrawal_credentials: bytes
    amount: Gwei
    slot: Slot


@dataclass(frozen=True)
class ClObservation:
    """Everything the beacon node said about one pubkey in one poll.

    ``queue_known`` is False when the node does not serve the pending deposits queue
    (before Electra): then "not a validator" cannot tell "not yet" from "dropped".
    """

    validator: ValidatorRecord | None
    pending: tuple[PendingDepositRecord, ...] = ()
    queue_known: bool = True

    @property
    def cl_status(self) -> str:
        """The short label stored on the seat row (``seats.cl_status``)."""
        if self.validator is not None:
            return self.validator.status.value
        return "pending_deposit" if self.pending else "not_found"


def is_slashed(validator: ValidatorRecord) -> bool:
    return validator.slashed or validator.status in (
        ValidatorStatus.ACTIVE_SLASHED,
        ValidatorStatus.EXITED_SLASHED,
    )


def target_status(validator: ValidatorRecord) -> SeatStatus:
    """Where the chain says the seat is; EXCEPTION for a slashed validator."""
    if is_slashed(validator):
        return SeatStatus.EXCEPTION
    return _STATUS_TARGET[validator.status]


class Anomaly(StrEnum):
    """Why the chain contradicts the seat; used as the reason code of the move."""

    CREDENTIALS_MISMATCH = "WITHDRAWAL_CREDENTIALS_MISMATCH"
    INDEX_CHANGED = "VALIDATOR_INDEX_CHANGED"
    SLASHED = "VALIDATOR_SLASHED"
    STATUS_BEHIND_SEAT = "BEACON_STATUS_BEHIND_SEAT"
    VALIDATOR_MISSING = "VALIDATOR_MISSING"


class Verdict(StrEnum):
    STAY = "stay"
    MOVE = "move"
    FLAG = "flag"
    """An anomaly the state machine does not let the watcher record as a move."""


@dataclass(frozen=True)
class ClDecision:
    verdict: Verdict
    target: SeatStatus | None = None
    anomaly: Anomaly | None = None
    detail: str = ""


STAY = ClDecision(Verdict.STAY)


def vault_credentials(vault_address: str) -> frozenset[bytes]:
    """The withdrawal credentials that send a validator's funds to this vault."""
    return frozenset(
        withdrawal_credentials(vault_address, prefix)
        for prefix in (ETH1_ADDRESS_WITHDRAWAL_PREFIX, COMPOUNDING_WITHDRAWAL_PREFIX)
    )


def decide(
    current: SeatStatus,
    observation: ClObservation,
    *,
    expected_credentials: frozenset[bytes] | None,
    known_index: int | None = None,
) -> ClDecision:
    """What the watcher should do with a seat in ``current`` given ``observation``.

    ``expected_credentials`` is None only when the seat's vault is unknown; the
    credential check is then skipped (the watcher says so in its evidence). Seats off
    the main path (EXCEPTION, REVOKED) stay: only an admin moves them.
    """
    if current not in MAIN_PATH:
        return STAY
    anomaly = _contradiction(current, observation, expected_credentials, known_index)
    if anomaly is not None:
        return _anomaly(current, *anomaly)
    target = _target(observation)
    if target is None or target is current:
        return STAY
    if target is SeatStatus.EXCEPTION:
        return _anomaly(current, Anomaly.SLASHED, "the validator is slashed")
    if MAIN_PATH.index(target) < MAIN_PATH.index(current):
        return _anomaly(
            current,
            Anomaly.STATUS_BEHIND_SEAT,
            f"beacon shows {observation.cl_status}, the seat is already {current}",
        )
    if target in allowed_targets(current, ActorKind.WATCHER):
        return ClDecision(Verdict.MOVE, target)
    return STAY


def _target(observation: ClObservation) -> SeatStatus | None:
    if observation.validator is not None:
        return target_status(observation.validator)
    return SeatStatus.CL_VISIBLE if observation.pending else None


def _contradiction(
    current: SeatStatus,
    observation: ClObservation,
    expected: frozenset[bytes] | None,
    known_index: int | None,
) -> tuple[Anomaly, str] | None:
    validator = observation.validator
    if expected is not None:
        credentials: Sequence[bytes] = (
            [validator.withdrawal_credentials]
            if validator is not None
            else [deposit.withdrawal_credentials for deposit in observation.pending]
        )
        foreign = [c for c in credentials if c not in expected]
        if foreign:
            return (
                Anomaly.CREDENTIALS_MISMATCH,
                f"withdrawal credentials 0x{foreign[0].hex()} do not point at the seat's vault",
            )
    if validator is not None and known_index is not None and validator.index != known_index:
        return (
            Anomaly.INDEX_CHANGED,
            f"validator index {validator.index} differs from recorded {known_index}",
        )
    if validator is None and not observation.pending:
        seen_before = current in (SeatStatus.ACTIVE, SeatStatus.EXITED) or (
            current is SeatStatus.CL_VISIBLE and observation.queue_known
        )
        if seen_before:
            return (
                Anomaly.VALIDATOR_MISSING,
                f"the seat is {current} but the beacon node has no validator or pending"
                " deposit for its pubkey",
            )
    return None


def _anomaly(current: SeatStatus, anomaly: Anomaly, detail: str) -> ClDecision:
    verdict = (
        Verdict.MOVE
        if SeatStatus.EXCEPTION in allowed_targets(current, ActorKind.WATCHER)
        else Verdict.FLAG
    )
    target = SeatStatus.EXCEPTION if verdict is Verdict.MOVE else None
    return ClDecision(verdict, target, anomaly, detail)


def evidence_epoch(validator: ValidatorRecord, target: SeatStatus) -> Epoch | None:
    """The epoch a move to ``target`` rests on: the exit epoch for EXITED and EXCEPTION
    (slashing sets it), else the activation epoch; None while the chain has not
    scheduled it."""
    candidates = (
        (validator.exit_epoch, validator.activation_epoch)
        if target in (SeatStatus.EXITED, SeatStatus.EXCEPTION)
        else (validator.activation_epoch,)
    )
    return next((epoch for epoch in candidates if epoch != FAR_FUTURE_EPOCH), None)


def move_evidence(
    observation: ClObservation,
    decision: ClDecision,
    *,
    slot: int,
    block_root: str,
    credentials_checked: bool,
) -> dict[str, object]:
    """What a CL move or flag rests on (JSON-ready): the beacon facts and the head they
    were read at, so an operator can check them against any other node."""
    validator = observation.validator
    target = decision.target or SeatStatus.EXCEPTION
    evidence: dict[str, object] = {
        "source": "beacon",
        "status": observation.cl_status,
        "validator_index": validator.index if validator else None,
        "epoch": evidence_epoch(validator, target) if validator else None,
        "slot": slot,
        "block_root": block_root,
        "slashed": is_slashed(validator) if validator else False,
        "credentials_checked": credentials_checked,
    }
    if validator is not None:
        evidence["withdrawal_credentials"] = "0x" + validator.withdrawal_credentials.hex()
    elif observation.pending:
        evidence["pending_deposit_slots"] = [deposit.slot for deposit in observation.pending]
    if decision.anomaly is not None:
        evidence["anomaly"] = decision.anomaly.value
        evidence["detail"] = decision.detail
    return evidence
