"""Operator API (SPEC §8): read a seat, enroll a validator, read the seat's status.

Routes only translate HTTP to service calls. Authentication failures become 401 with
`WWW-Authenticate: Bearer` here, in the route class, so the router carries its own 401
mapping wherever it is mounted (`app.include_router(router)` is all it needs); every
other error goes through the application's one error map (`api/errors.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from seat_manager.api.deps import ContainerDep, OperatorDep
from seat_manager.api.errors import error_body
from seat_manager.api.schemas_operator import EnrollmentIn, ErrorOut, SeatOut, SeatStatusOut
from seat_manager.services import enrollment, seat_views
from seat_manager.services.operator_auth import AuthenticationFailed

log = logging.getLogger("seat_manager.api.operator")

SeatIdPath = Annotated[str, Path(min_length=1, max_length=128)]


def unauthorized(exc: AuthenticationFailed) -> JSONResponse:
    return JSONResponse(
        error_body(exc.code, exc.message),
        status_code=401,
        headers={"WWW-Authenticate": exc.challenge},
    )


class OperatorRoute(APIRoute):
    """An APIRoute that answers AuthenticationFailed (from the auth dependency or from
    the jti check inside a service) with a 401 in the standard error shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except AuthenticationFailed as exc:
                log.info("operator request refused path=%s code=%s", request.url.path, exc.code)
                return unauthorized(exc)

        return guarded


_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in (
        (401, "missing or invalid token (AUTH_*)"),
        (404, "SEAT_NOT_FOUND: unknown seat, or a seat of another operator"),
        (422, "VALIDATION_FAILED: the request does not have the documented shape"),
    )
}

router = APIRouter(
    prefix="/v1/seats", tags=["operator"], route_class=OperatorRoute, responses=_ERRORS
)


@router.get("/{seat_id}", response_model=SeatOut)
async def get_seat(seat_id: SeatIdPath, operator: OperatorDep, container: ContainerDep) -> SeatOut:
    """The seat, its predicted vault and the withdrawal credentials to sign deposits with."""
    view = await seat_views.read_seat(container.uow, container.settings, operator, seat_id)
    return SeatOut.of(view)


@router.post(
    "/{seat_id}/enrollment",
    response_model=SeatOut,
    status_code=201,
    responses={
        200: {"model": SeatOut, "description": "already enrolled with exactly this request"},
        400: {"model": ErrorOut, "description": "BENEFICIARY_ADDRESS_INVALID"},
        409: {
            "model": ErrorOut,
            "description": "INVALID_TRANSITION, PUBKEY_ALREADY_DEPOSITED,"
            " PUBKEY_ALREADY_ENROLLED, SEAT_CHANGED_CONCURRENTLY",
        },
    },
)
async def enroll(
    seat_id: SeatIdPath,
    body: EnrollmentIn,
    operator: OperatorDep,
    container: ContainerDep,
    response: Response,
) -> SeatOut:
    """Enroll one validator on the seat: its deposit data is checked in full, then the
    seat becomes ENROLLED and its vault deployment and deposit are queued. The token's
    `jti` is used up by this call. 422 with a DEPOSIT_* code names what is wrong with the
    deposit data."""
    result = await enrollment.enroll(
        container.uow,
        container.settings,
        operator,
        seat_id,
        enrollment.EnrollmentRequest(
            beneficiary_address=body.beneficiary_address,
            deposit_data=body.deposit_data.model_dump(),
        ),
        now=datetime.now(UTC),
    )
    if not result.created:
        response.status_code = 200
    return SeatOut.of(result.seat)


@router.get("/{seat_id}/status", response_model=SeatStatusOut)
async def get_seat_status(
    seat_id: SeatIdPath, operator: OperatorDep, container: ContainerDep
) -> SeatStatusOut:
    """Status, queued/finished operations with their errors, claim signer readiness and
    the lifecycle evidence (every transition with its actor and evidence)."""
    view = await seat_views.read_seat_status(container.uow, container.settings, operator, seat_id)
    return SeatStatusOut.of(view)
