"""Headless Chromium (Debian ``chromium``) driven over the DevTools protocol on a websocket.

Chromium listens on a free loopback port it picks itself (``--remote-debugging-port=0``, read
back from ``DevToolsActivePort`` in its throw-away profile); host names resolve nowhere, so a
page that tried to reach the internet would fail, and every request a page makes is recorded
from the protocol's Network events. Used by tests/acceptance/test_equity_html_browser.py and
bench/equity_html.py.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM = "chromium"
INSTALL_HINT = (
    "headless Chromium is not installed; install it with: apt-get install -y chromium"
    "  (scripts/setup_debs.sh does this)"
)


def chromium_path() -> str | None:
    return shutil.which(CHROMIUM)


class Page:
    """One tab: its requests, console messages and uncaught exceptions, and commands to it."""

    def __init__(self, browser: Browser, session: str) -> None:
        self.browser, self.session = browser, session
        self.requests: list[str] = []
        self.errors: list[str] = []
        self._loaded = asyncio.Event()

    def on_event(self, method: str, params: dict) -> None:
        if method == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])
        elif method == "Runtime.exceptionThrown":
            self.errors.append(str(params["exceptionDetails"]))
        elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "warning"):
            self.errors.append(" ".join(str(a.get("value", a)) for a in params["args"]))
        elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
            self.errors.append(params["entry"]["text"])
        elif method == "Page.loadEventFired":
            self._loaded.set()

    async def send(self, method: str, **params: Any) -> dict:
        return await self.browser.send(method, params, self.session)

    async def goto(self, url: str, timeout: float = 30.0) -> None:
        self._loaded.clear()
        await self.send("Page.navigate", url=url)
        await asyncio.wait_for(self._loaded.wait(), timeout)

    async def evaluate(self, expression: str) -> Any:
        r = await self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 30.0) -> Any:
        """Poll ``expression`` until it is truthy; its value."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            value = await self.evaluate(expression)
            if value:
                return value
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{expression} still false after {timeout} s")
            await asyncio.sleep(0.02)

    async def screenshot(self, path: Path, full_page: bool = True) -> int:
        """Write a PNG of the page (all of it, not only the viewport); its size in bytes."""
        r = await self.send("Page.captureScreenshot", format="png", captureBeyondViewport=full_page)
        data = base64.b64decode(r["data"])
        path.write_bytes(data)
        return len(data)

    async def mouse_move(self, x: float, y: float) -> None:
        await self.send("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)


class Browser:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future] = {}
        self.pages: dict[str, Page] = {}
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            m = msg.json()
            if "id" in m:
                fut = self._waiting.pop(m["id"], None)
                if fut is not None and not fut.done():
                    if "error" in m:
                        fut.set_exception(RuntimeError(f"DevTools: {m['error']}"))
                    else:
                        fut.set_result(m.get("result", {}))
            elif (page := self.pages.get(m.get("sessionId", ""))) is not None:
                page.on_event(m["method"], m.get("params", {}))

    async def send(self, method: str, params: dict | None = None, session: str | None = None):
        i = next(self._ids)
        fut = asyncio.get_running_loop().create_future()
        self._waiting[i] = fut
        msg: dict[str, Any] = {"id": i, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        await self.ws.send_json(msg)
        return await asyncio.wait_for(fut, 60)

    async def new_page(self, width: int = 1400, height: int = 1000) -> Page:
        target = (await self.send("Target.createTarget", {"url": "about:blank"}))["targetId"]
        attached = await self.send("Target.attachToTarget", {"targetId": target, "flatten": True})
        page = Page(self, attached["sessionId"])
        self.pages[page.session] = page
        for domain in ("Page", "Network", "Runtime", "Log"):
            await page.send(f"{domain}.enable")
        await page.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        return page


@contextlib.asynccontextmanager
async def chromium(timeout: float = 30.0):
    """A headless Chromium on a loopback DevTools port, stopped (and its profile removed) after."""
    exe = chromium_path()
    if exe is None:
        raise FileNotFoundError(INSTALL_HINT)
    profile = Path(tempfile.mkdtemp(prefix="chromium-"))
    args = [
        exe,
        "--headless=new",
        "--disable-gpu",
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",
        f"--user-data-dir={profile}",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "about:blank",
    ]
    if os.geteuid() == 0:
        args.insert(1, "--no-sandbox")  # Chromium refuses to run its sandbox as root (CI)
    log = profile / "chromium.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err)
    try:
        port_file = profile / "DevToolsActivePort"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (port_file.exists() and len(port_file.read_text().split()) >= 2):
            if proc.poll() is not None or loop.time() > deadline:
                tail = log.read_text(errors="replace").strip().splitlines()[-5:]
                raise RuntimeError(f"chromium did not start (exit code {proc.poll()}): {tail}")
            await asyncio.sleep(0.05)
        port, path = port_file.read_text().split()[:2]
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(f"ws://127.0.0.1:{port}{path}", max_msg_size=0) as ws,
        ):
            browser = Browser(ws)
            try:
                yield browser
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(browser.send("Browser.close"), 5)
                browser._reader.cancel()
    finally:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)
