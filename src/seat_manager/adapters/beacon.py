"""The beacon node REST client (Beacon API), one per upstream node.

What the lifecycle watcher relies on:

- explicit connect/read/write/pool timeouts on every request;
- only transport trouble (connection failures, timeouts) is retried, a bounded number
  of times with backoff; an HTTP error status is the node's answer and is raised at
  once as ``BeaconHttpError`` with the status and the node's own message;
- every answer is validated into frozen pydantic models: a body that is not JSON or
  not the documented shape raises ``BeaconResponseInvalid``, never KeyError;
- errors and ``repr`` name the node as scheme://host:port only: provider URLs carry
  API keys in their user-info, path or query.

Validators are looked up by pubkey with ``POST .../validators {"ids": [...]}``, in
batches of ``batch_size``. Nodes that predate the POST form answer 404/405; the client
then uses ``GET ...?id=a,b`` (in chunks small enough for common URL length limits)
and remembers that for the rest of its life.

    BeaconError               (SeatManagerError)
     ├── BeaconTransportError no HTTP answer after the retries
     ├── BeaconHttpError      the node answered with a non-2xx status
     └── BeaconResponseInvalid an answer that is not the documented shape
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, TypeVar

import httpx
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    ValidationError,
)

from seat_manager.adapters.chain.rpc import RetryPolicy, endpoint_label
from seat_manager.domain.errors import SeatManagerError
from seat_manager.domain.types import Slot

VALIDATORS_PATH = "/eth/v1/beacon/states/{state_id}/validators"
PENDING_DEPOSITS_PATH = "/eth/v1/beacon/states/{state_id}/pending_deposits"
HEAD_HEADER_PATH = "/eth/v1/beacon/headers/head"
SYNCING_PATH = "/eth/v1/node/syncing"

DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=10.0, pool=5.0)
POST_UNSUPPORTED_STATUS = frozenset({404, 405})
QUEUE_UNSUPPORTED_STATUS = frozenset({400, 404, 501})
GET_MAX_IDS = 50
"""50 pubkeys make a ~5 kB query string, under the 8 kB request line many proxies allow."""

_STATE_ID = re.compile(r"^(head|genesis|finalized|justified|\d{1,20}|0x[0-9a-fA-F]{64})$")
_UINT64 = re.compile(r"^[0-9]{1,20}$")


class BeaconError(SeatManagerError):
    default_code = "BEACON_ERROR"


class BeaconTransportError(BeaconError):
    default_code = "BEACON_TRANSPORT_ERROR"


class BeaconHttpError(BeaconError):
    """The node answered ``status``; ``node_message`` is the ``message`` of its body."""

    default_code = "BEACON_HTTP_ERROR"

    def __init__(self, label: str, endpoint: str, status: int, node_message: str) -> None:
        super().__init__(
            f"{label}: HTTP {status} from {endpoint}: {node_message}",
            data={
                "request": label,
                "endpoint": endpoint,
                "status": status,
                "node_message": node_message,
            },
        )
        self.status = status
        self.node_message = node_message


class BeaconResponseInvalid(BeaconError):
    default_code = "BEACON_RESPONSE_INVALID"


# ---- response models -------------------------------------------------------------------


def _uint64(value: object) -> int:
    """The Beacon API sends uint64 as decimal strings; plain JSON integers are accepted."""
    if isinstance(value, str) and _UINT64.match(value):
        number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        raise ValueError("must be a uint64 as a decimal string")
    if not 0 <= number < 2**64:
        raise ValueError("out of uint64 range")
    return number


def _hex_bytes(length: int) -> Callable[[object], str]:
    pattern = re.compile(rf"^0x[0-9a-fA-F]{{{2 * length}}}$")

    def check(value: object) -> str:
        if not isinstance(value, str) or not pattern.match(value):
            raise ValueError(f"must be 0x followed by {2 * length} hex characters")
        return value.lower()

    return check


Uint64 = Annotated[int, BeforeValidator(_uint64)]
PubkeyHex = Annotated[str, BeforeValidator(_hex_bytes(48))]
Bytes32Hex = Annotated[str, BeforeValidator(_hex_bytes(32))]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class ValidatorFields(_Model):
    pubkey: PubkeyHex
    withdrawal_credentials: Bytes32Hex
    effective_balance: Uint64
    slashed: StrictBool
    activation_eligibility_epoch: Uint64
    activation_epoch: Uint64
    exit_epoch: Uint64
    withdrawable_epoch: Uint64


class Validator(_Model):
    """One entry of ``.../validators``; ``status`` is mapped by the domain."""

    index: Uint64
    balance: Uint64
    status: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    validator: ValidatorFields


class StateValidators(_Model):
    execution_optimistic: StrictBool = False
    finalized: StrictBool = False
    data: tuple[Validator, ...]


class PendingDeposit(_Model):
    pubkey: PubkeyHex
    withdrawal_credentials: Bytes32Hex
    amount: Uint64
    slot: Uint64


class PendingDeposits(_Model):
    execution_optimistic: StrictBool = False
    finalized: StrictBool = False
    data: tuple[PendingDeposit, ...]


class _HeaderMessage(_Model):
    slot: Uint64
    state_root: Bytes32Hex


class _SignedHeader(_Model):
    message: _HeaderMessage


class _HeaderData(_Model):
    root: Bytes32Hex
    header: _SignedHeader


class _HeaderResponse(_Model):
    execution_optimistic: StrictBool = False
    finalized: StrictBool = False
    data: _HeaderData


class HeadHeader(_Model):
    slot: int
    root: str
    state_root: str
    execution_optimistic: bool
    finalized: bool


class SyncStatus(_Model):
    head_slot: Uint64
    sync_distance: Uint64
    is_syncing: StrictBool
    is_optimistic: StrictBool = False
    el_offline: StrictBool = False


class _SyncResponse(_Model):
    data: SyncStatus


M = TypeVar("M", bound=BaseModel)


# ---- client --------------------------------------------------------------------------


class BeaconClient:
    """Use as ``async with BeaconClient(url, batch_size=...) as beacon: ...``."""

    def __init__(
        self,
        url: str,
        *,
        batch_size: int = 100,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if batch_size <= 0:
            raise ValueError("batch_size must be positive")
        self.endpoint = endpoint_label(url)
        self.batch_size = batch_size
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._use_get: bool = False
        self._http = httpx.AsyncClient(
            base_url=url.rstrip("/") + "/",
            timeout=timeout,
            transport=transport,
            headers={"accept": "application/json"},
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"BeaconClient({self.endpoint})"

    async def __aenter__(self) -> BeaconClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # ---- endpoints -----------------------------------------------------------------------

    async def get_validators(
        self, pubkeys: Sequence[str], state_id: str = "head"
    ) -> StateValidators:
        """The validators among ``pubkeys`` (unknown pubkeys are simply absent)."""
        wanted = [_check_pubkey(p) for p in pubkeys]
        if not wanted:
            return StateValidators(data=())
        found: list[Validator] = []
        optimistic, finalized = False, True
        for start in range(0, len(wanted), self.batch_size):
            batch = wanted[start : start + self.batch_size]
            for answer in await self._validators_batch(batch, _state(state_id)):
                found.extend(answer.data)
                optimistic = optimistic or answer.execution_optimistic
                finalized = finalized and answer.finalized
        _check_requested(found, set(wanted))
        return StateValidators(
            execution_optimistic=optimistic, finalized=finalized, data=tuple(found)
        )

    async def get_head(self) -> HeadHeader:
        answer = await self._get(HEAD_HEADER_PATH, "headers/head", _HeaderResponse)
        return HeadHeader(
            slot=answer.data.header.message.slot,
            root=answer.data.root,
            state_root=answer.data.header.message.state_root,
            execution_optimistic=answer.execution_optimistic,
            finalized=answer.finalized,
        )

    async def get_head_slot(self) -> Slot:
        return Slot((await self.get_head()).slot)

    async def get_syncing(self) -> SyncStatus:
        return (await self._get(SYNCING_PATH, "node/syncing", _SyncResponse)).data

    async def get_pending_deposits(self, state_id: str = "head") -> PendingDeposits | None:
        """The Electra pending deposits queue, or None where the node does not serve it."""
        path = PENDING_DEPOSITS_PATH.format(state_id=_state(state_id))
        try:
            return await self._get(path, "pending_deposits", PendingDeposits)
        except BeaconHttpError as exc:
            if exc.status in QUEUE_UNSUPPORTED_STATUS:
                return None
            raise

    # ---- plumbing ------------------------------------------------------------------------

    async def _validators_batch(self, batch: list[str], state: str) -> list[StateValidators]:
        path = VALIDATORS_PATH.format(state_id=state)
        if not self._use_get:
            try:
                response = await self._send("POST", path, "validators", body={"ids": batch})
                return [_parse(response, StateValidators, "validators", self.endpoint)]
            except BeaconHttpError as exc:
                if exc.status not in POST_UNSUPPORTED_STATUS:
                    raise
        answers = [
            await self._get(
                f"{path}?id={','.join(batch[i : i + GET_MAX_IDS])}", "validators", StateValidators
            )
            for i in range(0, len(batch), GET_MAX_IDS)
        ]
        self._use_get = True
        return answers

    async def _get(self, path: str, label: str, model: type[M]) -> M:
        return _parse(await self._send("GET", path, label), model, label, self.endpoint)

    async def _send(
        self, method: str, path: str, label: str, *, body: Any = None
    ) -> httpx.Response:
        content = None if body is None else json.dumps(body, separators=(",", ":"))
        headers = {} if body is None else {"content-type": "application/json"}
        failure = ""
        for attempt in range(1, self._retry.attempts + 1):
            if attempt > 1:
                await self._sleep(self._retry.delay(attempt - 1))
            try:
                response = await self._http.request(
                    method, path.lstrip("/"), content=content, headers=headers
                )
            except httpx.TransportError as exc:
                failure = type(exc).__name__
                continue
            if not response.is_success:
                raise BeaconHttpError(
                    label, self.endpoint, response.status_code, _node_message(response)
                )
            return response
        raise BeaconTransportError(
            f"{label}: {failure} from {self.endpoint} after {self._retry.attempts} attempt(s)",
            data={"request": label, "endpoint": self.endpoint, "failure": failure},
        )


def _parse(response: httpx.Response, model: type[M], label: str, endpoint: str) -> M:
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        raise BeaconResponseInvalid(
            f"{label}: answer from {endpoint} is not JSON",
            data={"request": label, "endpoint": endpoint},
        ) from None
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '<body>'}: {error['msg']}"
            for error in exc.errors(include_url=False, include_input=False)[:3]
        )
        raise BeaconResponseInvalid(
            f"{label}: unexpected answer shape from {endpoint}: {problems}",
            data={"request": label, "endpoint": endpoint, "problems": problems},
        ) from None


def _node_message(response: httpx.Response) -> str:
    """The ``message`` of a Beacon API error body, else the reason phrase."""
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        body = None
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(message, str) or not message.strip():
        message = response.reason_phrase or "no message"
    return message.strip()[:200]


def _check_requested(found: Sequence[Validator], wanted: set[str]) -> None:
    """A validator we did not ask for, or one answered twice, means a confused node."""
    seen: set[str] = set()
    for entry in found:
        pubkey = entry.validator.pubkey
        if pubkey not in wanted or pubkey in seen:
            raise BeaconResponseInvalid(
                f"validators: answer has an unrequested or repeated pubkey {pubkey[:18]}…",
                data={"request": "validators", "pubkey": pubkey},
            )
        seen.add(pubkey)


_check_pubkey = _hex_bytes(48)


def _state(state_id: str) -> str:
    if not _STATE_ID.match(state_id):
        raise ValueError(f"not a beacon state id: {state_id[:80]!r}")
    return state_id
