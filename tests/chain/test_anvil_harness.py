"""The anvil harness itself: loud when anvil is missing, leaves no node behind."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support import anvil as harness


def test_missing_anvil_fails_loudly_telling_to_run_make_setup(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(harness, "ANVIL_SHIM", tmp_path / "node_modules" / ".bin" / "anvil")
    with pytest.raises(harness.AnvilMissing, match="make setup"):
        harness.Anvil.start()


@pytest.mark.anvil
def test_stopped_node_is_gone_and_its_port_closed() -> None:
    node = harness.Anvil.start()
    assert node.rpc("eth_chainId") == hex(harness.CHAIN_ID)
    node.stop()
    assert node.process.poll() is not None
    with pytest.raises(httpx.TransportError):
        httpx.post(node.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}, timeout=2)
