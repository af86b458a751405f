"""Running the app under uvicorn: the listening socket, the clean stop on SIGTERM or Ctrl-C, and a
server in a background thread for tests and for embedding in another program.

On SIGTERM (or the first Ctrl-C) the server stops accepting connections, answers 503 to any new
request, and gives the requests in flight ``grace`` seconds; those still running then are answered
503. Then it exits normally. A second Ctrl-C exits at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import threading
from collections.abc import Iterator
from typing import Any

import uvicorn

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


class _Uvicorn(uvicorn.Server):
    """uvicorn's server with archon's stop: a signal starts the service's drain as well."""

    def __init__(self, config: uvicorn.Config, service: ArchitectureService) -> None:
        super().__init__(config)
        self.service = service
        self.loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        await super().serve(sockets)

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
