"""Running the app under uvicorn: the listening socket, the clean stop on SIGTERM or Ctrl-C, and a
server in a background thread for tests and for embedding in another program.

On SIGTERM (or the first Ctrl-C) the server stops accepting connections, answers 503 to any new
request, and gives the requests in flight ``grace`` seconds; those still running then are answered
503. Then it exits normally. A second Ctrl-C exits at once.

A client must send each request whole (its head and its body) within ``read_timeout`` seconds of
its first byte (or of the connection, for the first request); one that does not is answered 408 and
disconnected, so slow or half-sent requests cannot hold connections (and file descriptors) for
long. Errors of the event loop itself (``accept`` out of file descriptors) are one warning line
now and then, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import threading
from collections.abc import Iterator
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from archon_cli.errors import UserError
from archon_cli.server.app import create_app
from archon_cli.server.service import ArchitectureService


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (port 0: a free one) and listening; UserError if it cannot be."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto named, not 0: accepted sockets inherit it, and asyncio turns Nagle off only on sockets
    # that say IPPROTO_TCP (with Nagle on, each reply waited ~40 ms for the client's delayed ACK).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    except OverflowError:
        sock.close()
        raise UserError(f"cannot listen on {host}:{port}: the port must be 0-65535") from None
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


_TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class _DeadlineH11(H11Protocol):
    """uvicorn's h11 protocol with a deadline on reading each request (see the module's notes).
    uvicorn's own keep-alive timer is reset by every byte that arrives, so a byte every few seconds
    held a connection for ever."""

    read_timeout = 10.0
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._deadline is None and self.conn.their_state in (h11.IDLE, h11.SEND_BODY):
            self._arm()  # the next request of a kept-alive connection starts
        super().data_received(data)
        if self.conn.their_state not in (h11.IDLE, h11.SEND_BODY):
            self._disarm()  # read whole (or the connection is done with)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.read_timeout, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self.conn.our_state is h11.IDLE:  # nothing answered yet on this request: say why
            with contextlib.suppress(Exception):
                self.transport.write(_TIMED_OUT)
        self.transport.close()


def _deadline_protocol(read_timeout: float) -> type[H11Protocol]:
    return type("DeadlineH11", (_DeadlineH11,), {"read_timeout": read_timeout})


class _Uvicorn(uvicorn.Server):
    """uvicorn's server with archon's stop: a signal starts the service's drain as well."""

    def __init__(self, config: uvicorn.Config, service: ArchitectureService) -> None:
        super().__init__(config)
        self.service = service
        self.loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        self.loop.set_exception_handler(self._loop_error)
        await super().serve(sockets)

    _last_loop_error = -1e9
    _loop_errors = 0

    def _loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """One line at most every 10 s instead of asyncio's traceback per event (out of file
        descriptors, ``accept`` fails again each second while clients keep connecting)."""
        self._loop_errors += 1
        now = loop.time()
        if now - self._last_loop_error < 10.0:
            return
        self._last_loop_error = now
        exc = context.get("exception")
        reason = f"{type(exc).__name__}: {exc}" if exc is not None else str(context.get("message", "?"))
        more = f" ({self._loop_errors} such events so far)" if self._loop_errors > 1 else ""
        self.service.notify(f"warning: {context.get('message', 'server error')}: {reason[:200]}{more}")

    def stop(self) -> None:
        """Drain, then exit (thread-safe)."""
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.service.begin_drain)
        self.should_exit = True

    def handle_exit(self, sig: int, frame: Any) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
            return
        self.stop()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn re-raises the signal once stopped (so a SIGTERM would end the process with it);
        # here a signal is a request for the clean stop, after which the command exits normally.
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        originals = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)


def _server(service: ArchitectureService) -> _Uvicorn:
    config = uvicorn.Config(
        create_app(service),
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="off",
        server_header=False,
        http=_deadline_protocol(service.options.read_timeout),
        # A backstop only: the service answers 503 to what is still running after ``grace``.
        timeout_graceful_shutdown=int(service.options.grace) + 5,
    )
    return _Uvicorn(config, service)


def serve(service: ArchitectureService, sock: socket.socket) -> None:
    """Serve on ``sock`` until SIGTERM or Ctrl-C, then stop cleanly (blocking)."""
    server = _server(service)
    try:
        asyncio.run(server.serve(sockets=[sock]))
    finally:
        service.close()


class BackgroundServer:
    """The server in a thread of this process, with its own event loop::

    with BackgroundServer(service) as server:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="...")
    """

    def __init__(self, service: ArchitectureService, host: str = "127.0.0.1", port: int = 0) -> None:
        self.service = service
        self._sock = listen(host, port)
        self.url = url_of(self._sock)
        self._server = _server(service)
        self._thread: threading.Thread | None = None

    def start(self) -> BackgroundServer:
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve(sockets=[self._sock])), name="archon-serve", daemon=True
        )
        self._thread.start()
        while not self._server.started and self._thread.is_alive():
            threading.Event().wait(0.01)
        return self

    def stop(self, timeout: float = 60.0) -> None:
        """Drain and stop, as SIGTERM does; returns once the server has exited."""
        self._server.stop()
        if self._thread is not None:
            self._thread.join(timeout)
        self.service.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
