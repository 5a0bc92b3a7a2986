"""Gate.io API v4 facts in one place: client ids, BTC_USDT trading rules, batch limits, paths,
error labels and how they are classified, and the URL redirection used for rehearsals.

The ccxt adapter (``gate_ccxt.py``) and the simulator (``adaptive_agent.sim``) both read these,
so a fact about Gate is written once. Sources, cited per fact below:

* Gate API v4 docs, https://www.gate.com/docs/developers/apiv4/en/ ("label list", "Spot",
  "Futures"; the same text is in Gate's SDK model docs, e.g. gateapi-python docs/Order.md).
* ccxt ``gate.py`` (4.5.x): ``exceptions['exact']`` (label -> exception class), ``createOrder``
  (``text`` handling), ``sign`` (the signed path includes ``/api/v4``).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

# ---- client order id (Gate ``text``) ------------------------------------------------------
# Gate API v4, order ``text``: "User defined information. If not empty, must follow the rules
# below: 1. prefixed with `t-` 2. no longer than 28 bytes without `t-` prefix 3. can only
# include 0-9, A-Z, a-z, underscore(_), hyphen(-) or dot(.)" (spot and futures orders alike).
CLIENT_ID_PREFIX = "t-"
CLIENT_ID_MAX_BODY = 28  # bytes after the prefix (the allowed characters are one byte each)
CLIENT_ID_CHARS = "0-9A-Za-z_.\\-"  # regex character class of the allowed characters
CLIENT_ID_RE = re.compile(f"{CLIENT_ID_PREFIX}[{CLIENT_ID_CHARS}]{{1,{CLIENT_ID_MAX_BODY}}}")
# What Gate's order replies carry in ``text`` when the client set none (ccxt gate.py's sample
# replies: "text": "apiv4"); the docs list it among the reserved values as "api".
DEFAULT_TEXT = "apiv4"
# Gate API v4, "Get a single order" (futures): a custom id is accepted while the order is in
# the order book "and within 60 seconds after the end of the order"; spot looks a ``text`` up
# only while the order is open.
FUTURES_TEXT_GRACE_MS = 60_000
# Gate API v4 "Query futures order list" (``GET /futures/{settle}/orders``): "Zero-fill order
# cannot be retrieved for 10 minutes after cancellation" (older wording: "cannot be retrieved
# 10 minutes after order cancellation"). The simulator reads it strictly: gone after 10 min.
ZERO_FILL_HISTORY_MS = 600_000


def is_client_id(text: str) -> bool:
    """Does ``text`` follow Gate's rule for a user-defined ``text``?"""
    return CLIENT_ID_RE.fullmatch(text) is not None


def names_client_id(key: str) -> bool:
    """Is this lookup key a client id (``t-...``) rather than Gate's numeric order id?"""
    return key.startswith(CLIENT_ID_PREFIX)


# ---- BTC_USDT trading rules ---------------------------------------------------------------
# Gate API v4 ``GET /spot/currency_pairs/BTC_USDT``: precision 1 (price), amount_precision 6,
# min_base_amount 0.000001, min_quote_amount 3; ``GET /futures/usdt/contracts/BTC_USDT``:
# order_price_round 0.1, quanto_multiplier 0.0001 (BTC per contract), order_size_min 1,
# order_price_deviate 0.04. (Snapshot in adaptive_agent/sim/gate_markets.json, which must agree.)
PAIR = "BTC_USDT"  # spot currency pair and futures contract name alike
CONTRACT = "BTC_USDT"
SETTLE = "usdt"
SPOT_PRICE_TICK = 0.1
SPOT_AMOUNT_LOT = 0.000001  # BTC
SPOT_MIN_BASE = 0.000001  # BTC
SPOT_MIN_QUOTE = 3.0  # USDT
# Gate compares the quote amount in decimals; in floats size x price can fall a hair short
# (0.00015 x 20000 = 2.9999999999999996): a shortfall below this is float noise, not real.
QUOTE_EPS = 1e-9
FUTURES_PRICE_TICK = 0.1
QUANTO_MULTIPLIER = 0.0001  # BTC per contract ("contract size")
FUTURES_MIN_SIZE = 1  # contracts
PRICE_DEVIATE = 0.04  # |order price / mark - 1| limit on futures limit orders

