"""Safe (Gnosis Safe 1.4.1) transactions: the EIP-712 safeTxHash, and the two documents
an operator needs to act on a proposal.

Pure functions of their inputs (no I/O), so the hash is unit-tested against known
answers and the chain tests compare it with the Safe's own `getTransactionHash`.

- `safe_tx_hash`: what every owner signs and what `execTransaction` checks. Safe 1.3.0
  and later use the domain `EIP712Domain(uint256 chainId,address verifyingContract)`
  (no name or version), so the hash binds the transaction to one Safe on one chain.
- `transaction_builder_batch`: the JSON file the Safe{Wallet} Transaction Builder app
  imports ("Drag and drop a JSON file"), with the app's own checksum in `meta` so the
  app does not warn that the file was edited. The batch carries no nonce: the Safe UI
  picks one when the batch is turned into a transaction, so an operator who wants the
  hash stored on the operation must keep the nonce the proposal names.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
CALL = 0
"""Safe `operation`: 0 is CALL, 1 is DELEGATECALL; proposals here are only ever CALLs."""

DOMAIN_TYPEHASH = keccak(text="EIP712Domain(uint256 chainId,address verifyingContract)")
SAFE_TX_TYPEHASH = keccak(
    text="SafeTx(address to,uint256 value,bytes data,uint8 operation,uint256 safeTxGas,"
    "uint256 baseGas,uint256 gasPrice,address gasToken,address refundReceiver,uint256 nonce)"
)

NONCE_SELECTOR = keccak(text="nonce()")[:4]
EXECUTION_SUCCESS_TOPIC = keccak(text="ExecutionSuccess(bytes32,uint256)")
"""Safe 1.4.1 indexes the safeTxHash in this event, so one eth_getLogs finds an execution."""

BATCH_VERSION = "1.0"
TX_BUILDER_VERSION = "1.16.5"


@dataclass(frozen=True)
class SafeTx:
    """The fields of a SafeTx. Gas fields stay zero: no refund, the executor pays gas,
    and `safeTxGas = 0` makes the whole execution revert if the inner call fails (the
    Safe nonce is then not used up by a failed deposit)."""

    to: str
    value: int
    data: bytes
    nonce: int
    operation: int = CALL
    safe_tx_gas: int = 0
    base_gas: int = 0
    gas_price: int = 0
    gas_token: str = ZERO_ADDRESS
    refund_receiver: str = ZERO_ADDRESS


def domain_separator(chain_id: int, safe: str) -> bytes:
    return keccak(encode(["bytes32", "uint256", "address"], [DOMAIN_TYPEHASH, chain_id, safe]))


def safe_tx_struct_hash(tx: SafeTx) -> bytes:
    return keccak(
        encode(
            [
                "bytes32",
                "address",
                "uint256",
                "bytes32",
                "uint8",
                "uint256",
                "uint256",
                "uint256",
                "address",
                "address",
                "uint256",
            ],
            [
                SAFE_TX_TYPEHASH,
                tx.to,
                tx.value,
                keccak(tx.data),
                tx.operation,
                tx.safe_tx_gas,
                tx.base_gas,
                tx.gas_price,
                tx.gas_token,
                tx.refund_receiver,
                tx.nonce,
            ],
        )
    )


def safe_tx_hash(chain_id: int, safe: str, tx: SafeTx) -> bytes:
    """EIP-712 digest: keccak(0x19 0x01 ‖ domainSeparator ‖ hashStruct(SafeTx))."""
    return keccak(b"\x19\x01" + domain_separator(chain_id, safe) + safe_tx_struct_hash(tx))


def safe_tx_fields(tx: SafeTx) -> dict[str, Any]:
    """The SafeTx as stored on an operation: wei as a decimal string (it overflows JSON
    numbers in some readers), data as 0x hex, addresses checksummed."""
    return {
        "to": str(to_checksum_address(tx.to)),
        "value": str(tx.value),
        "data": "0x" + tx.data.hex(),
        "operation": tx.operation,
        "safe_tx_gas": tx.safe_tx_gas,
        "base_gas": tx.base_gas,
        "gas_price": tx.gas_price,
        "gas_token": tx.gas_token,
        "refund_receiver": tx.refund_receiver,
        "safe_nonce": tx.nonce,
    }


# ---- Transaction Builder batch file ---------------------------------------------------------


@dataclass(frozen=True)
class BatchCall:
    to: str
    value: int
    data: bytes


def _serialize(value: Any) -> str:
    """The Transaction Builder's checksum serialisation (apps/tx-builder/src/lib/
    checksum.ts): objects as their sorted key list followed by each value and a comma,
    arrays element by element, scalars as JSON.stringify writes them."""
    if isinstance(value, list):
        return "[" + ",".join(_serialize(item) for item in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value)
        body = "".join(_serialize(value[key]) + "," for key in keys)
        return "{" + json.dumps(keys, separators=(",", ":"), ensure_ascii=False) + body + "}"
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def batch_checksum(batch: dict[str, Any]) -> str:
    """keccak256 of the serialised batch with `meta.name` set to null and no checksum."""
    meta = {key: value for key, value in batch["meta"].items() if key != "checksum"}
    meta["name"] = None
    return "0x" + keccak(text=_serialize({**batch, "meta": meta})).hex()


def transaction_builder_batch(
    *,
    chain_id: int,
    calls: Sequence[BatchCall],
    name: str,
    description: str,
    created_at_ms: int,
    safe: str | None,
) -> dict[str, Any]:
    """A batch file the Transaction Builder imports; one entry per call, raw data (no
    contract method), so the app sends exactly these bytes."""
    batch: dict[str, Any] = {
        "version": BATCH_VERSION,
        "chainId": str(chain_id),
        "createdAt": created_at_ms,
        "meta": {
            "name": name,
            "description": description,
            "txBuilderVersion": TX_BUILDER_VERSION,
            "createdFromSafeAddress": str(to_checksum_address(safe)) if safe else "",
            "createdFromOwnerAddress": "",
        },
        "transactions": [
            {
                "to": str(to_checksum_address(call.to)),
                "value": str(call.value),
                "data": "0x" + call.data.hex(),
                "contractMethod": None,
                "contractInputsValues": None,
            }
            for call in calls
        ],
    }
    batch["meta"]["checksum"] = batch_checksum(batch)
    return batch


# ---- proposals ------------------------------------------------------------------------------

NO_SAFE_NOTE = (
    "SEAT_MANAGER_SAFE_ADDRESS is not set: no Safe nonce or safeTxHash; submit this call"
    " from the factory owner's multisig (the Transaction Builder file below imports it)"
)


def choose_safe_nonce(*, safe_nonce: int, previous: int | None, taken: frozenset[int]) -> int:
    """The Safe nonce for a proposal.

    `safe_nonce` is the Safe's on-chain `nonce()` (the next one it will execute);
    `previous` the nonce of this operation's earlier proposal to the same Safe, if any;
    `taken` the nonces held by the other live proposals to that Safe. A re-proposal
    keeps its nonce while it is still ahead of the Safe and nobody else holds it (so
    the same call gives the same safeTxHash, and at most one of the two versions can
    ever execute); otherwise the lowest free nonce at or above the Safe's, which also
    reuses the nonce of a proposal that was cancelled instead of leaving a gap that
    would block every later one.
    """
    if previous is not None and previous >= safe_nonce and previous not in taken:
        return previous
    nonce = safe_nonce
    while nonce in taken:
        nonce += 1
    return nonce


def build_proposal(
    *,
    chain_id: int,
    safe: str | None,
    call: BatchCall,
    nonce: int | None,
    name: str,
    description: str,
    created_at_ms: int,
) -> dict[str, Any]:
    """The proposal stored on an operation: the Safe-compatible transaction (with its
    nonce and safeTxHash when a Safe is configured) and the Transaction Builder batch."""
    batch = transaction_builder_batch(
        chain_id=chain_id,
        calls=[call],
        name=name,
        description=description,
        created_at_ms=created_at_ms,
        safe=safe,
    )
    if safe is None:
        return {
            "to": str(to_checksum_address(call.to)),
            "value": str(call.value),
            "data": "0x" + call.data.hex(),
            "operation": CALL,
            "chain_id": chain_id,
            "safe_address": None,
            "note": NO_SAFE_NOTE,
            "transaction_builder": batch,
        }
    if nonce is None:
        raise ValueError("a proposal to a Safe needs the Safe nonce")
    tx = SafeTx(call.to, call.value, call.data, nonce)
    return {
        **safe_tx_fields(tx),
        "chain_id": chain_id,
        "safe_address": str(to_checksum_address(safe)),
        "safe_tx_hash": "0x" + safe_tx_hash(chain_id, safe, tx).hex(),
        "transaction_builder": batch,
    }
