"""Where a seat's vault lives and the withdrawal credentials that point at it (SPEC §6).

Pure functions: the vault address is CREATE2(factory, keccak256(utf8(seat_id)),
init_code_hash), and the credentials are 0x01 ‖ 11 zero bytes ‖ vault address.
"""

from __future__ import annotations

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from seat_manager.domain.types import Address

ETH1_ADDRESS_WITHDRAWAL_PREFIX = b"\x01"
COMPOUNDING_WITHDRAWAL_PREFIX = b"\x02"


def _hex_bytes(value: str, length: int, what: str) -> bytes:
    raw = bytes.fromhex(value.removeprefix("0x"))
    if len(raw) != length:
        raise ValueError(f"{what} must be {length} bytes, got {len(raw)}")
    return raw


def seat_salt(seat_id: str) -> bytes:
    return keccak(seat_id.encode("utf-8"))


def create2_address(deployer: str, salt: bytes, init_code_hash: str) -> Address:
    """EIP-1014: keccak256(0xff ‖ deployer ‖ salt ‖ init_code_hash)[12:]."""
    if len(salt) != 32:
        raise ValueError("salt must be 32 bytes")
    digest = keccak(
        b"\xff"
        + _hex_bytes(deployer, 20, "deployer")
        + salt
        + _hex_bytes(init_code_hash, 32, "init code hash")
    )
    return Address(to_checksum_address(digest[12:]))


def predict_vault_address(factory: str, seat_id: str, init_code_hash: str) -> Address:
    return create2_address(factory, seat_salt(seat_id), init_code_hash)


def withdrawal_credentials(vault: str, prefix: bytes = ETH1_ADDRESS_WITHDRAWAL_PREFIX) -> bytes:
    """0x01 (or 0x02) ‖ 11 zero bytes ‖ the 20-byte vault address."""
    if prefix not in (ETH1_ADDRESS_WITHDRAWAL_PREFIX, COMPOUNDING_WITHDRAWAL_PREFIX):
        raise ValueError("withdrawal credential prefix must be 0x01 or 0x02")
    return prefix + b"\x00" * 11 + _hex_bytes(vault, 20, "vault address")
