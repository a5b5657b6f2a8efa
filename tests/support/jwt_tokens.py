"""Key pairs and operator tokens for tests, as the enrollment service would issue them.

`TokenIssuer` holds a private key and mints tokens; `public_pem` goes into
ENROLLMENT_JWT_PUBLIC_KEY_PEM. Keys are generated with `cryptography`, per test run.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

AUDIENCE = "seat-manager"
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def ec_key(curve: ec.EllipticCurve | None = None) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(curve or ec.SECP256R1())


def rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def ed25519_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def public_pem(key: PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def default_algorithm(key: PrivateKey) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        return "RS256"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "EdDSA"
    return {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}[key.curve.name]


@dataclass
class TokenIssuer:
    """Mints tokens signed with `key`. `claims` overrides (None removes a claim)."""

    key: PrivateKey = field(default_factory=ec_key)
    audience: str = AUDIENCE
    issuer: str | None = None

    @property
    def public_pem(self) -> str:
        return public_pem(self.key)

    def claims(self, sub: str | None, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": sub,
            "aud": self.audience,
            "iat": now,
            "exp": now + 600,
            "jti": uuid.uuid4().hex,
        }
        if self.issuer is not None:
            claims["iss"] = self.issuer
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def token(
        self, sub: str | None = "operator_001", *, algorithm: str | None = None, **overrides: Any
    ) -> str:
        return jwt.encode(
            self.claims(sub, **overrides),
            self.key,
            algorithm=algorithm or default_algorithm(self.key),
        )

    def header(self, sub: str | None = "operator_001", **overrides: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(sub, **overrides)}"}
