"""Send one transaction with the owner key and wait until it is mined.

Deliberately small: the deploy command needs it, and it shows the steps the operation
worker must take too (nonce from the pending state, a gas estimate that surfaces the
revert reason before anything is signed, EIP-1559 fees, the signed bytes and hash
known before broadcast, a bounded wait for the receipt, a reverted receipt treated as
a failure). The worker owns persistence of the signed bytes; this does not.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from seat_manager.adapters.chain.contracts import describe_revert
from seat_manager.adapters.chain.errors import RpcNodeError, TransactionFailed
from seat_manager.adapters.chain.models import Receipt
from seat_manager.adapters.chain.rpc import RpcClient
from seat_manager.adapters.chain.signer import LocalSigner, SignedTransaction

GAS_HEADROOM_PERCENT = 20


@dataclass(frozen=True)
class TransactionRequest:
    to: str | None
    """None creates a contract from `data`."""
    data: bytes
    value: int = 0
    label: str = "transaction"


class TransactionSender:
    def __init__(
        self,
        rpc: RpcClient,
        signer: LocalSigner,
        chain_id: int,
        *,
        receipt_timeout: float = 120.0,
        poll_interval: float = 0.25,
    ) -> None:
        self._rpc = rpc
        self._signer = signer
        self._chain_id = chain_id
        self._receipt_timeout = receipt_timeout
        self._poll_interval = poll_interval

    async def prepare(self, request: TransactionRequest) -> SignedTransaction:
        """Estimate, price and sign; raises TransactionFailed if the call would revert."""
        sender = self._signer.address
        call = {"from": sender, "data": "0x" + request.data.hex(), "value": hex(request.value)}
        if request.to is not None:
            call["to"] = request.to
        try:
            estimate = await self._rpc.estimate_gas(call)
        except RpcNodeError as exc:
            revert = exc.revert_data
            reason = describe_revert(revert) if revert is not None else exc.rpc_message
            raise TransactionFailed(
                f"{request.label} would revert: {reason}", data={"label": request.label}
            ) from None
        nonce = await self._rpc.get_transaction_count(sender, "pending")
        priority_fee = await self._rpc.max_priority_fee_per_gas()
        latest = await self._rpc.get_block("latest")
        base_fee = latest.base_fee_per_gas if latest is not None else None
        tx: dict[str, object] = {
            "type": 2,
            "chainId": self._chain_id,
            "nonce": nonce,
            "gas": estimate + estimate * GAS_HEADROOM_PERCENT // 100,
            "maxPriorityFeePerGas": priority_fee,
            "maxFeePerGas": 2 * (base_fee or 0) + priority_fee,
            "value": request.value,
            "data": request.data,
        }
        if request.to is not None:
            tx["to"] = request.to
        return self._signer.sign_transaction(tx)

    async def send(self, request: TransactionRequest) -> Receipt:
        signed = await self.prepare(request)
        await self._rpc.send_raw_transaction(signed.raw)
        receipt = await self.wait_for_receipt(signed.tx_hash, request.label)
        if not receipt.succeeded:
            raise TransactionFailed(
                f"{request.label} reverted in block {receipt.block_number}",
                data={"label": request.label, "tx_hash": receipt.transaction_hash},
            )
        return receipt

    async def wait_for_receipt(self, tx_hash: str, label: str = "transaction") -> Receipt:
        deadline = time.monotonic() + self._receipt_timeout
        while True:
            receipt = await self._rpc.get_transaction_receipt(tx_hash)
            if receipt is not None:
                return receipt
            if time.monotonic() >= deadline:
                raise TransactionFailed(
                    f"{label}: no receipt for {tx_hash} after {self._receipt_timeout:.0f}s",
                    data={"label": label, "tx_hash": tx_hash},
                )
            await asyncio.sleep(self._poll_interval)
