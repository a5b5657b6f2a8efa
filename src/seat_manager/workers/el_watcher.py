"""The execution-layer lifecycle watcher: one cycle of the deposit index, reorg-safe.

A cycle (``ElDepositWatcher.run_cycle(now)``) does, in order:

1. Verify the cursor. The hash of the last scanned block (``el_last_scanned_block`` /
   ``el_last_scanned_block_hash`` in watcher_state) must still be canonical. If not,
   walk back through the stored hashes (el_blocks) to the newest one that is, and in
   one transaction delete the index rows and block hashes above it, rewind the cursor,
   and move the seats whose evidence rested on the abandoned blocks (see
   ``domain.deposit_matching``). If no stored hash is canonical, the reorg is deeper
   than the window: raise ``ReorgTooDeep`` and change nothing.
2. Scan from the cursor + 1 up to head − confirmations, range by range
   (``el_fetch.RangeReader``: logs, deposit count and headers in one batch, checked;
   the next range is asked for while this one is parsed and checked).
   A refused range is retried at half the size; successes double it back.
3. Record what was read in ONE transaction: new deposits (insert-if-absent), the seat
   moves they cause, the hashes of the blocks to remember, the new cursor and the
   deposit count at it. Ranges are read ahead while the previous batch is written, and
   the ranges read meanwhile are written together (consecutive, so still one atomic
   step of the cursor). The count check is made inside the transaction, against the
   rows really in the table, before the commit; a failure rolls everything back, so
   the cursor can never pass a block whose deposits are not recorded.

Completeness is relative to the start: before the first range the watcher reads the
contract's deposit count at ``start_block - 1`` (0 when the start is block 0, or when
the contract did not exist yet) and keeps "the count at the cursor" in
``el_deposit_count``; every range must add exactly count(last) − count(cursor) rows,
with contiguous deposit indexes. Starting at or before the deposit contract's
deployment therefore indexes every deposit ever made; a later start is accepted, but
deposits before it are unknown to the pubkey checks (say so to operators).

The reorg window is counted from the head: hashes are kept for every scanned block
within ``reorg_window`` blocks of the head at scan time (plus the cursor block), so a
reorg that replaces at most that many blocks at the tip finds its common ancestor.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from seat_manager.adapters.chain.errors import (
    DepositLogInvalid,
    RpcNodeError,
    RpcResponseInvalid,
    RpcTransportError,
)
from seat_manager.adapters.chain.models import parse_block, parse_quantity
from seat_manager.adapters.chain.rpc import RpcClient
from seat_manager.adapters.db.uow import UnitOfWorkFactory
from seat_manager.domain.deposit_matching import EL_WATCHER
from seat_manager.domain.errors import SeatManagerError
from seat_manager.domain.seats import SeatStatus
from seat_manager.workers.el_errors import (
    ChainMovedDuringScan,
    IndexIncomplete,
    ReorgTooDeep,
)
from seat_manager.workers.el_fetch import (
    AdaptiveRange,
    RangeRead,
    RangeReader,
    RawRange,
    merge_reads,
)
from seat_manager.workers.el_metrics import ElWatcherMetrics
from seat_manager.workers.el_seats import apply_new_deposits, apply_reorg
from seat_manager.workers.el_state import (
    Cursor,
    expect_cursor,
    load_cursor,
    save_cursor,
    save_health,
)

READ_AHEAD = 4
"""Ranges read ahead of the writer at most (bounds memory when the store is slow)."""

IN_FLIGHT = 2
"""Range batches asked of the node at once (see ``_read_ahead``)."""

_CONNECT_FAILURES = frozenset({"ConnectError", "ConnectTimeout"})


@dataclass(frozen=True)
class ElCycleResult:
    """What one cycle did. ``to_block`` is the cursor afterwards (None: never scanned)."""

    head: int
    target: int
    from_block: int | None
    to_block: int | None
    ranges: int
    deposits_indexed: int
    seats_moved: int
    reorg_depth: int
    rewound_to: int | None
    range_size: int

    @property
    def lag(self) -> int:
        return self.head - (self.to_block if self.to_block is not None else -1)

    @property
    def caught_up(self) -> bool:
        return self.to_block is not None and self.to_block >= self.target


@dataclass(frozen=True)
class _Verified:
    head: int
    depth: int = 0
    rewound_to: int | None = None
    moved: int = 0


def shrinkable(exc: Exception) -> bool:
    """Errors a smaller range may avoid: node refusals (too many results, range limits),
    timeouts and broken or truncated answers, logs missing from a big answer. A node
    that refuses connections or a chain that moved gains nothing from a smaller range."""
    if isinstance(exc, RpcTransportError):
        return exc.data.get("failure") not in _CONNECT_FAILURES
    return isinstance(exc, RpcNodeError | RpcResponseInvalid | DepositLogInvalid | IndexIncomplete)


class ElDepositWatcher:
    """Indexes DepositEvents and moves seats; one ``run_cycle`` per poll (see module doc)."""

    def __init__(
        self,
        rpc: RpcClient,
        uow_factory: UnitOfWorkFactory,
        deposit_contract: str,
        *,
        start_block: int = 0,
        confirmations: int = 12,
        reorg_window: int = 64,
        max_range: int = 5000,
        max_ranges_per_cycle: int = 100,
        metrics: ElWatcherMetrics | None = None,
    ) -> None:
        if start_block < 0 or confirmations < 0 or reorg_window < 1 or max_ranges_per_cycle < 1:
            raise ValueError("start_block/confirmations >= 0, reorg window and ranges >= 1")
        self._rpc = rpc
        self._uows = uow_factory
        self._reader = RangeReader(rpc, deposit_contract)
        self._start = start_block
        self._confirmations = confirmations
        self._window = reorg_window
        self._ranges = AdaptiveRange(max_range)
        self._max_ranges = max_ranges_per_cycle
        self._metrics = metrics

    @property
    def range_size(self) -> int:
        """How many blocks the next eth_getLogs will ask for."""
        return self._ranges.size

    async def run_cycle(self, now: datetime) -> ElCycleResult:
        started = time.perf_counter()
        try:
            result = await self._cycle(now)
        except Exception as exc:
            if self._metrics is not None:
                kind = exc.code if isinstance(exc, SeatManagerError) else type(exc).__name__
                self._metrics.errors.labels(kind).inc()
            raise
        finally:
            if self._metrics is not None:
                self._metrics.cycle_seconds.observe(time.perf_counter() - started)
        if self._metrics is not None:
            self._metrics.head_block.set(result.head)
            self._metrics.lag_blocks.set(result.lag)
            self._metrics.range_size.set(result.range_size)
            if result.to_block is not None:
                self._metrics.scanned_block.set(result.to_block)
        return result

    # ---- the cycle -----------------------------------------------------------------------

    async def _cycle(self, now: datetime) -> ElCycleResult:
        cursor = await load_cursor(self._uows, self._start)
        verified = await self._verify(cursor, now)
        head = verified.head
        target = head - self._confirmations
        if cursor.count is None and cursor.block < target:
            await self._initial_count(cursor)
        first_block = cursor.block + 1 if cursor.block < target else None
        ranges = indexed = moved = 0
        if cursor.block < target:
            # Ranges are read ahead while earlier ones are written, and everything read
            # by the time the store is free again is written in one transaction: the
            # node and the store work at once, and a slow store commits less often.
            reads: asyncio.Queue[RangeRead | Exception | None] = asyncio.Queue(READ_AHEAD)
            reader = asyncio.create_task(self._read_ahead(cursor, head, target, reads))
            try:
                finished = False
                while not finished:
                    items = [await reads.get()]
                    while not reads.empty():
                        items.append(reads.get_nowait())
                    batch = [item for item in items if isinstance(item, RangeRead)]
                    finished = not isinstance(items[-1], RangeRead)
                    if batch:
                        merged = merge_reads(batch)
                        added, seats = await self._record(cursor, merged, head, now)
                        cursor = Cursor.written(merged.last, merged.last_hash, merged.deposit_count)
                        ranges, indexed, moved = ranges + len(batch), indexed + added, moved + seats
                    if isinstance(items[-1], Exception):
                        raise items[-1]
            finally:
                await _discard(reader)
        if ranges == 0:
            await save_health(self._uows, head, now)
        return ElCycleResult(
            head=head,
            target=target,
            from_block=first_block,
            to_block=None if cursor.stored is None else cursor.block,
            ranges=ranges,
            deposits_indexed=indexed,
            seats_moved=moved + verified.moved,
            reorg_depth=verified.depth,
            rewound_to=verified.rewound_to,
            range_size=self._ranges.size,
        )

    async def _initial_count(self, cursor: Cursor) -> None:
        """Deposit count (and hash) at the block before the first one scanned: the offset
        of a start after the contract's first deposits, or of a cursor set by hand."""
        count, block_hash = await self._reader.deposit_count_and_hash(cursor.block)
        if cursor.hash is None:
            cursor.hash, cursor.base = block_hash, (cursor.block, block_hash)
        cursor.count = count

    async def _verify(self, cursor: Cursor, now: datetime) -> _Verified:
        """The head; if the cursor block is no longer canonical, rewind (``cursor`` too)."""
        if cursor.hash is None:
            return _Verified(
                parse_quantity(await self._rpc.request("eth_blockNumber"), "eth_blockNumber")
            )
        raw_head, raw_block = await self._rpc.batch(
            [("eth_blockNumber", []), ("eth_getBlockByNumber", [hex(cursor.block), False])]
        )
        head = parse_quantity(raw_head, "eth_blockNumber")
        if cursor.block > head:
            raise ChainMovedDuringScan(
                f"the node's head {head} is behind the scanned block {cursor.block} (a lagging"
                " node, or a reorg to a shorter chain); waiting for it",
                data={"head": head, "cursor_block": cursor.block},
            )
        if raw_block is not None and parse_block(raw_block).hash == cursor.hash:
            return _Verified(head)
        ancestor, ancestor_hash = await self._common_ancestor(cursor, raw_block)
        depth = cursor.block - ancestor
        async with self._uows() as uow:
            await expect_cursor(uow, cursor)
            removed = await uow.deposits.delete_above(ancestor)
            await uow.deposits.delete_blocks_above(ancestor)
            moves = await apply_reorg(uow, removed, ancestor, ancestor_hash, now)
            count = None if cursor.count is None else cursor.count - len(removed)
            uow.audit.record(
                "el.reorg.rewound",
                actor=str(EL_WATCHER),
                now=now,
                subject_type="chain",
                subject_id=str(ancestor),
                reason_code="REORG",
                data={
                    "from_block": cursor.block,
                    "from_hash": cursor.hash,
                    "common_ancestor_block": ancestor,
                    "common_ancestor_hash": ancestor_hash,
                    "depth": depth,
                    "deposits_removed": len(removed),
                },
            )
            await save_cursor(uow, ancestor, ancestor_hash, count, head, now)
            await uow.commit()
        self._count_moves(moves)
        if self._metrics is not None:
            self._metrics.reorgs.inc()
            self._metrics.reorg_depth.set(depth)
        cursor.block, cursor.hash, cursor.count, cursor.stored = (
            ancestor,
            ancestor_hash,
            count,
            str(ancestor),
        )
        return _Verified(head, depth, ancestor, len(moves))

    async def _common_ancestor(self, cursor: Cursor, raw_block: object) -> tuple[int, str]:
        async with self._uows() as uow:
            stored = await uow.deposits.blocks_newest_first()
        canonical = await self._rpc.batch(
            [("eth_getBlockByNumber", [hex(number), False]) for number, _ in stored]
        )
        for (number, stored_hash), raw in zip(stored, canonical, strict=True):
            if raw is not None and parse_block(raw).hash == stored_hash:
                return number, stored_hash
        raise ReorgTooDeep(
            f"block {cursor.block} ({cursor.hash}) is no longer canonical and none of the"
            f" {len(stored)} stored block hash(es) is: the reorg is deeper than the window of"
            f" {self._window} blocks; the EL watcher stops, nothing was changed",
            data={
                "cursor_block": cursor.block,
                "cursor_hash": cursor.hash,
                "canonical_hash": None if raw_block is None else parse_block(raw_block).hash,
                "oldest_stored_block": stored[-1][0] if stored else None,
                "reorg_window": self._window,
            },
        )

    async def _read_ahead(
        self,
        cursor: Cursor,
        head: int,
        target: int,
        reads: asyncio.Queue[RangeRead | Exception | None],
    ) -> None:
        """Read consecutive ranges into ``reads``; ends with None, or the error met.

        Up to ``IN_FLIGHT`` ranges are asked for at once, so the node prepares the next
        answer while this one is parsed and checked. Each is verified in order, against
        the range before it; when one is refused, those asked for after it are dropped
        and the scan goes on from the last verified block with a smaller range.
        """
        position, verified = cursor, 0
        fetches: deque[asyncio.Task[RawRange]] = deque()
        planned = position.block  # the last block asked for
        try:
            while True:
                while (
                    len(fetches) < IN_FLIGHT
                    and planned < target
                    and verified + len(fetches) < self._max_ranges
                ):
                    first, planned = planned + 1, min(planned + self._ranges.size, target)
                    fetches.append(asyncio.create_task(self._fetch(first, planned, head)))
                if not fetches:
                    break
                try:
                    read = self._verify_range(await fetches[0], position)
                except Exception as exc:
                    if not self._shrink(exc):
                        raise
                    await _cancel_all(fetches)
                    planned = position.block
                    continue
                fetches.popleft()
                self._ranges.succeeded()
                await reads.put(read)
                position = Cursor.written(read.last, read.last_hash, read.deposit_count)
                verified += 1
        except Exception as exc:  # noqa: BLE001 - handed to the writer, which raises it
            await reads.put(exc)
            return
        finally:
            await _cancel_all(fetches)
        await reads.put(None)

    def _fetch(self, first: int, last: int, head: int) -> Coroutine[Any, Any, RawRange]:
        return self._reader.fetch(first, last, head=head, window=self._window)

    def _verify_range(self, raw: RawRange, cursor: Cursor) -> RangeRead:
        assert cursor.count is not None
        return self._reader.verify(raw, cursor_hash=cursor.hash, count_before=cursor.count)

    def _shrink(self, exc: Exception) -> bool:
        """True when ``exc`` is worth a smaller range, and the range was made smaller."""
        if isinstance(exc, ChainMovedDuringScan) or not shrinkable(exc):
            return False
        if not self._ranges.refused():
            return False
        if self._metrics is not None:
            kind = exc.code if isinstance(exc, SeatManagerError) else type(exc).__name__
            self._metrics.range_refusals.labels(kind).inc()
        return True

    async def _record(
        self, cursor: Cursor, read: RangeRead, head: int, now: datetime
    ) -> tuple[int, int]:
        """One transaction: deposits, seat moves, block hashes, cursor. (added, moved)."""
        assert cursor.count is not None
        async with self._uows() as uow:
            await expect_cursor(uow, cursor)
            known = await uow.deposits.keys_between(read.first, read.last)
            new = [row for row in read.rows if (row[5], row[7]) not in known]
            if known:  # a rescan: skip what is there
                inserted = await uow.deposits.insert_rows(new, now)
            else:  # a first scan of these blocks, the usual case: a plain bulk append
                inserted = await uow.deposits.append_rows(new, now)
            # Rows of these blocks now in the table: those found there plus those the
            # database reports inserted; both must add up to the contract's count.
            rows = len(known) + inserted
            if inserted != len(new) or rows != read.deposit_count - cursor.count:
                raise IndexIncomplete(
                    f"blocks {read.first}..{read.last} hold {rows} indexed deposit(s), the"
                    f" deposit contract counts {read.deposit_count - cursor.count}",
                    data={"first_block": read.first, "last_block": read.last, "rows": rows},
                )
            moves = await apply_new_deposits(uow, new, read.last, now)
            blocks = [cursor.base] if cursor.base is not None else []
            await uow.deposits.record_blocks([*blocks, *read.headers], now)
            await uow.deposits.prune_blocks_below(min(read.last, head - self._window))
            await save_cursor(uow, read.last, read.last_hash, read.deposit_count, head, now)
            await uow.commit()
        self._count_moves(moves)
        if self._metrics is not None:
            self._metrics.deposits_indexed.inc(len(new))
        return len(new), len(moves)

    def _count_moves(self, moves: list[SeatStatus]) -> None:
        if self._metrics is not None:
            for status in moves:
                self._metrics.seats_moved.labels(status.value).inc()


async def _discard(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(BaseException):
        await task


async def _cancel_all(tasks: deque[asyncio.Task[RawRange]]) -> None:
    while tasks:
        await _discard(tasks.popleft())
