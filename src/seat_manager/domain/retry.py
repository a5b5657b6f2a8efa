"""Retry decisions after a failed attempt: requeue with backoff, or fail (SPEC §7).

Backoff is "equal jitter": half the capped exponential delay is fixed and half is
scaled by a jitter value the caller draws, so the functions here stay pure and a fixed
jitter gives a delay that never decreases as attempts grow and never exceeds the cap.
Applying a decision to an operation is the state machine's job
(``operations.apply_error_decision``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from seat_manager.domain.seats import require_aware

if TYPE_CHECKING:
    from seat_manager.domain.operations import Operation

DEFAULT_BACKOFF_BASE = timedelta(seconds=5)
DEFAULT_BACKOFF_CAP = timedelta(minutes=10)
DEFAULT_MAX_ATTEMPTS = 8


def next_attempt_at(
    attempts: int,
    now: datetime,
    *,
    base: timedelta = DEFAULT_BACKOFF_BASE,
    cap: timedelta = DEFAULT_BACKOFF_CAP,
    jitter: float,
) -> datetime:
    """When to try again after ``attempts`` attempts: ``now`` + equal-jitter capped backoff.

    The delay is ``d/2 + d/2 * jitter`` with ``d = min(cap, base * 2**(attempts-1))``.
    """
    if attempts < 0:
        raise ValueError("attempts must be >= 0")
    if not (math.isfinite(jitter) and 0.0 <= jitter < 1.0):
        raise ValueError("jitter must be in [0, 1)")
    if base <= timedelta(0) or cap < base:
        raise ValueError("backoff needs 0 < base <= cap")
    one_us = timedelta(microseconds=1)
    base_us, cap_us = base // one_us, cap // one_us
    exponent = max(attempts, 1) - 1
    capped_us = cap_us if exponent >= cap_us.bit_length() else min(cap_us, base_us << exponent)
    half = capped_us / 2
    return require_aware(now) + timedelta(microseconds=int(half + half * jitter))


@dataclass(frozen=True)
class Requeue:
    at: datetime
    error_code: str
    error_message: str


@dataclass(frozen=True)
class Fail:
    error_code: str
    error_message: str


ErrorDecision = Requeue | Fail


def decide_after_error(
    op: Operation,
    *,
    retryable: bool,
    error_code: str,
    error_message: str,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    now: datetime,
    jitter: float,
    base: timedelta = DEFAULT_BACKOFF_BASE,
    cap: timedelta = DEFAULT_BACKOFF_CAP,
) -> ErrorDecision:
    """Requeue a retryable error with backoff; fail a permanent one or an exhausted budget."""
    if max_attempts < 1:
        raise ValueError("max_attempts must be >= 1")
    if not retryable:
        return Fail(error_code, error_message)
    if op.attempts >= max_attempts:
        return Fail(error_code, f"{error_message} (gave up after {op.attempts} attempts)")
    at = next_attempt_at(op.attempts, now, base=base, cap=cap, jitter=jitter)
    return Requeue(at, error_code, error_message)
