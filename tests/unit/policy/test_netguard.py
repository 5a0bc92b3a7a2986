"""The test-mode network guard refuses non-allowed hosts before any DNS query or packet.

"No packet leaves" is proved structurally, on two levels, and both levels are also safety nets
that stop the traffic should the guard ever fail:

* the functions the guard calls once a destination is allowed (``netguard._real``: the original
  ``connect``, ``getaddrinfo``, ...) are wrapped with recorders that refuse non-loopback targets;
* an audit hook watches the ``socket.*`` audit events that CPython raises inside ``_socket``
  just before the system call (connect, sendto, sendmsg, getaddrinfo, gethostbyname, ...).

A refused host must appear in neither. Nothing here ever contacts a non-loopback address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import pickle
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace

import pytest

from adaptive_agent.policy import netguard
from adaptive_agent.policy.netguard import NetworkRefused
from tests.support.market_data import ROOT

BLACKHOLE = "10.255.255.1"  # private, unroutable here: must never be contacted
PUBLIC_NAME = "example.com"


class LeakBlocked(RuntimeError):
    """Raised by the test safety nets: a forbidden target got past the guard."""


def _is_loopback(host: object) -> bool:
    if isinstance(host, bytes | bytearray):
        host = bytes(host).decode("latin-1")
    if host is None:
        return True
    if not isinstance(host, str):
        return False
    if host.rstrip(".").lower() == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)


def _is_literal(host: object) -> bool:
    try:
        ipaddress.ip_address(str(host).split("%", 1)[0])
    except ValueError:
        return False
    return True


def _forbidden_target(event: str, args: tuple) -> str | None:
    """The non-loopback host a socket audit event / original call is about, if any."""
    if event in ("connect", "connect_ex", "sendto", "sendmsg"):
        sock, address = args[0], args[-1]
        if event == "sendmsg":  # sendmsg(buffers, ancdata, flags, address)
            address = args[4] if len(args) > 4 else None
        if getattr(sock, "family", None) not in (socket.AF_INET, socket.AF_INET6):
            return None
        if isinstance(address, tuple) and address and not _is_loopback(address[0]):
            return str(address[0])
        return None
    if event in ("getaddrinfo", "gethostbyname", "gethostbyname_ex"):
        host = args[0]
        if host is not None and not _is_literal(host) and not _is_loopback(host):
            return str(host)
        return None
    if event == "gethostbyaddr":
        return None if _is_loopback(args[0]) else str(args[0])
    if event == "getnameinfo":
        sockaddr, flags = args[0], args[1]
        if not flags & socket.NI_NUMERICHOST and not _is_loopback(sockaddr[0]):
            return str(sockaddr[0])
    return None


_audit_log: list[tuple[str, str]] | None = None


def _audit_safety_net(event: str, args: tuple) -> None:
    log = _audit_log
    if log is None or not event.startswith("socket."):
        return
    name = event.removeprefix("socket.")
    if name in ("connect", "sendto", "sendmsg"):
        if len(args) < 2 or args[1] is None:
            return
        target = _forbidden_target("connect", (args[0], args[1]))
    elif name == "getnameinfo":
        return  # the flags are not in the event; covered by the recorder on the original
    elif name == "gethostbyname":
        target = _forbidden_target(name, args)
    else:
        target = _forbidden_target(name, args) if name in ("getaddrinfo", "gethostbyaddr") else None
    if target is not None:
        log.append((event, target))
        raise LeakBlocked(f"test safety net: {event} to {target} reached _socket")


sys.addaudithook(_audit_safety_net)


@contextmanager
def audit_watch() -> Iterator[list[tuple[str, str]]]:
    global _audit_log
    log: list[tuple[str, str]] = []
    _audit_log = log
    try:
        yield log
    finally:
        _audit_log = None


_ORIGINALS = (
    "connect",
    "connect_ex",
    "sendto",
    "sendmsg",
    "getaddrinfo",
    "gethostbyname",
    "gethostbyname_ex",
    "gethostbyaddr",
    "getnameinfo",
)


@pytest.fixture
def guarded(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimpleNamespace]:
    """A default (loopback) guard, recorders on the originals, and the audit safety net."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    guard = netguard.install()
    calls: list[tuple[str, str]] = []
    reached: list[tuple[str, str]] = []
    lock = threading.Lock()

    def recorder(name: str, original):  # type: ignore[no-untyped-def]
        def call(*args, **kwargs):  # type: ignore[no-untyped-def]
            target = _forbidden_target(name, args)
            with lock:
                calls.append((name, repr(args[1:] if name.startswith(("conn", "send")) else args)))
                if target is not None:
                    reached.append((name, target))
            if target is not None:
                raise LeakBlocked(f"test safety net: original {name} called for {target}")
            return original(*args, **kwargs)

        return call

    for name in _ORIGINALS:
        monkeypatch.setattr(netguard._real, name, recorder(name, getattr(netguard._real, name)))
    try:
        with audit_watch() as audit:
            yield SimpleNamespace(guard=guard, calls=calls, reached=reached, audit=audit)
    finally:
        guard.uninstall()


