"""Beacon validator status → seat lifecycle decisions (pure domain)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seat_manager.domain.seats import MAIN_PATH, ActorKind, SeatStatus, allowed_targets
from seat_manager.domain.types import Epoch, Gwei, Slot
from seat_manager.domain.validator_status import (
    FAR_FUTURE_EPOCH,
    Anomaly,
    ClObservation,
    PendingDepositRecord,
    UnknownValidatorStatus,
    ValidatorRecord,
    ValidatorStatus,
    Verdict,
    decide,
    evidence_epoch,
    move_evidence,
    parse_validator_status,
    target_status,
    vault_credentials,
)
from seat_manager.domain.vaults import withdrawal_credentials

VAULT = "0x" + "ab" * 20
OURS = withdrawal_credentials(VAULT)
OURS_COMPOUNDING = withdrawal_credentials(VAULT, b"\x02")
FOREIGN = withdrawal_credentials("0x" + "cd" * 20)
EXPECTED = vault_credentials(VAULT)

S = SeatStatus


def record(
    status: str,
    *,
    slashed: bool = False,
    credentials: bytes = OURS,
    index: int = 7,
    activation: int = FAR_FUTURE_EPOCH,
    exit_: int = FAR_FUTURE_EPOCH,
) -> ValidatorRecord:
    return ValidatorRecord(
        index, ValidatorStatus(status), slashed, credentials, Epoch(activation), Epoch(exit_)
    )


def seen(status: str, **kwargs: object) -> ClObservation:
    return ClObservation(record(status, **kwargs))  # type: ignore[arg-type]


def pending(*credentials: bytes) -> tuple[PendingDepositRecord, ...]:
    return tuple(PendingDepositRecord(c, Gwei(32 * 10**9), Slot(100)) for c in credentials)


NOTHING = ClObservation(None)
NOTHING_QUEUE_UNKNOWN = ClObservation(None, queue_known=False)


@pytest.mark.parametrize(
    ("status", "target"),
    [
        ("pending_initialized", S.CL_VISIBLE),
        ("pending_queued", S.CL_VISIBLE),
        ("active_ongoing", S.ACTIVE),
        ("active_exiting", S.ACTIVE),
        ("active_slashed", S.EXCEPTION),
        ("exited_unslashed", S.EXITED),
        ("exited_slashed", S.EXCEPTION),
        ("withdrawal_possible", S.EXITED),
        ("withdrawal_done", S.EXITED),
    ],
)
def test_each_beacon_status_maps_to_its_seat_status(status: str, target: SeatStatus):
    assert target_status(record(status)) is target


@pytest.mark.parametrize("status", ["active_ongoing", "exited_unslashed", "withdrawal_done"])
def test_the_slashed_flag_means_exception_whatever_the_status(status: str):
    assert target_status(record(status, slashed=True)) is S.EXCEPTION


@pytest.mark.parametrize("raw", ["active", "ACTIVE_ONGOING", "", "pending", "exited"])
def test_an_unknown_status_string_is_a_typed_error(raw: str):
    with pytest.raises(UnknownValidatorStatus) as caught:
        parse_validator_status(raw)
    assert caught.value.code == "UNKNOWN_VALIDATOR_STATUS"


def test_every_documented_status_parses():
    assert {parse_validator_status(s.value) for s in ValidatorStatus} == set(ValidatorStatus)


@pytest.mark.parametrize(
    ("current", "status", "target"),
    [
        (S.ENROLLED, "pending_queued", S.CL_VISIBLE),
        (S.DEPOSITED, "pending_initialized", S.CL_VISIBLE),
        (S.DEPOSITED, "active_ongoing", S.ACTIVE),
        (S.DEPOSITED, "withdrawal_done", S.EXITED),
        (S.CL_VISIBLE, "active_exiting", S.ACTIVE),
        (S.ACTIVE, "exited_unslashed", S.EXITED),
    ],
)
def test_a_chain_ahead_of_the_seat_moves_it_forward(current, status, target):
    decision = decide(current, seen(status), expected_credentials=EXPECTED)
    assert (decision.verdict, decision.target, decision.anomaly) == (Verdict.MOVE, target, None)


@pytest.mark.parametrize(
    ("current", "status"),
    [
        (S.CL_VISIBLE, "pending_queued"),
        (S.ACTIVE, "active_ongoing"),
        (S.ACTIVE, "active_exiting"),
        (S.EXITED, "exited_unslashed"),
        (S.EXITED, "withdrawal_done"),
    ],
)
def test_a_seat_already_where_the_chain_is_stays(current, status):
    assert decide(current, seen(status), expected_credentials=EXPECTED).verdict is Verdict.STAY


@pytest.mark.parametrize("current", [S.ENROLLED, S.DEPOSITED])
def test_a_pubkey_unknown_to_the_beacon_leaves_an_early_seat_waiting(current):
    assert decide(current, NOTHING, expected_credentials=EXPECTED).verdict is Verdict.STAY


@pytest.mark.parametrize("current", [S.ENROLLED, S.DEPOSITED])
def test_a_pubkey_only_in_the_pending_queue_makes_the_seat_cl_visible(current):
    decision = decide(current, ClObservation(None, pending(OURS)), expected_credentials=EXPECTED)
    assert (decision.verdict, decision.target) == (Verdict.MOVE, S.CL_VISIBLE)


@pytest.mark.parametrize("current", [S.ENROLLED, S.DEPOSITED, S.CL_VISIBLE, S.ACTIVE])
def test_a_slashed_validator_moves_any_watched_seat_to_exception(current):
    decision = decide(current, seen("active_slashed", slashed=True), expected_credentials=EXPECTED)
    assert (decision.verdict, decision.target, decision.anomaly) == (
        Verdict.MOVE,
        S.EXCEPTION,
        Anomaly.SLASHED,
    )


def test_foreign_validator_credentials_move_the_seat_to_exception():
    decision = decide(
        S.ACTIVE, seen("active_ongoing", credentials=FOREIGN), expected_credentials=EXPECTED
    )
    assert (decision.verdict, decision.target, decision.anomaly) == (
        Verdict.MOVE,
        S.EXCEPTION,
        Anomaly.CREDENTIALS_MISMATCH,
    )
    assert FOREIGN.hex() in decision.detail


def test_compounding_credentials_to_the_same_vault_are_ours():
    decision = decide(
        S.ACTIVE,
        seen("active_ongoing", credentials=OURS_COMPOUNDING),
        expected_credentials=EXPECTED,
    )
    assert decision.verdict is Verdict.STAY


def test_any_foreign_pending_deposit_for_a_new_pubkey_is_an_anomaly():
    observation = ClObservation(None, pending(OURS, FOREIGN))
    decision = decide(S.DEPOSITED, observation, expected_credentials=EXPECTED)
    assert (decision.target, decision.anomaly) == (S.EXCEPTION, Anomaly.CREDENTIALS_MISMATCH)


def test_foreign_top_ups_to_an_existing_validator_are_ignored():
    """Once the validator exists its credentials are fixed; top-ups cannot change them."""
    observation = ClObservation(record("active_ongoing"), pending(FOREIGN))
    assert decide(S.ACTIVE, observation, expected_credentials=EXPECTED).verdict is Verdict.STAY


def test_without_a_known_vault_the_credentials_are_not_checked():
    decision = decide(
        S.DEPOSITED, seen("active_ongoing", credentials=FOREIGN), expected_credentials=None
    )
    assert (decision.verdict, decision.target) == (Verdict.MOVE, S.ACTIVE)


def test_a_validator_index_other_than_the_recorded_one_is_an_anomaly():
    decision = decide(
        S.ACTIVE, seen("active_ongoing", index=8), expected_credentials=EXPECTED, known_index=7
    )
    assert (decision.target, decision.anomaly) == (S.EXCEPTION, Anomaly.INDEX_CHANGED)


@pytest.mark.parametrize(
    ("current", "status"),
    [(S.ACTIVE, "pending_queued"), (S.ACTIVE, "pending_initialized")],
)
def test_a_chain_behind_the_seat_is_an_anomaly(current, status):
    decision = decide(current, seen(status), expected_credentials=EXPECTED)
    assert (decision.target, decision.anomaly) == (S.EXCEPTION, Anomaly.STATUS_BEHIND_SEAT)


def test_an_active_seat_whose_pubkey_is_only_pending_is_behind():
    decision = decide(S.ACTIVE, ClObservation(None, pending(OURS)), expected_credentials=EXPECTED)
    assert (decision.target, decision.anomaly) == (S.EXCEPTION, Anomaly.STATUS_BEHIND_SEAT)


@pytest.mark.parametrize("current", [S.CL_VISIBLE, S.ACTIVE])
def test_a_visible_validator_that_vanished_is_an_anomaly(current):
    decision = decide(current, NOTHING, expected_credentials=EXPECTED)
    assert (decision.target, decision.anomaly) == (S.EXCEPTION, Anomaly.VALIDATOR_MISSING)


def test_a_cl_visible_seat_is_left_alone_when_the_node_has_no_pending_queue():
    decision = decide(S.CL_VISIBLE, NOTHING_QUEUE_UNKNOWN, expected_credentials=EXPECTED)
    assert decision.verdict is Verdict.STAY


def test_an_active_seat_whose_validator_vanished_is_an_anomaly_even_without_a_queue():
    decision = decide(S.ACTIVE, NOTHING_QUEUE_UNKNOWN, expected_credentials=EXPECTED)
    assert decision.anomaly is Anomaly.VALIDATOR_MISSING


@pytest.mark.parametrize(
    ("observation", "anomaly"),
    [
        (seen("active_ongoing"), Anomaly.STATUS_BEHIND_SEAT),
        (seen("exited_slashed", slashed=True), Anomaly.SLASHED),
        (seen("withdrawal_done", credentials=FOREIGN), Anomaly.CREDENTIALS_MISMATCH),
        (NOTHING, Anomaly.VALIDATOR_MISSING),
    ],
    ids=["reactivated", "slashed-after-exit", "foreign-credentials", "vanished"],
)
def test_contradictions_on_an_exited_seat_are_flagged_not_moved(observation, anomaly):
    """EXITED is terminal for the watcher: the anomaly is reported, the seat stays."""
    decision = decide(S.EXITED, observation, expected_credentials=EXPECTED)
    assert (decision.verdict, decision.target, decision.anomaly) == (Verdict.FLAG, None, anomaly)


@pytest.mark.parametrize("current", [S.EXCEPTION, S.REVOKED])
def test_seats_off_the_main_path_are_never_touched(current):
    decision = decide(current, seen("active_slashed", slashed=True), expected_credentials=EXPECTED)
    assert decision.verdict is Verdict.STAY


@pytest.mark.parametrize(
    ("observation", "label"),
    [
        (seen("active_exiting"), "active_exiting"),
        (ClObservation(None, pending(OURS)), "pending_deposit"),
        (NOTHING, "not_found"),
    ],
)
def test_the_cl_status_label_names_what_the_beacon_showed(observation, label):
    assert observation.cl_status == label


@pytest.mark.parametrize(
    ("target", "activation", "exit_", "epoch"),
    [
        (S.ACTIVE, 10, 50, 10),
        (S.EXITED, 10, 50, 50),
        (S.EXCEPTION, 10, 50, 50),
        (S.EXCEPTION, 10, FAR_FUTURE_EPOCH, 10),
        (S.CL_VISIBLE, FAR_FUTURE_EPOCH, FAR_FUTURE_EPOCH, None),
    ],
)
def test_evidence_epoch_is_the_epoch_the_move_rests_on(target, activation, exit_, epoch):
    validator = record("active_ongoing", activation=activation, exit_=exit_)
    assert evidence_epoch(validator, target) == epoch


def test_move_evidence_names_index_status_epoch_slot_and_source():
    observation = seen("active_ongoing", activation=200, index=42)
    decision = decide(S.DEPOSITED, observation, expected_credentials=EXPECTED)
    evidence = move_evidence(
        observation, decision, slot=6400, block_root="0x" + "aa" * 32, credentials_checked=True
    )
    assert evidence == {
        "source": "beacon",
        "status": "active_ongoing",
        "validator_index": 42,
        "epoch": 200,
        "slot": 6400,
        "block_root": "0x" + "aa" * 32,
        "slashed": False,
        "credentials_checked": True,
        "withdrawal_credentials": "0x" + OURS.hex(),
    }


def test_move_evidence_of_an_anomaly_carries_its_code_and_detail():
    observation = ClObservation(None, pending(FOREIGN))
    decision = decide(S.DEPOSITED, observation, expected_credentials=EXPECTED)
    evidence = move_evidence(
        observation, decision, slot=1, block_root="0x00", credentials_checked=True
    )
    assert evidence["anomaly"] == "WITHDRAWAL_CREDENTIALS_MISMATCH"
    assert FOREIGN.hex() in str(evidence["detail"])
    assert evidence["pending_deposit_slots"] == [100]
    assert evidence["validator_index"] is None and evidence["epoch"] is None


observations = st.builds(
    ClObservation,
    st.one_of(
        st.none(),
        st.builds(
            ValidatorRecord,
            index=st.integers(0, 20),
            status=st.sampled_from(ValidatorStatus),
            slashed=st.booleans(),
            withdrawal_credentials=st.sampled_from([OURS, OURS_COMPOUNDING, FOREIGN]),
            activation_epoch=st.sampled_from([Epoch(5), FAR_FUTURE_EPOCH]),
            exit_epoch=st.sampled_from([Epoch(9), FAR_FUTURE_EPOCH]),
        ),
    ),
    st.lists(
        st.builds(
            PendingDepositRecord,
            st.sampled_from([OURS, FOREIGN]),
            st.just(Gwei(1)),
            st.just(Slot(1)),
        ),
        max_size=2,
    ).map(tuple),
    st.booleans(),
)


@given(
    current=st.sampled_from(SeatStatus),
    observation=observations,
    known_index=st.one_of(st.none(), st.integers(0, 20)),
)
def test_decisions_only_ever_ask_for_moves_the_state_machine_allows(
    current, observation, known_index
):
    decision = decide(current, observation, expected_credentials=EXPECTED, known_index=known_index)
    if decision.verdict is Verdict.MOVE:
        assert decision.target in allowed_targets(current, ActorKind.WATCHER)
        assert decision.target is S.EXCEPTION or (
            MAIN_PATH.index(decision.target) > MAIN_PATH.index(current)
        )
        assert (decision.target is S.EXCEPTION) == (decision.anomaly is not None)
    else:
        assert decision.target is None
        assert (decision.verdict is Verdict.FLAG) == (decision.anomaly is not None)
