"""Start and stop the anvil binary installed by the README set-up (npm `@foundry-rs/anvil`)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from seat_manager.domain.errors import ConfigurationError

REPO_ROOT = Path(__file__).resolve().parents[3]
CHAIN_ID = 31337
# anvil's well-known development accounts (mnemonic "test test ... junk"): public keys,
# public knowledge, worthless outside a local chain.
DEV_ACCOUNT_KEYS = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
)


def anvil_binary() -> Path:
    """The platform binary itself (not the node wrapper), so a signal reaches anvil."""
    modules = REPO_ROOT / "node_modules" / "@foundry-rs"
    candidates = sorted(modules.glob("anvil-*/bin/anvil"))
    if not candidates:
        raise ConfigurationError(
            f"anvil is not installed under {modules}: run `make setup`"
            " (installs @foundry-rs/anvil from npm)"
        )
    return candidates[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class AnvilProcess:
    process: subprocess.Popen[bytes]
    url: str

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_anvil(port: int, *, block_time_s: int = 1, log_path: Path | None = None) -> AnvilProcess:
    output = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        [
            str(anvil_binary()),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--chain-id",
            str(CHAIN_ID),
            "--block-time",
            str(block_time_s),
        ],
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ConfigurationError(f"anvil exited at start (code {process.returncode})")
        try:
            answer = httpx.post(
                url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}, timeout=1
            )
            if answer.status_code == 200:
                return AnvilProcess(process, url)
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise ConfigurationError("anvil did not answer within 30 s")
