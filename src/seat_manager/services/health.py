"""Watcher health, read from watcher_state: one answer for `status`, `/metrics` and the
admin health endpoint. The watchers write these keys in the same transactions as the
facts they describe, so the report never runs ahead of what is recorded."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from seat_manager.adapters.db.uow import SqlUnitOfWork
from seat_manager.config import Settings

LOOPS = ("el", "cl", "worker")


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


@dataclass(frozen=True)
class WatcherHealth:
    el_configured: bool
    el_last_scanned_block: int | None
    el_head_block: int | None
    el_lag_blocks: int | None
    el_last_cycle_at: str | None
    cl_configured: bool
    cl_last_poll_at: str | None
    cl_head_slot: int | None
    last_error: str | None
    last_error_at: str | None
    errors: dict[str, dict[str, str | None]]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def health_from_state(state: dict[str, str], settings: Settings) -> WatcherHealth:
    scanned = _int(state.get("el_last_scanned_block"))
    head = _int(state.get("el_head_block"))
    errors = {
        loop: {"message": state.get(f"{loop}_last_error"), "at": state.get(f"{loop}_last_error_at")}
        for loop in LOOPS
        if state.get(f"{loop}_last_error")
    }
    latest = max(errors.items(), key=lambda item: item[1]["at"] or "", default=None)
    return WatcherHealth(
        el_configured=settings.eth_rpc_url is not None,
        el_last_scanned_block=scanned,
        el_head_block=head,
        el_lag_blocks=head - scanned if head is not None and scanned is not None else None,
        el_last_cycle_at=state.get("el_last_cycle_at"),
        cl_configured=settings.cl_beacon_api_url is not None,
        cl_last_poll_at=state.get("cl_last_poll_at"),
        cl_head_slot=_int(state.get("cl_head_slot")),
        last_error=f"{latest[0]}: {latest[1]['message']}" if latest else None,
        last_error_at=latest[1]["at"] if latest else None,
        errors=errors,
    )


async def watcher_health(uow: SqlUnitOfWork, settings: Settings) -> WatcherHealth:
    return health_from_state(await uow.watcher_state.all(), settings)
