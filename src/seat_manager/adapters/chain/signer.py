"""The owner/claim-executor signer, from SEAT_MANAGER_OWNER_PRIVATE_KEY.

The key controls every vault and the 32 ETH deposits, so this object is built to not
leak it: `repr`/`str` show the address only, errors say what is wrong without the
value, and pickling or copying into another process is refused (a pickled signer in a
task queue or a crash dump is a leaked key).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol

from eth_account import Account
from eth_account.signers.local import LocalAccount

from seat_manager.adapters.chain.errors import SignerError
from seat_manager.domain.errors import ConfigurationError
from seat_manager.domain.types import Address, TxHash

ENV_NAME = "SEAT_MANAGER_OWNER_PRIVATE_KEY"


class _Secret(Protocol):
    def get_secret_value(self) -> str: ...


@dataclass(frozen=True)
class SignedTransaction:
    raw: bytes
    tx_hash: TxHash


class LocalSigner:
    """Signs transactions with a private key held in this process only."""

    __slots__ = ("_account", "address")

    _account: LocalAccount
    address: Address

    def __init__(self, private_key: str | _Secret) -> None:
        raw = private_key if isinstance(private_key, str) else private_key.get_secret_value()
        try:
            account = Account.from_key(raw)
        except Exception:  # noqa: BLE001 - any parse failure; the message could echo the key
            account = None
        if account is None:
            raise SignerError(f"{ENV_NAME} is not a valid secp256k1 private key")
        object.__setattr__(self, "_account", account)
        object.__setattr__(self, "address", Address(account.address))

    @classmethod
    def from_settings(cls, settings: Any) -> LocalSigner:
        """From `Settings.owner_private_key`; a ConfigurationError when it is not set."""
        secret = getattr(settings, "owner_private_key", None)
        if secret is None:
            raise ConfigurationError(
                f"missing required environment variable(s): {ENV_NAME}",
                data={"missing": [ENV_NAME]},
            )
        return cls(secret)

    def sign_transaction(self, tx: Mapping[str, Any]) -> SignedTransaction:
        try:
            signed = self._account.sign_transaction(dict(tx))
        except Exception as exc:  # noqa: BLE001 - wrap into our error without the key
            raise SignerError(f"could not sign transaction: {type(exc).__name__}: {exc}") from None
        return SignedTransaction(
            raw=bytes(signed.raw_transaction), tx_hash=TxHash("0x" + bytes(signed.hash).hex())
        )

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("LocalSigner is immutable")

    def __repr__(self) -> str:
        return f"LocalSigner(address={self.address})"

    __str__ = __repr__

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError("LocalSigner holds a private key and cannot be pickled or copied")

    def __copy__(self) -> LocalSigner:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> LocalSigner:
        return self
