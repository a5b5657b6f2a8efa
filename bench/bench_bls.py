"""BLS deposit-signature verifications per second: the native wrapper vs py_ecc.

Both verify the same real deposit signatures (../shared/testdata/deposit-data) over the
signing roots recomputed by `seat_manager.domain.ssz`; every result must be True, so a
fast wrong answer cannot pass for speed. The target is the native library at least
100x py_ecc.

    .venv/bin/python bench/bench_bls.py [--seconds 3] [--py-ecc-passes 1]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path

from py_ecc.bls import G2ProofOfPossession as py_ecc_bls

from seat_manager.domain import bls, ssz

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "testdata" / "deposit-data"
TARGET_RATIO = 100

Case = tuple[bytes, bytes, bytes]
Verify = Callable[[bytes, bytes, bytes], bool]


def load_cases() -> list[Case]:
    """(pubkey, signing root, signature) of every real entry, each with its file's fork."""
    if not DATA_DIR.is_dir():
        raise SystemExit(f"real deposit data is missing: expected the folder {DATA_DIR}")
    cases = []
    for path in sorted(DATA_DIR.glob("*.json")):
        for entry in json.loads(path.read_text()):
            pubkey = bytes.fromhex(entry["pubkey"])
            message_root = ssz.deposit_message_root(
                pubkey, bytes.fromhex(entry["withdrawal_credentials"]), entry["amount"]
            )
            signing_root = ssz.deposit_signing_root(
                message_root, bytes.fromhex(entry["fork_version"])
            )
            cases.append((pubkey, signing_root, bytes.fromhex(entry["signature"])))
    return cases


def measure(verify: Verify, cases: list[Case], min_seconds: float, min_passes: int) -> float:
    """Verifications per second over whole passes of `cases`, at least `min_passes`."""
    count, passes = 0, 0
    start = time.perf_counter()
    while passes < min_passes or time.perf_counter() - start < min_seconds:
        for pubkey, message, signature in cases:
            if not verify(pubkey, message, signature):
                raise SystemExit("a real deposit signature did not verify: results are invalid")
            count += 1
        passes += 1
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="minimum native run time")
    parser.add_argument("--py-ecc-passes", type=int, default=1, help="passes over the entries")
    args = parser.parse_args()

    cases = load_cases()
    measure(bls.verify, cases, 0, 1)
    native = measure(bls.verify, cases, args.seconds, 1)
    reference = measure(py_ecc_bls.Verify, cases, 0, args.py_ecc_passes)
    ratio = native / reference

    print(f"python {platform.python_version()} on {platform.machine()}, {len(cases)} real entries")
    for name, rate in (
        ("native (py-arkworks-bls12381)", native),
        ("py_ecc (reference)", reference),
    ):
        print(f"{name:30} {rate:10.2f} verifications/s ({1e3 / rate:8.2f} ms each)")
    verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
    print(f"ratio: {ratio:.0f}x (target >= {TARGET_RATIO}x: {verdict})")


if __name__ == "__main__":
    main()
