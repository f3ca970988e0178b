"""The whole sandbox in one object: forge emulator, Kubernetes API emulator and Flux
emulator on loopback ports, plus the files that point Slipway (and kubectl) at them.

`slipway sandbox --dir DIR` runs it in the foreground; `slipway demo` and the tests run it
in-process. Tokens are random per run and written only to DIR (mode 0600).
"""

from __future__ import annotations

import os
import secrets
import shlex
import ssl
from pathlib import Path

from slipway.sandbox._server import Lifecycle
from slipway.sandbox.flux import FluxEmulator
from slipway.sandbox.forge import ForgeEmulator
from slipway.sandbox.kube import KubeEmulator

SANDBOX_USER = "sandbox"
SANDBOX_ORG = "sandbox-org"
# One token for all three forge flavours the emulator serves: GitHub, GitLab and Gitea scopes.
SANDBOX_SCOPES = (
    "repo",
    "workflow",
    "delete_repo",
    "read:org",  # GitHub
    "api",
    "read_user",
    "write_repository",  # GitLab
    "write:repository",
    "write:user",
    "write:organization",  # Gitea
)
FLUX_USER = "system:serviceaccount:flux-system:kustomize-controller"


class Sandbox(Lifecycle):
    """Forge + cluster + Flux, started together, stopped together. `forge_latency_ms` and
    `kube_latency_ms` hold every answer of that emulator back (None: the forge reads
    SLIPWAY_SANDBOX_LATENCY_MS, the cluster answers at once); both stay adjustable on the
    running emulators (`forge.state.latency_ms`, `kube.latency_ms`)."""

    def __init__(
        self,
        directory: Path,
        *,
        forge_latency_ms: float | None = None,
        kube_latency_ms: float | None = None,
        flux: bool = True,
    ) -> None:
        self.directory = directory
        self.forge_token = f"sandbox_{secrets.token_hex(16)}"
        self.kube_token = f"sandbox-kube-{secrets.token_hex(16)}"
        self._flux_token = f"sandbox-flux-{secrets.token_hex(16)}"
        self._forge_latency_ms = forge_latency_ms
        self._kube_latency_ms = kube_latency_ms
        self._with_flux = flux
        self.forge: ForgeEmulator | None = None
        self.kube: KubeEmulator | None = None
        self.flux: FluxEmulator | None = None

    @property
    def kubeconfig(self) -> Path:
        return self.directory / "kubeconfig"

    @property
    def env_file(self) -> Path:
        return self.directory / "sandbox.env"

    def start(self) -> Sandbox:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.forge = ForgeEmulator(
            self.directory / "forge", latency_ms=self._forge_latency_ms
        ).start()
        self.forge.add_user(SANDBOX_USER, self.forge_token, scopes=SANDBOX_SCOPES)
        self.forge.add_org(SANDBOX_ORG, members=(SANDBOX_USER,))
        self.kube = KubeEmulator(token=self.kube_token, latency_ms=self._kube_latency_ms).start()
        self.kube.write_kubeconfig(self.kubeconfig)
        self.kubeconfig.chmod(0o600)
        if self._with_flux:
            self.kube.add_user(self._flux_token, FLUX_USER)
            verify: ssl.SSLContext | bool = True
            if self.kube.tls is not None:
                verify = ssl.create_default_context(cadata=self.kube.tls.ca_pem.decode())
            self.flux = FluxEmulator(
                self.kube.url,
                self._flux_token,
                verify=verify,
                workdir=self.directory / "flux",
            ).start()
        self._write_env()
        return self

    def environment(self) -> dict[str, str]:
        """The variables that point Slipway at this sandbox."""
        assert self.forge is not None
        oauth: dict[str, str] = {}
        for flavour in ("github", "gitlab", "gitea"):
            app = self.forge.oauth_app(flavour)
            oauth[f"SLIPWAY_{flavour.upper()}_OAUTH_CLIENT_ID"] = app.client_id
            oauth[f"SLIPWAY_{flavour.upper()}_OAUTH_CLIENT_SECRET"] = app.client_secret
        return {
            "SLIPWAY_FORGE": "github",
            "SLIPWAY_GITHUB_URL": self.forge.url,
            "SLIPWAY_GITLAB_URL": self.forge.url,
            "SLIPWAY_GITEA_URL": self.forge.url,
            "SLIPWAY_FORGE_TOKEN": self.forge_token,
            # The forge emulator's OAuth application of each flavour (`slipway serve`'s
            # "connect with OAuth" signs in on the emulator's own page).
            **oauth,
            "KUBECONFIG": str(self.kubeconfig.resolve()),
        }

    def _write_env(self) -> None:
        lines = [f"export {k}={shlex.quote(v)}" for k, v in self.environment().items()]
        fd = os.open(self.env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write("# Written by `slipway sandbox`: source it to point Slipway here.\n")
            handle.write("\n".join(lines) + "\n")

    def stop(self) -> None:
        for part in (self.flux, self.kube, self.forge):
            if part is not None:
                part.stop()
        self.flux = self.kube = self.forge = None
