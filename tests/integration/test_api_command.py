"""`seat-manager api` as a new operator runs it (runbook "Start The API", "Seed Seats Today")."""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path

import httpx
import pytest

from tests.support.cli import run_cli, runtime_env, start_cli
from tests.support.store import all_revisions, head_revision

LISTENING = re.compile(
    r"^seat-manager-v2 API listening on http://127\.0\.0\.1:(\d+)"
    r" \(seed seats=(\d+), store=(\w+)\)$"
)


def _env(store_env: dict[str, str], **extra: str) -> dict[str, str]:
    return {**runtime_env(), **store_env, "SEAT_MANAGER_PORT": "0", **extra}


def _seeds(*pairs: tuple[str, str]) -> str:
    return json.dumps([{"seatId": s, "operatorId": o} for s, o in pairs])


def _status_json(env: dict[str, str], cwd: Path) -> dict[str, object]:
    result = run_cli(["status", "--json"], env, cwd)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.splitlines()[1])


def test_api_prints_bootstrap_and_listening_lines_then_serves_and_stops_cleanly(
    store_env: dict[str, str], tmp_path: Path
):
    env = _env(store_env, SEAT_MANAGER_CREATED_SEATS_JSON=_seeds(("seat_001", "operator_001")))
    if store_env["ONBOARDING_STORE_DRIVER"] == "postgres":
        assert run_cli(["migrate"], env, tmp_path).returncode == 0
    service = start_cli(["api"], env, tmp_path)
    try:
        first = service.wait_for("[seat-manager-v2] bootstrap")
        assert first == "[seat-manager-v2] bootstrap command=api chainId=31337 mode=PROPOSE"
        line = service.wait_for("API listening")
        match = LISTENING.match(line)
        assert match, line
        port, seeded, driver = match.groups()
        assert seeded == "1"
        assert driver == store_env["ONBOARDING_STORE_DRIVER"]

        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/healthz").json() == {"ok": True}
        ready = httpx.get(f"{base}/readyz")
        assert ready.status_code == 200
        assert ready.json()["schema"] == head_revision()
        openapi = httpx.get(f"{base}/openapi.json").json()
        assert "/readyz" in openapi["paths"]
        metrics = httpx.get(f"{base}/metrics")
        assert metrics.status_code == 200
        assert 'seat_manager_seats{status="CREATED"} 1.0' in metrics.text
        assert "seat_manager_recorded_el_last_scanned_block -1.0" in metrics.text
        missing = httpx.get(f"{base}/nope")
        assert missing.status_code == 404
        assert missing.json()["ok"] is False
    finally:
        code = service.stop(signal.SIGTERM)
    assert code == 0

    seats = _status_json(env, tmp_path)["seats"]
    assert seats == {**{k: 0 for k in seats}, "CREATED": 1}


def test_sigint_stops_the_api_with_exit_zero(tmp_path: Path):
    env = _env({"ONBOARDING_SQLITE_PATH": str(tmp_path / "s.sqlite3")})
    service = start_cli(["api"], env, tmp_path)
    service.wait_for("API listening")
    assert service.stop(signal.SIGINT) == 0


def test_reseeding_the_same_seat_is_idempotent_and_audited(
    store_env: dict[str, str], tmp_path: Path
):
    env = _env(store_env, SEAT_MANAGER_CREATED_SEATS_JSON=_seeds(("seat_001", "operator_001")))
    if store_env["ONBOARDING_STORE_DRIVER"] == "postgres":
        assert run_cli(["migrate"], env, tmp_path).returncode == 0
    for _ in range(2):
        service = start_cli(["api"], env, tmp_path)
        assert "seed seats=1" in service.wait_for("API listening")
        assert service.stop() == 0
    assert _status_json(env, tmp_path)["seats"]["CREATED"] == 1  # type: ignore[index]


