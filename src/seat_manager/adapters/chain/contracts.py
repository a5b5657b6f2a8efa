"""The project's compiled contracts (contracts/out) and the call data to drive them.

Artifacts are produced by `make contracts` and committed; this module only reads them.
Encoding goes through eth-abi from the ABI in the artifact, so a changed signature in
Solidity changes the call data here without anyone editing Python.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from eth_abi.abi import decode, encode
from eth_abi.exceptions import DecodingError
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from seat_manager.adapters.chain.errors import ContractArtifactError

VAULT_FACTORY = "VaultFactory"
SEAT_VAULT = "SeatVault"
LOCAL_DEPOSIT_CONTRACT = "LocalDepositContract"

ARTIFACTS_DIR = Path(__file__).resolve().parents[4] / "contracts" / "out"
"""contracts/out in a source checkout (the project is installed editable)."""

_ERROR_STRING = bytes.fromhex("08c379a0")
_PANIC = bytes.fromhex("4e487b71")


def abi_type(param: Mapping[str, Any]) -> str:
    """The canonical type of an ABI parameter, expanding tuples for signatures."""
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(abi_type(c) for c in param.get("components", ()))
        return f"({inner}){kind[len('tuple') :]}"
    return kind


def _signature(entry: Mapping[str, Any]) -> str:
    return f"{entry['name']}({','.join(abi_type(p) for p in entry.get('inputs', ()))})"


@dataclass(frozen=True)
class AbiFunction:
    name: str
    signature: str
    selector: bytes
    input_types: tuple[str, ...]
    output_types: tuple[str, ...]

    def encode(self, *args: Any) -> bytes:
        return self.selector + encode(list(self.input_types), list(args))

    def decode_output(self, data: bytes) -> tuple[Any, ...]:
        return tuple(decode(list(self.output_types), data))


@dataclass(frozen=True)
class ContractArtifact:
    name: str
    abi: tuple[Mapping[str, Any], ...]
    bytecode: bytes
    deployed_bytecode: bytes
    source_hash: str

    def function(self, name: str) -> AbiFunction:
        entries = [e for e in self.abi if e.get("type") == "function" and e.get("name") == name]
        if len(entries) != 1:
            raise ContractArtifactError(f"{self.name} has {len(entries)} functions named {name}")
        entry = entries[0]
        signature = _signature(entry)
        return AbiFunction(
            name=name,
            signature=signature,
            selector=keccak(text=signature)[:4],
            input_types=tuple(abi_type(p) for p in entry.get("inputs", ())),
            output_types=tuple(abi_type(p) for p in entry.get("outputs", ())),
        )

    def encode_call(self, function: str, *args: Any) -> bytes:
        return self.function(function).encode(*args)

    def deploy_data(self, *args: Any) -> bytes:
        """Creation code followed by the ABI-encoded constructor arguments."""
        ctor = [e for e in self.abi if e.get("type") == "constructor"]
        types = [abi_type(p) for p in ctor[0].get("inputs", ())] if ctor else []
        if len(types) != len(args):
            raise ContractArtifactError(
                f"{self.name} constructor takes {len(types)} argument(s), got {len(args)}"
            )
        return self.bytecode + encode(types, list(args))

    def event_topic(self, name: str) -> bytes:
        for entry in self.abi:
            if entry.get("type") == "event" and entry.get("name") == name:
                return keccak(text=_signature(entry))
        raise ContractArtifactError(f"{self.name} has no event {name}")

    def errors_by_selector(self) -> dict[bytes, tuple[str, tuple[str, ...]]]:
        return {
            keccak(text=_signature(e))[:4]: (
                str(e["name"]),
                tuple(abi_type(p) for p in e.get("inputs", ())),
            )
            for e in self.abi
            if e.get("type") == "error"
        }


@cache
def load_artifact(name: str, directory: Path = ARTIFACTS_DIR) -> ContractArtifact:
    path = directory / f"{name}.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return ContractArtifact(
            name=str(raw["contractName"]),
            abi=tuple(raw["abi"]),
            bytecode=bytes.fromhex(str(raw["bytecode"]).removeprefix("0x")),
            deployed_bytecode=bytes.fromhex(str(raw["deployedBytecode"]).removeprefix("0x")),
            source_hash=str(raw["sourceHash"]),
        )
    except FileNotFoundError:
        raise ContractArtifactError(
            f"contract artifact {name}.json not found in {directory}; run `make contracts`"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ContractArtifactError(
            f"contract artifact {name}.json is unreadable ({type(exc).__name__})"
        ) from None


def _show(abi: str, value: Any) -> str:
    if abi == "address":
        return str(to_checksum_address(value))
    return "0x" + value.hex() if isinstance(value, bytes) else str(value)


def describe_revert(data: bytes, artifacts: Sequence[str] = (VAULT_FACTORY, SEAT_VAULT)) -> str:
    """A readable reason for revert data: Error(string), Panic(code) or a custom error."""
    selector, payload = data[:4], data[4:]
    try:
        if selector == _ERROR_STRING:
            return str(decode(["string"], payload)[0])
        if selector == _PANIC:
            return f"Panic(0x{decode(['uint256'], payload)[0]:02x})"
        for name in artifacts:
            known = load_artifact(name).errors_by_selector().get(selector)
            if known is not None:
                error_name, types = known
                values = decode(list(types), payload)
                shown = ", ".join(_show(t, v) for t, v in zip(types, values, strict=True))
                return f"{error_name}({shown})"
    except (DecodingError, ValueError):
        return f"undecodable revert data 0x{data.hex()}"
    return f"unknown revert 0x{data.hex()}" if data else "reverted without data"


# ---- the calls the back end makes ----------------------------------------------------------


def deploy_vault_calldata(seat_id: str, beneficiary: str, principal_destination: str) -> bytes:
    return load_artifact(VAULT_FACTORY).encode_call(
        "deployVault", seat_id, beneficiary, principal_destination
    )


def deposit_calldata(
    seat_id: str,
    pubkey: bytes,
    signature: bytes,
    deposit_data_root: bytes,
    expected_deposit_root: bytes,
) -> bytes:
    """`VaultFactory.deposit`; send it with a value of exactly 32 ETH."""
    return load_artifact(VAULT_FACTORY).encode_call(
        "deposit", seat_id, pubkey, signature, deposit_data_root, expected_deposit_root
    )


def grant_claim_executor_calldata(executor: str, expires_at: int) -> bytes:
    return load_artifact(SEAT_VAULT).encode_call("grantClaimExecutor", executor, expires_at)


def claim_calldata() -> bytes:
    return load_artifact(SEAT_VAULT).encode_call("claim")


def claim_executor_expiry_calldata(executor: str) -> bytes:
    return load_artifact(SEAT_VAULT).encode_call("claimExecutorExpiry", executor)


def get_deposit_root_calldata() -> bytes:
    return load_artifact(LOCAL_DEPOSIT_CONTRACT).encode_call("get_deposit_root")


def get_deposit_count_calldata() -> bytes:
    """`get_deposit_count()`: ABI `bytes` holding the count as 8 little-endian bytes."""
    return load_artifact(LOCAL_DEPOSIT_CONTRACT).encode_call("get_deposit_count")
