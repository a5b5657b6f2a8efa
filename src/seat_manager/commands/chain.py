"""Chain tools for operators: where a seat's vault is, and deploying the contracts.

    seat-manager vault-address SEAT_ID
    seat-manager contracts deploy [--with-deposit-contract] [--owner ADDRESS]

`vault-address` is pure arithmetic over VAULT_FACTORY_ADDRESS and VAULT_INIT_CODE_HASH
(SPEC §6), so an operator can check the credentials in their deposit data without a
node. `contracts deploy` signs with SEAT_MANAGER_OWNER_PRIVATE_KEY over ETH_RPC_URL and
prints the environment lines to use. Chain libraries are imported inside the handlers
so the rest of the CLI does not pay for them.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from seat_manager.config import Settings, load_settings
from seat_manager.domain.errors import ConfigurationError
from seat_manager.domain.vaults import predict_vault_address, withdrawal_credentials

SEAT_ID_MAX = 128


def register(sub: argparse._SubParsersAction[Any]) -> None:
    vault = sub.add_parser(
        "vault-address",
        help="print a seat's predicted vault address and the withdrawal credentials to use",
    )
    vault.add_argument("seat_id", metavar="SEAT_ID")
    vault.set_defaults(handler=vault_address)

    contracts = sub.add_parser("contracts", help="the project's contracts on chain")
    actions = contracts.add_subparsers(dest="contracts_command", metavar="ACTION", required=True)
    deploy = actions.add_parser(
        "deploy",
        help="deploy the vault factory with the owner key over ETH_RPC_URL; print env lines",
    )
    deploy.add_argument(
        "--with-deposit-contract",
        action="store_true",
        help="also deploy a local deposit contract (local chains only); otherwise use"
        " DEPOSIT_CONTRACT_ADDRESS",
    )
    deploy.add_argument(
        "--owner",
        metavar="ADDRESS",
        help="factory owner (e.g. a multisig); default: the owner key's address",
    )
    deploy.set_defaults(handler=contracts_deploy)


def _seat_id_problem(seat_id: str) -> str | None:
    if not seat_id or seat_id != seat_id.strip():
        return "SEAT_ID must be non-empty without surrounding spaces"
    if len(seat_id) > SEAT_ID_MAX or not seat_id.isprintable():
        return f"SEAT_ID must be at most {SEAT_ID_MAX} printable characters"
    return None


def vault_address(args: argparse.Namespace) -> int:
    seat_id: str = args.seat_id
    problem = _seat_id_problem(seat_id)
    if problem is not None:
        print(f"vault-address: {problem}", file=sys.stderr)
        return 2
    settings = load_settings()
    settings.require("VAULT_FACTORY_ADDRESS", "VAULT_INIT_CODE_HASH")
    assert settings.vault_factory_address is not None
    assert settings.vault_init_code_hash is not None
    vault = predict_vault_address(
        settings.vault_factory_address, seat_id, settings.vault_init_code_hash
    )
    print(f"seat_id={seat_id}")
    print(f"vault_address={vault}")
    print(f"withdrawal_credentials=0x{withdrawal_credentials(vault).hex()}")
    return 0


def contracts_deploy(args: argparse.Namespace) -> int:
    settings = load_settings()
    required = ["ETH_RPC_URL", "SEAT_MANAGER_OWNER_PRIVATE_KEY"]
    if not args.with_deposit_contract:
        required.append("DEPOSIT_CONTRACT_ADDRESS")
    settings.require(*required)
    owner = _owner_address(args.owner)
    return asyncio.run(_deploy(settings, owner, args.with_deposit_contract))


def _owner_address(value: str | None) -> str | None:
    if value is None:
        return None
    from eth_utils.address import is_address, to_checksum_address

    if not is_address(value):
        raise ConfigurationError("--owner must be a 0x-prefixed 20-byte address")
    return str(to_checksum_address(value))


async def _deploy(settings: Settings, owner: str | None, with_deposit_contract: bool) -> int:
    from seat_manager.adapters.chain.deploy import deploy_contracts
    from seat_manager.adapters.chain.errors import ChainError
    from seat_manager.adapters.chain.rpc import RpcClient
    from seat_manager.adapters.chain.signer import LocalSigner
    from seat_manager.adapters.chain.transactions import TransactionSender
    from seat_manager.domain.chains import KNOWN_CHAINS

    assert settings.eth_rpc_url is not None
    signer = LocalSigner.from_settings(settings)
    async with RpcClient(settings.eth_rpc_url) as rpc:
        try:
            chain_id = await rpc.chain_id()
            if settings.chain_id is not None and settings.chain_id != chain_id:
                raise ConfigurationError(
                    f"CHAIN_ID is {settings.chain_id} but ETH_RPC_URL answers chain id {chain_id}"
                )
            if with_deposit_contract and chain_id in KNOWN_CHAINS:
                raise ConfigurationError(
                    f"--with-deposit-contract is for local chains only; chain id {chain_id} is"
                    f" {KNOWN_CHAINS[chain_id].name}: use its official DEPOSIT_CONTRACT_ADDRESS"
                )
            sender = TransactionSender(rpc, signer, chain_id)
            deployment = await deploy_contracts(
                rpc,
                sender,
                owner=owner or signer.address,
                deposit_contract=None
                if with_deposit_contract
                else settings.deposit_contract_address,
            )
        except ChainError as exc:
            print(f"contracts deploy failed: {exc.message}", file=sys.stderr)
            return 1
    print(
        f"# deployed on chain {chain_id} by {signer.address}; factory owner {deployment.owner}",
        file=sys.stderr,
    )
    for line in deployment.env_lines():
        print(line)
    return 0
