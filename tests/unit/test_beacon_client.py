"""The beacon REST client against scripted answers (httpx.MockTransport: no socket)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from seat_manager.adapters.beacon import (
    GET_MAX_IDS,
    BeaconClient,
    BeaconHttpError,
    BeaconResponseInvalid,
    BeaconTransportError,
)
from seat_manager.adapters.chain.rpc import RetryPolicy

URL = "https://user:s3cret@beacon.example:5052/key-abc123"
CREDS = "0x01" + "00" * 11 + "ab" * 20


def pubkey(n: int) -> str:
    return "0x" + n.to_bytes(48, "big").hex()


def validator_json(n: int, status: str = "active_ongoing", **overrides: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "index": str(n),
        "balance": "32000000000",
        "status": status,
        "validator": {
            "pubkey": pubkey(n),
            "withdrawal_credentials": CREDS,
            "effective_balance": "32000000000",
            "slashed": False,
            "activation_eligibility_epoch": "1",
            "activation_epoch": "2",
            "exit_epoch": "18446744073709551615",
            "withdrawable_epoch": "18446744073709551615",
        },
    }
    entry.update(overrides)
    return entry


Handler = Callable[[httpx.Request], httpx.Response]


async def no_sleep(_seconds: float) -> None:
    return None


def make(handler: Handler, **kwargs: Any) -> tuple[BeaconClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    kwargs.setdefault("retry", RetryPolicy(attempts=3, initial_delay=0.0))
    return BeaconClient(URL, transport=httpx.MockTransport(record), sleep=no_sleep, **kwargs), seen


def echo_validators(request: httpx.Request) -> httpx.Response:
    if request.method == "POST":
        ids = json.loads(request.content)["ids"]
    else:
        ids = request.url.params["id"].split(",")
    data = [validator_json(int(i, 16)) for i in ids]
    return httpx.Response(
        200, json={"execution_optimistic": False, "finalized": True, "data": data}
    )


async def test_validators_are_parsed_into_typed_frozen_objects():
    client, seen = make(echo_validators)
    answer = await client.get_validators([pubkey(5).upper().replace("0X", "0x")])

    (entry,) = answer.data
    assert (entry.index, entry.status, entry.balance) == (5, "active_ongoing", 32 * 10**9)
    assert entry.validator.pubkey == pubkey(5)
    assert entry.validator.exit_epoch == 2**64 - 1
    assert entry.validator.slashed is False
    assert answer.finalized is True and answer.execution_optimistic is False
    assert seen[0].url.path == "/key-abc123/eth/v1/beacon/states/head/validators"
    assert json.loads(seen[0].content) == {"ids": [pubkey(5)]}
    with pytest.raises(ValueError, match="frozen"):
        entry.index = 6  # type: ignore[misc]


async def test_url_user_info_becomes_basic_auth_and_never_appears_in_errors():
    client, seen = make(lambda r: httpx.Response(503, json={"code": 503, "message": "busy"}))
    with pytest.raises(BeaconHttpError) as caught:
        await client.get_head()

    assert seen[0].headers["authorization"].startswith("Basic ")
    text = f"{caught.value} {caught.value.data} {client!r}"
    assert "s3cret" not in text and "key-abc123" not in text and "user" not in text
    assert "https://beacon.example:5052" in str(caught.value)


async def test_an_http_error_keeps_the_status_and_the_node_message_and_is_not_retried():
    client, seen = make(
        lambda r: httpx.Response(400, json={"code": 400, "message": "Invalid state ID: nope"})
    )
    with pytest.raises(BeaconHttpError) as caught:
        await client.get_validators([pubkey(1)])

    assert (caught.value.status, caught.value.node_message) == (400, "Invalid state ID: nope")
    assert caught.value.code == "BEACON_HTTP_ERROR"
    assert len(seen) == 1


async def test_transport_failures_are_retried_a_bounded_number_of_times():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client, seen = make(refuse, retry=RetryPolicy(attempts=3, initial_delay=0.0))
    with pytest.raises(BeaconTransportError, match="ConnectError .* after 3 attempt"):
        await client.get_syncing()
    assert len(seen) == 3


async def test_a_transport_failure_followed_by_an_answer_succeeds():
    answers = iter(
        [
            None,
            {
                "data": {
                    "head_slot": "12",
                    "sync_distance": "0",
                    "is_syncing": False,
                    "is_optimistic": False,
                    "el_offline": False,
                }
            },
        ]
    )

    def flaky(request: httpx.Request) -> httpx.Response:
        body = next(answers)
        if body is None:
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(200, json=body)

    client, _ = make(flaky)
    status = await client.get_syncing()
    assert (status.head_slot, status.is_syncing) == (12, False)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"<html>gateway</html>", "not JSON"),
        (b'{"data": [{"index": "1",', "not JSON"),
        (json.dumps({"data": {"not": "a list"}}).encode(), "data"),
        (json.dumps({"data": [validator_json(1, index="-1")]}).encode(), "index"),
        (json.dumps({"data": [validator_json(1, index="0x1")]}).encode(), "index"),
        (json.dumps({"data": [validator_json(1, status="")]}).encode(), "status"),
        (
            json.dumps({"data": [{**validator_json(1), "validator": {"pubkey": "0x12"}}]}).encode(),
            "pubkey",
        ),
        (json.dumps({"data": [validator_json(1, status=None)]}).encode(), "status"),
        (json.dumps([1, 2, 3]).encode(), "<body>"),
    ],
    ids=[
        "html",
        "truncated",
        "data-not-list",
        "negative",
        "hex-index",
        "empty-status",
        "short-pubkey",
        "null-status",
        "array-body",
    ],
)
async def test_an_unexpected_shape_is_a_typed_error_not_a_crash(body: bytes, problem: str):
    client, _ = make(lambda r: httpx.Response(200, content=body))
    with pytest.raises(BeaconResponseInvalid, match=problem) as caught:
        await client.get_validators([pubkey(1)])
    assert caught.value.code == "BEACON_RESPONSE_INVALID"


async def test_a_slashed_flag_that_is_not_a_json_boolean_is_refused():
    entry = validator_json(1)
    entry["validator"]["slashed"] = "false"
    client, _ = make(lambda r: httpx.Response(200, json={"data": [entry]}))
    with pytest.raises(BeaconResponseInvalid, match="slashed"):
        await client.get_validators([pubkey(1)])


async def test_an_unrequested_pubkey_in_the_answer_is_refused():
    client, _ = make(lambda r: httpx.Response(200, json={"data": [validator_json(9)]}))
    with pytest.raises(BeaconResponseInvalid, match="unrequested or repeated"):
        await client.get_validators([pubkey(1)])


async def test_pubkeys_are_sent_in_batches_of_the_batch_size():
    client, seen = make(echo_validators, batch_size=3)
    answer = await client.get_validators([pubkey(n) for n in range(1, 8)])

    assert [len(json.loads(r.content)["ids"]) for r in seen] == [3, 3, 1]
    assert [v.index for v in answer.data] == list(range(1, 8))


async def test_a_node_refusing_post_is_asked_with_get_from_then_on():
    def no_post(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(405, json={"code": 405, "message": "Method Not Allowed"})
        return echo_validators(request)

    client, seen = make(no_post, batch_size=GET_MAX_IDS * 2 + 5)
    first = await client.get_validators([pubkey(n) for n in range(1, GET_MAX_IDS * 2 + 6)])
    await client.get_validators([pubkey(1)])

    assert [r.method for r in seen] == ["POST", "GET", "GET", "GET", "GET"]
    assert [len(r.url.params["id"].split(",")) for r in seen[1:]] == [
        GET_MAX_IDS,
        GET_MAX_IDS,
        5,
        1,
    ]
    assert b"," in seen[1].url.raw_path  # ids=a,b,c as the Beacon API documents
    assert len(first.data) == GET_MAX_IDS * 2 + 5


async def test_a_state_not_found_on_post_and_get_is_raised_and_post_is_kept():
    def missing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"code": 404, "message": "State not found"})

    client, seen = make(missing)
    with pytest.raises(BeaconHttpError, match="State not found"):
        await client.get_validators([pubkey(1)])
    with pytest.raises(BeaconHttpError):
        await client.get_validators([pubkey(1)])
    assert [r.method for r in seen] == ["POST", "GET", "POST", "GET"]


async def test_no_pubkeys_means_no_request():
    client, seen = make(echo_validators)
    assert (await client.get_validators([])).data == ()
    assert seen == []


@pytest.mark.parametrize("bad", ["0x1234", pubkey(1)[:-1] + "g", "ab" * 48])
async def test_a_malformed_pubkey_is_refused_before_any_request(bad: str):
    client, seen = make(echo_validators)
    with pytest.raises(ValueError):
        await client.get_validators([bad])
    assert seen == []


@pytest.mark.parametrize("state_id", ["../../eth/v1/node", "head?x=1", ""])
async def test_a_state_id_that_could_rewrite_the_path_is_refused(state_id: str):
    client, seen = make(echo_validators)
    with pytest.raises(ValueError, match="state id"):
        await client.get_validators([pubkey(1)], state_id=state_id)
    assert seen == []


async def test_the_head_header_gives_slot_root_and_flags():
    body = {
        "execution_optimistic": True,
        "finalized": False,
        "data": {
            "root": "0x" + "AA" * 32,
            "canonical": True,
            "header": {
                "message": {
                    "slot": "8123",
                    "proposer_index": "1",
                    "parent_root": "0x" + "11" * 32,
                    "state_root": "0x" + "22" * 32,
                    "body_root": "0x" + "33" * 32,
                },
                "signature": "0x" + "00" * 96,
            },
        },
    }
    client, seen = make(lambda r: httpx.Response(200, json=body))
    head = await client.get_head()

    assert (head.slot, head.root, head.execution_optimistic) == (8123, "0x" + "aa" * 32, True)
    assert await client.get_head_slot() == 8123
    assert seen[0].url.path.endswith("/eth/v1/beacon/headers/head")


async def test_pending_deposits_are_parsed_where_the_node_serves_them():
    body = {
        "version": "electra",
        "execution_optimistic": False,
        "finalized": False,
        "data": [
            {
                "pubkey": pubkey(3),
                "withdrawal_credentials": CREDS,
                "amount": "32000000000",
                "signature": "0x" + "00" * 96,
                "slot": "77",
            }
        ],
    }
    client, seen = make(lambda r: httpx.Response(200, json=body))
    queue = await client.get_pending_deposits()

    assert queue is not None
    assert [(d.pubkey, d.amount, d.slot) for d in queue.data] == [(pubkey(3), 32 * 10**9, 77)]
    assert seen[0].url.path.endswith("/eth/v1/beacon/states/head/pending_deposits")


@pytest.mark.parametrize("status", [400, 404, 501])
async def test_pending_deposits_not_served_by_the_node_is_none(status: int):
    client, _ = make(lambda r: httpx.Response(status, json={"code": status, "message": "no"}))
    assert await client.get_pending_deposits() is None


async def test_pending_deposits_server_error_is_still_an_error():
    client, _ = make(lambda r: httpx.Response(500, json={"code": 500, "message": "boom"}))
    with pytest.raises(BeaconHttpError) as caught:
        await client.get_pending_deposits()
    assert caught.value.status == 500
