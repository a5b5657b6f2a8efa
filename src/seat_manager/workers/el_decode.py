"""Turn raw `eth_getLogs` DepositEvent entries into index rows, fast and still strict.

Catch-up decodes every deposit ever made, so this is the hot path after JSON parsing.
The official contract always emits the same 576-byte data layout (see
``adapters.chain.deposit_logs``), and nodes write hex in lower case, so the fast path
compares the layout's fixed words as hex text and converts only the fields the index
keeps (pubkey, credentials, amount, index; the signature is not read). Anything else,
upper-case hex included, goes through the general decoder of ``deposit_logs``, which
accepts any valid encoding and raises ``DepositLogInvalid`` naming what is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from seat_manager.adapters.chain.deposit_logs import (
    DEPOSIT_EVENT_TOPIC_HEX,
    decode_raw_deposit_log,
)
from seat_manager.adapters.db.deposit_index import DepositRow


def _word(value: int) -> str:
    return value.to_bytes(32, "big").hex()


# Fixed parts of the canonical data, as offsets into the hex text after "0x".
_FIXED = (
    (0, "".join(_word(o) for o in (0xA0, 0x100, 0x140, 0x180, 0x200)) + _word(48)),
    (480, "00" * 16 + _word(32)),
    (640, _word(8)),
    (720, "00" * 24 + _word(96)),
    (1024, _word(8)),
    (1104, "00" * 24),
)
_DATA_HEX_LENGTH = 2 + 576 * 2
_fromhex = bytes.fromhex


_HEAD, _PAD_WC, _LEN8_AMOUNT, _PAD_SIG, _LEN8_INDEX, _TAIL = (f for _, f in _FIXED)
_AT = tuple(2 + at for at, _ in _FIXED)


def _canonical(data: str) -> bool:
    # startswith at an offset compares in place, without slicing a copy per field.
    return (
        len(data) == _DATA_HEX_LENGTH
        and data.startswith("0x")
        and data.startswith(_HEAD, _AT[0])
        and data.startswith(_PAD_WC, _AT[1])
        and data.startswith(_LEN8_AMOUNT, _AT[2])
        and data.startswith(_PAD_SIG, _AT[3])
        and data.startswith(_LEN8_INDEX, _AT[4])
        and data.startswith(_TAIL, _AT[5])
    )


def _fast(raw: Mapping[str, Any], contract: str) -> DepositRow | None:
    """The row of a canonical, lower-case log of ``contract``; None means "take the
    general path" (which decides whether the log is valid)."""
    data = raw["data"]
    block_hash = raw["blockHash"]
    tx_hash = raw["transactionHash"]
    number = raw["blockNumber"]
    log_index = raw["logIndex"]
    address = raw["address"]
    if (
        (address != contract and address.lower() != contract)
        or raw["topics"][0] != DEPOSIT_EVENT_TOPIC_HEX
        or not _canonical(data)
        or block_hash[:2] != "0x"
        or tx_hash[:2] != "0x"
        or number[:2] != "0x"
        or log_index[:2] != "0x"
    ):
        return None
    row = (
        _fromhex(data[386:482]),
        _fromhex(data[578:642]),
        int.from_bytes(_fromhex(data[706:722]), "little"),
        int.from_bytes(_fromhex(data[1090:1106]), "little"),
        int(number[2:], 16),
        _fromhex(block_hash[2:]),
        _fromhex(tx_hash[2:]),
        int(log_index[2:], 16),
    )
    lengths = (len(row[0]), len(row[1]), len(row[5]), len(row[6]))
    return row if lengths == (48, 32, 32, 32) else None


def _general(raw: Any, contract: str) -> DepositRow:
    event = decode_raw_deposit_log(raw, deposit_contract=contract)
    return (
        event.pubkey,
        event.withdrawal_credentials,
        event.amount_gwei,
        event.index,
        event.block_number,
        _fromhex(event.block_hash[2:]),
        _fromhex(event.tx_hash[2:]),
        event.log_index,
    )


def decode_deposit_rows(logs: list[Any], contract: str) -> list[DepositRow]:
    """Index rows of DepositEvent logs of ``contract``, in the order given."""
    lowered = contract.lower()
    rows: list[DepositRow] = []
    for raw in logs:
        try:
            row = _fast(raw, lowered)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError):
            row = None
        rows.append(row if row is not None else _general(raw, contract))
    return rows
