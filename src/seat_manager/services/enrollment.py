"""Operator use case: enroll a validator on a seat (the reads are in `services.seat_views`).

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

Not-owned seats answer 404 like unknown ones (see `services.seat_views.owned_seat`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from eth_utils.address import is_checksum_address, is_hex_address
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from seat_manager.adapters.chain.signer import LocalSigner
from seat_manager.adapters.db import queue
from seat_manager.adapters.db.tables import OperationRow, SeatRow, UsedJwtIdRow
from seat_manager.adapters.db.uow import SqlUnitOfWork, UnitOfWorkFactory, constraint_of
from seat_manager.config import RuntimeConfig, Settings
from seat_manager.domain.chains import genesis_fork_version
from seat_manager.domain.deposits import DepositData, verify_deposit_data
from seat_manager.domain.errors import Conflict, SeatManagerError, ValidationFailed
from seat_manager.domain.operations import OperationKind
from seat_manager.domain.seats import Actor, ActorKind, SeatStatus, transition
from seat_manager.domain.types import Address
from seat_manager.domain.vaults import withdrawal_credentials
from seat_manager.services.operator_auth import (
    AUTH_CLAIM_MISSING,
    AUTH_TOKEN_REPLAYED,
    AuthenticationFailed,
    OperatorClaims,
)
from seat_manager.services.seat_views import SeatView, owned_seat, predicted_vault, seat_view

BENEFICIARY_ADDRESS_INVALID: Final = "BENEFICIARY_ADDRESS_INVALID"
PUBKEY_ALREADY_DEPOSITED: Final = "PUBKEY_ALREADY_DEPOSITED"
PUBKEY_ALREADY_ENROLLED: Final = "PUBKEY_ALREADY_ENROLLED"
DEFAULT_GRANT_LIFETIME: Final = timedelta(days=30)

log = logging.getLogger("seat_manager.enrollment")


@dataclass(frozen=True)
class EnrollmentRequest:
    beneficiary_address: str
    deposit_data: Mapping[str, object]


@dataclass(frozen=True)
class EnrollmentResult:
    seat: SeatView
    created: bool
    """False when the seat was already enrolled with exactly this request (idempotent)."""


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
            seat_id,
            claims.operator_id,
            exc.code,
            exc.message,
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
        row = await owned_seat(uow, seat_id, claims)
        beneficiary = checked_beneficiary(request.beneficiary_address)
        vault = predicted_vault(seat_id, runtime)
        deposit = verify_deposit_data(
            request.deposit_data,
            expected_withdrawal_credentials=withdrawal_credentials(vault),
            genesis_fork_version=fork_version,
        )
        entry = normalised_entry(deposit)
        if _same_enrollment(row, beneficiary, vault, entry):
            await _mark_jti_used(uow.session, jti, claims, now)
            await uow.commit()
            return EnrollmentResult(seat_view(row, runtime), created=False)

        actor = Actor(ActorKind.OPERATOR, claims.operator_id)
        seat = await uow.seats.load(seat_id)
        _, event = transition(
            seat,
            SeatStatus.ENROLLED,
            actor=actor,
            now=now,
            evidence={
                "jti": jti,
                "pubkey": entry["pubkey"],
                "deposit_data_root": entry["deposit_data_root"],
            },
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
            "seat.enrolled",
            actor=str(actor),
            now=now,
            subject_type="seat",
            subject_id=seat_id,
            data={
                "operator_id": claims.operator_id,
                "jti": jti,
                "pubkey": entry["pubkey"],
                "deposit_data_root": entry["deposit_data_root"],
                "vault_address": vault,
                "beneficiary_address": beneficiary,
                "operations": {op.kind: op.operation_id for op in operations},
            },
        )
        await uow.commit()
        return EnrollmentResult(seat_view(row, runtime), created=True)


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
        f"beneficiary_address {reason}",
        code=BENEFICIARY_ADDRESS_INVALID,
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
            code=AUTH_CLAIM_MISSING,
            data={"claim": "jti"},
        )
    return claims.jti


def _replayed() -> AuthenticationFailed:
    return AuthenticationFailed(
        "this token was already used for an enrollment call; ask the enrollment service for a"
        " new one (GET /v1/seats/{seat_id}/status shows the result of the earlier call)",
        code=AUTH_TOKEN_REPLAYED,
    )


def _same_enrollment(row: SeatRow, beneficiary: str, vault: str, entry: dict[str, Any]) -> bool:
    return (
        row.status == SeatStatus.ENROLLED
        and row.beneficiary_address == beneficiary
        and row.vault_address == vault
        and row.deposit_data == entry
    )


async def _refuse_known_pubkey(uow: SqlUnitOfWork, seat_id: str, pubkey: bytes) -> None:
    deposited = await uow.deposits.for_pubkeys([pubkey])
    shown = "0x" + pubkey.hex()
    if deposited:
        first = deposited[0]
        raise Conflict(
            f"validator pubkey {shown} was already deposited on chain (block"
            f" {first.block_number}, tx {first.tx_hash}); a validator key can be enrolled only"
            " before its first deposit: generate a new key",
            code=PUBKEY_ALREADY_DEPOSITED,
            data={"pubkey": shown, "block_number": first.block_number},
        )
    others = [s for s in await uow.seats.find_by_pubkeys([shown]) if s.seat_id != seat_id]
    if others:
        log.warning("pubkey %s already enrolled on seat %s", shown, others[0].seat_id)
        raise _pubkey_enrolled(shown)


def _pubkey_enrolled(pubkey: str) -> Conflict:
    # The other seat is not named: it may belong to another operator.
    return Conflict(
        f"validator pubkey {pubkey} is already enrolled on another seat",
        code=PUBKEY_ALREADY_ENROLLED,
        data={"pubkey": pubkey},
    )


async def _mark_jti_used(
    session: AsyncSession, jti: str, claims: OperatorClaims, now: datetime
) -> None:
    """Insert the jti now, so a concurrent call with the same token fails here (the primary
    key) rather than after it did its work."""
    session.add(
        UsedJwtIdRow(
            jti=jti,
            operator_id=claims.operator_id,
            expires_at=claims.accepted_until,
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
        (
            OperationKind.DEPLOY_VAULT,
            {
                "seat_id": seat_id,
                "vault_address": vault,
                "beneficiary_address": beneficiary,
                "principal_destination_address": runtime.principal_destination_address,
            },
        ),
        (
            OperationKind.DEPOSIT,
            {
                "seat_id": seat_id,
                "vault_address": vault,
                "pubkey": "0x" + deposit.pubkey.hex(),
                "withdrawal_credentials": "0x" + deposit.withdrawal_credentials.hex(),
                "signature": "0x" + deposit.signature.hex(),
                "deposit_data_root": "0x" + deposit.deposit_data_root.hex(),
                "amount_gwei": int(deposit.amount),
            },
        ),
    ]
    if settings.owner_private_key is not None:
        expires_at = settings.claim_executor_grant_expires_at_unix or int(
            (now + DEFAULT_GRANT_LIFETIME).timestamp()
        )
        payloads.append(
            (
                OperationKind.GRANT_CLAIM_EXECUTOR,
                {
                    "seat_id": seat_id,
                    "vault_address": vault,
                    "executor": LocalSigner(settings.owner_private_key).address,
                    "expires_at": expires_at,
                },
            )
        )
    rows = []
    for kind, payload in payloads:
        row, _ = await queue.enqueue(session, seat_id, kind, payload, now)
        rows.append(row)
    return rows
