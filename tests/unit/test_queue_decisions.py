"""Pure decisions of the operation path: how a node's refusal of a broadcast is read,
and what call each operation kind makes from its payload."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from eth_account import Account

from seat_manager.adapters.chain import contracts
from seat_manager.adapters.chain.errors import RpcNodeError
from seat_manager.adapters.chain.nonces import classify_send_error, decode_raw
from seat_manager.adapters.chain.plans import PayloadInvalid, build_plan
from seat_manager.adapters.db.queue import ClaimedOperation
from seat_manager.domain.operations import OperationKind
from seat_manager.domain.policy import DEPOSIT_AMOUNT_WEI
from seat_manager.domain.types import OperationId, SeatId
from seat_manager.domain.vaults import predict_vault_address

FACTORY = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
INIT_HASH = "0x" + "ab" * 32
DESTINATION = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
BENEFICIARY = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
SEAT = "seat-plan"
VAULT = predict_vault_address(FACTORY, SEAT, INIT_HASH)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


class Config:
    vault_factory = FACTORY
    vault_init_code_hash = INIT_HASH
    principal_destination = DESTINATION


def _op(kind: OperationKind, payload: dict[str, Any]) -> ClaimedOperation:
    return ClaimedOperation(
        operation_id=OperationId("op_" + "a" * 26),
        seat_id=SeatId(SEAT),
        kind=kind,
        attempts=1,
        available_at=NOW,
        lease_owner="w1",
        lease_expires_at=NOW,
        payload=payload,
        tx_nonce=None,
        tx_hash=None,
        signed_tx=None,
        error_code=None,
        error_message=None,
    )


def _deposit_payload(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "vault_address": VAULT,
        "pubkey": "0x" + "11" * 48,
        "signature": "0x" + "22" * 96,
        "deposit_data_root": "0x" + "33" * 32,
        "amount_gwei": 32 * 10**9,
    }
    payload.update(changes)
    return payload


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("already known", "known"),
        ("Known transaction: 0xabc", "known"),
        ("nonce too low: next nonce 5, tx nonce 4", "nonce_used"),
        ("Nonce too low", "nonce_used"),
        ("replacement transaction underpriced", "underpriced"),
        ("transaction underpriced", "underpriced"),
        ("insufficient funds for gas * price + value", "no_funds"),
        ("execution reverted", "other"),
    ],
)
def test_broadcast_refusals_are_read_from_the_nodes_words(message: str, kind: str) -> None:
    assert classify_send_error(RpcNodeError("eth_sendRawTransaction", -32000, message)) == kind


def test_deploy_vault_calls_the_factory_with_the_payload_addresses() -> None:
    plan = build_plan(
        _op(OperationKind.DEPLOY_VAULT, {"beneficiary_address": BENEFICIARY}), Config()
    )
    assert plan.to == FACTORY and plan.value == 0 and plan.vault == VAULT
    assert plan.data == contracts.deploy_vault_calldata(SEAT, BENEFICIARY, DESTINATION)


def test_deposit_sends_32_eth_to_the_factory_with_the_root_added_later() -> None:
    plan = build_plan(_op(OperationKind.DEPOSIT, _deposit_payload()), Config())
    assert plan.to == FACTORY and plan.value == DEPOSIT_AMOUNT_WEI
    assert plan.pubkey == b"\x11" * 48
    root = b"\x44" * 32
    assert plan.with_deposit_root(root).data == contracts.deposit_calldata(
        SEAT, b"\x11" * 48, b"\x22" * 96, b"\x33" * 32, root
    )


def test_a_payload_naming_another_vault_is_refused() -> None:
    payload = _deposit_payload(vault_address=DESTINATION)
    with pytest.raises(PayloadInvalid) as info:
        build_plan(_op(OperationKind.DEPOSIT, payload), Config())
    assert info.value.code == "VAULT_ADDRESS_MISMATCH"


@pytest.mark.parametrize(
    "change",
    [
        {"amount_gwei": 31 * 10**9},
        {"pubkey": "0x" + "11" * 47},
        {"signature": "not hex"},
        {"deposit_data_root": None},
    ],
)
def test_a_deposit_payload_with_a_defect_is_refused(change: dict[str, Any]) -> None:
    with pytest.raises(PayloadInvalid) as info:
        build_plan(_op(OperationKind.DEPOSIT, _deposit_payload(**change)), Config())
    assert info.value.code == "OPERATION_PAYLOAD_INVALID"


def test_a_grant_needs_an_executor_and_a_positive_expiry() -> None:
    ok = build_plan(
        _op(OperationKind.GRANT_CLAIM_EXECUTOR, {"executor": BENEFICIARY, "expires_at": 99}),
        Config(),
    )
    assert ok.to == VAULT and ok.expires_at == 99
    with pytest.raises(PayloadInvalid):
        build_plan(
            _op(OperationKind.GRANT_CLAIM_EXECUTOR, {"executor": BENEFICIARY, "expires_at": True}),
            Config(),
        )


def test_a_stored_raw_transaction_decodes_to_the_call_it_signed() -> None:
    account = Account.from_key("0x" + "42" * 32)
    signed = account.sign_transaction(
        {
            "type": 2,
            "chainId": 31337,
            "nonce": 7,
            "to": FACTORY,
            "value": 5,
            "data": b"\x01\x02",
            "gas": 50_000,
            "maxFeePerGas": 10,
            "maxPriorityFeePerGas": 1,
        }
    )
    fields = decode_raw("0x" + bytes(signed.raw_transaction).hex())
    assert bytes(fields["to"]) == bytes.fromhex(FACTORY[2:])
    assert (fields["nonce"], fields["value"], bytes(fields["data"])) == (7, 5, b"\x01\x02")
