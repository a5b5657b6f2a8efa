"""Seed one seat from a separate process, starting at an agreed wall-clock instant.

Usage: python -m tests.support.seed_once POSTGRES_URL SEAT_ID OPERATOR_ID START_AT_UNIX
Prints `created` or the refusal's error code.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime

from pydantic import SecretStr

from seat_manager.adapters.db.engine import make_engine
from seat_manager.adapters.db.uow import UnitOfWorkFactory
from seat_manager.config import SeedSeat, StoreConfig
from seat_manager.domain.types import OperatorId, SeatId
from seat_manager.services.seeding import SeedFailed, seed_created_seats


async def main(url: str, seat_id: str, operator_id: str, start_at: float) -> str:
    engine = make_engine(StoreConfig("postgres", "unused", SecretStr(url)))  # type: ignore[arg-type]
    try:
        async with engine.connect():  # connect before the start line, so both race the insert
            pass
        time.sleep(max(0.0, start_at - time.time()))
        try:
            await seed_created_seats(
                UnitOfWorkFactory(engine),
                [SeedSeat(SeatId(seat_id), OperatorId(operator_id))],
                datetime.now(UTC),
            )
        except SeedFailed as exc:
            return exc.code
        return "created"
    finally:
        await engine.dispose()


if __name__ == "__main__":
    url, seat, operator, start = sys.argv[1:5]
    print(asyncio.run(main(url, seat, operator, float(start))), flush=True)
