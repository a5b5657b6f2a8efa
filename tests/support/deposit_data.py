"""Valid deposit data for tests, built independently of the production validator.

The roots are computed here from the consensus-specs containers with hashlib, and the
signature with py_ecc (the reference BLS implementation), so a test comparing this
with `seat_manager.domain` is a cross-check, not the same code twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from hashlib import sha256
from typing import Any

from py_ecc.bls import G2ProofOfPossession as bls

DOMAIN_DEPOSIT = bytes.fromhex("03000000")
ZERO32 = b"\x00" * 32
ANVIL_FORK_VERSION = bytes(4)
"""Local chains have no beacon chain; tests sign with the mainnet-like zero version."""


def _h(*parts: bytes) -> bytes:
    return sha256(b"".join(parts)).digest()


def _pubkey_root(pubkey: bytes) -> bytes:
    return _h(pubkey + b"\x00" * 16)


def _signature_root(signature: bytes) -> bytes:
    return _h(_h(signature[:64]), _h(signature[64:] + ZERO32))


def _amount_chunk(amount_gwei: int) -> bytes:
    return amount_gwei.to_bytes(8, "little") + b"\x00" * 24


def deposit_message_root(pubkey: bytes, credentials: bytes, amount_gwei: int) -> bytes:
    return _h(_h(_pubkey_root(pubkey), credentials), _h(_amount_chunk(amount_gwei), ZERO32))


def deposit_data_root(
    pubkey: bytes, credentials: bytes, amount_gwei: int, signature: bytes
) -> bytes:
    return _h(
        _h(_pubkey_root(pubkey), credentials),
        _h(_amount_chunk(amount_gwei), _signature_root(signature)),
    )


def deposit_domain(fork_version: bytes) -> bytes:
    fork_data_root = _h(fork_version + b"\x00" * 28, ZERO32)
    return DOMAIN_DEPOSIT + fork_data_root[:28]


@dataclass(frozen=True)
class DepositDataEntry:
    pubkey: bytes
    withdrawal_credentials: bytes
    amount_gwei: int
    signature: bytes
    deposit_message_root: bytes
    deposit_data_root: bytes
    fork_version: bytes

    def as_json(self, network_name: str = "devnet") -> dict[str, Any]:
        """One entry as the staking deposit CLI writes it (hex without 0x)."""
        return {
            "pubkey": self.pubkey.hex(),
            "withdrawal_credentials": self.withdrawal_credentials.hex(),
            "amount": self.amount_gwei,
            "signature": self.signature.hex(),
            "deposit_message_root": self.deposit_message_root.hex(),
            "deposit_data_root": self.deposit_data_root.hex(),
            "fork_version": self.fork_version.hex(),
            "network_name": network_name,
            "deposit_cli_version": "2.7.0",
        }


def make_deposit_data(
    secret_key: int,
    withdrawal_credentials: bytes,
    *,
    amount_gwei: int = 32 * 10**9,
    fork_version: bytes = ANVIL_FORK_VERSION,
) -> DepositDataEntry:
    """A correctly signed DepositData for the validator key `secret_key`."""
    assert len(withdrawal_credentials) == 32 and len(fork_version) == 4
    pubkey = bls.SkToPk(secret_key)
    message_root = deposit_message_root(pubkey, withdrawal_credentials, amount_gwei)
    signing_root = _h(message_root, deposit_domain(fork_version))
    signature = bls.Sign(secret_key, signing_root)
    return DepositDataEntry(
        pubkey=pubkey,
        withdrawal_credentials=withdrawal_credentials,
        amount_gwei=amount_gwei,
        signature=signature,
        deposit_message_root=message_root,
        deposit_data_root=deposit_data_root(pubkey, withdrawal_credentials, amount_gwei, signature),
        fork_version=fork_version,
    )


def verify_deposit_signature(entry: DepositDataEntry) -> bool:
    signing_root = _h(entry.deposit_message_root, deposit_domain(entry.fork_version))
    return bool(bls.Verify(entry.pubkey, signing_root, entry.signature))
