"""End-to-end ERC-20 test of a Phalanx node through web3.py.

Run with tests/python/run.sh; needs PHALANX_RPC_URL and PHALANX_DEV_KEY
(optionally PHALANX_CHAIN_ID to check the chain id exactly, and
PHALANX_WS_URL to check newHeads subscriptions).
"""

import asyncio
import os

import pytest
from eth_account import Account
from web3 import AsyncWeb3, Web3, WebSocketProvider
from web3.exceptions import ContractLogicError

RECEIPT_TIMEOUT_S = 60
SUPPLY = 10**6 * 10**18
SENT = 12_345
INSUFFICIENT_BALANCE_SELECTOR = Web3.keccak(
    text="ERC20InsufficientBalance(address,uint256,uint256)"
)[:4]


def send(w3, account, tx):
    """Fills nonce, chain id and fees, signs, sends and waits for the receipt."""
    tx.setdefault("from", account.address)
    tx.setdefault("nonce", w3.eth.get_transaction_count(account.address, "pending"))
    tx.setdefault("chainId", w3.eth.chain_id)
    if "gas" not in tx:
        tx["gas"] = w3.eth.estimate_gas(tx)
    if "maxFeePerGas" not in tx:
        base = w3.eth.get_block("latest")["baseFeePerGas"]
        tip = w3.eth.max_priority_fee
        tx["maxPriorityFeePerGas"] = tip
        tx["maxFeePerGas"] = 2 * base + tip
    signed = account.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT_S)


@pytest.fixture(scope="module")
def token(w3, funder, erc20_artifact):
    """Deploys PhalanxToken minting SUPPLY to the funder."""
    factory = w3.eth.contract(abi=erc20_artifact["abi"], bytecode=erc20_artifact["bytecode"])
    tx = factory.constructor("Phalanx Test", "PTT", SUPPLY).build_transaction(
        {
            "from": funder.address,
            "nonce": w3.eth.get_transaction_count(funder.address, "pending"),
        }
    )
    receipt = send(w3, funder, dict(tx))
    assert receipt["status"] == 1, receipt
    assert receipt["contractAddress"], receipt
    code = w3.eth.get_code(receipt["contractAddress"])
    assert code == bytes.fromhex(erc20_artifact["deployedBytecode"][2:])
    return w3.eth.contract(address=receipt["contractAddress"], abi=erc20_artifact["abi"])


def test_chain_id(w3):
    chain_id = w3.eth.chain_id
    assert chain_id > 0
    expected = os.environ.get("PHALANX_CHAIN_ID")
    if expected:
        assert chain_id == int(expected, 0)


def test_deploy_mints_supply(token, funder):
    assert token.functions.totalSupply().call() == SUPPLY
    assert token.functions.balanceOf(funder.address).call() == SUPPLY
    assert token.functions.symbol().call() == "PTT"
    assert token.functions.decimals().call() == 18


def test_transfer_moves_balance_and_logs(w3, token, funder):
    recipient = Account.create().address
    before = token.functions.balanceOf(funder.address).call()
    tx = token.functions.transfer(recipient, SENT).build_transaction(
        {
            "from": funder.address,
            "nonce": w3.eth.get_transaction_count(funder.address, "pending"),
        }
    )
    receipt = send(w3, funder, dict(tx))
    assert receipt["status"] == 1
    assert token.functions.balanceOf(recipient).call() == SENT
    assert token.functions.balanceOf(funder.address).call() == before - SENT

    events = token.events.Transfer().process_receipt(receipt)
    assert len(events) == 1
    args = events[0]["args"]
    assert (args["from"], args["to"], args["value"]) == (funder.address, recipient, SENT)

    # The same log through eth_getLogs, filtered by address and topic.
    logs = token.events.Transfer().get_logs(
        from_block=receipt["blockNumber"], to_block=receipt["blockNumber"]
    )
    assert [log["transactionHash"] for log in logs] == [receipt["transactionHash"]]
    assert logs[0]["args"]["to"] == recipient
    raw = w3.eth.get_logs(
        {
            "fromBlock": receipt["blockNumber"],
            "toBlock": receipt["blockNumber"],
            "address": token.address,
            "topics": [Web3.to_hex(Web3.keccak(text="Transfer(address,address,uint256)"))],
        }
    )
    assert len(raw) == 1 and raw[0]["blockHash"] == receipt["blockHash"]


def _assert_insufficient_balance(err, holder, balance, needed):
    data = err.data if isinstance(err.data, str) else str(err.data)
    assert data.startswith("0x" + INSUFFICIENT_BALANCE_SELECTOR.hex().removeprefix("0x")), data
    args = bytes.fromhex(data[2 + 8 :])
    assert len(args) == 96
    assert args[12:32] == bytes.fromhex(holder[2:].lower())
    assert int.from_bytes(args[32:64], "big") == balance
    assert int.from_bytes(args[64:96], "big") == needed


def test_transfer_over_balance_reverts_with_custom_error(token, funder):
    # The funder pays for gas, so eth_call and eth_estimateGas fail only
    # because of the token balance, whatever fee defaults the node applies.
    balance = token.functions.balanceOf(funder.address).call()
    call = token.functions.transfer(Account.create().address, balance + 1)
    with pytest.raises(ContractLogicError) as by_call:
        call.call({"from": funder.address})
    _assert_insufficient_balance(by_call.value, funder.address, balance, balance + 1)
    with pytest.raises(ContractLogicError) as by_estimate:
        call.estimate_gas({"from": funder.address})
    _assert_insufficient_balance(by_estimate.value, funder.address, balance, balance + 1)


async def _next_head(ws_url, trigger):
    async with AsyncWeb3(WebSocketProvider(ws_url)) as aw3:
        await aw3.eth.subscribe("newHeads")
        trigger()
        async for message in aw3.socket.process_subscriptions():
            return message["result"]
    return None


def test_new_heads_subscription(w3, funder):
    ws_url = os.environ.get("PHALANX_WS_URL")
    if not ws_url:
        pytest.skip("PHALANX_WS_URL is not set")
    start = w3.eth.block_number

    def trigger():
        # A transaction makes sure a block follows even on a chain that only
        # produces blocks when it has transactions.
        send(w3, funder, {"to": Account.create().address, "value": 1, "gas": 21_000})

    head = asyncio.run(asyncio.wait_for(_next_head(ws_url, trigger), RECEIPT_TIMEOUT_S))
    assert head is not None
    assert int(head["number"]) > start - 1
    assert head["hash"]
