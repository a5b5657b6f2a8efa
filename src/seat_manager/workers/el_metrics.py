"""Prometheus metrics of the execution-layer watcher, on a registry the caller owns.

Nothing is registered at import time: bootstrap builds one ``CollectorRegistry`` per
process and hands it here and to `/metrics`, so tests can build as many watchers as
they like without "Duplicated timeseries" errors from the global default registry.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

CYCLE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class ElWatcherMetrics:
    """What an operator graphs and alerts on: where the scan is, how far behind the head,
    how much it indexed, how long cycles take, and which errors it meets."""

    def __init__(self, registry: CollectorRegistry, namespace: str = "seat_manager") -> None:
        def name(suffix: str) -> str:
            return f"{namespace}_el_{suffix}"

        self.scanned_block = Gauge(
            name("scanned_block"),
            "Last block the EL watcher scanned and recorded",
            registry=registry,
        )
        self.head_block = Gauge(
            name("head_block"),
            "Execution-layer head block seen by the watcher",
            registry=registry,
        )
        self.lag_blocks = Gauge(
            name("lag_blocks"), "Head block minus the last scanned block", registry=registry
        )
        self.range_size = Gauge(
            name("range_size_blocks"),
            "Block range the next eth_getLogs will ask for",
            registry=registry,
        )
        self.deposits_indexed = Counter(
            name("deposits_indexed"),
            "DepositEvent logs added to the deposit index",
            registry=registry,
        )
        self.seats_moved = Counter(
            name("seat_moves"),
            "Seat transitions made by the EL watcher",
            ["to_status"],
            registry=registry,
        )
        self.reorgs = Counter(
            name("reorgs"), "Reorganisations the EL watcher rewound", registry=registry
        )
        self.reorg_depth = Gauge(
            name("last_reorg_depth_blocks"),
            "Blocks rewound by the last reorganisation",
            registry=registry,
        )
        self.range_refusals = Counter(
            name("range_refusals"),
            "Block ranges retried smaller, by cause",
            ["kind"],
            registry=registry,
        )
        self.errors = Counter(
            name("cycle_errors"),
            "EL watcher cycles that failed, by error code",
            ["kind"],
            registry=registry,
        )
        self.cycle_seconds = Histogram(
            name("cycle_seconds"),
            "Duration of one EL watcher cycle",
            buckets=CYCLE_BUCKETS,
            registry=registry,
        )
