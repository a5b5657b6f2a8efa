"""Run the real `seat-manager` command in a subprocess with a controlled environment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ANVIL_ACCOUNT_0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def _public_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def runtime_env() -> dict[str, str]:
    """Valid values for every variable the runtime commands require."""
    return {
        "CHAIN_ID": "31337",
        "DEPOSIT_CONTRACT_ADDRESS": "0x00000000219ab540356cBB839Cbe05303d7705Fa",
        "VAULT_FACTORY_ADDRESS": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        "PRINCIPAL_DESTINATION_ADDRESS": ANVIL_ACCOUNT_0,
        "VAULT_INIT_CODE_HASH": "0x" + "11" * 32,
        "ENROLLMENT_JWT_PUBLIC_KEY_PEM": _public_pem(),
        "P10_RESERVE_COVERAGE_LIMIT_WEI": str(320 * 10**18),
    }


def base_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "SYSTEMROOT") if k in os.environ}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def run_cli(
    args: list[str], env: Mapping[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "seat_manager", *args],
        env=base_env(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass
class Service:
    """A long-running command (api, watch) read line by line until a marker shows up."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    stderr: str = ""

    def wait_for(self, marker: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        assert self.process.stdout is not None
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if line:
                self.lines.append(line.rstrip("\n"))
                if marker in line:
                    return line.rstrip("\n")
            elif self.process.poll() is not None:
                break
        stderr = self.process.stderr.read() if self.process.stderr else ""
        raise AssertionError(
            f"{marker!r} not seen; stdout={self.lines!r} rc={self.process.poll()} stderr={stderr}"
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        """Signal the process, collect the rest of its output, close its pipes."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            out, err = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
            raise
        self.lines += out.splitlines()
        self.stderr += err
        return self.process.returncode


def start_cli(args: list[str], env: Mapping[str, str], cwd: Path) -> Service:
    process = subprocess.Popen(
        [sys.executable, "-m", "seat_manager", *args],
        env=base_env(env),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return Service(process)
