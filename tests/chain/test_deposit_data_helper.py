"""The test helper that builds deposit data agrees with real staking-tool output."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from tests.support.deposit_data import (
    DepositDataEntry,
    deposit_data_root,
    deposit_message_root,
    make_deposit_data,
    verify_deposit_signature,
)

DATA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "deposit-data"
REAL_FILE = DATA_DIR / "withdrawal_credentials_execution__hoodi__deposit_data-1755073089.json"


def _entry(row: dict[str, object]) -> DepositDataEntry:
    def raw(key: str) -> bytes:
        return bytes.fromhex(str(row[key]))

    return DepositDataEntry(
        pubkey=raw("pubkey"),
        withdrawal_credentials=raw("withdrawal_credentials"),
        amount_gwei=int(str(row["amount"])),
        signature=raw("signature"),
        deposit_message_root=raw("deposit_message_root"),
        deposit_data_root=raw("deposit_data_root"),
        fork_version=raw("fork_version"),
    )


def test_helper_roots_and_signature_check_match_a_real_deposit_file() -> None:
    if not REAL_FILE.is_file():
        pytest.fail(f"shared test data missing: {REAL_FILE}")
    entry = _entry(json.loads(REAL_FILE.read_text())[0])
    args = (entry.pubkey, entry.withdrawal_credentials, entry.amount_gwei)
    assert deposit_message_root(*args) == entry.deposit_message_root
    assert deposit_data_root(*args, entry.signature) == entry.deposit_data_root
    assert verify_deposit_signature(entry)
    assert not verify_deposit_signature(replace(entry, fork_version=bytes(4)))


def test_made_deposit_data_verifies_and_round_trips_through_the_file_format() -> None:
    credentials = b"\x01" + b"\x00" * 11 + b"\x22" * 20
    entry = make_deposit_data(31337, credentials, fork_version=bytes.fromhex("10000910"))
    assert verify_deposit_signature(entry)
    assert _entry(entry.as_json("hoodi")) == entry
