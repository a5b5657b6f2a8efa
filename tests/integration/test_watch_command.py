"""`seat-manager watch` / `api-watch` (runbook "Start The Watcher")."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import httpx

from tests.support.cli import run_cli, runtime_env, start_cli

STOPPED = re.compile(
    r"^seat-manager-v2 watch loop stopped processed=\d+ succeeded=\d+ failed=\d+ requeued=\d+$"
)


def _env(store_env: dict[str, str], **extra: str) -> dict[str, str]:
    return {**runtime_env(), **store_env, "SEAT_MANAGER_PORT": "0",
            "SEAT_MANAGER_WATCH_POLL_MS": "200", **extra}


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
