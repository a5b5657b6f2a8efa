"""Helpers for the EL watcher tests: stores, seats, deposits on anvil, and ground truth.

Deposits straight to the local deposit contract use made-up pubkeys and signatures: the
contract checks the deposit_data_root, not the BLS signature, which keeps them fast.
The ground truth a test compares the index with is read from anvil directly (raw
eth_getLogs), never through the code under test.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from seat_manager.adapters.chain.contracts import LOCAL_DEPOSIT_CONTRACT, load_artifact
from seat_manager.adapters.chain.deposit_logs import DEPOSIT_EVENT_TOPIC_HEX
from seat_manager.adapters.chain.rpc import RetryPolicy, RpcClient
from seat_manager.adapters.db.engine import make_engine
from seat_manager.adapters.db.migrator import migrate
from seat_manager.adapters.db.tables import (
    AuditEventRow,
    ElBlockRow,
    ElDepositRow,
    SeatEventRow,
    SeatRow,
    WatcherStateRow,
)
from seat_manager.adapters.db.uow import UnitOfWorkFactory
from seat_manager.config import StoreConfig
from seat_manager.workers.el_watcher import ElDepositWatcher
from tests.support.anvil import ACCOUNTS, Anvil
from tests.support.deposit_data import deposit_data_root

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
FAST_RETRY = RetryPolicy(attempts=2, initial_delay=0.01, max_delay=0.02)
QUICK_TIMEOUT = httpx.Timeout(connect=2.0, read=0.5, write=2.0, pool=2.0)


def store_config(env: Mapping[str, str]) -> StoreConfig:
    url = env.get("ONBOARDING_POSTGRES_URL")
    return StoreConfig(
        env["ONBOARDING_STORE_DRIVER"],  # type: ignore[arg-type]
        Path(env.get("ONBOARDING_SQLITE_PATH", "unused.sqlite3")),
        SecretStr(url) if url else None,
    )


async def migrated_engine(env: Mapping[str, str]) -> AsyncEngine:
    engine = make_engine(store_config(env))
    await migrate(engine)
    return engine


def rpc_client(url: str, *, timeout: httpx.Timeout = QUICK_TIMEOUT) -> RpcClient:
    return RpcClient(url, timeout=timeout, retry=FAST_RETRY)


def make_watcher(
    rpc: RpcClient, uows: UnitOfWorkFactory, contract: str, **options: Any
) -> ElDepositWatcher:
    settings: dict[str, Any] = {"confirmations": 0, "reorg_window": 16, "max_range": 64}
    settings.update(options)
    return ElDepositWatcher(rpc, uows, contract, **settings)


# ---- chain -----------------------------------------------------------------------------


def fake_pubkey(n: int) -> bytes:
    return n.to_bytes(4, "big") * 12


def credentials_for(address: str) -> bytes:
    return b"\x01" + b"\x00" * 11 + bytes.fromhex(address[2:])


def deposit_direct(
    anvil: Anvil,
    contract: str,
    pubkey: bytes,
    credentials: bytes,
    *,
    amount_gwei: int = 32 * 10**9,
    sender: str = ACCOUNTS[3],
) -> str:
    """A deposit straight to the deposit contract (mined at once); returns the tx hash."""
    signature = pubkey[:32] * 3
    root = deposit_data_root(pubkey, credentials, amount_gwei, signature)
    data = load_artifact(LOCAL_DEPOSIT_CONTRACT).encode_call(
        "deposit", pubkey, credentials, signature, root
    )
    tx_hash = str(
        anvil.rpc(
            "eth_sendTransaction",
            [
                {
                    "from": sender,
                    "to": contract,
                    "data": "0x" + data.hex(),
                    "value": hex(amount_gwei * 10**9),
                    "gas": hex(400_000),
                }
            ],
        )
    )
    receipt = wait_receipt(anvil, tx_hash)
    assert receipt is not None and receipt["status"] == "0x1", receipt
    return tx_hash


def wait_receipt(anvil: Anvil, tx_hash: str, timeout: float = 10.0) -> Any:
    """anvil answers eth_sendTransaction before the automined block is queryable."""
    deadline = time.monotonic() + timeout
    while (receipt := anvil.rpc("eth_getTransactionReceipt", [tx_hash])) is None:
        assert time.monotonic() < deadline, f"no receipt for {tx_hash}"
        time.sleep(0.01)
    return receipt


def mine(anvil: Anvil, blocks: int) -> None:
    anvil.rpc("anvil_mine", [hex(blocks)])


def head(anvil: Anvil) -> int:
    return int(anvil.rpc("eth_blockNumber"), 16)


@dataclass(frozen=True, order=True)
class ChainDeposit:
    block_number: int
    log_index: int
    block_hash: str
    pubkey: bytes


def chain_deposits(anvil: Anvil, contract: str, first: int, last: int) -> list[ChainDeposit]:
    """Every DepositEvent of blocks first..last, read from the node itself."""
    logs = anvil.rpc(
        "eth_getLogs",
        [
            {
                "address": contract,
                "fromBlock": hex(first),
                "toBlock": hex(last),
                "topics": [DEPOSIT_EVENT_TOPIC_HEX],
            }
        ],
    )
    return sorted(
        ChainDeposit(
            int(log["blockNumber"], 16),
            int(log["logIndex"], 16),
            log["blockHash"],
            bytes.fromhex(log["data"][2:])[192:240],
        )
        for log in logs
    )


# ---- store -----------------------------------------------------------------------------


async def indexed(uows: UnitOfWorkFactory) -> list[ChainDeposit]:
    async with uows() as uow:
        rows = await uow.deposits.all()
    return sorted(ChainDeposit(d.block_number, d.log_index, d.block_hash, d.pubkey) for d in rows)


async def watcher_state(uows: UnitOfWorkFactory) -> dict[str, str]:
    async with uows() as uow:
        return await uow.watcher_state.all()


async def cursor(uows: UnitOfWorkFactory) -> int | None:
    value = (await watcher_state(uows)).get("el_last_scanned_block")
    return None if value is None else int(value)


async def add_enrolled_seat(
    uows: UnitOfWorkFactory, seat_id: str, pubkey: bytes, vault_address: str
) -> None:
    async with uows() as uow:
        uow.seats.add(
            SeatRow(
                seat_id=seat_id,
                operator_id=f"operator-{seat_id}",
                status="ENROLLED",
                validator_pubkey="0x" + pubkey.hex(),
                vault_address=vault_address,
                created_at=NOW,
                updated_at=NOW,
            )
        )
        await uow.commit()


@dataclass(frozen=True)
class Event:
    from_status: str | None
    to_status: str
    actor: str
    reason: str | None
    evidence: dict[str, Any]


@dataclass(frozen=True)
class Audit:
    event_type: str
    subject_id: str | None
    reason_code: str | None
    data: dict[str, Any]


async def seat_events(uows: UnitOfWorkFactory, seat_id: str) -> list[Event]:
    async with uows() as uow:
        rows = await uow.seats.events(seat_id)
        return [Event(r.from_status, r.to_status, r.actor, r.reason, r.evidence) for r in rows]


async def seat_status(uows: UnitOfWorkFactory, seat_id: str) -> str:
    async with uows() as uow:
        row = await uow.seats.get(seat_id)
        assert row is not None
        return row.status


async def audit_events(uows: UnitOfWorkFactory, event_type: str) -> list[Audit]:
    async with uows() as uow:
        rows = await uow.audit.list_recent(1000)
        return [
            Audit(r.event_type, r.subject_id, r.reason_code, r.data)
            for r in reversed(rows)
            if r.event_type == event_type
        ]


async def table_dump(engine: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables the watcher writes, minus health timestamps."""
    dump: dict[str, list[tuple[Any, ...]]] = {}
    async with engine.connect() as conn:
        for table in (ElDepositRow, ElBlockRow, SeatRow, SeatEventRow, AuditEventRow):
            columns = [c for c in table.__table__.columns if c.name != "created_at"]
            order = list(table.__table__.primary_key.columns)
            result = await conn.execute(select(*columns).order_by(*order))
            dump[table.__tablename__] = [tuple(row) for row in result]
        state = await conn.execute(select(WatcherStateRow.key, WatcherStateRow.value))
        dump["watcher_state"] = sorted(
            (k, v) for k, v in state if k not in ("el_last_cycle_at", "el_head_block")
        )
    return dump
