"""A lean async JSON-RPC client for the execution layer, over httpx.

Used where volume or precision matters (log scans, raw transactions, receipts) and by
the deployment command. Behaviour an operator can rely on:

- every request has explicit connect/read/write/pool timeouts;
- only transport trouble is retried (connection or timeout failures, HTTP 429/502/503/
  504), a bounded number of times with exponential backoff; a JSON-RPC error from the
  node is an answer and is raised at once as `RpcNodeError` with its code, message and
  data (`eth_sendRawTransaction` is safe to retry: the same signed bytes cannot be
  mined twice, a resend only meets "already known" or "nonce too low");
- every answer is validated: a body that is not JSON-RPC 2.0, a wrong id, or a result
  of the wrong shape raises `RpcResponseInvalid`, never KeyError or TypeError;
- errors and `repr` show the endpoint as scheme://host:port only, since provider URLs
  carry API keys in their path, query or user-info.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from seat_manager.adapters.chain.errors import (
    RpcNodeError,
    RpcResponseInvalid,
    RpcTransportError,
)
from seat_manager.adapters.chain.models import (
    Block,
    LogEntry,
    Receipt,
    parse_block,
    parse_data,
    parse_hash,
    parse_log,
    parse_quantity,
    parse_receipt,
)
from seat_manager.domain.types import BlockNumber, TxHash, Wei

BlockTag = Literal["latest", "pending", "earliest", "safe", "finalized"]
BlockId = int | BlockTag

DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=20.0, write=10.0, pool=5.0)
RETRYABLE_HTTP_STATUS = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """`attempts` tries in all; the pause before try n+1 is min(cap, initial * 2**(n-1))."""

    attempts: int = 3
    initial_delay: float = 0.25
    max_delay: float = 4.0

    def delay(self, failed_attempts: int) -> float:
        return float(min(self.max_delay, self.initial_delay * 2 ** (failed_attempts - 1)))


def endpoint_label(url: str) -> str:
    """scheme://host:port of `url`, dropping user-info, path and query (API keys)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "<invalid url>"
    port = f":{parsed.port}" if parsed.port is not None else ""
    return f"{parsed.scheme}://{parsed.host}{port}"


def _block_id(block: BlockId) -> str:
    return hex(block) if isinstance(block, int) else block


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


