"""VaultFactory on anvil: CREATE2 prediction, vault deployment, ownership."""

from __future__ import annotations

import pytest
from eth_utils.crypto import keccak
from web3 import Web3
from web3.logs import DISCARD

from seat_manager.domain.vaults import (
    create2_address,
    predict_vault_address,
    withdrawal_credentials,
)
from tests.chain.helpers import revert_reason, send
from tests.support.anvil import ACCOUNTS, Anvil, Deployed

pytestmark = pytest.mark.anvil

OWNER, BENEFICIARY, DESTINATION, STRANGER, NEW_OWNER = ACCOUNTS[:5]


def _init_code_hash(deployed: Deployed) -> str:
    return "0x" + bytes(deployed.factory.functions.vaultInitCodeHash().call()).hex()


def test_init_code_hash_is_keccak_of_eip1167_clone_of_the_implementation(
    deployed: Deployed,
) -> None:
    implementation = deployed.factory.functions.vaultImplementation().call()
    clone_creation_code = (
        bytes.fromhex("3d602d80600a3d3981f3363d3d373d3d3d363d73")
        + bytes.fromhex(implementation[2:])
        + bytes.fromhex("5af43d82803e903d91602b57fd5bf3")
    )
    assert _init_code_hash(deployed) == "0x" + keccak(clone_creation_code).hex()


def test_deployed_vault_lands_where_domain_and_factory_predict(deployed: Deployed) -> None:
    factory = deployed.factory
    seat_id = "seat-001"
    predicted = predict_vault_address(factory.address, seat_id, _init_code_hash(deployed))
    independent = create2_address(factory.address, keccak(text=seat_id), _init_code_hash(deployed))
    assert predicted == independent == factory.functions.predictVault(seat_id).call()

    receipt = send(
        factory.functions.deployVault(seat_id, BENEFICIARY, DESTINATION), {"from": OWNER}
    )
    assert receipt["status"] == 1
    (event,) = factory.events.VaultDeployed().process_receipt(receipt, errors=DISCARD)
    assert event["args"]["vault"] == predicted
    assert event["args"]["seatId"] == seat_id
    assert bytes(event["args"]["salt"]) == keccak(text=seat_id)
    assert factory.w3.eth.get_code(predicted) != b""

    vault = deployed.vault(predicted)
    assert vault.functions.beneficiary().call() == BENEFICIARY
    assert vault.functions.principalDestination().call() == DESTINATION
    assert vault.functions.owner().call() == OWNER
    assert vault.functions.factory().call() == factory.address


def test_withdrawal_credentials_view_matches_domain(deployed: Deployed) -> None:
    vault = deployed.factory.functions.predictVault("seat-9").call()
    on_chain = bytes(deployed.factory.functions.withdrawalCredentials("seat-9").call())
    assert on_chain == withdrawal_credentials(vault)


def test_unicode_seat_ids_are_salted_by_their_utf8_bytes(deployed: Deployed) -> None:
    seat_id = "siège-ü-1"
    predicted = predict_vault_address(deployed.factory.address, seat_id, _init_code_hash(deployed))
    assert deployed.factory.functions.predictVault(seat_id).call() == predicted


def test_deploy_vault_by_non_owner_reverts_not_owner(deployed: Deployed) -> None:
    call = deployed.factory.functions.deployVault("seat-x", BENEFICIARY, DESTINATION)
    assert revert_reason(call, {"from": STRANGER}) == "NotOwner()"
    receipt = send(call, {"from": STRANGER})
    assert receipt["status"] == 0
    vault = deployed.factory.functions.predictVault("seat-x").call()
    assert deployed.factory.w3.eth.get_code(vault) == b""


def test_deploy_vault_twice_for_one_seat_reverts_already_deployed(deployed: Deployed) -> None:
    call = deployed.factory.functions.deployVault("seat-dup", BENEFICIARY, DESTINATION)
    assert send(call, {"from": OWNER})["status"] == 1
    vault = deployed.factory.functions.predictVault("seat-dup").call()
    assert revert_reason(call, {"from": OWNER}) == f"VaultAlreadyDeployed({vault})"


@pytest.mark.parametrize(
    ("beneficiary", "destination"),
    [(ACCOUNTS[0][:2] + "0" * 40, DESTINATION), (BENEFICIARY, "0x" + "0" * 40)],
)
def test_deploy_vault_with_zero_address_reverts(
    deployed: Deployed, beneficiary: str, destination: str
) -> None:
    call = deployed.factory.functions.deployVault("seat-z", beneficiary, destination)
    assert revert_reason(call, {"from": OWNER}) == "ZeroAddress()"


def test_vault_cannot_be_initialised_again_nor_by_anyone_but_the_factory(
    deployed: Deployed,
) -> None:
    deploy = deployed.factory.functions.deployVault("seat-i", BENEFICIARY, DESTINATION)
    send(deploy, {"from": OWNER})
    vault = deployed.vault(deployed.factory.functions.predictVault("seat-i").call())
    initialize = vault.functions.initialize(STRANGER, STRANGER)
    assert revert_reason(initialize, {"from": STRANGER}) == "NotFactory()"
    assert revert_reason(initialize, {"from": OWNER}) == "NotFactory()"
    implementation = deployed.vault(deployed.factory.functions.vaultImplementation().call())
    assert (
        revert_reason(implementation.functions.initialize(STRANGER, STRANGER), {"from": STRANGER})
        == "NotFactory()"
    )


def test_ownership_moves_in_two_steps_and_vaults_follow_the_factory_owner(
    deployed: Deployed,
) -> None:
    factory = deployed.factory
    send(factory.functions.deployVault("seat-o", BENEFICIARY, DESTINATION), {"from": OWNER})
    vault = deployed.vault(factory.functions.predictVault("seat-o").call())

    assert revert_reason(factory.functions.transferOwnership(STRANGER), {"from": STRANGER}) == (
        "NotOwner()"
    )
    assert send(factory.functions.transferOwnership(NEW_OWNER), {"from": OWNER})["status"] == 1
    assert factory.functions.owner().call() == OWNER  # not yet accepted
    assert revert_reason(factory.functions.acceptOwnership(), {"from": STRANGER}) == (
        "NotPendingOwner()"
    )
    assert send(factory.functions.acceptOwnership(), {"from": NEW_OWNER})["status"] == 1

    assert factory.functions.owner().call() == NEW_OWNER
    assert vault.functions.owner().call() == NEW_OWNER
    assert (
        revert_reason(
            factory.functions.deployVault("seat-p", BENEFICIARY, DESTINATION), {"from": OWNER}
        )
        == "NotOwner()"
    )
    grant = vault.functions.grantClaimExecutor(STRANGER, 2**40)
    assert revert_reason(grant, {"from": OWNER}) == "NotOwner()"
    assert send(grant, {"from": NEW_OWNER})["status"] == 1


def test_factory_constructor_refuses_zero_addresses(anvil: Anvil) -> None:
    from tests.support.anvil import artifact

    data = artifact("VaultFactory")
    contract = anvil.w3.eth.contract(abi=data["abi"], bytecode=data["bytecode"])
    zero = Web3.to_checksum_address("0x" + "0" * 40)
    for args in ((zero, OWNER), (ACCOUNTS[5], zero)):
        tx_hash = contract.constructor(*args).transact({"from": OWNER, "gas": 3_000_000})
        assert anvil.w3.eth.wait_for_transaction_receipt(tx_hash)["status"] == 0
