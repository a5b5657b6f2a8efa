from eth_utils import keccak

from seat_manager.domain.vaults import (
    create2_address,
    predict_vault_address,
    seat_salt,
    withdrawal_credentials,
)


def test_create2_matches_eip1014_example_vectors() -> None:
    # EIP-1014 example 1 and example 5
    assert (
        create2_address(
            "0x0000000000000000000000000000000000000000", b"\x00" * 32, "0x" + keccak(b"\x00").hex()
        )
        == "0x4D1A2e2bB4F88F0250f26Ffff098B0b30B26BF38"
    )
    assert (
        create2_address(
            "0x00000000000000000000000000000000deadbeef",
            bytes.fromhex("00000000000000000000000000000000000000000000000000000000cafebabe"),
            "0x" + keccak(bytes.fromhex("deadbeef")).hex(),
        )
        == "0x60f3f640a8508fC6a86d45DF051962668E1e8AC7"
    )


def test_vault_prediction_uses_keccak_of_seat_id_as_salt() -> None:
    factory = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    code_hash = "0x" + "ab" * 32
    assert seat_salt("seat_001") == keccak(text="seat_001")
    assert predict_vault_address(factory, "seat_001", code_hash) == create2_address(
        factory, keccak(text="seat_001"), code_hash
    )
    assert predict_vault_address(factory, "seat_001", code_hash) != predict_vault_address(
        factory, "seat_002", code_hash
    )


def test_withdrawal_credentials_layout() -> None:
    creds = withdrawal_credentials("0x5FbDB2315678afecb367f032d93F642f64180aa3")
    assert len(creds) == 32
    assert creds[:12] == b"\x01" + b"\x00" * 11
    assert creds[12:].hex() == "5fbdb2315678afecb367f032d93f642f64180aa3"
