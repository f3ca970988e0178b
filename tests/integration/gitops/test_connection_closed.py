"""An API server that closes a connection without answering (what a kept-alive connection
looks like when the server's idle timeout closes it just as a request goes out): the call is
made again, not reported as the cluster being unreachable."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from slipway.domain.model import ResourceKind
from slipway.gitops import KINDS, ClusterClient
from slipway.sandbox.kube import KubeEmulator, write_kubeconfig

from ._support import FAST_RETRY, make_spec


class HangUp:
    """A TCP proxy to `upstream` that reads the first `drops` requests and closes their
    connections without a word; later connections are passed through."""

    def __init__(self, upstream: tuple[str, int], drops: int) -> None:
        self.upstream, self.drops, self.dropped = upstream, drops, 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> HangUp:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            if self.dropped < self.drops:
                self.dropped += 1
                _read_head(client)
                client.close()
                continue
            server = socket.create_connection(self.upstream)
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=_pipe, args=(source, sink), daemon=True).start()


def _read_head(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data and (chunk := conn.recv(65536)):
        data += chunk


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            end.close()


@pytest.fixture
def plain_kube() -> Iterator[KubeEmulator]:
    with KubeEmulator(tls=False) as kube:
        yield kube


async def test_a_request_the_server_hung_up_on_is_made_again(
    plain_kube: KubeEmulator, tmp_path: Path
) -> None:
    server = plain_kube.server
    with HangUp((server.host, server.port), drops=2) as proxy:
        config = write_kubeconfig(tmp_path / "kubeconfig", proxy.url, plain_kube.token)
        async with ClusterClient.from_kubeconfig(config, retry_policy=FAST_RETRY) as client:
            spec = make_spec("oscar")
            applied = await client.apply_environment(spec)
            status = await client.read_status(ResourceKind.NAMESPACE, spec.names.namespace, None)
    assert proxy.dropped == 2
    assert len(applied) == len(KINDS)
    assert status.exists
