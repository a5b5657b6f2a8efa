"""Deposit matching: what a DepositEvent for a seat's pubkey does to the seat, and a reorg."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from seat_manager.domain.deposit_matching import (
    EL_WATCHER,
    DepositReason,
    ObservedDeposit,
    SeatFacts,
    judge_deposits,
    judge_reorg,
)
from seat_manager.domain.seats import Actor, ActorKind, SeatStatus, SeatTransition
from seat_manager.domain.types import DEPOSIT_AMOUNT_GWEI

VAULT_CREDS = b"\x01" + b"\x00" * 11 + b"\xaa" * 20
OTHER_CREDS = b"\x01" + b"\x00" * 11 + b"\xbb" * 20
PUBKEY = b"\x11" * 48
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def deposit(
    block: int,
    *,
    creds: bytes = VAULT_CREDS,
    amount: int = DEPOSIT_AMOUNT_GWEI,
    log_index: int = 0,
    index: int = 0,
) -> ObservedDeposit:
    return ObservedDeposit(
        pubkey=PUBKEY,
        withdrawal_credentials=creds,
        amount_gwei=amount,
        deposit_index=index,
        block_number=block,
        block_hash="0x" + f"{block:064x}",
        tx_hash="0x" + f"{block + 1000:064x}",
        log_index=log_index,
    )


def seat(status: SeatStatus, creds: bytes | None = VAULT_CREDS) -> SeatFacts:
    return SeatFacts("seat-1", status, creds)


def test_first_deposit_with_vault_credentials_and_32_eth_moves_enrolled_seat_to_deposited():
    (verdict,) = judge_deposits(seat(SeatStatus.ENROLLED), 0, [deposit(10, log_index=3, index=7)])
    assert verdict.to is SeatStatus.DEPOSITED
    assert verdict.reason is DepositReason.DEPOSIT_MATCHED
    assert verdict.evidence == {
        "block_number": 10,
        "block_hash": "0x" + f"{10:064x}",
        "tx_hash": "0x" + f"{1010:064x}",
        "log_index": 3,
        "deposit_index": 7,
        "amount_gwei": DEPOSIT_AMOUNT_GWEI,
    }


def test_deposit_to_other_credentials_moves_enrolled_seat_to_exception_as_foreign():
    (verdict,) = judge_deposits(seat(SeatStatus.ENROLLED), 0, [deposit(10, creds=OTHER_CREDS)])
    assert verdict.to is SeatStatus.EXCEPTION
    assert verdict.reason is DepositReason.FOREIGN_DEPOSIT_FOR_PUBKEY
    assert verdict.evidence["withdrawal_credentials"] == "0x" + OTHER_CREDS.hex()
    assert verdict.evidence["expected_withdrawal_credentials"] == "0x" + VAULT_CREDS.hex()
    assert verdict.evidence["reason"] == "FOREIGN_DEPOSIT_FOR_PUBKEY"
    assert verdict.evidence["block_number"] == 10


@pytest.mark.parametrize("amount", [1, DEPOSIT_AMOUNT_GWEI - 1, DEPOSIT_AMOUNT_GWEI + 1])
def test_deposit_of_another_amount_to_our_credentials_moves_seat_to_exception(amount: int):
    (verdict,) = judge_deposits(seat(SeatStatus.ENROLLED), 0, [deposit(10, amount=amount)])
    assert (verdict.to, verdict.reason) == (
        SeatStatus.EXCEPTION,
        DepositReason.WRONG_DEPOSIT_AMOUNT,
    )


def test_our_deposit_after_an_earlier_indexed_deposit_for_the_pubkey_is_an_exception():
    (verdict,) = judge_deposits(seat(SeatStatus.ENROLLED), 1, [deposit(20)])
    assert (verdict.to, verdict.reason) == (
        SeatStatus.EXCEPTION,
        DepositReason.EARLIER_DEPOSIT_FOR_PUBKEY,
    )


def test_foreign_deposit_before_ours_in_the_same_range_decides_on_the_first_and_notes_ours():
    foreign = deposit(10, creds=OTHER_CREDS, log_index=1)
    ours = deposit(10, log_index=2)
    verdicts = judge_deposits(seat(SeatStatus.ENROLLED), 0, [ours, foreign])
    assert [(v.to, v.reason) for v in verdicts] == [
        (SeatStatus.EXCEPTION, DepositReason.FOREIGN_DEPOSIT_FOR_PUBKEY),
        (None, DepositReason.EARLIER_DEPOSIT_FOR_PUBKEY),
    ]
    assert verdicts[1].evidence["seat_status"] == "EXCEPTION"


def test_a_second_deposit_after_ours_moves_the_deposited_seat_to_exception():
    verdicts = judge_deposits(seat(SeatStatus.ENROLLED), 0, [deposit(10), deposit(11)])
    assert [(v.to, v.reason) for v in verdicts] == [
        (SeatStatus.DEPOSITED, DepositReason.DEPOSIT_MATCHED),
        (SeatStatus.EXCEPTION, DepositReason.ADDITIONAL_DEPOSIT_FOR_PUBKEY),
    ]


@pytest.mark.parametrize("status", [SeatStatus.CL_VISIBLE, SeatStatus.ACTIVE])
def test_any_deposit_for_a_live_validator_seat_is_an_exception(status: SeatStatus):
    (verdict,) = judge_deposits(seat(status), 1, [deposit(30)])
    assert (verdict.to, verdict.reason) == (
        SeatStatus.EXCEPTION,
        DepositReason.ADDITIONAL_DEPOSIT_FOR_PUBKEY,
    )


@pytest.mark.parametrize(
    "status", [SeatStatus.CREATED, SeatStatus.EXCEPTION, SeatStatus.EXITED, SeatStatus.REVOKED]
)
def test_seats_the_watcher_may_not_move_only_get_a_note(status: SeatStatus):
    (verdict,) = judge_deposits(seat(status), 0, [deposit(10, creds=OTHER_CREDS)])
    assert verdict.to is None
    assert not verdict.moves
    assert verdict.reason is DepositReason.FOREIGN_DEPOSIT_FOR_PUBKEY
    assert verdict.evidence["seat_status"] == status.value


def test_seat_without_vault_address_treats_every_deposit_as_foreign():
    (verdict,) = judge_deposits(seat(SeatStatus.ENROLLED, creds=None), 0, [deposit(10)])
    assert verdict.reason is DepositReason.FOREIGN_DEPOSIT_FOR_PUBKEY
    assert verdict.evidence["expected_withdrawal_credentials"] is None


def test_no_new_deposits_gives_no_verdicts():
    assert judge_deposits(seat(SeatStatus.ENROLLED), 3, []) == []


# ---- reorgs -------------------------------------------------------------------------------


def _history(*evidence_hashes: str, actor: Actor = EL_WATCHER) -> tuple[SeatTransition, ...]:
    records = [
        SeatTransition(
            SeatStatus.CREATED, SeatStatus.ENROLLED, Actor(ActorKind.OPERATOR, "op"), NOW
        )
    ]
    for block_hash in evidence_hashes:
        records.append(
            SeatTransition(
                SeatStatus.ENROLLED,
                SeatStatus.DEPOSITED,
                actor,
                NOW,
                evidence={"block_hash": block_hash, "block_number": 10},
            )
        )
    return tuple(records)


ABANDONED = "0x" + "ab" * 32


def test_reorg_of_the_deposit_a_deposited_seat_rests_on_moves_it_to_exception():
    verdict = judge_reorg(seat(SeatStatus.DEPOSITED), _history(ABANDONED), {ABANDONED}, 9, "0x99")
    assert verdict is not None
    assert verdict.to is SeatStatus.EXCEPTION
    assert verdict.evidence == {
        "reason": "REORGED_DEPOSIT",
        "reorged_evidence": {"block_hash": ABANDONED, "block_number": 10},
        "common_ancestor_block": 9,
        "common_ancestor_hash": "0x99",
    }


def test_reorg_of_evidence_of_a_seat_already_in_exception_is_a_note():
    verdict = judge_reorg(seat(SeatStatus.EXCEPTION), _history(ABANDONED), {ABANDONED}, 9, "0x99")
    assert verdict is not None
    assert verdict.to is None
    assert verdict.reason is DepositReason.REORGED_DEPOSIT
    assert verdict.evidence["seat_status"] == "EXCEPTION"


def test_reorg_of_other_blocks_leaves_the_seat_alone():
    history = _history("0x" + "cd" * 32)
    assert judge_reorg(seat(SeatStatus.DEPOSITED), history, {ABANDONED}, 9, "0x99") is None


def test_reorg_only_considers_evidence_recorded_by_the_el_watcher():
    history = _history(ABANDONED, actor=Actor(ActorKind.ADMIN, "alice"))
    assert judge_reorg(seat(SeatStatus.DEPOSITED), history, {ABANDONED}, 9, "0x99") is None
