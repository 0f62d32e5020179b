"""A total deadline on every network request, however slowly the server answers.

A socket timeout bounds one read, so a server that trickles a byte every 2 s resets it
forever. Here each request (with its retries) runs inside a deadline scope; every
connection urllib3 opens or reuses for it (hvac through requests, the kubernetes
client) enlists its socket with the scope, and one watchdog thread shuts those sockets
down when the deadline passes: the blocked read returns at once, and the scope raises
DeadlineExceeded, which the Vault and Kubernetes boundaries turn into a one-line error.
Connects are given only the time that is left.

The total is `timeout()`: 30 s unless the CLI set another (`--timeout`, SECCONF_TIMEOUT).
urllib3 is imported only when a connection class is first needed.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import itertools
import os
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import socket

from secconf.core.errors import SecconfError

DEFAULT_TIMEOUT = 30.0
_MIN_WAIT = 0.001  # a socket timeout of 0 would mean "non-blocking", not "now"

_configured: float | None = None
_local = threading.local()


def set_timeout(seconds: float | None) -> None:
    """Set the total deadline of each network request for this process (None: default)."""
    global _configured
    _configured = seconds


def timeout() -> float:
    """The total deadline, in seconds, of one network request including its retries."""
    return DEFAULT_TIMEOUT if _configured is None else _configured


class DeadlineExceeded(Exception):
    """A request and its retries did not finish within the total deadline."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no answer within {seconds:g} s")
        self.seconds = seconds


class _Scope:
    """One deadline and the connections working for it."""

    def __init__(self, seconds: float, ends_at: float) -> None:
        self.seconds = seconds
        self.ends_at = ends_at
        self.fired = False
        self.done = False
        self._lock = threading.Lock()
        self._connections: dict[int, tuple[Any, int]] = {}  # id -> (connection, its fd)

    def remaining(self) -> float:
        return self.ends_at - time.monotonic()

    def enlist(self, connection: Any, sock: socket.socket) -> None:
        with self._lock:
            self._connections[id(connection)] = (connection, sock.fileno())
            fired = self.fired
        if fired:  # enlisted after the deadline: stop it at once
            _shut(connection, sock.fileno())

    def fire(self) -> None:
        with self._lock:
            if self.done:
                return
            self.fired = True
            connections = list(self._connections.values())
        for connection, fd in connections:
            _shut(connection, fd)

    def close(self) -> None:
        with self._lock:
            self.done = True
            self._connections.clear()


def _shut(connection: Any, fd: int) -> None:
    """Shut a connection's socket down, so that a read blocked on it returns now."""
    import socket

    sock = getattr(connection, "sock", None)
    with contextlib.suppress(OSError, ValueError):
        if isinstance(sock, socket.socket) and sock.fileno() != -1:
            # socket.socket's own shutdown: SSLSocket's would drop its SSL object under
            # the thread still reading from it.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        elif fd >= 0:
            # During the TLS handshake the plain socket object is detached (its fd
            # belongs to the SSL socket being built); shut the connection down by fd.
            with socket.fromfd(fd, socket.AF_INET, socket.SOCK_STREAM) as dup:
                dup.shutdown(socket.SHUT_RDWR)


class _Watchdog:
    """One daemon thread that fires each scope at its deadline."""

    def __init__(self) -> None:
        self._wake = threading.Condition()
        self._heap: list[tuple[float, int, _Scope]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, scope: _Scope) -> None:
        with self._wake:
            heapq.heappush(self._heap, (scope.ends_at, next(self._order), scope))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="secconf-deadlines", daemon=True
                )
                self._thread.start()
            if self._heap[0][2] is scope:  # the watchdog sleeps until a later deadline
                self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)  # finished in time: forget it
                if not self._heap:
                    self._wake.wait()
                    continue
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                scope = heapq.heappop(self._heap)[2]
            scope.fire()


_watchdog = _Watchdog()


def _after_fork_in_child() -> None:
    """A forked process (a planning worker, secconf.operations.deploy) has no watchdog
    thread, only the parent's record of one, and the parent's scopes: it starts afresh,
    or no deadline would ever fire in it."""
    global _watchdog, _local
    _watchdog = _Watchdog()
    _local = threading.local()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _scopes() -> list[_Scope]:
    stack: list[_Scope] | None = getattr(_local, "scopes", None)
    if stack is None:
        stack = _local.scopes = []
    return stack


