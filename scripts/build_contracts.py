"""Build the Solidity contracts into contracts/out (what `make contracts` runs).

The compiler is the pinned npm `solc` in node_modules, driven by
scripts/build_contracts.mjs; this wrapper only finds node, forwards the arguments
(`--check`, `--out DIR`) and turns a missing tool chain into a clear message.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "build_contracts.mjs"


def main(argv: list[str]) -> int:
    node = shutil.which("node")
    if node is None:
        print("build_contracts: node is not on PATH; install Node.js 20+", file=sys.stderr)
        return 2
    if not (ROOT / "node_modules" / "solc").is_dir():
        print("build_contracts: node_modules/solc is missing; run `make setup`", file=sys.stderr)
        return 2
    return subprocess.run([node, str(SCRIPT), *argv], cwd=ROOT, check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
