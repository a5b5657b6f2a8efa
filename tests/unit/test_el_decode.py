"""The EL watcher's pure parts: the fast row decoder (checked against the general
DepositEvent decoder), the deposit-count decoding, range merging and range sizing."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi.abi import encode
from hypothesis import given
from hypothesis import strategies as st

from seat_manager.adapters.chain.deposit_logs import DEPOSIT_EVENT_TOPIC_HEX, decode_raw_deposit_log
from seat_manager.adapters.chain.errors import (
    DepositLogInvalid,
    RpcNodeError,
    RpcResponseInvalid,
    RpcTransportError,
)
from seat_manager.workers.el_decode import decode_deposit_rows
from seat_manager.workers.el_errors import ChainMovedDuringScan, IndexIncomplete
from seat_manager.workers.el_fetch import (
    AdaptiveRange,
    RangeRead,
    decode_deposit_count,
    merge_reads,
)
from seat_manager.workers.el_watcher import shrinkable

CONTRACT = "0x00000000219ab540356cBB839Cbe05303d7705Fa"


def raw_log(
    pubkey: bytes = b"\x11" * 48,
    credentials: bytes = b"\x01" + b"\x00" * 11 + b"\x22" * 20,
    amount: int = 32 * 10**9,
    index: int = 7,
    *,
    block: int = 0x10,
    log_index: int = 3,
    address: str = CONTRACT.lower(),
    data: bytes | None = None,
) -> dict[str, Any]:
    if data is None:
        data = encode(
            ["bytes"] * 5,
            [
                pubkey,
                credentials,
                amount.to_bytes(8, "little"),
                b"\x33" * 96,
                index.to_bytes(8, "little"),
            ],
        )
    return {
        "address": address,
        "topics": [DEPOSIT_EVENT_TOPIC_HEX],
        "data": "0x" + data.hex(),
        "blockNumber": hex(block),
        "blockHash": "0x" + f"{block:064x}",
        "transactionHash": "0x" + "cd" * 32,
        "transactionIndex": "0x0",
        "logIndex": hex(log_index),
        "removed": False,
    }


def via_general_decoder(raw: dict[str, Any]) -> tuple[Any, ...]:
    event = decode_raw_deposit_log(raw, deposit_contract=CONTRACT)
    return (
        event.pubkey,
        event.withdrawal_credentials,
        event.amount_gwei,
        event.index,
        event.block_number,
        bytes.fromhex(event.block_hash[2:]),
        bytes.fromhex(event.tx_hash[2:]),
        event.log_index,
    )


@given(
    pubkey=st.binary(min_size=48, max_size=48),
    credentials=st.binary(min_size=32, max_size=32),
    amount=st.integers(0, 2**64 - 1),
    index=st.integers(0, 2**64 - 1),
    block=st.integers(0, 2**40),
    log_index=st.integers(0, 2**16),
)
def test_fast_rows_equal_the_general_decoder_for_any_field_values(
    pubkey: bytes, credentials: bytes, amount: int, index: int, block: int, log_index: int
) -> None:
    raw = raw_log(pubkey, credentials, amount, index, block=block, log_index=log_index)
    assert decode_deposit_rows([raw], CONTRACT) == [via_general_decoder(raw)]


def test_upper_case_hex_and_checksummed_address_decode_the_same_via_the_general_path() -> None:
    raw = raw_log()
    shouty = {**raw, "data": "0x" + raw["data"][2:].upper(), "address": CONTRACT}
    assert decode_deposit_rows([shouty], CONTRACT) == decode_deposit_rows([raw], CONTRACT)


def test_non_canonical_but_valid_layout_decodes_the_same() -> None:
    canonical = bytes.fromhex(raw_log()["data"][2:])
    tails = [
        canonical[a:b] for a, b in ((0xA0, 0x100), (0x100, 0x140), (0x140, 0x180), (0x180, 0x200))
    ]
    tails.append(canonical[0x200:])
    offsets, body, position = [0] * 5, b"", 160
    for slot in reversed(range(5)):
        offsets[slot] = position
        body += tails[slot]
        position += len(tails[slot])
    shuffled = b"".join(o.to_bytes(32, "big") for o in offsets) + body
    assert decode_deposit_rows([raw_log(data=shuffled)], CONTRACT) == decode_deposit_rows(
        [raw_log()], CONTRACT
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"address": "0x" + "99" * 20}, "wrong_address"),
        ({"data": raw_log()["data"][:-64]}, None),
        ({"blockHash": "0x1234"}, "malformed_log"),
        ({"topics": ["0x" + "00" * 32]}, "wrong_topic"),
    ],
)
def test_logs_that_are_not_official_deposit_events_of_the_contract_are_refused(
    change: dict[str, Any], reason: str | None
) -> None:
    with pytest.raises(DepositLogInvalid) as info:
        decode_deposit_rows([{**raw_log(), **change}], CONTRACT)
    if reason is not None:
        assert info.value.data["reason"] == reason


def test_deposit_count_is_eight_little_endian_bytes_and_nothing_before_deployment() -> None:
    assert decode_deposit_count(encode(["bytes"], [(300).to_bytes(8, "little")])) == 300
    assert decode_deposit_count(b"") == 0
    with pytest.raises(RpcResponseInvalid):
        decode_deposit_count(encode(["bytes"], [b"\x01\x02"]))
    with pytest.raises(RpcResponseInvalid):
        decode_deposit_count(b"\x01" * 7)


def test_consecutive_reads_merge_into_one_with_the_last_count() -> None:
    first = RangeRead(1, 5, [raw_row(2)], [(5, "0x05")], 1)
    second = RangeRead(6, 9, [raw_row(7), raw_row(9)], [(9, "0x09")], 3)
    merged = merge_reads([first, second])
    assert (merged.first, merged.last, merged.deposit_count) == (1, 9, 3)
    assert [row[4] for row in merged.rows] == [2, 7, 9]
    assert merged.last_hash == "0x09"


def raw_row(block: int) -> tuple[bytes, bytes, int, int, int, bytes, bytes, int]:
    return (b"p" * 48, b"c" * 32, 1, block, block, bytes(32), bytes(32), 0)


def test_range_halves_on_refusal_and_doubles_back_up_to_the_ceiling_then_probes_higher() -> None:
    sizes = AdaptiveRange(64, probe_after=3)
    assert sizes.refused() and sizes.size == 32
    assert sizes.refused() and sizes.size == 16
    sizes.succeeded()
    assert sizes.size == 16  # the refused size is not asked for again at once
    sizes.succeeded()
    sizes.succeeded()  # third success in a row: the ceiling is lifted
    assert sizes.size == 32
    for _ in range(10):
        sizes.succeeded()
    assert sizes.size == 64


def test_range_of_one_block_cannot_shrink_further() -> None:
    sizes = AdaptiveRange(2)
    assert sizes.refused() and sizes.size == 1
    assert not sizes.refused()


def test_refusals_and_broken_answers_shrink_but_dead_nodes_and_moving_chains_do_not() -> None:
    assert shrinkable(RpcNodeError("eth_getLogs", -32005, "query returned more than 10000 results"))
    assert shrinkable(RpcResponseInvalid("not JSON"))
    assert shrinkable(RpcTransportError("t", data={"failure": "ReadTimeout"}))
    assert shrinkable(IndexIncomplete("missing logs"))
    assert not shrinkable(RpcTransportError("t", data={"failure": "ConnectError"}))
    assert not shrinkable(ChainMovedDuringScan("moved"))


def test_canonical_lower_case_logs_take_the_fast_path_and_others_do_not() -> None:
    from seat_manager.workers import el_decode

    assert el_decode._fast(raw_log(), CONTRACT.lower()) is not None
    upper = {**raw_log(), "data": "0x" + raw_log()["data"][2:].upper()}
    assert el_decode._fast(upper, CONTRACT.lower()) is None