def refusal_in(exc: BaseException) -> NetworkRefused | None:
    """Our refusal anywhere in an exception's cause/context/args chain (clients wrap it)."""
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        e = todo.pop()
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, NetworkRefused):
            return e
        if isinstance(e, LeakBlocked):
            raise AssertionError(f"the guard let traffic through: {e}") from exc
        todo += [e.__cause__, e.__context__, *e.args]
        todo += [getattr(e, a, None) for a in ("os_error", "reason", "exceptions")]
        todo += list(getattr(e, "exceptions", None) or ())
    return None


def assert_refused(exc: BaseException, host: str, ns: SimpleNamespace) -> NetworkRefused:
    refusal = refusal_in(exc)
    assert refusal is not None, f"not refused by the guard: {exc!r}"
    assert refusal.host == host
    assert host in str(refusal) and "allow-list" in str(refusal)
    assert ns.reached == [] and ns.audit == [], (ns.reached, ns.audit)
    return refusal


# --- loopback test server -------------------------------------------------------------------


@contextmanager
def loopback_http_server() -> Iterator[int]:
    """An aiohttp server on 127.0.0.1 in its own thread; yields the port."""
    from aiohttp import web

    ready = threading.Event()
    box: dict[str, object] = {}

    async def hello(request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "path": request.path})

    async def serve() -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", hello)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        box["port"] = runner.addresses[0][1]
        stop = asyncio.Event()
        box["stop"], box["loop"] = stop, asyncio.get_running_loop()
        ready.set()
        await stop.wait()
        await runner.cleanup()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield int(box["port"])  # type: ignore[call-overload]
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)  # type: ignore[attr-defined]
        thread.join(10)


# --- raw sockets ------------------------------------------------------------------------------


def test_tcp_connect_to_non_loopback_is_refused_naming_host_and_port(guarded) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        with pytest.raises(NetworkRefused) as info:
            s.connect((BLACKHOLE, 80))
        assert isinstance(info.value, PermissionError)
        assert f"{BLACKHOLE}:80" in str(info.value)
        assert info.value.port == 80
        clone = pickle.loads(pickle.dumps(info.value))
        assert str(clone) == str(info.value) and clone.errno == info.value.errno
        with pytest.raises(NetworkRefused):
            s.connect_ex((BLACKHOLE, 443))
    assert_refused(info.value, BLACKHOLE, guarded)


