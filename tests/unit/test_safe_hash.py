"""Safe 1.4.1 safeTxHash, Transaction Builder batch files and the proposal nonce rule.

Known answers were computed outside this code: the hashes with ethers 5.4
`_TypedDataEncoder.hash` (the Safe's EIP-712 types), the batch checksums with the
Transaction Builder's own checksum algorithm (apps/tx-builder/src/lib/checksum.ts) run
under node. The chain tier also checks the hash against the Safe's `getTransactionHash`.
"""

from __future__ import annotations

import json

import pytest

from seat_manager.adapters.chain.safe import (
    NO_SAFE_NOTE,
    ZERO_ADDRESS,
    BatchCall,
    SafeTx,
    batch_checksum,
    build_proposal,
    choose_safe_nonce,
    domain_separator,
    safe_tx_hash,
    transaction_builder_batch,
)

SAFE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
TARGET = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
OTHER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
TOKEN = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"


def test_domain_separator_matches_the_eip712_encoder() -> None:
    assert (
        "0x" + domain_separator(31337, SAFE).hex()
        == "0xea9bc6608b2e94d72194fbe110189f6757a88b8767a96db98a0e6462b5fa99c8"
    )


def test_safe_tx_hash_of_a_plain_call_matches_the_eip712_encoder() -> None:
    tx = SafeTx(TARGET, 32 * 10**18, bytes.fromhex("deadbeef"), nonce=7)
    assert (
        "0x" + safe_tx_hash(31337, SAFE, tx).hex()
        == "0xd7a3e9bc83f491a47a153e90e0f7dacee4ac6358319227a7ea1b0c04d969a228"
    )


def test_safe_tx_hash_encodes_every_field_in_the_safes_order() -> None:
    tx = SafeTx(TARGET, 0, b"", 0, 1, 5, 6, 7, TOKEN, OTHER)
    assert (
        "0x" + safe_tx_hash(1, OTHER, tx).hex()
        == "0x922848c1d54d948cf5817f44edc9ed33fab44d5fef74bbd58585469964874271"
    )


@pytest.mark.parametrize(
    "changed",
    [
        SafeTx(TARGET, 32 * 10**18, bytes.fromhex("deadbeef"), nonce=8),
        SafeTx(TARGET, 32 * 10**18 + 1, bytes.fromhex("deadbeef"), nonce=7),
        SafeTx(TARGET, 32 * 10**18, bytes.fromhex("deadbeee"), nonce=7),
        SafeTx(OTHER, 32 * 10**18, bytes.fromhex("deadbeef"), nonce=7),
    ],
)
def test_safe_tx_hash_changes_with_nonce_value_data_and_target(changed: SafeTx) -> None:
    base = SafeTx(TARGET, 32 * 10**18, bytes.fromhex("deadbeef"), nonce=7)
    assert safe_tx_hash(31337, SAFE, changed) != safe_tx_hash(31337, SAFE, base)


def test_safe_tx_hash_is_bound_to_the_chain_and_the_safe() -> None:
    tx = SafeTx(TARGET, 0, b"\x01", nonce=0)
    assert safe_tx_hash(1, SAFE, tx) != safe_tx_hash(31337, SAFE, tx)
    assert safe_tx_hash(1, SAFE, tx) != safe_tx_hash(1, OTHER, tx)


def test_batch_checksum_matches_the_transaction_builder_for_two_calls() -> None:
    batch = transaction_builder_batch(
        chain_id=1,
        calls=[
            BatchCall(TARGET.lower(), 32 * 10**18, bytes.fromhex("deadbeef")),
            BatchCall("0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512", 0, b""),
        ],
        name='Seat op "x" \u00e9',
        description="deploy vault for seat-1",
        created_at_ms=1780315200000,
        safe=SAFE.lower(),
    )
    assert batch["meta"]["checksum"] == (
        "0x88df8b4aaf35cf1185bd27819745f2f23d115898d75f5161e3421dc1b2471ce5"
    )
    assert batch["meta"]["createdFromSafeAddress"] == SAFE
    assert batch["transactions"][0] == {
        "to": TARGET,
        "value": "32000000000000000000",
        "data": "0xdeadbeef",
        "contractMethod": None,
        "contractInputsValues": None,
    }


def test_batch_checksum_escapes_strings_like_json_stringify() -> None:
    batch = transaction_builder_batch(
        chain_id=31337,
        calls=[BatchCall(TARGET, 0, b"\x00\xff")],
        name="n",
        description='caf\u00e9 / "q" \\ tab\t',
        created_at_ms=5,
        safe=None,
    )
    assert batch["meta"]["checksum"] == (
        "0x477f8965acb802cc446d032a9d6cf6c37c0ee221f1ef15ef7b64ec2435c64ff7"
    )


