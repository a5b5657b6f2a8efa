from __future__ import annotations

import pytest

from seat_manager.domain.chains import KNOWN_CHAINS, genesis_fork_version, parse_fork_version
from seat_manager.domain.errors import ConfigurationError


@pytest.mark.parametrize(
    ("chain_id", "expected"),
    [
        pytest.param(1, "00000000", id="mainnet"),
        pytest.param(11155111, "90000069", id="sepolia"),
        pytest.param(17000, "01017000", id="holesky"),
        pytest.param(560048, "10000910", id="hoodi"),
    ],
)
def test_known_chain_without_configuration_uses_its_published_fork_version(
    chain_id: int, expected: str
) -> None:
    assert genesis_fork_version(chain_id, None) == bytes.fromhex(expected)


def test_known_chains_are_exactly_the_four_public_networks() -> None:
    assert {chain.name for chain in KNOWN_CHAINS.values()} == {
        "mainnet",
        "sepolia",
        "holesky",
        "hoodi",
    }


@pytest.mark.parametrize("configured", ["10000910", "0x10000910"])
def test_known_chain_accepts_an_agreeing_configured_fork_version(configured: str) -> None:
    assert genesis_fork_version(560048, configured) == bytes.fromhex("10000910")


def test_known_chain_with_a_contradicting_configured_version_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="contradicts.*hoodi"):
        genesis_fork_version(560048, "90000069")


@pytest.mark.parametrize("configured", ["2000008a", "0x2000008A"])
def test_unknown_chain_uses_the_configured_fork_version(configured: str) -> None:
    assert genesis_fork_version(31337, configured) == bytes.fromhex("2000008a")


def test_unknown_chain_without_configuration_names_the_variable_to_set() -> None:
    with pytest.raises(ConfigurationError, match="SEAT_MANAGER_GENESIS_FORK_VERSION") as info:
        genesis_fork_version(31337, None)
    assert "31337" in info.value.message
    assert info.value.code == "CONFIGURATION_ERROR"


@pytest.mark.parametrize(
    "value", ["", "0x", "1000091", "100009100", "1000091g", " 10000910", "0X10000910"]
)
def test_malformed_fork_version_is_refused(value: str) -> None:
    with pytest.raises(ConfigurationError, match="4 bytes of hex"):
        parse_fork_version(value)


def test_malformed_fork_version_message_does_not_echo_the_value() -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_fork_version("deadbeefcafe")
    assert "deadbeef" not in info.value.message
