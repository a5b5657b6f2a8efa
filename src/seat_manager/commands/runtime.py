"""Runtime commands: `api`, `watch`, `api-watch` (long-running) and `status` (a report)."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from seat_manager.bootstrap import StoreUnavailable, announce, bootstrap_line, open_store
from seat_manager.config import Settings, load_settings
from seat_manager.services.health import WatcherHealth
from seat_manager.services.status import StatusReport, collect_status


def register(sub: argparse._SubParsersAction[Any]) -> None:
    for name, api, watch, text in (
        ("api", True, False, "serve the HTTP API (seeds seats first)"),
        ("watch", False, True, "run the lifecycle watcher and the operation worker"),
        ("api-watch", True, True, "API and watcher in one process"),
    ):
        parser = sub.add_parser(name, help=text)
        parser.set_defaults(handler=_service_handler(name, api=api, watch=watch))

    status = sub.add_parser("status", help="report store, schema, seats, operations, watcher")
    status.add_argument("--json", action="store_true", help="print one JSON document")
    status.set_defaults(handler=lambda args: asyncio.run(run_status(as_json=args.json)))


def _service_handler(name: str, *, api: bool, watch: bool) -> Any:
    def handler(args: argparse.Namespace) -> int:
        from seat_manager.serving import run_service

        return asyncio.run(run_service(name, api=api, watch=watch))

    return handler


def signer_address(settings: Settings) -> str | None:
    """The owner signer's address (never the key); None without a key."""
    if settings.owner_private_key is None:
        return None
    from seat_manager.adapters.chain.signer import LocalSigner  # slow import, only with a key

    return LocalSigner.from_settings(settings).address


def _show(value: object, unset: str = "never") -> str:
    return unset if value is None else str(value)


def _render_watcher(health: WatcherHealth) -> list[str]:
    el = "configured" if health.el_configured else "idle (ETH_RPC_URL not set)"
    cl = "configured" if health.cl_configured else "idle (SEAT_MANAGER_CL_BEACON_API_URL not set)"
    return [
        f"watcher el: {el} el_last_scanned_block={_show(health.el_last_scanned_block)}"
        f" head={_show(health.el_head_block, 'unknown')}"
        f" lag={_show(health.el_lag_blocks, 'unknown')}",
        f"watcher cl: {cl} last_poll={_show(health.cl_last_poll_at)}"
        f" head_slot={_show(health.cl_head_slot, 'unknown')}",
        f"watcher last error: {_show(health.last_error, 'none')}"
        + (f" at {health.last_error_at}" if health.last_error_at else ""),
    ]


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
        lines.append("operations: " + " ".join(f"{k}={v}" for k, v in report.operations.items()))
    if report.watcher is not None:
        lines.extend(_render_watcher(report.watcher))
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
        document = {
            **report.__dict__,
            "watcher": report.watcher.as_dict() if report.watcher else None,
            "healthy": report.healthy,
            "chain_id": runtime.chain_id,
        }
        announce(json.dumps(document, sort_keys=True))
    else:
        for line in _render(report):
            announce(line)
    return 0 if report.healthy else 1
