"""See an operation's nonce through to exactly one mined transaction.

Rules (OWNER_SEND never sends twice):

1. Sign under the signer lock. The nonce reservation, the signed bytes and hash on
   the operation, and the `operation_transactions` row are written in one store
   transaction that also re-checks the lease (and, for a deposit, the guards), then
   committed BEFORE anything is broadcast. A crash before the commit leaves nothing
   behind; a crash after it leaves bytes that the next worker broadcasts again.
2. A claimed operation that already has a transaction never signs a new nonce: it
   looks for a receipt of every transaction it signed for that nonce, else
   re-broadcasts the current bytes (identical bytes cannot be mined twice).
3. Node answers to a broadcast are reconciled, never taken as failure blindly:
   "already known" means pending; "nonce too low" means the nonce is used, so the
   receipts decide (ours: settle it; none of ours, twice in a row with the chain's
   mined nonce past ours: the key was used elsewhere and the operation signs afresh);
   "replacement transaction underpriced" and "insufficient funds" mean wait.
4. Not mined within `replace_after_s` of its broadcast: re-sign the same call with the
   same nonce and at least +10 % on both fee fields, up to the fee cap (above it the
   operation keeps waiting). Every replacement is stored before it is broadcast.
5. A receipt counts after `confirmations` blocks on top of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from eth_account.typed_transactions.typed_transaction import TypedTransaction
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from sqlalchemy.ext.asyncio import AsyncSession

from seat_manager.adapters.chain.errors import RpcNodeError
from seat_manager.adapters.chain.models import Receipt
from seat_manager.adapters.chain.rpc import RpcClient
from seat_manager.adapters.chain.signer import LocalSigner, SignedTransaction
from seat_manager.adapters.db import nonces, queue
from seat_manager.adapters.db.nonces import StoredTx
from seat_manager.adapters.db.queue import ClaimedOperation
from seat_manager.adapters.db.uow import UnitOfWorkFactory
from seat_manager.domain.policy import FeeCapTooLow, Fees, replacement_fees

NONCE_CONSUMED_UNCONFIRMED = "NONCE_CONSUMED_UNCONFIRMED"

Step = Callable[[str, ClaimedOperation], Awaitable[None]]
V = TypeVar("V")

_KNOWN = ("already known", "known transaction", "already imported", "alreadyknown")
_NONCE_USED = ("nonce too low", "nonce is too low", "oldnonce", "nonce has already been used")
_UNDERPRICED = ("underpriced", "fee too low")
_NO_FUNDS = ("insufficient funds",)


@dataclass(frozen=True)
class TxRequest:
    to: str
    data: bytes
    value: int
    gas: int
    label: str


@dataclass(frozen=True)
class Mined:
    """A receipt with enough confirmations for one of the operation's transactions."""

    receipt: Receipt
    tx: StoredTx


@dataclass(frozen=True)
class Pending:
    """Not settled yet; the worker requeues the operation (not a failure)."""

    code: str
    message: str


@dataclass(frozen=True)
class NonceConsumed:
    """The nonce was used by a transaction that is not ours: sign afresh if still needed."""

    nonce: int
    message: str
    signer_address: str


class LeaseLost(Exception):
    """Another worker holds the operation now; this one must stop touching it."""


@dataclass(frozen=True)
class TrackerConfig:
    chain_id: int
    confirmations: int
    fee_cap_wei: int
    receipt_wait_s: float
    poll_interval_s: float
    replace_after_s: float
    lease_s: float


def classify_send_error(exc: RpcNodeError) -> str:
    """'known', 'nonce_used', 'underpriced', 'no_funds' or 'other', from the node's words."""
    text = exc.rpc_message.lower()
    for kind, needles in (
        ("known", _KNOWN),
        ("nonce_used", _NONCE_USED),
        ("underpriced", _UNDERPRICED),
        ("no_funds", _NO_FUNDS),
    ):
        if any(needle in text for needle in needles):
            return kind
    return "other"


def decode_raw(raw_hex: str) -> dict[str, Any]:
    raw = HexBytes(bytes.fromhex(raw_hex.removeprefix("0x")))
    return dict(TypedTransaction.from_bytes(raw).as_dict())


