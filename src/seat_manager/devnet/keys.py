"""Throwaway keys for the devnet: an enrollment-service JWT key pair and BLS validator keys
that sign real deposit data (verified by the same code that checks operators' files)."""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass

import jwt
import py_arkworks_bls12381 as arkworks
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from seat_manager.domain import ssz
from seat_manager.domain.bls import DST
from seat_manager.domain.deposits import verify_deposit_data
from seat_manager.domain.types import DEPOSIT_AMOUNT_GWEI

CURVE_ORDER = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001


@dataclass(frozen=True)
class JwtKeyPair:
    private_pem: str
    public_pem: str

    @classmethod
    def generate(cls) -> JwtKeyPair:
        key = ec.generate_private_key(ec.SECP256R1())
        private_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        public_pem = (
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        return cls(private_pem, public_pem)

    def operator_token(self, operator_id: str, audience: str, ttl_s: int = 86_400) -> str:
        now = int(time.time())
        claims = {
            "sub": operator_id,
            "aud": audience,
            "iat": now,
            "exp": now + ttl_s,
            "jti": str(uuid.uuid4()),
        }
        return jwt.encode(claims, self.private_pem, algorithm="ES256")


def validator_secret(seed: str) -> int:
    """A deterministic throwaway BLS secret key (never for a real validator)."""
    return int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big") % CURVE_ORDER or 1


def make_deposit_entry(
    secret: int, withdrawal_credentials: bytes, genesis_fork_version: bytes
) -> dict[str, object]:
    """One deposit_data entry as the staking deposit CLI writes it, signed with `secret`."""
    scalar = arkworks.Scalar(secret)
    pubkey = bytes((arkworks.G1Point() * scalar).to_compressed_bytes())
    amount = DEPOSIT_AMOUNT_GWEI
    message_root = ssz.deposit_message_root(pubkey, withdrawal_credentials, amount)
    signing_root = ssz.deposit_signing_root(message_root, genesis_fork_version)
    signature = bytes(
        (arkworks.G2Point.hash_to_curve(signing_root, DST) * scalar).to_compressed_bytes()
    )
    entry: dict[str, object] = {
        "pubkey": pubkey.hex(),
        "withdrawal_credentials": withdrawal_credentials.hex(),
        "amount": amount,
        "signature": signature.hex(),
        "deposit_message_root": message_root.hex(),
        "deposit_data_root": ssz.deposit_data_root(
            pubkey, withdrawal_credentials, amount, signature
        ).hex(),
        "fork_version": genesis_fork_version.hex(),
        "network_name": "devnet",
    }
    # the same check an operator's file goes through: a wrong entry fails here, not later
    verify_deposit_data(
        entry,
        expected_withdrawal_credentials=withdrawal_credentials,
        genesis_fork_version=genesis_fork_version,
    )
    return entry
