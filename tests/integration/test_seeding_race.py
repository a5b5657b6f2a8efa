"""One non-revoked seat per operator holds even when two processes race (PostgreSQL)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import pytest

from tests.support.cli import base_env, run_cli

ROUNDS = 3


async def _fetch(url: str, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(sql)
    finally:
        await conn.close()


def test_two_processes_seeding_one_operator_leave_exactly_one_seat(
    pg_env: dict[str, str], tmp_path: Path
):
    url = pg_env["ONBOARDING_POSTGRES_URL"]
    assert run_cli(["migrate"], pg_env, tmp_path).returncode == 0
    repo_root = Path(__file__).resolve().parents[2]
    for round_ in range(ROUNDS):
        operator = f"operator_{round_}"
        start_at = time.time() + 2.0
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.support.seed_once",
                    url,
                    f"seat_{round_}_{side}",
                    operator,
                    str(start_at),
                ],
                cwd=repo_root,
                env=base_env({}),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for side in ("a", "b")
        ]
        outcomes = []
        for proc in procs:
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
            outcomes.append(out.strip())
        assert sorted(outcomes) == ["OPERATOR_ALREADY_HAS_ACTIVE_SEAT", "created"], outcomes
        rows = asyncio.run(
            _fetch(url, f"SELECT seat_id FROM seats WHERE operator_id = '{operator}'")
        )
        assert len(rows) == 1
        events = asyncio.run(
            _fetch(
                url,
                "SELECT event_type FROM audit_events"
                f" WHERE data::text LIKE '%{operator}%' ORDER BY id",
            )
        )
        assert sorted(r["event_type"] for r in events) == ["seat.seed.rejected", "seat.seeded"]


def test_the_database_index_itself_refuses_a_second_active_seat(
    pg_env: dict[str, str], tmp_path: Path
):
    url = pg_env["ONBOARDING_POSTGRES_URL"]
    assert run_cli(["migrate"], pg_env, tmp_path).returncode == 0
    insert = (
        "INSERT INTO seats (seat_id, operator_id, status, created_at, updated_at)"
        " VALUES ('{seat}', 'op', '{status}', now(), now())"
    )
    asyncio.run(_fetch(url, insert.format(seat="s1", status="CREATED")))
    with pytest.raises(asyncpg.UniqueViolationError, match="uniq_seats_active_operator_id"):
        asyncio.run(_fetch(url, insert.format(seat="s2", status="ENROLLED")))
    # a revoked seat does not count: the operator may hold a new one beside it
    asyncio.run(_fetch(url, "UPDATE seats SET status = 'REVOKED' WHERE seat_id = 's1'"))
    asyncio.run(_fetch(url, insert.format(seat="s2", status="CREATED")))
