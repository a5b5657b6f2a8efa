"""Read one block range of the deposit contract, in one round trip, and prove it whole.

A range is read as a single JSON-RPC batch: the DepositEvent logs of blocks
first..last, the contract's `get_deposit_count()` at `last`, and the headers the
watcher must remember (always `last`; every block of the range within the reorg
window of the head). What comes back is checked before anyone may record it:

- every log decodes as an official DepositEvent of the deposit contract, lies inside
  the range, is not `removed`, and appears once;
- headers link parent to child, the first one links to the block the cursor is on, and
  every log of a block we have a header for carries that header's hash; otherwise the
  node changed branches mid-read (``ChainMovedDuringScan``);
- the deposit indexes of the logs run on without a gap from the count at the cursor to
  the count at `last` (``IndexIncomplete``): a node that silently drops logs from a big
  answer, or a range that starts after the contract's first deposits, cannot pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode
from eth_abi.exceptions import DecodingError

from seat_manager.adapters.chain.contracts import get_deposit_count_calldata
from seat_manager.adapters.chain.deposit_logs import (
    DEPOSIT_EVENT_TOPIC_HEX,
    decode_raw_deposit_log,
)
from seat_manager.adapters.chain.errors import RpcResponseInvalid
from seat_manager.adapters.chain.models import parse_block, parse_data
from seat_manager.adapters.chain.rpc import RpcClient
from seat_manager.domain.deposit_matching import ObservedDeposit
from seat_manager.workers.el_errors import ChainMovedDuringScan, IndexIncomplete

Call = tuple[str, Sequence[Any]]


@dataclass(frozen=True)
class RangeRead:
    """Blocks first..last, checked: their deposits (chain order), the headers to store
    (ascending, last included) and the contract's deposit count at ``last``."""

    first: int
    last: int
    deposits: list[ObservedDeposit]
    headers: list[tuple[int, str]]
    deposit_count: int

    @property
    def last_hash(self) -> str:
        return self.headers[-1][1]


def decode_deposit_count(data: bytes) -> int:
    """`get_deposit_count()` returns ABI `bytes` holding 8 little-endian bytes; no code
    at that block (before deployment) returns nothing, which counts as 0 deposits."""
    if not data:
        return 0
    try:
        (raw,) = decode(["bytes"], data)
    except DecodingError:
        raise RpcResponseInvalid("get_deposit_count: answer is not ABI bytes") from None
    if len(raw) != 8:
        raise RpcResponseInvalid(f"get_deposit_count: {len(raw)} bytes, expected 8")
    return int.from_bytes(raw, "little")


