"""Gate signatures: the shared test vectors, and the server's checks of signed requests."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest

from adaptive_agent.io.loaders import Candles
from adaptive_agent.sim.runner import running_sim
from adaptive_agent.sim.signing import rest_payload, same, sign_rest, sign_ws
from tests.support.market_data import ROOT

VECTORS = ROOT / "tests" / "data" / "gate_sign_vectors.json"
KEY, SECRET = "sig-key", "sig-secret"


@pytest.fixture(scope="module")
def vectors() -> dict:
    return json.loads(VECTORS.read_text())


def test_rest_vectors_verify(vectors):
    assert len(vectors["rest"]) == 6
    for v in vectors["rest"]:
        args = (v["method"], v["path"], v["query"], v["body"], v["timestamp"])
        assert rest_payload(*args) == v["payload_to_sign"], v["label"]
        assert sign_rest(v["secret"], *args) == v["expected_SIGN"], v["label"]
        assert same(sign_rest(v["secret"], *args), v["expected_SIGN"].upper())
        assert not same(sign_rest("other", *args), v["expected_SIGN"])


def test_ws_vector_verifies(vectors):
    v = vectors["ws_subscribe"]
    assert sign_ws(v["secret"], v["channel"], v["event"], v["time"]) == v["expected_SIGN"]
    assert v["message_shape"]["auth"]["SIGN"] == v["expected_SIGN"]


@pytest.fixture(scope="module")
def path(spot) -> Candles:
    return spot.slice(0, 50)


def test_server_checks_every_part_of_a_signed_request(path):
    async def call(http, base, query, sign_query=None, ts=None, key=KEY, secret=SECRET):
        ts = ts or str(int(time.time()))
        path_ = "/api/v4/futures/usdt/orders"
        sign = sign_rest(secret, "GET", path_, query if sign_query is None else sign_query, "", ts)
        headers = {"KEY": key, "Timestamp": ts, "SIGN": sign}
        async with http.get(f"{base}{path_}?{query}", headers=headers) as r:
            return r.status, await r.json()

    async def main() -> list:
        async with running_sim(path, KEY, SECRET) as sim, aiohttp.ClientSession() as http:
            q = "contract=BTC_USDT&status=open"
            results = [
                await call(http, sim.url, q),
                await call(http, sim.url, q, sign_query="contract=BTC_USDT&status=finished"),
                await call(http, sim.url, q, secret="nope"),
                await call(http, sim.url, q, key="nope"),
                await call(http, sim.url, q, ts=str(int(time.time()) - 3600)),
                await call(http, sim.url, q, ts=f"{time.time():.2f}"),  # the SDK's float form
            ]
            async with http.get(f"{sim.url}/api/v4/spot/accounts") as r:
                results.append((r.status, await r.json()))
            return results

    results = asyncio.run(main())
    assert results[0] == (200, [])
    assert results[5] == (200, [])
    labels = [(status, body["label"]) for status, body in results[1:5] + results[6:]]
    assert labels == [
        (401, "INVALID_SIGNATURE"),
        (401, "INVALID_SIGNATURE"),
        (401, "INVALID_KEY"),
        (401, "REQUEST_EXPIRED"),
        (401, "MISSING_REQUIRED_HEADER"),
    ]
