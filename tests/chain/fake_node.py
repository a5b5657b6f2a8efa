"""A tiny scripted HTTP server standing in for a misbehaving JSON-RPC node."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: bytes | Any = b""
    """Raw bytes are sent as they are; anything else is JSON-encoded."""
    delay: float = 0.0


@dataclass
class FakeNode:
    url: str
    replies: list[Reply] = field(default_factory=list)
    requests: list[Any] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)

    def script(self, *replies: Reply) -> None:
        self.replies[:] = list(replies)


@contextmanager
def fake_node() -> Iterator[FakeNode]:
    """Serve scripted replies in order; the last one repeats once the script runs out."""
    node = FakeNode(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            node.requests.append(json.loads(self.rfile.read(length)))
            node.paths.append(self.path)
            reply = node.replies.pop(0) if len(node.replies) > 1 else node.replies[0]
            if reply.delay:
                time.sleep(reply.delay)
            body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
            try:
                self.send_response(reply.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout tests)

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


def ok(result: Any, request_id: int = 1) -> Reply:
    return Reply(body={"jsonrpc": "2.0", "id": request_id, "result": result})


def node_error(code: int, message: str, data: Any = None, request_id: int | None = 1) -> Reply:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return Reply(body={"jsonrpc": "2.0", "id": request_id, "error": error})
