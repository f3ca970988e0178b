"""One TLS context per cluster and client certificate per process. Building one loads the CA
and the client key (0.02–0.1 s of CPU); the API built two per request, on its event loop.
A context is rebuilt after a few minutes, so rotated certificate files are read again."""

from __future__ import annotations

import ssl
import threading
import time
from typing import Final

from lightkube.config.client_adapter import verify_cluster
from lightkube.config.kubeconfig import SingleConfig
from lightkube.config.models import Cluster, User

REBUILD_AFTER_SECONDS: Final = 300.0
_contexts: dict[tuple[object, ...], tuple[float, ssl.SSLContext]] = {}
_lock = threading.Lock()


def cluster_tls(config: SingleConfig, user: User) -> ssl.SSLContext:
    """lightkube's own `verify_cluster` for this cluster and user, remembered."""
    key = _key(config.cluster, user, str(config.fname))
    now = time.monotonic()
    with _lock:
        found = _contexts.get(key)
    if found is not None and now - found[0] < REBUILD_AFTER_SECONDS:
        return found[1]
    context = verify_cluster(config.cluster, user, config.abs_file)
    with _lock:
        _contexts[key] = (now, context)
    return context


def _key(cluster: Cluster, user: User, base: str) -> tuple[object, ...]:
    # Held in memory only, like the kubeconfig it comes from; never logged or shown.
    return (
        cluster.server,
        cluster.certificate_auth,
        cluster.certificate_auth_data,
        cluster.insecure,
        user.client_cert,
        user.client_cert_data,
        user.client_key,
        user.client_key_data,
        base,
    )
