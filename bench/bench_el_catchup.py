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

For each best run the CPU seconds of this process, anvil and the PostgreSQL server are
printed too, with the wall time they imply at best on this machine's cores: on a small
machine the node, the store and the watcher share the cores, and that bound shows how
much of a ratio is the work itself rather than waiting.

    .venv/bin/python bench/bench_el_catchup.py [--events 20000] [--per-tx 500]
        [--gap 100] [--max-range 200] [--repeat 3] [--node-delay-ms 0]

The defaults make ~4,100 blocks scanned in 21 ranges of about 1,000 deposits each
(anvil slows down as it mines, so many more empty blocks would take minutes to build);
the watcher then has consecutive ranges to overlap, as in a real catch-up.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the anvil and store helpers of the test suite

import httpx  # noqa: E402
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
from seat_manager.workers.el_watcher import IN_FLIGHT, ElDepositWatcher  # noqa: E402

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
    url: str
    """Where the contenders send their requests: anvil, or a delaying proxy before it."""

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
    return Chain(anvil, address, abi, first, last, made, anvil.url)


# ---- a distant node ---------------------------------------------------------------------------


class DelayProxy:
    """Passes bytes between the contenders and anvil unchanged, holding each request
    ``delay`` seconds before it goes on: the round trip to a node that is not on this
    machine. Runs its own event loop in a thread (its CPU counts as the bench process's)."""

    def __init__(self, upstream: str, delay: float) -> None:
        self._upstream = httpx.URL(upstream)
        self._delay = delay
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.url = ""

    def __enter__(self) -> DelayProxy:
        self._thread.start()
        self._started.wait(10)
        return self

    def __exit__(self, *exc_info: object) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", 0)
        )
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        self._started.set()
        self._loop.run_forever()

    async def _close(self) -> None:
        self._server.close()
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _serve(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        node_in, node_out = await asyncio.open_connection(self._upstream.host, self._upstream.port)
        # Cancelled at shutdown: end quietly (asyncio's stream callback would log it).
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(self._requests(client_in, node_out), _pipe(node_in, client_out))

    async def _requests(self, source: asyncio.StreamReader, node: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await source.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = await source.readexactly(length)
                await asyncio.sleep(self._delay)
                node.write(head + body)
                await node.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            node.close()


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(1 << 20):
            sink.write(data)
            await sink.drain()
    except ConnectionError:
        pass
    finally:
        sink.close()


# ---- CPU accounting (Linux /proc): where the cores went during a timed run -------------------


def _ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def _postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if (entry / "comm").read_text().startswith("postgres"):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


@dataclass
class Meter:
    """Wall seconds of a run and the CPU seconds spent meanwhile by this process (every
    thread), by anvil and by the local PostgreSQL server (all its processes)."""

    anvil_pid: int
    wall: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)

    def __enter__(self) -> Meter:
        self._pg = _postgres_pids()
        self._start = (
            time.perf_counter(),
            time.process_time(),
            _ticks(self.anvil_pid),
            sum(_ticks(pid) for pid in self._pg),
        )
        return self

    def __exit__(self, *exc_info: object) -> None:
        wall, own, anvil, pg = self._start
        tick = os.sysconf("SC_CLK_TCK")
        self.wall = time.perf_counter() - wall
        self.cpu = {
            "bench process": time.process_time() - own,
            "anvil": (_ticks(self.anvil_pid) - anvil) / tick,
            "postgres": (sum(_ticks(pid) for pid in self._pg) - pg) / tick,
        }

    @property
    def cpu_total(self) -> float:
        return sum(self.cpu.values())


# ---- the three contenders ------------------------------------------------------------------


async def raw_fetch(chain: Chain, size: int) -> tuple[Meter, int]:
    """eth_getLogs over the watcher's ranges, one request at a time (a plain loop),
    through the same RpcClient (same httpx settings, JSON parsed); the client is built
    before the clock starts, as in ``watcher_catch_up``."""
    topic = "0x" + keccak(text="DepositEvent(bytes,bytes,bytes,bytes,bytes)").hex()
    count = 0
    async with RpcClient(chain.url) as rpc:
        with Meter(chain.anvil.process.pid) as meter:
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
        return meter, count


async def watcher_catch_up(chain: Chain, size: int, env: dict[str, str]) -> tuple[Meter, int]:
    """Seconds to catch up from scratch on a fresh, migrated store (setup not timed)."""
    engine = await migrated_engine(env)
    uows = UnitOfWorkFactory(engine)
    try:
        async with RpcClient(chain.url) as rpc:
            watcher = ElDepositWatcher(
                rpc,
                uows,
                chain.address,
                start_block=chain.first,
                confirmations=0,
                max_range=size,
                max_ranges_per_cycle=10**6,
            )
            with Meter(chain.anvil.process.pid) as meter:
                result = await watcher.run_cycle(datetime.now(UTC))
                ranges = result.ranges
                while not result.caught_up:
                    result = await watcher.run_cycle(datetime.now(UTC))
                    ranges += result.ranges
        if ranges != len(chain.ranges(size)):  # the floor must be the same ranges
            raise SystemExit(f"watcher read {ranges} ranges, the floor {len(chain.ranges(size))}")
        async with uows() as uow:
            return meter, await uow.deposits.count()
    finally:
        await engine.dispose()


def web3_loop(chain: Chain, size: int) -> int:
    w3 = Web3(Web3.HTTPProvider(chain.url, request_kwargs={"timeout": 120}))
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
    parser.add_argument(
        "--node-delay-ms",
        type=float,
        default=0.0,
        help="hold every request this long on its way to anvil (a node across a network)",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.events < 1:
        parser.error("--repeat and --events must be at least 1")

    print(f"python {platform.python_version()} on {platform.machine()}; building the chain...")
    started = time.perf_counter()
    chain = build_chain(args.events, args.per_tx, args.gap)
    distance = contextlib.ExitStack()
    try:
        if args.node_delay_ms > 0:
            proxy = distance.enter_context(DelayProxy(chain.url, args.node_delay_ms / 1000))
            chain = replace(chain, url=proxy.url)
        blocks = chain.last - chain.first + 1
        ranges = len(chain.ranges(args.max_range))
        print(
            f"{chain.events} DepositEvents over {blocks} blocks ({ranges} ranges of"
            f" {args.max_range}) built in {time.perf_counter() - started:.1f} s"
        )
        best: dict[str, Meter] = {}

        def keep(name: str, meter: Meter) -> None:
            if name not in best or meter.wall < best[name].wall:
                best[name] = meter

        with tempfile.TemporaryDirectory(prefix="bench-el-") as tmp:
            for run in range(args.repeat):
                meter, count = asyncio.run(raw_fetch(chain, args.max_range))
                check("raw fetch", count, chain)
                keep("raw", meter)
                for driver, env, cleanup in stores(Path(tmp), run):
                    try:
                        meter, count = asyncio.run(watcher_catch_up(chain, args.max_range, env))
                    finally:
                        cleanup()
                    check(f"watcher ({driver})", count, chain)
                    keep(driver, meter)
                if run == 0:  # slow: once is enough to make the point
                    seconds, count = timed(lambda: web3_loop(chain, args.max_range))
                    check("web3.py", count, chain)
                    web3_seconds = seconds
    finally:
        distance.close()
        chain.anvil.stop()
    return report(best, web3_seconds, ranges, args)


def report(best: dict[str, Meter], web3: float, ranges: int, args: argparse.Namespace) -> int:
    raw = best["raw"].wall
    cores = os.cpu_count() or 1
    print(
        f"measured: best of {args.repeat}; every contender reads the same {ranges} ranges of"
        f" {args.max_range} blocks from the same anvil; (b) and (c) one request at a time,"
        f" (a) keeps {IN_FLIGHT} in flight; (a) and (b) go through the same RpcClient (httpx),"
        " built before the clock starts; (a) includes cursor checks, deposit counts,"
        " headers, decoding and every commit"
    )
    if args.node_delay_ms > 0:
        print(
            f"every request held {args.node_delay_ms:g} ms on its way to anvil (a distant"
            " node); the bench process's CPU below includes the proxy doing it"
        )
    print(f"(b) raw eth_getLogs fetch (floor):   {raw:7.3f} s")
    print(f"(c) web3.py events.get_logs() loop:  {web3:7.3f} s")
    ok = True
    for driver in ("sqlite", "postgres"):
        if driver not in best:
            print(f"(a) watcher catch-up ({driver}):     skipped (no server)")
            continue
        ours = best[driver].wall
        floor_ratio, speedup = ours / raw, web3 / ours
        passed = floor_ratio <= TARGET_FLOOR_RATIO and speedup >= TARGET_WEB3_SPEEDUP
        ok = ok and passed
        print(
            f"(a) watcher catch-up ({driver}):{' ' * (10 - len(driver))}{ours:7.3f} s"
            f"   = {floor_ratio:.2f} x floor (target <= {TARGET_FLOOR_RATIO}),"
            f" {speedup:.1f} x faster than web3.py (target >= {TARGET_WEB3_SPEEDUP:.0f})"
            f"   {'OK' if passed else 'MISSED'}"
        )
    print(
        f"CPU seconds during each best run ({cores} cores here; a run cannot take less wall"
        " time than its CPU total divided by the cores, so the lower bound below is what"
        " perfect overlap of node, store and watcher would give):"
    )
    labels = {"raw": "(b) floor", "sqlite": "(a) sqlite", "postgres": "(a) postgres"}
    for name, label in labels.items():
        if name not in best:
            continue
        meter = best[name]
        parts = ", ".join(f"{part} {seconds:.3f}" for part, seconds in meter.cpu.items())
        bound = meter.cpu_total / cores
        print(
            f"  {label:13s} wall {meter.wall:.3f}: {parts}; total {meter.cpu_total:.3f}"
            f" -> lower bound {bound:.3f} s = {bound / raw:.2f} x floor"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
