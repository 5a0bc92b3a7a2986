"""Gate API v4 request signatures, computed the way Gate checks them.

REST: ``SIGN = hex(HMAC_SHA512(secret, METHOD\\nPATH\\nQUERY\\nhex(SHA512(body))\\nTIMESTAMP))``
where PATH includes ``/api/v4``, QUERY is the raw (url-decoded) query string and TIMESTAMP is
the ``Timestamp`` header verbatim. Websocket subscriptions sign
``channel=<channel>&event=<event>&time=<time>``. Comparisons are constant-time.
"""

from __future__ import annotations

import hashlib
import hmac

EMPTY_BODY_SHA512 = hashlib.sha512(b"").hexdigest()


def _hmac(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha512).hexdigest()


def rest_payload(method: str, path: str, query: str, body: bytes | str, timestamp: str) -> str:
    raw = body.encode() if isinstance(body, str) else body
    return "\n".join((method.upper(), path, query, hashlib.sha512(raw).hexdigest(), timestamp))


def sign_rest(
    secret: str, method: str, path: str, query: str, body: bytes | str, timestamp: str
) -> str:
    return _hmac(secret, rest_payload(method, path, query, body, timestamp))


def sign_ws(secret: str, channel: str, event: str, time: int | str) -> str:
    return _hmac(secret, f"channel={channel}&event={event}&time={time}")


def same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.lower().encode())
