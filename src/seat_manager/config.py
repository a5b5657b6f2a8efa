"""Settings: read once from the environment (and a `.env` file), validated, secrets marked.

Every variable is validated for shape when present. Which variables a command needs is
a separate question answered by `Settings.require_runtime()` (api, watch, status, ...)
and `Settings.store` (every command that touches the database). Errors name the
variable and never echo its value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from dotenv import dotenv_values
from eth_utils.address import is_address, is_checksum_address, to_checksum_address
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic import model_validator as _model_validator

from seat_manager.domain.errors import ConfigurationError
from seat_manager.domain.types import Address, ChainId
from seat_manager.seeds import SeedSeat as SeedSeat
from seat_manager.seeds import parse_seed_seats as parse_seed_seats

OperationMode = Literal["OWNER_SEND", "PROPOSE", "READ_ONLY"]
StoreDriver = Literal["sqlite", "postgres"]

RUNTIME_REQUIRED = (
    "CHAIN_ID",
    "DEPOSIT_CONTRACT_ADDRESS",
    "VAULT_FACTORY_ADDRESS",
    "PRINCIPAL_DESTINATION_ADDRESS",
    "VAULT_INIT_CODE_HASH",
    "ENROLLMENT_JWT_PUBLIC_KEY_PEM",
    "P10_RESERVE_COVERAGE_LIMIT_WEI",
)

_HEX32 = re.compile(r"^0x[0-9a-fA-F]{64}$")
_FORK_VERSION = re.compile(r"^(0x)?[0-9a-fA-F]{8}$")


@dataclass(frozen=True)
class StoreConfig:
    driver: StoreDriver
    sqlite_path: Path
    postgres_url: SecretStr | None

    @property
    def display(self) -> str:
        """Where the store is, without any password."""
        if self.driver == "sqlite":
            return f"sqlite:{self.sqlite_path}"
        assert self.postgres_url is not None
        return "postgres:" + redact_url(self.postgres_url.get_secret_value())


@dataclass(frozen=True)
class RuntimeConfig:
    """The variables every runtime command needs, all present and valid."""

    chain_id: ChainId
    deposit_contract_address: Address
    vault_factory_address: Address
    principal_destination_address: Address
    vault_init_code_hash: str
    enrollment_jwt_public_key_pem: str
    reserve_coverage_limit_wei: int


def redact_url(url: str) -> str:
    """`scheme://user:secret@host/db` -> `scheme://user:***@host/db`."""
    return re.sub(r"(://[^:/@]*):.*@", r"\1:***@", url)


def _env(name: str) -> Any:
    return Field(default=None, validation_alias=name)


def _address(value: str | None) -> Address | None:
    if value is None:
        return None
    if not is_address(value):
        raise ValueError("must be a 0x-prefixed 20-byte hex address")
    if value != value.lower() and not is_checksum_address(value):
        raise ValueError("has an invalid EIP-55 checksum")
    return Address(to_checksum_address(value))


def _positive_int(value: int | None) -> int | None:
    if value is not None and value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _non_negative_int(value: int | None) -> int | None:
    if value is not None and value < 0:
        raise ValueError("must be a non-negative integer")
    return value


def _decimal_int(value: Any) -> Any:
    """Integers given as text must be plain decimal digits (no floats, signs or hex)."""
    if isinstance(value, str) and not re.fullmatch(r"\d+", value.strip()):
        raise ValueError("must be a decimal integer")
    return value


def _http_url(value: str | None) -> str | None:
    if value is None:
        return None
    if not re.match(r"^https?://[^\s/]+", value):
        raise ValueError("must be an http:// or https:// URL")
    return value.rstrip("/")


class Settings(BaseModel):
    """All configuration of one process. Build it with `load_settings()`."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=False)

    chain_id: int | None = _env("CHAIN_ID")
    deposit_contract_address: Address | None = _env("DEPOSIT_CONTRACT_ADDRESS")
    vault_factory_address: Address | None = _env("VAULT_FACTORY_ADDRESS")
    principal_destination_address: Address | None = _env("PRINCIPAL_DESTINATION_ADDRESS")
    vault_init_code_hash: str | None = _env("VAULT_INIT_CODE_HASH")
    enrollment_jwt_public_key_pem: str | None = _env("ENROLLMENT_JWT_PUBLIC_KEY_PEM")
    reserve_coverage_limit_wei: int | None = _env("P10_RESERVE_COVERAGE_LIMIT_WEI")

    store_driver: StoreDriver = Field(default="sqlite", validation_alias="ONBOARDING_STORE_DRIVER")
    sqlite_path: Path = Field(
        default=Path("./seat-manager.sqlite3"), validation_alias="ONBOARDING_SQLITE_PATH"
    )
    postgres_url: SecretStr | None = _env("ONBOARDING_POSTGRES_URL")

    host: str = Field(default="127.0.0.1", validation_alias="SEAT_MANAGER_HOST")
    port: int = Field(default=8080, validation_alias="SEAT_MANAGER_PORT")
    created_seats_json: str | None = _env("SEAT_MANAGER_CREATED_SEATS_JSON")

    watch_poll_ms: int = Field(default=1000, validation_alias="SEAT_MANAGER_WATCH_POLL_MS")
    eth_rpc_url: str | None = _env("ETH_RPC_URL")
    cl_beacon_api_url: str | None = _env("SEAT_MANAGER_CL_BEACON_API_URL")
    el_start_block: int = Field(default=0, validation_alias="SEAT_MANAGER_EL_START_BLOCK")
    el_confirmations: int = Field(default=12, validation_alias="SEAT_MANAGER_EL_CONFIRMATIONS")
    el_reorg_window: int = Field(default=64, validation_alias="SEAT_MANAGER_EL_REORG_WINDOW")
    el_max_block_range: int = Field(
        default=5000, validation_alias="SEAT_MANAGER_EL_MAX_BLOCK_RANGE"
    )
    cl_poll_batch_size: int = Field(default=100, validation_alias="SEAT_MANAGER_CL_BATCH_SIZE")

    operation_mode_raw: OperationMode | None = _env("SEAT_MANAGER_OPERATION_MODE")
    owner_private_key: SecretStr | None = _env("SEAT_MANAGER_OWNER_PRIVATE_KEY")
    safe_address: Address | None = _env("SEAT_MANAGER_SAFE_ADDRESS")
    fee_cap_wei: int = Field(
        default=200 * 10**9, validation_alias="SEAT_MANAGER_MAX_FEE_PER_GAS_WEI"
    )
    watcher_max_lag_blocks: int = Field(
        default=8, validation_alias="SEAT_MANAGER_DEPOSIT_MAX_INDEX_LAG_BLOCKS"
    )
    receipt_wait_s: int = Field(default=20, validation_alias="SEAT_MANAGER_TX_RECEIPT_WAIT_SECONDS")
    replace_after_s: int = Field(
        default=180, validation_alias="SEAT_MANAGER_TX_REPLACE_AFTER_SECONDS"
    )
    lease_s: int = Field(default=60, validation_alias="SEAT_MANAGER_WORKER_LEASE_SECONDS")
    worker_max_attempts: int = Field(default=8, validation_alias="SEAT_MANAGER_WORKER_MAX_ATTEMPTS")
    worker_concurrency: int = Field(default=16, validation_alias="SEAT_MANAGER_WORKER_CONCURRENCY")
    claim_executor_grant_expires_at_unix: int | None = _env(
        "SEAT_MANAGER_CLAIM_EXECUTOR_GRANT_EXPIRES_AT_UNIX"
    )
    genesis_fork_version: str | None = _env("SEAT_MANAGER_GENESIS_FORK_VERSION")

    admin_enable: bool = Field(default=False, validation_alias="SEAT_MANAGER_ADMIN_ENABLE")
    admin_users_json: SecretStr | None = _env("SEAT_MANAGER_ADMIN_USERS_JSON")
    admin_session_secret: SecretStr | None = _env("SEAT_MANAGER_ADMIN_SESSION_SECRET")
    admin_step_up_ttl_seconds: int = Field(
        default=300, validation_alias="SEAT_MANAGER_ADMIN_STEP_UP_TTL_SECONDS"
    )
    enrollment_jwt_issuer: str | None = _env("ENROLLMENT_JWT_ISSUER")
    enrollment_jwt_audience: str = Field(
        default="seat-manager", validation_alias="ENROLLMENT_JWT_AUDIENCE"
    )

    # ---- field validators -------------------------------------------------------------

    _addresses = field_validator(
        "deposit_contract_address",
        "vault_factory_address",
        "principal_destination_address",
        "safe_address",
    )(_address)

    _decimal_ints = field_validator(
        "chain_id",
        "reserve_coverage_limit_wei",
        "port",
        "watch_poll_ms",
        "el_start_block",
        "el_confirmations",
        "el_reorg_window",
        "el_max_block_range",
        "cl_poll_batch_size",
        "fee_cap_wei",
        "watcher_max_lag_blocks",
        "receipt_wait_s",
        "replace_after_s",
        "lease_s",
        "worker_max_attempts",
        "worker_concurrency",
        "claim_executor_grant_expires_at_unix",
        "admin_step_up_ttl_seconds",
        mode="before",
    )(_decimal_int)

    _positive = field_validator(
        "chain_id",
        "watch_poll_ms",
        "admin_step_up_ttl_seconds",
        "el_reorg_window",
        "el_max_block_range",
        "cl_poll_batch_size",
        "fee_cap_wei",
        "receipt_wait_s",
        "replace_after_s",
        "lease_s",
        "worker_max_attempts",
        "worker_concurrency",
    )(_positive_int)
    _non_negative = field_validator(
        "reserve_coverage_limit_wei",
        "el_start_block",
        "el_confirmations",
        "watcher_max_lag_blocks",
        "claim_executor_grant_expires_at_unix",
    )(_non_negative_int)

    _urls = field_validator("eth_rpc_url", "cl_beacon_api_url")(_http_url)

    @field_validator("port")
    @classmethod
    def _port(cls, value: int) -> int:
        if not 0 <= value <= 65535:
            raise ValueError("must be a TCP port between 0 and 65535")
        return value

    @field_validator("vault_init_code_hash")
    @classmethod
    def _init_code_hash(cls, value: str | None) -> str | None:
        if value is not None and not _HEX32.match(value):
            raise ValueError("must be 0x followed by 64 hex characters")
        return value.lower() if value else value

    @field_validator("genesis_fork_version")
    @classmethod
    def _fork_version(cls, value: str | None) -> str | None:
        if value is not None and not _FORK_VERSION.match(value):
            raise ValueError("must be 4 bytes of hex (8 hex characters, 0x optional)")
        return value.lower().removeprefix("0x") if value else value

    @field_validator("owner_private_key")
    @classmethod
    def _private_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        raw = value.get_secret_value()
        if not _HEX32.match(raw) or int(raw, 16) == 0:
            raise ValueError("must be 0x followed by 64 hex characters")
        return value

    @field_validator("postgres_url")
    @classmethod
    def _postgres_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.match(
            r"^postgres(ql)?://[^\s/]+/[^\s/?]+", value.get_secret_value()
        ):
            raise ValueError("must look like postgresql://user:password@host:5432/database")
        return value

    @field_validator("enrollment_jwt_public_key_pem")
    @classmethod
    def _public_key(cls, value: str | None) -> str | None:
        if value is None:
            return None
        pem = value.replace("\\n", "\n").strip() + "\n"
        try:
            key = load_pem_public_key(pem.encode())
        except (ValueError, TypeError) as exc:
            raise ValueError("must be a PEM-encoded public key") from exc
        if not isinstance(
            key,
            rsa.RSAPublicKey
            | ec.EllipticCurvePublicKey
            | ed25519.Ed25519PublicKey
            | ed448.Ed448PublicKey,
        ):
            raise ValueError("must be an RSA, EC or EdDSA public key")
        return pem

    @field_validator("enrollment_jwt_audience")
    @classmethod
    def _audience(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @_model_validator(mode="after")
    def _guards(self) -> Settings:
        if self.admin_enable:
            if self.admin_users_json is None:
                raise ValueError(
                    "SEAT_MANAGER_ADMIN_ENABLE=true requires SEAT_MANAGER_ADMIN_USERS_JSON"
                )
            secret = self.admin_session_secret
            if secret is None or len(secret.get_secret_value()) < 32:
                raise ValueError(
                    "SEAT_MANAGER_ADMIN_ENABLE=true requires SEAT_MANAGER_ADMIN_SESSION_SECRET"
                    " with length >= 32"
                )
        if self.store_driver == "postgres" and self.postgres_url is None:
            raise ValueError("ONBOARDING_STORE_DRIVER=postgres requires ONBOARDING_POSTGRES_URL")
        if self.operation_mode_raw == "OWNER_SEND" and self.owner_private_key is None:
            raise ValueError(
                "SEAT_MANAGER_OPERATION_MODE=OWNER_SEND requires SEAT_MANAGER_OWNER_PRIVATE_KEY"
            )
        self.seed_seats  # noqa: B018 - parse now so a bad seed list fails at startup
        return self

    # ---- derived views ------------------------------------------------------------------

    @property
    def operation_mode(self) -> OperationMode:
        if self.operation_mode_raw is not None:
            return self.operation_mode_raw
        return "OWNER_SEND" if self.owner_private_key is not None else "PROPOSE"

    @property
    def store(self) -> StoreConfig:
        return StoreConfig(self.store_driver, self.sqlite_path, self.postgres_url)

    @property
    def seed_seats(self) -> list[SeedSeat]:
        return parse_seed_seats(self.created_seats_json)

    def require_runtime(self) -> RuntimeConfig:
        """The runtime variables, or a ConfigurationError naming every missing one."""
        missing = [name for name in RUNTIME_REQUIRED if getattr(self, _FIELD_BY_ENV[name]) is None]
        if missing:
            raise ConfigurationError(
                f"missing required environment variable(s): {', '.join(missing)}",
                data={"missing": missing},
            )
        assert self.chain_id is not None
        assert self.deposit_contract_address is not None
        assert self.vault_factory_address is not None
        assert self.principal_destination_address is not None
        assert self.vault_init_code_hash is not None
        assert self.enrollment_jwt_public_key_pem is not None
        assert self.reserve_coverage_limit_wei is not None
        return RuntimeConfig(
            chain_id=ChainId(self.chain_id),
            deposit_contract_address=self.deposit_contract_address,
            vault_factory_address=self.vault_factory_address,
            principal_destination_address=self.principal_destination_address,
            vault_init_code_hash=self.vault_init_code_hash,
            enrollment_jwt_public_key_pem=self.enrollment_jwt_public_key_pem,
            reserve_coverage_limit_wei=self.reserve_coverage_limit_wei,
        )

    def require(self, *names: str) -> None:
        """Raise a ConfigurationError naming each listed variable that is not set."""
        missing = [name for name in names if getattr(self, _FIELD_BY_ENV[name]) is None]
        if missing:
            raise ConfigurationError(
                f"missing required environment variable(s): {', '.join(missing)}",
                data={"missing": missing},
            )


_FIELD_BY_ENV: dict[str, str] = {
    str(field.validation_alias): name for name, field in Settings.model_fields.items()
}
ENV_NAMES = frozenset(_FIELD_BY_ENV)


def _describe(error: Mapping[str, Any]) -> str:
    ctx = error.get("ctx") or {}
    message = str(ctx["error"]) if "error" in ctx else str(error["msg"])
    loc = ".".join(str(part) for part in error.get("loc", ()))
    if not loc or message.startswith(loc):
        return message
    if error.get("type") == "literal_error":
        message = str(error["msg"]).replace("Input should be", "must be")
    return f"{loc}: {message}"


def load_settings(
    environ: Mapping[str, str] | None = None, env_file: str | os.PathLike[str] | None = ".env"
) -> Settings:
    """Read `.env` (if present) overlaid by the environment; raise ConfigurationError."""
    values: dict[str, str] = {}
    if env_file is not None and Path(env_file).is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ if environ is None else environ)
    relevant = {k: v for k, v in values.items() if k in ENV_NAMES and v.strip() != ""}
    try:
        return Settings.model_validate(relevant)
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False)
        raise ConfigurationError(
            "; ".join(_describe(e) for e in errors), data={"count": len(errors)}
        ) from None
