"""The call each operation kind makes, built from its payload and checked against config.

Payloads are written by enrollment (and the claim/grant services); the vault address is
re-derived here from the factory, the seat id and the init-code hash, and a payload
that names another vault is refused: a transaction must never go to an address a
stored row merely claims is ours. A DEPOSIT's call data is completed later with the
deposit root the guards read.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Protocol

from eth_utils.address import is_address, to_checksum_address

from seat_manager.adapters.chain import contracts
from seat_manager.adapters.db.queue import ClaimedOperation
from seat_manager.domain.errors import SeatManagerError
from seat_manager.domain.operations import OperationKind
from seat_manager.domain.policy import DEPOSIT_AMOUNT_WEI
from seat_manager.domain.types import Address
from seat_manager.domain.vaults import predict_vault_address

PAYLOAD_INVALID = "OPERATION_PAYLOAD_INVALID"


class PayloadInvalid(SeatManagerError):
    default_code = PAYLOAD_INVALID


class PlanConfig(Protocol):
    @property
    def vault_factory(self) -> str: ...
    @property
    def vault_init_code_hash(self) -> str: ...
    @property
    def principal_destination(self) -> str: ...


@dataclass(frozen=True)
class Plan:
    kind: OperationKind
    label: str
    seat_id: str
    vault: Address
    to: str
    value: int
    data: bytes
    pubkey: bytes = b""
    signature: bytes = b""
    deposit_data_root: bytes = b""
    executor: str | None = None
    expires_at: int | None = None

    def with_deposit_root(self, root: bytes) -> Plan:
        return replace(
            self,
            data=contracts.deposit_calldata(
                self.seat_id, self.pubkey, self.signature, self.deposit_data_root, root
            ),
        )


def _text(payload: dict[str, Any], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value:
        raise PayloadInvalid(f"payload field {name!r} is missing or not a string")
    return value


def _address(payload: dict[str, Any], name: str, default: str | None = None) -> str:
    value = payload.get(name, default)
    if not isinstance(value, str) or not is_address(value):
        raise PayloadInvalid(f"payload field {name!r} is not an address")
    return str(to_checksum_address(value))


def _hex(payload: dict[str, Any], name: str, length: int) -> bytes:
    value = _text(payload, name)
    try:
        raw = bytes.fromhex(value.removeprefix("0x"))
    except ValueError:
        raise PayloadInvalid(f"payload field {name!r} is not hex") from None
    if len(raw) != length:
        raise PayloadInvalid(f"payload field {name!r} must be {length} bytes, got {len(raw)}")
    return raw


def build_plan(op: ClaimedOperation, config: PlanConfig) -> Plan:
    payload = op.payload
    vault = predict_vault_address(config.vault_factory, op.seat_id, config.vault_init_code_hash)
    claimed = payload.get("vault_address")
    if claimed is not None and (not isinstance(claimed, str) or claimed.lower() != vault.lower()):
        raise PayloadInvalid(
            f"payload vault_address {claimed} is not the seat's vault {vault}",
            code="VAULT_ADDRESS_MISMATCH",
        )
    label = f"{op.kind} {op.operation_id} (seat {op.seat_id})"
    base = Plan(op.kind, label, op.seat_id, vault, vault, 0, b"")
    if op.kind is OperationKind.DEPLOY_VAULT:
        data = contracts.deploy_vault_calldata(
            op.seat_id,
            _address(payload, "beneficiary_address"),
            _address(payload, "principal_destination_address", config.principal_destination),
        )
        return replace(base, to=config.vault_factory, data=data)
    if op.kind is OperationKind.DEPOSIT:
        amount = payload.get("amount_gwei", DEPOSIT_AMOUNT_WEI // 10**9)
        if amount * 10**9 != DEPOSIT_AMOUNT_WEI:
            raise PayloadInvalid(f"a deposit is exactly 32 ETH, the payload says {amount} gwei")
        return replace(
            base,
            to=config.vault_factory,
            value=DEPOSIT_AMOUNT_WEI,
            pubkey=_hex(payload, "pubkey", 48),
            signature=_hex(payload, "signature", 96),
            deposit_data_root=_hex(payload, "deposit_data_root", 32),
        )
    if op.kind is OperationKind.GRANT_CLAIM_EXECUTOR:
        executor = _address(payload, "executor")
        expires_at = payload.get("expires_at")
        if not isinstance(expires_at, int) or isinstance(expires_at, bool) or expires_at <= 0:
            raise PayloadInvalid("payload field 'expires_at' must be a positive unix time")
        data = contracts.grant_claim_executor_calldata(executor, expires_at)
        return replace(base, data=data, executor=executor, expires_at=expires_at)
    return replace(base, data=contracts.claim_calldata())
