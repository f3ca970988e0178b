"""`KubeEmulator`: the emulated cluster, its HTTP server, and a Python API for the rest of the
sandbox (the Flux emulator lists, watches and sets `.status` through it)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from starlette.types import ASGIApp

from slipway.sandbox._server import Lifecycle, ServerThread
from slipway.sandbox.kube import _fixtures, _tls
from slipway.sandbox.kube._deployments import DeploymentController
from slipway.sandbox.kube._kubeconfig import write_kubeconfig
from slipway.sandbox.kube._operations import Operations, now
from slipway.sandbox.kube._rbac import AccessPolicy
from slipway.sandbox.kube._recording import KubeRecorder, RecordingMiddleware
from slipway.sandbox.kube._resources import ResourceType
from slipway.sandbox.kube._routes import create_kube_app
from slipway.sandbox.kube._selectors import label_selector
from slipway.sandbox.kube._store import KubeState, WatchEvent
from slipway.sandbox.kube._tls import TlsMaterial
from slipway.sandbox.kube._validation import WriteOptions

DEFAULT_USER = "sandbox-admin"


class KubeEmulator(Lifecycle):
    """A Kubernetes API server emulator: `start()` serves it on 127.0.0.1 in a thread, over
    HTTPS by default (kubectl sends tokens only over TLS; `tls=False` serves plain HTTP).

    The switches (`set_flux_crds`, `set_flux_controllers`, `policy`, `add_user`,
    `latency_ms`) change a running emulator, so one server can serve many test cases;
    `recording()` logs the HTTP requests of one block."""

    def __init__(
        self,
        *,
        token: str | SecretStr = "sandbox-token",  # noqa: S107 - a sandbox-only default
        user: str = DEFAULT_USER,
        install_flux_crds: bool = True,
        flux_controllers: _fixtures.FluxControllers = "available",
        policy: AccessPolicy | None = None,
        namespace_finalize_delay: float = 0.0,
        tls: bool = True,
        watch_history: int = 10_000,
        watch_window: float = 75.0,
        watch_bookmark_interval: float = 60.0,
        latency_ms: float | None = None,
        rollout_seconds: float = 1.0,
        progress_deadline_scale: float = 0.01,
    ) -> None:
        self._token = SecretStr(token) if isinstance(token, str) else token
        self.state = KubeState(
            tokens={self._token.get_secret_value(): user},
            policy=policy,
            history=watch_history,
            history_window=watch_window,
            bookmark_interval=watch_bookmark_interval,
            namespace_finalize_delay=namespace_finalize_delay,
        )
        self.ops = Operations(self.state)
        self._front = RecordingMiddleware(
            create_kube_app(self.state), self.state, latency_ms=latency_ms or 0.0
        )
        self.app: ASGIApp = self._front
        self.deployments = DeploymentController(
            self.ops,
            self._front.log.add,
            rollout_seconds=rollout_seconds,
            deadline_scale=progress_deadline_scale,
        )
        self._server: ServerThread | None = None
        self.tls: TlsMaterial | None = _tls.generate() if tls else None
        _fixtures.seed(
            self.ops, install_flux_crds=install_flux_crds, flux_controllers=flux_controllers
        )

    def __repr__(self) -> str:
        return f"KubeEmulator(url={self._server.url if self._server else None!r})"

    # --- server ---------------------------------------------------------------------------

    def start(self) -> KubeEmulator:
        tls = (self.tls.cert_pem, self.tls.key_pem) if self.tls is not None else None
        self._server = ServerThread(self.app, tls=tls).start()
        self.deployments.start()
        return self

    def stop(self) -> None:
        self.deployments.stop()
        self.state.close_watches()
        if self._server is not None:
            self._server.stop()
            self._server = None

    @contextlib.contextmanager
    def down(self) -> Iterator[None]:
        """`with kube.down():` the API server is down inside the block (connections refused,
        open watches cut) and restarted after it with every object kept, its watch cache
        fresh as a restarted server's (`KubeState.restart_watch_cache`). The Python API and
        the controllers keep working meanwhile: a change made inside the block is one the
        restarted server serves."""
        server = self.server
        server.take_down()
        try:
            yield
        finally:
            self.state.restart_watch_cache()
            server.bring_up()

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def server(self) -> ServerThread:
        """The running HTTP server (its URL, its open connections)."""
        if self._server is None:
            raise RuntimeError("the Kubernetes emulator is not started")
        return self._server

    @property
    def token(self) -> SecretStr:
        return self._token

    def write_kubeconfig(
        self,
        path: str | os.PathLike[str],
        *,
        token: str | SecretStr | None = None,
        namespace: str = "default",
    ) -> Path:
        """A kubeconfig for this (started) emulator, as the default user or another token."""
        ca_data = self.tls.ca_data if self.tls is not None else None
        return write_kubeconfig(
            path, self.url, token or self._token, namespace=namespace, ca_data=ca_data
        )

    # --- observing ------------------------------------------------------------------------

    @property
    def latency_ms(self) -> float:
        """How long every HTTP answer is held back (a watch: its first byte), in ms."""
        return self._front.latency_ms

    @latency_ms.setter
    def latency_ms(self, value: float) -> None:
        self._front.latency_ms = value

    def recording(self) -> AbstractContextManager[KubeRecorder]:
        """`with kube.recording() as log:` logs the HTTP requests answered inside the block
        only (`log.requests()`), so a test or benchmark sharing the emulator sees its own
        window; filter by `user` to tell Slipway's requests from the Flux emulator's."""
        return self._front.log.recording()

    # --- switches -------------------------------------------------------------------------

    def add_user(self, token: str | SecretStr, user: str) -> None:
        secret = token.get_secret_value() if isinstance(token, SecretStr) else token
        self.state.tokens[secret] = user

    @property
    def policy(self) -> AccessPolicy:
        return self.state.policy

    @policy.setter
    def policy(self, policy: AccessPolicy) -> None:
        self.state.policy = policy

    def set_flux_crds(self, installed: bool) -> None:
        _fixtures.set_flux_crds(self.ops, installed)

    def set_flux_controllers(self, mode: _fixtures.FluxControllers) -> None:
        _fixtures.set_flux_controllers(self.ops, mode)

    # --- objects --------------------------------------------------------------------------

    def resource(self, api_version: str, kind: str) -> ResourceType:
        """The served type for `apiVersion`/`kind`; KeyError when not served (e.g. no CRD)."""
        rt = self.state.type_for_kind(api_version, kind)
        if rt is None:
            raise KeyError(f"{kind} in {api_version} is not served")
        return rt

    def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        return self.state.get(self.resource(api_version, kind), namespace or "", name)

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        items, _ = self.ops.list(self.resource(api_version, kind), namespace, labels=label_selector)
        return items

    def apply(
        self, obj: dict[str, Any], *, manager: str = "sandbox", force: bool = True
    ) -> dict[str, Any]:
        """Server-side apply `obj` (schema-validated; raises KubeApiError like the HTTP API)."""
        rt = self.resource(obj["apiVersion"], obj["kind"])
        meta = obj.get("metadata", {})
        opts = WriteOptions(manager=manager, force=force)
        return self.ops.apply(rt, meta.get("namespace"), meta["name"], obj, opts)

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> None:
        self.ops.delete(self.resource(api_version, kind), namespace, name)

    def set_status(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None,
        status: dict[str, Any],
        *,
        manager: str = "sandbox-controller",
    ) -> dict[str, Any]:
        """Replace `.status` through the status subresource (spec and metadata untouched)."""
        rt = self.resource(api_version, kind)
        current = self.ops.get(rt, namespace, name)
        current["status"] = status
        opts = WriteOptions(manager=manager)
        return self.ops.update(rt, namespace, name, current, opts, "status")

    def set_condition(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None,
        *,
        type: str,
        status: str,
        reason: str,
        message: str = "",
        manager: str = "sandbox-controller",
        **fields: Any,
    ) -> dict[str, Any]:
        """Set one condition (as controllers do: lastTransitionTime moves only when the status
        changes; observedGeneration is the object's generation) plus other status fields."""
        current = self.get(api_version, kind, name, namespace)
        if current is None:
            raise KeyError(f"{kind} {namespace}/{name} does not exist")
        new_status = dict(current.get("status") or {})
        generation = current["metadata"].get("generation", 0)
        conditions = [c for c in new_status.get("conditions", []) if c.get("type") != type]
        previous = next(
            (c for c in new_status.get("conditions", []) if c.get("type") == type), None
        )
        moved = previous is None or previous.get("status") != status
        conditions.append(
            {
                "type": type,
                "status": status,
                "observedGeneration": generation,
                "lastTransitionTime": (
                    now() if moved or previous is None else previous["lastTransitionTime"]
                ),
                "reason": reason,
                "message": message,
            }
        )
        new_status.update(fields)
        new_status["conditions"] = conditions
        new_status["observedGeneration"] = generation
        return self.set_status(api_version, kind, name, namespace, new_status, manager=manager)

    # --- watch ----------------------------------------------------------------------------

    def watch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        since: int | None = None,
        timeout: float | None = None,
        label_selector: str | None = None,
    ) -> Iterator[WatchEvent]:
        """Blocking watch: the current objects as ADDED (or the events after `since`), then
        changes, until `timeout` seconds without an event or the emulator stops."""
        rt = self.resource(api_version, kind)
        matches = _matcher(namespace, label_selector)
        events: queue.Queue[WatchEvent | None] = queue.Queue()
        sub = self.state.subscribe(rt.key, since, events.put)
        try:
            for event in sub.backlog:
                if matches(event):
                    yield event
            while True:
                try:
                    item = events.get(timeout=timeout)
                except queue.Empty:
                    return
                if item is None:
                    return
                if matches(item):
                    yield item
        finally:
            sub.cancel()

    async def awatch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        since: int | None = None,
        label_selector: str | None = None,
    ) -> AsyncIterator[WatchEvent]:
        """The asyncio form of `watch`, ending when the emulator stops or the caller leaves."""
        rt = self.resource(api_version, kind)
        matches = _matcher(namespace, label_selector)
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[WatchEvent | None] = asyncio.Queue()

        def deliver(event: WatchEvent | None) -> None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(events.put_nowait, event)

        sub = self.state.subscribe(rt.key, since, deliver)
        try:
            for event in sub.backlog:
                if matches(event):
                    yield event
            while (item := await events.get()) is not None:
                if matches(item):
                    yield item
        finally:
            sub.cancel()


def _matcher(namespace: str | None, selector: str | None) -> Any:
    labels = label_selector(selector)

    def matches(event: WatchEvent) -> bool:
        return (namespace is None or event.namespace == namespace) and labels(event.object)

    return matches
