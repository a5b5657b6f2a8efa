"""Typed views of the JSON-RPC objects the back end reads, validated on the way in.

A node (or a proxy in front of it) can answer anything; these parsers turn a wrong
shape into `RpcResponseInvalid` naming the field, instead of a KeyError deep inside a
watcher. Quantities become ints, data becomes bytes, hashes stay 0x-hex strings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eth_utils.address import to_checksum_address

from seat_manager.adapters.chain.errors import RpcResponseInvalid
from seat_manager.domain.types import Address, BlockNumber, TxHash

QUANTITY = re.compile(r"0x[0-9a-fA-F]{1,64}")
DATA = re.compile(r"0x(?:[0-9a-fA-F]{2})*")


def parse_quantity(value: Any, what: str) -> int:
    """A JSON-RPC QUANTITY: 0x-prefixed hex (leading zeros tolerated), at most 256 bits."""
    if isinstance(value, str) and QUANTITY.fullmatch(value):
        return int(value, 16)
    raise RpcResponseInvalid(f"{what} is not a hex quantity", data={"field": what})


def parse_data(value: Any, what: str, length: int | None = None) -> bytes:
    """JSON-RPC DATA: 0x-prefixed hex with an even number of digits."""
    if isinstance(value, str) and DATA.fullmatch(value):
        raw = bytes.fromhex(value[2:])
        if length is None or len(raw) == length:
            return raw
        raise RpcResponseInvalid(
            f"{what} must be {length} bytes, got {len(raw)}", data={"field": what}
        )
    raise RpcResponseInvalid(f"{what} is not 0x-prefixed hex data", data={"field": what})


def parse_hash(value: Any, what: str) -> str:
    return "0x" + parse_data(value, what, 32).hex()


def parse_address(value: Any, what: str) -> Address:
    return Address(to_checksum_address(parse_data(value, what, 20)))


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise RpcResponseInvalid(f"{what} is not a JSON object", data={"field": what})
    return value


@dataclass(frozen=True, slots=True)
class LogEntry:
    address: Address
    topics: tuple[bytes, ...]
    data: bytes
    block_number: BlockNumber
    block_hash: str
    transaction_hash: TxHash
    log_index: int
    removed: bool


def parse_log(value: Any) -> LogEntry:
    log = _object(value, "log")
    topics = log.get("topics")
    if not isinstance(topics, list):
        raise RpcResponseInvalid("log.topics is not a list", data={"field": "log.topics"})
    return LogEntry(
        address=parse_address(log.get("address"), "log.address"),
        topics=tuple(parse_data(t, "log.topics[]", 32) for t in topics),
        data=parse_data(log.get("data"), "log.data"),
        block_number=BlockNumber(parse_quantity(log.get("blockNumber"), "log.blockNumber")),
        block_hash=parse_hash(log.get("blockHash"), "log.blockHash"),
        transaction_hash=TxHash(parse_hash(log.get("transactionHash"), "log.transactionHash")),
        log_index=parse_quantity(log.get("logIndex"), "log.logIndex"),
        removed=log.get("removed") is True,
    )


@dataclass(frozen=True, slots=True)
class Block:
    number: BlockNumber
    hash: str
    parent_hash: str
    timestamp: int
    base_fee_per_gas: int | None


def parse_block(value: Any) -> Block:
    block = _object(value, "block")
    base_fee = block.get("baseFeePerGas")
    return Block(
        number=BlockNumber(parse_quantity(block.get("number"), "block.number")),
        hash=parse_hash(block.get("hash"), "block.hash"),
        parent_hash=parse_hash(block.get("parentHash"), "block.parentHash"),
        timestamp=parse_quantity(block.get("timestamp"), "block.timestamp"),
        base_fee_per_gas=None
        if base_fee is None
        else parse_quantity(base_fee, "block.baseFeePerGas"),
    )


@dataclass(frozen=True, slots=True)
class Receipt:
    transaction_hash: TxHash
    block_number: BlockNumber
    block_hash: str
    status: int
    """1 when the transaction succeeded, 0 when it reverted."""
    gas_used: int
    contract_address: Address | None
    logs: tuple[LogEntry, ...]

    @property
    def succeeded(self) -> bool:
        return self.status == 1


def parse_receipt(value: Any) -> Receipt:
    receipt = _object(value, "receipt")
    logs = receipt.get("logs")
    if not isinstance(logs, list):
        raise RpcResponseInvalid("receipt.logs is not a list", data={"field": "receipt.logs"})
    created = receipt.get("contractAddress")
    return Receipt(
        transaction_hash=TxHash(
            parse_hash(receipt.get("transactionHash"), "receipt.transactionHash")
        ),
        block_number=BlockNumber(parse_quantity(receipt.get("blockNumber"), "receipt.blockNumber")),
        block_hash=parse_hash(receipt.get("blockHash"), "receipt.blockHash"),
        status=parse_quantity(receipt.get("status"), "receipt.status"),
        gas_used=parse_quantity(receipt.get("gasUsed"), "receipt.gasUsed"),
        contract_address=None
        if created is None
        else parse_address(created, "receipt.contractAddress"),
        logs=tuple(parse_log(log) for log in logs),
    )
