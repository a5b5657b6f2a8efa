"""Operator API over HTTP (ASGI) on a real store of each driver: seat reads, enrollment,
status, and every refusal leaving the store exactly as it was."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from seat_manager.adapters.db import migrator
from seat_manager.adapters.db.tables import (
    AuditEventRow,
    ElDepositRow,
    OperationRow,
    SeatEventRow,
    SeatRow,
    UsedJwtIdRow,
)
from seat_manager.api.app import create_app
from seat_manager.bootstrap import Container, open_store
from seat_manager.config import SeedSeat, load_settings
from seat_manager.domain.types import OperatorId, SeatId
from seat_manager.domain.vaults import predict_vault_address, withdrawal_credentials
from seat_manager.services.seeding import seed_created_seats
from tests.support.cli import ANVIL_ACCOUNT_0, runtime_env
from tests.support.deposit_data import DepositDataEntry, make_deposit_data
from tests.support.jwt_tokens import TokenIssuer, ec_key

FORK = bytes.fromhex("20000089")
"""The configured genesis fork version of this test chain (CHAIN_ID 31337 is not public)."""
OTHER_FORK = bytes(4)
ANVIL_KEY_0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
BENEFICIARY = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
SEATS = {"seat_a": "operator_a", "seat_b": "operator_b"}
KEY_A, KEY_B = 4242, 4343
ISSUER = TokenIssuer(ec_key())
TABLES = (SeatRow, SeatEventRow, UsedJwtIdRow, OperationRow, AuditEventRow)


@cache
def _entry(
    secret: int, credentials: bytes, amount_gwei: int = 32 * 10**9, fork: bytes = FORK
) -> DepositDataEntry:
    """py_ecc signing is slow: each distinct entry is built once per test run."""
    return make_deposit_data(secret, credentials, amount_gwei=amount_gwei, fork_version=fork)


@dataclass
class Api:
    client: httpx.AsyncClient
    container: Container
    env: dict[str, str]

    def vault(self, seat_id: str) -> str:
        return predict_vault_address(
            self.env["VAULT_FACTORY_ADDRESS"], seat_id, self.env["VAULT_INIT_CODE_HASH"]
        )

    def credentials(self, seat_id: str) -> bytes:
        return withdrawal_credentials(self.vault(seat_id))

    def entry(self, seat_id: str, secret: int = KEY_A, **kwargs: Any) -> DepositDataEntry:
        return _entry(secret, self.credentials(seat_id), **kwargs)

    async def enroll(
        self, seat_id: str, body: Any, operator: str | None = None, **claims: Any
    ) -> httpx.Response:
        headers = ISSUER.header(operator or SEATS.get(seat_id, "operator_a"), **claims)
        return await self.client.post(f"/v1/seats/{seat_id}/enrollment", json=body, headers=headers)

    async def rows(self, table: Any) -> list[Any]:
        async with self.container.uow() as uow:
            rows = list((await uow.session.execute(select(table))).scalars())
            uow.session.expunge_all()  # keep loaded values readable after the rollback
            return rows

    async def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        state = {}
        async with self.container.engine.connect() as conn:
            for table in TABLES:
                columns = table.__table__.c
                result = await conn.execute(select(columns).order_by(*table.__table__.primary_key))
                state[table.__tablename__] = [tuple(row) for row in result]
        return state


def body(
    entry: DepositDataEntry | dict[str, Any], beneficiary: str = BENEFICIARY
) -> dict[str, Any]:
    data = entry.as_json() if isinstance(entry, DepositDataEntry) else entry
    return {"beneficiary_address": beneficiary, "deposit_data": data}


async def _start(store_env: dict[str, str], **extra: str) -> tuple[Container, dict[str, str]]:
    env = {
        **runtime_env(),
        **store_env,
        "ENROLLMENT_JWT_PUBLIC_KEY_PEM": ISSUER.public_pem,
        "SEAT_MANAGER_GENESIS_FORK_VERSION": "0x" + FORK.hex(),
        **extra,
    }
    container = await open_store(load_settings(env, env_file=None))
    await migrator.migrate(container.engine)
    seeds = [SeedSeat(SeatId(s), OperatorId(o)) for s, o in SEATS.items()]
    await seed_created_seats(container.uow, seeds, datetime.now(UTC))
    return container, env


@pytest.fixture
async def api(store_env: dict[str, str]) -> AsyncIterator[Api]:
    container, env = await _start(store_env)
    transport = httpx.ASGITransport(app=create_app(container))
    async with httpx.AsyncClient(transport=transport, base_url="http://seat-manager") as client:
        yield Api(client, container, env)
    await container.close()


def _error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    payload = response.json()
    assert payload["ok"] is False and set(payload["error"]) == {"code", "message"}
    assert payload["error"]["message"]
    return str(payload["error"]["code"])


# ---- reading a seat ----------------------------------------------------------------------


async def test_seat_read_by_its_operator_shows_predicted_vault_and_credentials(api: Api):
    response = await api.client.get("/v1/seats/seat_a", headers=ISSUER.header("operator_a"))
    assert response.status_code == 200, response.text
    seat = response.json()
    vault = api.vault("seat_a")
    assert seat["seat_id"] == "seat_a" and seat["operator_id"] == "operator_a"
    assert seat["status"] == "CREATED"
    assert seat["vault_address"] == vault and vault != vault.lower()
    assert seat["withdrawal_credentials"] == "0x01" + "00" * 11 + vault[2:].lower()
    assert seat["validator_pubkey"] is None


async def test_another_operators_seat_reads_as_404_exactly_like_an_unknown_seat(api: Api):
    other = await api.client.get("/v1/seats/seat_b", headers=ISSUER.header("operator_a"))
    unknown = await api.client.get("/v1/seats/seat_zz", headers=ISSUER.header("operator_a"))
    assert _error(other, 404) == _error(unknown, 404) == "SEAT_NOT_FOUND"
    assert other.json()["error"]["message"].replace("seat_b", "X") == (
        unknown.json()["error"]["message"].replace("seat_zz", "X")
    )


async def test_seat_read_without_a_token_is_401_with_a_bearer_challenge(api: Api):
    response = await api.client.get("/v1/seats/seat_a")
    assert _error(response, 401) == "AUTH_MISSING"
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_seat_read_with_an_expired_token_is_401_auth_expired(api: Api):
    now = int(datetime.now(UTC).timestamp())
    headers = ISSUER.header("operator_a", iat=now - 900, exp=now - 120)
    response = await api.client.get("/v1/seats/seat_a", headers=headers)
    assert _error(response, 401) == "AUTH_EXPIRED"
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


# ---- enrolling ----------------------------------------------------------------------------


async def test_valid_enrollment_enrolls_queues_operations_and_uses_the_jti_in_one_go(api: Api):
    entry = api.entry("seat_a")
    response = await api.enroll("seat_a", body(entry), jti="jti-enroll-1")
    assert response.status_code == 201, response.text
    seat = response.json()
    assert seat["status"] == "ENROLLED"
    assert seat["validator_pubkey"] == "0x" + entry.pubkey.hex()
    assert seat["beneficiary_address"] == BENEFICIARY

    row = next(r for r in await api.rows(SeatRow) if r.seat_id == "seat_a")
    assert row.status == "ENROLLED" and row.vault_address == api.vault("seat_a")
    assert row.deposit_data["deposit_data_root"] == "0x" + entry.deposit_data_root.hex()
    assert row.deposit_data["signature"] == "0x" + entry.signature.hex()

    [event] = [e for e in await api.rows(SeatEventRow) if e.to_status == "ENROLLED"]
    assert (event.from_status, event.actor) == ("CREATED", "operator:operator_a")
    assert event.evidence == {
        "jti": "jti-enroll-1",
        "pubkey": "0x" + entry.pubkey.hex(),
        "deposit_data_root": "0x" + entry.deposit_data_root.hex(),
    }
    [used] = await api.rows(UsedJwtIdRow)
    assert (used.jti, used.operator_id) == ("jti-enroll-1", "operator_a")
    kept_for = (used.expires_at - datetime.now(UTC)).total_seconds()
    assert 600 < kept_for <= 660  # the token's exp (now + 600 s) plus the 60 s leeway

    operations = {op.kind: op for op in await api.rows(OperationRow)}
    assert set(operations) == {"DEPLOY_VAULT", "DEPOSIT"}
    assert all(op.status == "queued" and op.seat_id == "seat_a" for op in operations.values())
    assert operations["DEPLOY_VAULT"].payload == {
        "seat_id": "seat_a",
        "vault_address": api.vault("seat_a"),
        "beneficiary_address": BENEFICIARY,
        "principal_destination_address": ANVIL_ACCOUNT_0,
    }
    assert operations["DEPOSIT"].payload == {
        "seat_id": "seat_a",
        "vault_address": api.vault("seat_a"),
        "pubkey": "0x" + entry.pubkey.hex(),
        "withdrawal_credentials": "0x" + entry.withdrawal_credentials.hex(),
        "signature": "0x" + entry.signature.hex(),
        "deposit_data_root": "0x" + entry.deposit_data_root.hex(),
        "amount_gwei": 32 * 10**9,
    }
    audit = [a for a in await api.rows(AuditEventRow) if a.event_type == "seat.enrolled"]
    assert len(audit) == 1 and audit[0].subject_id == "seat_a"


async def test_status_shows_queued_operations_signer_readiness_and_lifecycle_evidence(api: Api):
    assert (await api.enroll("seat_a", body(api.entry("seat_a")))).status_code == 201
    response = await api.client.get("/v1/seats/seat_a/status", headers=ISSUER.header("operator_a"))
    assert response.status_code == 200, response.text
    status = response.json()
    assert status["status"] == "ENROLLED" and status["vault_address"] == api.vault("seat_a")
    assert [op["kind"] for op in status["operations"]] == ["DEPLOY_VAULT", "DEPOSIT"]
    assert all(
        op["operation_id"].startswith("op_")
        and op["status"] == "queued"
        and op["error_code"] is None
        and op["error_message"] is None
        for op in status["operations"]
    )
    assert status["claim_signer_ready"] is False
    moves = [(e["from"], e["to"], e["actor"]) for e in status["lifecycle"]]
    assert moves == [
        (None, "CREATED", "seeder:startup"),
        ("CREATED", "ENROLLED", "operator:operator_a"),
    ]
    assert status["lifecycle"][1]["evidence"]["pubkey"].startswith("0x")


async def test_status_of_another_operators_seat_is_404(api: Api):
    response = await api.client.get("/v1/seats/seat_b/status", headers=ISSUER.header("operator_a"))
    assert _error(response, 404) == "SEAT_NOT_FOUND"


async def test_owner_key_also_queues_the_claim_executor_grant_for_the_signer(
    store_env: dict[str, str],
):
    container, env = await _start(
        store_env,
        SEAT_MANAGER_OWNER_PRIVATE_KEY=ANVIL_KEY_0,
        SEAT_MANAGER_CLAIM_EXECUTOR_GRANT_EXPIRES_AT_UNIX="1900000000",
    )
    try:
        transport = httpx.ASGITransport(app=create_app(container))
        async with httpx.AsyncClient(transport=transport, base_url="http://sm") as client:
            api = Api(client, container, env)
            assert (await api.enroll("seat_a", body(api.entry("seat_a")))).status_code == 201
            grant = next(
                op for op in await api.rows(OperationRow) if op.kind == "GRANT_CLAIM_EXECUTOR"
            )
            assert grant.payload == {
                "seat_id": "seat_a",
                "vault_address": api.vault("seat_a"),
                "executor": ANVIL_ACCOUNT_0,
                "expires_at": 1900000000,
            }
            status = (
                await client.get("/v1/seats/seat_a/status", headers=ISSUER.header("operator_a"))
            ).json()
            assert status["claim_signer_ready"] is True
    finally:
        await container.close()


async def test_same_request_with_a_fresh_token_is_idempotent_200_and_queues_nothing_more(api: Api):
    request = body(api.entry("seat_a"))
    assert (await api.enroll("seat_a", request)).status_code == 201
    operations = await api.rows(OperationRow)
    again = await api.enroll("seat_a", request, jti="jti-second")
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "ENROLLED"
    assert len(await api.rows(OperationRow)) == len(operations)
    assert "jti-second" in {u.jti for u in await api.rows(UsedJwtIdRow)}
    assert len([e for e in await api.rows(SeatEventRow) if e.to_status == "ENROLLED"]) == 1


async def test_other_deposit_data_on_an_enrolled_seat_is_409_and_changes_nothing(api: Api):
    assert (await api.enroll("seat_a", body(api.entry("seat_a")))).status_code == 201
    before = await api.snapshot()
    response = await api.enroll("seat_a", body(api.entry("seat_a", secret=KEY_B)))
    assert _error(response, 409) == "INVALID_TRANSITION"
    assert "cannot move from ENROLLED to ENROLLED" in response.json()["error"]["message"]
    assert await api.snapshot() == before


# ---- refusals leave nothing behind ----------------------------------------------------------


async def test_replayed_jti_is_401_token_replayed_and_changes_nothing(api: Api):
    first = await api.enroll("seat_a", body(api.entry("seat_a")), jti="jti-once")
    assert first.status_code == 201
    before = await api.snapshot()
    for request in (body(api.entry("seat_a")), body(api.entry("seat_a", secret=KEY_B))):
        replay = await api.enroll("seat_a", request, jti="jti-once")
        assert _error(replay, 401) == "AUTH_TOKEN_REPLAYED"
    assert await api.snapshot() == before


async def test_jti_used_by_a_refused_call_is_not_burnt(api: Api):
    refused = await api.enroll(
        "seat_a", body(api.entry("seat_a"), beneficiary="0x00"), jti="jti-retry"
    )
    assert _error(refused, 400) == "BENEFICIARY_ADDRESS_INVALID"
    assert (
        await api.enroll("seat_a", body(api.entry("seat_a")), jti="jti-retry")
    ).status_code == 201


async def test_enrollment_token_without_jti_is_401_claim_missing_and_changes_nothing(api: Api):
    before = await api.snapshot()
    response = await api.enroll("seat_a", body(api.entry("seat_a")), jti=None)
    assert _error(response, 401) == "AUTH_CLAIM_MISSING"
    assert await api.snapshot() == before


@pytest.mark.parametrize(
    ("token_kind", "code"),
    [
        ("foreign_key", "AUTH_BAD_SIGNATURE"),
        ("alg_none", "AUTH_ALGORITHM_NOT_ALLOWED"),
        ("wrong_audience", "AUTH_WRONG_AUDIENCE"),
        ("expired", "AUTH_EXPIRED"),
        ("no_header", "AUTH_MISSING"),
        ("basic_scheme", "AUTH_WRONG_SCHEME"),
    ],
)
async def test_bad_token_enrollment_is_401_with_its_code_and_changes_nothing(
    api: Api, token_kind: str, code: str
):
    import jwt

    now = int(datetime.now(UTC).timestamp())
    tokens = {
        "foreign_key": lambda: TokenIssuer(ec_key()).token("operator_a"),
        "alg_none": lambda: jwt.encode(ISSUER.claims("operator_a"), None, algorithm="none"),
        "wrong_audience": lambda: ISSUER.token("operator_a", aud="someone-else"),
        "expired": lambda: ISSUER.token("operator_a", iat=now - 900, exp=now - 120),
    }
    fixed_headers: dict[str, dict[str, str]] = {
        "no_header": {},
        "basic_scheme": {"Authorization": "Basic b3BlcmF0b3JfYTpwdw=="},
    }
    headers = fixed_headers.get(token_kind)
    if headers is None:
        headers = {"Authorization": f"Bearer {tokens[token_kind]()}"}
    before = await api.snapshot()
    response = await api.client.post(
        "/v1/seats/seat_a/enrollment", json=body(api.entry("seat_a")), headers=headers
    )
    assert _error(response, 401) == code
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert await api.snapshot() == before


async def test_enrolling_another_operators_seat_is_404_and_changes_nothing(api: Api):
    before = await api.snapshot()
    response = await api.enroll("seat_b", body(api.entry("seat_b")), operator="operator_a")
    assert _error(response, 404) == "SEAT_NOT_FOUND"
    assert await api.snapshot() == before


async def test_enrolling_an_unknown_seat_is_404(api: Api):
    response = await api.enroll("seat_nope", body(api.entry("seat_nope")), operator="operator_a")
    assert _error(response, 404) == "SEAT_NOT_FOUND"


def _tampered(entry: DepositDataEntry, **fields: bytes) -> dict[str, Any]:
    return replace(entry, **fields).as_json()


DEFECTS = {
    "DEPOSIT_SIGNATURE_INVALID": lambda api: _tampered(
        api.entry("seat_a"), signature=api.entry("seat_a", secret=KEY_B).signature
    ),
    "DEPOSIT_WITHDRAWAL_CREDENTIALS_MISMATCH": lambda api: api.entry("seat_b").as_json(),
    "DEPOSIT_AMOUNT_MISMATCH": lambda api: api.entry("seat_a", amount_gwei=10**9).as_json(),
    "DEPOSIT_DATA_ROOT_MISMATCH": lambda api: _tampered(
        api.entry("seat_a"), deposit_data_root=b"\x11" * 32
    ),
    "DEPOSIT_MESSAGE_ROOT_MISMATCH": lambda api: _tampered(
        api.entry("seat_a"), deposit_message_root=b"\x22" * 32
    ),
    "DEPOSIT_FORK_VERSION_MISMATCH": lambda api: api.entry("seat_a", fork=OTHER_FORK).as_json(),
    "DEPOSIT_PUBKEY_INVALID": lambda api: _tampered(api.entry("seat_a"), pubkey=b"\x01" * 47),
}


@pytest.mark.parametrize("code", sorted(DEFECTS))
async def test_deposit_data_defect_is_422_with_its_code_and_changes_nothing(api: Api, code: str):
    before = await api.snapshot()
    response = await api.enroll("seat_a", body(DEFECTS[code](api)))
    assert _error(response, 422) == code
    assert await api.snapshot() == before


async def test_deposit_signed_for_another_fork_but_labelled_ours_is_signature_invalid(api: Api):
    signed_elsewhere = api.entry("seat_a", fork=OTHER_FORK).as_json()
    signed_elsewhere["fork_version"] = FORK.hex()
    response = await api.enroll("seat_a", body(signed_elsewhere))
    assert _error(response, 422) == "DEPOSIT_SIGNATURE_INVALID"


@pytest.mark.parametrize(
    "beneficiary",
    [BENEFICIARY.lower(), BENEFICIARY.replace("C8", "c8"), "0x" + "00" * 20, "0x1234", "nope"],
)
async def test_unusable_beneficiary_is_400_and_changes_nothing(api: Api, beneficiary: str):
    before = await api.snapshot()
    response = await api.enroll("seat_a", body(api.entry("seat_a"), beneficiary=beneficiary))
    assert _error(response, 400) == "BENEFICIARY_ADDRESS_INVALID"
    assert await api.snapshot() == before


async def test_pubkey_already_deposited_on_chain_is_409_and_changes_nothing(api: Api):
    entry = api.entry("seat_a")
    async with api.container.uow() as uow:
        uow.session.add(
            ElDepositRow(
                pubkey=entry.pubkey,
                withdrawal_credentials=b"\x01" + b"\x00" * 31,
                amount_gwei=32 * 10**9,
                deposit_index=7,
                block_number=123,
                block_hash=b"\xbb" * 32,
                tx_hash=b"\xcc" * 32,
                log_index=0,
                created_at=datetime.now(UTC),
            )
        )
        await uow.commit()
    before = await api.snapshot()
    response = await api.enroll("seat_a", body(entry))
    assert _error(response, 409) == "PUBKEY_ALREADY_DEPOSITED"
    assert "block 123" in response.json()["error"]["message"]
    assert await api.snapshot() == before


async def test_pubkey_enrolled_on_another_seat_is_409_without_naming_that_seat(api: Api):
    assert (await api.enroll("seat_b", body(api.entry("seat_b", secret=KEY_A)))).status_code == 201
    before = await api.snapshot()
    response = await api.enroll("seat_a", body(api.entry("seat_a", secret=KEY_A)))
    assert _error(response, 409) == "PUBKEY_ALREADY_ENROLLED"
    assert "seat_b" not in response.text
    assert await api.snapshot() == before


@pytest.mark.parametrize(
    "payload",
    [
        {"beneficiary_address": BENEFICIARY},
        {"beneficiary_address": BENEFICIARY, "deposit_data": []},
        {"beneficiary_address": BENEFICIARY, "deposit_data": {"pubkey": "00"}},
        {"beneficiary_address": 5, "deposit_data": {}},
        {"beneficiary_address": BENEFICIARY, "deposit_data": {}, "unexpected": 1},
    ],
)
async def test_malformed_body_is_422_validation_failed_in_the_error_shape(
    api: Api, payload: dict[str, Any]
):
    before = await api.snapshot()
    response = await api.enroll("seat_a", payload)
    assert _error(response, 422) == "VALIDATION_FAILED"
    assert await api.snapshot() == before


async def test_amount_as_text_is_refused_not_coerced(api: Api):
    data = api.entry("seat_a").as_json()
    data["amount"] = str(data["amount"])
    assert _error(await api.enroll("seat_a", body(data)), 422) == "VALIDATION_FAILED"


async def test_non_json_body_is_422_validation_failed(api: Api):
    response = await api.client.post(
        "/v1/seats/seat_a/enrollment",
        content=b"{not json",
        headers={**ISSUER.header("operator_a"), "Content-Type": "application/json"},
    )
    assert _error(response, 422) == "VALIDATION_FAILED"


async def test_hex_with_0x_prefixes_is_accepted_and_stored_normalised(api: Api):
    entry = api.entry("seat_a")
    data = {
        k: ("0x" + v.upper() if isinstance(v, str) and k != "network_name" else v)
        for k, v in entry.as_json().items()
        if k != "deposit_cli_version"
    }
    response = await api.enroll("seat_a", body(data))
    assert response.status_code == 201, response.text
    row = next(r for r in await api.rows(SeatRow) if r.seat_id == "seat_a")
    assert row.validator_pubkey == "0x" + entry.pubkey.hex()


# ---- races: the store decides ---------------------------------------------------------------


async def test_two_concurrent_calls_with_one_token_enroll_once(api: Api):
    headers = ISSUER.header("operator_a", jti="jti-race")
    request = body(api.entry("seat_a"))
    responses = await asyncio.gather(
        *(
            api.client.post("/v1/seats/seat_a/enrollment", json=request, headers=headers)
            for _ in range(2)
        )
    )
    assert sorted(r.status_code for r in responses) == [201, 401], [r.text for r in responses]
    loser = next(r for r in responses if r.status_code == 401)
    assert loser.json()["error"]["code"] == "AUTH_TOKEN_REPLAYED"
    assert len(await api.rows(UsedJwtIdRow)) == 1
    assert len(await api.rows(OperationRow)) == 2


async def test_two_seats_racing_for_one_pubkey_enroll_it_once(api: Api):
    responses = await asyncio.gather(
        api.enroll("seat_a", body(api.entry("seat_a", secret=KEY_B))),
        api.enroll("seat_b", body(api.entry("seat_b", secret=KEY_B))),
    )
    assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]
    loser = next(r for r in responses if r.status_code == 409)
    assert loser.json()["error"]["code"] == "PUBKEY_ALREADY_ENROLLED"
    assert len({op.seat_id for op in await api.rows(OperationRow)}) == 1


# ---- documentation --------------------------------------------------------------------------


async def test_openapi_documents_the_operator_routes_and_bearer_auth(api: Api):
    document = (await api.client.get("/openapi.json")).json()
    for path in (
        "/v1/seats/{seat_id}",
        "/v1/seats/{seat_id}/enrollment",
        "/v1/seats/{seat_id}/status",
    ):
        assert path in document["paths"], path
    assert "enrollmentJwt" in document["components"]["securitySchemes"]
    enrollment = document["paths"]["/v1/seats/{seat_id}/enrollment"]["post"]
    assert {"201", "200", "401", "404", "409", "422"} <= set(enrollment["responses"])