# ---- batch limits -------------------------------------------------------------------------
# Gate API v4 ``POST /spot/batch_orders``: "At most 4 currency pairs, maximum 10 orders each,
# are allowed in one request"; ``POST /futures/{settle}/batch_orders``: "Up to 10 orders per
# request". ccxt's ``createOrders`` sends one market type per request.
SPOT_BATCH_MAX = 10  # per currency pair
SPOT_BATCH_MAX_PAIRS = 4
FUTURES_BATCH_MAX = 10

# ---- endpoints ----------------------------------------------------------------------------
# Gate API v4 base URL; ccxt signs the path including ``/api/v4`` (gate.py ``sign``), so a
# redirected base must keep that suffix.
REST_HOST = "https://api.gateio.ws"
REST_PREFIX = "/api/v4"
WS_SPOT = "wss://api.gateio.ws/ws/v4/"
WS_FUTURES_USDT = "wss://fx-ws.gateio.ws/v4/ws/usdt"


# ---- trade history and the futures account book (ledger) ----------------------------------
# Gate API v4 ``GET /spot/my_trades`` (SDK docs/Trade.md: id, create_time_ms, side, role,
# amount, price, order_id, fee, fee_currency, point_fee, gt_fee, text), paged by ``page``
# (from 1) and ``limit`` (at most 1000); ``GET /futures/{settle}/my_trades_timerange`` (SDK
# MyFuturesTradeTimeRange: trade_id, create_time in float seconds, signed size, price, role,
# text, fee in the settle currency, point_fee), paged by ``offset`` and ``limit`` (at most
# 1000); ``GET /futures/{settle}/account_book`` (SDK docs/FuturesApi.md
# list_futures_account_book: contract, limit, offset, from, to in seconds, type; rows
# FuturesAccountBook: id, time, change, balance, type, text, contract, trade_id), newest first.
# ``GET /spot/my_trades`` (SDK docs/SpotApi.md list_my_trades): "If only any parameter of
# `from` or `to` is specified, only 7-day data from the start (or end) of the specified time is
# returned. The range not allowed to exceed 30 days", and paging is capped: "limit * (page - 1)
# <= 1000". The futures listings' docs name no such limits; the adapter reads all three in
# windows of at most HISTORY_WINDOW_MS with both ends given (the stricter reading).
SPOT_TRADES_SPAN_MS = 7 * 86_400_000  # what one open-ended spot read covers
SPOT_TRADES_RANGE_MAX_MS = 30 * 86_400_000
HISTORY_WINDOW_MS = SPOT_TRADES_SPAN_MS
SPOT_TRADES_OFFSET_MAX = 1000  # limit * (page - 1)
BOOK_FUND = "fund"  # account-book type of a funding payment ("fund: Funding")
GT_PAIR = "GT_USDT"  # what a GT-paid fee is priced at


