"""Exit 0 when a PostgreSQL server answers at the URL given, else print why and exit 1."""

import asyncio
import sys

import asyncpg


async def _probe(url: str) -> None:
    conn = await asyncpg.connect(url, timeout=5)
    await conn.close()


def main() -> int:
    url = sys.argv[1]
    try:
        asyncio.run(_probe(url))
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        safe = url.split("@")[-1]
        reason = f"{type(exc).__name__}: {exc}"
        print(f"PostgreSQL at {safe} is not reachable: {reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
