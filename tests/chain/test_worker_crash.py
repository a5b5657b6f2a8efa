"""kill -9 of a worker process at each step of an operation, then a restart: every
operation ends in one terminal state and the chain shows exactly one transaction per
operation (counted by the signer's nonce and by receipts)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from seat_manager.adapters.db.uow import UnitOfWorkFactory
from seat_manager.domain.operations import OperationKind
from tests.support.anvil import ACCOUNT_KEYS, ACCOUNTS, CHAIN_ID, Anvil, Deployed
from tests.support.worker_setup import (
    ChainSetup,
    count_by_status,
    enroll,
    open_store,
    operation,
    set_scanned_block,
    transactions,
)

pytestmark = [pytest.mark.anvil, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
OWNER, BENEFICIARY, DESTINATION = ACCOUNTS[:3]
STEPS = ("nonce_reserved", "signed", "broadcast", "receipt")
PROCESS_TIMEOUT_S = 120


@pytest.fixture
async def store(store_env: dict[str, str]) -> AsyncIterator[UnitOfWorkFactory]:
    engine, uow = await open_store(store_env)
    try:
        yield uow
    finally:
        await engine.dispose()


def run_worker(
    env: dict[str, str], crash_at: str | None = None
) -> subprocess.CompletedProcess[str]:
    child_env = {**os.environ, **env}
    child_env.pop("WORKER_TEST_CRASH_AT", None)
    if crash_at is not None:
        child_env["WORKER_TEST_CRASH_AT"] = crash_at
    return subprocess.run(
        [sys.executable, "-m", "tests.support.worker_process", "--lease-s", "2"],
        cwd=REPO,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT_S,
        check=False,
    )


@pytest.mark.parametrize("kind", [OperationKind.DEPLOY_VAULT, OperationKind.DEPOSIT])
@pytest.mark.parametrize("step", STEPS)
async def test_a_worker_killed_at_any_step_leaves_one_terminal_state_and_one_tx_per_operation(
    anvil: Anvil,
    deployed: Deployed,
    store_env: dict[str, str],
    store: UnitOfWorkFactory,
    step: str,
    kind: OperationKind,
) -> None:
    chain = ChainSetup(
        chain_id=CHAIN_ID,
        vault_factory=deployed.factory.address,
        vault_init_code_hash="0x"
        + bytes(deployed.factory.functions.vaultInitCodeHash().call()).hex(),
        deposit_contract=deployed.deposit_contract.address,
        principal_destination=DESTINATION,
    )
    ids, _ = await enroll(
        store,
        chain,
        f"seat-crash-{step}-{kind.value.lower()}",
        validator_key=5000 + STEPS.index(step) * 2 + (kind is OperationKind.DEPOSIT),
        beneficiary=BENEFICIARY,
        now=datetime.now(UTC),
    )
    await set_scanned_block(store, int(anvil.w3.eth.block_number))
    nonce_before = anvil.w3.eth.get_transaction_count(OWNER)
    env = {
        **store_env,
        "ETH_RPC_URL": anvil.url,
        "WORKER_TEST_CHAIN": chain.to_json(),
        "WORKER_TEST_OWNER_KEY": ACCOUNT_KEYS[0],
    }

    crashed = run_worker(env, crash_at=f"{step}:{kind.value}")
    assert crashed.returncode == -9, crashed.stderr[-3000:]
    restarted = run_worker(env)
    assert restarted.returncode == 0, restarted.stderr[-3000:]

    assert await count_by_status(store) == {"succeeded": 2}
    assert anvil.w3.eth.get_transaction_count(OWNER) == nonce_before + 2
    nonces = []
    for operation_id in ids.values():
        row = await operation(store, operation_id)
        receipts = [
            (tx, anvil.rpc("eth_getTransactionReceipt", [tx.tx_hash]))
            for tx in await transactions(store, operation_id)
        ]
        mined = [tx for tx, receipt in receipts if receipt is not None]
        assert all(receipt["status"] == "0x1" for _, receipt in receipts if receipt)
        assert [tx.tx_hash for tx in mined] == [row.tx_hash]
        nonces.append(row.tx_nonce)
    assert sorted(nonces) == [nonce_before, nonce_before + 1]
    vault = deployed.vault(chain.vault(f"seat-crash-{step}-{kind.value.lower()}"))
    assert vault.functions.principalOutstanding().call() == 32 * 10**18
