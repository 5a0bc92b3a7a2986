"""Test-mode network guard: refuse outbound traffic to hosts outside an allow-list, up front.

``install(allow)`` patches the few places every Python network client goes through:

* ``socket.socket.connect`` / ``connect_ex`` (TCP and connected UDP). asyncio, aiohttp (and so
  ccxt), httpx/httpcore/anyio, urllib3/requests, http.client and ssl all create ``socket.socket``
  objects and connect them through these methods;
* ``socket.socket.sendto`` / ``sendmsg`` with a destination address (unconnected UDP);
* ``socket.getaddrinfo``, ``gethostbyname``, ``gethostbyname_ex``, ``gethostbyaddr`` and
  ``getnameinfo``: a host *name* outside the allow-list is refused before any DNS query is made.
  IP literals resolve locally (no query), so they pass the resolver and are judged at connect.

The refusal (:class:`NetworkRefused`, a ``PermissionError``) is raised *before* the original call,
so no DNS query and no packet leaves the process. As a backstop for code that bypasses the
``socket`` module (``_socket`` used directly, ``getaddrinfo`` bound before install), a
``sys.addaudithook`` hook applies the same rules to the ``socket.connect``, ``socket.sendto``,
``socket.sendmsg``, ``socket.getaddrinfo``, ``socket.gethostbyname`` and ``socket.gethostbyaddr``
audit events, which CPython raises inside ``_socket`` just before the system call (for a
``connect((name, port))`` that bypasses the patched method, CPython resolves the name before the
event, so only the packet is stopped there, not the lookup). Audit hooks cannot be removed:
after the last ``uninstall()`` it returns at once and costs nothing.

Allow-list entries are IP addresses (``127.0.0.1``), networks (``127.0.0.0/8``), host names
(``localhost``) or ``*.suffix`` wildcards. Addresses that an allowed name resolved to are allowed
too (so ``influxdb`` in a compose network works). Default (``install()`` with no argument):
:data:`DEFAULT_ALLOW` = the whole loopback: ``127.0.0.0/8``, ``::1`` and ``localhost``.

Only ``AF_INET`` and ``AF_INET6`` sockets are judged: unix sockets (``AF_UNIX``), socketpairs,
pipes and subprocesses work as before. Guards nest: each ``install()`` returns its own
:class:`Guard`; while several are active a destination must be allowed by *every* one of them
(an inner guard can only narrow the outer one), and ``uninstall()`` in any order removes only
that guard. The patches are removed with the last guard.

Not covered: child processes (a new interpreter starts unguarded), and event loops that do their
own networking in C (uvloop: libuv resolves and connects without Python's ``socket`` module).
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import sys
import threading
from collections.abc import Callable, Iterable
from types import SimpleNamespace
from typing import Any

__all__ = ["DEFAULT_ALLOW", "Guard", "NetworkRefused", "active_guards", "install"]

DEFAULT_ALLOW: tuple[str, ...] = ("127.0.0.0/8", "::1", "localhost")

_IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_INET_FAMILIES = frozenset({socket.AF_INET, socket.AF_INET6})


class NetworkRefused(PermissionError):
    """An outbound connection or DNS lookup refused by the test-mode network guard."""

    def __init__(self, operation: str, host: str, port: object, allow: tuple[str, ...]) -> None:
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        message = (
            f"network guard (test mode): {operation} {where} refused:"
            f" {host!r} is not in the allow-list ({', '.join(allow) or 'empty'})"
        )
        super().__init__(errno.EACCES, message)
        self.operation, self.host, self.port, self.allow = operation, host, port, allow

    def __str__(self) -> str:
        return str(self.strerror)

    def __reduce__(self) -> tuple[Any, ...]:  # picklable across processes, like OSError
        return (type(self), (self.operation, self.host, self.port, self.allow))


def _host_text(host: object) -> str | None:
    if isinstance(host, str):
        return host
    if isinstance(host, bytes | bytearray):
        return bytes(host).decode("latin-1")
    return None


def _parse_ip(text: str) -> _IPAddress | None:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
        ip = ipaddress.IPv6Address(text.split("%", 1)[0])
    return ip


def _norm_name(name: str) -> str:
    return name.strip().rstrip(".").lower()


class Guard:
    """One active allow-list. Use :func:`install` to create one; ``uninstall()`` is idempotent."""

    def __init__(self, allow: Iterable[str]) -> None:
        if isinstance(allow, str | bytes):
            raise TypeError("allow must be an iterable of hosts, not a single string")
        entries = tuple(str(a).strip() for a in allow)
        networks: list[_IPNetwork] = []
        names: set[str] = set()
        suffixes: list[str] = []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            name = _norm_name(entry)
            if name.startswith("*."):
                suffixes.append(name[1:])  # ".example.org"
            elif name and all(c.isalnum() or c in "-._" for c in name):
                names.add(name)
            else:
                raise ValueError(
                    f"network allow-list entry {entry!r}: expected an IP address, a network"
                    " (a.b.c.d/n), a host name or *.domain"
                )
        self.allow = entries
        self._networks = tuple(networks)
        self._names = frozenset(names)
        self._suffixes = tuple(suffixes)
        self._resolved: set[_IPAddress] = set()
        self._active = False

    # --- decisions (pure apart from the remembered addresses of allowed names) ---------------

    def allows_name(self, name: str) -> bool:
        n = _norm_name(name)
        return n in self._names or any(n.endswith(s) for s in self._suffixes)

    def allows_ip(self, ip: _IPAddress) -> bool:
        candidates = [ip]
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            candidates.append(ip.ipv4_mapped)
        return any(
            c in self._resolved or any(c.version == n.version and c in n for n in self._networks)
            for c in candidates
        )

    def allows(self, host: str) -> bool:
        """Whether ``host`` (an IP literal or a host name) may be contacted."""
        ip = _parse_ip(host)
        return self.allows_ip(ip) if ip is not None else self.allows_name(host)

    def _remember(self, infos: Iterable[tuple[Any, ...]]) -> None:
        for info in infos:
            try:
                ip = _parse_ip(str(info[4][0]))
            except (IndexError, TypeError):
                continue
            if ip is not None:
                self._resolved.add(ip)

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        return self._active

    def uninstall(self) -> None:
        """Remove this guard; the socket functions are restored when no guard is left."""
        _remove(self)

    def __enter__(self) -> Guard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.uninstall()

    def __repr__(self) -> str:
        state = "active" if self._active else "uninstalled"
        return f"Guard({', '.join(self.allow)}; {state})"


# --- process-wide state -----------------------------------------------------------------------

_lock = threading.RLock()
_state = SimpleNamespace(guards=(), audit_hook_added=False, saved={})
# The functions our wrappers call once a destination is allowed (the originals at patch time).
# Tests may wrap these with recorders to prove a refused call never reaches them.
_real = SimpleNamespace()


def active_guards() -> tuple[Guard, ...]:
    return _state.guards


def install(allow: Iterable[str] | None = None) -> Guard:
    """Refuse outbound traffic to hosts outside ``allow`` (default :data:`DEFAULT_ALLOW`)."""
    guard = Guard(DEFAULT_ALLOW if allow is None else allow)
    with _lock:
        if not _state.guards:
            _patch()
        if not _state.audit_hook_added:
            sys.addaudithook(_audit_hook)
            _state.audit_hook_added = True
        guard._active = True
        _state.guards = (*_state.guards, guard)
    return guard


def _remove(guard: Guard) -> None:
    with _lock:
        if guard not in _state.guards:
            return
        guard._active = False
        _state.guards = tuple(g for g in _state.guards if g is not guard)
        if not _state.guards:
            _unpatch()


def _refuse_host(operation: str, host: str, port: object) -> None:
    for guard in _state.guards:
        if not guard.allows(host):
            raise NetworkRefused(operation, host, port, guard.allow)


def _refuse_name(operation: str, host: object, port: object) -> bool:
    """Refuse a DNS lookup of a non-allowed name; True when ``host`` is a name (not a literal)."""
    text = _host_text(host)
    if text is None or _parse_ip(text) is not None:
        return False
    for guard in _state.guards:
        if not guard.allows_name(text):
            raise NetworkRefused(operation, text, port, guard.allow)
    return True


def _check_sockaddr(sock: Any, address: object, operation: str) -> None:
    if not _state.guards:
        return
    try:
        family = sock.family
    except (AttributeError, OSError):
        return
    if family not in _INET_FAMILIES or not isinstance(address, tuple) or len(address) < 2:
        return  # unix sockets etc.; a malformed address makes the original raise TypeError
    host = _host_text(address[0])
    if host is None:
        return
    _refuse_host(operation, host, address[1])


# --- wrappers ---------------------------------------------------------------------------------


def _connect(self: socket.socket, address: Any) -> None:
    _check_sockaddr(self, address, "connection to")
    return _real.connect(self, address)


def _connect_ex(self: socket.socket, address: Any) -> int:
    _check_sockaddr(self, address, "connection to")
    return _real.connect_ex(self, address)


def _sendto(self: socket.socket, *args: Any) -> int:
    if len(args) in (2, 3):
        _check_sockaddr(self, args[-1], "datagram to")
    return _real.sendto(self, *args)


def _sendmsg(self: socket.socket, *args: Any) -> int:
    if len(args) >= 4 and args[3] is not None:
        _check_sockaddr(self, args[3], "message to")
    return _real.sendmsg(self, *args)


def _getaddrinfo(
    host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
) -> list[tuple[Any, ...]]:
    is_name = bool(_state.guards) and _refuse_name("DNS lookup of", host, port)
    infos = _real.getaddrinfo(host, port, family, type, proto, flags)
    if is_name:
        for guard in _state.guards:
            guard._remember(infos)
    return infos


def _gethostbyname(hostname: str) -> str:
    if _state.guards:
        _refuse_name("DNS lookup of", hostname, "-")
    return _real.gethostbyname(hostname)


def _gethostbyname_ex(hostname: str) -> tuple[str, list[str], list[str]]:
    if _state.guards:
        _refuse_name("DNS lookup of", hostname, "-")
    return _real.gethostbyname_ex(hostname)


def _gethostbyaddr(ip_address: str) -> tuple[str, list[str], list[str]]:
    if _state.guards:
        text = _host_text(ip_address)
        if text is not None:
            _refuse_host("reverse DNS lookup of", text, "-")
    return _real.gethostbyaddr(ip_address)


def _getnameinfo(sockaddr: Any, flags: int) -> tuple[str, str]:
    if (
        _state.guards
        and not flags & socket.NI_NUMERICHOST
        and isinstance(sockaddr, tuple)
        and sockaddr
        and (text := _host_text(sockaddr[0])) is not None
    ):
        _refuse_host("reverse DNS lookup of", text, sockaddr[1] if len(sockaddr) > 1 else "-")
    return _real.getnameinfo(sockaddr, flags)


_SOCKET_METHODS: dict[str, Callable[..., Any]] = {
    "connect": _connect,
    "connect_ex": _connect_ex,
    "sendto": _sendto,
    "sendmsg": _sendmsg,
}
_MODULE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "getaddrinfo": _getaddrinfo,
    "gethostbyname": _gethostbyname,
    "gethostbyname_ex": _gethostbyname_ex,
    "gethostbyaddr": _gethostbyaddr,
    "getnameinfo": _getnameinfo,
}
_MISSING = object()


def _patch() -> None:
    previous: dict[tuple[object, str], object] = _state.saved
    saved: dict[tuple[object, str], object] = {}
    targets = [(socket.socket, n, w) for n, w in _SOCKET_METHODS.items()]
    targets += [(socket, n, w) for n, w in _MODULE_FUNCTIONS.items()]
    for owner, name, wrapper in targets:
        key = (owner, name)
        current = owner.__dict__.get(name, _MISSING)
        if current is wrapper and key in previous:
            # Our wrapper is still (or again) in place, e.g. put back by a monkeypatch undo
            # after an uninstall: keep the original we saved then, never wrap ourselves.
            saved[key] = previous[key]
            continue
        saved[key] = current
        setattr(_real, name, getattr(owner, name))
        setattr(owner, name, wrapper)
    _state.saved = saved


def _unpatch() -> None:
    wrappers = {**_SOCKET_METHODS, **_MODULE_FUNCTIONS}
    for (owner, name), original in _state.saved.items():
        if owner.__dict__.get(name) is not wrappers[name]:
            continue  # someone patched over us: leave theirs (ours passes through when idle)
        if original is _MISSING:
            delattr(owner, name)
        else:
            setattr(owner, name, original)
    # _state.saved is kept: see _patch


def _audit_hook(event: str, args: tuple[Any, ...]) -> None:
    """Backstop at the C boundary for callers that bypass the patched ``socket`` module."""
    if not _state.guards or not event.startswith("socket."):
        return
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        if len(args) >= 2 and args[1] is not None:
            what = "connection to" if event == "socket.connect" else "datagram to"
            _check_sockaddr(args[0], args[1], what)
    elif event == "socket.getaddrinfo":
        _refuse_name("DNS lookup of", args[0], args[1])
    elif event == "socket.gethostbyname":
        _refuse_name("DNS lookup of", args[0], "-")
    elif event == "socket.gethostbyaddr" and (text := _host_text(args[0])) is not None:
        _refuse_host("reverse DNS lookup of", text, "-")
