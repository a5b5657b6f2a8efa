"""BLS12-381 signature checks as Ethereum's consensus layer does them, on a native library.

Ethereum signs with the proof-of-possession scheme: public keys in G1 (48 bytes
compressed), signatures in G2 (96 bytes compressed), messages hashed to G2 with the
DST below. py-arkworks-bls12381 does the curve work (hash-to-curve, subgroup checks,
pairings) about a thousand times faster than pure Python; this module adds what it
leaves loose: its decoder accepts several non-canonical encodings of the point at
infinity and does not refuse the identity public key, so the encoding rules of the
ZCash serialization (flag bits, field elements below p) are enforced here first.
"""

from __future__ import annotations

import py_arkworks_bls12381 as _arkworks

DST = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_"
PUBKEY_LENGTH = 48
SIGNATURE_LENGTH = 96

FIELD_MODULUS = int(
    "1a0111ea397fe69a4b1ba7b6434bacd764774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab",
    16,
)
_COMPRESSION_FLAG = 0x80
_INFINITY_FLAG = 0x40
_SIGN_FLAG = 0x20
_FLAGS = _COMPRESSION_FLAG | _INFINITY_FLAG | _SIGN_FLAG


class BlsEncodingError(ValueError):
    """Bytes that are not a canonical compressed point of the right group."""


class InvalidPublicKey(BlsEncodingError):
    pass


class InvalidSignatureEncoding(BlsEncodingError):
    pass


def _check_compressed(data: bytes, length: int, error: type[BlsEncodingError]) -> bool:
    """Check length, flag bits and field-element ranges; return whether it is infinity."""
    if len(data) != length:
        raise error(f"must be {length} bytes, got {len(data)}")
    flags = data[0] & _FLAGS
    if not flags & _COMPRESSION_FLAG:
        raise error("must use the compressed encoding (compression flag not set)")
    if flags & _INFINITY_FLAG:
        if flags & _SIGN_FLAG or data[0] & ~_FLAGS or any(data[1:]):
            raise error("non-canonical encoding of the point at infinity")
        return True
    body = bytes([data[0] & ~_FLAGS]) + data[1:]
    for start in range(0, length, 48):
        if int.from_bytes(body[start : start + 48], "big") >= FIELD_MODULUS:
            raise error("coordinate is not a canonical field element (not below p)")
    return False


def _decode_pubkey(pubkey: bytes) -> _arkworks.G1Point:
    if _check_compressed(pubkey, PUBKEY_LENGTH, InvalidPublicKey):
        raise InvalidPublicKey("is the point at infinity")
    try:
        return _arkworks.G1Point.from_compressed_bytes(pubkey)
    except ValueError:
        raise InvalidPublicKey("is not a point of the G1 prime-order subgroup") from None


def _decode_signature(signature: bytes) -> _arkworks.G2Point:
    if _check_compressed(signature, SIGNATURE_LENGTH, InvalidSignatureEncoding):
        return _arkworks.G2Point.identity()
    try:
        return _arkworks.G2Point.from_compressed_bytes(signature)
    except ValueError:
        raise InvalidSignatureEncoding("is not a point of the G2 prime-order subgroup") from None


def validate_pubkey(pubkey: bytes) -> None:
    """KeyValidate: canonical compressed G1 point, in the subgroup, not infinity."""
    _decode_pubkey(pubkey)


def validate_signature(signature: bytes) -> None:
    """Canonical compressed G2 point in the subgroup (infinity allowed, as the spec does)."""
    _decode_signature(signature)


def verify(pubkey: bytes, message: bytes, signature: bytes) -> bool:
    """Ethereum `bls.Verify`: False for a wrong signature and for any invalid encoding."""
    try:
        public_point = _decode_pubkey(pubkey)
        signature_point = _decode_signature(signature)
    except BlsEncodingError:
        return False
    message_point = _arkworks.G2Point.hash_to_curve(message, DST)
    # e(pk, H(m)) == e(g1, sig)  <=>  e(pk, H(m)) * e(-g1, sig) == 1
    return _arkworks.GT.pairing_check(
        [public_point, -_arkworks.G1Point()], [message_point, signature_point]
    )
