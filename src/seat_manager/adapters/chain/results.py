"""What an executor says about one attempt at an operation; the worker acts on it.

Succeeded  the effect is on chain (evidence: receipt or the chain read)
Failed     permanent: a revert, a guard that refused; code + message recorded
Retry      perhaps transient: requeue with backoff, counted against the attempts
Wait       not an error (a transaction in flight, the index catching up): requeue
           after `delay_s` without spending an attempt; never becomes a failure
Proposed   PROPOSE mode wrote a multisig proposal; the watcher marks success
Abandoned  the lease was lost mid-way: another worker owns it; touch nothing
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Succeeded:
    evidence: dict[str, Any]


@dataclass(frozen=True)
class Failed:
    code: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Retry:
    code: str
    message: str


@dataclass(frozen=True)
class Wait:
    code: str
    message: str
    delay_s: float


@dataclass(frozen=True)
class Proposed:
    proposal: dict[str, Any]


@dataclass(frozen=True)
class Abandoned:
    reason: str


ExecutionResult = Succeeded | Failed | Retry | Wait | Proposed | Abandoned
