"""Guards run immediately before a DEPOSIT is signed (front-running and reserve).

The question "was a deposit ever made for this pubkey?" is answered for every block up
to a head block H, and the transaction then carries the deposit root read AT H:

- blocks up to the watcher's scan cursor S: the `el_deposits` index, which must be
  caught up (S >= H - confirmations - max lag) or the deposit waits
  (WATCHER_NOT_CAUGHT_UP);
- blocks S+1..H, which the index has not reached: one `eth_getLogs` over that short
  range, decoded here;
- blocks after H: the deposit contract's root commits to every deposit ever made, and
  `VaultFactory.deposit` reverts unless the root is still the one read at H. A deposit
  for our pubkey landing after H (front-running in the mempool included) therefore
  makes our transaction revert instead of sending 32 ETH.

Any deposit found for the pubkey fails the operation with PUBKEY_ALREADY_DEPOSITED
(the watcher moves the seat to EXCEPTION from the same log). Inside the signing
transaction, after the signer lock, the store checks run again (the index may have
moved, the seat may have left ENROLLED) together with reserve coverage.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from eth_abi.abi import decode
from sqlalchemy.ext.asyncio import AsyncSession

from seat_manager.adapters.chain import contracts
from seat_manager.adapters.chain.deposit_logs import DEPOSIT_EVENT_TOPIC_HEX, decode_deposit_log
from seat_manager.adapters.chain.plans import Plan
from seat_manager.adapters.chain.results import ExecutionResult, Failed, Wait
from seat_manager.adapters.chain.rpc import RpcClient
from seat_manager.adapters.db import deposit_guard
from seat_manager.adapters.db.queue import ClaimedOperation
from seat_manager.adapters.db.uow import UnitOfWorkFactory
from seat_manager.domain.policy import (
    RESERVE_COVERAGE_LIMIT_EXCEEDED,
    WatcherFreshness,
    reserve_coverage,
)
from seat_manager.domain.seats import SeatStatus

WATCHER_NOT_CAUGHT_UP = "WATCHER_NOT_CAUGHT_UP"
PUBKEY_ALREADY_DEPOSITED = "PUBKEY_ALREADY_DEPOSITED"
SEAT_NOT_DEPOSITABLE = "SEAT_NOT_DEPOSITABLE"


class GuardConfig(Protocol):
    @property
    def deposit_contract(self) -> str: ...
    @property
    def confirmations(self) -> int: ...
    @property
    def watcher_max_lag_blocks(self) -> int: ...
    @property
    def reserve_limit_wei(self) -> int: ...
    @property
    def pending_delay_s(self) -> float: ...


@dataclass(frozen=True)
class Guarded:
    """The plan carrying the root read at `head`, and the index cursor checked then."""

    plan: Plan
    scanned: int
    head: int


class DepositGuards:
    def __init__(self, rpc: RpcClient, uow: UnitOfWorkFactory, config: GuardConfig) -> None:
        self._rpc = rpc
        self._uow = uow
        self._config = config

    def _freshness(self, scanned: int | None, head: int) -> WatcherFreshness:
        return WatcherFreshness(
            scanned, head, self._config.confirmations, self._config.watcher_max_lag_blocks
        )

    async def before_signing(self, plan: Plan) -> Guarded | ExecutionResult:
        """Chain-side checks; returns the plan carrying the deposit root read at head."""
        head = await self._rpc.block_number()
        async with self._uow() as uow:
            scanned = await deposit_guard.last_scanned_block(uow.session)
        freshness = self._freshness(scanned, head)
        if not freshness.caught_up or scanned is None:
            return Wait(WATCHER_NOT_CAUGHT_UP, freshness.describe(), self._config.pending_delay_s)
        if scanned < head:
            logs = await self._rpc.get_logs(
                address=self._config.deposit_contract,
                from_block=scanned + 1,
                to_block=head,
                topics=[DEPOSIT_EVENT_TOPIC_HEX],
            )
            for log in logs:
                event = decode_deposit_log(log, deposit_contract=self._config.deposit_contract)
                if event.pubkey == plan.pubkey:
                    return _already_deposited(
                        plan,
                        event.block_number,
                        event.tx_hash,
                        "0x" + event.withdrawal_credentials.hex(),
                        event.amount_gwei,
                        "not yet indexed",
                    )
        raw = await self._rpc.call(
            self._config.deposit_contract, contracts.get_deposit_root_calldata(), block=head
        )
        (root,) = decode(["bytes32"], raw)
        return Guarded(plan.with_deposit_root(bytes(root)), scanned, head)

    def store_check(
        self, op: ClaimedOperation, guarded: Guarded
    ) -> Callable[[AsyncSession], Awaitable[ExecutionResult | None]]:
        plan, scanned_before, head = guarded.plan, guarded.scanned, guarded.head

        async def check(session: AsyncSession) -> ExecutionResult | None:
            scanned = await deposit_guard.last_scanned_block(session)
            if scanned is None or scanned < scanned_before:
                return Wait(
                    WATCHER_NOT_CAUGHT_UP,
                    f"the deposit index went back from block {scanned_before} to {scanned}"
                    " (a reorg?) while the deposit was being prepared",
                    self._config.pending_delay_s,
                )
            for seen in await deposit_guard.deposits_for_pubkey(session, plan.pubkey):
                return _already_deposited(
                    plan,
                    seen.block_number,
                    seen.tx_hash,
                    seen.withdrawal_credentials,
                    seen.amount_gwei,
                    "indexed",
                )
            status = await deposit_guard.seat_status(session, op.seat_id)
            if status != SeatStatus.ENROLLED.value:
                return Failed(
                    SEAT_NOT_DEPOSITABLE,
                    f"seat {op.seat_id} is {status}, not ENROLLED: no deposit is sent for it",
                )
            at_risk = await deposit_guard.principal_at_risk(
                session, excluding_operation=op.operation_id
            )
            coverage = reserve_coverage(
                seats_at_risk=at_risk.seats_at_risk,
                deposits_in_flight=at_risk.deposits_in_flight,
                limit_wei=self._config.reserve_limit_wei,
            )
            if not coverage.within_limit:
                return Failed(
                    RESERVE_COVERAGE_LIMIT_EXCEEDED,
                    "Reserve coverage limit exceeded: " + coverage.describe(),
                    {**coverage.as_data(), "head_block": head},
                )
            return None

        return check


def _already_deposited(
    plan: Plan,
    block_number: int,
    tx_hash: str,
    credentials: str,
    amount_gwei: int,
    source: str,
) -> Failed:
    return Failed(
        PUBKEY_ALREADY_DEPOSITED,
        f"pubkey 0x{plan.pubkey.hex()} already has a deposit ({source}): tx {tx_hash} in"
        f" block {block_number}, withdrawal credentials {credentials}, {amount_gwei} gwei;"
        " our deposit is not sent",
        {
            "pubkey": "0x" + plan.pubkey.hex(),
            "block_number": block_number,
            "tx_hash": tx_hash,
            "withdrawal_credentials": credentials,
            "amount_gwei": amount_gwei,
        },
    )
