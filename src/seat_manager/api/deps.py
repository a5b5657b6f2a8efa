"""FastAPI dependencies: the container, and the operator a request authenticates as.

Everything comes from `request.app.state.container`, built once by the process; the
token verifier is built from its settings on first use and kept on `app.state`, so the
public key is parsed once and nothing is created at import.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from seat_manager.bootstrap import Container
from seat_manager.services.operator_auth import OperatorClaims, TokenVerifier, bearer_token

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="enrollmentJwt",
    description="JWT from the enrollment service; `sub` is the operator id",
)
"""Declares the scheme in OpenAPI only; the header is parsed by `bearer_token`, which
tells a missing header from a wrong scheme from a malformed token."""


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def token_verifier(request: Request) -> TokenVerifier:
    state = request.app.state
    verifier: TokenVerifier | None = getattr(state, "operator_token_verifier", None)
    if verifier is None:
        verifier = TokenVerifier.from_settings(get_container(request).settings)
        state.operator_token_verifier = verifier
    return verifier


def authenticated_operator(
    request: Request,
    _: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
) -> OperatorClaims:
    """The verified claims of the request's Bearer token; AuthenticationFailed otherwise.

    A plain (sync) function on purpose: FastAPI runs it in the threadpool, so signature
    verification never blocks the event loop.
    """
    token = bearer_token(request.headers.getlist("authorization"))
    return token_verifier(request).verify(token)


ContainerDep = Annotated[Container, Depends(get_container)]
OperatorDep = Annotated[OperatorClaims, Depends(authenticated_operator)]
