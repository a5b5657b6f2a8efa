"""Deposit data checks: every byte of a 32 ETH deposit is verified before it is queued.

An entry of a `deposit_data-*.json` (as the staking deposit CLI writes it) is parsed
into a `DepositData`, then checked in an order that names the real fault when several
checks would fail at once (a tampered signature also changes the data root, and the
signature is the one to blame):

    1. shape: fields present, hex, exact lengths, canonical compressed BLS points
    2. the file's fork version equals the chain's genesis fork version
    3. amount
    4. withdrawal credentials equal the expected ones (0x02 only when allowed)
    5. deposit_message_root recomputed by SSZ
    6. BLS signature over the DepositMessage in the deposit domain of the chain's fork
       version (the file's own fork version is never used to verify)
    7. deposit_data_root recomputed by SSZ (what the deposit contract will check)

Each failure raises `DepositDataInvalid` with its own stable code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from seat_manager.domain import bls, ssz
from seat_manager.domain.errors import DepositDataInvalid
from seat_manager.domain.types import DEPOSIT_AMOUNT_GWEI, Gwei
from seat_manager.domain.vaults import (
    COMPOUNDING_WITHDRAWAL_PREFIX,
    ETH1_ADDRESS_WITHDRAWAL_PREFIX,
)

DEPOSIT_DATA_MALFORMED: Final = "DEPOSIT_DATA_MALFORMED"
DEPOSIT_PUBKEY_INVALID: Final = "DEPOSIT_PUBKEY_INVALID"
DEPOSIT_SIGNATURE_MALFORMED: Final = "DEPOSIT_SIGNATURE_MALFORMED"
DEPOSIT_FORK_VERSION_MISMATCH: Final = "DEPOSIT_FORK_VERSION_MISMATCH"
DEPOSIT_AMOUNT_MISMATCH: Final = "DEPOSIT_AMOUNT_MISMATCH"
DEPOSIT_WITHDRAWAL_CREDENTIALS_MISMATCH: Final = "DEPOSIT_WITHDRAWAL_CREDENTIALS_MISMATCH"
DEPOSIT_MESSAGE_ROOT_MISMATCH: Final = "DEPOSIT_MESSAGE_ROOT_MISMATCH"
DEPOSIT_SIGNATURE_INVALID: Final = "DEPOSIT_SIGNATURE_INVALID"
DEPOSIT_DATA_ROOT_MISMATCH: Final = "DEPOSIT_DATA_ROOT_MISMATCH"

_HEX = re.compile(r"(?:0x)?(?:[0-9a-fA-F]{2})*")
_UINT64_LIMIT = 2**64


@dataclass(frozen=True)
class DepositData:
    """One parsed deposit-data entry; bytes fields have their exact SSZ lengths."""

    pubkey: bytes
    withdrawal_credentials: bytes
    amount: Gwei
    signature: bytes
    deposit_message_root: bytes
    deposit_data_root: bytes
    fork_version: bytes
    network_name: str | None = None

    @property
    def computed_message_root(self) -> bytes:
        return ssz.deposit_message_root(self.pubkey, self.withdrawal_credentials, self.amount)

    @property
    def computed_data_root(self) -> bytes:
        return ssz.deposit_data_root(
            self.pubkey, self.withdrawal_credentials, self.amount, self.signature
        )


def _field(entry: Mapping[Any, Any], name: str) -> object:
    if name not in entry:
        raise DepositDataInvalid(
            f"deposit data has no '{name}' field", code=DEPOSIT_DATA_MALFORMED, data={"field": name}
        )
    return entry[name]


def _hex_field(entry: Mapping[Any, Any], name: str, length: int, length_code: str) -> bytes:
    value = _field(entry, name)
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        raise DepositDataInvalid(
            f"'{name}' must be a string of hex digits (0x optional)",
            code=DEPOSIT_DATA_MALFORMED,
            data={"field": name},
        )
    raw = bytes.fromhex(value.removeprefix("0x"))
    if len(raw) != length:
        raise DepositDataInvalid(
            f"'{name}' must be {length} bytes, got {len(raw)}",
            code=length_code,
            data={"field": name, "length": len(raw)},
        )
    return raw


def _amount(entry: Mapping[Any, Any]) -> Gwei:
    value = _field(entry, "amount")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _UINT64_LIMIT:
        raise DepositDataInvalid(
            "'amount' must be an integer number of gwei within uint64",
            code=DEPOSIT_DATA_MALFORMED,
            data={"field": "amount"},
        )
    return Gwei(value)


def parse_deposit_data(entry: object) -> DepositData:
    """Shape checks only: fields, hex, lengths and valid BLS point encodings."""
    if not isinstance(entry, Mapping):
        raise DepositDataInvalid(
            "a deposit data entry must be a JSON object", code=DEPOSIT_DATA_MALFORMED
        )
    pubkey = _hex_field(entry, "pubkey", bls.PUBKEY_LENGTH, DEPOSIT_PUBKEY_INVALID)
    try:
        bls.validate_pubkey(pubkey)
    except bls.InvalidPublicKey as exc:
        raise DepositDataInvalid(
            f"'pubkey' {exc}", code=DEPOSIT_PUBKEY_INVALID, data={"field": "pubkey"}
        ) from None
    signature = _hex_field(entry, "signature", bls.SIGNATURE_LENGTH, DEPOSIT_SIGNATURE_MALFORMED)
    try:
        bls.validate_signature(signature)
    except bls.InvalidSignatureEncoding as exc:
        raise DepositDataInvalid(
            f"'signature' {exc}", code=DEPOSIT_SIGNATURE_MALFORMED, data={"field": "signature"}
        ) from None
    network_name = entry.get("network_name")
    if network_name is not None and not isinstance(network_name, str):
        raise DepositDataInvalid(
            "'network_name' must be a string",
            code=DEPOSIT_DATA_MALFORMED,
            data={"field": "network_name"},
        )
    return DepositData(
        pubkey=pubkey,
        withdrawal_credentials=_hex_field(
            entry, "withdrawal_credentials", 32, DEPOSIT_DATA_MALFORMED
        ),
        amount=_amount(entry),
        signature=signature,
        deposit_message_root=_hex_field(entry, "deposit_message_root", 32, DEPOSIT_DATA_MALFORMED),
        deposit_data_root=_hex_field(entry, "deposit_data_root", 32, DEPOSIT_DATA_MALFORMED),
        fork_version=_hex_field(entry, "fork_version", 4, DEPOSIT_DATA_MALFORMED),
        network_name=network_name,
    )


def _mismatch(code: str, message: str, expected: bytes, actual: bytes) -> DepositDataInvalid:
    return DepositDataInvalid(
        f"{message}: expected 0x{expected.hex()}, got 0x{actual.hex()}",
        code=code,
        data={"expected": "0x" + expected.hex(), "actual": "0x" + actual.hex()},
    )


def _check_credentials(actual: bytes, expected: bytes, allow_compounding: bool) -> None:
    prefix, tail = actual[:1], actual[1:]
    if prefix == COMPOUNDING_WITHDRAWAL_PREFIX and not allow_compounding:
        raise _mismatch(
            DEPOSIT_WITHDRAWAL_CREDENTIALS_MISMATCH,
            "0x02 (compounding) withdrawal credentials are not allowed here",
            expected,
            actual,
        )
    same_address_any_type = (
        allow_compounding
        and expected[:1] in (ETH1_ADDRESS_WITHDRAWAL_PREFIX, COMPOUNDING_WITHDRAWAL_PREFIX)
        and prefix in (ETH1_ADDRESS_WITHDRAWAL_PREFIX, COMPOUNDING_WITHDRAWAL_PREFIX)
        and tail == expected[1:]
    )
    if actual != expected and not same_address_any_type:
        raise _mismatch(
            DEPOSIT_WITHDRAWAL_CREDENTIALS_MISMATCH,
            "withdrawal credentials do not point at the expected address",
            expected,
            actual,
        )


def verify_deposit_data(
    entry: object,
    *,
    expected_withdrawal_credentials: bytes,
    genesis_fork_version: bytes,
    expected_amount_gwei: int = DEPOSIT_AMOUNT_GWEI,
    allow_compounding: bool = False,
) -> DepositData:
    """Parse and fully check one entry; return it, or raise DepositDataInvalid.

    `entry` is one decoded JSON value, untrusted: anything but an object is refused.

    `genesis_fork_version` is the configured chain's (see `chains.genesis_fork_version`).
    With `allow_compounding`, 0x01 and 0x02 credentials to the expected address pass.
    """
    if len(expected_withdrawal_credentials) != 32 or len(genesis_fork_version) != 4:
        raise ValueError("expected credentials are 32 bytes and a fork version is 4 bytes")
    deposit = parse_deposit_data(entry)
    if deposit.fork_version != genesis_fork_version:
        raise _mismatch(
            DEPOSIT_FORK_VERSION_MISMATCH,
            "deposit data was made for another network (fork version differs from this"
            " chain's genesis fork version)",
            genesis_fork_version,
            deposit.fork_version,
        )
    if deposit.amount != expected_amount_gwei:
        raise DepositDataInvalid(
            f"amount must be {expected_amount_gwei} gwei, got {deposit.amount}",
            code=DEPOSIT_AMOUNT_MISMATCH,
            data={"expected": expected_amount_gwei, "actual": deposit.amount},
        )
    _check_credentials(
        deposit.withdrawal_credentials, expected_withdrawal_credentials, allow_compounding
    )
    message_root = deposit.computed_message_root
    if message_root != deposit.deposit_message_root:
        raise _mismatch(
            DEPOSIT_MESSAGE_ROOT_MISMATCH,
            "deposit_message_root does not match the entry's pubkey, credentials and amount",
            message_root,
            deposit.deposit_message_root,
        )
    signing_root = ssz.deposit_signing_root(message_root, genesis_fork_version)
    if not bls.verify(deposit.pubkey, signing_root, deposit.signature):
        raise DepositDataInvalid(
            "BLS signature does not verify for this pubkey over the deposit message in the"
            f" deposit domain of fork version {genesis_fork_version.hex()}",
            code=DEPOSIT_SIGNATURE_INVALID,
            data={"fork_version": genesis_fork_version.hex()},
        )
    data_root = deposit.computed_data_root
    if data_root != deposit.deposit_data_root:
        raise _mismatch(
            DEPOSIT_DATA_ROOT_MISMATCH,
            "deposit_data_root does not match the entry (the deposit contract would reject it)",
            data_root,
            deposit.deposit_data_root,
        )
    return deposit
