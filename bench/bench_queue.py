"""Operation-queue throughput on PostgreSQL: the real worker vs a bare claim loop.

Each round fills the queue with N operations and starts P processes (1, 2, 4) at an
agreed instant, after their imports and connections are done:

- worker: `OperationWorker.run_cycle`, as `watch` runs it, with the no-op executor:
  claims of up to `concurrency` operations (UPDATE … FOR UPDATE SKIP LOCKED,
  committed), each executed as its own task with a heartbeat armed and cancelled, the
  status-machine decisions, the lease-guarded finishes and their audit rows
  (committed);
- bare: one autocommitted `UPDATE … WHERE operation_id = (SELECT … FOR UPDATE SKIP
  LOCKED LIMIT 1) RETURNING` per operation over asyncpg: the floor, nothing else.

Throughput is operations / (last process finished - start). Every operation must end
`succeeded` exactly once, or the round is invalid. The target is the worker with 4
processes at least 0.5x the bare loop with 4 processes.

    .venv/bin/python bench/bench_queue.py [--operations 2000] [--processes 1 2 4] [--repeat 5]

Rounds of the two loops are interleaved and the best of each kept, since the host
may be shared: a round slowed by someone else's load says nothing about the queue.

PostgreSQL comes from SEAT_MANAGER_TEST_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/postgres); a scratch database is created and
dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from seat_manager.adapters.chain.executor import NoopExecutor
from seat_manager.adapters.db import migrator
from seat_manager.adapters.db.engine import make_engine
from seat_manager.adapters.db.uow import UnitOfWorkFactory
from seat_manager.config import StoreConfig
from seat_manager.workers.operation_worker import OperationWorker

ADMIN_URL = os.environ.get(
    "SEAT_MANAGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
TARGET_RATIO = 0.5
START_DELAY_S = 3.0
BARE_CLAIM = """
UPDATE operations SET status = 'succeeded', attempts = attempts + 1, updated_at = now()
WHERE operation_id = (
    SELECT operation_id FROM operations
    WHERE status = 'queued' AND available_at <= now()
    ORDER BY available_at LIMIT 1 FOR UPDATE SKIP LOCKED
) RETURNING operation_id
"""


def store(url: str) -> StoreConfig:
    return StoreConfig("postgres", Path("unused"), SecretStr(url))


# ---- children ------------------------------------------------------------------------------


async def child_worker(url: str, start_at: float) -> tuple[int, float, bool]:
    engine = make_engine(store(url))
    worker = OperationWorker(UnitOfWorkFactory(engine), NoopExecutor())
    async with engine.connect():
        pass
    late = time.time() > start_at
    await asyncio.sleep(max(0.0, start_at - time.time()))
    count = 0
    while processed := await worker.run_cycle(datetime.now(UTC)):
        count += processed
    finished = time.time()
    await engine.dispose()
    return count, finished, late


async def child_bare(url: str, start_at: float) -> tuple[int, float, bool]:
    conn = await asyncpg.connect(url)
    late = time.time() > start_at
    await asyncio.sleep(max(0.0, start_at - time.time()))
    count = 0
    while await conn.fetchval(BARE_CLAIM) is not None:
        count += 1
    finished = time.time()
    await conn.close()
    return count, finished, late


# ---- the parent ----------------------------------------------------------------------------


async def admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def fill(url: str, operations: int) -> None:
    """N seats with one queued operation each; no leftovers from the previous round."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DELETE FROM audit_events; DELETE FROM operations; DELETE FROM seats")
        await conn.execute(
            """
            INSERT INTO seats (seat_id, operator_id, status, created_at, updated_at)
            SELECT 'seat-' || i, 'operator-' || i, 'ENROLLED', now(), now()
            FROM generate_series(1, $1) AS i
            """,
            operations,
        )
        await conn.execute(
            """
            INSERT INTO operations (operation_id, seat_id, kind, status, attempts, available_at,
                                    payload, created_at, updated_at)
            SELECT 'op_' || lpad(i::text, 26, 'a'), 'seat-' || i, 'CLAIM', 'queued', 0,
                   now() - interval '1 second' + i * interval '1 microsecond', '{}', now(), now()
            FROM generate_series(1, $1) AS i
            """,
            operations,
        )
        for table in ("seats", "operations", "audit_events"):
            await conn.execute(f"VACUUM ANALYZE {table}")
    finally:
        await conn.close()


async def check_done(url: str, operations: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT status, attempts, count(*) FROM operations GROUP BY 1, 2")
    finally:
        await conn.close()
    if [tuple(r) for r in rows] != [("succeeded", 1, operations)]:
        raise SystemExit(f"invalid round: operations ended as {[tuple(r) for r in rows]}")


async def run_round(url: str, kind: str, processes: int, operations: int) -> float:
    await fill(url, operations)
    start_at = time.time() + START_DELAY_S + 0.5 * processes
    children = [
        subprocess.Popen(
            [sys.executable, __file__, "--child", kind, "--url", url, "--start-at", str(start_at)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    results = []
    for child in children:
        out, _ = child.communicate(timeout=600)
        if child.returncode != 0:
            raise SystemExit(f"a {kind} child failed with exit code {child.returncode}")
        results.append(json.loads(out))
    if any(r["late"] for r in results):
        raise SystemExit("a child was ready after the agreed instant; raise START_DELAY_S")
    total = sum(r["count"] for r in results)
    if total != operations:
        raise SystemExit(f"{kind}: {total} claims for {operations} operations")
    await check_done(url, operations)
    return operations / (max(r["finished"] for r in results) - start_at)


async def main(operations: int, process_counts: list[int], repeat: int) -> int:
    name = f"sm_bench_{uuid.uuid4().hex[:10]}"
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    await admin(f"CREATE DATABASE {name}")
    try:
        engine = make_engine(store(url))
        await migrator.migrate(engine)
        await engine.dispose()
        print(
            f"PostgreSQL queue, {operations} operations per round, no-op executor,"
            f" best of {repeat} interleaved rounds"
        )
        print(f"{'processes':>9} {'worker op/s':>12} {'bare op/s':>10} {'ratio':>6}")
        ratios: dict[int, float] = {}
        for processes in process_counts:
            worker = bare = 0.0
            for _ in range(repeat):  # interleaved, best of each: the host is shared
                worker = max(worker, await run_round(url, "worker", processes, operations))
                bare = max(bare, await run_round(url, "bare", processes, operations))
            ratios[processes] = worker / bare
            print(f"{processes:>9} {worker:>12.0f} {bare:>10.0f} {ratios[processes]:>6.2f}")
    finally:
        await admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    top = max(process_counts)
    verdict = "PASS" if ratios[top] >= TARGET_RATIO else "FAIL"
    print(f"target: worker with {top} processes >= {TARGET_RATIO}x the bare loop: {verdict}")
    return 0 if verdict == "PASS" else 1


def child(kind: str, url: str, start_at: float) -> None:
    run = child_worker if kind == "worker" else child_bare
    count, finished, late = asyncio.run(run(url, start_at))
    print(json.dumps({"count": count, "finished": finished, "late": late}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operations", type=int, default=2000)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--child", choices=["worker", "bare"])
    parser.add_argument("--url")
    parser.add_argument("--start-at", type=float)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.url, args.start_at)
    else:
        sys.exit(asyncio.run(main(args.operations, args.processes, args.repeat)))
