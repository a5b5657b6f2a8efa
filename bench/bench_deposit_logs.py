"""DepositEvent decodes per second: seat_manager's decoder vs web3.py's event decoding.

Not a test: prints figures. Both decoders get the same logs, each in its natural input
form: ours the raw `eth_getLogs` JSON (hex parsing included), web3.py the log as its
own provider hands it over (HexBytes, ints: formatting already done, so web3 is timed
on decoding alone). The logs are ABI-encoded exactly as the deposit contract emits
them; tests/chain/test_deposit_logs.py proves the two decoders agree on real ones.

    .venv/bin/python bench/bench_deposit_logs.py [--logs N] [--rounds R]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

from eth_abi.abi import encode
from hexbytes import HexBytes
from web3 import Web3
from web3.datastructures import AttributeDict

from seat_manager.adapters.chain.contracts import LOCAL_DEPOSIT_CONTRACT, load_artifact
from seat_manager.adapters.chain.deposit_logs import DEPOSIT_EVENT_TOPIC_HEX, decode_raw_deposit_log

CONTRACT = "0x00000000219ab540356cBB839Cbe05303d7705Fa"


def make_raw_logs(count: int) -> list[dict[str, Any]]:
    logs = []
    for i in range(count):
        data = encode(
            ["bytes"] * 5,
            [
                os.urandom(48),
                b"\x01" + b"\x00" * 11 + os.urandom(20),
                (32 * 10**9).to_bytes(8, "little"),
                os.urandom(96),
                i.to_bytes(8, "little"),
            ],
        )
        logs.append(
            {
                "address": CONTRACT.lower(),
                "topics": [DEPOSIT_EVENT_TOPIC_HEX],
                "data": "0x" + data.hex(),
                "blockNumber": hex(1_000_000 + i // 4),
                "blockHash": "0x" + os.urandom(32).hex(),
                "transactionHash": "0x" + os.urandom(32).hex(),
                "transactionIndex": hex(i % 4),
                "logIndex": hex(i % 4),
                "removed": False,
            }
        )
    return logs


def as_web3_log(raw: dict[str, Any]) -> AttributeDict[str, Any]:
    return AttributeDict(
        {
            "address": Web3.to_checksum_address(raw["address"]),
            "topics": [HexBytes(t) for t in raw["topics"]],
            "data": HexBytes(raw["data"]),
            "blockNumber": int(raw["blockNumber"], 16),
            "blockHash": HexBytes(raw["blockHash"]),
            "transactionHash": HexBytes(raw["transactionHash"]),
            "transactionIndex": int(raw["transactionIndex"], 16),
            "logIndex": int(raw["logIndex"], 16),
            "removed": False,
        }
    )


def best_rate(decode: Callable[[Any], object], logs: list[Any], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for log in logs:
            decode(log)
        best = min(best, time.perf_counter() - start)
    return len(logs) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    raw_logs = make_raw_logs(args.logs)
    web3_logs = [as_web3_log(raw) for raw in raw_logs]
    event = Web3().eth.contract(abi=list(load_artifact(LOCAL_DEPOSIT_CONTRACT).abi)).events
    web3_decoder = event.DepositEvent()

    ours = [decode_raw_deposit_log(r) for r in raw_logs]
    theirs = [web3_decoder.process_log(log) for log in web3_logs]
    assert all(
        o.pubkey == t["args"]["pubkey"] and o.index == int.from_bytes(t["args"]["index"], "little")
        for o, t in zip(ours, theirs, strict=True)
    ), "decoders disagree"

    ours_rate = best_rate(decode_raw_deposit_log, raw_logs, args.rounds)
    web3_rate = best_rate(web3_decoder.process_log, web3_logs, args.rounds)
    print(f"logs={args.logs} rounds={args.rounds} (best round)")
    print(f"seat_manager deposit_logs: {ours_rate:12,.0f} decodes/s (from raw JSON-RPC logs)")
    print(f"web3.py process_log:       {web3_rate:12,.0f} decodes/s (from formatted logs)")
    print(f"ratio: {ours_rate / web3_rate:.1f}x")


if __name__ == "__main__":
    main()
