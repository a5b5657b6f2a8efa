"""Bodies of the operator API (SPEC §8), as Pydantic models so OpenAPI documents them.

Request models check shape and types only. The meaning of the values (hex lengths,
BLS points, roots, signature, checksum) is checked by the services, which answer with
specific codes (DEPOSIT_*, BENEFICIARY_ADDRESS_INVALID) rather than a generic
validation error; string lengths are bounded here only to keep input small.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from seat_manager.services.seat_views import SeatStatusView, SeatView

_HexText = StrictStr


def _hex(description: str) -> Any:
    return Field(max_length=256, description=description)


class DepositDataIn(BaseModel):
    """One entry of a `deposit_data-*.json` as the staking deposit CLI writes it.

    Other fields the CLI writes (such as `deposit_cli_version`) are accepted and ignored.
    """

    model_config = ConfigDict(extra="ignore")

    pubkey: _HexText = _hex("48-byte BLS public key, hex (0x optional)")
    withdrawal_credentials: _HexText = _hex("must equal the seat's withdrawal_credentials")
    amount: StrictInt = Field(description="gwei; 32000000000")
    signature: _HexText = _hex("96-byte BLS signature over the deposit message")
    deposit_message_root: _HexText = _hex("SSZ root of the deposit message")
    deposit_data_root: _HexText = _hex("SSZ root of the deposit data")
    fork_version: _HexText = _hex("genesis fork version of the chain, 4 bytes")
    network_name: StrictStr | None = Field(default=None, max_length=64)


class EnrollmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    beneficiary_address: StrictStr = Field(
        max_length=64, description="EIP-55 checksummed address that receives the rewards"
    )
    deposit_data: DepositDataIn


class SeatOut(BaseModel):
    ok: Literal[True] = True
    seat_id: str
    operator_id: str
    status: str
    vault_address: str = Field(description="checksummed CREATE2 address of the seat's vault")
    withdrawal_credentials: str = Field(description="0x01 ‖ 11 zero bytes ‖ vault, 0x-hex")
    beneficiary_address: str | None
    validator_pubkey: str | None

    @classmethod
    def of(cls, view: SeatView) -> SeatOut:
        return cls(
            seat_id=view.seat_id,
            operator_id=view.operator_id,
            status=view.status,
            vault_address=view.vault_address,
            withdrawal_credentials=view.withdrawal_credentials,
            beneficiary_address=view.beneficiary_address,
            validator_pubkey=view.validator_pubkey,
        )


class OperationOut(BaseModel):
    operation_id: str
    kind: str
    status: str
    error_code: str | None
    error_message: str | None
    created_at: datetime
    updated_at: datetime


class LifecycleEventOut(BaseModel):
    """One seat transition and what it rests on (who, which jti/block/log/slot)."""

    from_status: str | None = Field(serialization_alias="from")
    to_status: str = Field(serialization_alias="to")
    actor: str
    at: datetime
    reason: str | None
    evidence: dict[str, Any]


class SeatStatusOut(BaseModel):
    ok: Literal[True] = True
    seat_id: str
    status: str
    vault_address: str
    operations: list[OperationOut]
    claim_signer_ready: bool
    lifecycle: list[LifecycleEventOut]

    @classmethod
    def of(cls, view: SeatStatusView) -> SeatStatusOut:
        return cls(
            seat_id=view.seat_id,
            status=view.status,
            vault_address=view.vault_address,
            operations=[OperationOut(**vars(op)) for op in view.operations],
            claim_signer_ready=view.claim_signer_ready,
            lifecycle=[LifecycleEventOut(**vars(event)) for event in view.lifecycle],
        )


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorOut(BaseModel):
    """Every refusal: `{"ok": false, "error": {"code", "message"}}`."""

    ok: Literal[False] = False
    error: ErrorDetail