class TransactionTracker:
    def __init__(
        self,
        rpc: RpcClient,
        signer: LocalSigner,
        uow: UnitOfWorkFactory,
        config: TrackerConfig,
        *,
        clock: Callable[[], datetime],
        on_step: Step | None = None,
    ) -> None:
        self._rpc = rpc
        self._signer = signer
        self._uow = uow
        self._config = config
        self._clock = clock
        self._on_step = on_step

    async def step(self, name: str, op: ClaimedOperation) -> None:
        """A named point in the life of a transaction (tests crash the process here)."""
        if self._on_step is not None:
            await self._on_step(name, op)

    # ---- signing -------------------------------------------------------------------------

    async def sign_and_store(
        self,
        op: ClaimedOperation,
        request: TxRequest,
        fees: Fees,
        check: Callable[[AsyncSession], Awaitable[V | None]],
    ) -> StoredTx | V:
        """Reserve a nonce, sign, store, commit; returns the stored transaction.

        `check` runs inside the transaction after the signer lock: when it returns a
        verdict, the transaction is rolled back (no nonce taken) and the verdict returned.
        """
        pending = await self._rpc.get_transaction_count(self._signer.address, "pending")
        now = self._clock()
        async with self._uow() as uow:
            session = uow.session
            if not await queue.heartbeat(
                session, op.operation_id, op.lease_owner, now, self._config.lease_s
            ):
                raise LeaseLost(op.operation_id)
            next_free = await nonces.lock_signer(session, self._signer.address, pending, now)
            verdict = await check(session)
            if verdict is not None:
                return verdict
            nonce = await nonces.reserve_nonce(
                session,
                address=self._signer.address,
                next_free=next_free,
                operation_id=op.operation_id,
                now=now,
            )
            signed = self._sign(nonce, request.to, request.data, request.value, request.gas, fees)
            tx = await self._store(session, op, nonce, signed, request.gas, fees, now)
            await self.step("nonce_reserved", op)
            await uow.commit()
        await self.step("signed", op)
        return tx

    def _sign(
        self, nonce: int, to: str, data: bytes, value: int, gas: int, fees: Fees
    ) -> SignedTransaction:
        return self._signer.sign_transaction(
            {
                "type": 2,
                "chainId": self._config.chain_id,
                "nonce": nonce,
                "to": to,
                "value": value,
                "data": data,
                "gas": gas,
                "maxFeePerGas": fees.max_fee_per_gas,
                "maxPriorityFeePerGas": fees.max_priority_fee_per_gas,
            }
        )

    async def _store(
        self,
        session: AsyncSession,
        op: ClaimedOperation,
        nonce: int,
        signed: SignedTransaction,
        gas: int,
        fees: Fees,
        now: datetime,
    ) -> StoredTx:
        raw_hex = "0x" + signed.raw.hex()
        tx = nonces.add_transaction(
            session,
            operation_id=op.operation_id,
            signer_address=self._signer.address,
            nonce=nonce,
            tx_hash=signed.tx_hash,
            raw_hex=raw_hex,
            gas_limit=gas,
            fees=fees,
            now=now,
        )
        stored = await queue.record_transaction(
            session,
            op.operation_id,
            op.lease_owner,
            nonce=nonce,
            tx_hash=signed.tx_hash,
            raw_hex=raw_hex,
            now=now,
        )
        if not stored:
            raise LeaseLost(op.operation_id)
        return tx

    # ---- following a signed nonce ----------------------------------------------------------

    async def follow(self, op: ClaimedOperation) -> Mined | Pending | NonceConsumed:
        """Settle, re-broadcast, wait, or replace the operation's current transaction."""
        assert op.tx_nonce is not None
        async with self._uow() as uow:
            txs = await nonces.transactions_for(uow.session, op.operation_id, op.tx_nonce)
        if not txs:  # signed before operation_transactions existed: the op row has it
            raise LookupError(f"operation {op.operation_id} has no stored transactions")
        found = await self._receipt_of_any(txs)
        if found is not None:
            return await self._settle(op, *found)
        outcome = await self.broadcast(op, txs[-1])
        if isinstance(outcome, NonceConsumed):
            found = await self._receipt_of_any(txs)
            if found is not None:
                return await self._settle(op, *found)
            return await self._nonce_used_elsewhere(op, outcome)
        if outcome is not None:
            return outcome
        return await self.wait(op, txs)

    async def broadcast(self, op: ClaimedOperation, tx: StoredTx) -> Pending | NonceConsumed | None:
        """Send the stored bytes; None when the node has them (accepted or known)."""
        try:
            await self._rpc.send_raw_transaction(bytes.fromhex(tx.raw_tx.removeprefix("0x")))
        except RpcNodeError as exc:
            kind = classify_send_error(exc)
            if kind == "nonce_used":
                return NonceConsumed(tx.nonce, exc.rpc_message, tx.signer_address)
            if kind == "underpriced":
                return Pending("TX_UNDERPRICED", f"node refused {tx.tx_hash}: {exc.rpc_message}")
            if kind == "no_funds":
                return Pending(
                    "INSUFFICIENT_FUNDS",
                    f"signer {self._signer.address} cannot pay for {tx.tx_hash}: {exc.rpc_message}",
                )
            if kind != "known":
                raise
        now = self._clock()
        async with self._uow() as uow:
            await nonces.mark_broadcast(uow.session, tx.tx_hash, now)
            await uow.commit()
        if tx.broadcast_at is None:  # the replacement clock starts at the first broadcast
            tx.broadcast_at = now
        await self.step("broadcast", op)
        return None

    async def wait(self, op: ClaimedOperation, txs: list[StoredTx]) -> Mined | Pending:
        """Poll for a receipt for a while; replace the transaction if it is overdue."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._config.receipt_wait_s
        while True:
            found = await self._receipt_of_any(txs)
            if found is not None:
                return await self._settle(op, *found)
            if loop.time() >= deadline:
                break
            await asyncio.sleep(self._config.poll_interval_s)
        current = txs[-1]
        since = current.broadcast_at or current.created_at
        if self._clock() - since < timedelta(seconds=self._config.replace_after_s):
            return Pending("TX_PENDING", f"{current.tx_hash} (nonce {current.nonce}) not mined yet")
        return await self._replace(op, current)

    async def _replace(self, op: ClaimedOperation, current: StoredTx) -> Pending:
        if current.signer_address != self._signer.address:
            return Pending(
                "TX_PENDING_OTHER_SIGNER",
                f"{current.tx_hash} was signed by {current.signer_address} before a key change;"
                " it can only be re-broadcast, not replaced, with the current key",
            )
        old = Fees(current.max_fee_per_gas, current.max_priority_fee_per_gas)
        try:
            fees = replacement_fees(
                old, suggested=await self.suggested_fees(), cap=self._config.fee_cap_wei
            )
        except FeeCapTooLow as exc:
            return Pending("TX_PENDING_FEE_CAP", f"{current.tx_hash} not mined; {exc}")
        fields = decode_raw(current.raw_tx)
        signed = self._sign(
            current.nonce,
            to_checksum_address(bytes(fields["to"])),
            bytes(fields["data"]),
            int(fields["value"]),
            int(fields["gas"]),
            fees,
        )
        now = self._clock()
        async with self._uow() as uow:
            tx = await self._store(
                uow.session, op, current.nonce, signed, current.gas_limit, fees, now
            )
            await uow.commit()
        await self.broadcast(op, tx)
        return Pending(
            "TX_REPLACED",
            f"{current.tx_hash} not mined after {self._config.replace_after_s:g}s; replaced by"
            f" {tx.tx_hash} with {fees.describe()}",
        )

    async def suggested_fees(self) -> Fees:
        latest = await self._rpc.get_block("latest")
        base_fee = (latest.base_fee_per_gas if latest is not None else None) or 0
        tip = await self._rpc.max_priority_fee_per_gas()
        return Fees(2 * base_fee + tip, tip)

    async def base_fee(self) -> int:
        latest = await self._rpc.get_block("latest")
        return (latest.base_fee_per_gas if latest is not None else None) or 0

    async def _receipt_of_any(self, txs: list[StoredTx]) -> tuple[Receipt, StoredTx] | None:
        for tx in reversed(txs):
            receipt = await self._rpc.get_transaction_receipt(tx.tx_hash)
            if receipt is not None:
                return receipt, tx
        return None

    async def _settle(
        self, op: ClaimedOperation, receipt: Receipt, tx: StoredTx
    ) -> Mined | Pending:
        head = await self._rpc.block_number()
        have = head - receipt.block_number
        if have < self._config.confirmations:
            return Pending(
                "TX_AWAITING_CONFIRMATIONS",
                f"{tx.tx_hash} mined in block {receipt.block_number};"
                f" {have}/{self._config.confirmations} confirmations",
            )
        await self.step("receipt", op)
        return Mined(receipt, tx)

    async def _nonce_used_elsewhere(
        self, op: ClaimedOperation, consumed: NonceConsumed
    ) -> Pending | NonceConsumed:
        """No receipt for any of our transactions, yet the node says the nonce is used.

        A lagging node can say so before it serves our receipt, so this is believed only
        when the chain's mined nonce is past ours and the previous attempt saw the same.
        """
        mined = await self._rpc.get_transaction_count(consumed.signer_address, "latest")
        message = (
            f"nonce {consumed.nonce} is used (node: {consumed.message}) and no receipt exists"
            f" for this operation's transactions; signer's mined nonce is {mined}"
        )
        if mined <= consumed.nonce or op.error_code != NONCE_CONSUMED_UNCONFIRMED:
            return Pending(NONCE_CONSUMED_UNCONFIRMED, message)
        return NonceConsumed(consumed.nonce, message, consumed.signer_address)

    async def forget(self, op: ClaimedOperation) -> None:
        async with self._uow() as uow:
            if not await queue.forget_transaction(
                uow.session, op.operation_id, op.lease_owner, self._clock()
            ):
                raise LeaseLost(op.operation_id)
            await uow.commit()
