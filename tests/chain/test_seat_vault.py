"""SeatVault on anvil: claim-executor grants, claims, principal accounting."""

from __future__ import annotations

import pytest
from web3.contract import Contract

from tests.chain.helpers import (
    DEPOSIT_WEI,
    ETHER,
    deploy_vault,
    deposit_for_seat,
    revert_reason,
    send,
)
from tests.support.anvil import ACCOUNTS, Anvil, Deployed

pytestmark = pytest.mark.anvil

OWNER, BENEFICIARY, DESTINATION, EXECUTOR, STRANGER = ACCOUNTS[:5]
VALIDATOR_KEY = 4242


@pytest.fixture
def vault(deployed: Deployed) -> Contract:
    return deploy_vault(deployed, "seat-vault", BENEFICIARY, DESTINATION)


def _balance(anvil: Anvil, address: str) -> int:
    return int(anvil.w3.eth.get_balance(address))


# ---- grants ------------------------------------------------------------------------------


@pytest.mark.parametrize("caller", [BENEFICIARY, DESTINATION, EXECUTOR, STRANGER])
def test_grant_claim_executor_by_anyone_but_the_owner_reverts(vault: Contract, caller: str) -> None:
    grant = vault.functions.grantClaimExecutor(EXECUTOR, 2**40)
    assert revert_reason(grant, {"from": caller}) == "NotOwner()"
    assert send(grant, {"from": caller})["status"] == 0
    assert vault.functions.claimExecutorExpiry(EXECUTOR).call() == 0


def test_grant_claim_executor_records_expiry_and_emits_event(vault: Contract) -> None:
    receipt = send(vault.functions.grantClaimExecutor(EXECUTOR, 1_900_000_000), {"from": OWNER})
    (event,) = vault.events.ClaimExecutorGranted().process_receipt(receipt)
    assert event["args"]["executor"] == EXECUTOR
    assert event["args"]["expiresAt"] == 1_900_000_000
    assert vault.functions.claimExecutorExpiry(EXECUTOR).call() == 1_900_000_000
    assert vault.functions.claimExecutorExpiry(STRANGER).call() == 0


def test_grant_to_the_zero_address_reverts(vault: Contract) -> None:
    grant = vault.functions.grantClaimExecutor("0x" + "0" * 40, 2**40)
    assert revert_reason(grant, {"from": OWNER}) == "ZeroAddress()"


def test_executor_may_claim_in_the_second_before_expiry_and_not_at_it(
    anvil: Anvil, vault: Contract
) -> None:
    expires_at = anvil.latest_timestamp() + 1_000
    send(vault.functions.grantClaimExecutor(EXECUTOR, expires_at), {"from": OWNER})
    anvil.fund(vault.address, 3 * ETHER)
    claim = vault.functions.claim()

    anvil.set_next_block_timestamp(expires_at - 1)
    before = send(claim, {"from": EXECUTOR})
    assert before["status"] == 1
    assert anvil.w3.eth.get_block(before["blockNumber"])["timestamp"] == expires_at - 1

    anvil.fund(vault.address, 3 * ETHER)
    anvil.set_next_block_timestamp(expires_at)
    at_expiry = send(claim, {"from": EXECUTOR})
    assert anvil.w3.eth.get_block(at_expiry["blockNumber"])["timestamp"] == expires_at
    assert at_expiry["status"] == 0
    assert _balance(anvil, vault.address) == 3 * ETHER
    assert revert_reason(claim, {"from": EXECUTOR}) == "NotClaimAuthorized()"
    assert vault.functions.claimExecutorAuthorized(EXECUTOR).call() is False


def test_regranting_with_expiry_zero_revokes_the_executor(anvil: Anvil, vault: Contract) -> None:
    send(vault.functions.grantClaimExecutor(EXECUTOR, 2**40), {"from": OWNER})
    assert vault.functions.claimExecutorAuthorized(EXECUTOR).call() is True
    send(vault.functions.grantClaimExecutor(EXECUTOR, 0), {"from": OWNER})
    anvil.fund(vault.address, ETHER)
    assert vault.functions.claimExecutorAuthorized(EXECUTOR).call() is False
    assert revert_reason(vault.functions.claim(), {"from": EXECUTOR}) == "NotClaimAuthorized()"


# ---- claims ------------------------------------------------------------------------------


@pytest.mark.parametrize("caller", [OWNER, DESTINATION, STRANGER])
def test_claim_by_someone_neither_beneficiary_nor_executor_reverts(
    anvil: Anvil, vault: Contract, caller: str
) -> None:
    anvil.fund(vault.address, ETHER)
    assert revert_reason(vault.functions.claim(), {"from": caller}) == "NotClaimAuthorized()"


def test_executor_claim_pays_the_beneficiary_not_the_executor(
    anvil: Anvil, vault: Contract
) -> None:
    send(vault.functions.grantClaimExecutor(EXECUTOR, 2**40), {"from": OWNER})
    anvil.fund(vault.address, 2 * ETHER)
    beneficiary_before = _balance(anvil, BENEFICIARY)
    receipt = send(vault.functions.claim(), {"from": EXECUTOR})
    assert receipt["status"] == 1
    (event,) = vault.events.RewardsClaimed().process_receipt(receipt)
    assert event["args"]["caller"] == EXECUTOR
    assert event["args"]["amount"] == 2 * ETHER
    assert _balance(anvil, BENEFICIARY) == beneficiary_before + 2 * ETHER
    assert _balance(anvil, vault.address) == 0


