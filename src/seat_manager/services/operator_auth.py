"""Operator authentication: the enrollment service's JWT, checked before anything else.

An operator proves who it is with a Bearer JWT signed by the enrollment service; its
`sub` is the operator id. The operator API moves real ETH on the strength of that
token, so verification is deliberately narrow:

- the accepted algorithms follow from the configured public key's type alone (RSA →
  RS*/PS*, P-256 → ES256, ...), never from the token: no `none`, and no HS* that would
  treat the public PEM text as an HMAC secret;
- the signature is verified before any claim is read (PyJWT does both in
  `jwt.decode`; nothing here looks at an unverified payload);
- `exp`, `iat`, `sub` and `aud` are required, `aud` must be exactly our audience (a
  token also addressed to another service is not for us), `iss` is required and
  compared when an issuer is configured, `nbf` is honoured when present, and clocks may
  disagree by `LEEWAY_SECONDS`.

Every refusal is an `AuthenticationFailed` (HTTP 401) with its own stable code, so an
operator can tell an expired token from one for the wrong audience without reading
our logs. The one-time use of `jti` is the enrollment's business (it is recorded in
the same transaction), see `services.enrollment`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt import exceptions as jwt_errors

from seat_manager.config import Settings
from seat_manager.domain.errors import ConfigurationError, SeatManagerError
from seat_manager.domain.types import OperatorId

AUTH_MISSING: Final = "AUTH_MISSING"
AUTH_WRONG_SCHEME: Final = "AUTH_WRONG_SCHEME"
AUTH_MALFORMED: Final = "AUTH_MALFORMED"
AUTH_ALGORITHM_NOT_ALLOWED: Final = "AUTH_ALGORITHM_NOT_ALLOWED"
AUTH_BAD_SIGNATURE: Final = "AUTH_BAD_SIGNATURE"
AUTH_EXPIRED: Final = "AUTH_EXPIRED"
AUTH_NOT_YET_VALID: Final = "AUTH_NOT_YET_VALID"
AUTH_WRONG_AUDIENCE: Final = "AUTH_WRONG_AUDIENCE"
AUTH_WRONG_ISSUER: Final = "AUTH_WRONG_ISSUER"
AUTH_CLAIM_MISSING: Final = "AUTH_CLAIM_MISSING"
AUTH_CLAIM_INVALID: Final = "AUTH_CLAIM_INVALID"
AUTH_TOKEN_REPLAYED: Final = "AUTH_TOKEN_REPLAYED"
AUTH_INVALID: Final = "AUTH_INVALID"

LEEWAY_SECONDS: Final = 60
MAX_TOKEN_LENGTH: Final = 8192
"""Far above any real token; refuses oversized input before any parsing or crypto."""
MAX_ID_LENGTH: Final = 128
"""`sub` and `jti` are stored in 128-character columns (seats.operator_id, used_jwt_ids.jti)."""
MIN_RSA_BITS: Final = 2048
PEM_ENV: Final = "ENROLLMENT_JWT_PUBLIC_KEY_PEM"

_BEARER = re.compile(r"^(\S+)(?: +(\S+))?$")
_COMPACT_JWS = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
_RSA_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
_EC_ALGORITHM_BY_CURVE = {
    "secp256r1": "ES256",
    "secp384r1": "ES384",
    "secp521r1": "ES512",
    "secp256k1": "ES256K",
}


class AuthenticationFailed(SeatManagerError):
    """The caller did not prove who it is (HTTP 401). One code per reason."""

    default_code = AUTH_INVALID

    @property
    def challenge(self) -> str:
        """The `WWW-Authenticate` value (RFC 6750 §3: no error code when none was sent)."""
        if self.code in (AUTH_MISSING, AUTH_WRONG_SCHEME):
            return 'Bearer realm="seat-manager"'
        return 'Bearer realm="seat-manager", error="invalid_token"'


@dataclass(frozen=True)
class OperatorClaims:
    """What a verified token says: who the operator is and the token's own identity."""

    operator_id: OperatorId
    jti: str | None
    issued_at: datetime
    expires_at: datetime
    accepted_until: datetime
    """`exp` plus the clock leeway: until then this token still verifies, so a record of
    its use (the jti) must be kept at least that long."""


