"""`seat-manager verify-deposit-data` as an operator runs it: a subprocess, a clean env."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from seat_manager.domain.vaults import predict_vault_address, withdrawal_credentials
from tests.support.cli import run_cli

DATA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "deposit-data"
if not DATA_DIR.is_dir():
    raise RuntimeError(f"real deposit data is missing: expected the folder {DATA_DIR}")

CHAIN_ID_BY_NETWORK = {"mainnet": "1", "sepolia": "11155111", "hoodi": "560048"}
FILES = sorted(DATA_DIR.glob("*.json"))
HOODI_FILE = DATA_DIR / "multiple_validators__hoodi__deposit_data-1755071454.json"
SEPOLIA_FILE = DATA_DIR / "multiple_validators__sepolia__deposit_data-1755013393.json"
HOODI_CREDENTIALS = "0x0100000000000000000000000000000000000000000000000000000000000001"
FACTORY = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
INIT_CODE_HASH = "0x" + "ab" * 32


def _entries(path: Path) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(path.read_text())
    return entries


def _verify(tmp_path: Path, env: dict[str, str], *args: str) -> Any:
    return run_cli(["verify-deposit-data", *args], env, tmp_path)


def _entry_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("entry ")]


@pytest.mark.parametrize("path", FILES, ids=[path.stem for path in FILES])
def test_real_file_passes_on_its_own_chain_with_its_credentials_and_exits_0(
    path: Path, tmp_path: Path
) -> None:
    entries = _entries(path)
    env = {"CHAIN_ID": CHAIN_ID_BY_NETWORK[entries[0]["network_name"]]}
    result = _verify(
        tmp_path, env, str(path), "--withdrawal-credentials", entries[0]["withdrawal_credentials"]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert _entry_lines(result.stdout) == [
        f"entry {index} pubkey 0x{entry['pubkey']}: OK" for index, entry in enumerate(entries)
    ]
    assert result.stdout.splitlines()[-1] == f"{len(entries)} of {len(entries)} entries OK"


def test_seat_check_fails_every_entry_on_credentials_and_exits_1(tmp_path: Path) -> None:
    env = {
        "CHAIN_ID": "560048",
        "VAULT_FACTORY_ADDRESS": FACTORY,
        "VAULT_INIT_CODE_HASH": INIT_CODE_HASH,
    }
    result = _verify(tmp_path, env, str(HOODI_FILE), "--seat-id", "seat-0001")
    assert result.returncode == 1
    vault = predict_vault_address(FACTORY, "seat-0001", INIT_CODE_HASH)
    assert f"0x{withdrawal_credentials(vault).hex()} (vault {vault} of seat seat-0001)" in (
        result.stdout
    )
    lines = _entry_lines(result.stdout)
    assert len(lines) == 3
    assert all(": FAIL DEPOSIT_WITHDRAWAL_CREDENTIALS_MISMATCH: " in line for line in lines)


def test_file_for_another_network_fails_with_fork_version_mismatch(tmp_path: Path) -> None:
    env = {"CHAIN_ID": "560048"}
    result = _verify(
        tmp_path, env, str(SEPOLIA_FILE), "--withdrawal-credentials", HOODI_CREDENTIALS
    )
    assert result.returncode == 1
    lines = _entry_lines(result.stdout)
    assert len(lines) == 3
    assert all(": FAIL DEPOSIT_FORK_VERSION_MISMATCH: " in line for line in lines)
    assert "expecting genesis fork version 10000910 (CHAIN_ID 560048)" in result.stdout


def test_one_tampered_entry_fails_alone_with_its_reason_and_exits_1(tmp_path: Path) -> None:
    entries = _entries(HOODI_FILE)
    signature = bytearray.fromhex(entries[1]["signature"])
    signature[0] ^= 0x20
    entries[1]["signature"] = signature.hex()
    entries[2]["amount"] = 31 * 10**9
    tampered = tmp_path / "deposit_data-tampered.json"
    tampered.write_text(json.dumps(entries))
    result = _verify(
        tmp_path,
        {"CHAIN_ID": "560048"},
        str(tampered),
        "--withdrawal-credentials",
        HOODI_CREDENTIALS,
    )
    assert result.returncode == 1
    lines = _entry_lines(result.stdout)
    assert lines[0].endswith(": OK")
    assert ": FAIL DEPOSIT_SIGNATURE_INVALID: " in lines[1]
    assert ": FAIL DEPOSIT_AMOUNT_MISMATCH: " in lines[2]
    assert result.stdout.splitlines()[-1] == "1 of 3 entries OK"


def test_entry_that_is_not_an_object_is_reported_as_malformed(tmp_path: Path) -> None:
    path = tmp_path / "deposit_data-odd.json"
    path.write_text(json.dumps([_entries(HOODI_FILE)[0], "not an entry"]))
    result = _verify(
        tmp_path, {"CHAIN_ID": "560048"}, str(path), "--withdrawal-credentials", HOODI_CREDENTIALS
    )
    assert result.returncode == 1
    assert _entry_lines(result.stdout)[1].startswith(
        "entry 1 pubkey (unreadable): FAIL DEPOSIT_DATA_MALFORMED: "
    )


def test_unknown_chain_uses_the_configured_genesis_fork_version(tmp_path: Path) -> None:
    env = {"CHAIN_ID": "31337", "SEAT_MANAGER_GENESIS_FORK_VERSION": "0x10000910"}
    result = _verify(tmp_path, env, str(HOODI_FILE), "--withdrawal-credentials", HOODI_CREDENTIALS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_unknown_chain_without_a_fork_version_is_a_fatal_configuration_error(
    tmp_path: Path,
) -> None:
    result = _verify(
        tmp_path,
        {"CHAIN_ID": "31337"},
        str(HOODI_FILE),
        "--withdrawal-credentials",
        HOODI_CREDENTIALS,
    )
    assert result.returncode == 2
    assert "Fatal startup error" in result.stderr
    assert "SEAT_MANAGER_GENESIS_FORK_VERSION" in result.stderr
    assert _entry_lines(result.stdout) == []


def test_missing_chain_id_is_a_fatal_configuration_error(tmp_path: Path) -> None:
    result = _verify(tmp_path, {}, str(HOODI_FILE), "--withdrawal-credentials", HOODI_CREDENTIALS)
    assert result.returncode == 2
    assert "missing required environment variable(s): CHAIN_ID" in result.stderr


def test_seat_check_without_factory_settings_names_both_variables(tmp_path: Path) -> None:
    result = _verify(tmp_path, {"CHAIN_ID": "560048"}, str(HOODI_FILE), "--seat-id", "seat-0001")
    assert result.returncode == 2
    assert "VAULT_FACTORY_ADDRESS, VAULT_INIT_CODE_HASH" in result.stderr


def test_chain_id_is_read_from_a_dot_env_in_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("CHAIN_ID=560048\n")
    result = _verify(tmp_path, {}, str(HOODI_FILE), "--withdrawal-credentials", HOODI_CREDENTIALS)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param("{not json", "is not valid JSON (line 1 column 2", id="invalid json"),
        pytest.param('{"pubkey": "00"}', "must hold a JSON array", id="object not array"),
        pytest.param("[]", "holds no deposit data entries", id="empty array"),
    ],
)
def test_unusable_file_is_a_clear_error_with_exit_2(
    content: str, message: str, tmp_path: Path
) -> None:
    path = tmp_path / "deposit_data-bad.json"
    path.write_text(content)
    result = _verify(
        tmp_path, {"CHAIN_ID": "560048"}, str(path), "--withdrawal-credentials", HOODI_CREDENTIALS
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: ")
    assert message in result.stderr
    assert _entry_lines(result.stdout) == []


def test_missing_file_is_a_clear_error_with_exit_2(tmp_path: Path) -> None:
    result = _verify(
        tmp_path,
        {"CHAIN_ID": "560048"},
        str(tmp_path / "absent.json"),
        "--withdrawal-credentials",
        HOODI_CREDENTIALS,
    )
    assert result.returncode == 2
    assert "cannot read" in result.stderr
    assert "No such file or directory" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        pytest.param([], id="neither target"),
        pytest.param(["--seat-id", "s", "--withdrawal-credentials", HOODI_CREDENTIALS], id="both"),
        pytest.param(["--withdrawal-credentials", "0x01"], id="short credentials"),
    ],
)
def test_bad_arguments_are_usage_errors(args: list[str], tmp_path: Path) -> None:
    result = _verify(tmp_path, {"CHAIN_ID": "560048"}, str(HOODI_FILE), *args)
    assert result.returncode == 2
    assert "usage: seat-manager verify-deposit-data" in result.stderr


def test_the_same_validator_twice_in_one_file_fails_the_second_entry(tmp_path: Path) -> None:
    entries = _entries(HOODI_FILE)
    doubled = tmp_path / "deposit_data-doubled.json"
    doubled.write_text(json.dumps([entries[0], entries[1], entries[0]]))
    result = _verify(
        tmp_path,
        {"CHAIN_ID": "560048"},
        str(doubled),
        "--withdrawal-credentials",
        entries[0]["withdrawal_credentials"],
    )
    assert result.returncode == 1
    lines = _entry_lines(result.stdout)
    assert lines[0].endswith(": OK") and lines[1].endswith(": OK")
    assert lines[2].endswith(": FAIL DEPOSIT_PUBKEY_DUPLICATE: same pubkey as entry 0")
