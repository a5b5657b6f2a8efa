"""One root error for everything the product refuses on purpose.

    SeatManagerError            code + message + data, mapped to HTTP in one place
     ├── ValidationFailed        bad input at an edge (400/422)
     ├── NotFound                an id that does not exist (404)
     ├── Forbidden               authenticated but not allowed (403)
     ├── Conflict                a rule of the store or lifecycle refuses (409)
     │    ├── InvalidTransition  a lifecycle/status machine refused a move
     │    └── OperatorAlreadyHasActiveSeat
     ├── DepositDataInvalid      a deposit-data check failed (422), one code per reason
     └── ConfigurationError      startup configuration is unusable (exit 2)

Each instance carries a stable ``code`` (an UPPER_SNAKE string operators and clients
match on), a human ``message`` and a ``data`` dict of non-secret details.
"""

from __future__ import annotations

from typing import Any, ClassVar


class SeatManagerError(Exception):
    default_code: ClassVar[str] = "SEAT_MANAGER_ERROR"

    def __init__(
        self, message: str, *, code: str | None = None, data: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.data: dict[str, Any] = dict(data or {})

    def __str__(self) -> str:
        return self.message


class ValidationFailed(SeatManagerError):
    default_code = "VALIDATION_FAILED"


class NotFound(SeatManagerError):
    default_code = "NOT_FOUND"


class Forbidden(SeatManagerError):
    default_code = "FORBIDDEN"


class Conflict(SeatManagerError):
    default_code = "CONFLICT"


class InvalidTransition(Conflict):
    default_code = "INVALID_TRANSITION"


class OperatorAlreadyHasActiveSeat(Conflict):
    default_code = "OPERATOR_ALREADY_HAS_ACTIVE_SEAT"


class DepositDataInvalid(SeatManagerError):
    default_code = "DEPOSIT_DATA_INVALID"


class ConfigurationError(SeatManagerError):
    default_code = "CONFIGURATION_ERROR"
