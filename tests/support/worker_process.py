"""Run the operation worker loop in its own process, for crash and concurrency tests.

    python -m tests.support.worker_process [--noop] [--record FILE] [--lease-s S]

The store comes from the ONBOARDING_* variables. Without --noop the OWNER_SEND
executor is used, with ETH_RPC_URL, WORKER_TEST_CHAIN (a ChainSetup as JSON) and
WORKER_TEST_OWNER_KEY. WORKER_TEST_CRASH_AT=STEP[:KIND] makes the process SIGKILL
itself the first time an operation (of KIND, if given) reaches STEP: nonce_reserved
(inside the signing transaction, before its commit), signed (committed, not yet
broadcast), broadcast, receipt (mined and confirmed, not yet recorded).

The loop (`run_cycle`, batches of the worker's concurrency, as `watch` runs it) exits 0
once no live operation is left in the store. --noop executes
nothing and, with --record, appends each executed operation id to FILE (one line per
execution), so a test can prove no operation was executed twice.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from datetime import UTC, datetime
from typing import TextIO

from sqlalchemy import func, select

from seat_manager.adapters.chain.executor import (
    ExecutionResult,
    Executor,
    OwnerSendExecutor,
    Succeeded,
)
from seat_manager.adapters.chain.rpc import RpcClient
from seat_manager.adapters.chain.signer import LocalSigner
from seat_manager.adapters.db.engine import make_engine
from seat_manager.adapters.db.queue import ClaimedOperation
from seat_manager.adapters.db.tables import OperationRow
from seat_manager.adapters.db.uow import UnitOfWorkFactory
from seat_manager.config import load_settings
from seat_manager.domain.operations import LIVE_STATUSES
from seat_manager.workers.operation_worker import OperationWorker
from tests.support.worker_setup import ChainSetup

IDLE_SLEEP_S = 0.05


class RecordingNoop:
    """Executes nothing; writes the id of each operation it was asked to execute."""

    def __init__(self, out: TextIO | None) -> None:
        self._out = out

    async def execute(self, op: ClaimedOperation) -> ExecutionResult:
        if self._out is not None:
            self._out.write(op.operation_id + "\n")
            self._out.flush()
        return Succeeded({"noop": True})


async def crash_hook(step: str, op: ClaimedOperation) -> None:
    wanted = os.environ.get("WORKER_TEST_CRASH_AT")
    if not wanted:
        return
    at, _, kind = wanted.partition(":")
    if step == at and (not kind or kind == op.kind.value):
        os.kill(os.getpid(), signal.SIGKILL)


async def live_operations(uow: UnitOfWorkFactory) -> int:
    async with uow() as work:
        result = await work.session.execute(
            select(func.count()).where(OperationRow.status.in_([s.value for s in LIVE_STATUSES]))
        )
        return int(result.scalar_one())


async def main(args: argparse.Namespace) -> int:
    settings = load_settings(env_file=None)
    engine = make_engine(settings.store)
    uow = UnitOfWorkFactory(engine)
    rpc: RpcClient | None = None
    record = open(args.record, "a", encoding="utf-8") if args.record else None  # noqa: SIM115
    try:
        executor: Executor
        if args.noop:
            executor = RecordingNoop(record)
        else:
            chain = ChainSetup.from_json(os.environ["WORKER_TEST_CHAIN"])
            rpc = RpcClient(os.environ["ETH_RPC_URL"])
            executor = OwnerSendExecutor(
                rpc,
                LocalSigner(os.environ["WORKER_TEST_OWNER_KEY"]),
                uow,
                chain.config(lease_s=args.lease_s, pending_delay_s=0.2),
                on_step=crash_hook,
            )
        worker = OperationWorker(uow, executor, lease_s=args.lease_s)
        while True:
            if not await worker.run_cycle(datetime.now(UTC)):
                if await live_operations(uow) == 0:
                    print(f"processed={worker.counts.processed}", flush=True)
                    return 0
                await asyncio.sleep(IDLE_SLEEP_S)
    finally:
        if record is not None:
            record.close()
        if rpc is not None:
            await rpc.aclose()
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--noop", action="store_true")
    parser.add_argument("--record")
    parser.add_argument("--lease-s", type=float, default=2.0)
    sys.exit(asyncio.run(main(parser.parse_args())))
