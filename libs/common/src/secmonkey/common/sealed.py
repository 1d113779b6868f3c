"""Secrets at rest: credentials kept in the database are sealed (Fernet, AES-128-CBC with
HMAC-SHA256) under keys from settings.

`SECMONKEY_ENCRYPTION_KEYS` holds one or more Fernet keys, comma-separated: the first
seals, every one opens (MultiFernet), so a key is rotated by putting a new one first,
running `secmonkey-api admin rotate-secrets`, then dropping the old one. A sealed value
is stored as `fernet:<token>`; a value without that prefix is plaintext written before
sealing existed: it is read as it is and sealed by the next rotation (the upgrade path).

Production refuses to start without a key (`CommonSettings`). In development and test a
key is *derived* from a fixed string, the same in every process, so the API (which seals)
and the notifier and collector (which open) agree without configuration; it protects
nothing and is never accepted in production.

Each process installs its keyring once at start (`install`, done by `Runtime.open`);
`keyring()` is what writers and readers use.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

PREFIX = "fernet:"
_DEVELOPMENT_SEED = b"secmonkey development key: protects nothing"


class SealError(Exception):
    """A sealed value that none of the configured keys opens."""


def development_key() -> str:
    """The derived key of development and test (never accepted in production)."""
    return base64.urlsafe_b64encode(hashlib.sha256(_DEVELOPMENT_SEED).digest()).decode()


def parse_keys(text: str) -> list[str]:
    """`k1,k2` → the keys, each checked to be a Fernet key (32 url-safe base64 bytes)."""
    keys = [k.strip() for k in text.split(",") if k.strip()]
    for n, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise ValueError(
                f"SECMONKEY_ENCRYPTION_KEYS: key #{n} is not a Fernet key (32 url-safe base64-encoded bytes; "
                "make one with `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`)"
            ) from None
    return keys


class Keyring:
    """Seals with the first key, opens with any."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._keys = list(keys)
        if not self._keys:
            raise ValueError("a keyring needs at least one key")
        self._fernet = MultiFernet([Fernet(k) for k in self._keys])
        self._first = Fernet(self._keys[0])

    def seal(self, value: str) -> str:
        if is_sealed(value):
            return value
        return PREFIX + self._fernet.encrypt(value.encode()).decode()

    def open(self, value: str) -> str:
        if not is_sealed(value):
            return value  # plaintext from before sealing: read as it is, sealed on rotation
        try:
            return self._fernet.decrypt(value.removeprefix(PREFIX).encode()).decode()
        except InvalidToken:
            raise SealError(
                "a sealed secret could not be opened with any configured encryption key"
            ) from None

    def reseal(self, value: str) -> str:
        """`value` sealed under the first key (plaintext sealed, other keys' tokens rotated)."""
        if not is_sealed(value):
            return self.seal(value)
        try:
            token = self._fernet.rotate(value.removeprefix(PREFIX).encode())
        except InvalidToken:
            raise SealError("a sealed secret could not be opened with any configured key") from None
        return PREFIX + token.decode()

    def sealed_by_first(self, value: str) -> bool:
        if not is_sealed(value):
            return False
        try:
            self._first.decrypt(value.removeprefix(PREFIX).encode())
        except InvalidToken:
            return False
        return True


def is_sealed(value: str) -> bool:
    return value.startswith(PREFIX)


_installed: Keyring | None = None


def install(ring: Keyring) -> None:
    global _installed
    _installed = ring


def keyring() -> Keyring:
    """The process's keyring; before `install`, the development key's (tests, tools)."""
    return _installed or Keyring([development_key()])


def keyring_of(keys: str | None, environment: str) -> Keyring:
    """The keyring of settings: the configured keys, or the development key outside production."""
    if keys:
        return Keyring(parse_keys(keys))
    if environment == "production":
        raise ValueError("SECMONKEY_ENCRYPTION_KEYS is required in production")
    return Keyring([development_key()])


# Where credentials live in documents: collection → dotted paths of sealed string fields.
SEALED_FIELDS: dict[str, tuple[str, ...]] = {
    "subscriptions": ("channel.url", "channel.secret"),
    "accounts": ("external_id",),
}


def _walk(doc: dict[str, Any], path: str) -> tuple[dict[str, Any], str] | None:
    *parents, leaf = path.split(".")
    node: Any = doc
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict) and isinstance(node.get(leaf), str):
        return node, leaf
    return None


def seal_doc(collection: str, doc: dict[str, Any], ring: Keyring | None = None) -> dict[str, Any]:
    """A copy of `doc` (or of a `$set` body with dotted keys) with its credentials sealed."""
    ring = ring or keyring()
    out = _copy(doc)
    for path in SEALED_FIELDS[collection]:
        if isinstance(out.get(path), str):  # a `$set` with a dotted key
            out[path] = ring.seal(out[path])
            continue
        found = _walk(out, path)
        if found is not None:
            node, leaf = found
            node[leaf] = ring.seal(node[leaf])
    return out


def open_doc(collection: str, doc: dict[str, Any], ring: Keyring | None = None) -> dict[str, Any]:
    """A copy of a stored `doc` with its credentials opened (plaintext ones as they are)."""
    ring = ring or keyring()
    out = _copy(doc)
    for path in SEALED_FIELDS[collection]:
        found = _walk(out, path)
        if found is not None:
            node, leaf = found
            node[leaf] = ring.open(node[leaf])
    return out


def _copy(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: _copy(v) if isinstance(v, dict) else v for k, v in doc.items()}
