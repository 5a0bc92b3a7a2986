"""Operator commands over Telegram: who may command, which commands, and each handled once.

Polling, update offsets and dispatch are python-telegram-bot's (``Application``, its
``Updater`` and ``CommandHandler``s); this module adds the rules on top, in a gate that sees
every update first:

* Only messages from the configured chat are obeyed: ``/status``, ``/balance``, ``/digest``,
  ``/safemode on|off``, ``/stop``, ``/help``. A message from any other chat is refused (one
  refusal a minute per chat), logged, and changes nothing.
* Commands older than ``max_command_age_s`` (e.g. queued while the agent was down) are not
  executed; the operator is told so.
* Each update is handled at most once, also across restarts. PTB confirms handled updates to
  Telegram with its next ``getUpdates`` and once more when polling stops, but it keeps the
  offset in memory only: after a crash (or a stop that timed out) Telegram hands the last batch
  out again. So the gate persists ``update_id + 1`` to ``offset_path`` *before* a command runs
  and skips older updates it is given again.

``AgentControl`` coroutines run on the agent's loop (``control_loop``), so they may touch agent
state freely; an answer is awaited at most ``command_timeout_s``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from telegram import Update
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from ..core.time_rules import MINUTE_MS
from .telegram_transport import TelegramStats

log = logging.getLogger("adaptive_agent.telegram")

HELP_TEXT = (
    "Commands:\n"
    "/status - state of the agent\n"
    "/balance - balances and NAV\n"
    "/digest - today's digest so far\n"
    "/safemode on|off - manual kill switch (on blocks orders that raise exposure)\n"
    "/stop - stop the agent\n"
    "/help - this text"
)
REFUSAL_TEXT = "Refused: this bot only accepts commands from its configured chat."

Context = ContextTypes.DEFAULT_TYPE


@runtime_checkable
class AgentControl(Protocol):
    """What a Telegram command may ask of the agent. Each returns the reply text."""

    async def status(self) -> str: ...

    async def balance(self) -> str: ...

    async def digest(self) -> str: ...

    async def set_safe_mode(self, on: bool) -> str: ...

    async def stop(self) -> str: ...


class _Interrupted(Exception):
    """The monitor is closing: the command's answer is not awaited."""


