"""What `seat-manager status` reports: store, schema, seats, operations, watcher, mode."""

from __future__ import annotations

from dataclasses import dataclass, field

from seat_manager.adapters.db import migrator
from seat_manager.bootstrap import Container
from seat_manager.domain.operations import OperationStatus
from seat_manager.domain.seats import SeatStatus
from seat_manager.services.health import WatcherHealth, watcher_health


@dataclass
class StatusReport:
    store_driver: str
    store_location: str
    reachable: bool
    schema_revision: str | None = None
    schema_head: str | None = None
    pending_migrations: list[str] = field(default_factory=list)
    seats: dict[str, int] = field(default_factory=dict)
    operations: dict[str, int] = field(default_factory=dict)
    watcher: WatcherHealth | None = None
    mode: str = ""
    signer_address: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems


async def collect_status(container: Container, signer_address: str | None) -> StatusReport:
    settings = container.settings
    report = StatusReport(
        store_driver=settings.store_driver,
        store_location=settings.store.display,
        reachable=True,
        mode=settings.operation_mode,
        signer_address=signer_address,
    )
    state = await migrator.schema_state(container.engine)
    report.schema_revision = state.current
    report.schema_head = state.head
    report.pending_migrations = list(state.pending)
    if state.pending:
        report.problems.append(
            f"pending migrations: {', '.join(state.pending)}; run `seat-manager migrate`"
        )
        return report
    async with container.uow() as uow:
        seats = await uow.seats.count_by_status()
        operations = await uow.operations.count_by_status()
        report.watcher = await watcher_health(uow, settings)
    report.seats = {status.value: seats.get(status.value, 0) for status in SeatStatus}
    report.operations = {s.value: operations.get(s.value, 0) for s in OperationStatus}
    return report
