"""Policies the deposit path must obey, as pure functions of their inputs.

- Reserve coverage (SPEC §6): the principal at risk plus a new deposit must stay within
  ``P10_RESERVE_COVERAGE_LIMIT_WEI``. At risk = every seat for which
  ``has_principal_at_risk`` holds (DEPOSITED, CL_VISIBLE, ACTIVE, and EXCEPTION unless
  entered from CREATED) plus deposits already signed or sent that the watcher has not
  recorded yet: a deposit in flight is 32 ETH gone as far as the reserve is concerned.
  Over-counting only delays a deposit; under-counting could exceed the reserve.
- Watcher freshness: a deposit is signed only when the deposit index is caught up to
  a recent block, since "no deposit was ever made for this pubkey" is only as true as
  the index is complete.
- Fees: the first transaction's EIP-1559 fees, and the fees of a replacement for a
  transaction that was not mined in time (same nonce, at least +10 % on both fee
  fields, as nodes require to accept a replacement), both bounded by a fee cap.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from seat_manager.domain.errors import Conflict
from seat_manager.domain.seats import Seat, has_principal_at_risk
from seat_manager.domain.types import GWEI, Wei

DEPOSIT_AMOUNT_WEI = Wei(32 * 10**18)
RESERVE_COVERAGE_LIMIT_EXCEEDED = "RESERVE_COVERAGE_LIMIT_EXCEEDED"
MIN_REPLACEMENT_BUMP_PERCENT = 10
"""geth and most nodes refuse a same-nonce replacement that raises either fee by less."""
REPLACEMENT_BUMP_PERCENT = 12
"""What we ask for: a little over the minimum, so integer rounding never falls short."""


class ReserveCoverageExceeded(Conflict):
    default_code = RESERVE_COVERAGE_LIMIT_EXCEEDED


def _eth(wei: int) -> str:
    whole, rest = divmod(wei, 10**18)
    return f"{whole}.{rest:018d}".rstrip("0").rstrip(".") + " ETH"


@dataclass(frozen=True)
class ReserveCoverage:
    """The figures of one reserve-coverage check."""

    seats_at_risk: int
    deposits_in_flight: int
    principal_at_risk_wei: int
    in_flight_wei: int
    deposit_wei: int
    limit_wei: int

    @property
    def total_after_wei(self) -> int:
        return self.principal_at_risk_wei + self.in_flight_wei + self.deposit_wei

    @property
    def within_limit(self) -> bool:
        return self.total_after_wei <= self.limit_wei

    def describe(self) -> str:
        return (
            f"principal at risk {self.principal_at_risk_wei} wei ({self.seats_at_risk} seat(s),"
            f" {_eth(self.principal_at_risk_wei)}) + deposits in flight {self.in_flight_wei}"
            f" wei ({self.deposits_in_flight}) + this deposit {self.deposit_wei} wei ="
            f" {self.total_after_wei} wei ({_eth(self.total_after_wei)}), limit"
            f" P10_RESERVE_COVERAGE_LIMIT_WEI={self.limit_wei} wei ({_eth(self.limit_wei)})"
        )

    def as_data(self) -> dict[str, object]:
        """Wei figures as decimal strings: JSON consumers lose precision above 2**53."""
        return {
            "seats_at_risk": self.seats_at_risk,
            "deposits_in_flight": self.deposits_in_flight,
            "principal_at_risk_wei": str(self.principal_at_risk_wei),
            "in_flight_wei": str(self.in_flight_wei),
            "deposit_wei": str(self.deposit_wei),
            "total_after_wei": str(self.total_after_wei),
            "limit_wei": str(self.limit_wei),
        }


def seats_with_principal_at_risk(seats: Iterable[Seat]) -> int:
    return sum(1 for seat in seats if has_principal_at_risk(seat))


def reserve_coverage(
    *,
    seats_at_risk: int,
    deposits_in_flight: int,
    limit_wei: int,
    deposit_wei: int = DEPOSIT_AMOUNT_WEI,
    per_seat_wei: int = DEPOSIT_AMOUNT_WEI,
) -> ReserveCoverage:
    if min(seats_at_risk, deposits_in_flight, limit_wei, deposit_wei, per_seat_wei) < 0:
        raise ValueError("reserve coverage figures must be non-negative")
    return ReserveCoverage(
        seats_at_risk=seats_at_risk,
        deposits_in_flight=deposits_in_flight,
        principal_at_risk_wei=seats_at_risk * per_seat_wei,
        in_flight_wei=deposits_in_flight * per_seat_wei,
        deposit_wei=deposit_wei,
        limit_wei=limit_wei,
    )


def require_reserve_coverage(coverage: ReserveCoverage) -> None:
    """Raise ``RESERVE_COVERAGE_LIMIT_EXCEEDED`` with every figure when over the limit."""
    if not coverage.within_limit:
        raise ReserveCoverageExceeded(
            "Reserve coverage limit exceeded: " + coverage.describe(), data=coverage.as_data()
        )


# ---- watcher freshness ---------------------------------------------------------------------


@dataclass(frozen=True)
class WatcherFreshness:
    last_scanned_block: int | None
    head_block: int
    confirmations: int
    max_lag_blocks: int

    @property
    def required_block(self) -> int:
        """The oldest scanned block we accept: head - confirmations - allowed lag."""
        return max(0, self.head_block - self.confirmations - self.max_lag_blocks)

    @property
    def caught_up(self) -> bool:
        scanned = self.last_scanned_block
        return scanned is not None and scanned >= self.required_block

    def describe(self) -> str:
        scanned = "never" if self.last_scanned_block is None else str(self.last_scanned_block)
        return (
            f"the deposit index is scanned to block {scanned}; chain head {self.head_block}"
            f" with {self.confirmations} confirmation(s) and a tolerance of"
            f" {self.max_lag_blocks} block(s) needs at least block {self.required_block}"
        )


# ---- fees ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fees:
    max_fee_per_gas: int
    max_priority_fee_per_gas: int

    def describe(self) -> str:
        return (
            f"maxFeePerGas={self.max_fee_per_gas / GWEI:g} gwei,"
            f" maxPriorityFeePerGas={self.max_priority_fee_per_gas / GWEI:g} gwei"
        )


class FeeCapTooLow(Exception):
    """The fees the network needs are above the configured cap: wait instead of signing."""


def initial_fees(*, base_fee: int, suggested_priority: int, cap: int) -> Fees:
    """2 x base fee + tip, as wallets do, bounded by the cap; refuse a cap under the base
    fee, since a transaction signed below it cannot be mined and only holds a nonce."""
    if cap <= base_fee:
        raise FeeCapTooLow(
            f"fee cap {cap / GWEI:g} gwei is not above the base fee {base_fee / GWEI:g} gwei"
        )
    max_fee = min(2 * base_fee + suggested_priority, cap)
    return Fees(max_fee, min(suggested_priority, max_fee - base_fee))


def _bump(value: int, percent: int) -> int:
    return -(-value * (100 + percent) // 100)


def replacement_fees(old: Fees, *, suggested: Fees, cap: int) -> Fees:
    """Fees for a same-nonce replacement: at least +10 % on both fields (12 % asked, or
    the network's current suggestion if higher), never above the cap."""
    need_fee = _bump(old.max_fee_per_gas, MIN_REPLACEMENT_BUMP_PERCENT)
    need_tip = _bump(old.max_priority_fee_per_gas, MIN_REPLACEMENT_BUMP_PERCENT)
    max_fee = min(
        max(_bump(old.max_fee_per_gas, REPLACEMENT_BUMP_PERCENT), suggested.max_fee_per_gas), cap
    )
    tip = max(
        _bump(old.max_priority_fee_per_gas, REPLACEMENT_BUMP_PERCENT),
        suggested.max_priority_fee_per_gas,
    )
    tip = min(tip, max_fee)
    if max_fee < need_fee or tip < need_tip:
        raise FeeCapTooLow(
            f"a replacement needs maxFeePerGas >= {need_fee / GWEI:g} gwei and"
            f" maxPriorityFeePerGas >= {need_tip / GWEI:g} gwei; the fee cap is {cap / GWEI:g} gwei"
        )
    return Fees(max_fee, tip)
