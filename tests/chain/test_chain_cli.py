"""`seat-manager vault-address` and `seat-manager contracts deploy`, run as real processes."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_utils.crypto import keccak
from web3.logs import DISCARD

from tests.chain.helpers import send
from tests.support.anvil import ACCOUNT_KEYS, ACCOUNTS, Anvil, Deployed, contract_at
from tests.support.cli import run_cli

pytestmark = pytest.mark.anvil

DEPLOYER_KEY, DEPLOYER = ACCOUNT_KEYS[5], ACCOUNTS[5]


def _lines(stdout: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in stdout.splitlines() if "=" in line)


def _independent_create2(factory: str, seat_id: str, init_code_hash: str) -> str:
    digest = keccak(
        b"\xff"
        + bytes.fromhex(factory[2:])
        + keccak(seat_id.encode())
        + bytes.fromhex(init_code_hash[2:])
    )
    return "0x" + digest[12:].hex()


def test_vault_address_agrees_with_create2_and_with_where_the_factory_deploys(
    deployed: Deployed, tmp_path: Path
) -> None:
    factory = deployed.factory
    init_code_hash = "0x" + bytes(factory.functions.vaultInitCodeHash().call()).hex()
    seat_id = "seat-cli-42"
    result = run_cli(
        ["vault-address", seat_id],
        {"VAULT_FACTORY_ADDRESS": factory.address, "VAULT_INIT_CODE_HASH": init_code_hash},
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    out = _lines(result.stdout)

    receipt = send(
        factory.functions.deployVault(seat_id, ACCOUNTS[1], ACCOUNTS[2]), {"from": deployed.owner}
    )
    (event,) = factory.events.VaultDeployed().process_receipt(receipt, errors=DISCARD)
    assert out["seat_id"] == seat_id
    assert out["vault_address"] == event["args"]["vault"]
    assert out["vault_address"].lower() == _independent_create2(
        factory.address, seat_id, init_code_hash
    )
    assert out["withdrawal_credentials"] == "0x01" + "00" * 11 + event["args"]["vault"][2:].lower()
    assert out["withdrawal_credentials"] == (
        "0x" + bytes(factory.functions.withdrawalCredentials(seat_id).call()).hex()
    )


def test_vault_address_without_factory_settings_is_a_fatal_startup_error(tmp_path: Path) -> None:
    result = run_cli(["vault-address", "seat-1"], {}, tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "Fatal startup error: missing required environment variable(s):"
        " VAULT_FACTORY_ADDRESS, VAULT_INIT_CODE_HASH"
    )


def test_vault_address_refuses_a_seat_id_with_surrounding_spaces(tmp_path: Path) -> None:
    env = {"VAULT_FACTORY_ADDRESS": ACCOUNTS[0], "VAULT_INIT_CODE_HASH": "0x" + "ab" * 32}
    result = run_cli(["vault-address", " seat-1"], env, tmp_path)
    assert result.returncode == 2
    assert "SEAT_ID must be non-empty without surrounding spaces" in result.stderr
    assert result.stdout == ""


def test_contracts_deploy_with_deposit_contract_prints_env_lines_that_work(
    anvil: Anvil, deployed: Deployed, tmp_path: Path
) -> None:
    env = {"ETH_RPC_URL": anvil.url, "SEAT_MANAGER_OWNER_PRIVATE_KEY": DEPLOYER_KEY}
    result = run_cli(["contracts", "deploy", "--with-deposit-contract"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert DEPLOYER_KEY[2:] not in result.stdout + result.stderr
    out = _lines(result.stdout)
    assert sorted(out) == [
        "DEPOSIT_CONTRACT_ADDRESS",
        "VAULT_FACTORY_ADDRESS",
        "VAULT_INIT_CODE_HASH",
    ]
    factory = contract_at(anvil.w3, "VaultFactory", out["VAULT_FACTORY_ADDRESS"])
    assert factory.functions.owner().call() == DEPLOYER
    assert factory.functions.depositContract().call() == out["DEPOSIT_CONTRACT_ADDRESS"]
    deposit = contract_at(anvil.w3, "LocalDepositContract", out["DEPOSIT_CONTRACT_ADDRESS"])
    assert bytes(deposit.functions.get_deposit_count().call()) == bytes(8)
    assert out["VAULT_INIT_CODE_HASH"] == (
        "0x" + bytes(factory.functions.vaultInitCodeHash().call()).hex()
    )

    predicted = run_cli(["vault-address", "seat-new"], out, tmp_path)
    receipt = send(
        factory.functions.deployVault("seat-new", ACCOUNTS[1], ACCOUNTS[2]), {"from": DEPLOYER}
    )
    (event,) = factory.events.VaultDeployed().process_receipt(receipt, errors=DISCARD)
    assert _lines(predicted.stdout)["vault_address"] == event["args"]["vault"]


def test_contracts_deploy_uses_the_configured_deposit_contract(
    anvil: Anvil, deployed: Deployed, tmp_path: Path
) -> None:
    env = {
        "ETH_RPC_URL": anvil.url,
        "SEAT_MANAGER_OWNER_PRIVATE_KEY": DEPLOYER_KEY,
        "DEPOSIT_CONTRACT_ADDRESS": deployed.deposit_contract.address,
        "CHAIN_ID": "31337",
    }
    result = run_cli(["contracts", "deploy", "--owner", ACCOUNTS[3]], env, tmp_path)
    assert result.returncode == 0, result.stderr
    out = _lines(result.stdout)
    assert out["DEPOSIT_CONTRACT_ADDRESS"] == deployed.deposit_contract.address
    factory = contract_at(anvil.w3, "VaultFactory", out["VAULT_FACTORY_ADDRESS"])
    assert factory.functions.depositContract().call() == deployed.deposit_contract.address
    assert factory.functions.owner().call() == ACCOUNTS[3]


def test_contracts_deploy_without_a_deposit_contract_is_a_fatal_startup_error(
    anvil: Anvil, tmp_path: Path
) -> None:
    env = {"ETH_RPC_URL": anvil.url, "SEAT_MANAGER_OWNER_PRIVATE_KEY": DEPLOYER_KEY}
    result = run_cli(["contracts", "deploy"], env, tmp_path)
    assert result.returncode == 2
    assert "Fatal startup error:" in result.stderr
    assert "DEPOSIT_CONTRACT_ADDRESS" in result.stderr
    assert DEPLOYER_KEY[2:] not in result.stderr


def test_contracts_deploy_refuses_a_node_on_another_chain_than_chain_id(
    anvil: Anvil, tmp_path: Path
) -> None:
    env = {
        "ETH_RPC_URL": anvil.url,
        "SEAT_MANAGER_OWNER_PRIVATE_KEY": DEPLOYER_KEY,
        "CHAIN_ID": "1",
    }
    result = run_cli(["contracts", "deploy", "--with-deposit-contract"], env, tmp_path)
    assert result.returncode == 2
    assert "CHAIN_ID is 1 but ETH_RPC_URL answers chain id 31337" in result.stderr


def test_contracts_deploy_refuses_a_deposit_contract_address_without_code(
    anvil: Anvil, deployed: Deployed, tmp_path: Path
) -> None:
    env = {
        "ETH_RPC_URL": anvil.url,
        "SEAT_MANAGER_OWNER_PRIVATE_KEY": DEPLOYER_KEY,
        "DEPOSIT_CONTRACT_ADDRESS": ACCOUNTS[4],
    }
    nonce_before = anvil.w3.eth.get_transaction_count(DEPLOYER)
    result = run_cli(["contracts", "deploy"], env, tmp_path)
    assert result.returncode == 1
    assert "has no code on this chain" in result.stderr
    assert anvil.w3.eth.get_transaction_count(DEPLOYER) == nonce_before
