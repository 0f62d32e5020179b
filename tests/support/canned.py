"""A loopback HTTP server that gives every request the same answer, for tests of what a
client does with a server that misbehaves: one that trickles its answer a byte at a time,
answers with something that is not the API, or is where a redirect leads.

It records the headers of every request, so a test can tell what a client sent it.
Only the standard library is used.
"""

from __future__ import annotations

import contextlib
import http.server
import socket
import threading
from types import TracebackType
from typing import Any


class CannedServer:
    """Answers every request with `status`, `body` and `content_type`.

    With `trickle` > 0 the whole answer (status line included) is sent one byte every
    `trickle` seconds, for at most `give_up` seconds, then the connection is closed.
    """

    def __init__(
        self,
        body: bytes = b"{}",
        *,
        status: int = 200,
        content_type: str = "application/json",
        trickle: float = 0.0,
        give_up: float = 30.0,
        host: str = "127.0.0.1",
    ) -> None:
        self.answer = self._encode(status, body, content_type)
        self.trickle = trickle
        self.give_up = give_up
        self.host = host
        self.seen: list[dict[str, str]] = []  # headers of each request, lower-cased names
        self._stop = threading.Event()
        self._httpd: http.server.ThreadingHTTPServer | None = None

    @staticmethod
    def _encode(status: int, body: bytes, content_type: str) -> bytes:
        head = (
            f"HTTP/1.1 {status} Canned\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        return head.encode("latin-1") + body

    @property
    def url(self) -> str:
        """The base URL, e.g. "http://127.0.0.1:PORT"."""
        assert self._httpd is not None
        return f"http://{self.host}:{self._httpd.server_port}"

    def __enter__(self) -> CannedServer:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

            def handle_one_request(self) -> None:
                self.raw_requestline = self.rfile.readline(65537)
                if not self.raw_requestline or not self.parse_request():
                    self.close_connection = True
                    return
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                server.seen.append({k.lower(): v for k, v in self.headers.items()})
                self.close_connection = True
                # An OSError is the client giving up: what this server is for.
                with contextlib.suppress(OSError):
                    server._send(self.connection)

        self._httpd = http.server.ThreadingHTTPServer((self.host, 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def _send(self, connection: socket.socket) -> None:
        if self.trickle <= 0:
            connection.sendall(self.answer)
            return
        waited = 0.0
        for byte in self.answer:
            connection.sendall(bytes([byte]))
            if self._stop.wait(self.trickle):
                return
            waited += self.trickle
            if waited >= self.give_up:
                return

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
