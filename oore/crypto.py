"""Small, hard-to-misuse cryptography for Oore: key and token generation, webhook signature
checks, token hashing, and sealing of secrets at rest with AES-256-GCM. A sealed value is bound to
the place it is stored through associated data (`aad`), so a ciphertext copied into another row or
column does not open. No function here ever puts a key, token or plaintext into an exception.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import string
from typing import TYPE_CHECKING

from oore.errors import CryptoError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
SEAL_VERSION = b"\x01"
GITHUB_SIGNATURE_PREFIX = "sha256="

_BAD_KEY = "expected 64 hex characters or base64 of 32 bytes"
_CANNOT_OPEN = (
    "sealed value cannot be opened: wrong encryption key, or the data was moved or altered"
)
_HEX_DIGITS = frozenset(string.hexdigits)


def parse_key(text: str) -> bytes:
    """Decode a 32-byte key written as hex or (standard or URL-safe) base64."""
    text = text.strip()
    if len(text) == 2 * KEY_BYTES and _HEX_DIGITS.issuperset(text):
        return bytes.fromhex(text)
    key = _decode_base64(text)
    if key is None or len(key) != KEY_BYTES:
        # The value is a secret: the message must not echo it, even in part.
        raise ValueError(_BAD_KEY)
    return key


def _decode_base64(text: str) -> bytes | None:
    # Accept the URL-safe alphabet and missing padding, since both are common when keys are
    # pasted from other tools; `validate=True` still refuses anything outside the alphabet.
    standard = text.replace("-", "+").replace("_", "/")
    padded = standard + "=" * (-len(standard) % 4)
    try:
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None


def generate_key() -> str:
    """A fresh encryption key as 64 lowercase hex characters."""
    return secrets.token_hex(KEY_BYTES)


def generate_token(prefix: str = "oore_") -> str:
    """A fresh API token; the prefix makes leaked tokens easy to recognise (secret scanners)."""
    return prefix + secrets.token_urlsafe(32)


def constant_time_equals(a: str | bytes, b: str | bytes) -> bool:
    """Compare secrets without leaking, through timing, how long a prefix matched."""
    return hmac.compare_digest(_as_bytes(a), _as_bytes(b))


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def hmac_sha256_hex(secret: bytes, body: bytes) -> str:
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify_github_signature(secret: bytes, body: bytes, header: str | None) -> bool:
    """Check an `X-Hub-Signature-256` header ("sha256=<hex>") against the raw request body.

    The legacy SHA-1 header form is refused on purpose: GitHub sends the SHA-256 one on every
    delivery (https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries).
    """
    if header is None or not header.startswith(GITHUB_SIGNATURE_PREFIX):
        return False
    given = header[len(GITHUB_SIGNATURE_PREFIX) :].lower()
    return constant_time_equals(hmac_sha256_hex(secret, body), given)


def hash_token(token: str) -> str:
    """SHA-256 of an API token; plain hashing suffices because tokens carry 256 random bits."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def keyed_hash(key: bytes, value: str) -> str:
    """HMAC-SHA256 of `value`; used where a secret must be checked later but never read back."""
    return hmac_sha256_hex(key, value.encode("utf-8"))


def gitlab_token_key(encryption_key: bytes) -> bytes:
    """The key GitLab webhook tokens are HMAC'd with: derived, so the sealing key has one use."""
    return hmac.new(encryption_key, b"oore gitlab webhook token", hashlib.sha256).digest()


def aad(table: str, row_id: str, column: str) -> bytes:
    """Associated data naming where a sealed value lives, so it cannot be moved elsewhere."""
    # With no ':' in table or column, "table:id:column" splits only one way whatever the id holds.
    if ":" in table or ":" in column:
        raise ValueError("aad: table and column names must not contain ':'")
    return f"{table}:{row_id}:{column}".encode()


class Sealer:
    """AES-256-GCM with a random 96-bit nonce per value; blob = version | nonce | ciphertext+tag.

    The cipher is made on first use: cryptography's native module is about 6.5 MiB of the
    daemon's memory, which an idle daemon (it checks its key by `fingerprint`) does not need.
    """

    __slots__ = ("_cipher", "_key")

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"encryption key must be {KEY_BYTES} bytes")
        self._key = key
        self._cipher: AESGCM | None = None

    def fingerprint(self) -> bytes:
        """Names the key without revealing it (an HMAC of a constant): stored at the first
        start, compared at every later one."""
        return hmac.new(self._key, b"oore encryption key fingerprint", hashlib.sha256).digest()

    def _aead(self) -> AESGCM:
        if self._cipher is None:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            self._cipher = AESGCM(self._key)
        return self._cipher

    def seal(self, plaintext: bytes, associated: bytes) -> bytes:
        # Random nonces are safe here: collisions become likely only after ~2**32 seals per key,
        # far beyond the number of secrets one Oore instance stores.
        nonce = os.urandom(NONCE_BYTES)
        return SEAL_VERSION + nonce + self._aead().encrypt(nonce, plaintext, associated)

    def open(self, blob: bytes, associated: bytes) -> bytes:
        header = len(SEAL_VERSION) + NONCE_BYTES
        if len(blob) < header + TAG_BYTES or blob[:1] != SEAL_VERSION:
            raise CryptoError(_CANNOT_OPEN)
        nonce = blob[len(SEAL_VERSION) : header]
        aead = self._aead()
        from cryptography.exceptions import InvalidTag

        try:
            return aead.decrypt(nonce, blob[header:], associated)
        except InvalidTag as exc:
            raise CryptoError(_CANNOT_OPEN) from exc
