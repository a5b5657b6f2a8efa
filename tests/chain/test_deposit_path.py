"""The 32 ETH deposit through VaultFactory.deposit, and the local deposit contract."""

from __future__ import annotations

from hashlib import sha256

import pytest
from eth_utils.crypto import keccak
from web3.logs import DISCARD

from seat_manager.domain.vaults import withdrawal_credentials
from tests.chain.helpers import (
    DEPOSIT_WEI,
    ETHER,
    deploy_vault,
    deposit_call,
    deposit_for_seat,
    revert_reason,
    send,
    signed_deposit,
)
from tests.support.anvil import ACCOUNTS, Anvil, Deployed
from tests.support.deposit_data import deposit_data_root, make_deposit_data

pytestmark = pytest.mark.anvil

OWNER, BENEFICIARY, DESTINATION, ATTACKER, STRANGER = ACCOUNTS[:5]
SEAT = "seat-deposit"
VALIDATOR_KEY = 777


def _credentials(deployed: Deployed, seat_id: str = SEAT) -> bytes:
    return withdrawal_credentials(deployed.factory.functions.predictVault(seat_id).call())


def _root(deployed: Deployed) -> bytes:
    return bytes(deployed.deposit_contract.functions.get_deposit_root().call())


def test_deposit_sends_32_eth_with_the_vault_credentials_and_records_principal(
    anvil: Anvil, deployed: Deployed
) -> None:
    vault = deploy_vault(deployed, SEAT, BENEFICIARY, DESTINATION)
    entry = signed_deposit(VALIDATOR_KEY, _credentials(deployed))
    root_before = _root(deployed)
    receipt = deposit_for_seat(deployed, SEAT, VALIDATOR_KEY)

    (event,) = deployed.deposit_contract.events.DepositEvent().process_receipt(
        receipt, errors=DISCARD
    )
    assert bytes(event["args"]["withdrawal_credentials"]) == (
        b"\x01" + b"\x00" * 11 + bytes.fromhex(vault.address[2:])
    )
    assert bytes(event["args"]["pubkey"]) == entry.pubkey
    assert int.from_bytes(event["args"]["amount"], "little") == 32 * 10**9
    (made,) = deployed.factory.events.DepositMade().process_receipt(receipt, errors=DISCARD)
    assert made["args"]["vault"] == vault.address
    assert bytes(made["args"]["depositRoot"]) == root_before
    assert made["args"]["amount"] == DEPOSIT_WEI
    assert vault.functions.principalOutstanding().call() == DEPOSIT_WEI
    assert anvil.w3.eth.get_balance(deployed.deposit_contract.address) == DEPOSIT_WEI
    assert _root(deployed) != root_before


def test_deposit_after_a_front_running_deposit_reverts_on_the_stale_root(
    anvil: Anvil, deployed: Deployed
) -> None:
    vault = deploy_vault(deployed, SEAT, BENEFICIARY, DESTINATION)
    ours = signed_deposit(VALIDATOR_KEY, _credentials(deployed))
    checked_root = _root(deployed)

    # Someone holding the validator key deposits first, to credentials of their own.
    attacker_credentials = b"\x01" + b"\x00" * 11 + bytes.fromhex(ATTACKER[2:])
    theirs = make_deposit_data(VALIDATOR_KEY, attacker_credentials, amount_gwei=10**9)
    front_run = deployed.deposit_contract.functions.deposit(
        theirs.pubkey, theirs.withdrawal_credentials, theirs.signature, theirs.deposit_data_root
    )
    assert send(front_run, {"from": ATTACKER, "value": ETHER})["status"] == 1
    new_root = _root(deployed)

    call = deposit_call(deployed, SEAT, ours, expected_root=checked_root)
    reason = revert_reason(call, {"from": OWNER, "value": DEPOSIT_WEI})
    assert reason == f"StaleDepositRoot(0x{checked_root.hex()}, 0x{new_root.hex()})"
    owner_before = anvil.w3.eth.get_balance(OWNER)
    receipt = send(call, {"from": OWNER, "value": DEPOSIT_WEI})
    assert receipt["status"] == 0
    gas_cost = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert anvil.w3.eth.get_balance(OWNER) == owner_before - gas_cost
    assert vault.functions.principalOutstanding().call() == 0
    assert deployed.deposit_contract.functions.get_deposit_count().call() == (1).to_bytes(
        8, "little"
    )


def test_deposit_with_a_wrong_deposit_data_root_reverts(deployed: Deployed) -> None:
    deploy_vault(deployed, SEAT, BENEFICIARY, DESTINATION)
    entry = signed_deposit(VALIDATOR_KEY, _credentials(deployed))
    wrong = bytes(b ^ 0xFF if i == 0 else b for i, b in enumerate(entry.deposit_data_root))
    call = deployed.factory.functions.deposit(
        SEAT, entry.pubkey, entry.signature, wrong, _root(deployed)
    )
    assert revert_reason(call, {"from": OWNER, "value": DEPOSIT_WEI}) == (
        "DepositContract: reconstructed DepositData does not match supplied deposit_data_root"
    )


