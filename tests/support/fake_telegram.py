"""A Bot-API-compatible fake Telegram server on 127.0.0.1 (a free port), for tests.

Implements what python-telegram-bot needs: ``getMe``, ``sendMessage``, ``getUpdates`` (offset
confirms earlier updates, ``timeout`` long-polls), and 401 for a wrong token. Bodies may be
form-encoded (what PTB sends), multipart or JSON; query parameters work too.

Use it as ``async with FakeTelegram() as tg:`` on the test's loop; leaving the block stops the
server (a forgotten one stops itself after ``lifetime_s``). ``tg.inject(chat_id, text)`` queues
an incoming message; ``tg.sent`` records every accepted ``sendMessage``; ``tg.fail_status``
makes ``sendMessage`` answer with that HTTP status (e.g. 500) until it is reset to None.
``tg.fail_updates`` lists HTTP statuses the next ``getUpdates`` calls answer with (e.g. 409, a
conflict with another poller). ``tg.forget_confirmations = True`` makes ``getUpdates`` honour
``offset`` for that call but keep the updates below it, as when the bot's process died before
Telegram saw its confirmation: a poller that starts afresh (no offset) is handed them again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from typing import Any

from aiohttp import web

TOKEN = "123456:TEST-fake-token-0123456789"
BOT_USER = {
    "id": 123456,
    "is_bot": True,
    "first_name": "FakeBot",
    "username": "fake_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}


class FakeTelegram:
    def __init__(
        self, token: str = TOKEN, *, max_poll_s: float = 2.0, lifetime_s: float = 60.0
    ) -> None:
        self.token = token
        self.max_poll_s = max_poll_s
        self.lifetime_s = lifetime_s
        self.sent: list[dict[str, Any]] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.content_types: list[tuple[str, str]] = []  # (method, request content type)
        self.unauthorized = 0
        self.fail_status: int | None = None
        self.failed_sends = 0
        self.forget_confirmations = False
        self.fail_updates: list[int] = []
        self._updates: list[dict[str, Any]] = []
        self._next_update = 1
        self._next_message = 1
        self._new = asyncio.Event()
        self._sent_event = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._sock: socket.socket | None = None
        self._killer: asyncio.TimerHandle | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        """For ``Bot(token, base_url=...)``: the token is appended to it."""
        return f"http://127.0.0.1:{self.port}/bot"

    async def __aenter__(self) -> FakeTelegram:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._sock = sock
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        loop = asyncio.get_running_loop()
        self._killer = loop.call_later(self.lifetime_s, lambda: asyncio.ensure_future(self.close()))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        if self._killer is not None:
            self._killer.cancel()
        self._new.set()  # wake long polls
        if self._runner is not None:
            await self._runner.cleanup()
        if self._sock is not None:
            self._sock.close()

    # --- test controls ------------------------------------------------------------------------

    def inject(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        date: int | None = None,
    ) -> int:
        """Queue an incoming text message from ``chat_id``; returns its update_id. As on
        Telegram, a private chat's id is its user's id (the default sender); in a group the
        default sender is user 777."""
        if user_id is None:
            user_id = chat_id if chat_id > 0 else 777
        uid = self._next_update
        self._next_update += 1
        message: dict[str, Any] = {
            "message_id": self._next_message,
            "date": int(time.time()) if date is None else date,
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            "from": {"id": user_id, "is_bot": False, "first_name": "Tester"},
            "text": text,
        }
        if chat_id < 0:
            message["chat"]["title"] = "test group"
        if text.startswith("/"):
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": len(text.split()[0])}
            ]
        self._next_message += 1
        self._updates.append({"update_id": uid, "message": message})
        self._new.set()
        return uid

    def pending_updates(self) -> list[int]:
        return [u["update_id"] for u in self._updates]

    def texts(self, chat_id: int | None = None) -> list[str]:
        return [m["text"] for m in self.sent if chat_id is None or m["chat_id"] == chat_id]

    async def wait_sent(self, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Wait until at least ``n`` messages were sent; returns them all."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.sent) < n:
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"expected {n} sent messages, got {self.sent!r}")
            self._sent_event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._sent_event.wait(), left)
        return self.sent

    # --- Bot API ------------------------------------------------------------------------------

    @staticmethod
    def _reply(result: Any) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _error(status: int, description: str) -> web.Response:
        return web.json_response(
            {"ok": False, "error_code": status, "description": description}, status=status
        )

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    params.update(body)
            else:  # x-www-form-urlencoded or multipart
                params.update({k: v for k, v in (await request.post()).items()})
        return params

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            self.unauthorized += 1
            return self._error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await self._params(request)
        self.calls.append((method, params))
        self.content_types.append((method, request.content_type))
        if method == "getMe":
            return self._reply(BOT_USER)
        if method == "sendMessage":
            return self._send_message(params)
        if method == "getUpdates":
            return await self._get_updates(params)
        if method in ("deleteWebhook", "close", "logOut"):
            return self._reply(True)
        return self._error(404, "Not Found")

    def _send_message(self, params: dict[str, Any]) -> web.Response:
        if self.fail_status is not None:
            self.failed_sends += 1
            return self._error(self.fail_status, "Internal Server Error (injected)")
        try:
            chat_id = int(params["chat_id"])
            text = str(params["text"])
        except (KeyError, ValueError):
            return self._error(400, "Bad Request: chat_id and text are required")
        if not text or len(text) > 4096:
            return self._error(400, "Bad Request: message text is empty or too long")
        mid = self._next_message
        self._next_message += 1
        self.sent.append({"chat_id": chat_id, "text": text, "message_id": mid})
        self._sent_event.set()
        chat = {"id": chat_id, "type": "private" if chat_id > 0 else "group"}
        if chat_id < 0:
            chat["title"] = "test group"
        return self._reply(
            {
                "message_id": mid,
                "date": int(time.time()),
                "chat": chat,
                "from": BOT_USER,
                "text": text,
            }
        )

    async def _get_updates(self, params: dict[str, Any]) -> web.Response:
        if self.fail_updates:
            status = self.fail_updates.pop(0)
            return self._error(status, "Conflict: terminated by other getUpdates request")
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        allowed = params.get("allowed_updates")
        if isinstance(allowed, str):
            allowed = json.loads(allowed)
        if offset > 0 and not self.forget_confirmations:  # confirms every update below it
            self._updates = [u for u in self._updates if u["update_id"] >= offset]

        def waiting() -> list[dict[str, Any]]:
            return [u for u in self._updates if u["update_id"] >= offset]

        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(timeout, self.max_poll_s)
        while not waiting() and not self._closing:
            left = deadline - loop.time()
            if left <= 0:
                break
            self._new.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new.wait(), left)
        out = waiting()[:limit]
        if allowed:
            out = [u for u in out if any(k in u for k in allowed)]
        return self._reply(out)
