"""Encryption of stored secrets (header values, signing secrets) with Fernet.

The key comes from ``DATASTREAMS_ENCRYPTION_KEY``, or from a key file created beside
the SQLite database (``<database path>.key``, mode 0600). The setting may list several
keys separated by commas: the first encrypts, and every key is tried when decrypting,
so a key can be rotated by putting the new one first.
"""

from __future__ import annotations

import binascii
import logging
import os
import secrets
import stat
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from datastreams.errors import SettingsError

logger = logging.getLogger(__name__)

ENCRYPTION_KEY_VARIABLE = "DATASTREAMS_ENCRYPTION_KEY"
KEY_FILE_SUFFIX = ".key"


class SecretBox:
    """Encrypts JSON values into Fernet tokens and decrypts them again.

    ``key`` is a Fernet key (32 url-safe base64-encoded bytes), or several separated
    by commas; the first one encrypts. Raises ``ValueError`` for an invalid key.
    """

    __slots__ = ("_fernet",)

    def __init__(self, key: bytes) -> None:
        keys = [piece.strip() for piece in key.split(b",") if piece.strip()]
        if not keys:
            raise ValueError("no Fernet key given")

        try:
            self._fernet = MultiFernet([Fernet(piece) for piece in keys])
        except (ValueError, binascii.Error) as exc:
            # Fernet's own message may quote the key, so it is not passed on.
            raise ValueError("must be 32 url-safe base64-encoded bytes") from exc

    def __repr__(self) -> str:
        return "SecretBox(key='**********')"

    def encrypt_json(self, value: Any) -> bytes:
        """Return a Fernet token of ``value`` encoded as JSON."""
        return self._fernet.encrypt(orjson.dumps(value))

    def decrypt_json(self, token: bytes) -> Any:
        """Return the JSON value inside ``token``.

        Raises ``SettingsError`` when no configured key decrypts it, which happens
        when the encryption key was changed without keeping the old one.
        """
        try:
            plaintext = self._fernet.decrypt(token)
        except InvalidToken as exc:
            raise SettingsError(
                f"{ENCRYPTION_KEY_VARIABLE}: a stored secret cannot be decrypted with the "
                "configured keys; if the key was changed, list the new key first and the old "
                "one after a comma"
            ) from exc
        return orjson.loads(plaintext)


def generate_key() -> str:
    """Return a new random Fernet key."""
    return Fernet.generate_key().decode("ascii")


def load_secret_box(encryption_key: str | None, db_path: str | None) -> SecretBox:
    """Build the ``SecretBox`` of the service from its settings.

    A key in ``encryption_key`` wins. Without one, the key file ``<db_path>.key`` is
    read, or created with mode 0600 when missing. Raises ``SettingsError`` for an
    invalid key, a key file that group or others may access, or when neither a key
    nor an SQLite database path is given.
    """
    if encryption_key:
        try:
            return SecretBox(encryption_key.encode("utf-8"))
        except ValueError as exc:
            raise SettingsError(
                f"{ENCRYPTION_KEY_VARIABLE}: invalid value (hidden): {exc}; expected a Fernet "
                "key or a comma-separated list of them"
            ) from exc

    if not db_path or db_path == ":memory:" or "://" in db_path:
        raise SettingsError(
            f"{ENCRYPTION_KEY_VARIABLE} is required when the database is not an SQLite file "
            f"(database: {db_path!r})"
        )

    key_path = db_path + KEY_FILE_SUFFIX
    key = _read_key_file(key_path)
    if key is None:
        key = _create_key_file(key_path)

    try:
        return SecretBox(key)
    except ValueError as exc:
        raise SettingsError(f"key file {key_path}: invalid content: {exc}") from exc


def _read_key_file(key_path: str) -> bytes | None:
    # O_NOFOLLOW so a symbolic link planted at the key path is not followed to
    # another file.
    try:
        descriptor = os.open(key_path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SettingsError(f"key file {key_path}: cannot be opened: {exc.strerror}") from exc

    with os.fdopen(descriptor, "rb") as key_file:
        mode = os.fstat(key_file.fileno()).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SettingsError(
                f"key file {key_path}: group or others may access it (mode "
                f"{stat.S_IMODE(mode):o}); run chmod 600 on it"
            )
        return key_file.read().strip()


def _create_key_file(key_path: str) -> bytes:
    # The key is written to a private temporary file, then linked to the final name:
    # the link fails if the name already exists, so two processes starting together
    # cannot overwrite each other's key, and no reader sees a half-written file.
    key = Fernet.generate_key()
    temporary_path = f"{key_path}.{secrets.token_hex(8)}.tmp"

    try:
        descriptor = os.open(temporary_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as key_file:
            key_file.write(key + b"\n")
            key_file.flush()
            os.fsync(key_file.fileno())

        try:
            os.link(temporary_path, key_path)
        except FileExistsError as exc:
            existing = _read_key_file(key_path)
            if existing is None:
                raise SettingsError(
                    f"key file {key_path}: disappeared while it was created"
                ) from exc
            return existing
    except OSError as exc:
        raise SettingsError(f"key file {key_path}: cannot be created: {exc.strerror}") from exc
    finally:
        _remove_quietly(temporary_path)

    logger.info(
        "Created the encryption key file %s; back it up with the database",
        key_path,
        extra={"action": "encryption_key_created", "path": key_path},
    )
    return key


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