class CommandDispatcher:
    """Installs the gate and the command handlers on a PTB ``Application``.

    ``reply(chat_id, text, kind)`` queues an answer; ``err`` makes an exception loggable
    (scrubbing the token); ``clock`` is wall-clock ms.
    """

    def __init__(
        self,
        control: AgentControl,
        chat_id: int,
        *,
        stats: TelegramStats,
        reply: Callable[[int, str, str], None],
        err: Callable[[BaseException], str],
        clock: Callable[[], int],
        max_command_age_s: float,
        command_timeout_s: float,
        allowed_user_ids: tuple[int, ...] = (),
        offset_path: Path | None,
    ) -> None:
        self._control = control
        self._chat_id = chat_id
        self._stats = stats
        self._reply_to = reply
        self._err = err
        self._clock = clock
        self._max_command_age_s = max_command_age_s
        self._allowed = frozenset(int(u) for u in allowed_user_ids)
        self._command_timeout_s = command_timeout_s
        self._offset_path = offset_path
        self.offset: int | None = self._load_offset()
        self.control_loop: asyncio.AbstractEventLoop | None = None
        self._refusals: dict[int, int] = {}
        self._inflight: set[asyncio.Future[Any]] = set()
        self._closing = False

    def install(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        mine = filters.Chat(self._chat_id)
        app.add_handler(TypeHandler(Update, self._gate), group=-1)
        control = self._control
        simple: dict[str, Callable[[], Coroutine[Any, Any, str]]] = {
            "status": control.status,
            "balance": control.balance,
            "digest": control.digest,
            "stop": control.stop,
        }
        for name, call in simple.items():
            app.add_handler(CommandHandler(name, self._command(name, call), filters=mine))
        app.add_handler(CommandHandler("safemode", self._safemode, filters=mine))
        app.add_handler(CommandHandler(["help", "start"], self._help, filters=mine))
        app.add_handler(MessageHandler(filters.ALL, self._unknown))
        app.add_error_handler(self._on_error)

    def close(self) -> None:
        """Stop waiting for the agent's answers (the worker loop is shutting down)."""
        self._closing = True
        for fut in list(self._inflight):
            fut.cancel()

    # --- handlers -----------------------------------------------------------------------------

    def _reply(self, chat_id: int, text: str, kind: str = "reply") -> None:
        self._reply_to(chat_id, text, kind)

    async def _gate(self, update: Update, context: Context) -> None:
        uid = update.update_id
        if self.offset is not None and uid < self.offset:
            log.info("telegram: update %d was handled before a restart; skipped", uid)
            raise ApplicationHandlerStop
        # Advance (and persist) before acting: a command is never executed twice.
        self.offset = uid + 1
        self._save_offset()
        msg = update.message
        if msg is None or msg.chat is None:
            raise ApplicationHandlerStop
        chat_id = int(msg.chat.id)
        text = (msg.text or "").strip()
        user = msg.from_user.id if msg.from_user is not None else None
        now = self._clock()
        if chat_id != self._chat_id:
            self._stats.refused += 1
            log.warning(
                "telegram: refused message from unauthorised chat %s (user %s): %r",
                chat_id,
                user,
                text[:80],
            )
            last = self._refusals.get(chat_id)
            if last is None or now - last >= MINUTE_MS:
                if len(self._refusals) > 1000:
                    self._refusals.clear()
                self._refusals[chat_id] = now
                self._reply(chat_id, REFUSAL_TEXT, "refusal")
            raise ApplicationHandlerStop
        if not text:
            raise ApplicationHandlerStop
        age_s = now / 1000 - msg.date.timestamp() if msg.date is not None else 0.0
        if age_s > self._max_command_age_s:
            log.warning("telegram: ignored stale command %r (sent %.0f s ago)", text[:80], age_s)
            self._reply(
                chat_id, f"Ignored {text[:40]!r}: sent {age_s:.0f} s ago (too old); send it again."
            )
            raise ApplicationHandlerStop
        if not text.startswith("/"):
            self._reply(chat_id, HELP_TEXT)
            raise ApplicationHandlerStop
        addressee = text.split()[0].partition("@")[2]
        mine = (context.bot.username or "") if context.bot is not None else ""
        if addressee and addressee.lower() != mine.lower():
            log.info("telegram: %r is addressed to another bot; ignored", text[:80])
            raise ApplicationHandlerStop  # not a command to this bot: no answer either
        if not self._may_command(user, msg.chat.type):
            self._stats.refused += 1
            log.warning("telegram: refused %r from user %s in chat %s", text[:80], user, chat_id)
            self._reply(
                chat_id, f"User {user} may not command this agent (telegram.allowed_user_ids)."
            )
            raise ApplicationHandlerStop
        log.info("telegram: command %r from chat %s (user %s)", text[:80], chat_id, user)
        self._stats.commands += 1
        # on to the CommandHandlers

    def _may_command(self, user: int | None, chat_type: str | None) -> bool:
        """Fail closed: the allow-list if one is set; else only a private chat's owner."""
        if user is None:
            return False
        if self._allowed:
            return user in self._allowed
        return chat_type == "private" and user == self._chat_id

    def _command(
        self, name: str, call: Callable[[], Coroutine[Any, Any, str]]
    ) -> Callable[[Update, Context], Awaitable[None]]:
        async def handle(update: Update, context: Context) -> None:
            await self._answer(update, name, call)

        return handle

    async def _safemode(self, update: Update, context: Context) -> None:
        arg = context.args[0].lower() if context.args else ""
        if arg not in ("on", "off"):
            self._reply(self._chat_id, "Usage: /safemode on|off")
            return
        on = arg == "on"
        await self._answer(update, "safemode", lambda: self._control.set_safe_mode(on))

    async def _help(self, update: Update, context: Context) -> None:
        self._reply(self._chat_id, HELP_TEXT)

    async def _unknown(self, update: Update, context: Context) -> None:
        text = update.message.text if update.message is not None else None
        cmd = (text or "/").split()[0][1:].split("@", 1)[0].lower()
        self._reply(self._chat_id, f"Unknown command /{cmd}.\n{HELP_TEXT}")

    async def _answer(
        self, update: Update, cmd: str, call: Callable[[], Coroutine[Any, Any, str]]
    ) -> None:
        try:
            reply = await self._run_control(call)
        except TimeoutError:
            log.error("telegram: command /%s timed out", cmd)
            reply = f"/{cmd}: no answer from the agent within {self._command_timeout_s:g} s"
        except _Interrupted:
            log.warning("telegram: command /%s interrupted by close", cmd)
            reply = f"/{cmd}: interrupted, the monitor is shutting down"
        except Exception as exc:
            log.error("telegram: command /%s failed: %s", cmd, self._err(exc))
            reply = f"/{cmd} failed: {type(exc).__name__}"
        self._reply(self._chat_id, str(reply) if reply else f"/{cmd}: done")

    async def _run_control(self, call: Callable[[], Coroutine[Any, Any, str]]) -> str:
        if self._closing:
            raise _Interrupted
        loop = self.control_loop
        fut: asyncio.Future[str]
        if loop is None or loop is asyncio.get_running_loop():
            fut = asyncio.ensure_future(call())
        else:
            coro = call()
            try:
                cfut = asyncio.run_coroutine_threadsafe(coro, loop)
            except RuntimeError:  # the agent's loop is closed
                coro.close()
                raise
            fut = asyncio.wrap_future(cfut)
        self._inflight.add(fut)
        try:
            done, _ = await asyncio.wait({fut}, timeout=self._command_timeout_s)
        finally:
            self._inflight.discard(fut)
        if not done:
            fut.cancel()
            raise TimeoutError
        if fut.cancelled():
            raise _Interrupted
        return fut.result()

    async def _on_error(self, update: object, context: Context) -> None:
        exc = context.error
        if exc is not None:
            log.error("telegram: command handling failed: %s", self._err(exc))

    # --- offset persistence -------------------------------------------------------------------

    def _load_offset(self) -> int | None:
        if self._offset_path is None:
            return None
        try:
            return int(json.loads(self._offset_path.read_text())["offset"])
        except FileNotFoundError:
            return None
        except Exception as exc:
            log.warning("telegram: ignoring unreadable %s: %s", self._offset_path, exc)
            return None

    def _save_offset(self) -> None:
        if self._offset_path is None or self.offset is None:
            return
        path = self._offset_path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            with os.fdopen(fd, "w") as fh:
                json.dump({"offset": self.offset}, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            log.warning("telegram: could not save the update offset to %s: %s", path, exc)