def test_second_active_seat_for_an_operator_is_fatal_and_writes_nothing(
    store_env: dict[str, str], tmp_path: Path
):
    env = _env(store_env, SEAT_MANAGER_CREATED_SEATS_JSON=_seeds(("seat_001", "operator_001")))
    if store_env["ONBOARDING_STORE_DRIVER"] == "postgres":
        assert run_cli(["migrate"], env, tmp_path).returncode == 0
    service = start_cli(["api"], env, tmp_path)
    service.wait_for("API listening")
    assert service.stop() == 0

    env["SEAT_MANAGER_CREATED_SEATS_JSON"] = _seeds(
        ("seat_003", "operator_003"), ("seat_002", "operator_001")
    )
    result = run_cli(["api"], env, tmp_path)
    assert result.returncode == 2
    fatal = [line for line in result.stderr.splitlines() if "Fatal startup error" in line]
    assert len(fatal) == 1
    assert "seat_002" in fatal[0]
    assert "OPERATOR_ALREADY_HAS_ACTIVE_SEAT" in fatal[0]
    assert "API listening" not in result.stdout
    # all-or-nothing: seat_003, listed before the refused seat, was not written either
    seats = _status_json(env, tmp_path)["seats"]
    assert sum(seats.values()) == 1  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"SEAT_MANAGER_ADMIN_ENABLE": "true"},
            "SEAT_MANAGER_ADMIN_ENABLE=true requires SEAT_MANAGER_ADMIN_USERS_JSON",
        ),
        (
            {
                "SEAT_MANAGER_ADMIN_ENABLE": "true",
                "SEAT_MANAGER_ADMIN_USERS_JSON": "[]",
                "SEAT_MANAGER_ADMIN_SESSION_SECRET": "too-short-secret",
            },
            "SEAT_MANAGER_ADMIN_ENABLE=true requires SEAT_MANAGER_ADMIN_SESSION_SECRET"
            " with length >= 32",
        ),
        (
            {"SEAT_MANAGER_CREATED_SEATS_JSON": '{"seatId":"a","operatorId":"b"}'},
            "SEAT_MANAGER_CREATED_SEATS_JSON must be a JSON array",
        ),
        (
            {"SEAT_MANAGER_CREATED_SEATS_JSON": '[{"seatId":"seat_001","operatorId":""}]'},
            "Each seed seat must include non-empty seatId and operatorId",
        ),
        ({"CHAIN_ID": ""}, "CHAIN_ID"),
        ({"VAULT_INIT_CODE_HASH": "0x1234"}, "VAULT_INIT_CODE_HASH"),
    ],
)
def test_configuration_guards_print_the_runbook_message_and_exit_2(
    extra: dict[str, str], message: str, tmp_path: Path
):
    env = _env({"ONBOARDING_SQLITE_PATH": str(tmp_path / "s.sqlite3")}, **extra)
    result = run_cli(["api"], env, tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("Fatal startup error: ")
    assert message in result.stderr
    assert not (tmp_path / "s.sqlite3").exists()


def test_api_on_postgres_refuses_to_start_with_pending_migrations(
    pg_env: dict[str, str], tmp_path: Path
):
    result = run_cli(["api"], _env(pg_env), tmp_path)
    assert result.returncode == 2
    assert f"pending migrations ({', '.join(all_revisions())})" in result.stderr
    assert "run `seat-manager migrate`" in result.stderr


def test_api_on_sqlite_applies_its_migrations_itself(tmp_path: Path):
    env = _env({"ONBOARDING_SQLITE_PATH": str(tmp_path / "fresh.sqlite3")})
    service = start_cli(["api"], env, tmp_path)
    service.wait_for("API listening")
    assert service.stop() == 0
    check = run_cli(["migrate", "--check"], env, tmp_path)
    assert check.returncode == 0, check.stdout


def test_secrets_never_reach_output(tmp_path: Path):
    key = "0x" + "ab" * 32
    env = _env(
        {
            "ONBOARDING_STORE_DRIVER": "postgres",
            "ONBOARDING_POSTGRES_URL": "postgresql://u:pg-secret-pw@127.0.0.1:1/db",
        },
        SEAT_MANAGER_OWNER_PRIVATE_KEY=key,
        SEAT_MANAGER_ADMIN_ENABLE="true",
        SEAT_MANAGER_ADMIN_USERS_JSON="[]",
        SEAT_MANAGER_ADMIN_SESSION_SECRET="s3cret-but-short",
    )
    for args in (["api"], ["status"], ["status", "--json"]):
        result = run_cli(args, env, tmp_path)
        output = result.stdout + result.stderr
        assert result.returncode != 0
        for secret in (key, key[2:], "pg-secret-pw", "s3cret-but-short"):
            assert secret not in output
