"""SeatVault on anvil: claim-executor grants, claims, principal accounting."""

from __future__ import annotations

import pytest
from web3.contract import Contract
from web3.types import Wei

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
THRESHOLD = 8 * ETHER


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


def test_principal_arrival_threshold_is_8_ether(vault: Contract) -> None:
    assert vault.functions.PRINCIPAL_ARRIVAL_THRESHOLD().call() == THRESHOLD


@pytest.mark.parametrize("rewards", [ETHER // 100, ETHER, THRESHOLD - 1])
def test_rewards_below_the_threshold_are_fully_claimable_while_principal_is_outstanding(
    anvil: Anvil, deployed: Deployed, vault: Contract, rewards: int
) -> None:
    deposit_for_seat(deployed, "seat-vault", VALIDATOR_KEY)
    assert vault.functions.principalOutstanding().call() == DEPOSIT_WEI

    anvil.fund(vault.address, rewards)  # partial withdrawals while the validator runs
    assert vault.functions.reservedPrincipal().call() == 0
    assert vault.functions.claimable().call() == rewards
    beneficiary_before = _balance(anvil, BENEFICIARY)
    send(vault.functions.grantClaimExecutor(EXECUTOR, 2**40), {"from": OWNER})
    receipt = send(vault.functions.claim(), {"from": EXECUTOR})
    assert receipt["status"] == 1
    (event,) = vault.events.RewardsClaimed().process_receipt(receipt)
    assert event["args"]["amount"] == rewards
    assert _balance(anvil, BENEFICIARY) == beneficiary_before + rewards
    assert _balance(anvil, vault.address) == 0
    assert vault.functions.principalOutstanding().call() == DEPOSIT_WEI


def test_at_the_threshold_the_balance_counts_as_principal(
    anvil: Anvil, deployed: Deployed, vault: Contract
) -> None:
    deposit_for_seat(deployed, "seat-vault", VALIDATOR_KEY)
    anvil.fund(vault.address, THRESHOLD)
    assert vault.functions.reservedPrincipal().call() == THRESHOLD
    assert vault.functions.claimable().call() == 0
    assert revert_reason(vault.functions.claim(), {"from": BENEFICIARY}) == "NothingToClaim()"


def test_after_a_full_withdrawal_claim_pays_only_the_excess_and_return_sends_the_principal(
    anvil: Anvil, deployed: Deployed, vault: Contract
) -> None:
    deposit_for_seat(deployed, "seat-vault", VALIDATOR_KEY)
    rewards = 3 * ETHER // 2
    # The exit's full withdrawal lands in one go (a plain transfer stands in for it).
    tx = anvil.w3.eth.send_transaction(
        {"from": STRANGER, "to": vault.address, "value": Wei(DEPOSIT_WEI + rewards)}
    )
    assert anvil.w3.eth.wait_for_transaction_receipt(tx)["status"] == 1
    assert vault.functions.reservedPrincipal().call() == DEPOSIT_WEI
    assert vault.functions.claimable().call() == rewards

    beneficiary_before = _balance(anvil, BENEFICIARY)
    assert send(vault.functions.claim(), {"from": OWNER})["status"] == 0
    send(vault.functions.grantClaimExecutor(EXECUTOR, 2**40), {"from": OWNER})
    assert send(vault.functions.claim(), {"from": EXECUTOR})["status"] == 1
    assert _balance(anvil, BENEFICIARY) == beneficiary_before + rewards
    assert _balance(anvil, vault.address) == DEPOSIT_WEI
    assert revert_reason(vault.functions.claim(), {"from": BENEFICIARY}) == "NothingToClaim()"

    destination_before = _balance(anvil, DESTINATION)
    receipt = send(vault.functions.returnPrincipal(), {"from": OWNER})
    assert receipt["status"] == 1
    (event,) = vault.events.PrincipalReturned().process_receipt(receipt)
    assert event["args"]["to"] == DESTINATION
    assert event["args"]["amount"] == DEPOSIT_WEI
    assert event["args"]["principalOutstanding"] == 0
    assert _balance(anvil, DESTINATION) == destination_before + DEPOSIT_WEI
    assert vault.functions.principalOutstanding().call() == 0
    assert _balance(anvil, vault.address) == 0


def test_return_principal_before_claiming_sends_exactly_the_principal_and_leaves_rewards(
    anvil: Anvil, deployed: Deployed, vault: Contract
) -> None:
    deposit_for_seat(deployed, "seat-vault", VALIDATOR_KEY)
    rewards = ETHER // 4
    anvil.fund(vault.address, DEPOSIT_WEI + rewards)
    destination_before = _balance(anvil, DESTINATION)
    assert send(vault.functions.returnPrincipal(), {"from": OWNER})["status"] == 1
    assert _balance(anvil, DESTINATION) == destination_before + DEPOSIT_WEI
    assert vault.functions.principalOutstanding().call() == 0
    assert _balance(anvil, vault.address) == rewards
    assert vault.functions.claimable().call() == rewards
    assert revert_reason(vault.functions.returnPrincipal(), {"from": OWNER}) == "NothingToReturn()"


@pytest.mark.parametrize("balance", [0, ETHER, THRESHOLD - 1])
def test_return_principal_below_the_threshold_reverts_and_moves_nothing(
    anvil: Anvil, deployed: Deployed, vault: Contract, balance: int
) -> None:
    deposit_for_seat(deployed, "seat-vault", VALIDATOR_KEY)
    anvil.fund(vault.address, balance)
    call = vault.functions.returnPrincipal()
    for caller in (OWNER, DESTINATION):
        assert revert_reason(call, {"from": caller}) == "PrincipalNotArrived()"
    assert send(call, {"from": OWNER})["status"] == 0
    assert _balance(anvil, vault.address) == balance
    assert vault.functions.principalOutstanding().call() == DEPOSIT_WEI


@pytest.mark.parametrize("caller", [BENEFICIARY, EXECUTOR, STRANGER])
def test_return_principal_by_anyone_but_owner_or_destination_reverts(
    anvil: Anvil, deployed: Deployed, vault: Contract, caller: str
) -> None:
    deposit_for_seat(deployed, "seat-vault", VALIDATOR_KEY)
    anvil.fund(vault.address, DEPOSIT_WEI)
    call = vault.functions.returnPrincipal()
    assert revert_reason(call, {"from": caller}) == "NotPrincipalAuthorized()"


def test_a_slashed_exit_is_reserved_in_full_pays_no_rewards_and_the_rest_stays_owed(
    anvil: Anvil, deployed: Deployed, vault: Contract
) -> None:
    deposit_for_seat(deployed, "seat-vault", VALIDATOR_KEY)
    anvil.fund(vault.address, 31 * ETHER)  # slashed: less than the principal came back
    assert vault.functions.reservedPrincipal().call() == 31 * ETHER
    assert vault.functions.claimable().call() == 0
    assert revert_reason(vault.functions.claim(), {"from": BENEFICIARY}) == "NothingToClaim()"

    destination_before = _balance(anvil, DESTINATION)
    receipt = send(vault.functions.returnPrincipal(), {"from": DESTINATION})
    gas_cost = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert _balance(anvil, DESTINATION) == destination_before + 31 * ETHER - gas_cost
    assert vault.functions.principalOutstanding().call() == ETHER
    assert _balance(anvil, vault.address) == 0
    call = vault.functions.returnPrincipal()
    assert revert_reason(call, {"from": OWNER}) == "PrincipalNotArrived()"


def test_an_exit_under_the_threshold_counts_as_rewards_the_documented_limitation(
    anvil: Anvil, deployed: Deployed, vault: Contract
) -> None:
    deposit_for_seat(deployed, "seat-vault", VALIDATOR_KEY)
    anvil.fund(vault.address, 7 * ETHER)  # a slashing far beyond today's: under 8 ETH came back
    assert vault.functions.reservedPrincipal().call() == 0
    assert vault.functions.claimable().call() == 7 * ETHER
    call = vault.functions.returnPrincipal()
    assert revert_reason(call, {"from": OWNER}) == "PrincipalNotArrived()"


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
