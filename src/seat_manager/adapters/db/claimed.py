"""The snapshot of an operation its worker claimed: what executors are given."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from seat_manager.adapters.db.tables import OperationRow
from seat_manager.domain.operations import Operation, OperationKind, OperationStatus
from seat_manager.domain.types import OperationId, SeatId


@dataclass(frozen=True)
class ClaimedOperation:
    """A snapshot of an operation as its worker claimed it (the lease is `lease_owner`)."""

    operation_id: OperationId
    seat_id: SeatId
    kind: OperationKind
    attempts: int
    available_at: datetime
    lease_owner: str
    lease_expires_at: datetime
    payload: dict[str, Any]
    tx_nonce: int | None
    tx_hash: str | None
    signed_tx: str | None
    error_code: str | None
    error_message: str | None

    @property
    def has_transaction(self) -> bool:
        """A signed transaction exists: its nonce must be seen through to a mined tx."""
        return self.tx_hash is not None

    def to_domain(self) -> Operation:
        return Operation(
            self.operation_id,
            self.seat_id,
            self.kind,
            OperationStatus.PROCESSING,
            attempts=self.attempts,
            available_at=self.available_at,
            error_code=self.error_code,
            error_message=self.error_message,
        )


CLAIMED_COLUMNS = (
    OperationRow.operation_id,
    OperationRow.seat_id,
    OperationRow.kind,
    OperationRow.attempts,
    OperationRow.available_at,
    OperationRow.lease_owner,
    OperationRow.lease_expires_at,
    OperationRow.payload,
    OperationRow.tx_nonce,
    OperationRow.tx_hash,
    OperationRow.signed_tx,
    OperationRow.error_code,
    OperationRow.error_message,
)


def claimed_from_row(row: Any) -> ClaimedOperation:
    return ClaimedOperation(
        operation_id=OperationId(row.operation_id),
        seat_id=SeatId(row.seat_id),
        kind=OperationKind(row.kind),
        attempts=row.attempts,
        available_at=row.available_at,
        lease_owner=row.lease_owner,
        lease_expires_at=row.lease_expires_at,
        payload=dict(row.payload or {}),
        tx_nonce=row.tx_nonce,
        tx_hash=row.tx_hash,
        signed_tx=row.signed_tx,
        error_code=row.error_code,
        error_message=row.error_message,
    )
