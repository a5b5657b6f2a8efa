"""Small helpers shared by the chain tests: revert reasons and transactions."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import pytest
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError

from seat_manager.adapters.chain.contracts import (
    LOCAL_DEPOSIT_CONTRACT,
    SEAT_VAULT,
    VAULT_FACTORY,
    describe_revert,
)
from seat_manager.domain.vaults import withdrawal_credentials
from tests.support.anvil import Deployed
from tests.support.deposit_data import DepositDataEntry, make_deposit_data

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


ETHER = 10**18
DEPOSIT_WEI = 32 * ETHER


@lru_cache(maxsize=32)
def signed_deposit(validator_key: int, credentials: bytes) -> DepositDataEntry:
    """Signing with py_ecc takes ~0.1 s; tests reuse an entry for the same inputs."""
    return make_deposit_data(validator_key, credentials)


def deploy_vault(deployed: Deployed, seat_id: str, beneficiary: str, destination: str) -> Contract:
    factory = deployed.factory
    receipt = send(
        factory.functions.deployVault(seat_id, beneficiary, destination), {"from": deployed.owner}
    )
    assert receipt["status"] == 1
    return deployed.vault(factory.functions.predictVault(seat_id).call())


def deposit_call(
    deployed: Deployed, seat_id: str, entry: DepositDataEntry, expected_root: bytes | None = None
) -> ContractFunction:
    """`factory.deposit` for `entry`, guarded by the current root unless one is given."""
    if expected_root is None:
        expected_root = bytes(deployed.deposit_contract.functions.get_deposit_root().call())
    return deployed.factory.functions.deposit(
        seat_id, entry.pubkey, entry.signature, entry.deposit_data_root, expected_root
    )


def deposit_for_seat(deployed: Deployed, seat_id: str, validator_key: int) -> Any:
    """Make the seat's 32 ETH deposit through the factory; returns the receipt."""
    vault = deployed.factory.functions.predictVault(seat_id).call()
    entry = signed_deposit(validator_key, withdrawal_credentials(vault))
    receipt = send(
        deposit_call(deployed, seat_id, entry), {"from": deployed.owner, "value": DEPOSIT_WEI}
    )
    assert receipt["status"] == 1
    return receipt
