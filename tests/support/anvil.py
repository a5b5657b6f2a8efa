"""A real anvil node for tests: started on a free loopback port, always stopped.

anvil comes from the npm package @foundry-rs/anvil (installed by `make setup`); the
platform binary inside it is run directly, so stopping the process stops the node
(the node wrapper in node_modules/.bin would leave its child behind). On Linux the
node is also told to die with the test process, so a killed pytest leaves nothing.

Tests talk to it with web3.py through anvil's unlocked default accounts (the
"test test ... junk" mnemonic), which keeps contract tests short; the production
adapters are exercised separately against the same node.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from web3 import Web3
from web3.contract import Contract

from seat_manager.devnet.anvil import anvil_binary as devnet_anvil_binary
from seat_manager.domain.errors import ConfigurationError

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "contracts" / "out"

CHAIN_ID = 31337
ETHER = 10**18

# anvil's default accounts (mnemonic "test test test test test test test test test
# test test junk"); public knowledge, worthless outside a local node.
ACCOUNT_KEYS = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
)
ACCOUNTS = (
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
    "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
    "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
)

_LISTENING = re.compile(r"Listening on 127\.0\.0\.1:(\d+)")


class AnvilMissing(RuntimeError):
    pass


def anvil_binary() -> Path:
    """The platform anvil binary from node_modules (the one `seat-manager dev` runs)."""
    try:
        return devnet_anvil_binary()
    except ConfigurationError as exc:
        raise AnvilMissing(exc.message) from None


_PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None
"""Looked up in the parent: the child between fork and exec must not load libraries."""


def _die_with_parent() -> None:
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: the node ends when pytest does


class Anvil:
    """One running anvil process. Build with `Anvil.start()`, end with `stop()`."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self._http = httpx.Client(timeout=10)
        self.w3 = Web3(Web3.HTTPProvider(self.url, request_kwargs={"timeout": 30}))

    @classmethod
    def start(cls, *, timeout: float = 30.0, extra_args: Sequence[str] = ()) -> Anvil:
        log = tempfile.NamedTemporaryFile(prefix="anvil-", suffix=".log", delete=False)  # noqa: SIM115
        log_path = Path(log.name)
        process = subprocess.Popen(
            [
                str(anvil_binary()),
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--chain-id",
                str(CHAIN_ID),
                "--accounts",
                str(len(ACCOUNTS)),
                *extra_args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        log.close()
        atexit.register(_terminate, process)
        deadline = time.monotonic() + timeout
        port: int | None = None
        while port is None and time.monotonic() < deadline:
            if process.poll() is not None:
                break
            found = _LISTENING.search(log_path.read_text(errors="replace"))
            port = int(found.group(1)) if found else None
            if port is None:
                time.sleep(0.05)
        if port is None:
            _terminate(process)
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"anvil did not start: {tail}")
        node = cls(process, port, log_path)
        node._wait_ready(deadline)
        return node

    def _wait_ready(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            try:
                if self.rpc("eth_chainId") == hex(CHAIN_ID):
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("anvil never answered eth_chainId")

    def stop(self) -> None:
        self._http.close()
        _terminate(self.process)
        with contextlib.suppress(OSError):
            self.log_path.unlink()

    # ---- node control ------------------------------------------------------------------

    def rpc(self, method: str, params: Sequence[Any] = ()) -> Any:
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        answer = self._http.post(self.url, json=body).json()
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    def snapshot(self) -> str:
        return str(self.rpc("evm_snapshot"))

    def revert(self, snapshot_id: str) -> None:
        if self.rpc("evm_revert", [snapshot_id]) is not True:
            raise RuntimeError(f"evm_revert({snapshot_id}) failed")

    def fund(self, address: str, wei: int) -> None:
        self.rpc("anvil_setBalance", [address, hex(wei)])

    def set_next_block_timestamp(self, timestamp: int) -> None:
        self.rpc("evm_setNextBlockTimestamp", [hex(timestamp)])

    def mine(self, timestamp: int | None = None) -> None:
        if timestamp is not None:
            self.set_next_block_timestamp(timestamp)
        self.rpc("evm_mine")

    def latest_timestamp(self) -> int:
        return int(self.rpc("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


# ---- contracts -----------------------------------------------------------------------------


def artifact(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ARTIFACTS / f"{name}.json").read_text())
    return data


def contract_at(w3: Web3, name: str, address: str) -> Contract:
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=artifact(name)["abi"])


def deploy(w3: Web3, name: str, *args: Any, sender: str = ACCOUNTS[0]) -> Contract:
    data = artifact(name)
    factory = w3.eth.contract(abi=data["abi"], bytecode=data["bytecode"])
    tx_hash = factory.constructor(*args).transact({"from": sender})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    assert receipt["status"] == 1, f"deploying {name} reverted"
    return contract_at(w3, name, receipt["contractAddress"])


@dataclass(frozen=True)
class Deployed:
    """The project's contracts on a node; `owner` is the factory owner (an unlocked account)."""

    deposit_contract: Contract
    factory: Contract
    owner: str

    def vault(self, address: str) -> Contract:
        return contract_at(self.factory.w3, "SeatVault", address)


def deploy_all(w3: Web3, owner: str = ACCOUNTS[0]) -> Deployed:
    deposit_contract = deploy(w3, "LocalDepositContract", sender=owner)
    factory = deploy(w3, "VaultFactory", deposit_contract.address, owner, sender=owner)
    return Deployed(deposit_contract=deposit_contract, factory=factory, owner=owner)
