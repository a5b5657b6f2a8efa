"""The consensus-layer watcher cycle against a real HTTP beacon server and both stores."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from seat_manager.adapters.beacon import (
    BeaconClient,
    BeaconHttpError,
    BeaconResponseInvalid,
    BeaconTransportError,
)
from seat_manager.adapters.chain.rpc import RetryPolicy
from seat_manager.adapters.db.tables import AuditEventRow, SeatEventRow, SeatRow, WatcherStateRow
from seat_manager.adapters.db.uow import UnitOfWorkFactory
from seat_manager.domain.validator_status import UnknownValidatorStatus
from seat_manager.domain.vaults import withdrawal_credentials
from seat_manager.workers.cl_metrics import ClMetrics
from seat_manager.workers.cl_watcher import (
    BeaconNodeBehind,
    BeaconNodeNotReady,
    ClWatcher,
)
from tests.support.beacon_server import (
    FakeBeacon,
    FakePendingDeposit,
    FakeValidator,
    Fault,
    serve_beacon,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
VAULT = "0x" + "ab" * 20
VAULT_CREDENTIALS = "0x" + withdrawal_credentials(VAULT).hex()
OTHER_CREDENTIALS = "0x01" + "00" * 11 + "cd" * 20


def pubkey(n: int) -> str:
    return "0x" + n.to_bytes(48, "big").hex()


@pytest.fixture
def node() -> Iterator[FakeBeacon]:
    with serve_beacon() as server:
        yield server


def client(node: FakeBeacon, **kwargs: Any) -> BeaconClient:
    kwargs.setdefault("retry", RetryPolicy(attempts=2, initial_delay=0.0))
    return BeaconClient(node.url, **kwargs)


@pytest.fixture
async def beacon(node: FakeBeacon) -> AsyncIterator[BeaconClient]:
    async with client(node) as beacon_client:
        yield beacon_client


async def add_seats(
    uow_factory: UnitOfWorkFactory, count: int, status: str = "DEPOSITED", **fields: Any
) -> list[str]:
    seat_ids = []
    async with uow_factory() as uow:
        for n in range(1, count + 1):
            seat_id = f"seat-{n:03d}"
            uow.seats.add(
                SeatRow(
                    seat_id=seat_id,
                    operator_id=f"op-{n:03d}",
                    status=status,
                    validator_pubkey=pubkey(n),
                    vault_address=VAULT,
                    created_at=NOW - timedelta(days=1),
                    updated_at=NOW - timedelta(days=1),
                    **fields,
                )
            )
            seat_ids.append(seat_id)
        await uow.commit()
    return seat_ids


def validator(n: int, status: str, **kwargs: Any) -> FakeValidator:
    kwargs.setdefault("withdrawal_credentials", VAULT_CREDENTIALS)
    return FakeValidator(pubkey=pubkey(n), index=1000 + n, status=status, **kwargs)


async def snapshot(uow_factory: UnitOfWorkFactory) -> dict[str, Any]:
    """Everything a cycle may write, for before/after comparisons."""
    async with AsyncSession(uow_factory.engine) as session:
        seats = (
            await session.execute(
                select(
                    SeatRow.seat_id,
                    SeatRow.status,
                    SeatRow.validator_index,
                    SeatRow.cl_status,
                    SeatRow.version,
                ).order_by(SeatRow.seat_id)
            )
        ).all()
        events = await session.scalar(select(func.count()).select_from(SeatEventRow))
        audits = await session.scalar(select(func.count()).select_from(AuditEventRow))
        state = (
            await session.execute(
                select(WatcherStateRow.key, WatcherStateRow.value).order_by(WatcherStateRow.key)
            )
        ).all()
    return {
        "seats": [tuple(r) for r in seats],
        "events": events,
        "audits": audits,
        "state": [tuple(r) for r in state],
    }


@dataclass(frozen=True)
class EventView:
    actor: str
    to_status: str
    evidence: dict[str, Any]


async def events_of(uow_factory: UnitOfWorkFactory, seat_id: str) -> list[EventView]:
    async with uow_factory() as uow:
        return [
            EventView(e.actor, e.to_status, dict(e.evidence))
            for e in await uow.seats.events(seat_id)
        ]


async def audits_of(uow_factory: UnitOfWorkFactory, event_type: str) -> list[tuple[Any, ...]]:
    async with uow_factory() as uow:
        return sorted(
            (a.subject_id, a.reason_code)
            for a in await uow.audit.list_recent()
            if a.event_type == event_type
        )


@dataclass(frozen=True)
class SeatView:
    status: str
    validator_index: int | None
    cl_status: str | None


async def seat_status(uow_factory: UnitOfWorkFactory, seat_id: str) -> SeatView:
    async with uow_factory() as uow:
        row = await uow.seats.get(seat_id)
        assert row is not None
        return SeatView(row.status, row.validator_index, row.cl_status)


async def test_deposited_seats_follow_the_beacon_to_cl_visible_active_exited_and_exception(
    uow_factory: UnitOfWorkFactory, node: FakeBeacon, beacon: BeaconClient
):
    await add_seats(uow_factory, 4)
    node.add(validator(1, "pending_queued"))
    node.add(validator(2, "active_ongoing", activation_epoch=200))
    node.add(validator(3, "withdrawal_done", activation_epoch=200, exit_epoch=900))
    node.add(validator(4, "active_slashed", slashed=True, activation_epoch=200, exit_epoch=950))
    node.head_slot = 31_337

    result = await ClWatcher(uow_factory, beacon).run_cycle(NOW)

    moved = {m.seat_id: (m.from_status, m.to_status, m.anomaly) for m in result.moves}
    assert moved == {
        "seat-001": ("DEPOSITED", "CL_VISIBLE", None),
        "seat-002": ("DEPOSITED", "ACTIVE", None),
        "seat-003": ("DEPOSITED", "EXITED", None),
        "seat-004": ("DEPOSITED", "EXCEPTION", "VALIDATOR_SLASHED"),
    }
    rows = {n: await seat_status(uow_factory, f"seat-00{n}") for n in range(1, 5)}
    assert [rows[n].status for n in range(1, 5)] == ["CL_VISIBLE", "ACTIVE", "EXITED", "EXCEPTION"]
    assert [rows[n].validator_index for n in range(1, 5)] == [1001, 1002, 1003, 1004]
    assert rows[4].cl_status == "active_slashed"
    active_events = await events_of(uow_factory, "seat-002")
    slashed_events = await events_of(uow_factory, "seat-004")
    async with uow_factory() as uow:
        state = await uow.watcher_state.all()
    evidence = active_events[-1].evidence
    assert active_events[-1].actor == "watcher:cl"
    assert {k: evidence[k] for k in ("validator_index", "status", "epoch", "slot", "source")} == {
        "validator_index": 1002,
        "status": "active_ongoing",
        "epoch": 200,
        "slot": 31_337,
        "source": "beacon",
    }
    assert slashed_events[-1].evidence["epoch"] == 950
    assert slashed_events[-1].evidence["anomaly"] == "VALIDATOR_SLASHED"
    assert state["cl_head_slot"] == "31337"
    assert datetime.fromisoformat(state["cl_last_poll_at"]) == NOW
    assert await audits_of(uow_factory, "seat.cl.moved") == [
        ("seat-001", None),
        ("seat-002", None),
        ("seat-003", None),
        ("seat-004", "VALIDATOR_SLASHED"),
    ]
    assert result.head_slot == 31_337 and result.seats_watched == 4 and result.batches == 1


async def test_pubkey_only_in_the_pending_deposits_queue_makes_the_seat_cl_visible(
    uow_factory: UnitOfWorkFactory, node: FakeBeacon, beacon: BeaconClient
):
    await add_seats(uow_factory, 1, status="ENROLLED")
    node.pending.append(FakePendingDeposit(pubkey(1), VAULT_CREDENTIALS, slot=977))

    result = await ClWatcher(uow_factory, beacon).run_cycle(NOW)

    assert [(m.from_status, m.to_status) for m in result.moves] == [("ENROLLED", "CL_VISIBLE")]
    row = await seat_status(uow_factory, "seat-001")
    assert (row.status, row.cl_status, row.validator_index) == (
        "CL_VISIBLE",
        "pending_deposit",
        None,
    )
    evidence = (await events_of(uow_factory, "seat-001"))[-1].evidence
    assert evidence["pending_deposit_slots"] == [977]
    assert result.queue_supported is True


async def test_pending_deposit_with_foreign_credentials_moves_the_seat_to_exception(
    uow_factory: UnitOfWorkFactory, node: FakeBeacon, beacon: BeaconClient
):
    await add_seats(uow_factory, 1, status="DEPOSITED")
    node.pending.append(FakePendingDeposit(pubkey(1), OTHER_CREDENTIALS))

    result = await ClWatcher(uow_factory, beacon).run_cycle(NOW)

    assert [m.anomaly for m in result.moves] == ["WITHDRAWAL_CREDENTIALS_MISMATCH"]
    assert (await seat_status(uow_factory, "seat-001")).status == "EXCEPTION"


async def test_validator_with_foreign_credentials_moves_an_active_seat_to_exception(
    uow_factory: UnitOfWorkFactory, node: FakeBeacon, beacon: BeaconClient
):
    await add_seats(uow_factory, 1, status="ACTIVE")
    node.add(validator(1, "active_ongoing", withdrawal_credentials=OTHER_CREDENTIALS))

    await ClWatcher(uow_factory, beacon).run_cycle(NOW)

    assert (await seat_status(uow_factory, "seat-001")).status == "EXCEPTION"


async def test_a_second_cycle_on_an_unchanged_beacon_changes_no_seat_event_or_audit(
    uow_factory: UnitOfWorkFactory, node: FakeBeacon, beacon: BeaconClient
):
    await add_seats(uow_factory, 5)
    node.add(validator(1, "pending_initialized"))
    node.add(validator(2, "active_exiting", activation_epoch=5, exit_epoch=300))
    node.add(validator(3, "exited_slashed", slashed=True, exit_epoch=280))
    node.add(validator(4, "exited_unslashed", exit_epoch=290))
    watcher = ClWatcher(uow_factory, beacon)
    first = await watcher.run_cycle(NOW)
    before = await snapshot(uow_factory)

    second = await watcher.run_cycle(NOW)

    assert len(first.moves) == 4
    assert second.moves == () and second.flagged == ()
    assert await snapshot(uow_factory) == before


async def test_exited_seat_the_beacon_shows_active_is_flagged_and_audited_once_not_moved(
    uow_factory: UnitOfWorkFactory, node: FakeBeacon, beacon: BeaconClient
):
    await add_seats(
        uow_factory, 1, status="EXITED", validator_index=1001, cl_status="withdrawal_done"
    )
    node.add(validator(1, "active_ongoing"))
    watcher = ClWatcher(uow_factory, beacon)

    first = await watcher.run_cycle(NOW)
    second = await watcher.run_cycle(NOW)

    assert [(f.anomaly, f.new) for f in first.flagged] == [("BEACON_STATUS_BEHIND_SEAT", True)]
    assert [(f.anomaly, f.new) for f in second.flagged] == [("BEACON_STATUS_BEHIND_SEAT", False)]
    assert (await seat_status(uow_factory, "seat-001")).status == "EXITED"
    assert await audits_of(uow_factory, "seat.cl.anomaly") == [
        ("seat-001", "BEACON_STATUS_BEHIND_SEAT")
    ]


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault("malformed_json", "/validators"), BeaconResponseInvalid),
        (Fault("wrong_shape", "/validators"), BeaconResponseInvalid),
        (Fault("http_500", "/validators"), BeaconHttpError),
        (Fault("wrong_shape", "/headers/head"), BeaconResponseInvalid),
    ],
    ids=["malformed-json", "wrong-shape", "http-500", "bad-head"],
)
async def test_a_faulty_answer_raises_its_typed_error_and_changes_nothing(
    uow_factory: UnitOfWorkFactory,
    node: FakeBeacon,
    beacon: BeaconClient,
    fault: Fault,
    error: type[Exception],
):
    await add_seats(uow_factory, 2)
    node.add(validator(1, "active_ongoing"))
    node.faults.append(fault)
    before = await snapshot(uow_factory)

    with pytest.raises(error):
        await ClWatcher(uow_factory, beacon).run_cycle(NOW)

    assert await snapshot(uow_factory) == before


async def test_an_unknown_validator_status_raises_and_changes_nothing(
    uow_factory: UnitOfWorkFactory, node: FakeBeacon, beacon: BeaconClient
):
    await add_seats(uow_factory, 2)
    node.add(validator(1, "active_ongoing"))
    node.add(validator(2, "active_dancing"))
    before = await snapshot(uow_factory)

    with pytest.raises(UnknownValidatorStatus):
        await ClWatcher(uow_factory, beacon).run_cycle(NOW)

    assert await snapshot(uow_factory) == before


async def test_a_node_slower_than_the_read_timeout_raises_transport_error_and_changes_nothing(
    uow_factory: UnitOfWorkFactory, node: FakeBeacon
):
    await add_seats(uow_factory, 1)
    node.add(validator(1, "active_ongoing"))
    node.faults.append(Fault("slow", "/validators", delay=1.0))
    before = await snapshot(uow_factory)

    timeout = httpx.Timeout(connect=2.0, read=0.1, write=2.0, pool=2.0)
    async with client(node, timeout=timeout) as slow_client:
        with pytest.raises(BeaconTransportError, match="ReadTimeout"):
            await ClWatcher(uow_factory, slow_client).run_cycle(NOW)

    assert await snapshot(uow_factory) == before
    assert len(node.validator_requests()) == 2  # both attempts reached the node


@pytest.mark.parametrize("flag", ["is_syncing", "is_optimistic"])
async def test_a_syncing_or_optimistic_node_is_not_trusted_and_nothing_changes(
    uow_factory: UnitOfWorkFactory, node: FakeBeacon, beacon: BeaconClient, flag: str
):
    await add_seats(uow_factory, 1)
    node.add(validator(1, "active_slashed", slashed=True))
    setattr(node, flag, True)
    before = await snapshot(uow_factory)

    with pytest.raises(BeaconNodeNotReady):
        await ClWatcher(uow_factory, beacon).run_cycle(NOW)

    assert await snapshot(uow_factory) == before
    assert node.validator_requests() == []


async def test_a_node_more_than_an_epoch_behind_the_last_poll_is_refused(
    uow_factory: UnitOfWorkFactory, node: FakeBeacon, beacon: BeaconClient
):
    await add_seats(uow_factory, 1, status="ACTIVE")
    node.add(validator(1, "active_ongoing"))
    watcher = ClWatcher(uow_factory, beacon)
    node.head_slot = 5000
    await watcher.run_cycle(NOW)
    node.head_slot = 5000 - 33
    node.validators[pubkey(1)].status = "pending_queued"  # the lagging node's older view

    with pytest.raises(BeaconNodeBehind):
        await watcher.run_cycle(NOW + timedelta(seconds=12))

    assert (await seat_status(uow_factory, "seat-001")).status == "ACTIVE"


async def test_250_pubkeys_are_polled_in_batches_of_the_configured_size(
    uow_factory: UnitOfWorkFactory, node: FakeBeacon, beacon: BeaconClient
):
    await add_seats(uow_factory, 250)
    for n in range(1, 251):
        node.add(validator(n, "active_ongoing"))

    result = await ClWatcher(uow_factory, beacon, batch_size=100).run_cycle(NOW)

    requests = node.validator_requests()
    assert [(r.method, len(r.ids)) for r in requests] == [
        ("POST", 100),
        ("POST", 100),
        ("POST", 50),
    ]
    assert sorted(i for r in requests for i in r.ids) == sorted(pubkey(n) for n in range(1, 251))
    assert result.batches == 3 and len(result.moves) == 250
    assert result.seen == {"active_ongoing": 250}


async def test_a_node_without_post_validators_is_asked_with_get_and_id_lists(
    uow_factory: UnitOfWorkFactory, node: FakeBeacon, beacon: BeaconClient
):
    await add_seats(uow_factory, 3)
    for n in range(1, 4):
        node.add(validator(n, "active_ongoing"))
    node.post_supported = False

    result = await ClWatcher(uow_factory, beacon, batch_size=2).run_cycle(NOW)

    assert [(r.method, len(r.ids)) for r in node.validator_requests()] == [
        ("POST", 2),
        ("GET", 2),
        ("GET", 1),
    ]
    assert len(result.moves) == 3


async def test_node_without_pending_queue_leaves_unseen_seats_alone_and_says_so(
    uow_factory: UnitOfWorkFactory, node: FakeBeacon, beacon: BeaconClient
):
    await add_seats(uow_factory, 1, status="CL_VISIBLE")
    node.pending_supported = False

    result = await ClWatcher(uow_factory, beacon).run_cycle(NOW)

    assert result.moves == () and result.queue_supported is False
    assert (await seat_status(uow_factory, "seat-001")).status == "CL_VISIBLE"


async def test_metrics_report_the_poll_and_count_errors_by_kind(
    uow_factory: UnitOfWorkFactory, node: FakeBeacon, beacon: BeaconClient
):
    await add_seats(uow_factory, 2)
    node.add(validator(1, "active_ongoing"))
    node.head_slot = 4242
    registry = CollectorRegistry()
    watcher = ClWatcher(uow_factory, beacon, metrics=ClMetrics(registry))

    await watcher.run_cycle(NOW)
    node.faults.append(Fault("malformed_json", "/validators"))
    with pytest.raises(BeaconResponseInvalid):
        await watcher.run_cycle(NOW)

    value = registry.get_sample_value
    assert value("seat_manager_cl_head_slot") == 4242
    assert value("seat_manager_cl_last_poll_timestamp_seconds") == NOW.timestamp()
    assert value("seat_manager_cl_validators", {"status": "active_ongoing"}) == 1
    assert value("seat_manager_cl_validators", {"status": "not_found"}) == 1
    assert value("seat_manager_cl_seat_moves_total", {"to": "ACTIVE"}) == 1
    assert value("seat_manager_cl_errors_total", {"kind": "BEACON_RESPONSE_INVALID"}) == 1


async def test_without_a_beacon_url_the_cycle_reports_unconfigured_and_writes_nothing(
    uow_factory: UnitOfWorkFactory,
):
    await add_seats(uow_factory, 1)
    before = await snapshot(uow_factory)

    result = await ClWatcher(uow_factory, None).run_cycle(NOW)

    assert result.configured is False
    assert await snapshot(uow_factory) == before


async def test_a_seat_moved_elsewhere_while_the_beacon_was_asked_is_left_alone(
    uow_factory: UnitOfWorkFactory, node: FakeBeacon, beacon: BeaconClient
):
    """Rows are re-read inside the transaction, so a decision never rests on the listing."""
    await add_seats(uow_factory, 2)
    node.add(validator(1, "active_ongoing"))
    node.add(validator(2, "active_ongoing"))

    class AdminActsMidPoll:
        def __getattr__(self, name: str) -> Any:
            return getattr(beacon, name)

        async def get_validators(self, pubkeys: Any, state_id: str = "head") -> Any:
            async with uow_factory() as uow:
                row = await uow.seats.get("seat-001")
                assert row is not None
                row.status = "EXCEPTION"
                await uow.commit()
            return await beacon.get_validators(pubkeys, state_id)

    result = await ClWatcher(uow_factory, AdminActsMidPoll()).run_cycle(NOW)

    assert [m.seat_id for m in result.moves] == ["seat-002"]
    assert (await seat_status(uow_factory, "seat-001")) == SeatView("EXCEPTION", None, None)
    assert await events_of(uow_factory, "seat-001") == []
