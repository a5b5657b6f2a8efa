"""Operator JWT verification: every kind of bad token is refused with its own code."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from tests.support.jwt_tokens import (
    TokenIssuer,
    ec_key,
    ed25519_key,
    public_pem,
    rsa_key,
)

from seat_manager.domain.errors import ConfigurationError
from seat_manager.services.operator_auth import (
    AUTH_ALGORITHM_NOT_ALLOWED,
    AUTH_BAD_SIGNATURE,
    AUTH_CLAIM_INVALID,
    AUTH_CLAIM_MISSING,
    AUTH_EXPIRED,
    AUTH_MALFORMED,
    AUTH_MISSING,
    AUTH_NOT_YET_VALID,
    AUTH_WRONG_AUDIENCE,
    AUTH_WRONG_ISSUER,
    AUTH_WRONG_SCHEME,
    AuthenticationFailed,
    TokenVerifier,
    allowed_algorithms,
    bearer_token,
)


@pytest.fixture(scope="module")
def issuer() -> TokenIssuer:
    return TokenIssuer(ec_key())


@pytest.fixture(scope="module")
def rsa_issuer() -> TokenIssuer:
    return TokenIssuer(rsa_key())


@pytest.fixture(scope="module")
def verifier(issuer: TokenIssuer) -> TokenVerifier:
    return TokenVerifier(issuer.public_pem, audience="seat-manager")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _refused(verifier: TokenVerifier, token: str) -> AuthenticationFailed:
    with pytest.raises(AuthenticationFailed) as caught:
        verifier.verify(token)
    return caught.value


# ---- valid tokens ----------------------------------------------------------------------------


def test_valid_es256_token_yields_operator_id_jti_and_times(issuer, verifier):
    token = issuer.token("operator_7", jti="jti-1")
    claims = verifier.verify(token)
    assert claims.operator_id == "operator_7"
    assert claims.jti == "jti-1"
    assert claims.expires_at > claims.issued_at


def test_token_is_accepted_until_exp_plus_the_leeway(issuer, verifier):
    claims = verifier.verify(issuer.token())
    assert (claims.accepted_until - claims.expires_at).total_seconds() == 60


def test_token_without_jti_is_authenticated_with_jti_none(issuer, verifier):
    assert verifier.verify(issuer.token(jti=None)).jti is None


@pytest.mark.parametrize("algorithm", ["RS256", "RS512", "PS256", "PS384"])
def test_rsa_key_accepts_rsa_and_pss_signatures(rsa_issuer, algorithm):
    verifier = TokenVerifier(rsa_issuer.public_pem, audience="seat-manager")
    assert verifier.verify(rsa_issuer.token(algorithm=algorithm)).operator_id == "operator_001"


def test_ed25519_key_accepts_eddsa_tokens():
    issuer = TokenIssuer(ed25519_key())
    verifier = TokenVerifier(issuer.public_pem, audience="seat-manager")
    assert verifier.verify(issuer.token()).operator_id == "operator_001"


def test_expired_within_the_60s_skew_is_still_accepted(issuer, verifier):
    now = int(time.time())
    assert verifier.verify(issuer.token(iat=now - 600, exp=now - 30)).operator_id


def test_nbf_within_the_skew_is_accepted(issuer, verifier):
    assert verifier.verify(issuer.token(nbf=int(time.time()) + 30)).operator_id


def test_issuer_is_not_checked_when_none_is_configured(issuer, verifier):
    assert verifier.verify(issuer.token(iss="anyone")).operator_id


# ---- signature and algorithm ----------------------------------------------------------------


def test_token_signed_by_another_key_of_the_same_type_is_a_bad_signature(verifier):
    stranger = TokenIssuer(ec_key())
    assert _refused(verifier, stranger.token()).code == AUTH_BAD_SIGNATURE


def test_alg_none_token_is_refused_as_algorithm_not_allowed(issuer, verifier):
    token = jwt.encode(issuer.claims("operator_001"), None, algorithm="none")
    assert token.endswith(".")
    assert _refused(verifier, token).code == AUTH_ALGORITHM_NOT_ALLOWED
    assert _refused(verifier, token + _b64(b"sig")).code == AUTH_ALGORITHM_NOT_ALLOWED


def test_header_without_alg_is_refused_as_algorithm_not_allowed(issuer, verifier):
    payload = _b64(json.dumps(issuer.claims("operator_001")).encode())
    assert _refused(verifier, f"e30.{payload}.").code == AUTH_ALGORITHM_NOT_ALLOWED


def test_hs256_signed_with_the_public_pem_as_secret_is_refused(issuer, verifier):
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(issuer.claims("operator_001")).encode())
    signing_input = f"{header}.{payload}".encode()
    mac = hmac.new(issuer.public_pem.encode(), signing_input, hashlib.sha256).digest()
    token = f"{header}.{payload}.{_b64(mac)}"
    assert _refused(verifier, token).code == AUTH_ALGORITHM_NOT_ALLOWED


def test_rsa_token_against_an_ec_key_is_refused_as_algorithm_not_allowed(rsa_issuer, verifier):
    assert _refused(verifier, rsa_issuer.token()).code == AUTH_ALGORITHM_NOT_ALLOWED


def test_ec_token_against_an_rsa_key_is_refused_as_algorithm_not_allowed(issuer, rsa_issuer):
    verifier = TokenVerifier(rsa_issuer.public_pem, audience="seat-manager")
    assert _refused(verifier, issuer.token()).code == AUTH_ALGORITHM_NOT_ALLOWED


def test_es384_token_against_a_p256_key_is_refused_as_algorithm_not_allowed(verifier):
    other_curve = TokenIssuer(ec_key(ec.SECP384R1()))
    assert _refused(verifier, other_curve.token()).code == AUTH_ALGORITHM_NOT_ALLOWED


def test_signature_is_checked_before_claims_a_tampered_expired_token_is_a_bad_signature(
    issuer, verifier
):
    header, _, signature = issuer.token().split(".")
    now = int(time.time())
    forged = issuer.claims("someone_else", iat=now - 9999, exp=now - 9000)
    token = f"{header}.{_b64(json.dumps(forged).encode())}.{signature}"
    assert _refused(verifier, token).code == AUTH_BAD_SIGNATURE


# ---- time claims ------------------------------------------------------------------------------


def test_expired_beyond_the_skew_is_refused_as_expired(issuer, verifier):
    now = int(time.time())
    assert _refused(verifier, issuer.token(iat=now - 900, exp=now - 61)).code == AUTH_EXPIRED


def test_nbf_in_the_future_is_refused_as_not_yet_valid(issuer, verifier):
    token = issuer.token(nbf=int(time.time()) + 300)
    assert _refused(verifier, token).code == AUTH_NOT_YET_VALID


def test_iat_in_the_future_is_refused_as_not_yet_valid(issuer, verifier):
    token = issuer.token(iat=int(time.time()) + 300)
    assert _refused(verifier, token).code == AUTH_NOT_YET_VALID


def test_non_numeric_exp_is_refused_as_an_invalid_claim(issuer, verifier):
    assert _refused(verifier, issuer.token(exp="tomorrow")).code == AUTH_CLAIM_INVALID


# ---- required claims ------------------------------------------------------------------------


@pytest.mark.parametrize("claim", ["iat", "exp", "sub", "aud"])
def test_missing_required_claim_is_refused_naming_the_claim(issuer, verifier, claim):
    overrides = {} if claim == "sub" else {claim: None}
    sub = None if claim == "sub" else "operator_001"
    error = _refused(verifier, issuer.token(sub, **overrides))
    assert error.code == AUTH_CLAIM_MISSING
    assert error.data == {"claim": claim}


def test_wrong_audience_is_refused(issuer, verifier):
    assert _refused(verifier, issuer.token(aud="other-service")).code == AUTH_WRONG_AUDIENCE


def test_audience_list_is_refused_even_when_it_names_us(issuer, verifier):
    token = issuer.token(aud=["seat-manager", "other-service"])
    assert _refused(verifier, token).code == AUTH_WRONG_AUDIENCE


def test_configured_audience_is_the_one_compared(issuer):
    verifier = TokenVerifier(issuer.public_pem, audience="custom-aud")
    assert _refused(verifier, issuer.token()).code == AUTH_WRONG_AUDIENCE
    assert verifier.verify(issuer.token(aud="custom-aud")).operator_id


def test_wrong_issuer_is_refused_when_an_issuer_is_configured(issuer):
    verifier = TokenVerifier(issuer.public_pem, audience="seat-manager", issuer="enroll")
    assert _refused(verifier, issuer.token(iss="evil")).code == AUTH_WRONG_ISSUER
    assert verifier.verify(issuer.token(iss="enroll")).operator_id


def test_missing_issuer_is_refused_when_an_issuer_is_configured(issuer):
    verifier = TokenVerifier(issuer.public_pem, audience="seat-manager", issuer="enroll")
    error = _refused(verifier, issuer.token())
    assert (error.code, error.data) == (AUTH_CLAIM_MISSING, {"claim": "iss"})


@pytest.mark.parametrize("sub", ["", " operator", 42, "x" * 129])
def test_unusable_sub_is_refused_as_an_invalid_claim(issuer, verifier, sub):
    assert _refused(verifier, issuer.token(sub)).code == AUTH_CLAIM_INVALID


@pytest.mark.parametrize("jti", ["", 7, "j" * 129])
def test_unusable_jti_is_refused_as_an_invalid_claim(issuer, verifier, jti):
    assert _refused(verifier, issuer.token(jti=jti)).code == AUTH_CLAIM_INVALID


# ---- garbage -------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["a.b.c", "e30", "!!!.???.###", "eyJhbGciOiJFUzI1NiJ9..a"])
def test_garbage_tokens_are_refused_as_malformed(verifier, token):
    assert _refused(verifier, token).code == AUTH_MALFORMED


def test_garbage_payload_under_a_bad_signature_is_a_bad_signature_not_decoded(verifier):
    token = "eyJhbGciOiJFUzI1NiJ9.bm90IGpzb24.c2ln"  # {"alg":"ES256"}."not json".sig
    assert _refused(verifier, token).code == AUTH_BAD_SIGNATURE


def test_validly_signed_non_json_payload_is_refused_as_malformed(issuer, verifier):
    token = jwt.api_jws.PyJWS().encode(b"not json", issuer.key, algorithm="ES256")
    assert _refused(verifier, token).code == AUTH_MALFORMED


# ---- the Authorization header --------------------------------------------------------------


def test_no_authorization_header_is_auth_missing():
    with pytest.raises(AuthenticationFailed) as caught:
        bearer_token([])
    assert caught.value.code == AUTH_MISSING
    assert "error=" not in caught.value.challenge


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("", AUTH_MISSING),
        ("Basic dXNlcjpwYXNz", AUTH_WRONG_SCHEME),
        ("Token abc.def.ghi", AUTH_WRONG_SCHEME),
        ("abc.def.ghi", AUTH_WRONG_SCHEME),
        ("Bearer", AUTH_MALFORMED),
        ("Bearer a.b.c extra", AUTH_WRONG_SCHEME),
        ("Bearer not-a-jwt", AUTH_MALFORMED),
        ("Bearer " + "a" * 9000 + ".b.c", AUTH_MALFORMED),
    ],
)
def test_bad_authorization_header_gets_its_code(value, code):
    with pytest.raises(AuthenticationFailed) as caught:
        bearer_token([value])
    assert caught.value.code == code


def test_two_authorization_headers_are_refused_as_malformed():
    with pytest.raises(AuthenticationFailed) as caught:
        bearer_token(["Bearer a.b.c", "Bearer d.e.f"])
    assert caught.value.code == AUTH_MALFORMED


def test_bearer_scheme_is_case_insensitive():
    assert bearer_token(["bearer a.b.c"]) == "a.b.c"
    assert bearer_token(["BEARER  a.b.c "]) == "a.b.c"


def test_invalid_token_challenge_carries_the_rfc6750_error():
    assert 'error="invalid_token"' in AuthenticationFailed("x", code=AUTH_EXPIRED).challenge


# ---- algorithms follow the configured key ----------------------------------------------------


@pytest.mark.parametrize(
    ("curve", "expected"),
    [(ec.SECP256R1(), ("ES256",)), (ec.SECP384R1(), ("ES384",)), (ec.SECP521R1(), ("ES512",))],
)
def test_ec_key_pins_the_algorithm_of_its_curve(curve, expected):
    assert allowed_algorithms(ec_key(curve).public_key()) == expected


def test_rsa_key_pins_rs_and_ps_algorithms_only(rsa_issuer):
    algorithms = allowed_algorithms(rsa_issuer.key.public_key())
    assert set(algorithms) == {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}


def test_ed25519_key_pins_eddsa():
    assert allowed_algorithms(ed25519_key().public_key()) == ("EdDSA",)


def test_short_rsa_key_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="at least 2048 bits"):
        TokenVerifier(public_pem(rsa_key(1024)), audience="seat-manager")


def test_ec_curve_without_a_jws_algorithm_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="brainpoolP256r1"):
        TokenVerifier(public_pem(ec_key(ec.BrainpoolP256R1())), audience="seat-manager")


def test_unparseable_pem_is_a_configuration_error_without_echoing_it():
    with pytest.raises(ConfigurationError) as caught:
        TokenVerifier("-----BEGIN PUBLIC KEY-----\nsecretish\n", audience="seat-manager")
    assert "secretish" not in caught.value.message
