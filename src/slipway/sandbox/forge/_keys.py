"""OpenSSH public keys as the forges read them: one `type base64 [comment]` line, checked by
actually loading the key, with the fingerprints GitLab and Gitea report."""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.hazmat.primitives.serialization import load_ssh_public_key

# What GitHub, GitLab and Gitea accept for deploy keys (DSA is refused everywhere now).
ALGORITHMS = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
)


class InvalidKey(ValueError):
    """The text is not an OpenSSH public key of a supported type."""


@dataclass(frozen=True)
class PublicKey:
    """A parsed key: `algorithm` and the wire-format `blob`; the comment is dropped, as the
    forges store `type base64` only."""

    algorithm: str
    blob: bytes

    @property
    def text(self) -> str:
        return f"{self.algorithm} {base64.b64encode(self.blob).decode()}"

    @property
    def fingerprint_sha256(self) -> str:
        """`SHA256:<unpadded base64>`, as `ssh-keygen -l` prints it."""
        digest = base64.b64encode(hashlib.sha256(self.blob).digest()).decode().rstrip("=")
        return f"SHA256:{digest}"

    @property
    def fingerprint_md5(self) -> str:
        """The legacy colon-separated MD5 fingerprint (GitLab's `fingerprint`)."""
        digest = hashlib.md5(self.blob, usedforsecurity=False).hexdigest()
        return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def parse_public_key(text: object) -> PublicKey:
    """The key on an authorized_keys-style line; raises InvalidKey for anything else (a
    private key, garbage, an unsupported type, a blob whose type disagrees with the line)."""
    if not isinstance(text, str):
        raise InvalidKey("key is not a string")
    parts = text.strip().split()
    if len(parts) < 2 or parts[0] not in ALGORITHMS:
        raise InvalidKey("not an OpenSSH public key of a supported type")
    algorithm, encoded = parts[0], parts[1]
    try:
        blob = base64.b64decode(encoded, validate=True)
        load_ssh_public_key(f"{algorithm} {encoded}".encode())
    except (binascii.Error, ValueError) as exc:
        raise InvalidKey("the key data does not parse") from exc
    length = int.from_bytes(blob[:4], "big")
    if blob[4 : 4 + length].decode("latin-1") != algorithm:
        raise InvalidKey("the key data is of another type")
    return PublicKey(algorithm, blob)


def key_from_blob(blob: bytes) -> PublicKey | None:
    """The key a client presented over SSH (its wire-format blob), if of a supported type."""
    length = int.from_bytes(blob[:4], "big")
    algorithm = blob[4 : 4 + length].decode("latin-1")
    return PublicKey(algorithm, blob) if algorithm in ALGORITHMS else None
