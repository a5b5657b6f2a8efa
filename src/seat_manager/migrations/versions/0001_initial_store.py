"""Initial store.

Seats, lifecycle evidence, operations, watcher state, audit trail,
admin sessions, idempotency keys, used enrollment JWT ids.

Revision ID: 0001_initial_store
Revises:
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial_store"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _big_id() -> sa.Column[int]:
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)


def upgrade() -> None:
    op.create_table(
        "seats",
        sa.Column("seat_id", sa.String(128), nullable=False),
        sa.Column("operator_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("beneficiary_address", sa.String(42), nullable=True),
        sa.Column("validator_pubkey", sa.String(98), nullable=True),
        sa.Column("vault_address", sa.String(42), nullable=True),
        sa.Column("deposit_data", sa.JSON(), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("seat_id", name="pk_seats"),
    )
    op.create_index("ix_seats_status", "seats", ["status"])
    # Raw SQL on purpose: partial unique indexes are rules the database must enforce
    # even when two processes race, and both drivers spell them the same way.
    op.execute(
        "CREATE UNIQUE INDEX uniq_seats_active_operator_id ON seats (operator_id)"
        " WHERE status <> 'REVOKED'"
    )
    op.execute(
        "CREATE UNIQUE INDEX uniq_seats_validator_pubkey ON seats (validator_pubkey)"
        " WHERE validator_pubkey IS NOT NULL"
    )

    op.create_table(
        "seat_events",
        _big_id(),
        sa.Column("seat_id", sa.String(128), nullable=False),
        sa.Column("from_status", sa.String(32), nullable=True),
        sa.Column("to_status", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(160), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["seat_id"], ["seats.seat_id"], name="fk_seat_events_seat_id_seats"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_seat_events"),
    )
    op.create_index("ix_seat_events_seat_id", "seat_events", ["seat_id"])

    op.create_table(
        "operations",
        sa.Column("operation_id", sa.String(40), nullable=False),
        sa.Column("seat_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("available_at", TS, nullable=False),
        sa.Column("lease_owner", sa.String(80), nullable=True),
        sa.Column("lease_expires_at", TS, nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("proposal", sa.JSON(), nullable=True),
        sa.Column("tx_nonce", sa.BigInteger(), nullable=True),
        sa.Column("tx_hash", sa.String(66), nullable=True),
        sa.Column("signed_tx", sa.Text(), nullable=True),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["seat_id"], ["seats.seat_id"], name="fk_operations_seat_id_seats"),
        sa.PrimaryKeyConstraint("operation_id", name="pk_operations"),
    )
    op.create_index("ix_operations_seat_id", "operations", ["seat_id"])
    op.create_index("ix_operations_status_available_at", "operations", ["status", "available_at"])
    op.execute(
        "CREATE UNIQUE INDEX uniq_operations_live_seat_kind ON operations (seat_id, kind)"
        " WHERE status IN ('queued', 'processing', 'proposed')"
    )

    op.create_table(
        "watcher_state",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_watcher_state"),
    )

    op.create_table(
        "audit_events",
        _big_id(),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(160), nullable=False),
        sa.Column("subject_type", sa.String(32), nullable=True),
        sa.Column("subject_id", sa.String(128), nullable=True),
        sa.Column("reason_code", sa.String(64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_event_type", "audit_events", ["event_type"])
    op.create_index("ix_audit_events_created_at", "audit_events", ["created_at"])

    op.create_table(
        "admin_sessions",
        sa.Column("session_hash", sa.String(64), nullable=False),
        sa.Column("username", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("csrf_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("step_up_at", TS, nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("session_hash", name="pk_admin_sessions"),
    )
    op.create_index("ix_admin_sessions_username", "admin_sessions", ["username"])

    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(160), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.JSON(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name="pk_idempotency_keys"),
    )

    op.create_table(
        "used_jwt_ids",
        sa.Column("jti", sa.String(128), nullable=False),
        sa.Column("operator_id", sa.String(128), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("used_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("jti", name="pk_used_jwt_ids"),
    )
    op.create_index("ix_used_jwt_ids_expires_at", "used_jwt_ids", ["expires_at"])


def downgrade() -> None:
    op.drop_table("used_jwt_ids")
    op.drop_table("idempotency_keys")
    op.drop_table("admin_sessions")
    op.drop_table("audit_events")
    op.drop_table("watcher_state")
    op.execute("DROP INDEX uniq_operations_live_seat_kind")
    op.drop_table("operations")
    op.drop_table("seat_events")
    op.execute("DROP INDEX uniq_seats_validator_pubkey")
    op.execute("DROP INDEX uniq_seats_active_operator_id")
    op.drop_table("seats")
