"""RpcClient: typed errors, bounded retries, validated answers, batches; then real anvil."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import httpx
import pytest

from seat_manager.adapters.chain.contracts import describe_revert, load_artifact
from seat_manager.adapters.chain.errors import (
    RpcError,
    RpcNodeError,
    RpcResponseInvalid,
    RpcTransportError,
)
from seat_manager.adapters.chain.rpc import RetryPolicy, RpcClient, endpoint_label
from seat_manager.adapters.chain.signer import LocalSigner
from tests.chain.fake_node import FakeNode, Reply, fake_node, node_error, ok
from tests.support.anvil import ACCOUNT_KEYS, ACCOUNTS, CHAIN_ID, Anvil, Deployed

REVERT_DATA = "0x08c379a0" + "00" * 31 + "20" + "00" * 31 + "04" + "6e6f706500" + "00" * 27


@pytest.fixture
def node() -> Iterator[FakeNode]:
    with fake_node() as server:
        yield server


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def client(url: str, sleeps: Sleeps | None = None, read_timeout: float = 5.0) -> RpcClient:
    return RpcClient(
        url,
        timeout=httpx.Timeout(connect=2.0, read=read_timeout, write=2.0, pool=2.0),
        retry=RetryPolicy(attempts=3, initial_delay=0.25, max_delay=4.0),
        sleep=sleeps or Sleeps(),
    )


# ---- node errors are answers: kept whole, never retried ------------------------------------


async def test_node_error_keeps_code_message_and_data_and_is_not_retried(node: FakeNode) -> None:
    node.script(node_error(3, "execution reverted", REVERT_DATA))
    async with client(node.url) as rpc:
        with pytest.raises(RpcNodeError) as info:
            await rpc.request("eth_call", [{}])
    error = info.value
    assert (error.rpc_code, error.rpc_message, error.rpc_data) == (
        3,
        "execution reverted",
        REVERT_DATA,
    )
    assert error.code == "RPC_NODE_ERROR"
    assert error.revert_data is not None and describe_revert(error.revert_data) == "nope"
    assert "eth_call" in error.message and "execution reverted" in error.message
    assert len(node.requests) == 1


async def test_node_error_in_a_non_2xx_http_answer_is_still_a_node_error(node: FakeNode) -> None:
    node.script(
        Reply(
            status=400,
            body={"jsonrpc": "2.0", "id": 1, "error": {"code": -32602, "message": "bad"}},
        )
    )
    async with client(node.url) as rpc:
        with pytest.raises(RpcNodeError) as info:
            await rpc.request("eth_getLogs", [{}])
    assert info.value.rpc_code == -32602
    assert len(node.requests) == 1


# ---- malformed answers -------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"<html>gateway</html>",
        b"",
        b"\xff\xfe",
        {"jsonrpc": "2.0", "id": 1},
        {"jsonrpc": "2.0", "id": 99, "result": "0x1"},
        {"jsonrpc": "2.0", "id": 1, "error": {"code": "x", "message": "m"}},
        {"jsonrpc": "2.0", "id": 1, "error": "boom"},
        [{"jsonrpc": "2.0", "id": 1, "result": "0x1"}],
        "just a string",
    ],
)
async def test_malformed_answer_raises_response_invalid_not_keyerror(
    node: FakeNode, body: object
) -> None:
    node.script(Reply(body=body))
    async with client(node.url) as rpc:
        with pytest.raises(RpcResponseInvalid):
            await rpc.request("eth_blockNumber")
    assert len(node.requests) == 1


@pytest.mark.parametrize("result", ["abc", "0x", "0xzz", 12, None, "0x1_0"])
async def test_typed_helper_refuses_a_result_of_the_wrong_shape(
    node: FakeNode, result: object
) -> None:
    node.script(ok(result))
    async with client(node.url) as rpc:
        with pytest.raises(RpcResponseInvalid):
            await rpc.chain_id()


async def test_get_logs_with_a_malformed_entry_names_the_field(node: FakeNode) -> None:
    node.script(ok([{"address": "0x" + "11" * 20, "topics": [], "data": "0x"}]))
    async with client(node.url) as rpc:
        with pytest.raises(RpcResponseInvalid) as info:
            await rpc.get_logs(address=None, from_block=0, to_block="latest")
    assert info.value.data == {"field": "log.blockNumber"}


# ---- transport trouble: retried with backoff, then a transport error ---------------------------


async def test_transient_503_is_retried_with_backoff_then_succeeds(node: FakeNode) -> None:
    node.script(Reply(status=503), Reply(status=503), ok("0x7a69"))
    sleeps = Sleeps()
    async with client(node.url, sleeps) as rpc:
        assert await rpc.chain_id() == 31337
    assert len(node.requests) == 3
    assert sleeps.delays == [0.25, 0.5]


async def test_persistent_503_gives_transport_error_after_the_bounded_attempts(
    node: FakeNode,
) -> None:
    node.script(Reply(status=503, body=b"busy"))
    async with client(node.url) as rpc:
        with pytest.raises(RpcTransportError) as info:
            await rpc.block_number()
    assert len(node.requests) == 3
    assert "HTTP 503" in info.value.message and "3 attempt(s)" in info.value.message


async def test_http_500_without_json_rpc_body_is_a_transport_error_without_retry(
    node: FakeNode,
) -> None:
    node.script(Reply(status=500, body=b"internal"))
    async with client(node.url) as rpc:
        with pytest.raises(RpcTransportError) as info:
            await rpc.block_number()
    assert info.value.data["status"] == 500
    assert len(node.requests) == 1


async def test_read_timeout_is_retried_then_reported(node: FakeNode) -> None:
    node.script(Reply(delay=0.5, body={"jsonrpc": "2.0", "id": 1, "result": "0x1"}))
    async with client(node.url, read_timeout=0.1) as rpc:
        with pytest.raises(RpcTransportError) as info:
            await rpc.block_number()
    assert "ReadTimeout" in info.value.message
    assert len(node.requests) == 3


async def test_refused_connection_is_a_transport_error_after_retries() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleeps = Sleeps()
    async with client(f"http://127.0.0.1:{port}", sleeps) as rpc:
        with pytest.raises(RpcTransportError) as info:
            await rpc.chain_id()
    assert "ConnectError" in info.value.message
    assert len(sleeps.delays) == 2


async def test_errors_and_repr_never_show_credentials_path_or_query(node: FakeNode) -> None:
    port = node.url.rsplit(":", 1)[1]
    url = f"http://alice:hunter2@127.0.0.1:{port}/v3/KEY-in-path?apikey=KEY-in-query"
    node.script(Reply(status=503), Reply(status=200, body=b"garbage"))
    async with client(url) as rpc:
        assert repr(rpc) == f"RpcClient(http://127.0.0.1:{port})"
        with pytest.raises(RpcError) as info:
            await rpc.chain_id()
    assert node.paths[-1] == "/v3/KEY-in-path?apikey=KEY-in-query"
    shown = f"{info.value} {info.value!r} {info.value.data}"
    for secret in ("hunter2", "alice", "KEY-in-path", "KEY-in-query"):
        assert secret not in shown
    assert info.value.__cause__ is None


def test_endpoint_label_keeps_scheme_host_and_port_only() -> None:
    assert endpoint_label("https://u:p@rpc.example:8545/abc?k=v") == "https://rpc.example:8545"
    assert endpoint_label("https://rpc.example/key") == "https://rpc.example"


# ---- batches ---------------------------------------------------------------------------------


async def test_batch_results_come_back_in_call_order_whatever_the_answer_order(
    node: FakeNode,
) -> None:
    node.script(
        Reply(
            body=[
                {"jsonrpc": "2.0", "id": 2, "result": "0x2"},
                {"jsonrpc": "2.0", "id": 1, "result": "0x1"},
            ]
        )
    )
    async with client(node.url) as rpc:
        assert await rpc.batch([("eth_chainId", []), ("eth_blockNumber", [])]) == ["0x1", "0x2"]
    assert [r["method"] for r in node.requests[0]] == ["eth_chainId", "eth_blockNumber"]


async def test_batch_with_one_failed_call_raises_that_node_error(node: FakeNode) -> None:
    node.script(
        Reply(
            body=[
                {"jsonrpc": "2.0", "id": 1, "result": "0x1"},
                {
                    "jsonrpc": "2.0",
                    "id": 2,
                    "error": {"code": -32000, "message": "header not found"},
                },
            ]
        )
    )
    async with client(node.url) as rpc:
        with pytest.raises(RpcNodeError) as info:
            await rpc.batch([("eth_chainId", []), ("eth_getBlockByNumber", ["0x99", False])])
    assert info.value.method == "eth_getBlockByNumber"
    assert info.value.rpc_message == "header not found"


@pytest.mark.parametrize(
    "body",
    [
        [{"jsonrpc": "2.0", "id": 1, "result": "0x1"}],
        [
            {"jsonrpc": "2.0", "id": 1, "result": "0x1"},
            {"jsonrpc": "2.0", "id": 1, "result": "0x1"},
        ],
        [
            {"jsonrpc": "2.0", "id": 1, "result": "0x1"},
            {"jsonrpc": "2.0", "id": 7, "result": "0x1"},
        ],
        [{"jsonrpc": "2.0", "id": 1, "result": "0x1"}, "junk"],
        {"jsonrpc": "2.0", "id": 1, "result": "0x1"},
    ],
)
async def test_batch_with_missing_repeated_or_unknown_ids_is_invalid(
    node: FakeNode, body: object
) -> None:
    node.script(Reply(body=body))
    async with client(node.url) as rpc:
        with pytest.raises(RpcResponseInvalid):
            await rpc.batch([("eth_chainId", []), ("eth_blockNumber", [])])


async def test_batch_refused_as_a_whole_raises_the_node_error(node: FakeNode) -> None:
    node.script(node_error(-32600, "batch requests are not supported", request_id=None))
    async with client(node.url) as rpc:
        with pytest.raises(RpcNodeError) as info:
            await rpc.batch([("eth_chainId", []), ("eth_blockNumber", [])])
    assert info.value.rpc_code == -32600


# ---- against a real node ---------------------------------------------------------------------


@pytest.mark.anvil
async def test_typed_helpers_against_anvil(anvil: Anvil, deployed: Deployed) -> None:
    factory = load_artifact("VaultFactory")
    async with RpcClient(anvil.url) as rpc:
        assert await rpc.chain_id() == CHAIN_ID
        head = await rpc.block_number()
        block = await rpc.get_block(head)
        assert block is not None and block.number == head
        assert await rpc.get_block(head + 1000) is None
        code = await rpc.get_code(deployed.factory.address)
        assert len(code) == len(factory.deployed_bytecode)
        assert await rpc.get_code(ACCOUNTS[5]) == b""
        init_code_hash = await rpc.call(
            deployed.factory.address, factory.encode_call("vaultInitCodeHash")
        )
        assert init_code_hash == bytes(deployed.factory.functions.vaultInitCodeHash().call())
        assert await rpc.batch([("eth_chainId", []), ("eth_blockNumber", [])]) == [
            hex(CHAIN_ID),
            hex(head),
        ]
        assert await rpc.get_balance(ACCOUNTS[5]) == anvil.w3.eth.get_balance(ACCOUNTS[5])


@pytest.mark.anvil
async def test_revert_from_anvil_carries_decodable_revert_data(
    anvil: Anvil, deployed: Deployed
) -> None:
    call = load_artifact("VaultFactory").encode_call("deployVault", "s", ACCOUNTS[1], ACCOUNTS[2])
    async with RpcClient(anvil.url) as rpc:
        with pytest.raises(RpcNodeError) as info:
            await rpc.call(deployed.factory.address, call, sender=ACCOUNTS[4])
    assert info.value.revert_data is not None
    assert describe_revert(info.value.revert_data) == "NotOwner()"


@pytest.mark.anvil
async def test_signed_raw_transaction_is_mined_and_its_receipt_read(
    anvil: Anvil, deployed: Deployed
) -> None:
    signer = LocalSigner(ACCOUNT_KEYS[5])
    async with RpcClient(anvil.url) as rpc:
        nonce = await rpc.get_transaction_count(signer.address)
        tip = await rpc.max_priority_fee_per_gas()
        latest = await rpc.get_block()
        assert latest is not None and latest.base_fee_per_gas is not None
        signed = signer.sign_transaction(
            {
                "type": 2,
                "chainId": CHAIN_ID,
                "nonce": nonce,
                "to": ACCOUNTS[4],
                "value": 12345,
                "gas": 21_000,
                "maxPriorityFeePerGas": tip,
                "maxFeePerGas": 2 * latest.base_fee_per_gas + tip,
            }
        )
        assert await rpc.send_raw_transaction(signed.raw) == signed.tx_hash
        receipt = None
        for _ in range(100):  # automine mines on its own task: the receipt may lag a moment
            receipt = await rpc.get_transaction_receipt(signed.tx_hash)
            if receipt is not None:
                break
            await asyncio.sleep(0.05)
        assert receipt is not None and receipt.succeeded
        assert receipt.transaction_hash == signed.tx_hash
        assert await rpc.get_transaction_count(signer.address) == nonce + 1
        with pytest.raises(RpcNodeError):
            await rpc.send_raw_transaction(signed.raw)  # same bytes again: nonce too low
        assert await rpc.get_transaction_receipt("0x" + "00" * 32) is None
