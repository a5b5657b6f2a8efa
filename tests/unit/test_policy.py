"""Reserve coverage, watcher freshness and fee policies (domain/policy.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seat_manager.domain.policy import (
    DEPOSIT_AMOUNT_WEI,
    RESERVE_COVERAGE_LIMIT_EXCEEDED,
    FeeCapTooLow,
    Fees,
    ReserveCoverageExceeded,
    WatcherFreshness,
    initial_fees,
    replacement_fees,
    require_reserve_coverage,
    reserve_coverage,
    seats_with_principal_at_risk,
)
from seat_manager.domain.seats import Actor, ActorKind, Seat, SeatStatus, create_seat, transition
from seat_manager.domain.types import GWEI, OperatorId, SeatId

ETH = 10**18
T0 = datetime(2026, 1, 1, tzinfo=UTC)
SEEDER = Actor(ActorKind.SEEDER, "test")
OPERATOR = Actor(ActorKind.OPERATOR, "op")
WATCHER = Actor(ActorKind.WATCHER, "el")
ADMIN = Actor(ActorKind.ADMIN, "alice")


def _seat_through(*path: SeatStatus) -> Seat:
    seat, _ = create_seat(SeatId("s"), OperatorId("op"), actor=SEEDER, now=T0)
    for step, status in enumerate(path, start=1):
        actor = {SeatStatus.ENROLLED: OPERATOR, SeatStatus.EXCEPTION: ADMIN}.get(status, WATCHER)
        seat, _ = transition(
            seat,
            status,
            actor=actor,
            now=T0 + timedelta(minutes=step),
            evidence={"block": step},
            reason="test" if actor is ADMIN else None,
        )
    return seat


def test_a_deposit_that_fits_exactly_under_the_limit_is_allowed() -> None:
    coverage = reserve_coverage(seats_at_risk=2, deposits_in_flight=1, limit_wei=128 * ETH)
    assert coverage.total_after_wei == 128 * ETH
    require_reserve_coverage(coverage)


def test_a_deposit_one_wei_over_the_limit_fails_with_the_code_and_every_figure() -> None:
    coverage = reserve_coverage(seats_at_risk=2, deposits_in_flight=1, limit_wei=128 * ETH - 1)
    with pytest.raises(ReserveCoverageExceeded) as info:
        require_reserve_coverage(coverage)
    error = info.value
    assert error.code == RESERVE_COVERAGE_LIMIT_EXCEEDED
    for figure in (64 * ETH, 32 * ETH, 128 * ETH, 128 * ETH - 1):
        assert str(figure) in error.message
    assert "2 seat(s)" in error.message
    assert error.data["limit_wei"] == str(128 * ETH - 1)
    assert error.data["total_after_wei"] == str(128 * ETH)


def test_deposits_in_flight_count_like_deposited_seats() -> None:
    signed_only = reserve_coverage(seats_at_risk=0, deposits_in_flight=3, limit_wei=100 * ETH)
    deposited = reserve_coverage(seats_at_risk=3, deposits_in_flight=0, limit_wei=100 * ETH)
    assert signed_only.total_after_wei == deposited.total_after_wei == 4 * DEPOSIT_AMOUNT_WEI
    assert not signed_only.within_limit and not deposited.within_limit


def test_a_zero_limit_refuses_even_the_first_deposit() -> None:
    assert not reserve_coverage(seats_at_risk=0, deposits_in_flight=0, limit_wei=0).within_limit


def test_negative_figures_are_a_programming_error() -> None:
    with pytest.raises(ValueError):
        reserve_coverage(seats_at_risk=-1, deposits_in_flight=0, limit_wei=0)


@given(
    st.integers(min_value=0, max_value=10_000),
    st.integers(min_value=0, max_value=100),
    st.integers(min_value=0, max_value=10**24),
)
def test_within_limit_is_exactly_total_at_most_limit(seats: int, flight: int, limit: int) -> None:
    coverage = reserve_coverage(seats_at_risk=seats, deposits_in_flight=flight, limit_wei=limit)
    assert coverage.within_limit == ((seats + flight + 1) * 32 * ETH <= limit)


@pytest.mark.parametrize(
    ("path", "at_risk"),
    [
        ((), False),
        ((SeatStatus.ENROLLED,), False),
        ((SeatStatus.ENROLLED, SeatStatus.DEPOSITED), True),
        ((SeatStatus.ENROLLED, SeatStatus.CL_VISIBLE), True),
        ((SeatStatus.ENROLLED, SeatStatus.ACTIVE), True),
        ((SeatStatus.ENROLLED, SeatStatus.ACTIVE, SeatStatus.EXITED), False),
        ((SeatStatus.EXCEPTION,), False),
        ((SeatStatus.ENROLLED, SeatStatus.EXCEPTION), True),
        ((SeatStatus.ENROLLED, SeatStatus.DEPOSITED, SeatStatus.EXCEPTION), True),
    ],
)
def test_seats_at_risk_follow_the_lifecycle_including_exception_after_enrollment(
    path: tuple[SeatStatus, ...], at_risk: bool
) -> None:
    assert seats_with_principal_at_risk([_seat_through(*path)]) == int(at_risk)


# ---- watcher freshness ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scanned", "caught_up"),
    [(None, False), (79, False), (80, True), (88, True), (100, True)],
)
def test_the_index_must_reach_head_minus_confirmations_minus_the_tolerance(
    scanned: int | None, caught_up: bool
) -> None:
    freshness = WatcherFreshness(scanned, head_block=100, confirmations=12, max_lag_blocks=8)
    assert freshness.required_block == 80
    assert freshness.caught_up is caught_up
    assert "at least block 80" in freshness.describe()


def test_a_young_chain_needs_only_block_zero() -> None:
    assert WatcherFreshness(0, head_block=3, confirmations=12, max_lag_blocks=8).caught_up


# ---- fees ----------------------------------------------------------------------------------


def test_initial_fees_are_twice_the_base_fee_plus_the_tip_below_the_cap() -> None:
    fees = initial_fees(base_fee=10 * GWEI, suggested_priority=2 * GWEI, cap=100 * GWEI)
    assert fees == Fees(22 * GWEI, 2 * GWEI)


def test_initial_fees_are_cut_to_the_cap_and_keep_the_tip_within_it() -> None:
    fees = initial_fees(base_fee=40 * GWEI, suggested_priority=5 * GWEI, cap=42 * GWEI)
    assert fees == Fees(42 * GWEI, 2 * GWEI)


def test_a_cap_at_or_below_the_base_fee_refuses_to_sign() -> None:
    with pytest.raises(FeeCapTooLow):
        initial_fees(base_fee=50 * GWEI, suggested_priority=1, cap=50 * GWEI)


@given(
    st.integers(min_value=1, max_value=10**12),
    st.integers(min_value=0, max_value=10**12),
    st.integers(min_value=0, max_value=10**13),
)
def test_a_replacement_raises_both_fees_by_at_least_ten_percent(
    max_fee: int, tip: int, suggested: int
) -> None:
    tip = min(tip, max_fee)
    old = Fees(max_fee, tip)
    new = replacement_fees(old, suggested=Fees(suggested, suggested // 10), cap=10**14)
    assert new.max_fee_per_gas * 100 >= max_fee * 110
    assert new.max_priority_fee_per_gas * 100 >= tip * 110
    assert new.max_priority_fee_per_gas <= new.max_fee_per_gas <= 10**14


def test_a_replacement_follows_a_higher_network_suggestion() -> None:
    old = Fees(20 * GWEI, 1 * GWEI)
    new = replacement_fees(old, suggested=Fees(60 * GWEI, 3 * GWEI), cap=100 * GWEI)
    assert new == Fees(60 * GWEI, 3 * GWEI)


def test_a_replacement_is_clipped_to_the_cap_when_that_is_still_a_ten_percent_bump() -> None:
    old = Fees(100 * GWEI, 2 * GWEI)
    new = replacement_fees(old, suggested=Fees(300 * GWEI, 2 * GWEI), cap=111 * GWEI)
    assert new.max_fee_per_gas == 111 * GWEI


def test_a_replacement_that_would_need_more_than_the_cap_is_refused() -> None:
    with pytest.raises(FeeCapTooLow, match="fee cap is 105 gwei"):
        replacement_fees(Fees(100 * GWEI, 2 * GWEI), suggested=Fees(0, 0), cap=105 * GWEI)
