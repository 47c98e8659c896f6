from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from datastreams.errors import SettingsError
from datastreams.security.secrets import SecretBox, generate_key, load_secret_box


def test_box_round_trip() -> None:
    box = SecretBox(Fernet.generate_key())
    value = {"headers": {"X-Token": "tok"}, "signingSecret": "s" * 30}
    assert box.decrypt_json(box.encrypt_json(value)) == value


def test_box_token_hides_plaintext() -> None:
    box = SecretBox(Fernet.generate_key())
    token = box.encrypt_json({"signingSecret": "very-secret-value"})
    assert b"very-secret-value" not in token


def test_box_invalid_key_rejected() -> None:
    with pytest.raises(ValueError):
        SecretBox(b"not-a-key")


def test_box_empty_key_rejected() -> None:
    with pytest.raises(ValueError):
        SecretBox(b" , ")


def test_box_repr_hides_key() -> None:
    key = Fernet.generate_key()
    assert key.decode() not in repr(SecretBox(key))


def test_box_wrong_key_raises_settings_error() -> None:
    token = SecretBox(Fernet.generate_key()).encrypt_json({"a": 1})
    with pytest.raises(SettingsError, match="DATASTREAMS_ENCRYPTION_KEY"):
        SecretBox(Fernet.generate_key()).decrypt_json(token)


def test_box_rotation_decrypts_old_tokens() -> None:
    old_key = Fernet.generate_key()
    new_key = Fernet.generate_key()
    old_token = SecretBox(old_key).encrypt_json({"a": 1})

    rotated = SecretBox(new_key + b"," + old_key)
    assert rotated.decrypt_json(old_token) == {"a": 1}


def test_box_rotation_encrypts_with_first_key() -> None:
    old_key = Fernet.generate_key()
    new_key = Fernet.generate_key()
    token = SecretBox(new_key + b"," + old_key).encrypt_json({"a": 1})
    assert SecretBox(new_key).decrypt_json(token) == {"a": 1}


def test_load_from_setting() -> None:
    key = generate_key()
    box = load_secret_box(key, None)
    token = box.encrypt_json([1, 2])
    assert SecretBox(key.encode()).decrypt_json(token) == [1, 2]


def test_load_invalid_setting_names_variable() -> None:
    with pytest.raises(SettingsError, match="DATASTREAMS_ENCRYPTION_KEY") as caught:
        load_secret_box("short-secret-text", None)
    assert "short-secret-text" not in caught.value.message


def test_load_setting_wins_over_key_file(tmp_path: Path) -> None:
    db_path = str(tmp_path / "datastreams.db")
    load_secret_box(generate_key(), db_path)
    assert not os.path.exists(db_path + ".key")


def test_load_without_key_or_db_rejected() -> None:
    with pytest.raises(SettingsError, match="DATASTREAMS_ENCRYPTION_KEY"):
        load_secret_box(None, None)


@pytest.mark.parametrize("db_path", [":memory:", "postgresql://localhost/datastreams"])
def test_load_non_file_db_needs_key(db_path: str) -> None:
    with pytest.raises(SettingsError, match="DATASTREAMS_ENCRYPTION_KEY"):
        load_secret_box(None, db_path)


def test_load_creates_private_key_file(tmp_path: Path) -> None:
    db_path = str(tmp_path / "datastreams.db")
    load_secret_box(None, db_path)

    mode = stat.S_IMODE(os.stat(db_path + ".key").st_mode)
    assert mode == 0o600


def test_load_created_key_file_is_used(tmp_path: Path) -> None:
    db_path = str(tmp_path / "datastreams.db")
    token = load_secret_box(None, db_path).encrypt_json({"a": 1})

    key = Path(db_path + ".key").read_bytes().strip()
    assert SecretBox(key).decrypt_json(token) == {"a": 1}


def test_load_reuses_key_file(tmp_path: Path) -> None:
    db_path = str(tmp_path / "datastreams.db")
    token = load_secret_box(None, db_path).encrypt_json({"a": 1})
    assert load_secret_box(None, db_path).decrypt_json(token) == {"a": 1}


def test_load_leaves_no_temporary_files(tmp_path: Path) -> None:
    load_secret_box(None, str(tmp_path / "datastreams.db"))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["datastreams.db.key"]


def test_load_group_readable_key_file_rejected(tmp_path: Path) -> None:
    db_path = str(tmp_path / "datastreams.db")
    load_secret_box(None, db_path)
    os.chmod(db_path + ".key", 0o640)

    with pytest.raises(SettingsError, match="chmod 600"):
        load_secret_box(None, db_path)


def test_load_other_readable_key_file_rejected(tmp_path: Path) -> None:
    db_path = str(tmp_path / "datastreams.db")
    load_secret_box(None, db_path)
    os.chmod(db_path + ".key", 0o604)

    with pytest.raises(SettingsError, match="group or others"):
        load_secret_box(None, db_path)


def test_load_invalid_key_file_rejected(tmp_path: Path) -> None:
    db_path = str(tmp_path / "datastreams.db")
    descriptor = os.open(db_path + ".key", os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(descriptor, b"garbage\n")
    os.close(descriptor)

    with pytest.raises(SettingsError, match="invalid content"):
        load_secret_box(None, db_path)


def test_load_missing_directory_rejected(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot be created"):
        load_secret_box(None, str(tmp_path / "missing" / "datastreams.db"))


def test_load_concurrent_starts_share_one_key(tmp_path: Path) -> None:
    db_path = str(tmp_path / "datastreams.db")
    tokens: list[bytes] = []
    barrier = threading.Barrier(4)

    def start() -> None:
        barrier.wait(timeout=5)
        tokens.append(load_secret_box(None, db_path).encrypt_json({"a": 1}))

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    box = load_secret_box(None, db_path)
    assert len(tokens) == 4
    assert all(box.decrypt_json(token) == {"a": 1} for token in tokens)