def bearer_token(headers: list[str]) -> str:
    """The token of the one `Authorization: Bearer <token>` header, or AuthenticationFailed.

    `headers` are all Authorization header values of the request: two of them are
    refused rather than guessing which one a proxy meant.
    """
    if not headers or not headers[0].strip():
        raise AuthenticationFailed(
            "an Authorization: Bearer <token> header is required", code=AUTH_MISSING
        )
    if len(headers) > 1:
        raise AuthenticationFailed(
            "more than one Authorization header was sent", code=AUTH_MALFORMED
        )
    value = headers[0].strip()
    match = _BEARER.match(value)
    if match is None or match.group(1).lower() != "bearer":
        scheme = value.split(None, 1)[0][:20]
        raise AuthenticationFailed(
            f"the Authorization scheme must be Bearer, not {scheme!r}", code=AUTH_WRONG_SCHEME
        )
    token = match.group(2)
    if token is None:
        raise AuthenticationFailed("the Bearer token is empty", code=AUTH_MALFORMED)
    if len(token) > MAX_TOKEN_LENGTH or not _COMPACT_JWS.match(token):
        raise AuthenticationFailed(
            "the Bearer token is not a compact JWT (header.payload.signature)",
            code=AUTH_MALFORMED,
        )
    return token


def allowed_algorithms(key: object) -> tuple[str, ...]:
    """The JWS algorithms a public key of this type can verify; ConfigurationError else.

    Fixed by the key, never by the token (RFC 8725 §3.1).
    """
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise ConfigurationError(
                f"{PEM_ENV} is a {key.key_size}-bit RSA key; at least {MIN_RSA_BITS} bits"
                " are required"
            )
        return _RSA_ALGORITHMS
    if isinstance(key, ec.EllipticCurvePublicKey):
        algorithm = _EC_ALGORITHM_BY_CURVE.get(key.curve.name)
        if algorithm is None:
            raise ConfigurationError(
                f"{PEM_ENV} uses the curve {key.curve.name}, which JWS does not define;"
                " use P-256, P-384, P-521 or secp256k1"
            )
        return (algorithm,)
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return ("EdDSA",)
    raise ConfigurationError(f"{PEM_ENV} must be an RSA, EC or EdDSA public key")


def _from_pyjwt(exc: jwt_errors.PyJWTError) -> AuthenticationFailed:
    """Map PyJWT's exceptions to our codes (most specific classes first)."""
    if isinstance(exc, jwt_errors.InvalidAlgorithmError):
        return AuthenticationFailed(
            "the token's signing algorithm is not accepted for the configured key",
            code=AUTH_ALGORITHM_NOT_ALLOWED,
        )
    if isinstance(exc, jwt_errors.InvalidSignatureError):
        return AuthenticationFailed(
            "the token's signature does not verify", code=AUTH_BAD_SIGNATURE
        )
    if isinstance(exc, jwt_errors.ExpiredSignatureError):
        return AuthenticationFailed("the token has expired", code=AUTH_EXPIRED)
    if isinstance(exc, jwt_errors.ImmatureSignatureError):
        return AuthenticationFailed(f"the token is not valid yet ({exc})", code=AUTH_NOT_YET_VALID)
    if isinstance(exc, jwt_errors.InvalidAudienceError):
        return AuthenticationFailed(
            "the token is not addressed to this service (aud)", code=AUTH_WRONG_AUDIENCE
        )
    if isinstance(exc, jwt_errors.InvalidIssuerError):
        return AuthenticationFailed(
            "the token was not issued by the enrollment service (iss)", code=AUTH_WRONG_ISSUER
        )
    if isinstance(exc, jwt_errors.MissingRequiredClaimError):
        return AuthenticationFailed(
            f"the token has no '{exc.claim}' claim",
            code=AUTH_CLAIM_MISSING,
            data={"claim": exc.claim},
        )
    bad_claim = (
        jwt_errors.InvalidIssuedAtError,
        jwt_errors.InvalidSubjectError,
        jwt_errors.InvalidJTIError,
    )
    if isinstance(exc, bad_claim) or (
        isinstance(exc, jwt_errors.DecodeError) and "claim" in str(exc)
    ):
        # PyJWT reports a non-numeric exp/nbf as a DecodeError raised after the signature
        # verified; its message names the claim, which tells it from a broken token.
        return AuthenticationFailed(f"a token claim is invalid: {exc}", code=AUTH_CLAIM_INVALID)
    if isinstance(exc, jwt_errors.InvalidTokenError):
        return AuthenticationFailed("the token cannot be decoded", code=AUTH_MALFORMED)
    return AuthenticationFailed("the token was refused", code=AUTH_INVALID)


