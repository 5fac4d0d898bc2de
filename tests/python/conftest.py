"""Shared fixtures: the node connection and the prefunded account.

The tests need a running node: PHALANX_RPC_URL (HTTP JSON-RPC) and
PHALANX_DEV_KEY (a prefunded private key). Without them every test is
skipped, so collection still works on a machine without a node.
"""

import json
import os
import pathlib

import pytest
from eth_account import Account
from web3 import Web3

REPO = pathlib.Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "contracts" / "artifacts"


@pytest.fixture(scope="session")
def w3():
    url = os.environ.get("PHALANX_RPC_URL")
    if not url:
        pytest.skip("PHALANX_RPC_URL is not set (no node to test against)")
    web3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 30}))
    assert web3.is_connected(), f"no JSON-RPC node answers at {url}"
    return web3


@pytest.fixture(scope="session")
def funder():
    key = os.environ.get("PHALANX_DEV_KEY")
    if not key:
        pytest.skip("PHALANX_DEV_KEY is not set (no prefunded account)")
    return Account.from_key(key)


@pytest.fixture(scope="session")
def erc20_artifact():
    with open(ARTIFACTS / "ERC20.json", encoding="utf-8") as f:
        return json.load(f)
