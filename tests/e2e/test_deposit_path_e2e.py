"""The product's main job, end to end, as processes: seed → enroll over HTTP → vault
deployed at the predicted address → 32 ETH deposit accepted by the deposit contract →
the watcher moves the seat to DEPOSITED. On both stores, against a real anvil."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from eth_abi.abi import decode
from web3 import Web3

from seat_manager.domain.vaults import predict_vault_address, withdrawal_credentials
from tests.support.anvil import Anvil
from tests.support.cli import run_cli, start_cli
from tests.support.deposit_data import make_deposit_data

pytestmark = pytest.mark.anvil

OWNER_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
OWNER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
BENEFICIARY = Web3.to_checksum_address("0x70997970c51812dc3a010c7d01b50e0d17dc79c8")
FORK_VERSION = "00000000"
DEPOSIT_EVENT_TOPIC = Web3.keccak(text="DepositEvent(bytes,bytes,bytes,bytes,bytes)")


@pytest.fixture
def chain() -> Iterator[Anvil]:
    node = Anvil.start(extra_args=["--block-time", "1"])
    try:
        yield node
    finally:
        node.stop()


def _deploy(chain: Anvil, tmp_path: Path) -> dict[str, str]:
    env = {
        "CHAIN_ID": "31337",
        "ETH_RPC_URL": chain.url,
        "SEAT_MANAGER_OWNER_PRIVATE_KEY": OWNER_KEY,
    }
    result = run_cli(["contracts", "deploy", "--with-deposit-contract"], env, tmp_path, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = dict(
        line.split("=", 1) for line in result.stdout.splitlines() if re.match(r"^[A-Z_]+=", line)
    )
    return {
        k: lines[k]
        for k in ("VAULT_FACTORY_ADDRESS", "VAULT_INIT_CODE_HASH", "DEPOSIT_CONTRACT_ADDRESS")
    }


def _jwt_keys() -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def _token(private_pem: str, operator: str) -> str:
    now = int(time.time())
    return jwt.encode(
        {
            "sub": operator,
            "aud": "seat-manager",
            "iat": now,
            "exp": now + 600,
            "jti": str(uuid.uuid4()),
        },
        private_pem,
        algorithm="ES256",
    )


def _wait_for_status(base: str, seat: str, token: str, wanted: str, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    body: Any = None
    while time.monotonic() < deadline:
        body = httpx.get(
            f"{base}/v1/seats/{seat}/status", headers={"Authorization": f"Bearer {token}"}
        ).json()
        settled = all(
            op["status"] == "succeeded"
            for op in body.get("operations", [])
            if op["kind"] in ("DEPLOY_VAULT", "DEPOSIT")
        )
        if body["status"] == wanted and settled:
            return body
        time.sleep(0.5)
    raise AssertionError(f"seat or operations never settled: {json.dumps(body)[:2000]}")


def _service_env(
    chain: Anvil,
    store_env: dict[str, str],
    contracts: dict[str, str],
    public_pem: str,
    seat: str,
    operator: str,
) -> dict[str, str]:
    return {
        **store_env,
        **contracts,
        "CHAIN_ID": "31337",
        "ETH_RPC_URL": chain.url,
        "PRINCIPAL_DESTINATION_ADDRESS": OWNER,
        "ENROLLMENT_JWT_PUBLIC_KEY_PEM": public_pem,
        "P10_RESERVE_COVERAGE_LIMIT_WEI": str(64 * 10**18),
        "SEAT_MANAGER_OWNER_PRIVATE_KEY": OWNER_KEY,
        "SEAT_MANAGER_GENESIS_FORK_VERSION": FORK_VERSION,
        "SEAT_MANAGER_EL_CONFIRMATIONS": "1",
        "SEAT_MANAGER_WATCH_POLL_MS": "300",
        "SEAT_MANAGER_PORT": "0",
        "SEAT_MANAGER_CREATED_SEATS_JSON": json.dumps([{"seatId": seat, "operatorId": operator}]),
    }


def test_enrolled_validator_is_deposited_and_seen_by_the_watcher(
    chain: Anvil, store_env: dict[str, str], tmp_path: Path
):
    contracts = _deploy(chain, tmp_path)
    private_pem, public_pem = _jwt_keys()
    seat, operator = "seat_e2e_1", "operator_e2e_1"
    env = _service_env(chain, store_env, contracts, public_pem, seat, operator)
    if store_env["ONBOARDING_STORE_DRIVER"] == "postgres":
        assert run_cli(["migrate"], env, tmp_path).returncode == 0
    service = start_cli(["api-watch"], env, tmp_path)
    try:
        base = re.search(r"http://\S+", service.wait_for("API listening", timeout=60))
        assert base
        url = base.group(0)
        token = _token(private_pem, operator)
        seat_view = httpx.get(
            f"{url}/v1/seats/{seat}", headers={"Authorization": f"Bearer {token}"}
        ).json()
        vault = predict_vault_address(
            contracts["VAULT_FACTORY_ADDRESS"], seat, contracts["VAULT_INIT_CODE_HASH"]
        )
        assert seat_view["vault_address"] == vault
        entry = make_deposit_data(
            424242, withdrawal_credentials(vault), fork_version=bytes.fromhex(FORK_VERSION)
        )
        enrolled = httpx.post(
            f"{url}/v1/seats/{seat}/enrollment",
            headers={"Authorization": f"Bearer {token}"},
            json={"beneficiary_address": BENEFICIARY, "deposit_data": entry.as_json()},
        )
        assert enrolled.status_code == 201, enrolled.text
        final = _wait_for_status(url, seat, _token(private_pem, operator), "DEPOSITED", 120)
    finally:
        assert service.stop(signal.SIGTERM) == 0

    assert chain.w3.eth.get_code(Web3.to_checksum_address(vault)) != b""
    kinds = {op["kind"]: op["status"] for op in final["operations"]}
    assert kinds["DEPLOY_VAULT"] == "succeeded"
    assert kinds["DEPOSIT"] == "succeeded"
    deposited = [e for e in final["lifecycle"] if e["to"] == "DEPOSITED"]
    assert len(deposited) == 1 and deposited[0]["actor"] == "watcher:el"

    logs = chain.w3.eth.get_logs(
        {
            "fromBlock": 0,
            "toBlock": "latest",
            "address": contracts["DEPOSIT_CONTRACT_ADDRESS"],
            "topics": [DEPOSIT_EVENT_TOPIC],
        }
    )
    assert len(logs) == 1  # one deposit, sent once
    pubkey, credentials, amount, signature, _ = decode(["bytes"] * 5, logs[0]["data"])
    assert pubkey == entry.pubkey
    assert credentials == withdrawal_credentials(vault)
    assert int.from_bytes(amount, "little") == 32 * 10**9
    assert signature == entry.signature
    assert STOP_LINE.match(service.lines[-1])


STOP_LINE = re.compile(
    r"^seat-manager-v2 watch loop stopped processed=[1-9]\d* succeeded=[1-9]\d* failed=0"
    r" requeued=\d+$"
)


def test_dev_command_prints_a_curl_that_enrolls_a_validator_to_deposited(tmp_path: Path):
    service = start_cli(["dev", "--port", "0"], {}, tmp_path)
    try:
        service.wait_for("devnet ready", timeout=90)
        enroll = service.wait_for("curl -sS -X POST")
        status = service.wait_for("curl -sS http")
        answer = subprocess.run(
            ["bash", "-c", enroll], capture_output=True, text=True, cwd=tmp_path, timeout=30
        )
        assert json.loads(answer.stdout)["status"] == "ENROLLED", answer.stdout
        deadline = time.monotonic() + 120
        body: Any = None
        while time.monotonic() < deadline:
            out = subprocess.run(
                ["bash", "-c", status], capture_output=True, text=True, cwd=tmp_path, timeout=30
            )
            body = json.loads(out.stdout)
            if body["status"] == "DEPOSITED":
                break
            time.sleep(1)
        else:
            raise AssertionError(f"never DEPOSITED: {body}")
        env_dev = (tmp_path / ".env.dev").read_text()
        rpc_url = re.search(r"^ETH_RPC_URL=(\S+)$", env_dev, re.M)
        assert rpc_url
    finally:
        code = service.stop(signal.SIGINT, timeout=30)
    assert code == 0
    with pytest.raises(httpx.TransportError):  # Ctrl-C stopped anvil too
        httpx.post(
            rpc_url.group(1), json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}, timeout=2
        )


def test_watch_in_propose_mode_runs_the_safe_executor_and_stops_cleanly(
    chain: Anvil, tmp_path: Path
):
    contracts = _deploy(chain, tmp_path)
    _, public_pem = _jwt_keys()
    env = {
        **contracts,
        "ONBOARDING_SQLITE_PATH": str(tmp_path / "propose.sqlite3"),
        "CHAIN_ID": "31337",
        "ETH_RPC_URL": chain.url,
        "PRINCIPAL_DESTINATION_ADDRESS": OWNER,
        "ENROLLMENT_JWT_PUBLIC_KEY_PEM": public_pem,
        "P10_RESERVE_COVERAGE_LIMIT_WEI": str(64 * 10**18),
        "SEAT_MANAGER_SAFE_ADDRESS": OWNER,
        "SEAT_MANAGER_WATCH_POLL_MS": "200",
    }
    service = start_cli(["watch"], env, tmp_path)
    assert service.wait_for("bootstrap").endswith("mode=PROPOSE")
    service.wait_for("watch loop started")
    time.sleep(1.5)  # a few cycles of every loop
    assert service.stop(signal.SIGTERM) == 0
    assert "running in PROPOSE mode" in service.stderr
    assert "lifecycle watcher loop error" not in service.stderr, service.stderr
    assert re.match(
        r"^seat-manager-v2 watch loop stopped processed=0 succeeded=0 failed=0", service.lines[-1]
    )


def test_a_front_run_deposit_before_ours_keeps_ours_off_chain_and_raises_exception(
    chain: Anvil, store_env: dict[str, str], tmp_path: Path
):
    contracts = _deploy(chain, tmp_path)
    private_pem, public_pem = _jwt_keys()
    seat, operator = "seat_e2e_fr", "operator_e2e_fr"
    env = _service_env(chain, store_env, contracts, public_pem, seat, operator)
    if store_env["ONBOARDING_STORE_DRIVER"] == "postgres":
        assert run_cli(["migrate"], env, tmp_path).returncode == 0
    vault = predict_vault_address(
        contracts["VAULT_FACTORY_ADDRESS"], seat, contracts["VAULT_INIT_CODE_HASH"]
    )
    ours = make_deposit_data(
        515151, withdrawal_credentials(vault), fork_version=bytes.fromhex(FORK_VERSION)
    )
    api = start_cli(["api"], env, tmp_path)  # enrollment first, no worker running yet
    try:
        url = re.search(r"http://\S+", api.wait_for("API listening", timeout=60))
        assert url
        enrolled = httpx.post(
            f"{url.group(0)}/v1/seats/{seat}/enrollment",
            headers={"Authorization": f"Bearer {_token(private_pem, operator)}"},
            json={"beneficiary_address": BENEFICIARY, "deposit_data": ours.as_json()},
        )
        assert enrolled.status_code == 201, enrolled.text
    finally:
        assert api.stop() == 0

    # someone holding the validator key deposits first, to credentials of their own
    attacker = chain.w3.eth.accounts[3]
    theirs = make_deposit_data(
        515151,
        b"\x01" + b"\x00" * 11 + bytes.fromhex(attacker[2:]),
        amount_gwei=10**9,
        fork_version=bytes.fromhex(FORK_VERSION),
    )
    deposit_abi = [
        {
            "name": "deposit",
            "type": "function",
            "stateMutability": "payable",
            "inputs": [
                {"name": n, "type": t}
                for n, t in (
                    ("pubkey", "bytes"),
                    ("withdrawal_credentials", "bytes"),
                    ("signature", "bytes"),
                    ("deposit_data_root", "bytes32"),
                )
            ],
            "outputs": [],
        }
    ]
    contract = chain.w3.eth.contract(address=contracts["DEPOSIT_CONTRACT_ADDRESS"], abi=deposit_abi)
    tx = contract.functions.deposit(
        theirs.pubkey, theirs.withdrawal_credentials, theirs.signature, theirs.deposit_data_root
    ).transact({"from": attacker, "value": 10**18})
    assert chain.w3.eth.wait_for_transaction_receipt(tx)["status"] == 1

    watcher = start_cli(["watch"], env, tmp_path)
    try:
        watcher.wait_for("watch loop started", timeout=60)
        deadline = time.monotonic() + 90
        document: Any = None
        while time.monotonic() < deadline:
            status = run_cli(["status", "--json"], env, tmp_path)
            document = json.loads(status.stdout.splitlines()[1])
            if document["seats"]["EXCEPTION"] == 1 and document["operations"]["failed"] >= 1:
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"no EXCEPTION and failed deposit: {document}")
    finally:
        assert watcher.stop() == 0

    logs = chain.w3.eth.get_logs(
        {
            "fromBlock": 0,
            "toBlock": "latest",
            "address": contracts["DEPOSIT_CONTRACT_ADDRESS"],
            "topics": [DEPOSIT_EVENT_TOPIC],
        }
    )
    assert len(logs) == 1  # theirs; ours never went out
    _, credentials, *_ = decode(["bytes"] * 5, logs[0]["data"])
    assert credentials == theirs.withdrawal_credentials
    events = _seat_events(store_env, seat)
    exception = [e for e in events if e["to_status"] == "EXCEPTION"]
    assert len(exception) == 1
    assert exception[0]["actor"] == "watcher:el"
    assert tx.hex().removeprefix("0x") in json.dumps(exception[0]["evidence"])


def _seat_events(store_env: dict[str, str], seat: str) -> list[dict[str, Any]]:
    import asyncio

    from seat_manager.adapters.db.engine import make_engine
    from seat_manager.adapters.db.uow import UnitOfWorkFactory
    from seat_manager.config import load_settings

    async def read() -> list[dict[str, Any]]:
        engine = make_engine(load_settings(store_env, env_file=None).store)
        try:
            async with UnitOfWorkFactory(engine)() as uow:
                return [
                    {"to_status": e.to_status, "actor": e.actor, "evidence": e.evidence}
                    for e in await uow.seats.events(seat)
                ]
        finally:
            await engine.dispose()

    return asyncio.run(read())