class Path:
    """REST paths under ``/api/v4`` that the adapter (through ccxt) and the simulator use."""

    SPOT_CURRENCIES = "/spot/currencies"
    SPOT_PAIRS = "/spot/currency_pairs"
    SPOT_PAIR = "/spot/currency_pairs/{pair}"
    SPOT_TICKERS = "/spot/tickers"
    SPOT_ORDER_BOOK = "/spot/order_book"
    SPOT_CANDLES = "/spot/candlesticks"
    SPOT_ACCOUNTS = "/spot/accounts"
    SPOT_ORDERS = "/spot/orders"
    SPOT_ORDER = "/spot/orders/{order_id}"
    SPOT_OPEN_ORDERS = "/spot/open_orders"
    SPOT_BATCH_ORDERS = "/spot/batch_orders"
    SPOT_CANCEL_BATCH = "/spot/cancel_batch_orders"
    SPOT_MY_TRADES = "/spot/my_trades"
    MARGIN_PAIRS = "/margin/currency_pairs"
    DELIVERY_CONTRACTS = "/delivery/{settle}/contracts"
    OPTIONS_UNDERLYINGS = "/options/underlyings"
    ACCOUNT_DETAIL = "/account/detail"
    WALLET_FEE = "/wallet/fee"
    FUTURES_CONTRACTS = "/futures/{settle}/contracts"
    FUTURES_CONTRACT = "/futures/{settle}/contracts/{contract}"
    FUTURES_TICKERS = "/futures/{settle}/tickers"
    FUTURES_ORDER_BOOK = "/futures/{settle}/order_book"
    FUTURES_CANDLES = "/futures/{settle}/candlesticks"
    FUTURES_FUNDING_RATE = "/futures/{settle}/funding_rate"
    FUTURES_ACCOUNTS = "/futures/{settle}/accounts"
    FUTURES_DUAL_MODE = "/futures/{settle}/dual_mode"
    FUTURES_POSITIONS = "/futures/{settle}/positions"
    FUTURES_POSITION = "/futures/{settle}/positions/{contract}"
    FUTURES_DUAL_POSITIONS = "/futures/{settle}/dual_comp/positions/{contract}"
    FUTURES_ORDERS = "/futures/{settle}/orders"
    FUTURES_ORDER = "/futures/{settle}/orders/{order_id}"
    FUTURES_ORDERS_TIMERANGE = "/futures/{settle}/orders_timerange"
    FUTURES_BATCH_ORDERS = "/futures/{settle}/batch_orders"
    FUTURES_CANCEL_BATCH = "/futures/{settle}/batch_cancel_orders"
    FUTURES_MY_TRADES = "/futures/{settle}/my_trades"
    FUTURES_MY_TRADES_TIMERANGE = "/futures/{settle}/my_trades_timerange"
    FUTURES_ACCOUNT_BOOK = "/futures/{settle}/account_book"
    # --- margin slice ---
    # gateapi-python docs/FuturesApi.md: update_dual_mode_position_leverage (query ``leverage``,
    # optional ``cross_leverage_limit``) and update_dual_comp_position_cross_mode (JSON body
    # ``{"mode": "ISOLATED"|"CROSS", "contract": ...}``); both answer list[Position], i.e. they
    # set BOTH dual-mode sides of the contract at once. docs/SpotApi.md get_system_time.
    FUTURES_DUAL_LEVERAGE = "/futures/{settle}/dual_comp/positions/{contract}/leverage"
    FUTURES_DUAL_CROSS_MODE = "/futures/{settle}/dual_comp/positions/cross_mode"
    SPOT_TIME = "/spot/time"


# ---- error labels and their kinds ---------------------------------------------------------


class Label:
    """Gate error labels (Gate API v4, "label list"; ccxt gate.py ``exceptions['exact']``)."""

    INVALID_PARAM_VALUE = "INVALID_PARAM_VALUE"
    INVALID_REQUEST_BODY = "INVALID_REQUEST_BODY"
    MISSING_REQUIRED_PARAM = "MISSING_REQUIRED_PARAM"
    NOT_FOUND = "NOT_FOUND"
    INVALID_KEY = "INVALID_KEY"
    INVALID_SIGNATURE = "INVALID_SIGNATURE"
    MISSING_REQUIRED_HEADER = "MISSING_REQUIRED_HEADER"
    REQUEST_EXPIRED = "REQUEST_EXPIRED"
    INVALID_PRECISION = "INVALID_PRECISION"
    INVALID_CURRENCY_PAIR = "INVALID_CURRENCY_PAIR"
    POC_FILL_IMMEDIATELY = "POC_FILL_IMMEDIATELY"  # spot post-only would take
    ORDER_NOT_FOUND = "ORDER_NOT_FOUND"
    ORDER_CLOSED = "ORDER_CLOSED"
    ORDER_CANCELLED = "ORDER_CANCELLED"
    BALANCE_NOT_ENOUGH = "BALANCE_NOT_ENOUGH"
    REPEATED_CREATION = "REPEATED_CREATION"
    TOO_MANY_REQUESTS = "TOO_MANY_REQUESTS"  # ccxt: RateLimitExceeded; Gate answers HTTP 429
    CONTRACT_NOT_FOUND = "CONTRACT_NOT_FOUND"
    INSUFFICIENT_AVAILABLE = "INSUFFICIENT_AVAILABLE"  # futures margin
    ORDER_FINISHED = "ORDER_FINISHED"
    PRICE_TOO_DEVIATED = "PRICE_TOO_DEVIATED"
    SIZE_TOO_SMALL = "SIZE_TOO_SMALL"
    ORDER_POC_IMMEDIATE = "ORDER_POC_IMMEDIATE"  # futures post-only would take
    POSITION_NOT_FOUND = "POSITION_NOT_FOUND"
    POSITION_DUAL_MODE = "POSITION_DUAL_MODE"
    ORDER_PENDING = "ORDER_PENDING"
    POSITION_HOLDING = "POSITION_HOLDING"
    REDUCE_EXCEEDED = "REDUCE_EXCEEDED"  # "Reduce order would exceed position in dual-mode"
    SERVER_ERROR = "SERVER_ERROR"
    # --- margin slice --- (ccxt gate.py ``exceptions['exact']``; Gate "label list")
    LEVERAGE_TOO_HIGH = "LEVERAGE_TOO_HIGH"
    LEVERAGE_TOO_LOW = "LEVERAGE_TOO_LOW"
    LIQUIDATE_IMMEDIATELY = "LIQUIDATE_IMMEDIATELY"  # "Operation may cause liquidation"


