"""The anvil harness itself: loud when anvil is missing, leaves no node behind."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from seat_manager.devnet import anvil as devnet_anvil
from tests.support import anvil as harness


def test_missing_anvil_fails_loudly_telling_to_run_make_setup(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(devnet_anvil, "REPO_ROOT", tmp_path)  # no node_modules there
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
