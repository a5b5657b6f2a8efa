"""`seat-manager dev`: a local devnet in one command.

Starts anvil, deploys the contracts, writes `.env.dev` (addresses, init-code hash, a
throwaway JWT key pair, an anvil owner key), seeds demo seats, runs `api-watch` on a
fresh SQLite store, and prints the URL, an operator JWT and a curl that enrolls a demo
validator with deposit data signed locally. Ctrl-C stops everything it started.
Every key here is throwaway: never point this at a real chain.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
from pathlib import Path
from typing import Any

from seat_manager.bootstrap import announce

DEMO_SEATS = (("seat_001", "operator_001"), ("seat_002", "operator_002"))
DEV_FORK_VERSION = "00000000"
DEV_RESERVE_LIMIT_WEI = 320 * 10**18


def register(sub: argparse._SubParsersAction[Any]) -> None:
    parser = sub.add_parser("dev", help="local devnet: anvil, contracts, demo seats, api-watch")
    parser.add_argument("--port", type=int, default=8080, help="API port (default 8080)")
    parser.add_argument("--anvil-port", type=int, default=0, help="anvil port (default: free)")
    parser.add_argument("--dir", type=Path, default=Path(".dev"), help="working folder")
    parser.set_defaults(handler=lambda args: asyncio.run(run_dev(args)))


def _env_line(key: str, value: str) -> str:
    return f"{key}={json.dumps(value)}" if "\n" in value or " " in value else f"{key}={value}"


async def run_dev(args: argparse.Namespace) -> int:
    from seat_manager.adapters.chain.deploy import deploy_contracts
    from seat_manager.adapters.chain.rpc import RpcClient
    from seat_manager.adapters.chain.signer import LocalSigner
    from seat_manager.adapters.chain.transactions import TransactionSender
    from seat_manager.config import load_settings
    from seat_manager.devnet.anvil import CHAIN_ID, DEV_ACCOUNT_KEYS, free_port, start_anvil
    from seat_manager.devnet.keys import JwtKeyPair
    from seat_manager.serving import run_service

    workdir: Path = args.dir
    workdir.mkdir(parents=True, exist_ok=True)
    store = workdir / "seat-manager.sqlite3"
    for stale in workdir.glob("seat-manager.sqlite3*"):
        stale.unlink()  # a new chain every run: a store from an old chain would lie
    anvil = await asyncio.to_thread(
        start_anvil, args.anvil_port or free_port(), log_path=workdir / "anvil.log"
    )
    try:
        owner = LocalSigner(DEV_ACCOUNT_KEYS[0])
        async with RpcClient(anvil.url) as rpc:
            deployment = await deploy_contracts(
                rpc,
                TransactionSender(rpc, owner, CHAIN_ID),
                owner=owner.address,
                deposit_contract=None,
            )
        keys = JwtKeyPair.generate()
        (workdir / "jwt-private.pem").write_text(keys.private_pem)
        env = {
            "CHAIN_ID": str(CHAIN_ID),
            "ETH_RPC_URL": anvil.url,
            "DEPOSIT_CONTRACT_ADDRESS": deployment.deposit_contract,
            "VAULT_FACTORY_ADDRESS": deployment.vault_factory,
            "VAULT_INIT_CODE_HASH": deployment.vault_init_code_hash,
            "PRINCIPAL_DESTINATION_ADDRESS": owner.address,
            "ENROLLMENT_JWT_PUBLIC_KEY_PEM": keys.public_pem,
            "P10_RESERVE_COVERAGE_LIMIT_WEI": str(DEV_RESERVE_LIMIT_WEI),
            "SEAT_MANAGER_OWNER_PRIVATE_KEY": DEV_ACCOUNT_KEYS[0],
            "SEAT_MANAGER_OPERATION_MODE": "OWNER_SEND",
            "SEAT_MANAGER_GENESIS_FORK_VERSION": DEV_FORK_VERSION,
            "SEAT_MANAGER_EL_CONFIRMATIONS": "1",
            "SEAT_MANAGER_WATCH_POLL_MS": "500",
            "ONBOARDING_STORE_DRIVER": "sqlite",
            "ONBOARDING_SQLITE_PATH": str(store),
            "SEAT_MANAGER_HOST": "127.0.0.1",
            "SEAT_MANAGER_PORT": str(args.port),
            "SEAT_MANAGER_CREATED_SEATS_JSON": json.dumps(
                [{"seatId": seat, "operatorId": operator} for seat, operator in DEMO_SEATS]
            ),
        }
        Path(".env.dev").write_text(
            "# written by `seat-manager dev`: throwaway local values, never for a real chain\n"
            + "".join(_env_line(k, v) + "\n" for k, v in env.items())
        )
        settings = load_settings(env, env_file=None)

        def on_ready(base_url: str) -> None:
            _print_instructions(base_url, settings, keys, workdir)

        return await run_service(
            "api-watch", api=True, watch=True, settings=settings, on_ready=on_ready
        )
    finally:
        await asyncio.to_thread(anvil.stop)


def _print_instructions(base_url: str, settings: Any, keys: Any, workdir: Path) -> None:
    from seat_manager.devnet.anvil import DEV_ACCOUNT_KEYS
    from seat_manager.devnet.keys import make_deposit_entry, validator_secret
    from seat_manager.domain.vaults import predict_vault_address, withdrawal_credentials

    seat_id, operator_id = DEMO_SEATS[0]
    runtime = settings.require_runtime()
    vault = predict_vault_address(
        runtime.vault_factory_address, seat_id, runtime.vault_init_code_hash
    )
    entry = make_deposit_entry(
        validator_secret(f"seat-manager devnet {seat_id}"),
        withdrawal_credentials(vault),
        bytes.fromhex(DEV_FORK_VERSION),
    )
    from seat_manager.adapters.chain.signer import LocalSigner

    beneficiary = LocalSigner(DEV_ACCOUNT_KEYS[1]).address
    body = workdir / f"enroll-{seat_id}.json"
    body.write_text(json.dumps({"beneficiary_address": beneficiary, "deposit_data": entry}))
    token = keys.operator_token(operator_id, settings.enrollment_jwt_audience)
    auth = shlex.quote(f"Authorization: Bearer {token}")
    announce("")
    announce(f"devnet ready: API {base_url}, chain {settings.eth_rpc_url}, env in .env.dev")
    announce(f"operator JWT for {operator_id}:")
    announce(token)
    announce(f"enroll a demo validator on {seat_id} (vault {vault}):")
    announce(
        f"curl -sS -X POST {base_url}/v1/seats/{seat_id}/enrollment -H {auth}"
        f" -H 'Content-Type: application/json' -d @{shlex.quote(str(body))}"
    )
    announce("then follow it to DEPOSITED:")
    announce(f"curl -sS {base_url}/v1/seats/{seat_id}/status -H {auth}")
    announce("Ctrl-C stops the API, the watcher and anvil.")
