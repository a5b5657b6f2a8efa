"""A real Safe 1.4.1 on anvil, from the npm package's compiled artifacts.

`@safe-global/safe-contracts` 1.4.1 (node_modules, installed by `make setup`) ships the
Safe singleton, SafeProxyFactory and CompatibilityFallbackHandler with their bytecode.
`deploy_safe` deploys the three and creates a Safe proxy of anvil accounts exactly as
the Safe UI does (`createProxyWithNonce(singleton, setup(...), salt)`).

Owners sign the safeTxHash with their keys: a 65-byte ECDSA signature each (r ‖ s ‖ v,
v = 27/28, no message prefix), concatenated in ascending owner-address order, which
is what `execTransaction` verifies.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from eth_account import Account
from web3 import Web3
from web3.contract import Contract

from tests.support.anvil import ACCOUNT_KEYS, ACCOUNTS, REPO

SAFE_ARTIFACTS = REPO / "node_modules" / "@safe-global" / "safe-contracts" / "build" / "artifacts"
ZERO = "0x0000000000000000000000000000000000000000"
_PATHS = {
    "Safe": "contracts/Safe.sol/Safe.json",
    "SafeProxyFactory": "contracts/proxies/SafeProxyFactory.sol/SafeProxyFactory.json",
    "CompatibilityFallbackHandler": (
        "contracts/handler/CompatibilityFallbackHandler.sol/CompatibilityFallbackHandler.json"
    ),
}


@cache
def safe_artifact(name: str) -> dict[str, Any]:
    path = SAFE_ARTIFACTS / _PATHS[name]
    if not path.exists():
        raise FileNotFoundError(f"{path} missing: run `make setup` (@safe-global/safe-contracts)")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _deploy(w3: Web3, name: str, sender: str) -> str:
    data = safe_artifact(name)
    tx = (
        w3.eth.contract(abi=data["abi"], bytecode=data["bytecode"])
        .constructor()
        .transact({"from": sender})
    )
    receipt = w3.eth.wait_for_transaction_receipt(tx, timeout=30)
    assert receipt["status"] == 1, f"deploying {name} reverted"
    return str(receipt["contractAddress"])


def _transact(call: Any, sender: str, **extra: Any) -> Any:
    tx = call.transact({"from": sender, **extra})
    receipt = call.w3.eth.wait_for_transaction_receipt(tx, timeout=30)
    return receipt


@dataclass(frozen=True)
class SafeOnChain:
    contract: Contract
    owners: tuple[str, ...]
    keys: tuple[str, ...]
    threshold: int

    @property
    def address(self) -> str:
        return str(self.contract.address)


def deploy_safe(
    w3: Web3,
    *,
    owner_indexes: Sequence[int] = (1, 2, 3),
    threshold: int = 2,
    deployer: str = ACCOUNTS[0],
    salt_nonce: int = 0,
) -> SafeOnChain:
    """Singleton, proxy factory and fallback handler, then a Safe of anvil accounts."""
    singleton = _deploy(w3, "Safe", deployer)
    factory_address = _deploy(w3, "SafeProxyFactory", deployer)
    handler = _deploy(w3, "CompatibilityFallbackHandler", deployer)
    owners = tuple(ACCOUNTS[i] for i in owner_indexes)
    template = w3.eth.contract(abi=safe_artifact("Safe")["abi"])
    initializer = template.encode_abi(
        "setup", [list(owners), threshold, ZERO, b"", handler, ZERO, 0, ZERO]
    )
    factory = w3.eth.contract(address=factory_address, abi=safe_artifact("SafeProxyFactory")["abi"])
    create = factory.functions.createProxyWithNonce(singleton, initializer, salt_nonce)
    proxy = create.call({"from": deployer})
    assert _transact(create, deployer)["status"] == 1, "creating the Safe proxy reverted"
    contract = w3.eth.contract(address=proxy, abi=safe_artifact("Safe")["abi"])
    assert contract.functions.getThreshold().call() == threshold
    keys = tuple(ACCOUNT_KEYS[i] for i in owner_indexes)
    return SafeOnChain(contract, owners, keys, threshold)


def sign_safe_tx_hash(safe_tx_hash: bytes, keys: Sequence[str]) -> bytes:
    """Owners' signatures over the hash, sorted by owner address as the Safe requires."""
    signed = []
    for key in keys:
        account = Account.from_key(key)
        signature = Account.unsafe_sign_hash(safe_tx_hash, key)
        packed = (
            signature.r.to_bytes(32, "big") + signature.s.to_bytes(32, "big") + bytes([signature.v])
        )
        signed.append((int(account.address, 16), packed))
    return b"".join(packed for _, packed in sorted(signed))


def safe_tx_args(proposal: Mapping[str, Any]) -> list[Any]:
    """The SafeTx fields of a stored proposal, in execTransaction's argument order."""
    return [
        Web3.to_checksum_address(proposal["to"]),
        int(proposal["value"]),
        bytes.fromhex(str(proposal["data"]).removeprefix("0x")),
        int(proposal["operation"]),
        int(proposal["safe_tx_gas"]),
        int(proposal["base_gas"]),
        int(proposal["gas_price"]),
        Web3.to_checksum_address(proposal["gas_token"]),
        Web3.to_checksum_address(proposal["refund_receiver"]),
    ]


def on_chain_tx_hash(safe: SafeOnChain, proposal: Mapping[str, Any]) -> bytes:
    """The Safe's own `getTransactionHash` for the proposal's fields and nonce."""
    args = [*safe_tx_args(proposal), int(proposal["safe_nonce"])]
    return bytes(safe.contract.functions.getTransactionHash(*args).call())


def execute_proposal(
    safe: SafeOnChain,
    proposal: Mapping[str, Any],
    *,
    signers: int | None = None,
    sender: str = ACCOUNTS[5],
) -> Any:
    """Sign the stored safeTxHash with `signers` owners (default: the threshold) and
    send `execTransaction` from `sender` (anyone may); returns the receipt."""
    safe_tx_hash = bytes.fromhex(str(proposal["safe_tx_hash"]).removeprefix("0x"))
    signatures = sign_safe_tx_hash(safe_tx_hash, safe.keys[: signers or safe.threshold])
    call = safe.contract.functions.execTransaction(*safe_tx_args(proposal), signatures)
    return _transact(call, sender, gas=3_000_000)
