"""SEAT_MANAGER_CREATED_SEATS_JSON: the seats to seed at start, parsed with the runbook's
messages ("must be a JSON array", "Each seed seat must include non-empty seatId and
operatorId")."""

from __future__ import annotations

import json
from dataclasses import dataclass

from seat_manager.domain.types import OperatorId, SeatId

_SEAT_ID_MAX = 128


@dataclass(frozen=True)
class SeedSeat:
    seat_id: SeatId
    operator_id: OperatorId


def parse_seed_seats(raw: str | None) -> list[SeedSeat]:
    """Parse SEAT_MANAGER_CREATED_SEATS_JSON with the runbook's messages."""
    if raw is None or not raw.strip():
        return []
    try:
        rows = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"SEAT_MANAGER_CREATED_SEATS_JSON must be a JSON array (not valid JSON: {exc.msg})"
        ) from None
    if not isinstance(rows, list):
        raise ValueError("SEAT_MANAGER_CREATED_SEATS_JSON must be a JSON array")
    seats: list[SeedSeat] = []
    owner_by_seat: dict[str, str] = {}
    for index, row in enumerate(rows):
        seat_id = row.get("seatId") if isinstance(row, dict) else None
        operator_id = row.get("operatorId") if isinstance(row, dict) else None
        if not (isinstance(seat_id, str) and seat_id.strip()) or not (
            isinstance(operator_id, str) and operator_id.strip()
        ):
            raise ValueError(
                f"Each seed seat must include non-empty seatId and operatorId (entry {index})"
            )
        for label, value in (("seatId", seat_id), ("operatorId", operator_id)):
            if value != value.strip() or len(value) > _SEAT_ID_MAX or not value.isprintable():
                raise ValueError(
                    f"SEAT_MANAGER_CREATED_SEATS_JSON entry {index}: {label} must be at most"
                    f" {_SEAT_ID_MAX} printable characters without surrounding spaces"
                )
        if owner_by_seat.setdefault(seat_id, operator_id) != operator_id:
            raise ValueError(
                f"SEAT_MANAGER_CREATED_SEATS_JSON lists seat {seat_id} for two operators"
            )
        seats.append(SeedSeat(SeatId(seat_id), OperatorId(operator_id)))
    return seats