def test_batch_checksum_ignores_the_name_but_not_the_transactions() -> None:
    batch = transaction_builder_batch(
        chain_id=1,
        calls=[BatchCall(TARGET, 0, b"\x01")],
        name="a",
        description="d",
        created_at_ms=1,
        safe=SAFE,
    )
    renamed = {**batch, "meta": {**batch["meta"], "name": "b"}}
    assert batch_checksum(renamed) == batch["meta"]["checksum"]
    edited = json.loads(json.dumps(batch))
    edited["transactions"][0]["data"] = "0x02"
    assert batch_checksum(edited) != batch["meta"]["checksum"]


def test_batch_file_is_the_transaction_builder_shape_and_survives_json() -> None:
    batch = transaction_builder_batch(
        chain_id=31337,
        calls=[BatchCall(TARGET, 3, b"\xab")],
        name="n",
        description="d",
        created_at_ms=1780315200000,
        safe=SAFE,
    )
    parsed = json.loads(json.dumps(batch))
    assert parsed["version"] == "1.0"
    assert parsed["chainId"] == "31337"
    assert parsed["createdAt"] == 1780315200000
    assert set(parsed["meta"]) >= {"name", "description", "createdFromSafeAddress", "checksum"}
    assert parsed["transactions"] == [
        {
            "to": TARGET,
            "value": "3",
            "data": "0xab",
            "contractMethod": None,
            "contractInputsValues": None,
        }
    ]


# ---- the nonce rule ---------------------------------------------------------------------


def test_first_proposal_takes_the_safes_nonce() -> None:
    assert choose_safe_nonce(safe_nonce=4, previous=None, taken=frozenset()) == 4


def test_new_proposal_skips_nonces_held_by_live_proposals() -> None:
    assert choose_safe_nonce(safe_nonce=4, previous=None, taken=frozenset({4, 5, 7})) == 6


def test_re_proposal_keeps_its_nonce_while_the_safe_has_not_reached_past_it() -> None:
    assert choose_safe_nonce(safe_nonce=4, previous=6, taken=frozenset({4, 5})) == 6
    assert choose_safe_nonce(safe_nonce=6, previous=6, taken=frozenset()) == 6


def test_re_proposal_whose_nonce_was_used_by_another_transaction_gets_a_fresh_one() -> None:
    assert choose_safe_nonce(safe_nonce=7, previous=6, taken=frozenset({7})) == 8


def test_re_proposal_never_shares_a_nonce_another_live_proposal_holds() -> None:
    assert choose_safe_nonce(safe_nonce=4, previous=5, taken=frozenset({4, 5})) == 6


# ---- the stored proposal ----------------------------------------------------------------


def test_proposal_to_a_safe_carries_nonce_hash_and_zero_gas_fields() -> None:
    proposal = build_proposal(
        chain_id=31337,
        safe=SAFE.lower(),
        call=BatchCall(TARGET, 32 * 10**18, bytes.fromhex("deadbeef")),
        nonce=7,
        name="n",
        description="d",
        created_at_ms=1,
    )
    transaction_builder = proposal.pop("transaction_builder")
    assert proposal == {
        "to": TARGET,
        "value": "32000000000000000000",
        "data": "0xdeadbeef",
        "operation": 0,
        "safe_tx_gas": 0,
        "base_gas": 0,
        "gas_price": 0,
        "gas_token": ZERO_ADDRESS,
        "refund_receiver": ZERO_ADDRESS,
        "safe_nonce": 7,
        "chain_id": 31337,
        "safe_address": SAFE,
        "safe_tx_hash": "0xd7a3e9bc83f491a47a153e90e0f7dacee4ac6358319227a7ea1b0c04d969a228",
    }
    assert transaction_builder["transactions"][0]["data"] == "0xdeadbeef"


def test_proposal_without_a_safe_has_the_call_and_no_hash() -> None:
    proposal = build_proposal(
        chain_id=1,
        safe=None,
        call=BatchCall(TARGET, 0, b"\x01"),
        nonce=None,
        name="n",
        description="d",
        created_at_ms=1,
    )
    assert "safe_tx_hash" not in proposal and "safe_nonce" not in proposal
    assert proposal["safe_address"] is None
    assert proposal["note"] == NO_SAFE_NOTE
    assert {k: proposal[k] for k in ("to", "value", "data", "operation", "chain_id")} == {
        "to": TARGET,
        "value": "0",
        "data": "0x01",
        "operation": 0,
        "chain_id": 1,
    }


def test_proposal_to_a_safe_without_a_nonce_is_refused() -> None:
    with pytest.raises(ValueError, match="nonce"):
        build_proposal(
            chain_id=1,
            safe=SAFE,
            call=BatchCall(TARGET, 0, b""),
            nonce=None,
            name="n",
            description="d",
            created_at_ms=1,
        )
