"""EL watcher catch-up over 20,000+ DepositEvents on anvil: ours vs the raw fetch vs web3.py.

A dedicated anvil gets a bench-only contract (bench/BenchDepositEmitter.sol, compiled
here with the pinned npm solc) that emits official-shape DepositEvents, many per
transaction, and answers get_deposit_count() like the deposit contract. Transactions
are spread over many blocks so the scan is made of many ranges, as on mainnet.
Then, over the same blocks and the same ranges:

  (a) our watcher catching up from scratch on a fresh store (SQLite; PostgreSQL too
      when SEAT_MANAGER_TEST_POSTGRES_URL answers): fetch, check, index, commit;
  (b) the raw eth_getLogs fetch of the same ranges alone, JSON parsed (the floor);
  (c) a plain web3.py loop: contract.events.DepositEvent.get_logs() per range.

Every run must end with the same number of deposits, so a fast wrong answer cannot pass
for speed. Targets: (a) <= 1.3 x (b), and (a) at least 5x faster than (c).

    .venv/bin/python bench/bench_el_catchup.py [--events 20000] [--per-tx 500]
        [--gap 100] [--max-range 200] [--repeat 3]

The defaults make ~4,100 blocks scanned in 21 ranges of about 1,000 deposits each
(anvil slows down as it mines, so many more empty blocks would take minutes to build);
the watcher then has consecutive ranges to overlap, as in a real catch-up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the anvil and store helpers of the test suite

from eth_utils.crypto import keccak  # noqa: E402
from tests.support.anvil import ACCOUNTS, Anvil  # noqa: E402
from tests.support.el_chain import migrated_engine, wait_receipt  # noqa: E402
from tests.support.store import (  # noqa: E402
    create_database,
    database_url,
    drop_database,
    postgres_problem,
)
from web3 import Web3  # noqa: E402

from seat_manager.adapters.chain.rpc import RpcClient  # noqa: E402
from seat_manager.adapters.db.uow import UnitOfWorkFactory  # noqa: E402
from seat_manager.workers.el_watcher import ElDepositWatcher  # noqa: E402

SOURCE = ROOT / "bench" / "BenchDepositEmitter.sol"
COMPILER = ROOT / "bench" / "solc_compile.mjs"
TARGET_FLOOR_RATIO = 1.3
TARGET_WEB3_SPEEDUP = 5.0


@dataclass(frozen=True)
class Chain:
    anvil: Anvil
    address: str
    abi: list[Any]
    first: int
    last: int
    events: int

    def ranges(self, size: int) -> list[tuple[int, int]]:
        return [
            (start, min(start + size - 1, self.last))
            for start in range(self.first, self.last + 1, size)
        ]


def compile_emitter() -> tuple[list[Any], str]:
    node = shutil.which("node")
    if node is None:
        raise SystemExit("node is not on PATH; the bench compiles its contract with npm solc")
    out = subprocess.run(
        [node, str(COMPILER), str(SOURCE)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"compiling {SOURCE.name} failed:\n{out.stderr}")
    artifact = json.loads(out.stdout)["BenchDepositEmitter"]
    return artifact["abi"], artifact["bytecode"]


def send(anvil: Anvil, tx: dict[str, Any]) -> Any:
    receipt = wait_receipt(anvil, str(anvil.rpc("eth_sendTransaction", [tx])), timeout=120)
    if receipt["status"] != "0x1":
        raise SystemExit(f"bench transaction reverted: {receipt['transactionHash']}")
    return receipt


def build_chain(events: int, per_tx: int, gap: int) -> Chain:
    abi, bytecode = compile_emitter()
    # Keep every historical state: the watcher proves each range with get_deposit_count()
    # at its last block, as an archive node allows (anvil drops old states by default).
    anvil = Anvil.start(
        extra_args=["--gas-limit", "300000000", "--max-persisted-states", "1000000"]
    )
    sender = ACCOUNTS[0]
    deployed = send(anvil, {"from": sender, "data": bytecode, "gas": hex(3_000_000)})
    address = Web3.to_checksum_address(deployed["contractAddress"])
    selector = keccak(text="emitDeposits(uint256,bytes32)")[:4]
    first = int(deployed["blockNumber"], 16) + 1
    made = 0
    while made < events:
        n = min(per_tx, events - made)
        anvil.rpc("anvil_mine", [hex(gap)])
        data = selector + n.to_bytes(32, "big") + keccak(made.to_bytes(32, "big"))
        send(
            anvil,
            {
                "from": sender,
                "to": address,
                "data": "0x" + data.hex(),
                "gas": hex(n * 12_000 + 200_000),
            },
        )
        made += n
    anvil.rpc("anvil_mine", [hex(gap)])
    last = int(anvil.rpc("eth_blockNumber"), 16)
    return Chain(anvil, address, abi, first, last, made)


# ---- the three contenders ------------------------------------------------------------------


async def raw_fetch(chain: Chain, size: int) -> tuple[float, int]:
    """Seconds for eth_getLogs over the watcher's ranges, one request in flight at a time
    like the watcher's reader, through the same RpcClient (same httpx settings, JSON
    parsed); the client is built before the clock starts, as in ``watcher_catch_up``."""
    topic = "0x" + keccak(text="DepositEvent(bytes,bytes,bytes,bytes,bytes)").hex()
    count = 0
    async with RpcClient(chain.anvil.url) as rpc:
        started = time.perf_counter()
        for first, last in chain.ranges(size):
            logs = await rpc.raw_logs(
                {
                    "address": chain.address,
                    "fromBlock": hex(first),
                    "toBlock": hex(last),
                    "topics": [topic],
                }
            )
            count += len(logs)
        return time.perf_counter() - started, count


async def watcher_catch_up(chain: Chain, size: int, env: dict[str, str]) -> tuple[float, int]:
    """Seconds to catch up from scratch on a fresh, migrated store (setup not timed)."""
    engine = await migrated_engine(env)
    uows = UnitOfWorkFactory(engine)
    try:
        async with RpcClient(chain.anvil.url) as rpc:
            watcher = ElDepositWatcher(
                rpc,
                uows,
                chain.address,
                start_block=chain.first,
                confirmations=0,
                max_range=size,
                max_ranges_per_cycle=10**6,
            )
            started = time.perf_counter()
            result = await watcher.run_cycle(datetime.now(UTC))
            ranges = result.ranges
            while not result.caught_up:
                result = await watcher.run_cycle(datetime.now(UTC))
                ranges += result.ranges
            seconds = time.perf_counter() - started
        if ranges != len(chain.ranges(size)):  # the floor must be the same ranges
            raise SystemExit(f"watcher read {ranges} ranges, the floor {len(chain.ranges(size))}")
        async with uows() as uow:
            return seconds, await uow.deposits.count()
    finally:
        await engine.dispose()


def web3_loop(chain: Chain, size: int) -> int:
    w3 = Web3(Web3.HTTPProvider(chain.anvil.url, request_kwargs={"timeout": 120}))
    event = w3.eth.contract(address=chain.address, abi=chain.abi).events.DepositEvent
    count = 0
    for first, last in chain.ranges(size):
        count += len(event.get_logs(from_block=first, to_block=last))
    return count


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    started = time.perf_counter()
    count = fn()
    return time.perf_counter() - started, count


def check(name: str, count: int, chain: Chain) -> None:
    if count != chain.events:
        raise SystemExit(f"{name} found {count} deposits, expected {chain.events}: invalid run")


def stores(tmp: Path, run: int) -> list[tuple[str, dict[str, str], Callable[[], None]]]:
    chosen = [
        (
            "sqlite",
            {
                "ONBOARDING_STORE_DRIVER": "sqlite",
                "ONBOARDING_SQLITE_PATH": str(tmp / f"bench-{run}.sqlite3"),
            },
            lambda: None,
        )
    ]
    if postgres_problem() is None:
        name = create_database()
        chosen.append(
            (
                "postgres",
                {
                    "ONBOARDING_STORE_DRIVER": "postgres",
                    "ONBOARDING_POSTGRES_URL": database_url(name),
                },
                lambda: drop_database(name),
            )
        )
    return chosen


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--per-tx", type=int, default=500, help="DepositEvents per tx")
    parser.add_argument("--gap", type=int, default=100, help="empty blocks between txs")
    parser.add_argument("--max-range", type=int, default=200, help="blocks per eth_getLogs")
    parser.add_argument("--repeat", type=int, default=3, help="best of N for each contender")
    args = parser.parse_args(argv)

    print(f"python {platform.python_version()} on {platform.machine()}; building the chain...")
    started = time.perf_counter()
    chain = build_chain(args.events, args.per_tx, args.gap)
    try:
        blocks = chain.last - chain.first + 1
        ranges = len(chain.ranges(args.max_range))
        print(
            f"{chain.events} DepositEvents over {blocks} blocks ({ranges} ranges of"
            f" {args.max_range}) built in {time.perf_counter() - started:.1f} s"
        )
        best: dict[str, float] = {}
        with tempfile.TemporaryDirectory(prefix="bench-el-") as tmp:
            for run in range(args.repeat):
                seconds, count = asyncio.run(raw_fetch(chain, args.max_range))
                check("raw fetch", count, chain)
                best["raw"] = min(best.get("raw", seconds), seconds)
                for driver, env, cleanup in stores(Path(tmp), run):
                    try:
                        seconds, count = asyncio.run(watcher_catch_up(chain, args.max_range, env))
                    finally:
                        cleanup()
                    check(f"watcher ({driver})", count, chain)
                    best[driver] = min(best.get(driver, seconds), seconds)
                if run == 0:  # slow: once is enough to make the point
                    seconds, count = timed(lambda: web3_loop(chain, args.max_range))
                    check("web3.py", count, chain)
                    best["web3"] = seconds
    finally:
        chain.anvil.stop()

    raw = best["raw"]
    print(
        f"measured: best of {args.repeat}; every contender reads the same {ranges} ranges of"
        f" {args.max_range} blocks from the same anvil, one request in flight at a time;"
        " (a) and (b) go through the same RpcClient (httpx), built before the clock starts;"
        " (a) includes cursor checks, deposit counts, headers, decoding and every commit"
    )
    print(f"(b) raw eth_getLogs fetch (floor):   {raw:7.3f} s")
    print(f"(c) web3.py events.get_logs() loop:  {best['web3']:7.3f} s")
    ok = True
    for driver in ("sqlite", "postgres"):
        if driver not in best:
            print(f"(a) watcher catch-up ({driver}):     skipped (no server)")
            continue
        ours = best[driver]
        floor_ratio, speedup = ours / raw, best["web3"] / ours
        passed = floor_ratio <= TARGET_FLOOR_RATIO and speedup >= TARGET_WEB3_SPEEDUP
        ok = ok and passed
        print(
            f"(a) watcher catch-up ({driver}):{' ' * (10 - len(driver))}{ours:7.3f} s"
            f"   = {floor_ratio:.2f} x floor (target <= {TARGET_FLOOR_RATIO}),"
            f" {speedup:.1f} x faster than web3.py (target >= {TARGET_WEB3_SPEEDUP:.0f})"
            f"   {'OK' if passed else 'MISSED'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
