"""Alembic environment. The connection is always handed in by
`seat_manager.adapters.db.migrator` (run through the application's async engine), so
there is no alembic.ini and no URL here."""

from __future__ import annotations

from alembic import context

from seat_manager.adapters.db.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `seat-manager migrate`, not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
