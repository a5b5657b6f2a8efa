"""The native BLS wrapper against py_ecc, the slow reference, on real deposit signatures."""

from __future__ import annotations

import contextlib
import json
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from py_ecc.bls import G2ProofOfPossession as reference
from py_ecc.bls.g2_primitives import subgroup_check
from py_ecc.bls.point_compression import decompress_G1, decompress_G2

from seat_manager.domain import bls, ssz

DATA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "deposit-data"
if not DATA_DIR.is_dir():
    raise RuntimeError(f"real deposit data is missing: expected the folder {DATA_DIR}")


def _signed_messages() -> list[tuple[str, bytes, bytes, bytes]]:
    """(label, pubkey, signing root, signature) for every real entry, each file's own fork."""
    cases = []
    for path in sorted(DATA_DIR.glob("*.json")):
        for index, entry in enumerate(json.loads(path.read_text())):
            message_root = ssz.deposit_message_root(
                bytes.fromhex(entry["pubkey"]),
                bytes.fromhex(entry["withdrawal_credentials"]),
                entry["amount"],
            )
            signing_root = ssz.deposit_signing_root(
                message_root, bytes.fromhex(entry["fork_version"])
            )
            cases.append(
                (
                    f"{path.stem}[{index}]",
                    bytes.fromhex(entry["pubkey"]),
                    signing_root,
                    bytes.fromhex(entry["signature"]),
                )
            )
    return cases


CASES = _signed_messages()
LABEL, PUBKEY, MESSAGE, SIGNATURE = CASES[0]
OTHER_SIGNATURE = CASES[1][3]


def _flip(data: bytes, index: int, mask: int = 0x01) -> bytes:
    return data[:index] + bytes([data[index] ^ mask]) + data[index + 1 :]


@cache
def _off_subgroup_g1() -> bytes:
    """A canonical compressed point on the G1 curve but outside its prime-order subgroup."""
    for x in range(1, 1000):
        encoded = ((1 << 383) | x).to_bytes(48, "big")
        try:
            point = decompress_G1(int.from_bytes(encoded, "big"))
        except ValueError:
            continue
        if not subgroup_check(point):
            return encoded
    raise AssertionError("no off-subgroup G1 point found")


@cache
def _off_subgroup_g2() -> bytes:
    for x in range(1, 1000):
        encoded = (1 << 383).to_bytes(48, "big") + x.to_bytes(48, "big")
        try:
            point = decompress_G2((1 << 383, x))
        except ValueError:
            continue
        if not subgroup_check(point):
            return encoded
    raise AssertionError("no off-subgroup G2 point found")


def _not_on_g1_curve() -> bytes:
    for x in range(1, 1000):
        encoded = ((1 << 383) | x).to_bytes(48, "big")
        try:
            decompress_G1(int.from_bytes(encoded, "big"))
        except ValueError:
            return encoded
    raise AssertionError("every x was on the curve")


@pytest.mark.parametrize(
    ("label", "pubkey", "message", "signature"), CASES, ids=[case[0] for case in CASES]
)
def test_real_deposit_signature_verifies_as_py_ecc_says(
    label: str, pubkey: bytes, message: bytes, signature: bytes
) -> None:
    assert bls.verify(pubkey, message, signature) is True
    assert reference.Verify(pubkey, message, signature) is True


@pytest.mark.parametrize(
    ("pubkey", "message", "signature"),
    [
        pytest.param(PUBKEY, MESSAGE, _flip(SIGNATURE, 0, 0x20), id="signature sign bit flipped"),
        pytest.param(PUBKEY, MESSAGE, OTHER_SIGNATURE, id="another key's signature"),
        pytest.param(PUBKEY, _flip(MESSAGE, 31), SIGNATURE, id="message changed"),
        pytest.param(CASES[1][1], MESSAGE, SIGNATURE, id="another pubkey"),
        pytest.param(PUBKEY, MESSAGE, b"\xc0" + bytes(95), id="signature at infinity"),
        pytest.param(PUBKEY, MESSAGE, _off_subgroup_g2(), id="signature off the subgroup"),
        pytest.param(b"\xc0" + bytes(47), MESSAGE, SIGNATURE, id="pubkey at infinity"),
        pytest.param(PUBKEY, MESSAGE, _flip(SIGNATURE, 0, 0x80), id="signature uncompressed"),
    ],
)
def test_invalid_signature_is_refused_by_both_libraries(
    pubkey: bytes, message: bytes, signature: bytes
) -> None:
    assert bls.verify(pubkey, message, signature) is False
    assert reference.Verify(pubkey, message, signature) is False


