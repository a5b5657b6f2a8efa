"""The seat lifecycle state machine, checked against a table written out here by hand.

The table below is deliberately independent of ``seats.ALLOWED_MOVES``: if someone widens
the machine, these tests fail until the table (and the module docstring) is changed too.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seat_manager.domain.errors import InvalidTransition, ValidationFailed
from seat_manager.domain.seats import (
    Actor,
    ActorKind,
    Seat,
    SeatStatus,
    SeatTransition,
    allowed_targets,
    create_seat,
    has_principal_at_risk,
    is_active,
    transition,
)
from seat_manager.domain.types import OperatorId, SeatId

C, EN, D, CL, A, EX, EXC, R = (
    "CREATED",
    "ENROLLED",
    "DEPOSITED",
    "CL_VISIBLE",
    "ACTIVE",
    "EXITED",
    "EXCEPTION",
    "REVOKED",
)

ALLOWED: frozenset[tuple[str, str, str]] = frozenset(
    {
        (C, EN, "operator"),
        (EN, D, "watcher"),
        (EN, CL, "watcher"),
        (EN, A, "watcher"),
        (EN, EX, "watcher"),
        (D, CL, "watcher"),
        (D, A, "watcher"),
        (D, EX, "watcher"),
        (CL, A, "watcher"),
        (CL, EX, "watcher"),
        (A, EX, "watcher"),
        (C, EXC, "watcher"),
        (EN, EXC, "watcher"),
        (D, EXC, "watcher"),
        (CL, EXC, "watcher"),
        (A, EXC, "watcher"),
        (C, EXC, "admin"),
        (EN, EXC, "admin"),
        (D, EXC, "admin"),
        (CL, EXC, "admin"),
        (A, EXC, "admin"),
        (C, R, "admin"),
        (EN, R, "admin"),
        (D, R, "admin"),
        (CL, R, "admin"),
        (A, R, "admin"),
        (EX, R, "admin"),
        (EXC, R, "admin"),
        (EXC, EN, "admin"),
        (EXC, D, "admin"),
        (EXC, CL, "admin"),
        (EXC, A, "admin"),
        (EXC, EX, "admin"),
    }
)

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
SEAT_ID = SeatId("seat_001")
OPERATOR_ID = OperatorId("operator_001")
ACTORS = {kind: Actor(kind, f"{kind}-1") for kind in ActorKind}
EVIDENCE = {"block_number": 123, "log_index": 4, "tx_hash": "0x" + "ab" * 32}
REASON = "GOVERNANCE_DECISION: approved in ops review"


def seat_in(status: SeatStatus, *, exception_from: SeatStatus = SeatStatus.ACTIVE) -> Seat:
    """A seat whose history leads to ``status`` (EXCEPTION entered from ``exception_from``)."""
    seat, _ = create_seat(SEAT_ID, OPERATOR_ID, actor=ACTORS[ActorKind.SEEDER], now=T0)
    if status is SeatStatus.EXCEPTION:
        source = seat_in(exception_from)
        return transition(source, status, actor=ACTORS[ActorKind.ADMIN], now=T0, reason=REASON)[0]
    if status is SeatStatus.REVOKED:
        return transition(seat, status, actor=ACTORS[ActorKind.ADMIN], now=T0, reason=REASON)[0]
    if status is SeatStatus.CREATED:
        return seat
    return Seat(seat.seat_id, seat.operator_id, status, seat.history)


ALL_MOVES = list(itertools.product(SeatStatus, SeatStatus, ActorKind))


@pytest.mark.parametrize(("src", "dst", "kind"), ALL_MOVES, ids=lambda v: str(v))
def test_every_move_is_accepted_exactly_when_the_table_allows_it(
    src: SeatStatus, dst: SeatStatus, kind: ActorKind
) -> None:
    seat = seat_in(src)
    if (src, dst, kind) in ALLOWED:
        moved, event = transition(
            seat, dst, actor=ACTORS[kind], now=T0, evidence=EVIDENCE, reason=REASON
        )
        assert moved.status is dst
        assert event.transition.from_status is src
        assert event.transition.to_status is dst
    else:
        with pytest.raises(InvalidTransition) as caught:
            transition(seat, dst, actor=ACTORS[kind], now=T0, evidence=EVIDENCE, reason=REASON)
        assert caught.value.code == "INVALID_TRANSITION"
        assert caught.value.data["from"] == src
        assert caught.value.data["to"] == dst


@pytest.mark.parametrize(("src", "kind"), list(itertools.product(SeatStatus, ActorKind)))
def test_allowed_targets_lists_exactly_the_table_rows(src: SeatStatus, kind: ActorKind) -> None:
    expected = {dst for (s, dst, k) in ALLOWED if s == src and k == kind}
    assert allowed_targets(src, kind) == expected


def test_backward_move_is_refused_with_a_message_naming_seat_and_statuses() -> None:
    with pytest.raises(InvalidTransition) as caught:
        transition(
            seat_in(SeatStatus.ACTIVE),
            SeatStatus.ENROLLED,
            actor=ACTORS[ActorKind.WATCHER],
            now=T0,
            evidence=EVIDENCE,
        )
    assert str(caught.value) == "Seat seat_001 cannot move from ACTIVE to ENROLLED"
    assert caught.value.data == {"seat_id": "seat_001", "from": "ACTIVE", "to": "ENROLLED"}


def test_move_by_the_wrong_actor_is_refused_naming_the_actor_kinds_that_may() -> None:
    with pytest.raises(InvalidTransition) as caught:
        transition(
            seat_in(SeatStatus.ENROLLED),
            SeatStatus.DEPOSITED,
            actor=ACTORS[ActorKind.OPERATOR],
            now=T0,
            evidence=EVIDENCE,
        )
    assert str(caught.value) == (
        "Seat seat_001 cannot move from ENROLLED to DEPOSITED as operator (allowed: watcher)"
    )
    assert caught.value.data["actor"] == "operator:operator-1"


def test_revoked_seat_cannot_move_anywhere_even_for_an_admin() -> None:
    revoked = seat_in(SeatStatus.REVOKED)
    for dst, kind in itertools.product(SeatStatus, ActorKind):
        with pytest.raises(InvalidTransition):
            transition(revoked, dst, actor=ACTORS[kind], now=T0, evidence=EVIDENCE, reason=REASON)


def test_watcher_move_without_evidence_is_refused_as_evidence_required() -> None:
    for dst in (SeatStatus.DEPOSITED, SeatStatus.EXCEPTION):
        with pytest.raises(ValidationFailed) as caught:
            transition(seat_in(SeatStatus.ENROLLED), dst, actor=ACTORS[ActorKind.WATCHER], now=T0)
        assert caught.value.code == "EVIDENCE_REQUIRED"


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_admin_exception_or_revoke_without_a_reason_is_refused(reason: str | None) -> None:
    for dst in (SeatStatus.EXCEPTION, SeatStatus.REVOKED):
        with pytest.raises(ValidationFailed) as caught:
            transition(
                seat_in(SeatStatus.ACTIVE),
                dst,
                actor=ACTORS[ActorKind.ADMIN],
                now=T0,
                reason=reason,
            )
        assert caught.value.code == "REASON_REQUIRED"


def test_admin_resolving_an_exception_needs_evidence_as_well_as_a_reason() -> None:
    with pytest.raises(ValidationFailed) as caught:
        transition(
            seat_in(SeatStatus.EXCEPTION),
            SeatStatus.ACTIVE,
            actor=ACTORS[ActorKind.ADMIN],
            now=T0,
            reason=REASON,
        )
    assert caught.value.code == "EVIDENCE_REQUIRED"


def test_admin_revoke_needs_no_evidence_and_records_the_stripped_reason() -> None:
    moved, event = transition(
        seat_in(SeatStatus.EXITED),
        SeatStatus.REVOKED,
        actor=ACTORS[ActorKind.ADMIN],
        now=T0,
        reason="  GOVERNANCE: seat closed after exit  ",
    )
    assert moved.status is SeatStatus.REVOKED
    assert event.transition.reason == "GOVERNANCE: seat closed after exit"
    assert event.transition.actor == ACTORS[ActorKind.ADMIN]


def test_operator_enrollment_needs_neither_evidence_nor_reason() -> None:
    moved, _ = transition(
        seat_in(SeatStatus.CREATED), SeatStatus.ENROLLED, actor=ACTORS[ActorKind.OPERATOR], now=T0
    )
    assert moved.status is SeatStatus.ENROLLED


def test_create_seat_starts_created_with_a_creation_entry_by_the_seeder() -> None:
    seat, event = create_seat(SEAT_ID, OPERATOR_ID, actor=ACTORS[ActorKind.SEEDER], now=T0)
    assert seat.status is SeatStatus.CREATED
    assert seat.history == (SeatTransition(None, SeatStatus.CREATED, ACTORS[ActorKind.SEEDER], T0),)
    assert event.seat_id == SEAT_ID
    assert event.operator_id == OPERATOR_ID


@pytest.mark.parametrize("kind", [ActorKind.OPERATOR, ActorKind.WATCHER, ActorKind.SYSTEM])
def test_create_seat_by_anyone_but_seeder_or_admin_is_refused(kind: ActorKind) -> None:
    with pytest.raises(InvalidTransition):
        create_seat(SEAT_ID, OPERATOR_ID, actor=ACTORS[kind], now=T0)


def test_create_seat_with_blank_ids_is_refused() -> None:
    with pytest.raises(ValidationFailed):
        create_seat(SeatId(" "), OPERATOR_ID, actor=ACTORS[ActorKind.SEEDER], now=T0)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        create_seat(SEAT_ID, OPERATOR_ID, actor=ACTORS[ActorKind.SEEDER], now=datetime(2026, 1, 1))


def test_mutating_the_callers_evidence_dict_later_does_not_rewrite_history() -> None:
    evidence: dict[str, object] = {"slot": 100}
    moved, _ = transition(
        seat_in(SeatStatus.ENROLLED),
        SeatStatus.CL_VISIBLE,
        actor=ACTORS[ActorKind.WATCHER],
        now=T0,
        evidence=evidence,
    )
    evidence["slot"] = 999
    assert moved.history[-1].evidence == {"slot": 100}
    with pytest.raises(TypeError):
        moved.history[-1].evidence["slot"] = 1  # type: ignore[index]


def test_is_active_is_every_status_but_revoked() -> None:
    assert {s for s in SeatStatus if not is_active(s)} == {SeatStatus.REVOKED}


@pytest.mark.parametrize(
    ("status", "at_risk"),
    [
        (SeatStatus.CREATED, False),
        (SeatStatus.ENROLLED, False),
        (SeatStatus.DEPOSITED, True),
        (SeatStatus.CL_VISIBLE, True),
        (SeatStatus.ACTIVE, True),
        (SeatStatus.EXITED, False),
        (SeatStatus.REVOKED, False),
    ],
)
def test_principal_at_risk_by_status(status: SeatStatus, at_risk: bool) -> None:
    assert has_principal_at_risk(seat_in(status)) is at_risk


@pytest.mark.parametrize(
    ("exception_from", "at_risk"),
    [
        (SeatStatus.CREATED, False),
        (SeatStatus.ENROLLED, True),
        (SeatStatus.DEPOSITED, True),
        (SeatStatus.ACTIVE, True),
    ],
)
def test_exception_seat_counts_as_at_risk_unless_raised_before_enrollment(
    exception_from: SeatStatus, at_risk: bool
) -> None:
    assert has_principal_at_risk(seat_in(SeatStatus.EXCEPTION, exception_from=exception_from)) is (
        at_risk
    )


def test_exception_seat_with_no_recorded_entry_counts_as_at_risk() -> None:
    assert has_principal_at_risk(Seat(SEAT_ID, OPERATOR_ID, SeatStatus.EXCEPTION, ()))


def test_actor_string_round_trips() -> None:
    actor = Actor(ActorKind.ADMIN, "alice:ops")
    assert str(actor) == "admin:alice:ops"
    assert Actor.parse(str(actor)) == actor


# --- properties over random transition sequences ---------------------------------------

attempts = st.tuples(
    st.sampled_from(list(SeatStatus)),
    st.sampled_from(list(ActorKind)),
    st.booleans(),
    st.booleans(),
)


def justified(src: str, dst: str, kind: str, has_evidence: bool, has_reason: bool) -> bool:
    """Independent statement of what each allowed move must carry."""
    if kind == "watcher" and not has_evidence:
        return False
    if kind == "admin" and not has_reason:
        return False
    return not (kind == "admin" and src == EXC and dst not in (EXC, R) and not has_evidence)


@given(st.lists(attempts, max_size=40))
def test_random_sequences_accept_only_table_moves_and_history_only_grows(
    steps: list[tuple[SeatStatus, ActorKind, bool, bool]],
) -> None:
    seat, _ = create_seat(SEAT_ID, OPERATOR_ID, actor=ACTORS[ActorKind.SEEDER], now=T0)
    for i, (dst, kind, has_evidence, has_reason) in enumerate(steps):
        before = seat
        before_history = tuple(seat.history)
        now = T0 + timedelta(seconds=i + 1)
        key = (str(seat.status), str(dst), str(kind))
        try:
            moved, event = transition(
                seat,
                dst,
                actor=ACTORS[kind],
                now=now,
                evidence=EVIDENCE if has_evidence else None,
                reason=REASON if has_reason else None,
            )
        except (InvalidTransition, ValidationFailed) as refused:
            assert key not in ALLOWED or not justified(*key, has_evidence, has_reason)
            expected = InvalidTransition if key not in ALLOWED else ValidationFailed
            assert type(refused) is expected
            assert seat == before and seat.history == before_history
            continue
        assert key in ALLOWED and justified(*key, has_evidence, has_reason)
        assert before.status != SeatStatus.REVOKED
        assert moved is not before
        assert before.history == before_history
        assert moved.history[:-1] == before_history
        assert len(moved.history) == len(before_history) + 1
        assert moved.history[-1] == event.transition
        assert event.transition.at == now
        assert moved.status is dst
        seat = moved


@given(st.lists(attempts, max_size=20))
def test_revoked_is_terminal_whatever_follows(
    steps: list[tuple[SeatStatus, ActorKind, bool, bool]],
) -> None:
    revoked = seat_in(SeatStatus.REVOKED)
    for dst, kind, has_evidence, has_reason in steps:
        with pytest.raises(InvalidTransition):
            transition(
                revoked,
                dst,
                actor=ACTORS[kind],
                now=T0,
                evidence=EVIDENCE if has_evidence else None,
                reason=REASON if has_reason else None,
            )
    assert revoked.status is SeatStatus.REVOKED
