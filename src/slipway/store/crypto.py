"""Forge tokens at rest: Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`).

The key is SLIPWAY_SECRET_KEY when set, else `<data_dir>/secret.key`, generated once with mode
0600. Losing or changing the key makes stored tokens unreadable (reconnect the forge), so the
error for that case says exactly this.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import NoReturn

import structlog
from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr

from slipway.domain.errors import InvalidInput, SlipwayError
from slipway.domain.text import t

KEY_FILE_NAME = "secret.key"
ENV_VAR = "SLIPWAY_SECRET_KEY"
_KEY_RULE = t("must be a Fernet key: 32 random bytes, URL-safe base64 encoded (44 characters)")
_GENERATE_HINT = t(
    'generate one with `python -c "from cryptography.fernet import Fernet; '
    'print(Fernet.generate_key().decode())"`'
)

log = structlog.get_logger(__name__)


class SecretKeyError(SlipwayError):
    """The secret key is unusable, or is not the one the stored tokens were encrypted with."""

    exit_code = 1
    http_status = 500


class TokenCipher:
    """Encrypts and decrypts forge tokens. Holds the key, and never shows it."""

    __slots__ = ("_fernet", "_source")

    def __init__(self, key: SecretStr, *, source: str = ENV_VAR) -> None:
        self._source = source
        try:
            self._fernet = Fernet(key.get_secret_value().strip().encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raise InvalidInput(source, _KEY_RULE, hint=_GENERATE_HINT) from None

    @property
    def source(self) -> str:
        """Where the key came from: SLIPWAY_SECRET_KEY or the key file's path."""
        return self._source

    def encrypt(self, token: SecretStr) -> bytes:
        return self._fernet.encrypt(token.get_secret_value().encode("utf-8"))

    def decrypt(self, ciphertext: bytes) -> SecretStr:
        """Raises SecretKeyError when the key is not the one that encrypted `ciphertext`."""
        try:
            return SecretStr(self._fernet.decrypt(ciphertext).decode("utf-8"))
        except InvalidToken:
            raise SecretKeyError(
                t(
                    "a stored forge token cannot be decrypted: the secret key "
                    "changed since it was saved (or the stored value is damaged)"
                ),
                system="token encryption",
                hint=t(
                    "restore the previous key ({env_var} or <data "
                    "dir>/{key_file_name}), or store the token again with "
                    "`slipway forge connect`",
                    env_var=ENV_VAR,
                    key_file_name=KEY_FILE_NAME,
                ),
            ) from None

    def __repr__(self) -> str:
        return f"TokenCipher(source={self._source!r}, key='**********')"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        # Pickling would write the key somewhere (a workflow's recorded inputs, a cache).
        raise TypeError("a TokenCipher cannot be pickled")


def load_or_create_key(data_dir: Path, configured: SecretStr | None) -> TokenCipher:
    """The cipher for this installation.

    Uses `configured` (SLIPWAY_SECRET_KEY) when given; otherwise reads `data_dir/secret.key`,
    creating it on first use. The file is written mode 0600 from the start and appears
    complete or not at all, so concurrent first starts end up with one and the same key.
    """
    if configured is not None:
        return TokenCipher(configured, source=ENV_VAR)
    path = data_dir / KEY_FILE_NAME
    if not path.exists():
        _create_key_file(path)
    return _read_key_file(path)


def _read_key_file(path: Path) -> TokenCipher:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("secret key file is readable by others", path=str(path), mode=oct(mode))
    key = path.read_text(encoding="ascii", errors="replace").strip()
    try:
        return TokenCipher(SecretStr(key), source=str(path))
    except InvalidInput:
        raise SecretKeyError(
            t("the key file {path} is damaged: it {key_rule}", path=path, key_rule=_KEY_RULE),
            system="token encryption",
            hint=t(
                "restore it from a backup, or set {env_var}; a new key "
                "cannot read tokens stored with the old one",
                env_var=ENV_VAR,
            ),
        ) from None


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Fernet.generate_key()
    # Write a private temporary file, then hard-link it into place: the link fails if another
    # process got there first, and the key file is never visible half-written.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, key + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(temporary, path)
        log.info("generated a secret key for stored tokens", path=str(path))
    except FileExistsError:
        pass
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
