"""Serve an ASGI app with uvicorn on a loopback port in a background thread.

The sandbox's emulators all run this way, in `slipway sandbox`, `slipway demo` and the tests.
"""

from __future__ import annotations

import asyncio
import socket
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import Any, Self


class Lifecycle:
    """`with thing:` starts it and stops it, for everything in the sandbox that runs."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket whose accepted connections send every write at once (TCP_NODELAY).

    Without it, a response written in two parts (uvicorn writes headers and body apart) waits
    for the client's delayed ACK, about 40 ms a request: Nagle's algorithm. asyncio sets
    TCP_NODELAY on an accepted connection only when its socket says `proto == IPPROTO_TCP`,
    which a `socket.socket(AF_INET, SOCK_STREAM)` (proto 0) does not, so the protocol is named
    here, and the option is also set on the listener, whose accepted sockets inherit it on Linux.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    return sock


class ServerThread(Lifecycle):
    """A uvicorn server on 127.0.0.1 (port 0 picks a free one); `url` is known at once.

    With `tls=(cert_pem, key_pem)` it serves HTTPS (kubectl sends tokens only over TLS); the
    key is written to a private temporary file for uvicorn and removed on stop.

    `down()` (or `take_down()` and `bring_up()`) stops serving and serves again on the same
    port, the app and its state untouched: what clients see of a server restart.
    """

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: tuple[bytes, bytes] | None = None,
    ) -> None:
        import uvicorn

        self._sock = listening_socket(host, port)
        self.host, self.port = self._sock.getsockname()[:2]
        self._tls_dir: tempfile.TemporaryDirectory[str] | None = None
        options: dict[str, Any] = {}
        if tls is not None:
            self._tls_dir = tempfile.TemporaryDirectory(prefix="slipway-tls-")
            cert, key = Path(self._tls_dir.name) / "tls.crt", Path(self._tls_dir.name) / "tls.key"
            cert.write_bytes(tls[0])
            key.touch(mode=0o600)
            key.write_bytes(tls[1])
            options = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
        self._config = uvicorn.Config(
            app, log_level="warning", lifespan="on", access_log=False, **options
        )
        self._server = uvicorn.Server(self._config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = self._new_thread()

    def _new_thread(self) -> threading.Thread:
        return threading.Thread(target=self._run, name=f"sandbox:{self.port}", daemon=True)

    @property
    def url(self) -> str:
        scheme = "https" if self._tls_dir is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def connections_nodelay(self) -> list[bool]:
        """Whether each open client connection has TCP_NODELAY: what the test against the
        ~40 ms delayed-ACK stall reads, since no timing can prove it reliably."""
        states = []
        for connection in list(self._server.server_state.connections):
            transport = getattr(connection, "transport", None)
            sock = transport.get_extra_info("socket") if transport is not None else None
            if sock is not None:
                states.append(bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)))
        return states

    def drop_connections(self) -> None:
        """Abort every open client connection, as a network failure would (a test's way to
        cut a watch mid-stream); the server keeps accepting new ones."""
        self._abort_connections(wait=5.0)

    def _abort_connections(self, *, wait: float) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return

        done = threading.Event()

        def abort() -> None:
            for connection in list(self._server.server_state.connections):
                transport = getattr(connection, "transport", None)
                if transport is not None:
                    transport.abort()
            done.set()

        with suppress(RuntimeError):  # the loop closed meanwhile: nothing left to cut
            loop.call_soon_threadsafe(abort)
            done.wait(wait)

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._server.serve(sockets=[self._sock])

    def start(self, timeout: float = 10.0) -> Self:
        self._thread.start()
        waited = 0.0
        while not self._server.started:
            if not self._thread.is_alive() or waited > timeout:
                raise RuntimeError(f"sandbox server on {self.url} did not start")
            threading.Event().wait(0.01)
            waited += 0.01
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)
        self._sock.close()
        if self._tls_dir is not None:
            self._tls_dir.cleanup()

    # -- restarts ---------------------------------------------------------------------------

    @property
    def serving(self) -> bool:
        return self._thread.is_alive() and self._server.started

    def take_down(self, timeout: float = 10.0) -> None:
        """Stops serving as a crashed or restarting server does: the port refuses connections
        and every open one is cut (a streaming answer, such as a watch, ends mid-stream).
        `bring_up()` serves again."""
        self._server.should_exit = True
        waited = 0.0
        # uvicorn closes its listener, then waits for open connections to finish: cut them
        # (again, in case one arrived before the listener closed) until the thread is done.
        while self._thread.is_alive() and waited < timeout:
            self._abort_connections(wait=0.5)
            self._thread.join(0.05)
            waited += 0.05
        if self._thread.is_alive():
            raise RuntimeError(f"sandbox server on {self.url} did not stop")
        self._sock.close()
        self._loop = None

    def bring_up(self, timeout: float = 10.0) -> Self:
        """Serves again on the same port, after `take_down()`."""
        import uvicorn

        if self._thread.is_alive():
            raise RuntimeError(f"sandbox server on {self.url} is still serving")
        self._sock = listening_socket(self.host, self.port)
        self._server = uvicorn.Server(self._config)
        self._thread = self._new_thread()
        return self.start(timeout)

    @contextmanager
    def down(self) -> Iterator[None]:
        """`with server.down():` the server is down inside the block and back after it."""
        self.take_down()
        try:
            yield
        finally:
            self.bring_up()
