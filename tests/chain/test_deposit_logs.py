"""The DepositEvent decoder: equal to web3.py on real anvil logs, strict on bad ones."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi.abi import encode
from hypothesis import given
from hypothesis import strategies as st

from seat_manager.adapters.chain.deposit_logs import (
    DEPOSIT_EVENT_TOPIC,
    DEPOSIT_EVENT_TOPIC_HEX,
    decode_deposit_data,
    decode_deposit_log,
    decode_raw_deposit_log,
)
from seat_manager.adapters.chain.errors import DepositLogInvalid
from seat_manager.adapters.chain.models import parse_log
from seat_manager.adapters.chain.rpc import RpcClient
from tests.chain.helpers import deploy_vault, deposit_for_seat, send
from tests.support.anvil import ACCOUNTS, Anvil, Deployed
from tests.support.deposit_data import deposit_data_root

DEPOSIT_CONTRACT = "0x00000000219ab540356cBB839Cbe05303d7705Fa"


def _fields(i: int) -> tuple[bytes, bytes, int, bytes]:
    return (
        bytes([i]) * 48,
        b"\x01" + b"\x00" * 11 + bytes([i]) * 20,
        (1 + i) * 10**9,
        bytes([0x80 | i]) * 96,
    )


def _event_data(pubkey: bytes, creds: bytes, amount: bytes, sig: bytes, index: bytes) -> bytes:
    return encode(["bytes"] * 5, [pubkey, creds, amount, sig, index])


def _raw_log(data: bytes, *, topic: str = DEPOSIT_EVENT_TOPIC_HEX) -> dict[str, Any]:
    return {
        "address": DEPOSIT_CONTRACT.lower(),
        "topics": [topic],
        "data": "0x" + data.hex(),
        "blockNumber": "0x10",
        "blockHash": "0x" + "ab" * 32,
        "transactionHash": "0x" + "cd" * 32,
        "transactionIndex": "0x0",
        "logIndex": "0x3",
        "removed": False,
    }


def _valid_data(index: int = 0) -> bytes:
    pubkey, creds, amount, sig = _fields(5)
    return _event_data(
        pubkey, creds, amount.to_bytes(8, "little"), sig, index.to_bytes(8, "little")
    )


# ---- against web3.py on real logs ----------------------------------------------------------


@pytest.mark.anvil
async def test_decoder_agrees_with_web3_on_real_deposit_logs(
    anvil: Anvil, deployed: Deployed
) -> None:
    contract = deployed.deposit_contract
    start = anvil.w3.eth.block_number + 1
    for i in range(4):
        pubkey, creds, amount_gwei, sig = _fields(i)
        call = contract.functions.deposit(
            pubkey, creds, sig, deposit_data_root(pubkey, creds, amount_gwei, sig)
        )
        assert send(call, {"from": ACCOUNTS[3], "value": amount_gwei * 10**9})["status"] == 1
    deploy_vault(deployed, "seat-logs", ACCOUNTS[1], ACCOUNTS[2])
    deposit_for_seat(deployed, "seat-logs", 99)

    web3_logs = anvil.w3.eth.get_logs(
        {"address": contract.address, "fromBlock": start, "toBlock": "latest"}
    )
    expected = [contract.events.DepositEvent().process_log(log) for log in web3_logs]
    async with RpcClient(anvil.url) as rpc:
        parsed = await rpc.get_logs(
            address=contract.address,
            from_block=start,
            to_block="latest",
            topics=[DEPOSIT_EVENT_TOPIC_HEX],
        )
        raw = await rpc.raw_logs(
            {"address": contract.address, "fromBlock": hex(start), "toBlock": "latest"}
        )
    ours = [decode_deposit_log(log, deposit_contract=contract.address) for log in parsed]
    assert [decode_raw_deposit_log(r, deposit_contract=contract.address) for r in raw] == ours
    assert len(ours) == len(expected) == 5
    for mine, theirs in zip(ours, expected, strict=True):
        args = theirs["args"]
        assert mine.pubkey == bytes(args["pubkey"])
        assert mine.withdrawal_credentials == bytes(args["withdrawal_credentials"])
        assert mine.amount_gwei == int.from_bytes(args["amount"], "little")
        assert mine.signature == bytes(args["signature"])
        assert mine.index == int.from_bytes(args["index"], "little")
        assert mine.block_number == theirs["blockNumber"]
        assert mine.block_hash == "0x" + bytes(theirs["blockHash"]).hex()
        assert mine.tx_hash == "0x" + bytes(theirs["transactionHash"]).hex()
        assert mine.log_index == theirs["logIndex"]
    assert [m.index for m in ours] == [0, 1, 2, 3, 4]
    assert ours[4].amount_gwei == 32 * 10**9


# ---- malformed input ---------------------------------------------------------------------


def test_canonical_data_decodes_on_the_fast_path_to_the_encoded_fields() -> None:
    pubkey, creds, amount, sig = _fields(5)
    assert decode_deposit_data(_valid_data(7)) == (pubkey, creds, amount, sig, 7)


def test_non_canonical_but_valid_abi_layout_decodes_the_same() -> None:
    pubkey, creds, amount, sig = _fields(5)
    canonical = _valid_data(7)
    # Same tails, stored in reverse order, with the head offsets rewritten to match.
    tails = [
        canonical[0xA0:0x100],
        canonical[0x100:0x140],
        canonical[0x140:0x180],
        canonical[0x180:0x200],
        canonical[0x200:],
    ]
    offsets, body, position = [0] * 5, b"", 160
    for slot in reversed(range(5)):
        offsets[slot] = position
        body += tails[slot]
        position += len(tails[slot])
    data = b"".join(o.to_bytes(32, "big") for o in offsets) + body
    assert data != canonical
    assert decode_deposit_data(data) == (pubkey, creds, amount, sig, 7)


@pytest.mark.parametrize(
    ("field", "lengths"),
    [
        ("pubkey", (47, 32, 8, 96, 8)),
        ("withdrawal_credentials", (48, 33, 8, 96, 8)),
        ("amount", (48, 32, 7, 96, 8)),
        ("signature", (48, 32, 8, 95, 8)),
        ("index", (48, 32, 8, 96, 9)),
    ],
)
def test_field_of_the_wrong_length_is_refused_naming_the_field(
    field: str, lengths: tuple[int, ...]
) -> None:
    data = encode(["bytes"] * 5, [b"\x01" * n for n in lengths])
    with pytest.raises(DepositLogInvalid) as info:
        decode_deposit_data(data)
    assert info.value.data == {
        "reason": "bad_length",
        "field": field,
        "length": lengths[
            ("pubkey", "withdrawal_credentials", "amount", "signature", "index").index(field)
        ],
    }


@pytest.mark.parametrize("cut", [0, 100, 159, 200, 300, 575])
def test_truncated_data_is_refused(cut: int) -> None:
    with pytest.raises(DepositLogInvalid):
        decode_deposit_data(_valid_data()[:cut])


def test_offset_outside_the_data_is_refused() -> None:
    data = bytearray(_valid_data())
    data[0:32] = (10**6).to_bytes(32, "big")
    with pytest.raises(DepositLogInvalid) as info:
        decode_deposit_data(bytes(data))
    assert info.value.data["reason"] == "bad_offset"


def test_log_with_another_topic_is_refused() -> None:
    raw = _raw_log(_valid_data(), topic="0x" + "00" * 32)
    with pytest.raises(DepositLogInvalid) as info:
        decode_raw_deposit_log(raw)
    assert info.value.data["reason"] == "wrong_topic"
    with pytest.raises(DepositLogInvalid):
        decode_deposit_log(parse_log(raw))


def test_log_from_another_contract_is_refused_when_the_contract_is_given() -> None:
    raw = _raw_log(_valid_data())
    assert decode_raw_deposit_log(raw).index == 0
    for decode in (
        lambda: decode_raw_deposit_log(raw, deposit_contract=ACCOUNTS[0]),
        lambda: decode_deposit_log(parse_log(raw), deposit_contract=ACCOUNTS[0]),
    ):
        with pytest.raises(DepositLogInvalid) as info:
            decode()
        assert info.value.data["reason"] == "wrong_address"


@pytest.mark.parametrize(
    "change",
    [
        {"data": "0xzz"},
        {"data": None},
        {"topics": "not a list"},
        {"topics": []},
        {"blockNumber": "16"},
        {"blockHash": "0x1234"},
        {"transactionHash": 5},
        {"logIndex": None},
        {"address": "0x1234"},
    ],
)
def test_malformed_raw_log_raises_deposit_log_invalid(change: dict[str, Any]) -> None:
    raw = _raw_log(_valid_data()) | change
    with pytest.raises(DepositLogInvalid):
        decode_raw_deposit_log(raw)


def test_raw_and_parsed_paths_give_equal_events() -> None:
    raw = _raw_log(_valid_data(11))
    assert decode_raw_deposit_log(raw) == decode_deposit_log(parse_log(raw))
    assert parse_log(raw).topics[0] == DEPOSIT_EVENT_TOPIC


@given(st.binary(max_size=700))
def test_arbitrary_bytes_decode_or_raise_deposit_log_invalid_only(data: bytes) -> None:
    try:
        fields = decode_deposit_data(data)
    except DepositLogInvalid:
        return
    assert [len(fields[0]), len(fields[1]), len(fields[3])] == [48, 32, 96]


@given(
    st.binary(min_size=48, max_size=48),
    st.binary(min_size=32, max_size=32),
    st.integers(0, 2**64 - 1),
    st.binary(min_size=96, max_size=96),
    st.integers(0, 2**64 - 1),
)
def test_any_well_formed_event_round_trips(
    pubkey: bytes, creds: bytes, amount: int, sig: bytes, index: int
) -> None:
    data = _event_data(
        pubkey, creds, amount.to_bytes(8, "little"), sig, index.to_bytes(8, "little")
    )
    assert decode_deposit_data(data) == (pubkey, creds, amount, sig, index)
