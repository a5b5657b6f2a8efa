"""Deposit index and scanned block hashes for the lifecycle watcher.

Adds el_deposits (every DepositEvent seen, unique on block hash + log index),
el_blocks (hashes of scanned blocks for reorg detection) and the consensus-layer
columns validator_index and cl_status on seats.

Revision ID: 0002_deposit_index
Revises: 0001_initial_store
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_deposit_index"
down_revision = "0001_initial_store"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "el_deposits",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("pubkey", sa.LargeBinary(48), nullable=False),
        sa.Column("withdrawal_credentials", sa.LargeBinary(32), nullable=False),
        sa.Column("amount_gwei", sa.BigInteger(), nullable=False),
        sa.Column("deposit_index", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("tx_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_el_deposits"),
    )
    op.create_index("ix_el_deposits_pubkey", "el_deposits", ["pubkey"])
    op.create_index("ix_el_deposits_block_number", "el_deposits", ["block_number"])
    op.create_index(
        "uniq_el_deposits_block_hash_log_index",
        "el_deposits",
        ["block_hash", "log_index"],
        unique=True,
    )
    op.create_table(
        "el_blocks",
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("block_number", name="pk_el_blocks"),
    )
    with op.batch_alter_table("seats") as batch:
        batch.add_column(sa.Column("validator_index", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("cl_status", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("seats") as batch:
        batch.drop_column("cl_status")
        batch.drop_column("validator_index")
    op.drop_table("el_blocks")
    op.drop_index("uniq_el_deposits_block_hash_log_index", table_name="el_deposits")
    op.drop_table("el_deposits")
