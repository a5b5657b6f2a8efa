"""Fixtures of the chain tier: one anvil per session, the contracts deployed once.

`deployed` hands each test the session's contracts inside an evm snapshot that is
reverted afterwards, so tests can mutate the chain (and move its clock) without
seeing each other's effects.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.anvil import Anvil, Deployed, deploy_all


@pytest.fixture(scope="session")
def anvil() -> Iterator[Anvil]:
    node = Anvil.start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="session")
def session_deployment(anvil: Anvil) -> Deployed:
    return deploy_all(anvil.w3)


@pytest.fixture
def deployed(anvil: Anvil, session_deployment: Deployed) -> Iterator[Deployed]:
    snapshot = anvil.snapshot()
    try:
        yield session_deployment
    finally:
        anvil.revert(snapshot)