def test_connect_with_a_host_name_is_refused_before_dns(guarded) -> None:
    with socket.socket() as s, pytest.raises(NetworkRefused) as info:
        s.connect((PUBLIC_NAME, 80))
    assert_refused(info.value, PUBLIC_NAME, guarded)
    with pytest.raises(NetworkRefused) as info:
        socket.create_connection((PUBLIC_NAME, 443), timeout=1)
    assert_refused(info.value, PUBLIC_NAME, guarded)
    with pytest.raises(NetworkRefused) as info:
        socket.create_connection((BLACKHOLE, 443), timeout=1)
    assert_refused(info.value, BLACKHOLE, guarded)


def test_ipv6_and_ipv4_mapped_destinations_are_judged(guarded) -> None:
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
        for host in ("2001:db8::1", "::ffff:10.255.255.1"):
            with pytest.raises(NetworkRefused) as info:
                s.connect((host, 443, 0, 0))
            assert f"[{host}]:443" in str(info.value)
            assert_refused(info.value, host, guarded)


def test_udp_sendto_and_sendmsg_to_non_loopback_are_refused(guarded) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        with pytest.raises(NetworkRefused) as info:
            s.sendto(b"x", (BLACKHOLE, 53))
        assert f"{BLACKHOLE}:53" in str(info.value)
        with pytest.raises(NetworkRefused):
            s.sendto(b"x", 0, (BLACKHOLE, 53))
        with pytest.raises(NetworkRefused):
            s.sendmsg([b"x"], [], 0, (BLACKHOLE, 53))
        with pytest.raises(NetworkRefused):
            s.connect((BLACKHOLE, 53))  # a connected UDP socket would send() freely
    assert_refused(info.value, BLACKHOLE, guarded)


def test_udp_and_tcp_on_loopback_still_work(guarded) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind(("127.0.0.1", 0))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            tx.sendto(b"one", rx.getsockname())
            tx.sendto(b"two", 0, rx.getsockname())
            tx.sendmsg([b"three"], [], 0, rx.getsockname())
        assert [rx.recv(16) for _ in range(3)] == [b"one", b"two", b"three"]
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("localhost", port), timeout=5) as c:
            conn, _ = server.accept()
            c.sendall(b"ping")
            assert conn.recv(4) == b"ping"
            conn.close()
        with socket.socket() as c2:
            assert c2.connect_ex(("127.0.0.1", port)) == 0
    assert guarded.reached == [] and guarded.audit == []