class RangeReader:
    """Reads ranges of one deposit contract through one RPC client."""

    def __init__(self, rpc: RpcClient, deposit_contract: str) -> None:
        self._rpc = rpc
        self._contract = deposit_contract
        self._count_call = "0x" + get_deposit_count_calldata().hex()

    def count_call(self, block: int) -> Call:
        return ("eth_call", [{"to": self._contract, "data": self._count_call}, hex(block)])

    async def deposit_count_and_hash(self, block: int) -> tuple[int, str]:
        """The contract's deposit count at ``block`` and that block's hash (one batch)."""
        count, header = await self._rpc.batch(
            [self.count_call(block), ("eth_getBlockByNumber", [hex(block), False])]
        )
        if header is None:
            raise ChainMovedDuringScan(f"block {block} is not on the node", data={"block": block})
        return decode_deposit_count(parse_data(count, "eth_call")), parse_block(header).hash

    async def read(
        self,
        first: int,
        last: int,
        *,
        head: int,
        window: int,
        cursor_hash: str | None,
        count_before: int,
    ) -> RangeRead:
        numbers = sorted({*range(max(first, head - window + 1), last + 1), last})
        query = {
            "address": self._contract,
            "fromBlock": hex(first),
            "toBlock": hex(last),
            "topics": [DEPOSIT_EVENT_TOPIC_HEX],
        }
        calls: list[Call] = [("eth_getLogs", [query]), self.count_call(last)]
        calls += [("eth_getBlockByNumber", [hex(n), False]) for n in numbers]
        logs, count_data, *raw_headers = await self._rpc.batch(calls)
        headers = self._headers(numbers, raw_headers, first, cursor_hash)
        deposits = self._deposits(logs, first, last, dict(headers))
        count = decode_deposit_count(parse_data(count_data, "eth_call"))
        _check_indexes(deposits, first, last, count_before, count)
        return RangeRead(first, last, deposits, headers, count)

    @staticmethod
    def _headers(
        numbers: list[int], raw: list[Any], first: int, cursor_hash: str | None
    ) -> list[tuple[int, str]]:
        headers: list[tuple[int, str]] = []
        parent = cursor_hash if numbers[0] == first else None
        previous = numbers[0] - 1
        for number, value in zip(numbers, raw, strict=True):
            if value is None:
                raise ChainMovedDuringScan(
                    f"block {number} vanished while its range was read", data={"block": number}
                )
            block = parse_block(value)
            if block.number != number:
                raise RpcResponseInvalid(f"asked for block {number}, got {block.number}")
            if parent is not None and number == previous + 1 and block.parent_hash != parent:
                raise ChainMovedDuringScan(
                    f"block {number} does not follow the recorded block {previous}",
                    data={"block": number, "parent_hash": block.parent_hash, "expected": parent},
                )
            headers.append((number, block.hash))
            parent, previous = block.hash, number
        return headers

    def _deposits(
        self, logs: Any, first: int, last: int, hashes: dict[int, str]
    ) -> list[ObservedDeposit]:
        if not isinstance(logs, list):
            raise RpcResponseInvalid("eth_getLogs: result is not a list")
        deposits: list[ObservedDeposit] = []
        for raw in logs:
            if isinstance(raw, dict) and raw.get("removed") is True:
                raise ChainMovedDuringScan("the node returned a removed log", data={})
            event = decode_raw_deposit_log(raw, deposit_contract=self._contract)
            number = event.block_number
            if not first <= number <= last:
                raise RpcResponseInvalid(f"eth_getLogs: a log of block {number} outside the range")
            known = hashes.get(number)
            if known is not None and known != event.block_hash:
                raise ChainMovedDuringScan(
                    f"a log of block {number} carries another block hash than its header",
                    data={"block": number, "log_block_hash": event.block_hash, "header": known},
                )
            deposits.append(
                ObservedDeposit(
                    pubkey=event.pubkey,
                    withdrawal_credentials=event.withdrawal_credentials,
                    amount_gwei=event.amount_gwei,
                    deposit_index=event.index,
                    block_number=number,
                    block_hash=event.block_hash,
                    tx_hash=event.tx_hash,
                    log_index=event.log_index,
                )
            )
        deposits.sort(key=lambda d: (d.block_number, d.log_index))
        for before, after in zip(deposits, deposits[1:], strict=False):
            if (before.block_number, before.log_index) == (after.block_number, after.log_index):
                raise RpcResponseInvalid("eth_getLogs: the same log appears twice")
        return deposits


def _check_indexes(
    deposits: list[ObservedDeposit], first: int, last: int, count_before: int, count_after: int
) -> None:
    expected = count_after - count_before
    contiguous = all(d.deposit_index == count_before + i for i, d in enumerate(deposits))
    if len(deposits) != expected or not contiguous:
        raise IndexIncomplete(
            f"blocks {first}..{last}: {len(deposits)} DepositEvent log(s) read, the deposit"
            f" contract counts {expected} ({count_before} -> {count_after})",
            data={
                "first_block": first,
                "last_block": last,
                "logs": len(deposits),
                "count_before": count_before,
                "count_after": count_after,
            },
        )


class AdaptiveRange:
    """How many blocks to ask for next: halve when the node refuses, double on success.

    A refusal also lowers a ceiling the size may grow back to, so a node with a fixed
    range limit is not asked for a refused size again after every success; the ceiling
    is lifted (doubled) after ``probe_after`` successes in a row, to find out whether
    the limit was a passing one (a timeout under load) rather than a rule.
    """

    def __init__(self, maximum: int, *, probe_after: int = 16) -> None:
        if maximum < 1:
            raise ValueError("the maximum block range must be at least 1")
        self.maximum = maximum
        self.size = maximum
        self.ceiling = maximum
        self._probe_after = probe_after
        self._successes = 0

    def succeeded(self) -> None:
        self._successes += 1
        if self._successes >= self._probe_after:
            self.ceiling = min(self.maximum, self.ceiling * 2)
            self._successes = 0
        self.size = min(self.ceiling, self.size * 2)

    def refused(self) -> bool:
        """Shrink after a refusal; False when already at one block (nothing left to try)."""
        self._successes = 0
        if self.size == 1:
            return False
        self.size = max(1, self.size // 2)
        self.ceiling = self.size
        return True
