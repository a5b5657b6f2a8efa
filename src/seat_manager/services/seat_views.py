"""Operator use cases on the read side: read a seat, read its status.

Not-owned seats answer 404 like unknown ones, so an operator cannot learn which seat
ids exist by probing; the message names the caller's own operator id to help an
operator who used the wrong token. Enrollment (`services.enrollment`) uses the same
ownership check and the same seat view.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from seat_manager.adapters.db.tables import SeatRow
from seat_manager.adapters.db.uow import SqlUnitOfWork, UnitOfWorkFactory
from seat_manager.config import RuntimeConfig, Settings
from seat_manager.domain.errors import NotFound
from seat_manager.domain.types import Address
from seat_manager.domain.vaults import predict_vault_address, withdrawal_credentials
from seat_manager.services.operator_auth import OperatorClaims

SEAT_NOT_FOUND: Final = "SEAT_NOT_FOUND"


@dataclass(frozen=True)
class SeatView:
    seat_id: str
    operator_id: str
    status: str
    vault_address: Address
    withdrawal_credentials: str
    beneficiary_address: str | None
    validator_pubkey: str | None


@dataclass(frozen=True)
class OperationView:
    operation_id: str
    kind: str
    status: str
    error_code: str | None
    error_message: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class LifecycleEvent:
    from_status: str | None
    to_status: str
    actor: str
    at: datetime
    reason: str | None
    evidence: dict[str, Any]


@dataclass(frozen=True)
class SeatStatusView:
    seat_id: str
    status: str
    vault_address: Address
    operations: tuple[OperationView, ...]
    claim_signer_ready: bool
    lifecycle: tuple[LifecycleEvent, ...]


async def read_seat(
    uow_factory: UnitOfWorkFactory, settings: Settings, claims: OperatorClaims, seat_id: str
) -> SeatView:
    """The seat, its vault and the withdrawal credentials deposits must use."""
    runtime = settings.require_runtime()
    async with uow_factory() as uow:
        row = await owned_seat(uow, seat_id, claims)
        return seat_view(row, runtime)


async def read_seat_status(
    uow_factory: UnitOfWorkFactory, settings: Settings, claims: OperatorClaims, seat_id: str
) -> SeatStatusView:
    """The seat's status, its operations and the lifecycle evidence behind the status."""
    runtime = settings.require_runtime()
    async with uow_factory() as uow:
        row = await owned_seat(uow, seat_id, claims)
        operations = await uow.operations.list_for_seat(seat_id)
        events = await uow.seats.events(seat_id)
        return SeatStatusView(
            seat_id=row.seat_id,
            status=row.status,
            vault_address=_vault_of(row, runtime),
            operations=tuple(
                OperationView(
                    op.operation_id,
                    op.kind,
                    op.status,
                    op.error_code,
                    op.error_message,
                    op.created_at,
                    op.updated_at,
                )
                for op in operations
            ),
            claim_signer_ready=claim_signer_ready(settings),
            lifecycle=tuple(
                LifecycleEvent(
                    e.from_status, e.to_status, e.actor, e.created_at, e.reason, dict(e.evidence)
                )
                for e in events
            ),
        )


def claim_signer_ready(settings: Settings) -> bool:
    """Whether sponsored claims can be signed here: an owner key, and OWNER_SEND mode.

    Whether each vault has granted that signer is an on-chain question answered later.
    """
    return settings.owner_private_key is not None and settings.operation_mode == "OWNER_SEND"


# ---- shared with enrollment ---------------------------------------------------------------


async def owned_seat(uow: SqlUnitOfWork, seat_id: str, claims: OperatorClaims) -> SeatRow:
    """The caller's seat, or 404 SEAT_NOT_FOUND (same answer for unknown and not-owned)."""
    row = await uow.seats.get(seat_id)
    if row is None or row.operator_id != claims.operator_id:
        raise NotFound(
            f"seat {seat_id} not found for operator {claims.operator_id}",
            code=SEAT_NOT_FOUND,
            data={"seat_id": seat_id},
        )
    return row


def predicted_vault(seat_id: str, runtime: RuntimeConfig) -> Address:
    return predict_vault_address(
        runtime.vault_factory_address, seat_id, runtime.vault_init_code_hash
    )


def seat_view(row: SeatRow, runtime: RuntimeConfig) -> SeatView:
    vault = _vault_of(row, runtime)
    return SeatView(
        seat_id=row.seat_id,
        operator_id=row.operator_id,
        status=row.status,
        vault_address=vault,
        withdrawal_credentials="0x" + withdrawal_credentials(vault).hex(),
        beneficiary_address=row.beneficiary_address,
        validator_pubkey=row.validator_pubkey,
    )


def _vault_of(row: SeatRow, runtime: RuntimeConfig) -> Address:
    """The vault recorded at enrollment (deposit data was checked against it), else predicted."""
    if row.vault_address is not None:
        return Address(row.vault_address)
    return predicted_vault(row.seat_id, runtime)
