"""Gate facts: the client-id rule, error classification, HTTP statuses, URL redirection."""

from __future__ import annotations

import asyncio

import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro
import pytest

from adaptive_agent.exchange.gate_constants import (
    CLIENT_ID_MAX_BODY,
    REST_HOST,
    ErrorKind,
    Label,
    error_kind,
    http_status,
    is_client_id,
    label_in,
    names_client_id,
    redirect_ccxt,
)


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("t-abc", True),
        ("t-" + "x" * CLIENT_ID_MAX_BODY, True),
        ("t-" + "x" * (CLIENT_ID_MAX_BODY + 1), False),
        ("t-a_b.c-D9", True),
        ("t-", False),
        ("abc", False),
        ("t-a b", False),
        ("t-é", False),
    ],
)
def test_client_id_rule_is_gates_text_rule(text, ok):
    assert is_client_id(text) is ok


def test_lookup_keys_name_a_client_id_by_the_prefix():
    assert names_client_id("t-1s") and not names_client_id("1000001")


@pytest.mark.parametrize(
    ("label", "kind"),
    [
        (Label.BALANCE_NOT_ENOUGH, ErrorKind.BALANCE),
        (Label.INSUFFICIENT_AVAILABLE, ErrorKind.BALANCE),
        (Label.POC_FILL_IMMEDIATELY, ErrorKind.POST_ONLY_CROSS),
        (Label.ORDER_POC_IMMEDIATE, ErrorKind.POST_ONLY_CROSS),
        (Label.ORDER_NOT_FOUND, ErrorKind.NOT_FOUND),
        (Label.ORDER_CLOSED, ErrorKind.FINISHED),
        (Label.ORDER_FINISHED, ErrorKind.FINISHED),
        (Label.REDUCE_EXCEEDED, ErrorKind.REDUCE_ONLY),
        (Label.TOO_MANY_REQUESTS, ErrorKind.RATE_LIMITED),
        (Label.INVALID_SIGNATURE, ErrorKind.AUTH),
        (Label.SERVER_ERROR, ErrorKind.TRANSIENT),
        (Label.INVALID_PARAM_VALUE, ErrorKind.INVALID),
        ("OrderNotFound", ErrorKind.NOT_FOUND),  # ccxt's class name when there is no label
        ("RateLimitExceeded", ErrorKind.RATE_LIMITED),
    ],
)
def test_labels_are_classified_by_kind(label, kind):
    assert error_kind(label) is kind


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (429, ErrorKind.RATE_LIMITED),
        (401, ErrorKind.AUTH),
        (404, ErrorKind.NOT_FOUND),
        (502, ErrorKind.TRANSIENT),
        (400, ErrorKind.INVALID),
        (None, ErrorKind.OTHER),
    ],
)
def test_unknown_labels_fall_back_to_the_http_status(status, kind):
    assert error_kind("SOMETHING_NEW", status) is kind
    assert error_kind(None, status) is kind


def test_http_status_of_labels():
    assert http_status(Label.INVALID_KEY) == 401
    assert http_status(Label.ORDER_NOT_FOUND) == 404
    assert http_status(Label.SERVER_ERROR) == 500
    assert http_status(Label.TOO_MANY_REQUESTS) == 429
    assert http_status(Label.BALANCE_NOT_ENOUGH) == 400
    assert http_status(Label.CONTRACT_NOT_FOUND) == 400


def test_label_is_read_from_ccxts_message():
    text = 'gate {"label":"BALANCE_NOT_ENOUGH","message":"Not enough balance"}'
    assert label_in(text) == Label.BALANCE_NOT_ENOUGH
    assert label_in("gate GET https://api.gateio.ws 502 Bad Gateway") is None


def test_redirect_keeps_the_signed_api_path_and_sets_the_sockets():
    asyncio.run(_redirect())


async def _redirect() -> None:
    rest = ccxt_async.gate()
    pro = ccxt_pro.gate()
    try:
        redirect_ccxt(rest, "http://127.0.0.1:9/")
        assert rest.urls["api"]["private"]["spot"] == "http://127.0.0.1:9/api/v4"
        assert all(REST_HOST not in u for u in rest.urls["api"]["public"].values())
        redirect_ccxt(pro, None, "ws://h/ws/v4/", "ws://h/v4/ws/futures/usdt")
        assert pro.urls["api"]["spot"] == "ws://h/ws/v4/"
        assert pro.urls["api"]["swap"]["usdt"] == "ws://h/v4/ws/futures/usdt"
        assert pro.urls["api"]["public"]["spot"].startswith(REST_HOST)
    finally:
        await rest.close()
        await pro.close()
