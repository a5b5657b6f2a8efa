"""Read one block range of the deposit contract, in one round trip, and prove it whole.

A range is read as a single JSON-RPC batch: the DepositEvent logs of blocks
first..last, the contract's `get_deposit_count()` at `last`, and the headers the
watcher must remember (always `last`; every block of the range within the reorg
window of the head). ``RangeReader.fetch`` asks; ``RangeReader.verify`` checks the answer
against the block before the range, so a range can be asked for before the one ahead of
it is checked. What comes back is checked before anyone may record it:

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
from seat_manager.adapters.chain.deposit_logs import DEPOSIT_EVENT_TOPIC_HEX
from seat_manager.adapters.chain.errors import RpcNodeError, RpcResponseInvalid
from seat_manager.adapters.chain.models import parse_block, parse_data
from seat_manager.adapters.chain.rpc import RpcClient
from seat_manager.adapters.db.deposit_index import DepositRow
from seat_manager.workers.el_decode import decode_deposit_rows
from seat_manager.workers.el_errors import (
    ChainMovedDuringScan,
    DepositCountUnavailable,
    IndexIncomplete,
)

Call = tuple[str, Sequence[Any]]


@dataclass(frozen=True)
class RangeRead:
    """Blocks first..last, checked: their deposits as index rows (chain order), the
    headers to store (ascending, last included) and the deposit count at ``last``."""

    first: int
    last: int
    rows: list[DepositRow]
    headers: list[tuple[int, str]]
    deposit_count: int

    @property
    def last_hash(self) -> str:
        return self.headers[-1][1]


@dataclass(frozen=True)
class RawRange:
    """One range's batch as the node answered it, before any check: a range may be
    fetched before the one ahead of it is checked, but is verified only after it."""

    first: int
    last: int
    numbers: list[int]
    logs: Any
    count_data: Any
    headers: list[Any]


def merge_reads(reads: list[RangeRead]) -> RangeRead:
    """Consecutive reads as one: written together, they commit as one transaction."""
    if len(reads) == 1:
        return reads[0]
    for before, after in zip(reads, reads[1:], strict=False):
        assert after.first == before.last + 1, "reads to merge must be consecutive"
    return RangeRead(
        reads[0].first,
        reads[-1].last,
        [row for read in reads for row in read.rows],
        [header for read in reads for header in read.headers],
        reads[-1].deposit_count,
    )


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

    async def _batch(self, calls: list[Call], counted_at: int) -> list[Any]:
        """The batch's results; a refused eth_call (the only one) becomes a typed error."""
        try:
            return await self._rpc.batch(calls)
        except RpcNodeError as exc:
            if exc.method != "eth_call":
                raise
            raise DepositCountUnavailable(
                f"the node refused get_deposit_count() at block {counted_at}"
                f" ({exc.rpc_message}); without it the range cannot be proven complete. The"
                " node needs the state of every block the watcher scans: use an archive node"
                " (most hosted RPC providers are) or a SEAT_MANAGER_EL_START_BLOCK within the"
                " blocks whose state the node keeps",
                data={
                    "block": counted_at,
                    "rpc_code": exc.rpc_code,
                    "rpc_message": exc.rpc_message,
                },
            ) from exc

    async def deposit_count_and_hash(self, block: int) -> tuple[int, str]:
        """The contract's deposit count at ``block`` and that block's hash (one batch)."""
        count, header = await self._batch(
            [self.count_call(block), ("eth_getBlockByNumber", [hex(block), False])], block
        )
        if header is None:
            raise ChainMovedDuringScan(f"block {block} is not on the node", data={"block": block})
        return decode_deposit_count(parse_data(count, "eth_call")), parse_block(header).hash

    async def fetch(self, first: int, last: int, *, head: int, window: int) -> RawRange:
        """The node's answer for blocks first..last, unchecked (see ``verify``)."""
        numbers = sorted({*range(max(first, head - window), last + 1), last})
        query = {
            "address": self._contract,
            "fromBlock": hex(first),
            "toBlock": hex(last),
            "topics": [DEPOSIT_EVENT_TOPIC_HEX],
        }
        calls: list[Call] = [("eth_getLogs", [query]), self.count_call(last)]
        calls += [("eth_getBlockByNumber", [hex(n), False]) for n in numbers]
        logs, count_data, *raw_headers = await self._batch(calls, last)
        return RawRange(first, last, numbers, logs, count_data, raw_headers)

    def verify(self, raw: RawRange, *, cursor_hash: str | None, count_before: int) -> RangeRead:
        """``raw`` checked against the block before it (its hash and deposit count)."""
        headers = self._headers(raw.numbers, raw.headers, raw.first, cursor_hash)
        rows = self._rows(raw.logs, raw.first, raw.last, headers)
        count = decode_deposit_count(parse_data(raw.count_data, "eth_call"))
        _check_indexes(rows, raw.first, raw.last, count_before, count)
        return RangeRead(raw.first, raw.last, rows, headers, count)

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

    def _rows(
        self, logs: Any, first: int, last: int, headers: list[tuple[int, str]]
    ) -> list[DepositRow]:
        if not isinstance(logs, list):
            raise RpcResponseInvalid("eth_getLogs: result is not a list")
        if any(isinstance(raw, dict) and raw.get("removed") is True for raw in logs):
            raise ChainMovedDuringScan("the node returned a removed log", data={})
        rows = decode_deposit_rows(logs, self._contract)
        rows.sort(key=_position)
        hashes = {number: bytes.fromhex(block_hash[2:]) for number, block_hash in headers}
        previous: tuple[int, int] | None = None
        for row in rows:
            number = row[4]
            if not first <= number <= last:
                raise RpcResponseInvalid(f"eth_getLogs: a log of block {number} outside the range")
            known = hashes.get(number)
            if known is not None and known != row[5]:
                raise ChainMovedDuringScan(
                    f"a log of block {number} carries another block hash than its header",
                    data={"block": number, "log_block_hash": "0x" + row[5].hex()},
                )
            if _position(row) == previous:
                raise RpcResponseInvalid("eth_getLogs: the same log appears twice")
            previous = _position(row)
        return rows


def _position(row: DepositRow) -> tuple[int, int]:
    return row[4], row[7]


def _check_indexes(
    rows: list[DepositRow], first: int, last: int, count_before: int, count_after: int
) -> None:
    expected = count_after - count_before
    contiguous = all(row[3] == count_before + i for i, row in enumerate(rows))
    if len(rows) != expected or not contiguous:
        raise IndexIncomplete(
            f"blocks {first}..{last}: {len(rows)} DepositEvent log(s) read, the deposit"
            f" contract counts {expected} ({count_before} -> {count_after})",
            data={
                "first_block": first,
                "last_block": last,
                "logs": len(rows),
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