def test_real_pubkey_passes_key_validation() -> None:
    bls.validate_pubkey(PUBKEY)


@pytest.mark.parametrize(
    ("pubkey", "reason"),
    [
        pytest.param(b"\xc0" + bytes(47), "infinity", id="canonical infinity"),
        pytest.param(b"\xe0" + bytes(47), "non-canonical", id="infinity with sign bit"),
        pytest.param(b"\xc0" + bytes(46) + b"\x01", "non-canonical", id="infinity with x bits"),
        pytest.param(b"\xff" * 48, "non-canonical", id="all ones"),
        pytest.param(_flip(PUBKEY, 0, 0x80), "compressed", id="compression flag cleared"),
        pytest.param(bytes([0x80 | 0x1A, 0x02]) + bytes(46), "field element", id="x not below p"),
        pytest.param(PUBKEY[:47], "48 bytes", id="too short"),
        pytest.param(PUBKEY + b"\x00", "48 bytes", id="too long"),
        pytest.param(_not_on_g1_curve(), "subgroup", id="not on the curve"),
        pytest.param(_off_subgroup_g1(), "subgroup", id="on the curve outside the subgroup"),
    ],
)
def test_bad_pubkey_encoding_is_refused_with_its_reason(pubkey: bytes, reason: str) -> None:
    with pytest.raises(bls.InvalidPublicKey, match=reason):
        bls.validate_pubkey(pubkey)
    assert reference.KeyValidate(pubkey) is False


def test_signature_outside_subgroup_is_refused() -> None:
    with pytest.raises(bls.InvalidSignatureEncoding, match="subgroup"):
        bls.validate_signature(_off_subgroup_g2())


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        pytest.param(SIGNATURE[:95], "96 bytes", id="too short"),
        pytest.param(_flip(SIGNATURE, 0, 0x80), "compressed", id="compression flag cleared"),
        pytest.param(b"\xe0" + bytes(95), "non-canonical", id="infinity with sign bit"),
        pytest.param(SIGNATURE[:48] + b"\xff" * 48, "field element", id="x.c0 not below p"),
    ],
)
def test_bad_signature_encoding_is_refused_with_its_reason(signature: bytes, reason: str) -> None:
    with pytest.raises(bls.InvalidSignatureEncoding, match=reason):
        bls.validate_signature(signature)


def test_canonical_signature_at_infinity_is_a_valid_encoding_that_never_verifies() -> None:
    bls.validate_signature(b"\xc0" + bytes(95))
    assert bls.verify(PUBKEY, MESSAGE, b"\xc0" + bytes(95)) is False


@settings(max_examples=60, deadline=None)
@given(index=st.integers(0, 47), mask=st.integers(1, 255))
def test_any_single_byte_change_of_a_pubkey_is_judged_as_py_ecc_judges_it(
    index: int, mask: int
) -> None:
    changed = _flip(PUBKEY, index, mask)
    try:
        bls.validate_pubkey(changed)
        valid = True
    except bls.InvalidPublicKey:
        valid = False
    assert valid == reference.KeyValidate(changed)


@settings(max_examples=25, deadline=None)
@given(index=st.integers(0, 95), mask=st.integers(1, 255))
def test_any_single_byte_change_of_a_signature_verifies_as_py_ecc_says(
    index: int, mask: int
) -> None:
    changed = _flip(SIGNATURE, index, mask)
    assert bls.verify(PUBKEY, MESSAGE, changed) == reference.Verify(PUBKEY, MESSAGE, changed)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=0, max_size=120))
def test_random_bytes_never_raise_anything_but_an_encoding_error(data: bytes) -> None:
    for check in (bls.validate_pubkey, bls.validate_signature):
        with contextlib.suppress(bls.BlsEncodingError):
            check(data)
    assert bls.verify(data, MESSAGE, data) is False
