"""`seat-manager verify-deposit-data`: check a deposit_data-*.json before any ETH moves.

Operators run it on the file the staking deposit CLI wrote, against either the seat's
vault credentials (`--seat-id`, predicted by CREATE2 from the configured factory) or
credentials they give. The fork version is the configured chain's, so a file made for
another network fails. One line per entry; exit 0 when every entry passes, 1 when any
fails, 2 when the file or the configuration cannot be used at all.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from seat_manager.config import Settings, load_settings
from seat_manager.domain.chains import genesis_fork_version
from seat_manager.domain.deposits import verify_deposit_data
from seat_manager.domain.errors import DepositDataInvalid
from seat_manager.domain.vaults import predict_vault_address, withdrawal_credentials

_CREDENTIALS = re.compile(r"(0x)?[0-9a-fA-F]{64}")
_PUBKEY = re.compile(r"(0x)?[0-9a-fA-F]{96}")


class DepositFileUnusable(Exception):
    """The file cannot be read as a list of entries; no entry was checked."""


def register(sub: argparse._SubParsersAction[Any]) -> None:
    parser = sub.add_parser(
        "verify-deposit-data",
        help="check every entry of a deposit_data-*.json against a seat's vault",
        description="Check lengths, amount, withdrawal credentials, SSZ roots and the BLS"
        " signature of each entry, with the genesis fork version of the configured CHAIN_ID.",
    )
    parser.add_argument("file", metavar="FILE", type=Path, help="a deposit_data-*.json file")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--seat-id", type=_seat_id, help="expect the withdrawal credentials of this seat's vault"
    )
    target.add_argument(
        "--withdrawal-credentials",
        metavar="HEX",
        type=_credentials,
        help="expect these 32-byte withdrawal credentials",
    )
    parser.add_argument(
        "--allow-compounding",
        action="store_true",
        help="also accept 0x02 (compounding) credentials to the same address",
    )
    parser.set_defaults(handler=run_verify_deposit_data)


def _seat_id(value: str) -> str:
    if not value.strip() or value != value.strip():
        raise argparse.ArgumentTypeError("must be a non-empty seat id without surrounding spaces")
    return value


def _credentials(value: str) -> bytes:
    if not _CREDENTIALS.fullmatch(value):
        raise argparse.ArgumentTypeError("must be 32 bytes of hex (64 hex characters, 0x optional)")
    return bytes.fromhex(value.removeprefix("0x"))


def read_entries(path: Path) -> list[object]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DepositFileUnusable(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise DepositFileUnusable(f"{path} is not UTF-8 text") from None
    try:
        entries = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DepositFileUnusable(
            f"{path} is not valid JSON (line {exc.lineno} column {exc.colno}: {exc.msg})"
        ) from None
    if not isinstance(entries, list):
        raise DepositFileUnusable(f"{path} must hold a JSON array of deposit data entries")
    if not entries:
        raise DepositFileUnusable(f"{path} holds no deposit data entries")
    return entries


def _pubkey_label(entry: object) -> str:
    """The entry's pubkey for the report, only when it is plain hex of the right size."""
    pubkey = entry.get("pubkey") if isinstance(entry, Mapping) else None
    if isinstance(pubkey, str) and _PUBKEY.fullmatch(pubkey):
        return "0x" + pubkey.removeprefix("0x").lower()
    return "(unreadable)"


def _expected_credentials(args: argparse.Namespace, settings: Settings) -> tuple[bytes, str]:
    """The credentials every entry must carry, and how they were obtained."""
    if args.withdrawal_credentials is not None:
        given: bytes = args.withdrawal_credentials
        return given, f"withdrawal credentials 0x{given.hex()} (given)"
    settings.require("VAULT_FACTORY_ADDRESS", "VAULT_INIT_CODE_HASH")
    assert settings.vault_factory_address is not None
    assert settings.vault_init_code_hash is not None
    vault = predict_vault_address(
        settings.vault_factory_address, args.seat_id, settings.vault_init_code_hash
    )
    expected = withdrawal_credentials(vault)
    return (
        expected,
        f"withdrawal credentials 0x{expected.hex()} (vault {vault} of seat {args.seat_id})",
    )


def run_verify_deposit_data(args: argparse.Namespace) -> int:
    settings = load_settings()
    settings.require("CHAIN_ID")
    assert settings.chain_id is not None
    fork_version = genesis_fork_version(settings.chain_id, settings.genesis_fork_version)
    expected, source = _expected_credentials(args, settings)
    try:
        entries = read_entries(args.file)
    except DepositFileUnusable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"checking {args.file}: {len(entries)} entries")
    print(f"expecting {source}")
    print(f"expecting genesis fork version {fork_version.hex()} (CHAIN_ID {settings.chain_id})")
    passed = 0
    first_seen: dict[bytes, int] = {}
    for index, entry in enumerate(entries):
        label = f"entry {index} pubkey {_pubkey_label(entry)}"
        try:
            data = verify_deposit_data(
                entry,
                expected_withdrawal_credentials=expected,
                genesis_fork_version=fork_version,
                allow_compounding=args.allow_compounding,
            )
        except DepositDataInvalid as exc:
            print(f"{label}: FAIL {exc.code}: {exc.message}")
            continue
        earlier = first_seen.setdefault(data.pubkey, index)
        if earlier != index:
            # Two deposits for one validator would put 64 ETH behind one key.
            print(f"{label}: FAIL DEPOSIT_PUBKEY_DUPLICATE: same pubkey as entry {earlier}")
            continue
        passed += 1
        print(f"{label}: OK")
    print(f"{passed} of {len(entries)} entries OK")
    return 0 if passed == len(entries) else 1
