"""Settings: every variable validated once, messages name the variable, never its value."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.support.cli import runtime_env

from seat_manager.config import load_settings, parse_seed_seats, redact_url
from seat_manager.domain.errors import ConfigurationError


def load(**env: str):
    return load_settings(env, env_file=None)


def test_runtime_variables_parse_into_typed_values() -> None:
    runtime = load(**runtime_env()).require_runtime()
    assert runtime.chain_id == 31337
    assert runtime.vault_factory_address == "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    assert runtime.reserve_coverage_limit_wei == 320 * 10**18


def test_missing_runtime_variables_are_all_named() -> None:
    env = runtime_env()
    del env["CHAIN_ID"], env["VAULT_INIT_CODE_HASH"]
    with pytest.raises(ConfigurationError) as err:
        load(**env).require_runtime()
    assert "CHAIN_ID" in err.value.message
    assert "VAULT_INIT_CODE_HASH" in err.value.message
    assert "DEPOSIT_CONTRACT_ADDRESS" not in err.value.message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CHAIN_ID", "0"),
        ("CHAIN_ID", "1.5"),
        ("DEPOSIT_CONTRACT_ADDRESS", "0x1234"),
        ("VAULT_FACTORY_ADDRESS", "0x5fbdb2315678afecb367f032d93F642f64180aa3"),  # bad checksum
        ("VAULT_INIT_CODE_HASH", "0x" + "zz" * 32),
        ("P10_RESERVE_COVERAGE_LIMIT_WEI", "-5"),
        ("P10_RESERVE_COVERAGE_LIMIT_WEI", "0x10"),
        ("ENROLLMENT_JWT_PUBLIC_KEY_PEM", "-----BEGIN PUBLIC KEY-----\nno\n-----END PUBLIC KEY"),
        ("SEAT_MANAGER_PORT", "70000"),
        ("SEAT_MANAGER_WATCH_POLL_MS", "0"),
        ("ETH_RPC_URL", "localhost:8545"),
        ("ONBOARDING_STORE_DRIVER", "mysql"),
        ("SEAT_MANAGER_OPERATION_MODE", "YOLO"),
        ("SEAT_MANAGER_GENESIS_FORK_VERSION", "0x1234"),
        ("SEAT_MANAGER_ADMIN_ENABLE", "maybe"),
    ],
)
def test_malformed_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as err:
        load(**{**runtime_env(), name: value})
    assert err.value.message.startswith(name)


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("SEAT_MANAGER_OWNER_PRIVATE_KEY", "0xdeadbeefcafe"),
        ("ONBOARDING_POSTGRES_URL", "mysql://user:topsecretpw@host/db"),
    ],
)
def test_errors_about_secrets_never_echo_them(name: str, secret: str) -> None:
    with pytest.raises(ConfigurationError) as err:
        load(**{name: secret})
    assert name in err.value.message
    assert secret not in err.value.message
    assert "topsecretpw" not in err.value.message
    assert "deadbeefcafe" not in err.value.message


def test_secrets_are_hidden_in_repr() -> None:
    key = "0x" + "ab" * 32
    settings = load(
        SEAT_MANAGER_OWNER_PRIVATE_KEY=key,
        ONBOARDING_STORE_DRIVER="postgres",
        ONBOARDING_POSTGRES_URL="postgresql://u:pw123@h/db",
    )
    assert "ab" * 32 not in repr(settings)
    assert "pw123" not in repr(settings)
    assert settings.store.display == "postgres:postgresql://u:***@h/db"


def test_admin_guards_carry_the_runbook_messages() -> None:
    with pytest.raises(
        ConfigurationError,
        match="^SEAT_MANAGER_ADMIN_ENABLE=true requires SEAT_MANAGER_ADMIN_USERS_JSON$",
    ):
        load(SEAT_MANAGER_ADMIN_ENABLE="true")
    with pytest.raises(
        ConfigurationError, match="SEAT_MANAGER_ADMIN_SESSION_SECRET with length >= 32"
    ):
        load(
            SEAT_MANAGER_ADMIN_ENABLE="true",
            SEAT_MANAGER_ADMIN_USERS_JSON="[]",
            SEAT_MANAGER_ADMIN_SESSION_SECRET="x" * 31,
        )
    assert load(
        SEAT_MANAGER_ADMIN_ENABLE="true",
        SEAT_MANAGER_ADMIN_USERS_JSON="[]",
        SEAT_MANAGER_ADMIN_SESSION_SECRET="x" * 32,
    ).admin_enable


def test_mode_defaults_to_owner_send_with_a_key_and_propose_without() -> None:
    assert load().operation_mode == "PROPOSE"
    assert load(SEAT_MANAGER_OWNER_PRIVATE_KEY="0x" + "01" * 32).operation_mode == "OWNER_SEND"
    assert load(SEAT_MANAGER_OPERATION_MODE="READ_ONLY").operation_mode == "READ_ONLY"
    with pytest.raises(ConfigurationError, match="OWNER_SEND requires SEAT_MANAGER_OWNER"):
        load(SEAT_MANAGER_OPERATION_MODE="OWNER_SEND")


def test_postgres_driver_requires_a_url() -> None:
    with pytest.raises(ConfigurationError, match="requires ONBOARDING_POSTGRES_URL"):
        load(ONBOARDING_STORE_DRIVER="postgres")


def test_dotenv_file_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("CHAIN_ID=5\nSEAT_MANAGER_PORT=9000\n")
    settings = load_settings({"CHAIN_ID": "7"}, env_file=env_file)
    assert settings.chain_id == 7
    assert settings.port == 9000


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{}", "SEAT_MANAGER_CREATED_SEATS_JSON must be a JSON array"),
        ("not json", "SEAT_MANAGER_CREATED_SEATS_JSON must be a JSON array"),
        ('[{"seatId":"a"}]', "Each seed seat must include non-empty seatId and operatorId"),
        ('[{"seatId":" ","operatorId":"o"}]', "Each seed seat must include non-empty seatId"),
        ('[{"seatId":1,"operatorId":"o"}]', "Each seed seat must include non-empty seatId"),
        ('["seat_001"]', "Each seed seat must include non-empty seatId and operatorId"),
        ('[{"seatId":"a","operatorId":"o"},{"seatId":"a","operatorId":"p"}]', "two operators"),
    ],
)
def test_seed_json_errors_use_the_runbook_messages(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_seed_seats(raw)
    with pytest.raises(ConfigurationError, match=message):
        load(SEAT_MANAGER_CREATED_SEATS_JSON=raw)


def test_seed_json_parses_rows_in_order() -> None:
    seeds = parse_seed_seats(
        '[{"seatId":"seat_001","operatorId":"operator_001"},'
        '{"seatId":"seat_002","operatorId":"operator_002"}]'
    )
    assert [(s.seat_id, s.operator_id) for s in seeds] == [
        ("seat_001", "operator_001"),
        ("seat_002", "operator_002"),
    ]


def test_redact_url_hides_only_the_password() -> None:
    assert redact_url("postgresql://u:p@ss@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert redact_url("postgresql://h/db") == "postgresql://h/db"
