"""The operation status machine, retry/cancel gates, backoff and retry decisions.

``ALLOWED`` is written out by hand, independently of ``operations.RULES``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seat_manager.domain.errors import InvalidTransition, ValidationFailed
from seat_manager.domain.operations import (
    CANCELLED_ERROR_CODE,
    LIVE_STATUSES,
    Fail,
    Operation,
    OperationAction,
    OperationKind,
    OperationStatus,
    OperationTransitioned,
    Requeue,
    admin_cancel,
    admin_retry,
    apply_error_decision,
    claim,
    decide_after_error,
    enqueue,
    fail,
    is_due,
    is_live,
    is_operation_id,
    new_operation_id,
    next_attempt_at,
    propose,
    reclaim_expired,
    requeue,
    succeed,
)
from seat_manager.domain.seats import Actor, ActorKind
from seat_manager.domain.types import OperationId, SeatId

Q, P, PR, S, F = "queued", "processing", "proposed", "succeeded", "failed"

ALLOWED: dict[tuple[str, str, str], str] = {
    ("claim", Q, "system"): P,
    ("reclaim", P, "system"): P,
    ("requeue", P, "system"): Q,
    ("propose", P, "system"): PR,
    ("succeed", P, "system"): S,
    ("succeed", PR, "watcher"): S,
    ("fail", P, "system"): F,
    ("retry", F, "admin"): Q,
    ("retry", PR, "admin"): Q,
    ("cancel", Q, "admin"): F,
    ("cancel", P, "admin"): F,
    ("cancel", PR, "admin"): F,
}

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
OP_ID = new_operation_id(bytes(range(16)))
SEAT_ID = SeatId("seat_001")
ACTORS = {kind: Actor(kind, f"{kind}-1") for kind in ActorKind}
EVIDENCE = {"tx_hash": "0x" + "cd" * 32, "block_number": 77}
REASON = "MANUAL_RETRY: retry after RPC recovery"

Step = Callable[[Operation, Actor, datetime], tuple[Operation, OperationTransitioned]]

STEPS: dict[str, Step] = {
    "claim": lambda op, actor, now: claim(op, actor=actor, now=now),
    "reclaim": lambda op, actor, now: reclaim_expired(op, actor=actor, now=now),
    "requeue": lambda op, actor, now: requeue(
        op, actor=actor, at=now + timedelta(seconds=30), now=now, error_code="RPC_DOWN"
    ),
    "propose": lambda op, actor, now: propose(op, actor=actor, evidence=EVIDENCE, now=now),
    "succeed": lambda op, actor, now: succeed(op, actor=actor, evidence=EVIDENCE, now=now),
    "fail": lambda op, actor, now: fail(
        op, actor=actor, error_code="REVERTED", error_message="execution reverted", now=now
    ),
    "retry": lambda op, actor, now: admin_retry(op, actor=actor, reason=REASON, now=now),
    "cancel": lambda op, actor, now: admin_cancel(op, actor=actor, reason=REASON, now=now),
}


def queued_op() -> Operation:
    return enqueue(OP_ID, SEAT_ID, OperationKind.DEPOSIT, actor=ACTORS[ActorKind.SYSTEM], now=T0)[0]


def op_in(status: OperationStatus, *, attempts: int = 1) -> Operation:
    return Operation(OP_ID, SEAT_ID, OperationKind.DEPOSIT, status, attempts, T0)


@pytest.mark.parametrize(
    ("action", "status", "kind"),
    list(itertools.product(STEPS, OperationStatus, ActorKind)),
    ids=str,
)
def test_every_action_is_accepted_exactly_when_the_table_allows_it(
    action: str, status: OperationStatus, kind: ActorKind
) -> None:
    op = op_in(status)
    expected = ALLOWED.get((action, str(status), str(kind)))
    if expected is None:
        with pytest.raises(InvalidTransition):
            STEPS[action](op, ACTORS[kind], T0)
    else:
        moved, event = STEPS[action](op, ACTORS[kind], T0)
        assert moved.status == expected
        assert event.transition.action == action
        assert event.transition.from_status is status


@pytest.mark.parametrize(
    "status", [OperationStatus.QUEUED, OperationStatus.PROCESSING, OperationStatus.SUCCEEDED]
)
def test_retry_outside_failed_or_proposed_is_refused_with_the_runbook_message(
    status: OperationStatus,
) -> None:
    with pytest.raises(InvalidTransition) as caught:
        admin_retry(op_in(status), actor=ACTORS[ActorKind.ADMIN], reason=REASON, now=T0)
    assert str(caught.value) == f"Operation retry not allowed from status {status}"
    assert caught.value.code == "INVALID_TRANSITION"


@pytest.mark.parametrize("status", [OperationStatus.SUCCEEDED, OperationStatus.FAILED])
def test_cancel_outside_live_statuses_is_refused_with_the_runbook_message(
    status: OperationStatus,
) -> None:
    with pytest.raises(InvalidTransition) as caught:
        admin_cancel(op_in(status), actor=ACTORS[ActorKind.ADMIN], reason=REASON, now=T0)
    assert str(caught.value) == f"Operation cancel not allowed from status {status}"


def test_retry_gate_message_wins_even_for_a_non_admin_actor() -> None:
    with pytest.raises(InvalidTransition, match="^Operation retry not allowed from status queued$"):
        admin_retry(
            op_in(OperationStatus.QUEUED), actor=ACTORS[ActorKind.SYSTEM], reason=REASON, now=T0
        )


@pytest.mark.parametrize("reason", [None, "", "  "])
def test_retry_and_cancel_without_a_reason_are_refused(reason: str | None) -> None:
    admin = ACTORS[ActorKind.ADMIN]
    for action in (admin_retry, admin_cancel):
        with pytest.raises(ValidationFailed) as caught:
            action(op_in(OperationStatus.PROPOSED), actor=admin, reason=reason, now=T0)
        assert caught.value.code == "REASON_REQUIRED"


def test_admin_retry_requeues_now_with_a_fresh_attempt_budget_and_no_error() -> None:
    failed = fail(
        op_in(OperationStatus.PROCESSING, attempts=8),
        actor=ACTORS[ActorKind.SYSTEM],
        error_code="RPC_DOWN",
        error_message="connection refused",
        now=T0,
    )[0]
    later = T0 + timedelta(hours=2)
    retried, event = admin_retry(failed, actor=ACTORS[ActorKind.ADMIN], reason=REASON, now=later)
    assert (retried.status, retried.attempts, retried.available_at) == (
        OperationStatus.QUEUED,
        0,
        later,
    )
    assert retried.error_code is None and retried.error_message is None
    assert event.transition.reason == REASON
    assert retried.history[-2].error_code == "RPC_DOWN"


def test_admin_cancel_marks_failed_with_who_and_why() -> None:
    cancelled, event = admin_cancel(
        op_in(OperationStatus.PROCESSING),
        actor=Actor(ActorKind.ADMIN, "alice"),
        reason="stuck on a dead nonce",
        now=T0,
    )
    assert cancelled.status is OperationStatus.FAILED
    assert cancelled.error_code == CANCELLED_ERROR_CODE
    assert cancelled.error_message == "Cancelled by alice: stuck on a dead nonce"
    assert event.transition.reason == "stuck on a dead nonce"


def test_claim_counts_an_attempt_and_keeps_the_last_error_visible() -> None:
    requeued = op_in(OperationStatus.PROCESSING, attempts=2)
    requeued = requeue(
        requeued,
        actor=ACTORS[ActorKind.SYSTEM],
        at=T0,
        now=T0,
        error_code="RPC_DOWN",
        error_message="timeout",
    )[0]
    claimed, event = claim(requeued, actor=ACTORS[ActorKind.SYSTEM], now=T0)
    assert claimed.attempts == 3
    assert (claimed.error_code, claimed.error_message) == ("RPC_DOWN", "timeout")
    assert event.transition.error_code is None


def test_lease_release_requeue_keeps_attempts_and_last_error() -> None:
    processing = Operation(
        OP_ID, SEAT_ID, OperationKind.CLAIM, OperationStatus.PROCESSING, 2, T0, "RPC_DOWN", "x"
    )
    released, _ = requeue(
        processing, actor=ACTORS[ActorKind.SYSTEM], at=T0, now=T0, reason="lease released"
    )
    assert (released.status, released.attempts, released.error_code) == (
        OperationStatus.QUEUED,
        2,
        "RPC_DOWN",
    )


def test_succeed_and_propose_without_evidence_are_refused() -> None:
    system = ACTORS[ActorKind.SYSTEM]
    with pytest.raises(ValidationFailed, match="requires evidence"):
        succeed(op_in(OperationStatus.PROCESSING), actor=system, evidence={}, now=T0)
    with pytest.raises(ValidationFailed, match="requires evidence"):
        propose(op_in(OperationStatus.PROCESSING), actor=system, evidence={}, now=T0)


def test_proposed_operation_is_marked_succeeded_only_by_the_watcher() -> None:
    proposed = op_in(OperationStatus.PROPOSED)
    with pytest.raises(InvalidTransition, match="as system"):
        succeed(proposed, actor=ACTORS[ActorKind.SYSTEM], evidence=EVIDENCE, now=T0)
    done, _ = succeed(proposed, actor=ACTORS[ActorKind.WATCHER], evidence=EVIDENCE, now=T0)
    assert done.status is OperationStatus.SUCCEEDED


def test_fail_without_error_code_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        fail(
            op_in(OperationStatus.PROCESSING),
            actor=ACTORS[ActorKind.SYSTEM],
            error_code="",
            error_message="x",
            now=T0,
        )


def test_enqueue_starts_queued_due_now_with_no_attempts() -> None:
    op = queued_op()
    assert (op.status, op.attempts, op.available_at) == (OperationStatus.QUEUED, 0, T0)
    assert op.history[0].from_status is None
    assert is_due(op, T0) and not is_due(op, T0 - timedelta(seconds=1))


def test_enqueue_refuses_a_malformed_operation_id() -> None:
    with pytest.raises(ValidationFailed):
        enqueue(
            OperationId("op_NOPE"),
            SEAT_ID,
            OperationKind.CLAIM,
            actor=ACTORS[ActorKind.SYSTEM],
            now=T0,
        )


def test_live_statuses_are_queued_processing_proposed() -> None:
    assert {str(s) for s in LIVE_STATUSES} == {Q, P, PR}
    assert [s for s in OperationStatus if is_live(s)] == [
        OperationStatus.QUEUED,
        OperationStatus.PROCESSING,
        OperationStatus.PROPOSED,
    ]


def test_statuses_are_lower_case_and_kinds_are_the_spec_names() -> None:
    assert [str(s) for s in OperationStatus] == [Q, P, PR, S, F]
    assert [str(k) for k in OperationKind] == [
        "DEPLOY_VAULT",
        "DEPOSIT",
        "GRANT_CLAIM_EXECUTOR",
        "CLAIM",
    ]


# --- ids ----------------------------------------------------------------------------------


def test_operation_id_is_op_and_26_lower_case_base32_characters() -> None:
    op_id = new_operation_id(b"\x00" * 16)
    assert op_id == "op_" + "a" * 26
    assert is_operation_id(op_id)


@pytest.mark.parametrize("size", [0, 15, 17, 32])
def test_operation_id_needs_exactly_16_random_bytes(size: int) -> None:
    with pytest.raises(ValueError):
        new_operation_id(b"\x01" * size)


@given(st.binary(min_size=16, max_size=16), st.binary(min_size=16, max_size=16))
def test_distinct_random_bytes_give_distinct_valid_ids(a: bytes, b: bytes) -> None:
    assert is_operation_id(new_operation_id(a))
    assert (new_operation_id(a) == new_operation_id(b)) == (a == b)


# --- backoff and retry decisions ----------------------------------------------------------

BASE = timedelta(seconds=5)
CAP = timedelta(minutes=10)
jitters = st.floats(min_value=0.0, max_value=1.0, exclude_max=True)


def delay(attempts: int, jitter: float) -> timedelta:
    return next_attempt_at(attempts, T0, base=BASE, cap=CAP, jitter=jitter) - T0


def test_backoff_doubles_from_base_with_jitter_spreading_the_upper_half() -> None:
    assert [delay(n, 0.0) for n in (1, 2, 3, 4)] == [
        timedelta(seconds=2.5),
        timedelta(seconds=5),
        timedelta(seconds=10),
        timedelta(seconds=20),
    ]
    assert delay(1, 0.5) == timedelta(seconds=3.75)


def test_backoff_never_exceeds_the_cap_even_for_absurd_attempt_counts() -> None:
    assert delay(10**6, 0.999999) <= CAP
    assert delay(10**6, 0.0) == CAP / 2


@given(st.integers(min_value=0, max_value=200), jitters)
def test_backoff_is_monotonic_in_attempts_and_bounded_by_the_cap(n: int, jitter: float) -> None:
    assert timedelta(0) < delay(n, jitter) <= delay(n + 1, jitter) <= CAP


@given(st.integers(min_value=0, max_value=200), jitters, jitters)
def test_backoff_grows_with_the_jitter_drawn(n: int, j1: float, j2: float) -> None:
    low, high = sorted((j1, j2))
    assert delay(n, low) <= delay(n, high)


@pytest.mark.parametrize("jitter", [-0.1, 1.0, float("nan"), float("inf")])
def test_backoff_refuses_jitter_outside_zero_to_one(jitter: float) -> None:
    with pytest.raises(ValueError):
        next_attempt_at(1, T0, jitter=jitter)


def test_backoff_refuses_a_cap_below_the_base() -> None:
    with pytest.raises(ValueError):
        next_attempt_at(1, T0, base=CAP, cap=BASE, jitter=0.0)


def decide(attempts: int, *, retryable: bool) -> Requeue | Fail:
    return decide_after_error(
        op_in(OperationStatus.PROCESSING, attempts=attempts),
        retryable=retryable,
        error_code="RPC_DOWN",
        error_message="connection refused",
        max_attempts=3,
        now=T0,
        jitter=0.25,
        base=BASE,
        cap=CAP,
    )


def test_retryable_error_under_the_budget_requeues_at_the_backoff_time() -> None:
    assert decide(2, retryable=True) == Requeue(
        next_attempt_at(2, T0, base=BASE, cap=CAP, jitter=0.25), "RPC_DOWN", "connection refused"
    )


def test_retryable_error_at_the_budget_fails_saying_it_gave_up() -> None:
    assert decide(3, retryable=True) == Fail(
        "RPC_DOWN", "connection refused (gave up after 3 attempts)"
    )


def test_permanent_error_fails_at_once_with_its_code() -> None:
    assert decide(1, retryable=False) == Fail("RPC_DOWN", "connection refused")


def test_applying_decisions_requeues_or_fails_the_processing_operation() -> None:
    system = ACTORS[ActorKind.SYSTEM]
    processing = op_in(OperationStatus.PROCESSING, attempts=1)
    requeued, _ = apply_error_decision(processing, decide(1, retryable=True), actor=system, now=T0)
    assert requeued.status is OperationStatus.QUEUED
    assert requeued.available_at > T0
    assert requeued.error_code == "RPC_DOWN"
    failed, _ = apply_error_decision(processing, decide(1, retryable=False), actor=system, now=T0)
    assert (failed.status, failed.error_message) == (OperationStatus.FAILED, "connection refused")


# --- properties over random transition sequences ---------------------------------------


@given(st.lists(st.tuples(st.sampled_from(list(STEPS)), st.sampled_from(list(ActorKind)))))
def test_random_sequences_accept_only_table_moves_and_history_only_grows(
    steps: list[tuple[str, ActorKind]],
) -> None:
    op = queued_op()
    for i, (action, kind) in enumerate(steps):
        before, before_history = op, tuple(op.history)
        now = T0 + timedelta(seconds=i + 1)
        expected = ALLOWED.get((action, str(op.status), str(kind)))
        if expected is None:
            with pytest.raises(InvalidTransition):
                STEPS[action](op, ACTORS[kind], now)
            assert op == before and op.history == before_history
            continue
        moved, event = STEPS[action](op, ACTORS[kind], now)
        assert before.status is not OperationStatus.SUCCEEDED
        assert moved is not before and before.history == before_history
        assert moved.status == expected
        assert moved.history[:-1] == before_history
        assert moved.history[-1] == event.transition
        assert event.transition.action == OperationAction(action)
        assert moved.attempts >= 0
        op = moved
