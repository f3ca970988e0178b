"""The emulator's sockets: every accepted connection sends at once (TCP_NODELAY), over TLS and
plain HTTP, so sequential requests are not held ~40 ms each by Nagle's algorithm waiting for
the client's delayed ACK."""

from __future__ import annotations

import ssl

import httpx
import pytest

from slipway.sandbox.kube import KubeEmulator

TOKEN = "connections-token"  # a test-only token


@pytest.mark.parametrize("tls", [True, False], ids=["https", "http"])
def test_accepted_connections_have_tcp_nodelay(tls: bool) -> None:
    with KubeEmulator(token=TOKEN, tls=tls) as kube:
        verify: ssl.SSLContext | bool = False
        if kube.tls is not None:
            verify = ssl.create_default_context(cadata=kube.tls.ca_pem.decode())
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=kube.url, verify=verify, headers=headers) as client:
            assert client.get("/api/v1/namespaces").status_code == 200
            assert kube.server.connections_nodelay() == [True]
