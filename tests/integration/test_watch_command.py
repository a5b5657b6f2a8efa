"""`seat-manager watch` / `api-watch` (runbook "Start The Watcher")."""

from __future__ import annotations

import json
import re
import signal
import time
from pathlib import Path

import httpx

from seat_manager.domain.vaults import predict_vault_address, withdrawal_credentials
from tests.support.beacon_server import FakeValidator, serve_beacon
from tests.support.cli import run_cli, runtime_env, start_cli
from tests.support.store import execute_sql

STOPPED = re.compile(
    r"^seat-manager-v2 watch loop stopped processed=\d+ succeeded=\d+ failed=\d+ requeued=\d+$"
)


def _env(store_env: dict[str, str], **extra: str) -> dict[str, str]:
    return {
        **runtime_env(),
        **store_env,
        "SEAT_MANAGER_PORT": "0",
        "SEAT_MANAGER_WATCH_POLL_MS": "200",
        **extra,
    }


def test_watch_prints_started_and_stopped_lines_and_exits_zero_on_sigterm(
    store_env: dict[str, str], tmp_path: Path
):
    env = _env(store_env)
    if store_env["ONBOARDING_STORE_DRIVER"] == "postgres":
        assert run_cli(["migrate"], env, tmp_path).returncode == 0
    service = start_cli(["watch"], env, tmp_path)
    assert service.wait_for("bootstrap") == (
        "[seat-manager-v2] bootstrap command=watch chainId=31337 mode=PROPOSE"
    )
    driver = store_env["ONBOARDING_STORE_DRIVER"]
    assert service.wait_for("watch loop started") == (
        f"seat-manager-v2 watch loop started (store={driver}, poll_ms=200)"
    )
    assert service.stop(signal.SIGTERM) == 0
    assert STOPPED.match(service.lines[-1]), service.lines
    assert "EL watcher idle: ETH_RPC_URL is not set" in service.stderr
    assert "API listening" not in "\n".join(service.lines)


def test_api_watch_serves_and_watches_in_one_process(tmp_path: Path):
    env = _env({"ONBOARDING_SQLITE_PATH": str(tmp_path / "s.sqlite3")})
    service = start_cli(["api-watch"], env, tmp_path)
    assert service.wait_for("bootstrap").endswith("command=api-watch chainId=31337 mode=PROPOSE")
    service.wait_for("watch loop started")
    port = re.search(r":(\d+) ", service.wait_for("API listening"))
    assert port
    assert httpx.get(f"http://127.0.0.1:{port.group(1)}/healthz").json() == {"ok": True}
    assert service.stop(signal.SIGINT) == 0
    assert STOPPED.match(service.lines[-1]), service.lines


def test_watch_on_postgres_refuses_pending_migrations(pg_env: dict[str, str], tmp_path: Path):
    result = run_cli(["watch"], _env(pg_env), tmp_path)
    assert result.returncode == 2
    assert "run `seat-manager migrate`" in result.stderr
    assert "watch loop started" not in result.stdout


def test_watch_moves_a_deposited_seat_with_the_beacon_and_status_shows_the_poll(
    store_env: dict[str, str], tmp_path: Path
):
    env = _env(store_env)
    assert run_cli(["migrate"], env, tmp_path).returncode == 0
    seat_id = "seat_cl_1"
    pubkey = "0x" + "a1" * 48
    vault = predict_vault_address(
        env["VAULT_FACTORY_ADDRESS"], seat_id, env["VAULT_INIT_CODE_HASH"]
    )
    execute_sql(
        env,
        "INSERT INTO seats (seat_id, operator_id, status, validator_pubkey, vault_address,"
        f" created_at, updated_at) VALUES ('{seat_id}', 'op_cl_1', 'DEPOSITED', '{pubkey}',"
        f" '{vault}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
    )
    with serve_beacon() as node:
        node.add(
            FakeValidator(
                pubkey=pubkey,
                index=42,
                status="active_ongoing",
                withdrawal_credentials="0x" + withdrawal_credentials(vault).hex(),
                activation_epoch=10,
            )
        )
        service = start_cli(
            ["watch"], {**env, "SEAT_MANAGER_CL_BEACON_API_URL": node.url}, tmp_path
        )
        try:
            service.wait_for("watch loop started")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                status = run_cli(["status", "--json"], env, tmp_path)
                document = json.loads(status.stdout.splitlines()[1])
                if document["seats"]["ACTIVE"] == 1:
                    break
                time.sleep(0.3)
            else:
                raise AssertionError(f"seat never became ACTIVE: {document}")
        finally:
            assert service.stop() == 0
    assert document["watcher"]["cl_head_slot"] == node.head_slot
    assert document["watcher"]["cl_last_poll_at"] is not None