def test_deposit_signed_for_other_credentials_reverts_on_the_data_root(deployed: Deployed) -> None:
    """The factory sets the credentials itself; data for another address cannot match."""
    deploy_vault(deployed, SEAT, BENEFICIARY, DESTINATION)
    other = signed_deposit(VALIDATOR_KEY, _credentials(deployed, "another-seat"))
    call = deposit_call(deployed, SEAT, other)
    assert "does not match supplied deposit_data_root" in revert_reason(
        call, {"from": OWNER, "value": DEPOSIT_WEI}
    )


@pytest.mark.parametrize("value", [0, 31 * ETHER, 33 * ETHER, DEPOSIT_WEI - 1])
def test_deposit_of_anything_but_32_eth_reverts(deployed: Deployed, value: int) -> None:
    deploy_vault(deployed, SEAT, BENEFICIARY, DESTINATION)
    call = deposit_call(deployed, SEAT, signed_deposit(VALIDATOR_KEY, _credentials(deployed)))
    assert revert_reason(call, {"from": OWNER, "value": value}) == f"WrongDepositAmount({value})"


def test_deposit_for_a_seat_without_a_vault_reverts(deployed: Deployed) -> None:
    entry = signed_deposit(VALIDATOR_KEY, _credentials(deployed))
    vault = deployed.factory.functions.predictVault(SEAT).call()
    call = deposit_call(deployed, SEAT, entry)
    assert (
        revert_reason(call, {"from": OWNER, "value": DEPOSIT_WEI}) == f"VaultNotDeployed({vault})"
    )


@pytest.mark.parametrize("caller", [BENEFICIARY, ATTACKER])
def test_deposit_by_anyone_but_the_owner_reverts(deployed: Deployed, caller: str) -> None:
    deploy_vault(deployed, SEAT, BENEFICIARY, DESTINATION)
    call = deposit_call(deployed, SEAT, signed_deposit(VALIDATOR_KEY, _credentials(deployed)))
    assert revert_reason(call, {"from": caller, "value": DEPOSIT_WEI}) == "NotOwner()"


# ---- the local deposit contract behaves as the official one ------------------------------


def _ssz_deposit_root(leaves: list[bytes]) -> bytes:
    """hash_tree_root(List[DepositData, 2**32]) computed from scratch."""
    zero = [b"\x00" * 32]
    for _ in range(32):
        zero.append(sha256(zero[-1] + zero[-1]).digest())
    layer = list(leaves)
    for depth in range(32):
        if len(layer) % 2:
            layer.append(zero[depth])
        layer = [sha256(layer[i] + layer[i + 1]).digest() for i in range(0, len(layer), 2)]
    node = layer[0] if layer else zero[32]
    return sha256(node + len(leaves).to_bytes(32, "little")).digest()


def test_deposit_root_and_count_follow_the_ssz_list_of_deposits(deployed: Deployed) -> None:
    contract = deployed.deposit_contract.functions
    assert bytes(contract.get_deposit_root().call()) == _ssz_deposit_root([])
    leaves = []
    for i in range(3):
        credentials = b"\x01" + b"\x00" * 11 + bytes([i]) * 20
        amount_gwei = (1 + i) * 10**9
        pubkey, signature = bytes([0xA0 + i]) * 48, bytes([0xB0 + i]) * 96
        root = deposit_data_root(pubkey, credentials, amount_gwei, signature)
        call = contract.deposit(pubkey, credentials, signature, root)
        assert send(call, {"from": STRANGER, "value": amount_gwei * 10**9})["status"] == 1
        leaves.append(root)
        assert bytes(contract.get_deposit_root().call()) == _ssz_deposit_root(leaves)
        assert bytes(contract.get_deposit_count().call()) == (i + 1).to_bytes(8, "little")


@pytest.mark.parametrize(
    ("pubkey_len", "credentials_len", "signature_len", "value", "reason"),
    [
        (47, 32, 96, ETHER, "invalid pubkey length"),
        (48, 31, 96, ETHER, "invalid withdrawal_credentials length"),
        (48, 32, 95, ETHER, "invalid signature length"),
        (48, 32, 96, ETHER - 10**9, "deposit value too low"),
        (48, 32, 96, ETHER + 1, "deposit value not multiple of gwei"),
    ],
)
def test_local_deposit_contract_refuses_what_the_official_one_refuses(
    deployed: Deployed,
    pubkey_len: int,
    credentials_len: int,
    signature_len: int,
    value: int,
    reason: str,
) -> None:
    call = deployed.deposit_contract.functions.deposit(
        b"\x01" * pubkey_len, b"\x02" * credentials_len, b"\x03" * signature_len, b"\x00" * 32
    )
    assert revert_reason(call, {"from": STRANGER, "value": value}) == f"DepositContract: {reason}"


def test_local_deposit_contract_supports_erc165_and_the_deposit_interface(
    deployed: Deployed,
) -> None:
    selectors = [
        keccak(text=s)[:4]
        for s in ("deposit(bytes,bytes,bytes,bytes32)", "get_deposit_root()", "get_deposit_count()")
    ]
    deposit_interface = bytes(a ^ b ^ c for a, b, c in zip(*selectors, strict=True))
    supports = deployed.deposit_contract.functions.supportsInterface
    assert supports(bytes.fromhex("01ffc9a7")).call() is True
    assert supports(deposit_interface).call() is True
    assert supports(bytes.fromhex("ffffffff")).call() is False
