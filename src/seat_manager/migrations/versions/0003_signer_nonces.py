"""Signer nonces, nonce reservations and the transactions signed for operations.

signer_nonces holds the next nonce per signer address (allocated under a row lock),
nonce_reservations ties each (signer, nonce) to one operation (its primary key is the
guarantee that no two operations share a nonce), and operation_transactions keeps
every signed transaction (raw bytes, hash, fees as decimal text) before broadcast.

Revision ID: 0003_signer_nonces
Revises: 0002_deposit_index
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_signer_nonces"
down_revision = "0002_deposit_index"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "signer_nonces",
        sa.Column("address", sa.String(42), nullable=False),
        sa.Column("next_nonce", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("address", name="pk_signer_nonces"),
    )
    op.create_table(
        "nonce_reservations",
        sa.Column("signer_address", sa.String(42), nullable=False),
        sa.Column("nonce", sa.BigInteger(), nullable=False),
        sa.Column("operation_id", sa.String(40), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["operations.operation_id"],
            name="fk_nonce_reservations_operation_id_operations",
        ),
        sa.PrimaryKeyConstraint("signer_address", "nonce", name="pk_nonce_reservations"),
    )
    op.create_index("ix_nonce_reservations_operation_id", "nonce_reservations", ["operation_id"])
    op.create_table(
        "operation_transactions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("operation_id", sa.String(40), nullable=False),
        sa.Column("signer_address", sa.String(42), nullable=False),
        sa.Column("nonce", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(66), nullable=False),
        sa.Column("raw_tx", sa.Text(), nullable=False),
        sa.Column("gas_limit", sa.BigInteger(), nullable=False),
        sa.Column("max_fee_per_gas", sa.Text(), nullable=False),
        sa.Column("max_priority_fee_per_gas", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("broadcast_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["operations.operation_id"],
            name="fk_operation_transactions_operation_id_operations",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_operation_transactions"),
        sa.UniqueConstraint("tx_hash", name="uq_operation_transactions_tx_hash"),
    )
    op.create_index(
        "ix_operation_transactions_operation_id", "operation_transactions", ["operation_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_operation_transactions_operation_id", table_name="operation_transactions")
    op.drop_table("operation_transactions")
    op.drop_index("ix_nonce_reservations_operation_id", table_name="nonce_reservations")
    op.drop_table("nonce_reservations")
    op.drop_table("signer_nonces")
