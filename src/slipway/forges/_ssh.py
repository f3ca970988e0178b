"""SSH access to a forge's repositories, as Flux uses it: deploy key pairs, SSH clone URLs in
the one form Flux takes, and the forge host's known_hosts line(s).

Flux's source-controller clones with a private key and checks the host against a known_hosts
entry, so Slipway makes both: an ed25519 key pair (cryptography) and a scan of the host's keys
(asyncssh), kept for a few minutes per host and port so a process scans each forge host once
however many projects it creates. asyncssh is imported on first scan, not with the package.
"""

from __future__ import annotations

import asyncio
import base64
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr

from slipway.domain.errors import ForgeError
from slipway.domain.text import t

if TYPE_CHECKING:
    import asyncssh

DEFAULT_PORT: Final = 22
KNOWN_HOSTS_TTL: Final = 300.0  # seconds a scanned host's keys are reused
# One scan per host key type, as ssh-keyscan does, so every key a client may meet is known.
_HOST_KEY_ALGORITHMS: Final = ("ssh-ed25519", "ecdsa-sha2-nistp256", "rsa-sha2-512")
_scanned: dict[tuple[str, int], tuple[float, str]] = {}


@dataclass(frozen=True)
class SSHKeyPair:
    """A deploy key: the private half (OpenSSH PEM, never shown) and the public line."""

    private_key: SecretStr
    public_key: str


def generate_deploy_key(comment: str) -> SSHKeyPair:
    """A new ed25519 key pair; `comment` ends the public line (e.g. `slipway:shop`)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode("ascii")
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    line = public.decode("ascii")
    suffix = " ".join(comment.split())  # one line, whatever the caller gave
    return SSHKeyPair(SecretStr(private), f"{line} {suffix}" if suffix else line)


def key_material(public_key: str) -> str:
    """`type base64` of a public key line, without its comment: how forges compare keys."""
    return " ".join(public_key.split()[:2])


def ssh_clone_url(url: str | None) -> str:
    """The clone URL as Flux takes it, `ssh://user@host[:port]/path`: an scp-like
    `git@host:owner/name.git` (as GitHub writes it) is converted; "" stays ""."""
    url = (url or "").strip()
    if not url or "://" in url:
        return url
    login, colon, path = url.partition(":")
    if not colon or "/" in login:
        return url  # a local path, not scp-like: left for the caller to refuse
    return f"ssh://{login}/{path.lstrip('/')}"


def ssh_host(ssh_url: str) -> tuple[str, int]:
    """The host and port an SSH clone URL reaches."""
    parts = urlsplit(ssh_clone_url(ssh_url))
    if parts.scheme != "ssh" or not parts.hostname:
        raise ValueError(f"not an SSH clone URL: {ssh_url!r}")
    return parts.hostname, parts.port or DEFAULT_PORT


def known_hosts_name(host: str, port: int) -> str:
    """How known_hosts names a host: bare on port 22, `[host]:port` otherwise."""
    return host if port == DEFAULT_PORT else f"[{host}]:{port}"


async def scan_known_hosts(
    ssh_url: str,
    *,
    timeout: float,  # noqa: ASYNC109 - each key type's scan is bounded apart
    step: str | None = None,
    system: str | None = None,
) -> str:
    """The known_hosts lines (`name keytype base64`, one per key type the host offers) for
    the host of `ssh_url`, scanned afresh unless this process scanned it in the last few
    minutes. Raises `ForgeError` (with `step` and `system`, the forge's label, when given)
    naming the host when it offers none in `timeout` seconds."""
    try:
        host, port = ssh_host(ssh_url)
    except ValueError:
        raise ForgeError(
            t(
                "could not read the SSH host key: {ssh_url!r} is not an SSH clone URL",
                ssh_url=ssh_url,
            ),
            step=step,
            system=system,
            hint=t("check the forge's SSH clone URL, or use `--git-auth token`"),
        ) from None
    cached = _scanned.get((host, port))
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    keys = await asyncio.gather(
        *(_host_key(host, port, algorithm, timeout) for algorithm in _HOST_KEY_ALGORITHMS)
    )
    name = known_hosts_name(host, port)
    lines = list(dict.fromkeys(f"{name} {key}" for key in keys if key))
    if not lines:
        raise ForgeError(
            t("could not read the SSH host key of {host}:{port}", host=host, port=port),
            step=step,
            system=system,
            hint=t(
                "check that {host} accepts SSH on port {port} from here, or "
                "use `--git-auth token` to clone over HTTPS",
                host=host,
                port=port,
            ),
            transient=True,  # no answer at all: most often an outage that passes
        )
    text = "\n".join(lines) + "\n"
    _scanned[(host, port)] = (time.monotonic() + KNOWN_HOSTS_TTL, text)
    return text


def forget_known_hosts() -> None:
    """Drop every scanned host key, so the next scan reads the hosts again."""
    _scanned.clear()


async def _host_key(host: str, port: int, algorithm: str, seconds: float) -> str | None:
    """`keytype base64` of the host's key of `algorithm`, or None when it has none (or does
    not answer in time)."""
    import asyncssh

    try:
        async with asyncio.timeout(seconds):
            key: asyncssh.SSHKey | None = await asyncssh.get_server_host_key(
                host, port, server_host_key_algs=[algorithm], config=None
            )
    except (OSError, TimeoutError, asyncssh.Error):
        return None
    if key is None:
        return None
    return f"{key.algorithm.decode('ascii')} {base64.b64encode(key.public_data).decode('ascii')}"