# The post-only rejection label of each market (the "label list": spot and futures sections).
POC_LABEL = {"spot": Label.POC_FILL_IMMEDIATELY, "futures": Label.ORDER_POC_IMMEDIATE}


class ErrorKind(StrEnum):
    """What a venue error means for the caller."""

    BALANCE = "balance"  # not enough balance or margin
    POST_ONLY_CROSS = "post_only_cross"  # a post-only order would have taken liquidity
    NOT_FOUND = "not_found"  # no such order (or its client id is no longer looked up)
    FINISHED = "finished"  # the order exists but is already closed / cancelled / finished
    REDUCE_ONLY = "reduce_only"  # a reduce-only order would exceed or open a position
    RATE_LIMITED = "rate_limited"
    AUTH = "auth"  # key, signature or permission refused
    TRANSIENT = "transient"  # server-side trouble; the same request may succeed later
    INVALID = "invalid"  # the request itself is wrong (parameters, precision, limits)
    OTHER = "other"  # not classified


_KIND_OF_LABEL: dict[str, ErrorKind] = {
    # Gate labels (Gate API v4 "label list"), grouped as ccxt gate.py maps them
    **dict.fromkeys(
        (
            Label.BALANCE_NOT_ENOUGH,
            "MARGIN_BALANCE_NOT_ENOUGH",
            "FUTURES_BALANCE_NOT_ENOUGH",
            Label.INSUFFICIENT_AVAILABLE,
            "LIQUIDATE_IMMEDIATELY",
        ),
        ErrorKind.BALANCE,
    ),
    **dict.fromkeys(
        (Label.POC_FILL_IMMEDIATELY, Label.ORDER_POC_IMMEDIATE), ErrorKind.POST_ONLY_CROSS
    ),
    **dict.fromkeys((Label.ORDER_NOT_FOUND, "CLIENT_ID_NOT_FOUND"), ErrorKind.NOT_FOUND),
    **dict.fromkeys(
        (Label.ORDER_CLOSED, Label.ORDER_CANCELLED, Label.ORDER_FINISHED), ErrorKind.FINISHED
    ),
    # REDUCE_ONLY_FAIL is not in Gate's documented list; the adapter has always matched it
    **dict.fromkeys(
        (Label.REDUCE_EXCEEDED, "POSITION_EMPTY", "INCREASE_POSITION", "REDUCE_ONLY_FAIL"),
        ErrorKind.REDUCE_ONLY,
    ),
    **dict.fromkeys((Label.TOO_MANY_REQUESTS, "TOO_FAST"), ErrorKind.RATE_LIMITED),
    **dict.fromkeys(
        (
            Label.INVALID_KEY,
            Label.INVALID_SIGNATURE,
            Label.MISSING_REQUIRED_HEADER,
            Label.REQUEST_EXPIRED,
            "INVALID_CREDENTIALS",
            "AUTHENTICATION_FAILED",
            "IP_FORBIDDEN",
            "READ_ONLY",
            "FORBIDDEN",
            "ACCOUNT_LOCKED",
        ),
        ErrorKind.AUTH,
    ),
    **dict.fromkeys((Label.SERVER_ERROR, "INTERNAL", "TOO_BUSY"), ErrorKind.TRANSIENT),
    **dict.fromkeys(
        (
            Label.INVALID_PARAM_VALUE,
            "INVALID_PROTOCOL",
            "INVALID_ARGUMENT",
            Label.INVALID_REQUEST_BODY,
            Label.MISSING_REQUIRED_PARAM,
            "BAD_REQUEST",
            Label.INVALID_PRECISION,
            Label.INVALID_CURRENCY_PAIR,
            Label.CONTRACT_NOT_FOUND,
            Label.REPEATED_CREATION,
            Label.PRICE_TOO_DEVIATED,
            Label.SIZE_TOO_SMALL,
            "SIZE_TOO_LARGE",
            "AMOUNT_TOO_LITTLE",
            "AMOUNT_TOO_MUCH",
            "TOO_MANY_ORDERS",
            Label.LEVERAGE_TOO_HIGH,  # margin slice
            Label.LEVERAGE_TOO_LOW,
        ),
        ErrorKind.INVALID,
    ),
    # ccxt exception class names, for errors ccxt raises without a Gate label (its own checks
    # before sending, or an HTTP status without a JSON body: ccxt base ``httpExceptions``)
    "InsufficientFunds": ErrorKind.BALANCE,
    "OrderImmediatelyFillable": ErrorKind.POST_ONLY_CROSS,
    "OrderNotFound": ErrorKind.NOT_FOUND,
    "RateLimitExceeded": ErrorKind.RATE_LIMITED,
    "DDoSProtection": ErrorKind.RATE_LIMITED,
    "AuthenticationError": ErrorKind.AUTH,
    "PermissionDenied": ErrorKind.AUTH,
    "ExchangeNotAvailable": ErrorKind.TRANSIENT,
    "OnMaintenance": ErrorKind.TRANSIENT,
    "BadRequest": ErrorKind.INVALID,
    "ArgumentsRequired": ErrorKind.INVALID,
    "InvalidOrder": ErrorKind.INVALID,
    "BadSymbol": ErrorKind.INVALID,
}

