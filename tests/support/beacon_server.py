"""A small real Beacon API server for tests: the spec's response shapes, state the test
controls (validators by pubkey, pending deposits, head slot, sync flags), a record of
every request, and fault modes (HTTP 500, malformed JSON, wrong shape, slow answers).

Serves on 127.0.0.1 on a free port from a thread; use ``serve_beacon()``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

FAR_FUTURE = 2**64 - 1
VALIDATORS_PREFIX = "/eth/v1/beacon/states/"

FaultKind = Literal["http_500", "malformed_json", "wrong_shape", "slow"]


@dataclass
class FakeValidator:
    pubkey: str
    index: int
    status: str = "active_ongoing"
    withdrawal_credentials: str = "0x01" + "00" * 31
    slashed: bool = False
    balance: int = 32_000_000_000
    activation_epoch: int = FAR_FUTURE
    exit_epoch: int = FAR_FUTURE
    withdrawable_epoch: int = FAR_FUTURE

    def to_json(self) -> dict[str, Any]:
        return {
            "index": str(self.index),
            "balance": str(self.balance),
            "status": self.status,
            "validator": {
                "pubkey": self.pubkey,
                "withdrawal_credentials": self.withdrawal_credentials,
                "effective_balance": str(min(self.balance, 32_000_000_000)),
                "slashed": self.slashed,
                "activation_eligibility_epoch": "0",
                "activation_epoch": str(self.activation_epoch),
                "exit_epoch": str(self.exit_epoch),
                "withdrawable_epoch": str(self.withdrawable_epoch),
            },
        }


@dataclass
class FakePendingDeposit:
    pubkey: str
    withdrawal_credentials: str
    amount: int = 32_000_000_000
    slot: int = 990

    def to_json(self) -> dict[str, Any]:
        return {
            "pubkey": self.pubkey,
            "withdrawal_credentials": self.withdrawal_credentials,
            "amount": str(self.amount),
            "signature": "0x" + "00" * 96,
            "slot": str(self.slot),
        }


@dataclass
class Fault:
    """Applies to requests whose path contains ``path_contains``; ``times`` None = always."""

    kind: FaultKind
    path_contains: str = ""
    times: int | None = None
    delay: float = 1.0


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    ids: tuple[str, ...] = ()


@dataclass
class FakeBeacon:
    url: str = ""
    validators: dict[str, FakeValidator] = field(default_factory=dict)
    pending: list[FakePendingDeposit] = field(default_factory=list)
    head_slot: int = 1000
    is_syncing: bool = False
    is_optimistic: bool = False
    pending_supported: bool = True
    post_supported: bool = True
    faults: list[Fault] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)

    def add(self, validator: FakeValidator) -> FakeValidator:
        self.validators[validator.pubkey] = validator
        return validator

    def validator_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith("/validators")]

    # ---- routing (runs on the server thread) ----------------------------------------------

    def answer(self, method: str, path: str, query: str, body: bytes) -> tuple[int, bytes]:
        ids = self._ids(method, query, body)
        self.requests.append(Recorded(method, path, tuple(ids)))
        fault = self._fault(path)
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.delay)
        elif fault is not None:
            return _faulty(fault.kind)
        status, payload = self._route(method, path, ids)
        return status, json.dumps(payload).encode()

    def _ids(self, method: str, query: str, body: bytes) -> list[str]:
        if method == "POST":
            try:
                return [str(i) for i in json.loads(body or b"{}").get("ids", [])]
            except (ValueError, AttributeError):
                return []
        values = parse_qs(query).get("id", [])
        return [part for value in values for part in value.split(",") if part]

    def _fault(self, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.path_contains in path and (fault.times is None or fault.times > 0):
                if fault.times is not None:
                    fault.times -= 1
                return fault
        return None

    def _route(self, method: str, path: str, ids: list[str]) -> tuple[int, Any]:
        if path == "/eth/v1/node/syncing" and method == "GET":
            return 200, {
                "data": {
                    "head_slot": str(self.head_slot),
                    "sync_distance": "0",
                    "is_syncing": self.is_syncing,
                    "is_optimistic": self.is_optimistic,
                    "el_offline": False,
                }
            }
        if path == "/eth/v1/beacon/headers/head" and method == "GET":
            return 200, self._head()
        if path.startswith(VALIDATORS_PREFIX) and path.endswith("/validators"):
            if method == "POST" and not self.post_supported:
                return 405, {"code": 405, "message": "Method Not Allowed"}
            return 200, {
                "execution_optimistic": self.is_optimistic,
                "finalized": False,
                "data": [v.to_json() for v in self._select(ids)],
            }
        if path.startswith(VALIDATORS_PREFIX) and path.endswith("/pending_deposits"):
            if not self.pending_supported:
                return 404, {"code": 404, "message": "NOT_FOUND: route not found"}
            return 200, {
                "version": "electra",
                "execution_optimistic": self.is_optimistic,
                "finalized": False,
                "data": [d.to_json() for d in self.pending],
            }
        return 404, {"code": 404, "message": f"no route for {method} {path}"}

    def _select(self, ids: list[str]) -> list[FakeValidator]:
        by_index = {str(v.index): v for v in self.validators.values()}
        chosen = [self.validators.get(i.lower()) or by_index.get(i) for i in ids]
        return [v for v in chosen if v is not None]

    def _head(self) -> dict[str, Any]:
        root = "0x" + self.head_slot.to_bytes(32, "big").hex()
        return {
            "execution_optimistic": self.is_optimistic,
            "finalized": False,
            "data": {
                "root": root,
                "canonical": True,
                "header": {
                    "message": {
                        "slot": str(self.head_slot),
                        "proposer_index": "7",
                        "parent_root": "0x" + "11" * 32,
                        "state_root": "0x" + "22" * 32,
                        "body_root": "0x" + "33" * 32,
                    },
                    "signature": "0x" + "00" * 96,
                },
            },
        }


def _faulty(kind: FaultKind) -> tuple[int, bytes]:
    if kind == "http_500":
        return 500, json.dumps({"code": 500, "message": "Internal server error"}).encode()
    if kind == "malformed_json":
        return 200, b'{"execution_optimistic": false, "data": [{"index": "1",'
    return 200, json.dumps({"data": {"validators": "not a list"}}).encode()


@contextmanager
def serve_beacon() -> Iterator[FakeBeacon]:
    node = FakeBeacon()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length) if length else b""
            status, payload = node.answer(method, parts.path, parts.query, body)
            try:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout tests)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    node.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield node
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