def test_unix_sockets_socketpairs_and_subprocesses_keep_working(guarded, tmp_path) -> None:
    a, b = socket.socketpair()
    with a, b:
        a.sendall(b"pair")
        assert b.recv(4) == b"pair"
    path = str(tmp_path / "s.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(path)
            conn, _ = server.accept()
            client.sendall(b"unix")
            assert conn.recv(4) == b"unix"
            conn.close()
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as rx:
        rx.bind(str(tmp_path / "d.sock"))
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as tx:
            tx.sendto(b"dgram", str(tmp_path / "d.sock"))
        assert rx.recv(8) == b"dgram"
    out = subprocess.run(
        [sys.executable, "-c", "print('child ok')"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "child ok"

    async def child() -> bytes:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "print('async child')", stdout=asyncio.subprocess.PIPE
        )
        stdout, _ = await proc.communicate()
        return stdout

    assert asyncio.run(child()).strip() == b"async child"


# --- name resolution --------------------------------------------------------------------------


def test_dns_lookups_of_public_names_are_refused(guarded) -> None:
    with pytest.raises(NetworkRefused) as info:
        socket.getaddrinfo(PUBLIC_NAME, 443)
    assert f"{PUBLIC_NAME}:443" in str(info.value) and "DNS lookup" in str(info.value)
    for call in (
        lambda: socket.getaddrinfo(PUBLIC_NAME.encode(), 80, type=socket.SOCK_STREAM),
        lambda: socket.gethostbyname(PUBLIC_NAME),
        lambda: socket.gethostbyname_ex(PUBLIC_NAME),
        lambda: socket.gethostbyaddr(PUBLIC_NAME),
    ):
        with pytest.raises(NetworkRefused):
            call()
    assert_refused(info.value, PUBLIC_NAME, guarded)
    with pytest.raises(NetworkRefused):
        socket.gethostbyaddr(BLACKHOLE)  # a reverse lookup is a DNS query too
    with pytest.raises(NetworkRefused):
        socket.getnameinfo((BLACKHOLE, 80), 0)
    assert guarded.reached == [] and guarded.audit == []


def test_local_resolution_still_works(guarded) -> None:
    assert {i[4][0] for i in socket.getaddrinfo("localhost", 80)} <= {"127.0.0.1", "::1"}
    # IP literals resolve without a query; the destination is judged at connect time
    assert socket.getaddrinfo(BLACKHOLE, 80)[0][4][0] == BLACKHOLE
    assert socket.getnameinfo((BLACKHOLE, 80), socket.NI_NUMERICHOST | socket.NI_NUMERICSERV)
    assert socket.gethostbyname("127.0.0.1") == "127.0.0.1"
    assert socket.getaddrinfo(None, 80, flags=socket.AI_PASSIVE)
    assert guarded.reached == [] and guarded.audit == []


def test_asyncio_resolution_connection_and_datagrams(guarded) -> None:
    async def scenario() -> list[BaseException]:
        loop = asyncio.get_running_loop()
        errors = []
        for coro in (
            loop.getaddrinfo(PUBLIC_NAME, 443),
            asyncio.open_connection(BLACKHOLE, 80),
            asyncio.open_connection(PUBLIC_NAME, 80),
            loop.create_datagram_endpoint(asyncio.DatagramProtocol, remote_addr=(BLACKHOLE, 53)),
        ):
            try:
                await asyncio.wait_for(coro, 10)
            except Exception as exc:
                errors.append(exc)
        return errors

    errors = asyncio.run(scenario())
    expected = [PUBLIC_NAME, BLACKHOLE, PUBLIC_NAME, BLACKHOLE]
    assert len(errors) == len(expected)
    for exc, host in zip(errors, expected, strict=True):
        assert_refused(exc, host, guarded)


# --- real clients -----------------------------------------------------------------------------


def test_aiohttp_and_httpx_work_on_loopback_and_are_refused_elsewhere(guarded) -> None:
    import aiohttp
    import httpx

    with loopback_http_server() as port:

        async def scenario() -> tuple[list[object], list[BaseException]]:
            ok: list[object] = []
            errors: list[BaseException] = []
            timeout = aiohttp.ClientTimeout(total=10)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                for host in ("127.0.0.1", "localhost"):
                    async with session.get(f"http://{host}:{port}/a") as r:
                        ok.append((await r.json())["path"])
                for url in (f"http://{BLACKHOLE}/", f"https://{PUBLIC_NAME}/"):
                    try:
                        async with session.get(url) as r:
                            ok.append(r.status)
                    except aiohttp.ClientError as exc:
                        errors.append(exc)
            async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
                ok.append((await client.get(f"http://127.0.0.1:{port}/b")).json()["path"])
                for url in (f"http://{BLACKHOLE}/", f"https://{PUBLIC_NAME}/"):
                    try:
                        await client.get(url)
                    except httpx.HTTPError as exc:
                        errors.append(exc)
            return ok, errors

        ok, errors = asyncio.run(scenario())
        with httpx.Client(timeout=10, trust_env=False) as client:
            ok.append(client.get(f"http://localhost:{port}/c").json()["path"])
            for url in (f"http://{BLACKHOLE}/", f"https://{PUBLIC_NAME}/"):
                with pytest.raises(httpx.ConnectError) as info:
                    client.get(url)
                errors.append(info.value)
    assert ok == ["/a", "/a", "/b", "/c"]
    assert len(errors) == 6  # aiohttp, httpx async, httpx sync: each refused twice
    for exc, host in zip(errors, [BLACKHOLE, PUBLIC_NAME] * 3, strict=True):
        assert_refused(exc, host, guarded)


def test_urllib3_and_requests_are_refused(guarded) -> None:
    import requests
    import urllib3

    with loopback_http_server() as port:
        pool = urllib3.PoolManager(retries=False)
        assert pool.request("GET", f"http://127.0.0.1:{port}/u").json()["path"] == "/u"
        for host in (BLACKHOLE, PUBLIC_NAME):
            with pytest.raises(urllib3.exceptions.HTTPError) as info:
                pool.request("GET", f"http://{host}/", timeout=5)
            assert_refused(info.value, host, guarded)
        pool.clear()
        with requests.Session() as session:
            session.trust_env = False
            assert session.get(f"http://localhost:{port}/r", timeout=5).json()["path"] == "/r"
            for host in (BLACKHOLE, PUBLIC_NAME):
                with pytest.raises(requests.ConnectionError) as rinfo:
                    session.get(f"https://{host}/", timeout=5)
                assert_refused(rinfo.value, host, guarded)


def test_unmodified_ccxt_binance_fetch_time_is_refused(guarded) -> None:
    import ccxt.async_support as ccxt

    async def scenario() -> BaseException:
        exchange = ccxt.binance()
        try:
            await exchange.fetch_time()
        except ccxt.BaseError as exc:
            return exc
        finally:
            await exchange.close()
        raise AssertionError("fetch_time returned")

    exc = asyncio.run(scenario())
    assert isinstance(exc, ccxt.NetworkError)
    refusal = assert_refused(exc, "api.binance.com", guarded)
    assert refusal.port == 443


# --- lifecycle --------------------------------------------------------------------------------


def test_nested_guards_narrow_and_uninstall_in_any_order() -> None:
    with audit_watch() as audit:
        outer = netguard.install()  # loopback
        inner = netguard.install(["127.0.0.1"])
        try:
            with socket.socket() as s, pytest.raises(NetworkRefused) as info:
                s.connect(("127.0.0.2", 9))
            assert "127.0.0.1" in str(info.value)  # the inner allow-list refused it
            assert inner in netguard.active_guards() and outer in netguard.active_guards()
            outer.uninstall()
            outer.uninstall()  # idempotent
            with socket.socket() as s, pytest.raises(NetworkRefused):
                s.connect(("127.0.0.2", 9))
            inner.uninstall()
            assert not inner.active and not outer.active
            assert inner not in netguard.active_guards()
        finally:
            outer.uninstall()
            inner.uninstall()
    assert audit == []


def test_allowed_names_and_the_addresses_they_resolve_to() -> None:
    with netguard.install(["localhost"]) as guard, audit_watch() as audit:
        with socket.socket() as s, pytest.raises(NetworkRefused):
            s.connect(("127.0.0.1", 9))  # not listed, not resolved yet
        with socket.create_server(("127.0.0.1", 0)) as server:
            port = server.getsockname()[1]
            with socket.create_connection(("localhost", port), timeout=5):
                pass
            with socket.socket() as s:
                s.connect(("127.0.0.1", port))  # now known as an address of localhost
        assert repr(guard).startswith("Guard(localhost; active")
    assert audit == [] and not guard.active
    wildcard = netguard.Guard(["*.example.org", "10.0.0.0/8"])
    assert wildcard.allows("api.example.org") and wildcard.allows("API.Example.Org.")
    assert not wildcard.allows("example.org.evil.com") and not wildcard.allows("example.com")
    assert wildcard.allows("10.1.2.3") and not wildcard.allows("11.0.0.1")


def test_bad_allow_lists_are_rejected() -> None:
    with pytest.raises(TypeError):
        netguard.install("localhost")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="allow-list entry 'http://x'"):
        netguard.install(["http://x"])
    with pytest.raises(ValueError):
        netguard.Guard(["host:80"])


def test_audit_backstop_refuses_callers_that_bypass_the_socket_module() -> None:
    """``_socket`` used directly never goes through the patched methods."""
    import _socket

    with netguard.install():
        raw = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
        try:
            # Unit-level: the hook's decision, without making the call.
            with pytest.raises(NetworkRefused):
                netguard._audit_hook("socket.connect", (raw, (BLACKHOLE, 80)))
            with pytest.raises(NetworkRefused):
                netguard._audit_hook("socket.getaddrinfo", (PUBLIC_NAME, 80, 0, 0, 0))
            with pytest.raises(NetworkRefused):
                netguard._audit_hook("socket.gethostbyname", (PUBLIC_NAME,))
            with pytest.raises(NetworkRefused):
                netguard._audit_hook("socket.gethostbyaddr", (BLACKHOLE,))
            with pytest.raises(NetworkRefused):
                netguard._audit_hook("socket.sendto", (raw, (BLACKHOLE, 53)))
            netguard._audit_hook("socket.connect", (raw, ("127.0.0.1", 80)))
            netguard._audit_hook("socket.getaddrinfo", ("localhost", 80, 0, 0, 0))
            netguard._audit_hook("open", ("x", "r", 0))
        finally:
            raw.close()


BACKSTOP_SCRIPT = textwrap.dedent(
    """
    import _socket, socket, sys
    from adaptive_agent.policy import netguard

    original_connect, original_gai = socket.socket.connect, socket.getaddrinfo
    guard = netguard.install()   # its audit hook is registered first ...
    leaks = []
    def net(event, args):        # ... so this safety net only sees what got past it
        local = "127.0.0.1" in repr(args) or "'localhost'" in repr(args)
        if event in ("socket.connect", "socket.getaddrinfo") and not local:
            leaks.append(event)
            raise SystemExit("LEAK " + event)
    sys.addaudithook(net)
    refused = []
    raw = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    for call in (lambda: raw.connect(("10.255.255.1", 80)),
                 lambda: _socket.getaddrinfo("example.com", 80)):
        try:
            call()
        except netguard.NetworkRefused as exc:
            refused.append(exc.host)
    raw.close()
    guard.uninstall()
    assert socket.socket.connect is original_connect, "connect not restored"
    assert "connect" not in socket.socket.__dict__
    assert socket.getaddrinfo is original_gai, "getaddrinfo not restored"
    with socket.create_server(("127.0.0.1", 0)) as server:
        socket.create_connection(server.getsockname(), timeout=5).close()

    # A monkeypatch undo may put our wrappers back after an uninstall: a new install must
    # not wrap itself (infinite recursion), and its uninstall must restore the originals.
    socket.getaddrinfo, socket.socket.connect = netguard._getaddrinfo, netguard._connect
    socket.getaddrinfo("localhost", 80)
    with netguard.install():
        socket.getaddrinfo("localhost", 80)
        with socket.create_server(("127.0.0.1", 0)) as server:
            socket.create_connection(server.getsockname(), timeout=5).close()
    assert socket.getaddrinfo is original_gai and "connect" not in socket.socket.__dict__
    print(refused, leaks)
    """
)


def test_backstop_and_restoration_in_a_fresh_interpreter() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", BACKSTOP_SCRIPT],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['10.255.255.1', 'example.com'] []"


def test_uninstall_restores_the_socket_functions_in_process() -> None:
    if netguard.active_guards():
        pytest.skip("a suite-wide guard is active; covered by the fresh-interpreter test")
    before = dict(socket.socket.__dict__), socket.getaddrinfo, socket.gethostbyname
    guard = netguard.install()
    assert socket.socket.__dict__["connect"] is not None and socket.getaddrinfo is not before[1]
    guard.uninstall()
    assert dict(socket.socket.__dict__) == before[0]
    assert (socket.getaddrinfo, socket.gethostbyname) == before[1:]