# HTTP status of an error reply: Gate API v4 "Return Format" (401 authentication, 404 not
# found, 429 too many requests, 5xx server error, other 4xx invalid request).
_STATUS_OF_KIND = {
    ErrorKind.AUTH: 401,
    ErrorKind.RATE_LIMITED: 429,
    ErrorKind.TRANSIENT: 500,
}
_STATUS_OF_LABEL = {Label.ORDER_NOT_FOUND: 404, Label.NOT_FOUND: 404}


def error_kind(label: str | None, status: int | None = None) -> ErrorKind:
    """The kind of a venue error, from Gate's label (or ccxt's exception class name when there
    is none), else from the HTTP status."""
    kind = _KIND_OF_LABEL.get(label or "")
    if kind is not None:
        return kind
    if status == 429:
        return ErrorKind.RATE_LIMITED
    if status in (401, 403):
        return ErrorKind.AUTH
    if status == 404:
        return ErrorKind.NOT_FOUND
    if status is not None and status >= 500:
        return ErrorKind.TRANSIENT
    if status is not None and status >= 400:
        return ErrorKind.INVALID
    return ErrorKind.OTHER


def http_status(label: str) -> int:
    """The HTTP status Gate answers an error of this label with."""
    if label in _STATUS_OF_LABEL:
        return _STATUS_OF_LABEL[label]
    return _STATUS_OF_KIND.get(_KIND_OF_LABEL.get(label, ErrorKind.OTHER), 400)


_LABEL_IN_BODY = re.compile(r'"label"\s*:\s*"([A-Za-z_]+)"')


