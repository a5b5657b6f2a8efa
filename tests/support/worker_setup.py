"""Stores, enrolled seats and executor settings for the operation-worker tests.

Enrolled seats are written here directly (seat row, lifecycle events, the operations
with the payloads enrollment queues), so these tests do not depend on the enrollment
API; the deposit data is real (py_ecc signs it for the seat's vault credentials).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from seat_manager.adapters.chain.executor import ExecutorConfig
from seat_manager.adapters.db import migrator, queue
from seat_manager.adapters.db.engine import make_engine
from seat_manager.adapters.db.nonces import StoredTx
from seat_manager.adapters.db.tables import (
    ElDepositRow,
    OperationRow,
    OperationTransactionRow,
    SeatRow,
)
from seat_manager.adapters.db.uow import UnitOfWorkFactory
from seat_manager.config import load_settings
from seat_manager.domain.operations import OperationKind
from seat_manager.domain.seats import Actor, ActorKind, SeatStatus, create_seat, transition
from seat_manager.domain.types import OperatorId, SeatId
from seat_manager.domain.vaults import predict_vault_address, withdrawal_credentials
from tests.support.deposit_data import DepositDataEntry, make_deposit_data

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ETH = 10**18


async def open_store(env: Mapping[str, str]) -> tuple[AsyncEngine, UnitOfWorkFactory]:
    """An engine on the test store, migrated to head."""
    engine = make_engine(load_settings(dict(env), env_file=None).store)
    await migrator.migrate(engine)
    return engine, UnitOfWorkFactory(engine)


@dataclass(frozen=True)
class ChainSetup:
    """What an executor needs to know about the deployed contracts (JSON for a child)."""

    chain_id: int
    vault_factory: str
    vault_init_code_hash: str
    deposit_contract: str
    principal_destination: str

    def config(self, **overrides: Any) -> ExecutorConfig:
        values: dict[str, Any] = {
            "confirmations": 0,
            "reserve_limit_wei": 10_000 * ETH,
            "receipt_wait_s": 10.0,
            "poll_interval_s": 0.05,
            "pending_delay_s": 0.0,
            "lease_s": 30.0,
        }
        values.update(overrides)
        return ExecutorConfig(**asdict(self), **values)

    def vault(self, seat_id: str) -> str:
        return predict_vault_address(self.vault_factory, seat_id, self.vault_init_code_hash)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ChainSetup:
        return cls(**json.loads(text))


async def enroll(
    uow: UnitOfWorkFactory,
    chain: ChainSetup,
    seat_id: str,
    *,
    validator_key: int,
    beneficiary: str,
    now: datetime = NOW,
    kinds: tuple[OperationKind, ...] = (OperationKind.DEPLOY_VAULT, OperationKind.DEPOSIT),
) -> tuple[dict[OperationKind, str], DepositDataEntry]:
    """An ENROLLED seat with real deposit data and its operations queued."""
    vault = chain.vault(seat_id)
    entry = make_deposit_data(validator_key, withdrawal_credentials(vault))
    seeder = Actor(ActorKind.SEEDER, "test")
    operator = Actor(ActorKind.OPERATOR, f"operator-{seat_id}")
    seat, created = create_seat(SeatId(seat_id), OperatorId(operator.id), actor=seeder, now=now)
    seat, enrolled = transition(
        seat, SeatStatus.ENROLLED, actor=operator, now=now, evidence={"test": True}
    )
    ids: dict[OperationKind, str] = {}
    async with uow() as work:
        work.seats.add(
            SeatRow(
                seat_id=seat_id,
                operator_id=operator.id,
                status="ENROLLED",
                beneficiary_address=beneficiary,
                validator_pubkey="0x" + entry.pubkey.hex(),
                vault_address=vault,
                deposit_data=entry.as_json(),
                created_at=now,
                updated_at=now,
            )
        )
        await work.flush()
        work.seats.record_transition(created)
        work.seats.record_transition(enrolled)
        payloads = {
            OperationKind.DEPLOY_VAULT: {
                "vault_address": vault,
                "beneficiary_address": beneficiary,
                "principal_destination_address": chain.principal_destination,
            },
            OperationKind.DEPOSIT: {
                "vault_address": vault,
                "pubkey": "0x" + entry.pubkey.hex(),
                "withdrawal_credentials": "0x" + entry.withdrawal_credentials.hex(),
                "signature": "0x" + entry.signature.hex(),
                "deposit_data_root": "0x" + entry.deposit_data_root.hex(),
                "amount_gwei": entry.amount_gwei,
            },
        }
        for kind in kinds:
            row, _ = await queue.enqueue(work.session, seat_id, kind, payloads[kind], now)
            ids[kind] = row.operation_id
        await work.commit()
    return ids, entry


async def set_scanned_block(uow: UnitOfWorkFactory, block: int) -> None:
    """What the EL watcher writes when its scan reaches `block`."""
    async with uow() as work:
        await work.watcher_state.set("el_last_scanned_block", str(block), NOW)
        await work.commit()


async def index_deposit(
    uow: UnitOfWorkFactory, entry: DepositDataEntry, *, block: int, credentials: bytes
) -> None:
    """A DepositEvent row as the watcher indexes it (someone else's deposit, say)."""
    async with uow() as work:
        work.session.add(
            ElDepositRow(
                pubkey=entry.pubkey,
                withdrawal_credentials=credentials,
                amount_gwei=10**9,
                deposit_index=0,
                block_number=block,
                block_hash=b"\x01" * 32,
                tx_hash=b"\x02" * 32,
                log_index=0,
                created_at=NOW,
            )
        )
        await work.commit()


@dataclass(frozen=True)
class OperationView:
    """A copy of an operation row (rows expire when their unit of work rolls back)."""

    operation_id: str
    kind: str
    status: str
    attempts: int
    available_at: datetime
    lease_owner: str | None
    tx_nonce: int | None
    tx_hash: str | None
    error_code: str | None
    error_message: str | None


async def operation(uow: UnitOfWorkFactory, operation_id: str) -> OperationView:
    async with uow() as work:
        row = await work.session.get(OperationRow, operation_id)
        assert row is not None
        return OperationView(
            row.operation_id,
            row.kind,
            row.status,
            row.attempts,
            row.available_at,
            row.lease_owner,
            row.tx_nonce,
            row.tx_hash,
            row.error_code,
            row.error_message,
        )


async def transactions(uow: UnitOfWorkFactory, operation_id: str) -> list[StoredTx]:
    async with uow() as work:
        result = await work.session.execute(
            select(OperationTransactionRow)
            .where(OperationTransactionRow.operation_id == operation_id)
            .order_by(OperationTransactionRow.id)
        )
        return [StoredTx.of(row) for row in result.scalars()]


async def count_by_status(uow: UnitOfWorkFactory) -> dict[str, int]:
    async with uow() as work:
        result = await work.session.execute(
            select(OperationRow.status, func.count()).group_by(OperationRow.status)
        )
        return {status: count for status, count in result}


def later(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)
