"""`seat-manager migrate` on both drivers: apply, no-op, move down and up, drift check."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import run_cli
from tests.support.store import all_revisions, execute_sql, head_revision

HEAD = head_revision()


def test_migrate_applies_then_reports_nothing_pending(store_env: dict[str, str], tmp_path: Path):
    first = run_cli(["migrate"], store_env, tmp_path)
    assert first.returncode == 0, first.stderr
    for revision in all_revisions():
        assert f"Applied migration {revision}" in first.stdout

    second = run_cli(["migrate"], store_env, tmp_path)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip().splitlines() == ["No pending migrations to apply."]


def test_migrate_round_trip_base_and_head_keeps_schema_clean(
    store_env: dict[str, str], tmp_path: Path
):
    assert run_cli(["migrate"], store_env, tmp_path).returncode == 0
    down = run_cli(["migrate", "--to", "base"], store_env, tmp_path)
    assert down.returncode == 0, down.stderr
    for revision in all_revisions():
        assert f"Reverted migration {revision}" in down.stdout

    drifted = run_cli(["migrate", "--check"], store_env, tmp_path)
    assert drifted.returncode == 1
    assert "pending migrations" in drifted.stdout
    assert "missing table seats" in drifted.stdout

    up = run_cli(["migrate", "--to", HEAD], store_env, tmp_path)
    assert up.returncode == 0, up.stderr
    check = run_cli(["migrate", "--check"], store_env, tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "Schema matches the models" in check.stdout


def test_check_names_a_partial_unique_index_dropped_by_hand(
    store_env: dict[str, str], tmp_path: Path
):
    assert run_cli(["migrate"], store_env, tmp_path).returncode == 0
    execute_sql(store_env, "DROP INDEX uniq_seats_active_operator_id")

    check = run_cli(["migrate", "--check"], store_env, tmp_path)
    assert check.returncode == 1
    assert "uniq_seats_active_operator_id" in check.stdout
    assert "uniq_operations_live_seat_kind" not in check.stdout


def test_check_notices_a_partial_index_made_non_partial(pg_env: dict[str, str], tmp_path: Path):
    assert run_cli(["migrate"], pg_env, tmp_path).returncode == 0
    execute_sql(pg_env, "DROP INDEX uniq_operations_live_seat_kind")
    execute_sql(
        pg_env, "CREATE UNIQUE INDEX uniq_operations_live_seat_kind ON operations (seat_id, kind)"
    )
    check = run_cli(["migrate", "--check"], pg_env, tmp_path)
    assert check.returncode == 1
    assert "uniq_operations_live_seat_kind" in check.stdout


def test_unknown_revision_is_refused_with_the_known_ones(store_env: dict[str, str], tmp_path: Path):
    result = run_cli(["migrate", "--to", "nope"], store_env, tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("Fatal startup error: unknown migration revision 'nope'")
    assert HEAD in result.stderr


def test_unreachable_postgres_gives_one_fatal_line_without_the_password(tmp_path: Path):
    env = {
        "ONBOARDING_STORE_DRIVER": "postgres",
        "ONBOARDING_POSTGRES_URL": "postgresql://seat:hunter2secret@127.0.0.1:1/seat_manager",
    }
    result = run_cli(["migrate"], env, tmp_path)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Fatal startup error: cannot reach the postgres store")
    assert "hunter2secret" not in result.stderr + result.stdout


def test_each_revision_downgrades_and_upgrades_one_step_at_a_time(
    store_env: dict[str, str], tmp_path: Path
):
    revisions = all_revisions()
    assert run_cli(["migrate"], store_env, tmp_path).returncode == 0
    for target in reversed(["base", *revisions[:-1]]):
        down = run_cli(["migrate", "--to", target], store_env, tmp_path)
        assert down.returncode == 0, down.stderr
        assert down.stdout.count("Reverted migration") == 1
    up = run_cli(["migrate"], store_env, tmp_path)
    assert up.stdout.count("Applied migration") == len(revisions)
    assert run_cli(["migrate", "--check"], store_env, tmp_path).returncode == 0
