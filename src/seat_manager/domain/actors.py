"""Who takes a decision: the actor kinds and the ``kind:id`` actor (SPEC §5, §7).

The seat and operation state machines both say which actor kinds may take which move;
the actor is recorded on every history entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ActorKind(StrEnum):
    SYSTEM = "system"
    SEEDER = "seeder"
    OPERATOR = "operator"
    WATCHER = "watcher"
    ADMIN = "admin"


@dataclass(frozen=True)
class Actor:
    """Who made a decision: a kind and an id (operator id, admin username, watcher name)."""

    kind: ActorKind
    id: str

    def __post_init__(self) -> None:
        if not self.id.strip():
            raise ValueError("actor id must be non-empty")

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"

    @classmethod
    def parse(cls, value: str) -> Actor:
        """Inverse of ``str(actor)``, for reading history back from the store."""
        kind, sep, actor_id = value.partition(":")
        if not sep:
            raise ValueError(f"not an actor string: {value!r}")
        return cls(ActorKind(kind), actor_id)
