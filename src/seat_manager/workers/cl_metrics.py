"""Prometheus metrics of the consensus-layer watcher, on a registry the caller owns.

Nothing registers at import: bootstrap builds one ``ClMetrics(container.registry)`` and
hands it to the watcher, so tests can use a fresh registry each.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from seat_manager.domain.validator_status import ValidatorStatus

SEEN_LABELS: tuple[str, ...] = (
    *(status.value for status in ValidatorStatus),
    "pending_deposit",
    "not_found",
)
"""Every value of ``ClObservation.cl_status``, so each gauge series is reset each poll."""


class ClMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.last_poll = Gauge(
            "seat_manager_cl_last_poll_timestamp_seconds",
            "Unix time of the last complete beacon poll",
            registry=registry,
        )
        self.head_slot = Gauge(
            "seat_manager_cl_head_slot", "Beacon head slot at the last poll", registry=registry
        )
        self.validators = Gauge(
            "seat_manager_cl_validators",
            "Watched seats by the beacon status of their validator at the last poll",
            ["status"],
            registry=registry,
        )
        self.moves = Counter(
            "seat_manager_cl_seat_moves",
            "Seat transitions the CL watcher recorded, by target status",
            ["to"],
            registry=registry,
        )
        self.anomalies = Counter(
            "seat_manager_cl_anomalies",
            "Contradictions between beacon and seat (moved to EXCEPTION or flagged)",
            ["anomaly"],
            registry=registry,
        )
        self.errors = Counter(
            "seat_manager_cl_errors",
            "Failed CL watcher cycles by error kind",
            ["kind"],
            registry=registry,
        )
        self.cycle_seconds = Histogram(
            "seat_manager_cl_cycle_duration_seconds",
            "Duration of one CL watcher cycle",
            registry=registry,
        )

    def record_poll(
        self,
        *,
        polled_at: float,
        head_slot: int,
        seen: Mapping[str, int],
        moves: Mapping[str, int],
        anomalies: Mapping[str, int],
        duration_s: float,
    ) -> None:
        self.last_poll.set(polled_at)
        self.head_slot.set(head_slot)
        for label in SEEN_LABELS:
            self.validators.labels(status=label).set(seen.get(label, 0))
        for target, count in moves.items():
            self.moves.labels(to=target).inc(count)
        for anomaly, count in anomalies.items():
            self.anomalies.labels(anomaly=anomaly).inc(count)
        self.cycle_seconds.observe(duration_s)

    def record_error(self, kind: str) -> None:
        self.errors.labels(kind=kind).inc()
