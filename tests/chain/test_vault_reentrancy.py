"""A receiver that re-enters the vault from receive() is refused by the reentrancy lock.

The attacker is a test-only contract (tests/chain/solidity), compiled here with the
same pinned solc, so it never ships in contracts/out.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from web3.contract import Contract

from tests.chain.helpers import DEPOSIT_WEI, ETHER, deploy_vault, deposit_for_seat, send
from tests.support.anvil import ACCOUNTS, REPO, Anvil, Deployed

pytestmark = pytest.mark.anvil

SOURCE = REPO / "tests" / "chain" / "solidity" / "ReentrantReceiver.sol"
REENTRANCY_SELECTOR = "0xab143c06"  # Reentrancy()

_COMPILE = """
const solc = require('solc');
const src = require('fs').readFileSync(process.argv[1], 'utf8');
const input = {language: 'Solidity', sources: {'R.sol': {content: src}}, settings: {
  optimizer: {enabled: true, runs: 200}, evmVersion: 'cancun',
  outputSelection: {'*': {'*': ['abi', 'evm.bytecode.object']}}}};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (out.errors || []).filter((e) => e.severity === 'error');
if (errors.length) { console.error(JSON.stringify(errors)); process.exit(1); }
const c = out.contracts['R.sol'].ReentrantReceiver;
process.stdout.write(JSON.stringify({abi: c.abi, bytecode: '0x' + c.evm.bytecode.object}));
"""


@pytest.fixture(scope="module")
def receiver_artifact() -> dict[str, Any]:
    result = subprocess.run(
        ["node", "-e", _COMPILE, str(SOURCE)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    artifact: dict[str, Any] = json.loads(result.stdout)
    return artifact


@pytest.fixture
def receiver(anvil: Anvil, deployed: Deployed, receiver_artifact: dict[str, Any]) -> Contract:
    factory = anvil.w3.eth.contract(
        abi=receiver_artifact["abi"], bytecode=receiver_artifact["bytecode"]
    )
    receipt = anvil.w3.eth.wait_for_transaction_receipt(
        factory.constructor().transact({"from": ACCOUNTS[5]})
    )
    return anvil.w3.eth.contract(address=receipt["contractAddress"], abi=receiver_artifact["abi"])


def test_reentrant_claim_from_the_beneficiary_is_refused_and_paid_once(
    anvil: Anvil, deployed: Deployed, receiver: Contract
) -> None:
    vault = deploy_vault(deployed, "seat-reentry", receiver.address, ACCOUNTS[2])
    send(receiver.functions.setVault(vault.address), {"from": ACCOUNTS[0]})
    send(vault.functions.grantClaimExecutor(ACCOUNTS[3], 2**40), {"from": deployed.owner})
    anvil.fund(vault.address, 2 * ETHER)

    assert send(vault.functions.claim(), {"from": ACCOUNTS[3]})["status"] == 1
    assert receiver.functions.reentryAttempts().call() == 1
    assert receiver.functions.reentrySucceeded().call() is False
    assert "0x" + bytes(receiver.functions.lastReentryError().call()).hex() == REENTRANCY_SELECTOR
    assert receiver.functions.received().call() == 2 * ETHER
    assert anvil.w3.eth.get_balance(vault.address) == 0


def test_reentrant_claim_during_principal_return_is_refused(
    anvil: Anvil, deployed: Deployed, receiver: Contract
) -> None:
    vault = deploy_vault(deployed, "seat-reentry", receiver.address, receiver.address)
    send(receiver.functions.setVault(vault.address), {"from": ACCOUNTS[0]})
    deposit_for_seat(deployed, "seat-reentry", 31337)
    anvil.fund(vault.address, DEPOSIT_WEI + ETHER)

    assert send(vault.functions.returnPrincipal(), {"from": deployed.owner})["status"] == 1
    assert "0x" + bytes(receiver.functions.lastReentryError().call()).hex() == REENTRANCY_SELECTOR
    assert receiver.functions.received().call() == DEPOSIT_WEI
    assert vault.functions.principalOutstanding().call() == 0
    assert vault.functions.claimable().call() == ETHER
