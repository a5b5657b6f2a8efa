"""Long-running processes: `api`, `watch` and `api-watch` share one event loop layout.

One stop event, set by SIGINT/SIGTERM, ends every loop; the API server finishes its
requests, leases and locks are released, and the final counts are printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from seat_manager.bootstrap import (
    Container,
    announce,
    bootstrap_line,
    ensure_schema,
    open_store,
)
from seat_manager.config import Settings, load_settings
from seat_manager.domain.errors import ConfigurationError
from seat_manager.services.seeding import SeedFailed, seed_created_seats
from seat_manager.workers.runner import WatcherHalted, run_periodic
from seat_manager.workers.supervisor import WatchCounts, build_watch_tasks

log = logging.getLogger("seat_manager.serving")


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
            f"cannot listen on {host}:{port} (SEAT_MANAGER_HOST/SEAT_MANAGER_PORT): {exc.strerror}"
        ) from None
    sock.listen(2048)
    return sock


async def start_store(settings: Settings) -> Container:
    container = await open_store(settings)
    try:
        await ensure_schema(container)
    except BaseException:
        await container.close()
        raise
    return container


ReadyHook = Callable[[str], None]


async def _serve_api(
    container: Container, stop: asyncio.Event, seeds: int, on_ready: ReadyHook | None
) -> None:
    import uvicorn  # the web stack is imported only by the commands that serve

    from seat_manager.api.app import create_app

    class _Server(uvicorn.Server):
        """uvicorn without its own signal handlers: the process has one stop event."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    settings = container.settings
    sock = bind_socket(settings.host, settings.port)
    config = uvicorn.Config(
        create_app(container), log_level="warning", lifespan="off", access_log=False
    )
    server = _Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not serving.done():
        await asyncio.sleep(0.01)
    if serving.done():
        await serving
        raise ConfigurationError(f"the API server did not start on {settings.host}")
    host, port = sock.getsockname()[:2]
    announce(
        f"seat-manager-v2 API listening on http://{host}:{port}"
        f" (seed seats={seeds}, store={settings.store_driver})"
    )
    if on_ready is not None:
        on_ready(f"http://{host}:{port}")
    try:
        await stop.wait()
    finally:
        server.should_exit = True
        await serving
        sock.close()


async def run_service(
    command: str,
    *,
    api: bool,
    watch: bool,
    settings: Settings | None = None,
    on_ready: ReadyHook | None = None,
) -> int:
    """Run until SIGINT/SIGTERM. `on_ready` is called with the API's base URL once it
    listens (the devnet prints its instructions then)."""
    settings = settings or load_settings()
    runtime = settings.require_runtime()
    announce(bootstrap_line(command, runtime, settings))
    container = await start_store(settings)
    exit_code = 0
    try:
        seeds = settings.seed_seats
        if api:
            try:
                await seed_created_seats(container.uow, seeds, datetime.now(UTC))
            except SeedFailed as exc:
                raise ConfigurationError(exc.message, code=exc.code) from None
        stop = stop_event_on_signals()
        counts = WatchCounts()
        jobs: list[asyncio.Task[None]] = []
        if api:
            jobs.append(asyncio.create_task(_serve_api(container, stop, len(seeds), on_ready)))
        if watch:
            for task in build_watch_tasks(container, counts, stop):
                jobs.append(asyncio.create_task(run_periodic(task, stop, container.uow)))
            announce(
                f"seat-manager-v2 watch loop started (store={settings.store_driver},"
                f" poll_ms={settings.watch_poll_ms})"
            )
        exit_code = await _supervise(jobs, stop)
        if watch:
            announce(
                f"seat-manager-v2 watch loop stopped processed={counts.processed}"
                f" succeeded={counts.succeeded} failed={counts.failed} requeued={counts.requeued}"
            )
    finally:
        await container.close()
    return exit_code


async def _supervise(jobs: list[asyncio.Task[None]], stop: asyncio.Event) -> int:
    """Run until the stop signal, or until any job ends on its own (which stops the rest).
    Exit 1 when a job failed (a halted watcher, say); a configuration error is re-raised."""
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait([stopper, *jobs], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.set()
        results = await asyncio.gather(*jobs, return_exceptions=True)
        stopper.cancel()
    failures = [r for r in results if isinstance(r, BaseException)]
    for failure in failures:
        if isinstance(failure, ConfigurationError):
            raise failure
        if not isinstance(failure, WatcherHalted):
            log.error("a service task failed: %s: %s", type(failure).__name__, failure)
    return 1 if failures else 0