def test_beneficiary_may_claim_without_a_grant(anvil: Anvil, vault: Contract) -> None:
    anvil.fund(vault.address, ETHER)
    assert send(vault.functions.claim(), {"from": BENEFICIARY})["status"] == 1
    assert _balance(anvil, vault.address) == 0


def test_claim_with_an_empty_vault_reverts_nothing_to_claim(vault: Contract) -> None:
    assert revert_reason(vault.functions.claim(), {"from": BENEFICIARY}) == "NothingToClaim()"


def test_vault_accepts_plain_ether_transfers(anvil: Anvil, vault: Contract) -> None:
    tx = anvil.w3.eth.send_transaction({"from": STRANGER, "to": vault.address, "value": ETHER})
    assert anvil.w3.eth.wait_for_transaction_receipt(tx)["status"] == 1
    assert vault.functions.claimable().call() == ETHER


# ---- principal ---------------------------------------------------------------------------


def test_deposit_records_principal_and_rewards_are_only_what_exceeds_it(
    anvil: Anvil, deployed: Deployed, vault: Contract
) -> None:
    deposit_for_seat(deployed, "seat-vault", VALIDATOR_KEY)
    assert vault.functions.principalOutstanding().call() == DEPOSIT_WEI

    anvil.fund(vault.address, ETHER)  # skimmed rewards while the principal is on the beacon chain
    assert vault.functions.claimable().call() == 0
    assert revert_reason(vault.functions.claim(), {"from": BENEFICIARY}) == "NothingToClaim()"

    anvil.fund(vault.address, DEPOSIT_WEI + 3 * ETHER // 2)  # the validator exited
    assert vault.functions.claimable().call() == 3 * ETHER // 2
    beneficiary_before = _balance(anvil, BENEFICIARY)
    assert send(vault.functions.claim(), {"from": OWNER})["status"] == 0
    send(vault.functions.grantClaimExecutor(EXECUTOR, 2**40), {"from": OWNER})
    assert send(vault.functions.claim(), {"from": EXECUTOR})["status"] == 1
    assert _balance(anvil, BENEFICIARY) == beneficiary_before + 3 * ETHER // 2
    assert _balance(anvil, vault.address) == DEPOSIT_WEI

    destination_before = _balance(anvil, DESTINATION)
    receipt = send(vault.functions.returnPrincipal(), {"from": OWNER})
    assert receipt["status"] == 1
    assert _balance(anvil, DESTINATION) == destination_before + DEPOSIT_WEI
    assert vault.functions.principalOutstanding().call() == 0
    assert _balance(anvil, vault.address) == 0


@pytest.mark.parametrize("caller", [BENEFICIARY, EXECUTOR, STRANGER])
def test_return_principal_by_anyone_but_owner_or_destination_reverts(
    anvil: Anvil, deployed: Deployed, vault: Contract, caller: str
) -> None:
    deposit_for_seat(deployed, "seat-vault", VALIDATOR_KEY)
    anvil.fund(vault.address, DEPOSIT_WEI)
    call = vault.functions.returnPrincipal()
    assert revert_reason(call, {"from": caller}) == "NotPrincipalAuthorized()"


def test_principal_destination_may_pull_a_short_exit_and_the_rest_stays_owed(
    anvil: Anvil, deployed: Deployed, vault: Contract
) -> None:
    deposit_for_seat(deployed, "seat-vault", VALIDATOR_KEY)
    anvil.fund(vault.address, 31 * ETHER)  # slashed: less than the principal came back
    destination_before = _balance(anvil, DESTINATION)
    receipt = send(vault.functions.returnPrincipal(), {"from": DESTINATION})
    gas_cost = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert _balance(anvil, DESTINATION) == destination_before + 31 * ETHER - gas_cost
    assert vault.functions.principalOutstanding().call() == ETHER
    assert revert_reason(vault.functions.claim(), {"from": BENEFICIARY}) == "NothingToClaim()"
    call = vault.functions.returnPrincipal()
    assert revert_reason(call, {"from": OWNER}) == "NothingToReturn()"


def test_return_principal_without_outstanding_principal_reverts(
    anvil: Anvil, vault: Contract
) -> None:
    anvil.fund(vault.address, ETHER)
    call = vault.functions.returnPrincipal()
    assert revert_reason(call, {"from": OWNER}) == "NothingToReturn()"


@pytest.mark.parametrize("caller", [OWNER, BENEFICIARY, DESTINATION, STRANGER])
def test_record_principal_by_anyone_but_the_factory_reverts(vault: Contract, caller: str) -> None:
    call = vault.functions.recordPrincipal(DEPOSIT_WEI)
    assert revert_reason(call, {"from": caller}) == "NotFactory()"
    assert vault.functions.principalOutstanding().call() == 0
