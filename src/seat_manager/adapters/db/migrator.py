"""Alembic driven through the application's async engine: state, upgrade, downgrade, drift.

Each run is one transaction (both drivers have transactional DDL), so a failed
migration leaves the schema where it was. On PostgreSQL an advisory lock keeps two
`migrate` processes from interleaving.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from typing import Any, Literal, TypeVar

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from seat_manager.adapters.db.tables import Base

T = TypeVar("T")

MIGRATION_LOCK_KEY = 0x5EA7_0001
BASE = "base"

# Raw-SQL partial unique indexes and the predicate each must carry.
PARTIAL_UNIQUE_INDEXES = {
    "uniq_seats_active_operator_id": ("seats", "REVOKED"),
    "uniq_seats_validator_pubkey": ("seats", "validator_pubkey IS NOT NULL"),
    "uniq_operations_live_seat_kind": ("operations", "proposed"),
}


class UnknownRevision(ValueError):
    pass


@dataclass(frozen=True)
class SchemaState:
    current: str | None
    head: str
    pending: tuple[str, ...]

    @property
    def is_current(self) -> bool:
        return not self.pending and self.current == self.head


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(files("seat_manager") / "migrations"))
    return cfg


def script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def _current(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def _state(conn: Connection) -> SchemaState:
    scripts = script_directory()
    head = scripts.get_current_head()
    assert head is not None
    current = _current(conn)
    pending = tuple(
        rev.revision for rev in reversed(list(scripts.iterate_revisions(head, current)))
    )
    return SchemaState(current, head, pending)


async def _run(engine: AsyncEngine, fn: Callable[[Connection], T], *, lock: bool) -> T:
    async with engine.begin() as conn:
        if lock and conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
        return await conn.run_sync(fn)


async def schema_state(engine: AsyncEngine) -> SchemaState:
    return await _run(engine, _state, lock=False)


@dataclass(frozen=True)
class MigrationStep:
    revision: str
    description: str
    direction: Literal["upgrade", "downgrade"]


def _describe(revision: str) -> str:
    script = script_directory().get_revision(revision)
    return (script.doc or "").strip().splitlines()[0] if script and script.doc else ""


def linear_history() -> list[str]:
    """Revisions from the first to head (the history has no branches)."""
    return [rev.revision for rev in reversed(list(script_directory().walk_revisions()))]


def _migrate(conn: Connection, target: str) -> list[MigrationStep]:
    history = linear_history()
    position = {revision: index for index, revision in enumerate(history)}
    position[BASE] = -1
    position["head"] = len(history) - 1
    if target not in position:
        raise UnknownRevision(f"unknown migration revision {target!r}")
    current = _current(conn)
    here = position[current] if current else -1
    there = position[target]
    cfg = alembic_config()
    cfg.attributes["connection"] = conn
    if there > here:
        steps = [MigrationStep(r, _describe(r), "upgrade") for r in history[here + 1 : there + 1]]
        command.upgrade(cfg, history[there])
    elif there < here:
        steps = [
            MigrationStep(r, _describe(r), "downgrade")
            for r in reversed(history[there + 1 : here + 1])
        ]
        command.downgrade(cfg, history[there] if there >= 0 else BASE)
    else:
        steps = []
    return steps


async def migrate(engine: AsyncEngine, target: str = "head") -> list[MigrationStep]:
    """Move the schema to `target` (a revision, `head` or `base`); return the steps run."""
    return await _run(engine, lambda conn: _migrate(conn, target), lock=True)


def _index_sql(conn: Connection, table: str, name: str) -> str | None:
    if conn.dialect.name == "sqlite":
        row = conn.execute(
            text("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :n"), {"n": name}
        ).first()
    else:
        row = conn.execute(
            text(
                "SELECT indexdef FROM pg_indexes"
                " WHERE schemaname = current_schema() AND tablename = :t AND indexname = :n"
            ),
            {"t": table, "n": name},
        ).first()
    return str(row[0]) if row and row[0] else None


def _render_diff(diff: Any) -> str:
    if isinstance(diff, list):
        return "; ".join(_render_diff(d) for d in diff)
    kind = diff[0]
    if kind in ("add_index", "remove_index"):
        index = diff[1]
        state = "missing" if kind == "add_index" else "unexpected"
        return f"{state} index {index.name} on {index.table.name}"
    if kind in ("add_table", "remove_table"):
        state = "missing" if kind == "add_table" else "unexpected"
        return f"{state} table {diff[1].name}"
    if kind in ("add_column", "remove_column"):
        state = "missing" if kind == "add_column" else "unexpected"
        return f"{state} column {diff[2]}.{diff[3].name}"
    if kind == "modify_type":
        return f"column {diff[2]}.{diff[3]} has type {diff[5]}, models say {diff[6]}"
    if kind == "modify_nullable":
        return f"column {diff[2]}.{diff[3]} nullable={diff[5]}, models say {diff[6]}"
    return " ".join(str(part) for part in diff)


def _drift(conn: Connection) -> list[str]:
    problems: list[str] = []
    state = _state(conn)
    if state.pending:
        problems.append("pending migrations: " + ", ".join(state.pending))
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    problems += [_render_diff(diff) for diff in compare_metadata(context, Base.metadata)]
    tables = set(inspect(conn).get_table_names())
    for name, (table, predicate) in PARTIAL_UNIQUE_INDEXES.items():
        if table not in tables:
            continue
        sql = _index_sql(conn, table, name)
        if sql is None:
            message = f"missing index {name} on {table}"
            if message not in problems:
                problems.append(message)
        elif "UNIQUE" not in sql.upper() or predicate not in sql:
            problems.append(f"index {name} on {table} is not the partial unique index expected")
    return problems


async def drift(engine: AsyncEngine) -> list[str]:
    """What differs between the live schema (indexes included) and the models."""
    return await _run(engine, _drift, lock=False)
