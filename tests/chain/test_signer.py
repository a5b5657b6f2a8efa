"""LocalSigner never shows the owner key: repr, str, errors, pickling, copies."""

from __future__ import annotations

import copy
import pickle

import pytest
from eth_account import Account

from seat_manager.adapters.chain.errors import SignerError
from seat_manager.adapters.chain.signer import LocalSigner
from seat_manager.config import load_settings
from seat_manager.domain.errors import ConfigurationError

KEY = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
ADDRESS = Account.from_key(KEY).address
SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _leaks(text: str, key: str = KEY) -> bool:
    bare = key.removeprefix("0x").lower()
    return bare in text.lower() or bare[:16] in text.lower()


def test_repr_and_str_show_the_address_only() -> None:
    signer = LocalSigner(KEY)
    assert repr(signer) == str(signer) == f"LocalSigner(address={ADDRESS})"
    assert not _leaks(f"{signer} {signer!r} {[signer]} {dict(s=signer)}")


@pytest.mark.parametrize(
    "bad_key",
    [
        KEY[:-2],
        KEY + "00",
        "0x" + "00" * 32,
        hex(SECP256K1_ORDER),
        KEY[:-1] + "g",
    ],
)
def test_invalid_key_error_names_the_variable_not_the_value(bad_key: str) -> None:
    with pytest.raises(SignerError) as info:
        LocalSigner(bad_key)
    assert "SEAT_MANAGER_OWNER_PRIVATE_KEY" in info.value.message
    shown = f"{info.value} {info.value!r} {info.value.data}"
    assert not _leaks(shown, bad_key)
    assert info.value.__cause__ is None and info.value.__context__ is None


def test_signing_error_does_not_show_the_key() -> None:
    with pytest.raises(SignerError) as info:
        LocalSigner(KEY).sign_transaction({"to": ADDRESS, "value": 1})
    assert "could not sign transaction" in info.value.message
    assert not _leaks(f"{info.value} {info.value!r}")


def test_pickling_is_refused_without_showing_the_key() -> None:
    signer = LocalSigner(KEY)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError) as info:
            pickle.dumps(signer, protocol=protocol)
        assert not _leaks(str(info.value))


def test_copies_are_the_same_object_and_attributes_are_frozen() -> None:
    signer = LocalSigner(KEY)
    assert copy.copy(signer) is signer
    assert copy.deepcopy({"s": signer})["s"] is signer
    with pytest.raises(AttributeError):
        signer.address = "0x" + "00" * 20  # type: ignore[misc]
    with pytest.raises(TypeError):
        vars(signer)


def test_signed_transaction_recovers_to_the_signer_address() -> None:
    signer = LocalSigner(KEY)
    signed = signer.sign_transaction(
        {
            "type": 2,
            "chainId": 31337,
            "nonce": 0,
            "to": ADDRESS,
            "value": 1,
            "gas": 21_000,
            "maxFeePerGas": 2 * 10**9,
            "maxPriorityFeePerGas": 10**9,
        }
    )
    assert Account.recover_transaction(signed.raw) == ADDRESS
    assert len(signed.tx_hash) == 66


def test_from_settings_reads_the_secret_and_refuses_when_unset() -> None:
    settings = load_settings({"SEAT_MANAGER_OWNER_PRIVATE_KEY": KEY}, env_file=None)
    assert LocalSigner.from_settings(settings).address == ADDRESS
    with pytest.raises(ConfigurationError) as info:
        LocalSigner.from_settings(load_settings({}, env_file=None))
    assert "SEAT_MANAGER_OWNER_PRIVATE_KEY" in info.value.message
