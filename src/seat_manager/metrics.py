"""Prometheus metrics. Each process builds its own registry (no global state at import);
the watchers add their counters to it, and `/metrics` refreshes the store-derived
gauges (scan cursor, lag, seats and operations by status) at scrape time, so an API
process reports the watcher's position even when another process runs the watcher."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge

from seat_manager.domain.operations import OperationStatus
from seat_manager.domain.seats import SeatStatus
from seat_manager.services.health import WatcherHealth


class StoreGauges:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.el_scanned = Gauge(
            "seat_manager_recorded_el_last_scanned_block",
            "Last execution-layer block whose deposits are recorded (-1 = never scanned)",
            registry=registry,
        )
        self.el_head = Gauge(
            "seat_manager_recorded_el_head_block",
            "Head block seen by the watcher",
            registry=registry,
        )
        self.el_lag = Gauge(
            "seat_manager_recorded_el_lag_blocks",
            "Head minus last scanned block",
            registry=registry,
        )
        self.cl_head_slot = Gauge(
            "seat_manager_recorded_cl_head_slot",
            "Beacon head slot at the last poll",
            registry=registry,
        )
        self.seats = Gauge(
            "seat_manager_seats", "Seats by lifecycle status", ["status"], registry=registry
        )
        self.operations = Gauge(
            "seat_manager_operations", "Operations by status", ["status"], registry=registry
        )

    def update(
        self, health: WatcherHealth, seats: dict[str, int], operations: dict[str, int]
    ) -> None:
        self.el_scanned.set(
            -1 if health.el_last_scanned_block is None else health.el_last_scanned_block
        )
        self.el_head.set(health.el_head_block or 0)
        self.el_lag.set(health.el_lag_blocks or 0)
        self.cl_head_slot.set(health.cl_head_slot or 0)
        for status in SeatStatus:
            self.seats.labels(status=status.value).set(seats.get(status.value, 0))
        for op_status in OperationStatus:
            self.operations.labels(status=op_status.value).set(operations.get(op_status.value, 0))
