"""Operator use cases: read a seat, enroll a validator on it, read its status.

Enrollment is the step after which the back end spends 32 ETH without a person
touching a key, so everything that can be checked is checked before anything is
written, and everything that is written is written in one transaction:

    token's jti not used before            401 AUTH_TOKEN_REPLAYED
    seat exists and belongs to `sub`       404 SEAT_NOT_FOUND (same answer for both)
    beneficiary address                    400 BENEFICIARY_ADDRESS_INVALID
    deposit data, in full                  422 DEPOSIT_* (the chain layer's codes)
    seat is CREATED                        409 INVALID_TRANSITION (idempotent 200 when the
                                               seat is ENROLLED with exactly this request)
    pubkey never deposited on chain        409 PUBKEY_ALREADY_DEPOSITED
    pubkey not enrolled on another seat    409 PUBKEY_ALREADY_ENROLLED

then, atomically: jti marked used, CREATED → ENROLLED with its evidence, the seat's
enrollment fields, the DEPLOY_VAULT / DEPOSIT (/ GRANT_CLAIM_EXECUTOR) operations and
the `seat.enrolled` audit event. A refusal writes nothing at all (not even an audit
event: unauthenticated or repeated refusals must not grow an append-only table); it is
logged instead. The database has the last word under races: the jti primary key, the
seat status guard of `save_transition` and `uniq_seats_validator_pubkey` turn a lost
race into the same error a sequential retry would get.

Not-owned seats answer 404 like unknown ones, so an operator cannot learn which seat
ids exist by probing; the message names the caller's own operator id to help an
operator who used the wrong token.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from eth_utils.address import is_checksum_address, is_hex_address
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from seat_manager.adapters.chain.signer import LocalSigner
from seat_manager.adapters.db import queue
from seat_manager.adapters.db.tables import ElDepositRow, OperationRow, SeatRow, UsedJwtIdRow
from seat_manager.adapters.db.uow import SqlUnitOfWork, UnitOfWorkFactory, constraint_of
from seat_manager.config import RuntimeConfig, Settings
from seat_manager.domain.chains import genesis_fork_version
from seat_manager.domain.deposits import DepositData, verify_deposit_data
from seat_manager.domain.errors import Conflict, NotFound, SeatManagerError, ValidationFailed
from seat_manager.domain.operations import OperationKind
from seat_manager.domain.seats import Actor, ActorKind, SeatStatus, transition
from seat_manager.domain.types import Address
from seat_manager.domain.vaults import predict_vault_address, withdrawal_credentials
from seat_manager.services.operator_auth import (
    AUTH_CLAIM_MISSING,
    AUTH_TOKEN_REPLAYED,
    AuthenticationFailed,
    OperatorClaims,
)

SEAT_NOT_FOUND: Final = "SEAT_NOT_FOUND"
BENEFICIARY_ADDRESS_INVALID: Final = "BENEFICIARY_ADDRESS_INVALID"
PUBKEY_ALREADY_DEPOSITED: Final = "PUBKEY_ALREADY_DEPOSITED"
PUBKEY_ALREADY_ENROLLED: Final = "PUBKEY_ALREADY_ENROLLED"
DEFAULT_GRANT_LIFETIME: Final = timedelta(days=30)

log = logging.getLogger("seat_manager.enrollment")


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


@dataclass(frozen=True)
class EnrollmentRequest:
    beneficiary_address: str
    deposit_data: Mapping[str, object]


@dataclass(frozen=True)
class EnrollmentResult:
    seat: SeatView
    created: bool
    """False when the seat was already enrolled with exactly this request (idempotent)."""


# ---- reads --------------------------------------------------------------------------------


async def read_seat(
    uow_factory: UnitOfWorkFactory, settings: Settings, claims: OperatorClaims, seat_id: str
) -> SeatView:
    """The seat, its vault and the withdrawal credentials deposits must use."""
    runtime = settings.require_runtime()
    async with uow_factory() as uow:
        row = await _owned_seat(uow, seat_id, claims)
        return _view(row, runtime)


async def read_seat_status(
    uow_factory: UnitOfWorkFactory, settings: Settings, claims: OperatorClaims, seat_id: str
) -> SeatStatusView:
    """The seat's status, its operations and the lifecycle evidence behind the status."""
    runtime = settings.require_runtime()
    async with uow_factory() as uow:
        row = await _owned_seat(uow, seat_id, claims)
        operations = await _operations_of(uow.session, seat_id)
        events = await uow.seats.events(seat_id)
        return SeatStatusView(
            seat_id=row.seat_id,
            status=row.status,
            vault_address=_vault_of(row, runtime),
            operations=tuple(
                OperationView(
                    op.operation_id, op.kind, op.status, op.error_code, op.error_message,
                    op.created_at, op.updated_at,
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


# ---- enrollment ---------------------------------------------------------------------------


async def enroll(
    uow_factory: UnitOfWorkFactory,
    settings: Settings,
    claims: OperatorClaims,
    seat_id: str,
    request: EnrollmentRequest,
    now: datetime,
) -> EnrollmentResult:
    """Enroll a validator on the caller's seat, or refuse with nothing written."""
    try:
        return await _enroll(uow_factory, settings, claims, seat_id, request, now)
    except SeatManagerError as exc:
        log.warning(
            "enrollment refused seat=%s operator=%s code=%s: %s",
            seat_id, claims.operator_id, exc.code, exc.message,
        )
        raise


async def _enroll(
    uow_factory: UnitOfWorkFactory,
    settings: Settings,
    claims: OperatorClaims,
    seat_id: str,
    request: EnrollmentRequest,
    now: datetime,
) -> EnrollmentResult:
    runtime = settings.require_runtime()
    fork_version = genesis_fork_version(runtime.chain_id, settings.genesis_fork_version)
    jti = _required_jti(claims)
    async with uow_factory() as uow:
        if await uow.session.get(UsedJwtIdRow, jti) is not None:
            raise _replayed()
        row = await _owned_seat(uow, seat_id, claims)
        beneficiary = checked_beneficiary(request.beneficiary_address)
        vault = _predicted_vault(seat_id, runtime)
        deposit = verify_deposit_data(
            request.deposit_data,
            expected_withdrawal_credentials=withdrawal_credentials(vault),
            genesis_fork_version=fork_version,
        )
        entry = normalised_entry(deposit)
        if _same_enrollment(row, beneficiary, vault, entry):
            await _mark_jti_used(uow.session, jti, claims, now)
            await uow.commit()
            return EnrollmentResult(_view(row, runtime), created=False)

        actor = Actor(ActorKind.OPERATOR, claims.operator_id)
        seat = await uow.seats.load(seat_id)
        _, event = transition(
            seat, SeatStatus.ENROLLED, actor=actor, now=now,
            evidence={"jti": jti, "pubkey": entry["pubkey"],
                      "deposit_data_root": entry["deposit_data_root"]},
        )
        await _refuse_known_pubkey(uow, seat_id, deposit.pubkey)

        await _mark_jti_used(uow.session, jti, claims, now)
        await uow.seats.save_transition(event)
        row.beneficiary_address = beneficiary
        row.validator_pubkey = entry["pubkey"]
        row.vault_address = vault
        row.deposit_data = entry
        await _flush_enrollment(uow, entry["pubkey"])
        operations = await _queue_operations(
            uow.session, settings, runtime, seat_id, vault, beneficiary, deposit, now
        )
        uow.audit.record(
            "seat.enrolled", actor=str(actor), now=now, subject_type="seat", subject_id=seat_id,
            data={
                "operator_id": claims.operator_id, "jti": jti, "pubkey": entry["pubkey"],
                "deposit_data_root": entry["deposit_data_root"], "vault_address": vault,
                "beneficiary_address": beneficiary,
                "operations": {op.kind: op.operation_id for op in operations},
            },
        )
        await uow.commit()
        return EnrollmentResult(_view(row, runtime), created=True)


def checked_beneficiary(value: str) -> Address:
    """An EIP-55 checksummed, non-zero address, or 400 BENEFICIARY_ADDRESS_INVALID.

    The checksum is required, not merely checked when present: rewards go to this
    address, and an all-lower-case address carries no protection against a typo.
    """
    if not is_hex_address(value) or not value.startswith("0x"):
        reason = "must be a 0x-prefixed 20-byte hex address"
    elif not is_checksum_address(value):
        reason = "must be EIP-55 checksummed (mixed case), so that a mistyped address is caught"
    elif int(value, 16) == 0:
        reason = "must not be the zero address"
    else:
        return Address(value)
    raise ValidationFailed(
        f"beneficiary_address {reason}", code=BENEFICIARY_ADDRESS_INVALID,
        data={"field": "beneficiary_address"},
    )


def normalised_entry(deposit: DepositData) -> dict[str, Any]:
    """The deposit entry as stored and compared: 0x-prefixed lower-case hex, amount in gwei."""
    return {
        "pubkey": "0x" + deposit.pubkey.hex(),
        "withdrawal_credentials": "0x" + deposit.withdrawal_credentials.hex(),
        "amount": int(deposit.amount),
        "signature": "0x" + deposit.signature.hex(),
        "deposit_message_root": "0x" + deposit.deposit_message_root.hex(),
        "deposit_data_root": "0x" + deposit.deposit_data_root.hex(),
        "fork_version": "0x" + deposit.fork_version.hex(),
        "network_name": deposit.network_name,
    }


# ---- helpers ------------------------------------------------------------------------------


def _required_jti(claims: OperatorClaims) -> str:
    if claims.jti is None:
        raise AuthenticationFailed(
            "an enrollment token must carry a 'jti' claim (it is used once)",
            code=AUTH_CLAIM_MISSING, data={"claim": "jti"},
        )
    return claims.jti


def _replayed() -> AuthenticationFailed:
    return AuthenticationFailed(
        "this token was already used for an enrollment call; ask the enrollment service for a"
        " new one (GET /v1/seats/{seat_id}/status shows the result of the earlier call)",
        code=AUTH_TOKEN_REPLAYED,
    )


async def _owned_seat(uow: SqlUnitOfWork, seat_id: str, claims: OperatorClaims) -> SeatRow:
    row = await uow.seats.get(seat_id)
    if row is None or row.operator_id != claims.operator_id:
        raise NotFound(
            f"seat {seat_id} not found for operator {claims.operator_id}",
            code=SEAT_NOT_FOUND, data={"seat_id": seat_id},
        )
    return row


def _predicted_vault(seat_id: str, runtime: RuntimeConfig) -> Address:
    return predict_vault_address(
        runtime.vault_factory_address, seat_id, runtime.vault_init_code_hash
    )


def _vault_of(row: SeatRow, runtime: RuntimeConfig) -> Address:
    """The vault recorded at enrollment (deposit data was checked against it), else predicted."""
    if row.vault_address is not None:
        return Address(row.vault_address)
    return _predicted_vault(row.seat_id, runtime)


def _view(row: SeatRow, runtime: RuntimeConfig) -> SeatView:
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


def _same_enrollment(row: SeatRow, beneficiary: str, vault: str, entry: dict[str, Any]) -> bool:
    return (
        row.status == SeatStatus.ENROLLED
        and row.beneficiary_address == beneficiary
        and row.vault_address == vault
        and row.deposit_data == entry
    )


async def _refuse_known_pubkey(uow: SqlUnitOfWork, seat_id: str, pubkey: bytes) -> None:
    deposited = await uow.session.execute(
        select(ElDepositRow.block_number, ElDepositRow.tx_hash)
        .where(ElDepositRow.pubkey == pubkey)
        .order_by(ElDepositRow.block_number)
        .limit(1)
    )
    first = deposited.first()
    shown = "0x" + pubkey.hex()
    if first is not None:
        raise Conflict(
            f"validator pubkey {shown} was already deposited on chain (block {first[0]},"
            f" tx 0x{first[1].hex()}); a validator key can be enrolled only before its first"
            " deposit: generate a new key",
            code=PUBKEY_ALREADY_DEPOSITED,
            data={"pubkey": shown, "block_number": first[0]},
        )
    others = [s for s in await uow.seats.find_by_pubkeys([shown]) if s.seat_id != seat_id]
    if others:
        log.warning("pubkey %s already enrolled on seat %s", shown, others[0].seat_id)
        raise _pubkey_enrolled(shown)


def _pubkey_enrolled(pubkey: str) -> Conflict:
    # The other seat is not named: it may belong to another operator.
    return Conflict(
        f"validator pubkey {pubkey} is already enrolled on another seat",
        code=PUBKEY_ALREADY_ENROLLED, data={"pubkey": pubkey},
    )


async def _mark_jti_used(
    session: AsyncSession, jti: str, claims: OperatorClaims, now: datetime
) -> None:
    """Insert the jti now, so a concurrent call with the same token fails here (the primary
    key) rather than after it did its work."""
    session.add(
        UsedJwtIdRow(
            jti=jti, operator_id=claims.operator_id, expires_at=claims.accepted_until,
            used_at=now,
        )
    )
    try:
        await session.flush()
    except IntegrityError:
        raise _replayed() from None


async def _flush_enrollment(uow: SqlUnitOfWork, pubkey: str) -> None:
    """The pubkey's unique index decides a race between two seats enrolling one key."""
    try:
        await uow.flush()
    except IntegrityError as exc:
        if constraint_of(exc) == "uniq_seats_validator_pubkey":
            raise _pubkey_enrolled(pubkey) from None
        raise Conflict("the store refused the enrollment: " + constraint_of(exc)) from exc


async def _queue_operations(
    session: AsyncSession,
    settings: Settings,
    runtime: RuntimeConfig,
    seat_id: str,
    vault: Address,
    beneficiary: Address,
    deposit: DepositData,
    now: datetime,
) -> list[OperationRow]:
    """The on-chain work enrollment starts; payloads are what the worker executes."""
    payloads: list[tuple[OperationKind, dict[str, Any]]] = [
        (OperationKind.DEPLOY_VAULT, {
            "seat_id": seat_id,
            "vault_address": vault,
            "beneficiary_address": beneficiary,
            "principal_destination_address": runtime.principal_destination_address,
        }),
        (OperationKind.DEPOSIT, {
            "seat_id": seat_id,
            "vault_address": vault,
            "pubkey": "0x" + deposit.pubkey.hex(),
            "withdrawal_credentials": "0x" + deposit.withdrawal_credentials.hex(),
            "signature": "0x" + deposit.signature.hex(),
            "deposit_data_root": "0x" + deposit.deposit_data_root.hex(),
            "amount_gwei": int(deposit.amount),
        }),
    ]
    if settings.owner_private_key is not None:
        expires_at = settings.claim_executor_grant_expires_at_unix or int(
            (now + DEFAULT_GRANT_LIFETIME).timestamp()
        )
        payloads.append((OperationKind.GRANT_CLAIM_EXECUTOR, {
            "seat_id": seat_id,
            "vault_address": vault,
            "executor": LocalSigner(settings.owner_private_key).address,
            "expires_at": expires_at,
        }))
    rows = []
    for kind, payload in payloads:
        row, _ = await queue.enqueue(session, seat_id, kind, payload, now)
        rows.append(row)
    return rows


_KIND_ORDER = {kind.value: index for index, kind in enumerate(OperationKind)}


async def _operations_of(session: AsyncSession, seat_id: str) -> list[OperationRow]:
    """Oldest first; operations queued together appear in execution order."""
    result = await session.execute(select(OperationRow).where(OperationRow.seat_id == seat_id))
    return sorted(
        result.scalars(),
        key=lambda op: (op.created_at, _KIND_ORDER.get(op.kind, len(_KIND_ORDER)), op.operation_id),
    )