class RpcClient:
    """One client per upstream node. Use as `async with RpcClient(url) as rpc: ...`."""

    def __init__(
        self,
        url: str,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._url = url
        self.endpoint = endpoint_label(url)
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._ids = itertools.count(1)
        self._http = httpx.AsyncClient(
            timeout=timeout,
            transport=transport,
            headers={"content-type": "application/json"},
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"RpcClient({self.endpoint})"

    async def __aenter__(self) -> RpcClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # ---- core --------------------------------------------------------------------------

    async def request(self, method: str, params: Sequence[Any] = ()) -> Any:
        """The `result` of one call; raises an `RpcError` subclass otherwise."""
        request_id = next(self._ids)
        payload = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": list(params)}
        body = await self._post(payload, method)
        return self._result(body, method, request_id)

    async def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Results of several calls sent in one HTTP request, in the order given.

        Raises the first failing call's error (in the order given), so a caller never
        mistakes a partial answer for a whole one.
        """
        if not calls:
            return []
        ids = [next(self._ids) for _ in calls]
        payload = [
            {"jsonrpc": "2.0", "id": i, "method": m, "params": list(p)}
            for i, (m, p) in zip(ids, calls, strict=True)
        ]
        label = f"batch[{len(calls)}]"
        body = await self._post(payload, label)
        if isinstance(body, Mapping):  # the node refused the batch as a whole
            self._result(body, label, None)
            raise RpcResponseInvalid(f"{label}: a single result came back for a batch")
        if not isinstance(body, list):
            raise RpcResponseInvalid(f"{label}: answer is not a JSON array")
        by_id: dict[Any, Any] = {}
        for item in body:
            item_id = item.get("id") if isinstance(item, Mapping) else None
            if item_id not in ids or item_id in by_id:
                raise RpcResponseInvalid(f"{label}: answer has a missing, unknown or repeated id")
            by_id[item_id] = item
        if len(by_id) != len(ids):
            raise RpcResponseInvalid(f"{label}: {len(ids) - len(by_id)} call(s) got no answer")
        return [self._result(by_id[i], m, i) for i, (m, _) in zip(ids, calls, strict=True)]

    async def _post(self, payload: Any, label: str) -> Any:
        content = json.dumps(payload, separators=(",", ":"))
        failure = ""
        for attempt in range(1, self._retry.attempts + 1):
            if attempt > 1:
                await self._sleep(self._retry.delay(attempt - 1))
            try:
                response = await self._http.post(self._url, content=content)
            except httpx.TransportError as exc:
                failure = type(exc).__name__
                continue
            if response.status_code in RETRYABLE_HTTP_STATUS:
                failure = f"HTTP {response.status_code}"
                continue
            return self._decode(response, label)
        raise RpcTransportError(
            f"{label}: {failure} from {self.endpoint} after {self._retry.attempts} attempt(s)",
            data={"method": label, "endpoint": self.endpoint, "failure": failure},
        )

    def _decode(self, response: httpx.Response, label: str) -> Any:
        try:
            body = json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            body = None
        looks_like_rpc = isinstance(body, list) or (
            isinstance(body, Mapping) and ("result" in body or "error" in body)
        )
        if not response.is_success and not looks_like_rpc:
            raise RpcTransportError(
                f"{label}: HTTP {response.status_code} from {self.endpoint}",
                data={"method": label, "endpoint": self.endpoint, "status": response.status_code},
            )
        if body is None:
            raise RpcResponseInvalid(f"{label}: answer from {self.endpoint} is not JSON")
        return body

    @staticmethod
    def _result(body: Any, method: str, request_id: int | None) -> Any:
        if not isinstance(body, Mapping):
            raise RpcResponseInvalid(f"{method}: answer is not a JSON object")
        error = body.get("error")
        if error is not None:
            if not isinstance(error, Mapping):
                raise RpcResponseInvalid(f"{method}: error member is not an object")
            code, message = error.get("code"), error.get("message")
            if not isinstance(code, int) or isinstance(code, bool) or not isinstance(message, str):
                raise RpcResponseInvalid(f"{method}: error object lacks an integer code/message")
            raise RpcNodeError(method, code, message, error.get("data"))
        if request_id is not None and body.get("id") != request_id:
            raise RpcResponseInvalid(f"{method}: answer id does not match the request id")
        if "result" not in body:
            raise RpcResponseInvalid(f"{method}: answer has neither result nor error")
        return body["result"]

    # ---- typed helpers -----------------------------------------------------------------

    async def chain_id(self) -> int:
        return parse_quantity(await self.request("eth_chainId"), "eth_chainId")

    async def block_number(self) -> BlockNumber:
        return BlockNumber(parse_quantity(await self.request("eth_blockNumber"), "eth_blockNumber"))

    async def get_block(self, block: BlockId = "latest") -> Block | None:
        result = await self.request("eth_getBlockByNumber", [_block_id(block), False])
        return None if result is None else parse_block(result)

    async def get_logs(
        self,
        *,
        address: str | Sequence[str] | None,
        from_block: BlockId,
        to_block: BlockId,
        topics: Sequence[str | Sequence[str] | None] | None = None,
    ) -> list[LogEntry]:
        query: dict[str, Any] = {"fromBlock": _block_id(from_block), "toBlock": _block_id(to_block)}
        if address is not None:
            query["address"] = address if isinstance(address, str) else list(address)
        if topics is not None:
            query["topics"] = list(topics)
        result = await self.request("eth_getLogs", [query])
        if not isinstance(result, list):
            raise RpcResponseInvalid("eth_getLogs: result is not a list")
        return [parse_log(entry) for entry in result]

    async def raw_logs(self, query: Mapping[str, Any]) -> list[Any]:
        """Unparsed `eth_getLogs` entries, for decoders that parse them in one pass."""
        result = await self.request("eth_getLogs", [dict(query)])
        if not isinstance(result, list):
            raise RpcResponseInvalid("eth_getLogs: result is not a list")
        return result

    async def call(
        self, to: str, data: bytes, *, block: BlockId = "latest", sender: str | None = None
    ) -> bytes:
        tx: dict[str, str] = {"to": to, "data": _hex(data)}
        if sender is not None:
            tx["from"] = sender
        return parse_data(await self.request("eth_call", [tx, _block_id(block)]), "eth_call")

    async def get_code(self, address: str, block: BlockId = "latest") -> bytes:
        result = await self.request("eth_getCode", [address, _block_id(block)])
        return parse_data(result, "eth_getCode")

    async def get_balance(self, address: str, block: BlockId = "latest") -> Wei:
        result = await self.request("eth_getBalance", [address, _block_id(block)])
        return Wei(parse_quantity(result, "eth_getBalance"))

    async def get_transaction_count(self, address: str, block: BlockId = "pending") -> int:
        result = await self.request("eth_getTransactionCount", [address, _block_id(block)])
        return parse_quantity(result, "eth_getTransactionCount")

    async def send_raw_transaction(self, raw: bytes) -> TxHash:
        result = await self.request("eth_sendRawTransaction", [_hex(raw)])
        return TxHash(parse_hash(result, "eth_sendRawTransaction"))

    async def get_transaction_receipt(self, tx_hash: str) -> Receipt | None:
        result = await self.request("eth_getTransactionReceipt", [tx_hash])
        return None if result is None else parse_receipt(result)

    async def estimate_gas(self, tx: Mapping[str, Any]) -> int:
        return parse_quantity(await self.request("eth_estimateGas", [dict(tx)]), "eth_estimateGas")

    async def gas_price(self) -> Wei:
        return Wei(parse_quantity(await self.request("eth_gasPrice"), "eth_gasPrice"))

    async def max_priority_fee_per_gas(self) -> Wei:
        result = await self.request("eth_maxPriorityFeePerGas")
        return Wei(parse_quantity(result, "eth_maxPriorityFeePerGas"))
