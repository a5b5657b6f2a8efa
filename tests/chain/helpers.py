"""Small helpers shared by the chain tests: revert reasons and transactions."""

from __future__ import annotations

from typing import Any

import pytest
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError

from seat_manager.adapters.chain.contracts import (
    LOCAL_DEPOSIT_CONTRACT,
    SEAT_VAULT,
    VAULT_FACTORY,
    describe_revert,
)

ALL_ARTIFACTS = (VAULT_FACTORY, SEAT_VAULT, LOCAL_DEPOSIT_CONTRACT)


def revert_reason(call: ContractFunction, tx: dict[str, Any]) -> str:
    """The decoded reason `call` reverts with when sent as `tx` (fails if it succeeds)."""
    with pytest.raises(ContractLogicError) as info:
        call.call(tx)
    data = info.value.data
    assert isinstance(data, str), f"no revert data: {info.value!r}"
    return describe_revert(bytes.fromhex(data.removeprefix("0x")), ALL_ARTIFACTS)


def send(call: ContractFunction, tx: dict[str, Any], *, gas: int = 500_000) -> Any:
    """Mine `call` as a real transaction with fixed gas (no estimate), return the receipt."""
    w3 = call.w3
    tx_hash = call.transact({"gas": gas, **tx})
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
