"""SQLAlchemy 2 typed models of the store (SPEC §4). Migrations create them; these models
are what `seat-manager migrate --check` compares the live schema with.

Rules the schema itself enforces, so that two racing processes cannot break them:
- `uniq_seats_active_operator_id`: one non-REVOKED seat per operator;
- `uniq_operations_live_seat_kind`: one live operation per seat and kind;
- `uniq_seats_validator_pubkey`: one seat per validator pubkey.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SEAT_ACTIVE_WHERE = "status <> 'REVOKED'"
OPERATION_LIVE_WHERE = "status IN ('queued', 'processing', 'proposed')"
PUBKEY_SET_WHERE = "validator_pubkey IS NOT NULL"


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both drivers (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
    }


def _partial_unique(name: str, *columns: str, where: str) -> Index:
    return Index(
        name, *columns, unique=True, postgresql_where=text(where), sqlite_where=text(where)
    )


class SeatRow(Base):
    __tablename__ = "seats"

    seat_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    operator_id: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(32))
    beneficiary_address: Mapped[str | None] = mapped_column(String(42))
    validator_pubkey: Mapped[str | None] = mapped_column(String(98))
    vault_address: Mapped[str | None] = mapped_column(String(42))
    deposit_data: Mapped[dict[str, Any] | None]
    validator_index: Mapped[int | None] = mapped_column(BigInteger)
    cl_status: Mapped[str | None] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (
        _partial_unique("uniq_seats_active_operator_id", "operator_id", where=SEAT_ACTIVE_WHERE),
        _partial_unique("uniq_seats_validator_pubkey", "validator_pubkey", where=PUBKEY_SET_WHERE),
        Index("ix_seats_status", "status"),
    )


class SeatEventRow(Base):
    """Lifecycle evidence: one row per transition, append-only."""

    __tablename__ = "seat_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    seat_id: Mapped[str] = mapped_column(ForeignKey("seats.seat_id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(160))
    reason: Mapped[str | None] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class OperationRow(Base):
    __tablename__ = "operations"

    operation_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    seat_id: Mapped[str] = mapped_column(ForeignKey("seats.seat_id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    available_at: Mapped[datetime]
    lease_owner: Mapped[str | None] = mapped_column(String(80))
    lease_expires_at: Mapped[datetime | None]
    payload: Mapped[dict[str, Any]]
    proposal: Mapped[dict[str, Any] | None]
    tx_nonce: Mapped[int | None] = mapped_column(BigInteger)
    tx_hash: Mapped[str | None] = mapped_column(String(66))
    signed_tx: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (
        _partial_unique(
            "uniq_operations_live_seat_kind", "seat_id", "kind", where=OPERATION_LIVE_WHERE
        ),
        Index("ix_operations_status_available_at", "status", "available_at"),
    )


class WatcherStateRow(Base):
    __tablename__ = "watcher_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


class AuditEventRow(Base):
    """Append-only audit trail of every decision the system or a person made."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(64), index=True)
    actor: Mapped[str] = mapped_column(String(160))
    subject_type: Mapped[str | None] = mapped_column(String(32))
    subject_id: Mapped[str | None] = mapped_column(String(128))
    reason_code: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(index=True)


class AdminSessionRow(Base):
    """Sessions are stored by the hash of their token; the token itself never is."""

    __tablename__ = "admin_sessions"

    session_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(128), index=True)
    role: Mapped[str] = mapped_column(String(16))
    csrf_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    step_up_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class IdempotencyKeyRow(Base):
    __tablename__ = "idempotency_keys"

    scope: Mapped[str] = mapped_column(String(160), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]


class UsedJwtIdRow(Base):
    """Enrollment JWT ids already used, kept until the token would have expired."""

    __tablename__ = "used_jwt_ids"

    jti: Mapped[str] = mapped_column(String(128), primary_key=True)
    operator_id: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime]


class ElDepositRow(Base):
    """Every DepositEvent the watcher has seen, ours or not: the answer to "was this pubkey
    ever deposited?". One row per (block hash, log index), so a rescan changes nothing."""

    __tablename__ = "el_deposits"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    pubkey: Mapped[bytes] = mapped_column(LargeBinary(48), index=True)
    withdrawal_credentials: Mapped[bytes] = mapped_column(LargeBinary(32))
    amount_gwei: Mapped[int] = mapped_column(BigInteger)
    deposit_index: Mapped[int] = mapped_column(BigInteger)
    block_number: Mapped[int] = mapped_column(BigInteger, index=True)
    block_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    tx_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    log_index: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]

    __table_args__ = (
        Index("uniq_el_deposits_block_hash_log_index", "block_hash", "log_index", unique=True),
    )


class ElBlockRow(Base):
    """Hashes of the blocks the scan cursor advanced to, kept for the reorg window: if a
    stored hash is no longer canonical, the watcher rewinds to the last one that is."""

    __tablename__ = "el_blocks"

    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    block_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime]


class SignerNonceRow(Base):
    """The next nonce to hand out per signer: the one place nonces are allocated.

    Workers lock this row (FOR UPDATE on PostgreSQL; SQLite's immediate transactions
    serialise anyway) to take a nonce, so two operations never sign with one nonce and
    no nonce is skipped. Initialised from the chain's pending nonce for the address.
    """

    __tablename__ = "signer_nonces"

    address: Mapped[str] = mapped_column(String(42), primary_key=True)
    next_nonce: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]


class NonceReservationRow(Base):
    """Which operation owns a (signer, nonce): the primary key is the database's own
    guarantee that no two operations are ever given the same nonce."""

    __tablename__ = "nonce_reservations"

    signer_address: Mapped[str] = mapped_column(String(42), primary_key=True)
    nonce: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    operation_id: Mapped[str] = mapped_column(ForeignKey("operations.operation_id"), index=True)
    created_at: Mapped[datetime]


class OperationTransactionRow(Base):
    """Every transaction signed for an operation (the first and each fee replacement),
    stored before it is broadcast so a crash can never lose a transaction that may be
    mined. Fees are decimal text: wei amounts overflow BIGINT and must never be floats."""

    __tablename__ = "operation_transactions"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    operation_id: Mapped[str] = mapped_column(ForeignKey("operations.operation_id"), index=True)
    signer_address: Mapped[str] = mapped_column(String(42))
    nonce: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(String(66), unique=True)
    raw_tx: Mapped[str] = mapped_column(Text)
    gas_limit: Mapped[int] = mapped_column(BigInteger)
    max_fee_per_gas: Mapped[str] = mapped_column(Text)
    max_priority_fee_per_gas: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    broadcast_at: Mapped[datetime | None]
