"""The committed contract artifacts are current, loadable, and encode like web3.py does."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from seat_manager.adapters.chain import contracts
from seat_manager.adapters.chain.contracts import (
    ARTIFACTS_DIR,
    LOCAL_DEPOSIT_CONTRACT,
    SEAT_VAULT,
    VAULT_FACTORY,
    describe_revert,
    load_artifact,
)
from seat_manager.adapters.chain.errors import ContractArtifactError
from tests.support.anvil import ACCOUNTS, REPO, Anvil, Deployed

BUILD = REPO / "scripts" / "build_contracts.py"


def test_committed_artifacts_match_a_fresh_compile_of_the_sources() -> None:
    if shutil.which("node") is None:
        pytest.fail("node is not on PATH; it is needed to compile the contracts (make setup)")
    result = subprocess.run(
        [sys.executable, str(BUILD), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr + result.stdout


def test_a_changed_source_is_reported_stale(tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(ARTIFACTS_DIR, out)
    (out / "SeatVault.json").write_text("{}\n")
    result = subprocess.run(
        [sys.executable, str(BUILD), "--check", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "stale SeatVault.json" in result.stderr


def test_missing_artifact_raises_a_typed_error_pointing_at_make_contracts(tmp_path: Path) -> None:
    with pytest.raises(ContractArtifactError) as info:
        load_artifact("VaultFactory", tmp_path)
    assert "make contracts" in info.value.message


def test_every_artifact_has_abi_and_bytecode() -> None:
    for name in (VAULT_FACTORY, SEAT_VAULT, LOCAL_DEPOSIT_CONTRACT):
        artifact = load_artifact(name)
        assert artifact.abi and artifact.bytecode and artifact.deployed_bytecode
        assert artifact.source_hash.startswith("0x")


def test_describe_revert_reads_error_strings_panics_and_custom_errors() -> None:
    selector = bytes.fromhex("4e487b71")
    assert describe_revert(selector + (0x11).to_bytes(32, "big")) == "Panic(0x11)"
    assert describe_revert(b"") == "reverted without data"
    assert describe_revert(b"\xde\xad\xbe\xef") == "unknown revert 0xdeadbeef"
    assert describe_revert(bytes.fromhex("08c379a0") + b"\x00") == (
        "undecodable revert data 0x08c379a000"
    )


@pytest.mark.anvil
def test_local_deposit_contract_on_chain_runs_the_committed_bytecode(
    anvil: Anvil, deployed: Deployed
) -> None:
    on_chain = bytes(anvil.w3.eth.get_code(deployed.deposit_contract.address))
    assert on_chain == load_artifact(LOCAL_DEPOSIT_CONTRACT).deployed_bytecode


@pytest.mark.anvil
def test_call_data_builders_encode_exactly_like_web3(deployed: Deployed) -> None:
    factory = deployed.factory
    vault = deployed.vault(ACCOUNTS[5])
    pubkey, signature, root, expected = b"\x01" * 48, b"\x02" * 96, b"\x03" * 32, b"\x04" * 32
    cases = [
        (
            contracts.deploy_vault_calldata("seat-1", ACCOUNTS[1], ACCOUNTS[2]),
            factory.encode_abi("deployVault", ["seat-1", ACCOUNTS[1], ACCOUNTS[2]]),
        ),
        (
            contracts.deposit_calldata("seat-1", pubkey, signature, root, expected),
            factory.encode_abi("deposit", ["seat-1", pubkey, signature, root, expected]),
        ),
        (
            contracts.grant_claim_executor_calldata(ACCOUNTS[3], 1_900_000_000),
            vault.encode_abi("grantClaimExecutor", [ACCOUNTS[3], 1_900_000_000]),
        ),
        (contracts.claim_calldata(), vault.encode_abi("claim", [])),
        (
            contracts.claim_executor_expiry_calldata(ACCOUNTS[3]),
            vault.encode_abi("claimExecutorExpiry", [ACCOUNTS[3]]),
        ),
        (
            contracts.get_deposit_root_calldata(),
            deployed.deposit_contract.encode_abi("get_deposit_root", []),
        ),
    ]
    for ours, theirs in cases:
        assert "0x" + ours.hex() == theirs
