"""Decode the deposit contract's DepositEvent logs, fast and strictly.

The watcher reads every DepositEvent on the chain (mainnet has well over a million), so
decoding is on the hot path. The event's data is the ABI encoding of five dynamic
`bytes`; the official contract always emits the same 576-byte layout:

    head      5 offsets: 0xa0 0x100 0x140 0x180 0x200
    0x0a0     len 48, pubkey (48) + 16 zero bytes
    0x100     len 32, withdrawal_credentials (32)
    0x140     len 8,  amount (8, little-endian gwei) + 24 zero bytes
    0x180     len 96, signature (96)
    0x200     len 8,  index (8, little-endian) + 24 zero bytes

The fast path checks the fixed words of that layout with a few slice comparisons and
slices the fields out. Anything else goes through a general ABI reader that accepts
any valid encoding but insists on the field lengths (48/32/8/96/8), and raises
`DepositLogInvalid` with the reason, never a bare IndexError.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eth_utils.crypto import keccak

from seat_manager.adapters.chain.errors import DepositLogInvalid, RpcResponseInvalid
from seat_manager.adapters.chain.models import QUANTITY, LogEntry, parse_log
from seat_manager.domain.types import BlockNumber, Gwei, TxHash

DEPOSIT_EVENT_SIGNATURE = "DepositEvent(bytes,bytes,bytes,bytes,bytes)"
DEPOSIT_EVENT_TOPIC = keccak(text=DEPOSIT_EVENT_SIGNATURE)
DEPOSIT_EVENT_TOPIC_HEX = "0x" + DEPOSIT_EVENT_TOPIC.hex()

FIELDS = (
    ("pubkey", 48),
    ("withdrawal_credentials", 32),
    ("amount", 8),
    ("signature", 96),
    ("index", 8),
)
CANONICAL_SIZE = 576

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_HASH = re.compile(r"0x[0-9a-fA-F]{64}")


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


_HEAD = b"".join(_word(o) for o in (0xA0, 0x100, 0x140, 0x180, 0x200)) + _word(48)
_PUBKEY_PAD_AND_WC_LEN = b"\x00" * 16 + _word(32)
_LEN8 = _word(8)
_AMOUNT_PAD_AND_SIG_LEN = b"\x00" * 24 + _word(96)
_PAD24 = b"\x00" * 24


@dataclass(frozen=True, slots=True)
class DepositEvent:
    pubkey: bytes
    withdrawal_credentials: bytes
    amount_gwei: Gwei
    signature: bytes
    index: int
    block_number: BlockNumber
    block_hash: str
    tx_hash: TxHash
    log_index: int


def decode_deposit_data(data: bytes) -> tuple[bytes, bytes, Gwei, bytes, int]:
    """(pubkey, withdrawal_credentials, amount_gwei, signature, index) of the event data."""
    if (
        len(data) == CANONICAL_SIZE
        and data[:192] == _HEAD
        and data[240:288] == _PUBKEY_PAD_AND_WC_LEN
        and data[320:352] == _LEN8
        and data[360:416] == _AMOUNT_PAD_AND_SIG_LEN
        and data[512:544] == _LEN8
        and data[552:] == _PAD24
    ):
        return (
            data[192:240],
            data[288:320],
            Gwei(int.from_bytes(data[352:360], "little")),
            data[416:512],
            int.from_bytes(data[544:552], "little"),
        )
    pubkey, credentials, amount, signature, index = _decode_general(data)
    return (
        pubkey,
        credentials,
        Gwei(int.from_bytes(amount, "little")),
        signature,
        int.from_bytes(index, "little"),
    )


def _decode_general(data: bytes) -> list[bytes]:
    """Read five ABI `bytes` from anywhere in `data`, checking every bound and length."""
    if len(data) < 32 * len(FIELDS):
        raise DepositLogInvalid(
            f"DepositEvent data is {len(data)} bytes, too short for five offsets",
            data={"reason": "truncated"},
        )
    fields: list[bytes] = []
    for slot, (name, expected) in enumerate(FIELDS):
        offset = int.from_bytes(data[32 * slot : 32 * slot + 32], "big")
        if offset + 32 > len(data):
            raise DepositLogInvalid(
                f"DepositEvent {name} offset points outside the data",
                data={"reason": "bad_offset", "field": name},
            )
        length = int.from_bytes(data[offset : offset + 32], "big")
        if length != expected:
            raise DepositLogInvalid(
                f"DepositEvent {name} is {length} bytes, expected {expected}",
                data={"reason": "bad_length", "field": name, "length": length},
            )
        if offset + 32 + -(-length // 32) * 32 > len(data):  # the tail is padded to 32 bytes
            raise DepositLogInvalid(
                f"DepositEvent {name} runs past the end of the data",
                data={"reason": "truncated", "field": name},
            )
        fields.append(data[offset + 32 : offset + 32 + length])
    return fields


def decode_deposit_log(log: LogEntry, *, deposit_contract: str | None = None) -> DepositEvent:
    """A DepositEvent from a parsed log, optionally checking it came from `deposit_contract`."""
    if not log.topics or log.topics[0] != DEPOSIT_EVENT_TOPIC:
        raise DepositLogInvalid(
            "log is not a DepositEvent (topic0 differs)", data={"reason": "wrong_topic"}
        )
    if deposit_contract is not None and log.address.lower() != deposit_contract.lower():
        raise DepositLogInvalid(
            f"DepositEvent from {log.address}, not the deposit contract",
            data={"reason": "wrong_address", "address": log.address},
        )
    pubkey, credentials, amount, signature, index = decode_deposit_data(log.data)
    return DepositEvent(
        pubkey=pubkey,
        withdrawal_credentials=credentials,
        amount_gwei=amount,
        signature=signature,
        index=index,
        block_number=log.block_number,
        block_hash=log.block_hash,
        tx_hash=log.transaction_hash,
        log_index=log.log_index,
    )


def decode_raw_deposit_log(
    raw: Mapping[str, Any], *, deposit_contract: str | None = None
) -> DepositEvent:
    """A DepositEvent straight from an `eth_getLogs` JSON entry.

    Well-formed entries take a short path (no intermediate LogEntry); anything odd is
    re-read through `parse_log` so the error names the offending field.
    """
    try:
        topics = raw["topics"]
        address = raw["address"]
        block_hash = raw["blockHash"]
        tx_hash = raw["transactionHash"]
        block_number = raw["blockNumber"]
        log_index = raw["logIndex"]
        simple = (
            isinstance(topics, list)
            and bool(topics)
            and topics[0] == DEPOSIT_EVENT_TOPIC_HEX
            and _ADDRESS.fullmatch(address) is not None
            and _HASH.fullmatch(block_hash) is not None
            and _HASH.fullmatch(tx_hash) is not None
            and QUANTITY.fullmatch(block_number) is not None
            and QUANTITY.fullmatch(log_index) is not None
        )
        if simple:
            if deposit_contract is not None and address.lower() != deposit_contract.lower():
                raise DepositLogInvalid(
                    f"DepositEvent from {address}, not the deposit contract",
                    data={"reason": "wrong_address", "address": address},
                )
            data = raw["data"]
            if data[:2] != "0x":
                raise ValueError("data is not 0x-prefixed")
            pubkey, credentials, amount, signature, index = decode_deposit_data(
                bytes.fromhex(data[2:])
            )
            return DepositEvent(
                pubkey=pubkey,
                withdrawal_credentials=credentials,
                amount_gwei=amount,
                signature=signature,
                index=index,
                block_number=BlockNumber(int(block_number, 16)),
                block_hash=block_hash.lower(),
                tx_hash=TxHash(tx_hash.lower()),
                log_index=int(log_index, 16),
            )
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        pass
    try:
        log = parse_log(raw)
    except RpcResponseInvalid as exc:
        raise DepositLogInvalid(
            f"malformed log: {exc.message}", data={"reason": "malformed_log"}
        ) from None
    return decode_deposit_log(log, deposit_contract=deposit_contract)
