"""A small HTTP proxy between a JSON-RPC client and anvil that misbehaves on purpose.

It speaks just enough HTTP/1.1 (keep-alive, Content-Length bodies) for httpx, forwards
every request to the upstream node, and on the way back can:

- refuse a method every time (a node without historical state refusing `eth_call`);
- answer some methods late, counting how many requests the client keeps in flight;
- refuse `eth_getLogs` over too many blocks or with too many results, the way hosted
  nodes do (-32005 "query returned more than N results" / "block range too large");
- silently drop logs from big `eth_getLogs` answers (a lying or overloaded backend);
- answer with a JSON-RPC error, an HTTP 503, nothing at all (connection dropped), a
  body cut short and a matching Content-Length (invalid JSON), a body shorter than its
  Content-Length (connection closed mid-body), or no answer until the client times out.

Random faults draw from a seeded RNG so a failing run can be replayed. Everything
listens on 127.0.0.1; `stop()` closes the server and cancels held connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

RANDOM_FAULTS = ("rpc_error", "http_503", "timeout", "drop", "truncate", "short_body")


@dataclass
class FaultPlan:
    """Per-request probabilities of each random fault, and deterministic node limits."""

    seed: int = 1
    rates: dict[str, float] = field(default_factory=dict)
    max_log_range: int | None = None
    max_log_results: int | None = None
    hide_logs_over: int | None = None
    hold_seconds: float = 2.0
    refuse_methods: dict[str, str] = field(default_factory=dict)
    """Methods the node answers with a -32000 error carrying this message, every time."""
    only_methods: frozenset[str] | None = None
    """Random faults hit only requests containing one of these methods (None: all)."""
    slow_methods: dict[str, float] = field(default_factory=dict)
    """Requests containing one of these methods are answered this many seconds late (a
    distant node), which shows how many the client keeps in flight (``max_in_flight``)."""

    def __post_init__(self) -> None:
        unknown = set(self.rates) - set(RANDOM_FAULTS)
        if unknown:
            raise ValueError(f"unknown faults {unknown}")
        self.rng = random.Random(self.seed)

    def draw(self, methods: set[str]) -> str | None:
        if self.only_methods is not None and not methods & self.only_methods:
            return None
        roll = self.rng.random()
        for fault in RANDOM_FAULTS:
            roll -= self.rates.get(fault, 0.0)
            if roll < 0:
                return fault
        return None


def _error(request_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


class RpcProxy:
    def __init__(self, upstream: str, plan: FaultPlan | None = None) -> None:
        self.upstream = upstream
        self.plan = plan or FaultPlan()
        self.injected: Counter[str] = Counter()
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._http = httpx.AsyncClient(timeout=30)
        self.url = ""

    async def __aenter__(self) -> RpcProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        await self._http.aclose()

    # ---- HTTP ------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while await self._one_request(reader, writer):
                pass
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _one_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.decode("latin-1").split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        body = await reader.readexactly(length)
        self.requests += 1
        request = json.loads(body)
        calls = request if isinstance(request, list) else [request]
        fault = self.plan.draw({str(c.get("method")) for c in calls})
        if fault is not None:
            self.injected[fault] += 1
        if fault == "drop":
            return False
        if fault == "timeout":
            await asyncio.sleep(self.plan.hold_seconds)
            return False
        if fault == "http_503":
            await self._respond(writer, b"overloaded", status="503 Service Unavailable")
            return True
        if fault == "rpc_error":
            answer: Any = [_error(c.get("id"), -32000, "injected failure") for c in calls]
            answer = answer if isinstance(request, list) else answer[0]
        else:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                await self._slow_down({str(c.get("method")) for c in calls})
                upstream = await self._http.post(
                    self.upstream, content=body, headers={"content-type": "application/json"}
                )
            finally:
                self.in_flight -= 1
            answer = self._rewrite(calls, upstream.json(), isinstance(request, list))
        payload = json.dumps(answer).encode()
        if fault == "truncate":
            await self._respond(writer, payload[: len(payload) // 2])
            return True
        if fault == "short_body":
            await self._respond(writer, payload[: len(payload) // 2], length=len(payload))
            return False
        await self._respond(writer, payload)
        return True

    async def _slow_down(self, methods: set[str]) -> None:
        delays = [self.plan.slow_methods.get(method, 0.0) for method in methods]
        if max(delays, default=0.0) > 0:
            await asyncio.sleep(max(delays))

    @staticmethod
    async def _respond(
        writer: asyncio.StreamWriter,
        payload: bytes,
        *,
        status: str = "200 OK",
        length: int | None = None,
    ) -> None:
        size = len(payload) if length is None else length
        writer.write(
            f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n"
            f"content-length: {size}\r\nconnection: keep-alive\r\n\r\n".encode()
            + payload
        )
        await writer.drain()

    # ---- node limits ---------------------------------------------------------------------

    def _rewrite(self, calls: list[Any], answer: Any, batch: bool) -> Any:
        items = answer if batch else [answer]
        by_id = {item.get("id"): item for item in items if isinstance(item, dict)}
        for call in calls:
            refusal = self.plan.refuse_methods.get(str(call.get("method")))
            if refusal is not None and call.get("id") in by_id:
                self.injected["refused_method"] += 1
                by_id[call["id"]].clear()
                by_id[call["id"]].update(_error(call["id"], -32000, refusal))
                continue
            if call.get("method") != "eth_getLogs":
                continue
            item = by_id.get(call.get("id"))
            if item is None or not isinstance(item.get("result"), list):
                continue
            replaced = self._limit_logs(call, item["result"])
            if replaced is not None:
                item.clear()
                item.update(replaced)
        return answer

    def _limit_logs(self, call: dict[str, Any], logs: list[Any]) -> dict[str, Any] | None:
        plan = self.plan
        query = call["params"][0]
        span = int(query["toBlock"], 16) - int(query["fromBlock"], 16) + 1
        if plan.max_log_range is not None and span > plan.max_log_range:
            self.injected["range_too_large"] += 1
            return _error(call["id"], -32005, f"block range too large, max {plan.max_log_range}")
        if plan.max_log_results is not None and len(logs) > plan.max_log_results:
            self.injected["too_many_results"] += 1
            return _error(
                call["id"], -32005, f"query returned more than {plan.max_log_results} results"
            )
        if plan.hide_logs_over is not None and len(logs) > plan.hide_logs_over:
            self.injected["hidden_logs"] += 1
            return {"jsonrpc": "2.0", "id": call["id"], "result": logs[: plan.hide_logs_over]}
        return None
