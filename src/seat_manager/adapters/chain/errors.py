"""Errors of the chain adapters, under the product's one error root.

    SeatManagerError
     └── ChainError                  anything the chain layer refuses or cannot do
          ├── RpcError               a JSON-RPC call did not produce a result
          │    ├── RpcNodeError      the node answered with a JSON-RPC error object
          │    │                     (keeps its code, message and data)
          │    ├── RpcTransportError no usable HTTP answer (connect/read failure,
          │    │                     timeout, non-JSON-RPC HTTP status) after retries
          │    └── RpcResponseInvalid an answer that is not valid JSON-RPC or not the
          │                          shape the method promises
          ├── TransactionFailed      a mined transaction reverted, or no receipt in time
          ├── DepositLogInvalid      a DepositEvent log that is not what the official
          │                          deposit contract emits
          ├── ContractArtifactError  a compiled artifact is missing or unreadable
          └── SignerError            the owner key is unusable (never shows the key)

Messages name the RPC method and the endpoint's scheme://host:port only: RPC URLs
often carry API keys in their path, query or user-info, so those never appear.
"""

from __future__ import annotations

from typing import Any

from seat_manager.domain.errors import SeatManagerError


class ChainError(SeatManagerError):
    default_code = "CHAIN_ERROR"


class RpcError(ChainError):
    default_code = "RPC_ERROR"


class RpcNodeError(RpcError):
    """The node refused the call; `rpc_code`, `rpc_message`, `rpc_data` are its own."""

    default_code = "RPC_NODE_ERROR"

    def __init__(self, method: str, rpc_code: int, rpc_message: str, rpc_data: Any = None) -> None:
        super().__init__(
            f"{method} failed: node error {rpc_code}: {rpc_message}",
            data={"method": method, "rpc_code": rpc_code, "rpc_message": rpc_message},
        )
        self.method = method
        self.rpc_code = rpc_code
        self.rpc_message = rpc_message
        self.rpc_data = rpc_data

    @property
    def revert_data(self) -> bytes | None:
        """The revert payload of an `execution reverted` error, when the node gave one."""
        data = self.rpc_data
        if isinstance(data, dict):
            data = data.get("data")
        if isinstance(data, str) and data.startswith("0x"):
            try:
                return bytes.fromhex(data[2:])
            except ValueError:
                return None
        return None


class RpcTransportError(RpcError):
    default_code = "RPC_TRANSPORT_ERROR"


class RpcResponseInvalid(RpcError):
    default_code = "RPC_RESPONSE_INVALID"


class TransactionFailed(ChainError):
    default_code = "TRANSACTION_FAILED"


class DepositLogInvalid(ChainError):
    default_code = "DEPOSIT_LOG_INVALID"


class ContractArtifactError(ChainError):
    default_code = "CONTRACT_ARTIFACT_ERROR"


class SignerError(ChainError):
    default_code = "SIGNER_ERROR"
