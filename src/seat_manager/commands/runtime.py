"""Runtime commands: `api` (serve HTTP) and `status` (report without serving)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from seat_manager.bootstrap import (
    Container,
    StoreUnavailable,
    announce,
    bootstrap_line,
    ensure_schema,
    open_store,
)
from seat_manager.config import Settings, load_settings
from seat_manager.domain.errors import ConfigurationError
from seat_manager.services.seeding import SeedFailed, seed_created_seats
from seat_manager.services.status import StatusReport, collect_status


def register(sub: argparse._SubParsersAction[Any]) -> None:
    api = sub.add_parser("api", help="serve the HTTP API (seeds seats first)")
    api.set_defaults(handler=lambda args: asyncio.run(run_api()))

    status = sub.add_parser("status", help="report store, schema, seats, operations, watcher")
    status.add_argument("--json", action="store_true", help="print one JSON document")
    status.set_defaults(handler=lambda args: asyncio.run(run_status(as_json=args.json)))


def signer_address(settings: Settings) -> str | None:
    from eth_account import Account  # imported here: slow to import, needed only with a key

    key = settings.owner_private_key
    return None if key is None else str(Account.from_key(key.get_secret_value()).address)


def stop_event_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigurationError(
            f"cannot listen on {host}:{port} (SEAT_MANAGER_HOST/SEAT_MANAGER_PORT):"
            f" {exc.strerror}"
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


async def start_store(settings: Settings) -> Container:
    container = await open_store(settings)
    try:
        await ensure_schema(container)
    except BaseException:
        await container.close()
        raise
    return container


async def run_api(command: str = "api") -> int:
    import uvicorn  # web stack imported only by the commands that serve

    from seat_manager.api.app import create_app

    class _Server(uvicorn.Server):
        """uvicorn without its own signal handlers: the process has one stop event."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    settings = load_settings()
    runtime = settings.require_runtime()
    announce(bootstrap_line(command, runtime, settings))
    container = await start_store(settings)
    try:
        seeds = settings.seed_seats
        try:
            await seed_created_seats(container.uow, seeds, datetime.now(UTC))
        except SeedFailed as exc:
            raise ConfigurationError(exc.message, code=exc.code) from None
        sock = bind_socket(settings.host, settings.port)
        stop = stop_event_on_signals()
        config = uvicorn.Config(
            create_app(container), log_level="warning", lifespan="off", access_log=False
        )
        server = _Server(config)
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not serving.done():
            await asyncio.sleep(0.01)
        if serving.done():
            await serving
            return 1
        host, port = sock.getsockname()[:2]
        announce(
            f"seat-manager-v2 API listening on http://{host}:{port}"
            f" (seed seats={len(seeds)}, store={settings.store_driver})"
        )
        await stop.wait()
        server.should_exit = True
        await serving
    finally:
        await container.close()
    return 0


def _render(report: StatusReport) -> list[str]:
    lines = [
        f"store: driver={report.store_driver} location={report.store_location}"
        f" reachable={'yes' if report.reachable else 'no'}",
    ]
    if report.reachable:
        pending = ",".join(report.pending_migrations) or "none"
        lines.append(
            f"schema: revision={report.schema_revision or 'none'} head={report.schema_head}"
            f" pending={pending}"
        )
    if report.seats:
        lines.append("seats: " + " ".join(f"{k}={v}" for k, v in report.seats.items()))
    if report.operations:
        lines.append(
            "operations: " + " ".join(f"{k}={v}" for k, v in report.operations.items())
        )
    if report.watcher:
        lines.append(
            "watcher: " + " ".join(f"{k}={v if v is not None else 'never'}"
                                   for k, v in report.watcher.items())
        )
    lines.append(f"mode: {report.mode} signer={report.signer_address or 'none'}")
    if report.healthy:
        lines.append("status: OK")
    else:
        lines.append("status: UNHEALTHY - " + "; ".join(report.problems))
    return lines


async def run_status(*, as_json: bool) -> int:
    settings = load_settings()
    runtime = settings.require_runtime()
    announce(bootstrap_line("status", runtime, settings))
    signer = signer_address(settings)
    try:
        container = await open_store(settings)
    except StoreUnavailable as exc:
        report = StatusReport(
            store_driver=settings.store_driver,
            store_location=settings.store.display,
            reachable=False,
            mode=settings.operation_mode,
            signer_address=signer,
            problems=[exc.message],
        )
    else:
        try:
            report = await collect_status(container, signer)
        finally:
            await container.close()
    if as_json:
        document = {**report.__dict__, "healthy": report.healthy, "chain_id": runtime.chain_id}
        announce(json.dumps(document, sort_keys=True))
    else:
        for line in _render(report):
            announce(line)
    return 0 if report.healthy else 1