def _identifier(payload: dict[str, Any], claim: str) -> str:
    value = payload[claim]
    if (
        not isinstance(value, str)
        or not value
        or value != value.strip()
        or len(value) > MAX_ID_LENGTH
        or not value.isprintable()
    ):
        raise AuthenticationFailed(
            f"the '{claim}' claim must be a non-empty string of at most {MAX_ID_LENGTH}"
            " printable characters without surrounding spaces",
            code=AUTH_CLAIM_INVALID,
            data={"claim": claim},
        )
    return value


def _timestamp(payload: dict[str, Any], claim: str) -> datetime:
    try:
        return datetime.fromtimestamp(int(payload[claim]), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise AuthenticationFailed(
            f"the '{claim}' claim is not a usable time", code=AUTH_CLAIM_INVALID
        ) from None


class TokenVerifier:
    """Verifies operator tokens against one configured public key."""

    def __init__(
        self,
        public_key_pem: str,
        *,
        audience: str,
        issuer: str | None = None,
        leeway_seconds: int = LEEWAY_SECONDS,
    ) -> None:
        try:
            key = load_pem_public_key(public_key_pem.encode())
        except (ValueError, TypeError):
            raise ConfigurationError(f"{PEM_ENV} must be a PEM-encoded public key") from None
        self.algorithms = allowed_algorithms(key)
        self._key = key
        self.audience = audience
        self.issuer = issuer
        self.leeway_seconds = leeway_seconds
        self._required = ["exp", "iat", "sub", "aud"] + (["iss"] if issuer else [])

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenVerifier:
        settings.require(PEM_ENV)
        assert settings.enrollment_jwt_public_key_pem is not None
        return cls(
            settings.enrollment_jwt_public_key_pem,
            audience=settings.enrollment_jwt_audience,
            issuer=settings.enrollment_jwt_issuer,
        )

    def verify(self, token: str) -> OperatorClaims:
        """The claims of a valid token, or AuthenticationFailed with the reason's code."""
        try:
            payload = jwt.decode(
                token,
                self._key,  # type: ignore[arg-type]  # checked by allowed_algorithms
                algorithms=list(self.algorithms),
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_seconds,
                options={
                    "require": self._required,
                    "strict_aud": True,
                    "enforce_minimum_key_length": True,
                },
            )
        except jwt_errors.PyJWTError as exc:
            raise _from_pyjwt(exc) from None
        expires_at = _timestamp(payload, "exp")
        return OperatorClaims(
            operator_id=OperatorId(_identifier(payload, "sub")),
            jti=_identifier(payload, "jti") if "jti" in payload else None,
            issued_at=_timestamp(payload, "iat"),
            expires_at=expires_at,
            accepted_until=expires_at + timedelta(seconds=self.leeway_seconds),
        )
