"""Deposit-data checks on real files from public staking tools, and on tampered copies."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from py_ecc.bls import G2ProofOfPossession as reference

from seat_manager.domain import deposits, ssz
from seat_manager.domain.chains import KNOWN_CHAINS
from seat_manager.domain.deposits import DepositData, parse_deposit_data, verify_deposit_data
from seat_manager.domain.errors import DepositDataInvalid
from seat_manager.domain.vaults import predict_vault_address, withdrawal_credentials

DATA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "deposit-data"
if not DATA_DIR.is_dir():
    raise RuntimeError(f"real deposit data is missing: expected the folder {DATA_DIR}")

FORK_BY_NETWORK = {chain.name: chain.genesis_fork_version for chain in KNOWN_CHAINS.values()}
HOODI = FORK_BY_NETWORK["hoodi"]
SEPOLIA = FORK_BY_NETWORK["sepolia"]
DEVNET = bytes.fromhex("20000089")
HEX_FIELDS = (
    "pubkey",
    "withdrawal_credentials",
    "signature",
    "deposit_message_root",
    "deposit_data_root",
    "fork_version",
)
REQUIRED_FIELDS = (*HEX_FIELDS, "amount")


def _real_entries() -> list[tuple[str, dict[str, Any]]]:
    entries = []
    for path in sorted(DATA_DIR.glob("*.json")):
        for index, entry in enumerate(json.loads(path.read_text())):
            entries.append((f"{path.stem}[{index}]", entry))
    return entries


ENTRIES = _real_entries()
ENTRY_IDS = [label for label, _ in ENTRIES]
BASE = next(
    e for label, e in ENTRIES if label.startswith("withdrawal_credentials_execution__hoodi")
)
BASE_CREDENTIALS = bytes.fromhex(BASE["withdrawal_credentials"])
OTHER_HOODI = next(e for _, e in ENTRIES if e["network_name"] == "hoodi" and e is not BASE)
SEPOLIA_ENTRIES = [e for _, e in ENTRIES if e["network_name"] == "sepolia"]

VAULT = predict_vault_address(
    "0x5FbDB2315678afecb367f032d93F642f64180aa3", "seat-0001", "0x" + "ab" * 32
)
VAULT_CREDENTIALS = withdrawal_credentials(VAULT)


def _verify(
    entry: object,
    credentials: bytes = BASE_CREDENTIALS,
    fork: bytes = HOODI,
    **options: Any,
) -> DepositData:
    return verify_deposit_data(
        entry,
        expected_withdrawal_credentials=credentials,
        genesis_fork_version=fork,
        **options,
    )


def _failure(entry: object, **kwargs: Any) -> DepositDataInvalid:
    with pytest.raises(DepositDataInvalid) as info:
        _verify(entry, **kwargs)
    return info.value


def _with(**changes: object) -> dict[str, object]:
    return {**BASE, **changes}


def _flip_hex(value: str, index: int, mask: int = 0x01) -> str:
    raw = bytearray.fromhex(value.removeprefix("0x"))
    raw[index] ^= mask
    return raw.hex()


@cache
def _signed_entry(credentials: bytes, fork_version: bytes, amount: int = 32 * 10**9) -> dict:
    """A deposit signed here by py_ecc with a throwaway key, for cases no real file has."""
    secret_key = 0x1234_5678_9ABC_DEF0
    pubkey = reference.SkToPk(secret_key)
    message_root = ssz.deposit_message_root(pubkey, credentials, amount)
    signature = reference.Sign(secret_key, ssz.deposit_signing_root(message_root, fork_version))
    return {
        "pubkey": pubkey.hex(),
        "withdrawal_credentials": credentials.hex(),
        "amount": amount,
        "signature": signature.hex(),
        "deposit_message_root": message_root.hex(),
        "deposit_data_root": ssz.deposit_data_root(pubkey, credentials, amount, signature).hex(),
        "fork_version": fork_version.hex(),
        "network_name": "devnet",
    }


# ---- real files verify ------------------------------------------------------------------


def test_real_data_covers_mainnet_sepolia_and_hoodi() -> None:
    assert {entry["network_name"] for _, entry in ENTRIES} == {"mainnet", "sepolia", "hoodi"}
    assert len(ENTRIES) >= 10


@pytest.mark.parametrize("entry", [e for _, e in ENTRIES], ids=ENTRY_IDS)
def test_real_entry_verifies_with_its_credentials_and_its_networks_fork_version(
    entry: dict[str, Any],
) -> None:
    deposit = _verify(
        entry,
        credentials=bytes.fromhex(entry["withdrawal_credentials"]),
        fork=FORK_BY_NETWORK[entry["network_name"]],
    )
    assert deposit.pubkey.hex() == entry["pubkey"]
    assert deposit.signature.hex() == entry["signature"]
    assert deposit.amount == 32 * 10**9
    assert deposit.computed_data_root.hex() == entry["deposit_data_root"]


@pytest.mark.parametrize("entry", [e for _, e in ENTRIES], ids=ENTRY_IDS)
def test_real_entry_fails_the_seat_vault_check_with_the_credentials_reason(
    entry: dict[str, Any],
) -> None:
    error = _failure(
        entry, credentials=VAULT_CREDENTIALS, fork=FORK_BY_NETWORK[entry["network_name"]]
    )
    assert error.code == "DEPOSIT_WITHDRAWAL_CREDENTIALS_MISMATCH"
    assert "0x" + VAULT_CREDENTIALS.hex() in error.message


def test_parsed_entry_keeps_every_field_of_the_file() -> None:
    deposit = parse_deposit_data(BASE)
    assert deposit == DepositData(
        pubkey=bytes.fromhex(BASE["pubkey"]),
        withdrawal_credentials=BASE_CREDENTIALS,
        amount=BASE["amount"],
        signature=bytes.fromhex(BASE["signature"]),
        deposit_message_root=bytes.fromhex(BASE["deposit_message_root"]),
        deposit_data_root=bytes.fromhex(BASE["deposit_data_root"]),
        fork_version=HOODI,
        network_name="hoodi",
    )


def test_0x_prefixed_uppercase_hex_verifies_like_plain_hex() -> None:
    entry = _with(**{name: "0x" + BASE[name].upper() for name in HEX_FIELDS})
    assert _verify(entry) == _verify(BASE)


def test_entry_without_network_name_still_verifies() -> None:
    entry = {key: value for key, value in BASE.items() if key != "network_name"}
    assert _verify(entry).network_name is None


# ---- one byte changed: the matching reason -------------------------------------------


def test_signature_sign_bit_flipped_fails_with_signature_invalid() -> None:
    error = _failure(_with(signature=_flip_hex(BASE["signature"], 0, 0x20)))
    assert error.code == "DEPOSIT_SIGNATURE_INVALID"
    assert "10000910" in error.message


def test_signature_of_another_validator_fails_with_signature_invalid() -> None:
    assert _failure(_with(signature=OTHER_HOODI["signature"])).code == "DEPOSIT_SIGNATURE_INVALID"


def test_signature_at_infinity_fails_with_signature_invalid() -> None:
    error = _failure(_with(signature="c0" + "00" * 95))
    assert error.code == "DEPOSIT_SIGNATURE_INVALID"


@pytest.mark.parametrize("index", [1, 24, 47, 48, 70, 95])
def test_flipped_signature_byte_fails_with_a_signature_reason_not_the_data_root(
    index: int,
) -> None:
    error = _failure(_with(signature=_flip_hex(BASE["signature"], index)))
    assert error.code in {"DEPOSIT_SIGNATURE_MALFORMED", "DEPOSIT_SIGNATURE_INVALID"}


@pytest.mark.parametrize("index", [0, 17, 31])
def test_flipped_deposit_data_root_byte_fails_with_data_root_mismatch(index: int) -> None:
    error = _failure(_with(deposit_data_root=_flip_hex(BASE["deposit_data_root"], index)))
    assert error.code == "DEPOSIT_DATA_ROOT_MISMATCH"
    assert error.data["expected"] == "0x" + BASE["deposit_data_root"]


@pytest.mark.parametrize("index", [0, 17, 31])
def test_flipped_deposit_message_root_byte_fails_with_message_root_mismatch(index: int) -> None:
    error = _failure(_with(deposit_message_root=_flip_hex(BASE["deposit_message_root"], index)))
    assert error.code == "DEPOSIT_MESSAGE_ROOT_MISMATCH"
    assert error.data["expected"] == "0x" + BASE["deposit_message_root"]


@pytest.mark.parametrize("index", [0, 5, 12, 31])
def test_flipped_withdrawal_credentials_byte_fails_with_credentials_mismatch(index: int) -> None:
    error = _failure(_with(withdrawal_credentials=_flip_hex(BASE["withdrawal_credentials"], index)))
    assert error.code == "DEPOSIT_WITHDRAWAL_CREDENTIALS_MISMATCH"


def test_changed_credentials_that_the_caller_expects_fail_on_the_stale_message_root() -> None:
    changed = _flip_hex(BASE["withdrawal_credentials"], 31)
    error = _failure(_with(withdrawal_credentials=changed), credentials=bytes.fromhex(changed))
    assert error.code == "DEPOSIT_MESSAGE_ROOT_MISMATCH"


def test_changed_credentials_with_recomputed_roots_fail_on_the_signature() -> None:
    changed = bytes.fromhex(_flip_hex(BASE["withdrawal_credentials"], 31))
    pubkey, signature = bytes.fromhex(BASE["pubkey"]), bytes.fromhex(BASE["signature"])
    entry = _with(
        withdrawal_credentials=changed.hex(),
        deposit_message_root=ssz.deposit_message_root(pubkey, changed, BASE["amount"]).hex(),
        deposit_data_root=ssz.deposit_data_root(pubkey, changed, BASE["amount"], signature).hex(),
    )
    assert _failure(entry, credentials=changed).code == "DEPOSIT_SIGNATURE_INVALID"


@pytest.mark.parametrize("amount", [32 * 10**9 + 1, 32 * 10**9 ^ 0x0100, 31 * 10**9, 0])
def test_changed_amount_fails_with_amount_mismatch(amount: int) -> None:
    error = _failure(_with(amount=amount))
    assert error.code == "DEPOSIT_AMOUNT_MISMATCH"
    assert error.data == {"expected": 32 * 10**9, "actual": amount}


def test_changed_amount_that_the_caller_expects_fails_on_the_stale_message_root() -> None:
    error = _failure(_with(amount=33 * 10**9), expected_amount_gwei=33 * 10**9)
    assert error.code == "DEPOSIT_MESSAGE_ROOT_MISMATCH"


def test_configured_amount_is_the_one_required() -> None:
    entry = _signed_entry(VAULT_CREDENTIALS, HOODI, amount=10**9)
    assert _verify(entry, credentials=VAULT_CREDENTIALS, expected_amount_gwei=10**9).amount == 10**9
    error = _failure(entry, credentials=VAULT_CREDENTIALS)
    assert error.code == "DEPOSIT_AMOUNT_MISMATCH"


# ---- the chain's fork version, never the file's -----------------------------------------


@pytest.mark.parametrize("entry", SEPOLIA_ENTRIES)
def test_sepolia_entry_checked_on_hoodi_fails_with_fork_version_mismatch(
    entry: dict[str, Any],
) -> None:
    error = _failure(entry, credentials=bytes.fromhex(entry["withdrawal_credentials"]))
    assert error.code == "DEPOSIT_FORK_VERSION_MISMATCH"
    assert error.data == {"expected": "0x10000910", "actual": "0x90000069"}


def test_mainnet_entry_checked_on_sepolia_fails_with_fork_version_mismatch() -> None:
    entry = next(e for _, e in ENTRIES if e["network_name"] == "mainnet")
    error = _failure(
        entry, credentials=bytes.fromhex(entry["withdrawal_credentials"]), fork=SEPOLIA
    )
    assert error.code == "DEPOSIT_FORK_VERSION_MISMATCH"


def test_sepolia_entry_relabelled_as_hoodi_is_not_trusted_and_fails_the_signature() -> None:
    entry = {**SEPOLIA_ENTRIES[0], "fork_version": HOODI.hex(), "network_name": "hoodi"}
    error = _failure(entry, credentials=bytes.fromhex(entry["withdrawal_credentials"]))
    assert error.code == "DEPOSIT_SIGNATURE_INVALID"


def test_devnet_entry_verifies_with_the_configured_fork_version_only() -> None:
    entry = _signed_entry(VAULT_CREDENTIALS, DEVNET)
    assert _verify(entry, credentials=VAULT_CREDENTIALS, fork=DEVNET).fork_version == DEVNET
    relabelled = {**entry, "fork_version": HOODI.hex()}
    assert _failure(relabelled, credentials=VAULT_CREDENTIALS).code == "DEPOSIT_SIGNATURE_INVALID"


# ---- withdrawal credential types --------------------------------------------------------


def test_compounding_credentials_are_refused_unless_allowed() -> None:
    compounding = b"\x02" + VAULT_CREDENTIALS[1:]
    error = _failure(_signed_entry(compounding, HOODI), credentials=VAULT_CREDENTIALS)
    assert error.code == "DEPOSIT_WITHDRAWAL_CREDENTIALS_MISMATCH"
    assert "0x02" in error.message


def test_compounding_credentials_are_refused_even_when_expected_verbatim_unless_allowed() -> None:
    compounding = b"\x02" + VAULT_CREDENTIALS[1:]
    error = _failure(_signed_entry(compounding, HOODI), credentials=compounding)
    assert error.code == "DEPOSIT_WITHDRAWAL_CREDENTIALS_MISMATCH"


def test_compounding_credentials_to_the_vault_pass_when_allowed() -> None:
    compounding = b"\x02" + VAULT_CREDENTIALS[1:]
    deposit = _verify(
        _signed_entry(compounding, HOODI), credentials=VAULT_CREDENTIALS, allow_compounding=True
    )
    assert deposit.withdrawal_credentials == compounding


def test_execution_credentials_to_the_vault_still_pass_when_compounding_is_allowed() -> None:
    entry = _signed_entry(VAULT_CREDENTIALS, HOODI)
    assert _verify(entry, credentials=VAULT_CREDENTIALS, allow_compounding=True)


def test_compounding_credentials_to_another_address_fail_even_when_allowed() -> None:
    other = b"\x02" + bytes(11) + b"\x11" * 20
    error = _failure(
        _signed_entry(other, HOODI), credentials=VAULT_CREDENTIALS, allow_compounding=True
    )
    assert error.code == "DEPOSIT_WITHDRAWAL_CREDENTIALS_MISMATCH"


def test_bls_credentials_do_not_become_acceptable_by_allowing_compounding() -> None:
    entry = next(e for _, e in ENTRIES if e["withdrawal_credentials"].startswith("00"))
    error = _failure(
        entry,
        credentials=b"\x01" + bytes.fromhex(entry["withdrawal_credentials"])[1:],
        fork=FORK_BY_NETWORK[entry["network_name"]],
        allow_compounding=True,
    )
    assert error.code == "DEPOSIT_WITHDRAWAL_CREDENTIALS_MISMATCH"


# ---- malformed input --------------------------------------------------------------------


@pytest.mark.parametrize("field", REQUIRED_FIELDS)
def test_missing_field_fails_as_malformed_naming_the_field(field: str) -> None:
    entry = {key: value for key, value in BASE.items() if key != field}
    error = _failure(entry)
    assert error.code == "DEPOSIT_DATA_MALFORMED"
    assert error.data == {"field": field}
    assert field in error.message


@pytest.mark.parametrize("field", HEX_FIELDS)
@pytest.mark.parametrize(
    "value",
    [
        pytest.param("zz", id="not hex"),
        pytest.param("abc", id="odd length"),
        pytest.param("0x0x00", id="double prefix"),
        pytest.param("ab cd", id="space inside"),
        pytest.param(" abcd", id="leading space"),
        pytest.param(1234, id="number"),
        pytest.param(None, id="null"),
        pytest.param(["ab"], id="list"),
    ],
)
def test_hex_field_that_is_not_a_hex_string_fails_as_malformed(field: str, value: object) -> None:
    error = _failure(_with(**{field: value}))
    assert error.code == "DEPOSIT_DATA_MALFORMED"
    assert error.data == {"field": field}


@pytest.mark.parametrize(
    ("field", "length", "code"),
    [
        ("pubkey", 47, "DEPOSIT_PUBKEY_INVALID"),
        ("pubkey", 49, "DEPOSIT_PUBKEY_INVALID"),
        ("signature", 95, "DEPOSIT_SIGNATURE_MALFORMED"),
        ("signature", 0, "DEPOSIT_SIGNATURE_MALFORMED"),
        ("withdrawal_credentials", 20, "DEPOSIT_DATA_MALFORMED"),
        ("deposit_message_root", 33, "DEPOSIT_DATA_MALFORMED"),
        ("deposit_data_root", 31, "DEPOSIT_DATA_MALFORMED"),
        ("fork_version", 3, "DEPOSIT_DATA_MALFORMED"),
    ],
)
def test_wrong_length_fails_with_the_fields_reason(field: str, length: int, code: str) -> None:
    padded = bytes.fromhex(BASE[field]) + b"\x00" * 64
    error = _failure(_with(**{field: padded[:length].hex()}))
    assert error.code == code
    assert f"got {length}" in error.message


@pytest.mark.parametrize(
    ("pubkey", "reason"),
    [
        pytest.param("c0" + "00" * 47, "infinity", id="infinity"),
        pytest.param(_flip_hex(BASE["pubkey"], 0, 0x80), "compressed", id="uncompressed flag"),
        pytest.param("e0" + "00" * 47, "non-canonical", id="non-canonical infinity"),
        pytest.param("9a02" + "00" * 46, "field element", id="x not below p"),
    ],
)
def test_invalid_pubkey_point_fails_with_pubkey_invalid(pubkey: str, reason: str) -> None:
    error = _failure(_with(pubkey=pubkey))
    assert error.code == "DEPOSIT_PUBKEY_INVALID"
    assert reason in error.message


def test_uncompressed_signature_flag_fails_with_signature_malformed() -> None:
    error = _failure(_with(signature=_flip_hex(BASE["signature"], 0, 0x80)))
    assert error.code == "DEPOSIT_SIGNATURE_MALFORMED"
    assert "compressed" in error.message


@pytest.mark.parametrize(
    "amount",
    [
        pytest.param("32000000000", id="string"),
        pytest.param(32e9, id="float"),
        pytest.param(True, id="bool"),
        pytest.param(-1, id="negative"),
        pytest.param(2**64, id="above uint64"),
        pytest.param(None, id="null"),
    ],
)
def test_amount_that_is_not_a_uint64_integer_fails_as_malformed(amount: object) -> None:
    error = _failure(_with(amount=amount))
    assert error.code == "DEPOSIT_DATA_MALFORMED"
    assert error.data == {"field": "amount"}


@pytest.mark.parametrize("entry", [[BASE], "pubkey", None, 42], ids=["list", "str", "null", "int"])
def test_entry_that_is_not_an_object_fails_as_malformed(entry: object) -> None:
    assert _failure(entry).code == "DEPOSIT_DATA_MALFORMED"


def test_network_name_that_is_not_a_string_fails_as_malformed() -> None:
    assert _failure(_with(network_name=560048)).code == "DEPOSIT_DATA_MALFORMED"


@pytest.mark.parametrize(
    ("credentials", "fork"), [(BASE_CREDENTIALS[:31], HOODI), (BASE_CREDENTIALS, HOODI[:3])]
)
def test_caller_passing_wrong_sized_expectations_is_a_programming_error(
    credentials: bytes, fork: bytes
) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        _verify(BASE, credentials=credentials, fork=fork)


@pytest.mark.parametrize(
    "code",
    [
        "DEPOSIT_DATA_MALFORMED",
        "DEPOSIT_PUBKEY_INVALID",
        "DEPOSIT_SIGNATURE_MALFORMED",
        "DEPOSIT_FORK_VERSION_MISMATCH",
        "DEPOSIT_AMOUNT_MISMATCH",
        "DEPOSIT_WITHDRAWAL_CREDENTIALS_MISMATCH",
        "DEPOSIT_MESSAGE_ROOT_MISMATCH",
        "DEPOSIT_SIGNATURE_INVALID",
        "DEPOSIT_DATA_ROOT_MISMATCH",
    ],
)
def test_error_code_constant_is_its_own_stable_name(code: str) -> None:
    assert getattr(deposits, code) == code


# ---- SSZ --------------------------------------------------------------------------------


def test_mainnet_deposit_domain_is_the_published_constant() -> None:
    domain = ssz.compute_domain(ssz.DOMAIN_DEPOSIT, bytes(4))
    assert domain.hex() == "03000000f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a9"


def test_merkleize_pads_three_chunks_with_a_zero_chunk() -> None:
    chunks = [b"\x01" * 32, b"\x02" * 32, b"\x03" * 32]
    assert ssz.merkleize(chunks) == ssz.merkleize([*chunks, ssz.ZERO_CHUNK])
    assert ssz.merkleize([b"\x05" * 32]) == b"\x05" * 32


@pytest.mark.parametrize(
    "call", [lambda: ssz.bytes_root(b"\x00" * 47, 48), lambda: ssz.merkleize([])]
)
def test_ssz_helpers_refuse_wrong_sizes(call: Any) -> None:
    with pytest.raises(ValueError):
        call()


@pytest.mark.parametrize("value", [-1, 2**64])
def test_uint64_root_refuses_out_of_range_values(value: int) -> None:
    with pytest.raises(ValueError, match="uint64"):
        ssz.uint64_root(value)


# ---- properties -------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=200),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=5,
)
HEXISH = st.text(alphabet="0123456789abcdefABCDEFx ", max_size=200)


@settings(max_examples=300, deadline=None)
@given(
    field=st.sampled_from((*REQUIRED_FIELDS, "network_name")),
    value=JSON_VALUES | HEXISH,
)
def test_any_value_in_any_field_fails_only_with_deposit_data_invalid(
    field: str, value: object
) -> None:
    entry = _with(**{field: value})
    try:
        _verify(entry)
    except DepositDataInvalid as error:
        assert error.code.startswith("DEPOSIT_")
    else:
        same = value == BASE[field] or (
            isinstance(value, str) and value.lower().removeprefix("0x") == BASE[field]
        )
        assert same or field == "network_name"


@settings(max_examples=100, deadline=None)
@given(entry=st.dictionaries(st.sampled_from(REQUIRED_FIELDS), JSON_VALUES | HEXISH))
def test_random_entries_fail_only_with_deposit_data_invalid(entry: dict[str, object]) -> None:
    with pytest.raises(DepositDataInvalid):
        _verify(entry)


@settings(max_examples=150, deadline=None)
@given(field=st.sampled_from(HEX_FIELDS), data=st.data())
def test_any_single_byte_change_of_a_real_entry_is_refused(field: str, data: Any) -> None:
    size = len(BASE[field]) // 2
    index = data.draw(st.integers(0, size - 1))
    mask = data.draw(st.integers(1, 255))
    with pytest.raises(DepositDataInvalid):
        _verify(_with(**{field: _flip_hex(BASE[field], index, mask)}))
