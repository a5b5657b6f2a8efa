"""Genesis fork versions of the public chains, which fix the domain deposits are signed in.

A deposit signature is only valid for one genesis fork version, so the version comes
from the configured chain, never from the deposit file. Public chains are listed here;
any other chain (a devnet, a local node) must configure SEAT_MANAGER_GENESIS_FORK_VERSION.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from seat_manager.domain.errors import ConfigurationError

FORK_VERSION_ENV = "SEAT_MANAGER_GENESIS_FORK_VERSION"
_FORK_VERSION = re.compile(r"(0x)?[0-9a-fA-F]{8}")


@dataclass(frozen=True)
class Chain:
    chain_id: int
    name: str
    genesis_fork_version: bytes


KNOWN_CHAINS: dict[int, Chain] = {
    chain.chain_id: chain
    for chain in (
        Chain(1, "mainnet", bytes.fromhex("00000000")),
        Chain(11155111, "sepolia", bytes.fromhex("90000069")),
        Chain(17000, "holesky", bytes.fromhex("01017000")),
        Chain(560048, "hoodi", bytes.fromhex("10000910")),
    )
}


def parse_fork_version(value: str) -> bytes:
    """Four bytes of hex, `0x` optional; ConfigurationError otherwise (value not echoed)."""
    if not _FORK_VERSION.fullmatch(value):
        raise ConfigurationError(
            f"{FORK_VERSION_ENV} must be 4 bytes of hex (8 hex characters, 0x optional)"
        )
    return bytes.fromhex(value.removeprefix("0x"))


def genesis_fork_version(chain_id: int, configured: str | None) -> bytes:
    """The genesis fork version to sign and verify deposits with on `chain_id`.

    A known chain uses its published version; a configured value for a known chain
    must agree with it (a disagreement means the configuration points at another
    network). Unknown chains require the configured value.
    """
    known = KNOWN_CHAINS.get(chain_id)
    explicit = parse_fork_version(configured) if configured is not None else None
    if known is None:
        if explicit is None:
            raise ConfigurationError(
                f"CHAIN_ID {chain_id} is not a known public chain: set {FORK_VERSION_ENV}"
                " to its genesis fork version",
                data={"chain_id": chain_id},
            )
        return explicit
    if explicit is not None and explicit != known.genesis_fork_version:
        raise ConfigurationError(
            f"{FORK_VERSION_ENV}={explicit.hex()} contradicts the genesis fork version"
            f" {known.genesis_fork_version.hex()} of {known.name} (CHAIN_ID {chain_id})",
            data={"chain_id": chain_id},
        )
    return known.genesis_fork_version