def current() -> _Scope | None:
    """This thread's innermost deadline scope, if a request is under one."""
    stack = _scopes()
    return stack[-1] if stack else None


@contextlib.contextmanager
def deadline(seconds: float | None = None) -> Iterator[_Scope]:
    """Run a block of network requests under one total deadline (default `timeout()`).

    A nested scope never outlives the one around it. An error raised once the deadline
    has passed (a read cut short by the watchdog, a timeout) becomes DeadlineExceeded.
    """
    total = timeout() if seconds is None else seconds
    ends_at = time.monotonic() + total
    outer = current()
    if outer is not None and outer.ends_at < ends_at:
        total, ends_at = outer.seconds, outer.ends_at
    scope = _Scope(total, ends_at)
    stack = _scopes()
    stack.append(scope)
    _watchdog.watch(scope)
    try:
        yield scope
    except SecconfError:
        raise
    except Exception:
        if scope.fired or scope.remaining() <= 0:
            raise DeadlineExceeded(scope.seconds) from None
        raise
    finally:
        scope.close()
        stack.remove(scope)


def _clamp(value: Any) -> Any:
    """A socket timeout no longer than the time left in this thread's scope."""
    scope = current()
    if scope is None:
        return value
    left = max(scope.remaining(), _MIN_WAIT)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return min(float(value), left)
    return left  # None (wait forever) or urllib3's "default" sentinel


def _enlist(connection: Any, sock: Any) -> None:
    import socket

    scope = current()
    if scope is not None and isinstance(sock, socket.socket):
        scope.enlist(connection, sock)


@functools.cache
def pool_classes() -> dict[str, type[Any]]:
    """urllib3 connection pool classes, by scheme, whose connections obey the deadline."""
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    def bounded(base: type[Any]) -> type[Any]:
        class Bounded(base):  # type: ignore[misc]
            timeout: Any

            def _new_conn(self) -> Any:
                self.timeout = _clamp(self.timeout)
                sock = super()._new_conn()
                _enlist(self, sock)  # before the TLS handshake, which can trickle too
                return sock

            def request(self, *args: Any, **kwargs: Any) -> Any:
                if self.sock is not None:  # a kept-alive connection, reused
                    _enlist(self, self.sock)
                    self.timeout = _clamp(self.timeout)
                return super().request(*args, **kwargs)

            def getresponse(self, *args: Any, **kwargs: Any) -> Any:
                self.timeout = _clamp(self.timeout)
                return super().getresponse(*args, **kwargs)

        Bounded.__name__ = Bounded.__qualname__ = f"Bounded{base.__name__}"
        return Bounded

    class BoundedHTTPConnectionPool(HTTPConnectionPool):
        ConnectionCls = bounded(HTTPConnection)

    class BoundedHTTPSConnectionPool(HTTPSConnectionPool):
        ConnectionCls = bounded(HTTPSConnection)

    return {"http": BoundedHTTPConnectionPool, "https": BoundedHTTPSConnectionPool}


def bound_pool_manager(manager: Any) -> Any:
    """Make a urllib3 PoolManager (or ProxyManager) open only deadline-bound connections."""
    import urllib3.poolmanager

    if manager.pool_classes_by_scheme is urllib3.poolmanager.pool_classes_by_scheme:
        manager.pool_classes_by_scheme = pool_classes()
    # A SOCKS proxy manager brings pool classes of its own: they are left as they are,
    # and the scope still bounds them through retries and socket timeouts.
    return manager


def mount_bounded(session: Any) -> None:
    """Make a requests Session send http and https only over deadline-bound connections."""
    session.mount("https://", _adapter_class()())
    session.mount("http://", _adapter_class()())


@functools.cache
def _adapter_class() -> type[Any]:
    from requests.adapters import HTTPAdapter

    class BoundedAdapter(HTTPAdapter):
        """requests' adapter, its pool managers opening deadline-bound connections."""

        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            bound_pool_manager(self.poolmanager)

        def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
            return bound_pool_manager(super().proxy_manager_for(proxy, **kwargs))

    return BoundedAdapter
