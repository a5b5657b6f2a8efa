"""Four worker processes on PostgreSQL drain 500 queued operations: every operation is
executed exactly once (no double claim under FOR UPDATE SKIP LOCKED) and finished once."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from seat_manager.adapters.db import queue
from seat_manager.adapters.db.tables import AuditEventRow, OperationRow, SeatRow
from seat_manager.adapters.db.uow import UnitOfWorkFactory
from seat_manager.domain.operations import OperationKind
from tests.support.worker_setup import open_store

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
OPERATIONS = 500
WORKERS = 4


async def queue_operations(uow: UnitOfWorkFactory, count: int) -> set[str]:
    now = datetime.now(UTC)
    ids = set()
    async with uow() as work:
        for i in range(count):
            work.session.add(
                SeatRow(
                    seat_id=f"seat-{i:04d}",
                    operator_id=f"operator-{i:04d}",
                    status="ENROLLED",
                    created_at=now,
                    updated_at=now,
                )
            )
        await work.flush()
        for i in range(count):
            row, _ = await queue.enqueue(
                work.session, f"seat-{i:04d}", OperationKind.CLAIM, {}, now
            )
            ids.add(row.operation_id)
        await work.commit()
    return ids


async def test_four_worker_processes_execute_each_of_500_operations_exactly_once(
    pg_env: dict[str, str], tmp_path: Path
) -> None:
    engine, uow = await open_store(pg_env)
    try:
        queued = await queue_operations(uow, OPERATIONS)
        records = [tmp_path / f"worker-{n}.txt" for n in range(WORKERS)]
        processes = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.support.worker_process",
                    "--noop",
                    "--record",
                    str(record),
                ],
                cwd=REPO,
                env={**os.environ, **pg_env},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for record in records
        ]
        try:
            results = [process.communicate(timeout=300) for process in processes]
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
                    process.wait()
        for process, (_, stderr) in zip(processes, results, strict=True):
            assert process.returncode == 0, stderr[-3000:]

        executed = Counter(
            line for record in records if record.exists() for line in record.read_text().split()
        )
        assert set(executed) == queued
        assert [op for op, times in executed.items() if times != 1] == []

        async with uow() as work:
            rows = await work.session.execute(select(OperationRow.status, OperationRow.attempts))
            assert Counter(tuple(row) for row in rows) == {("succeeded", 1): OPERATIONS}
            finishes = await work.session.execute(
                select(AuditEventRow.subject_id, func.count())
                .where(AuditEventRow.event_type == "operation.succeeded")
                .group_by(AuditEventRow.subject_id)
            )
            assert {op: n for op, n in finishes} == dict.fromkeys(queued, 1)
    finally:
        await engine.dispose()
