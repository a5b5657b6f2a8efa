"""Deploy the project's contracts: the vault factory and, on local chains, a deposit contract.

The result is what an operator puts in the environment: the factory address, the
vault init-code hash read back from the deployed factory (not recomputed here, so the
value printed is the one the chain will use), and the deposit contract address.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode
from eth_utils.address import to_checksum_address

from seat_manager.adapters.chain.contracts import (
    LOCAL_DEPOSIT_CONTRACT,
    VAULT_FACTORY,
    load_artifact,
)
from seat_manager.adapters.chain.errors import ChainError, TransactionFailed
from seat_manager.adapters.chain.rpc import RpcClient
from seat_manager.adapters.chain.transactions import TransactionRequest, TransactionSender
from seat_manager.domain.types import Address


@dataclass(frozen=True)
class Deployment:
    vault_factory: Address
    vault_init_code_hash: str
    vault_implementation: Address
    deposit_contract: Address
    owner: Address
    deployed_deposit_contract: bool

    def env_lines(self) -> list[str]:
        return [
            f"VAULT_FACTORY_ADDRESS={self.vault_factory}",
            f"VAULT_INIT_CODE_HASH={self.vault_init_code_hash}",
            f"DEPOSIT_CONTRACT_ADDRESS={self.deposit_contract}",
        ]


async def _create(sender: TransactionSender, data: bytes, label: str) -> Address:
    receipt = await sender.send(TransactionRequest(to=None, data=data, label=label))
    if receipt.contract_address is None:
        raise TransactionFailed(f"{label}: receipt has no contract address")
    return receipt.contract_address


async def deploy_contracts(
    rpc: RpcClient,
    sender: TransactionSender,
    *,
    owner: str,
    deposit_contract: str | None,
) -> Deployment:
    """Deploy a LocalDepositContract when `deposit_contract` is None, then the factory."""
    if deposit_contract is None:
        deposit = await _create(
            sender, load_artifact(LOCAL_DEPOSIT_CONTRACT).deploy_data(), "deploy deposit contract"
        )
    else:
        if not await rpc.get_code(deposit_contract):
            raise ChainError(
                f"DEPOSIT_CONTRACT_ADDRESS {deposit_contract} has no code on this chain",
                data={"address": deposit_contract},
            )
        deposit = Address(deposit_contract)
    factory_artifact = load_artifact(VAULT_FACTORY)
    factory = await _create(
        sender, factory_artifact.deploy_data(deposit, owner), "deploy vault factory"
    )

    async def view(function: str, abi_type: str) -> Any:
        (value,) = decode(
            [abi_type], await rpc.call(factory, factory_artifact.encode_call(function))
        )
        return value

    code_hash: bytes = await view("vaultInitCodeHash", "bytes32")
    return Deployment(
        vault_factory=factory,
        vault_init_code_hash="0x" + code_hash.hex(),
        vault_implementation=Address(
            to_checksum_address(await view("vaultImplementation", "address"))
        ),
        deposit_contract=deposit,
        owner=Address(to_checksum_address(await view("owner", "address"))),
        deployed_deposit_contract=deposit_contract is None,
    )
