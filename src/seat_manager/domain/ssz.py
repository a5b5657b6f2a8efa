"""The few SSZ hash_tree_roots a deposit needs, written out by hand.

A deposit is checked byte for byte before 32 ETH moves, so the roots are computed here
from the consensus-specs definitions rather than trusted from the submitted file:

    DepositMessage{pubkey: Bytes48, withdrawal_credentials: Bytes32, amount: uint64}
    DepositData{pubkey, withdrawal_credentials, amount, signature: Bytes96}
    ForkData{current_version: Bytes4, genesis_validators_root: Bytes32}
    SigningData{object_root: Bytes32, domain: Bytes32}

Every field is fixed-size, so merkleization is: pack each field into 32-byte chunks,
hash each field's chunks to one root, then merkleize the field roots padded to a power
of two. No general SSZ library is needed for that, and a small one is easier to audit.
"""

from __future__ import annotations

from hashlib import sha256

CHUNK = 32
ZERO_CHUNK = b"\x00" * CHUNK

DOMAIN_DEPOSIT = bytes.fromhex("03000000")
ZERO_GENESIS_VALIDATORS_ROOT = ZERO_CHUNK
"""Deposits are signed with a zero genesis validators root so they stay valid before
genesis and across forks (consensus-specs `compute_domain` for DOMAIN_DEPOSIT)."""


def _hash(left: bytes, right: bytes) -> bytes:
    return sha256(left + right).digest()


def merkleize(chunks: list[bytes]) -> bytes:
    """Root of `chunks` (each 32 bytes) padded with zero chunks to a power of two."""
    if not chunks or any(len(chunk) != CHUNK for chunk in chunks):
        raise ValueError("merkleize takes one or more 32-byte chunks")
    layer = list(chunks)
    while len(layer) & (len(layer) - 1):
        layer.append(ZERO_CHUNK)
    while len(layer) > 1:
        layer = [_hash(layer[i], layer[i + 1]) for i in range(0, len(layer), 2)]
    return layer[0]


def bytes_root(value: bytes, length: int) -> bytes:
    """hash_tree_root of a fixed-length ByteVector[length]."""
    if len(value) != length:
        raise ValueError(f"expected {length} bytes, got {len(value)}")
    padded = value + b"\x00" * (-len(value) % CHUNK)
    return merkleize([padded[i : i + CHUNK] for i in range(0, len(padded), CHUNK)])


def uint64_root(value: int) -> bytes:
    """hash_tree_root of a uint64: little-endian, right-padded to one chunk."""
    if not 0 <= value < 2**64:
        raise ValueError("uint64 out of range")
    return value.to_bytes(8, "little") + b"\x00" * 24


def deposit_message_root(pubkey: bytes, withdrawal_credentials: bytes, amount: int) -> bytes:
    return merkleize(
        [bytes_root(pubkey, 48), bytes_root(withdrawal_credentials, 32), uint64_root(amount)]
    )


def deposit_data_root(
    pubkey: bytes, withdrawal_credentials: bytes, amount: int, signature: bytes
) -> bytes:
    """The root the deposit contract recomputes and checks on `deposit()`."""
    return merkleize(
        [
            bytes_root(pubkey, 48),
            bytes_root(withdrawal_credentials, 32),
            uint64_root(amount),
            bytes_root(signature, 96),
        ]
    )


def compute_domain(
    domain_type: bytes,
    fork_version: bytes,
    genesis_validators_root: bytes = ZERO_GENESIS_VALIDATORS_ROOT,
) -> bytes:
    """consensus-specs `compute_domain`: domain_type ‖ ForkData root[:28]."""
    if len(domain_type) != 4:
        raise ValueError("domain type must be 4 bytes")
    fork_data_root = merkleize(
        [bytes_root(fork_version, 4), bytes_root(genesis_validators_root, 32)]
    )
    return domain_type + fork_data_root[:28]


def compute_signing_root(object_root: bytes, domain: bytes) -> bytes:
    """consensus-specs `compute_signing_root`: hash_tree_root(SigningData)."""
    return merkleize([bytes_root(object_root, 32), bytes_root(domain, 32)])


def deposit_signing_root(message_root: bytes, genesis_fork_version: bytes) -> bytes:
    """What a deposit's BLS signature signs on a chain with this genesis fork version."""
    return compute_signing_root(message_root, compute_domain(DOMAIN_DEPOSIT, genesis_fork_version))