def label_in(text: str) -> str | None:
    """Gate's error label in a text that carries the venue's JSON reply (ccxt's messages are
    ``"gate " + body``: gate.py ``handle_errors``)."""
    m = _LABEL_IN_BODY.search(text)
    return m.group(1) if m else None


# ---- rehearsal: pointing ccxt at a local simulator ----------------------------------------


def redirect_ccxt(
    exchange: Any,
    rest_base: str | None = None,
    ws_spot: str | None = None,
    ws_futures: str | None = None,
) -> None:
    """Point a ccxt gate instance (async or pro) at other URLs, e.g. ``http://127.0.0.1:P``.

    ``rest_base`` replaces Gate's host in every public/private REST URL, so ``/api/v4`` stays
    (ccxt signs that path). ``ws_futures`` must contain ``/ws/futures/`` or ``fx``: ccxt.pro
    gate tells a swap socket by its URL (the simulator serves ``/v4/ws/futures/usdt``).
    """
    api = exchange.urls["api"]
    if rest_base:
        base = rest_base.rstrip("/")
        for kind in ("public", "private"):
            for sub, url in api[kind].items():
                api[kind][sub] = url.replace(REST_HOST, base)
    if ws_spot:
        api["spot"] = ws_spot
    if ws_futures:
        api["swap"]["usdt"] = ws_futures


# ---- leverage, margin mode and liquidation (margin slice) ---------------------------------
# Gate API v4 ``GET /futures/usdt/contracts/BTC_USDT``: leverage_min "1", leverage_max "200",
# maintenance_rate "0.003" (at the base risk limit), cross_leverage_default "10" (snapshot in
# sim/gate_markets.json). Position (gateapi-python docs/Position.md): ``leverage`` "0 means
# cross margin; positive number means isolated margin"; ``cross_leverage_limit`` "valid only
# when leverage is 0"; ``liq_price``, ``maintenance_rate``, ``margin``, ``mode``
# (single / dual_long / dual_short).
LEVERAGE_MIN = 1.0
LEVERAGE_MAX = 200.0
MAINTENANCE_RATE = 0.003
CROSS_LEVERAGE_DEFAULT = 10.0


class MarginMode(StrEnum):
    """Gate's two margin modes, spelt as ``dual_comp/positions/cross_mode`` takes them."""

    ISOLATED = "ISOLATED"
    CROSS = "CROSS"


# Gate FuturesOrder ``text``: "liquidation: from liquidation"; ``finish_as`` "liquidated:
# cancelled because of liquidation" (gateapi-python docs/FuturesOrder.md).
LIQUIDATION_TEXT = "liquidation"


# --- accounts and wallets (issue 8) ---------------------------------------------------------


class WalletPath:
    """REST paths for account mode and wallet transfers (gateapi-python docs: ``AccountApi.md``
    get_account_detail, ``UnifiedApi.md`` get_unified_mode / list_unified_accounts,
    ``WalletApi.md`` transfer / get_transfer_order_status)."""

    UNIFIED_MODE = "/unified/unified_mode"
    UNIFIED_ACCOUNTS = "/unified/accounts"
    WALLET_TRANSFERS = "/wallet/transfers"
    WALLET_ORDER_STATUS = "/wallet/order_status"


#: ``GET /account/detail`` ``key.mode`` (``AccountDetailKey.md``): "1 - Classic mode,
#: 2 - Legacy unified mode".
KEY_MODE_CLASSIC, KEY_MODE_LEGACY_UNIFIED = 1, 2
#: ``GET /unified/unified_mode`` ``mode`` (``UnifiedModeSet.md``): classic, multi_currency,
#: portfolio, single_currency.
UNIFIED_MODE_CLASSIC = "classic"
UNIFIED_MODES_USDT_MARGIN = frozenset({"single_currency", "multi_currency"})
UNIFIED_MODE_PORTFOLIO = "portfolio"
#: ``Transfer.md`` ``amount``: "supports up to 8 decimal places, must be greater than 0".
TRANSFER_DECIMALS = 8
#: ``FuturesAccountBook.md`` ``type``: "dnw: Deposit and withdrawal" (transfers in and out of
#: the futures wallet are booked under it).
BOOK_TYPE_TRANSFER = "dnw"
