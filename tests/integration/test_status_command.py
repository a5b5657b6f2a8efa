"""`seat-manager status`: never serves, exits 0 only when the store is healthy."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import run_cli, runtime_env
from tests.support.store import all_revisions, head_revision

OWNER_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
OWNER_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def test_status_reports_pending_migrations_and_exits_non_zero(
    store_env: dict[str, str], tmp_path: Path
):
    env = {**runtime_env(), **store_env}
    result = run_cli(["status"], env, tmp_path)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "[seat-manager-v2] bootstrap command=status chainId=31337 mode=PROPOSE"
    pending = ", ".join(all_revisions())
    assert "pending=" + pending.replace(", ", ",") in result.stdout
    assert lines[-1].startswith(f"status: UNHEALTHY - pending migrations: {pending}")
    assert "API listening" not in result.stdout


def test_status_after_migrate_is_healthy_and_shows_mode_and_signer_only(
    store_env: dict[str, str], tmp_path: Path
):
    env = {**runtime_env(), **store_env, "SEAT_MANAGER_OWNER_PRIVATE_KEY": OWNER_KEY}
    assert run_cli(["migrate"], env, tmp_path).returncode == 0
    result = run_cli(["status"], env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[0].endswith("mode=OWNER_SEND")
    assert f"mode: OWNER_SEND signer={OWNER_ADDRESS}" in result.stdout
    assert "el_last_scanned_block=never" in result.stdout
    assert result.stdout.splitlines()[-1] == "status: OK"
    assert OWNER_KEY[2:] not in result.stdout + result.stderr

    as_json = run_cli(["status", "--json"], env, tmp_path)
    document = json.loads(as_json.stdout.splitlines()[1])
    assert document["healthy"] is True
    assert document["schema_revision"] == head_revision()
    assert document["watcher"]["el_last_scanned_block"] is None
    assert document["signer_address"] == OWNER_ADDRESS


def test_status_with_unreachable_store_exits_non_zero_with_the_reason(tmp_path: Path):
    env = {
        **runtime_env(),
        "ONBOARDING_STORE_DRIVER": "postgres",
        "ONBOARDING_POSTGRES_URL": "postgresql://u:pw@127.0.0.1:1/db",
    }
    result = run_cli(["status"], env, tmp_path)
    assert result.returncode == 1
    assert "reachable=no" in result.stdout
    assert "cannot reach the postgres store" in result.stdout


def test_status_without_required_variables_is_a_fatal_error(tmp_path: Path):
    result = run_cli(["status"], {"ONBOARDING_SQLITE_PATH": str(tmp_path / "x")}, tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("Fatal startup error: missing required environment")
    assert "P10_RESERVE_COVERAGE_LIMIT_WEI" in result.stderr
