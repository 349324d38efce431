from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oore import crypto
from oore.errors import CryptoError

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
WHERE = crypto.aad("secret_values", "01HZX", "value")
HEADER_BYTES = 1 + crypto.NONCE_BYTES


# --- keys -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        KEY.hex(),
        KEY.hex().upper(),
        f"  {KEY.hex()}\n",
        base64.b64encode(KEY).decode(),
        base64.b64encode(KEY).decode().rstrip("="),
        f"\t{base64.b64encode(KEY).decode()}  ",
    ],
)
def test_parse_key_accepts_hex_and_base64(text: str) -> None:
    assert crypto.parse_key(text) == KEY


def test_parse_key_accepts_urlsafe_base64() -> None:
    # 0xfb 0xff encode to "+/" in standard base64, so the URL-safe form really differs.
    key = b"\xfb\xff" * 16
    urlsafe = base64.urlsafe_b64encode(key).decode()
    assert "-" in urlsafe
    assert "_" in urlsafe
    assert crypto.parse_key(urlsafe) == key


@pytest.mark.parametrize(
    "text",
    [
        "",
        KEY.hex()[:-2],  # 31 bytes of hex
        KEY.hex() + "00",  # 33 bytes of hex
        "zz" + KEY.hex()[2:],  # right length, not hex (and not base64 of 32 bytes)
        base64.b64encode(KEY[:31]).decode(),
        base64.b64encode(KEY + b"\x00").decode(),
        "not a key at all!",
        "correct-horse-battery-staple-hunter2",
    ],
)
def test_parse_key_rejects_bad_input_without_echoing_it(text: str) -> None:
    with pytest.raises(
        ValueError, match="expected 64 hex characters or base64 of 32 bytes"
    ) as info:
        crypto.parse_key(text)
    if text:
        assert text not in str(info.value)
        assert text[:8] not in str(info.value)


def test_generate_key_is_64_lowercase_hex_and_parses() -> None:
    key = crypto.generate_key()
    assert len(key) == 64
    assert key == key.lower()
    assert len(crypto.parse_key(key)) == crypto.KEY_BYTES
    assert crypto.generate_key() != key


# --- tokens and hashes ------------------------------------------------------------------------


def test_tokens_are_prefixed_unique_and_long() -> None:
    tokens = {crypto.generate_token() for _ in range(200)}
    assert len(tokens) == 200
    assert all(token.startswith("oore_") for token in tokens)
    assert all(len(token) >= len("oore_") + 43 for token in tokens)
    assert crypto.generate_token("oore_api_").startswith("oore_api_")


def test_hash_token_is_sha256_hex() -> None:
    assert crypto.hash_token("oore_abc") == hashlib.sha256(b"oore_abc").hexdigest()
    assert crypto.hash_token("oore_abc") != crypto.hash_token("oore_abd")


def test_keyed_hash_is_stable_and_key_dependent() -> None:
    first = crypto.keyed_hash(KEY, "gitlab-token")
    assert first == crypto.keyed_hash(KEY, "gitlab-token")
    assert first == hmac.new(KEY, b"gitlab-token", hashlib.sha256).hexdigest()
    assert first != crypto.keyed_hash(OTHER_KEY, "gitlab-token")
    assert first != crypto.keyed_hash(KEY, "gitlab-token2")


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [("abc", "abc", True), ("abc", "abd", False), (b"abc", "abc", True), ("é", "é".encode(), True)],
)
def test_constant_time_equals(a: str | bytes, b: str | bytes, equal: bool) -> None:
    assert crypto.constant_time_equals(a, b) is equal


def test_aad_names_table_row_and_column() -> None:
    assert crypto.aad("secret_values", "01HZX", "value") == b"secret_values:01HZX:value"


def test_aad_refuses_colons_in_table_or_column() -> None:
    # Otherwise ("a:b", "c", "d") and ("a", "b:c", "d") would bind to the same place.
    with pytest.raises(ValueError, match="must not contain"):
        crypto.aad("a:b", "c", "d")
    with pytest.raises(ValueError, match="must not contain"):
        crypto.aad("a", "c", "d:e")


# --- GitHub signatures ------------------------------------------------------------------------

SECRET = b"webhook-secret"
BODY = b'{"zen": "Keep it logically awesome."}'
GOOD = "sha256=" + hmac.new(SECRET, BODY, hashlib.sha256).hexdigest()


def test_github_signature_accepts_the_right_one() -> None:
    assert crypto.verify_github_signature(SECRET, BODY, GOOD)


def test_github_signature_example_from_github_docs() -> None:
    # https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
    header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert crypto.verify_github_signature(b"It's a Secret to Everybody", b"Hello, World!", header)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "sha256=" + "0" * 64,
        GOOD[:-1],
        GOOD + "0",
        GOOD.replace("sha256=", "sha1="),
        GOOD.replace("sha256=", "sha512="),  # same length as the right prefix
        "sha1=" + hmac.new(SECRET, BODY, hashlib.sha1).hexdigest(),
        GOOD.removeprefix("sha256="),
        " " + GOOD,
        "sha256=ü" + GOOD[8:],
    ],
)
def test_github_signature_refuses_wrong_malformed_or_missing(header: str | None) -> None:
    assert not crypto.verify_github_signature(SECRET, BODY, header)


def test_github_signature_accepts_upper_case_hex() -> None:
    assert crypto.verify_github_signature(SECRET, BODY, "sha256=" + GOOD[7:].upper())


def test_github_signature_depends_on_secret_and_body() -> None:
    assert not crypto.verify_github_signature(b"other-secret", BODY, GOOD)
    assert not crypto.verify_github_signature(SECRET, BODY + b" ", GOOD)


# --- sealing ----------------------------------------------------------------------------------


@given(plaintext=st.binary(max_size=2048), associated=st.binary(max_size=64))
def test_seal_open_round_trip(plaintext: bytes, associated: bytes) -> None:
    sealer = crypto.Sealer(KEY)
    blob = sealer.seal(plaintext, associated)
    assert blob[:1] == b"\x01"
    assert len(blob) == HEADER_BYTES + len(plaintext) + crypto.TAG_BYTES
    assert sealer.open(blob, associated) == plaintext


def test_seal_hides_the_plaintext() -> None:
    plaintext = b"super secret signing password"
    assert plaintext not in crypto.Sealer(KEY).seal(plaintext, WHERE)


def test_two_seals_of_the_same_plaintext_differ() -> None:
    sealer = crypto.Sealer(KEY)
    first, second = sealer.seal(b"same", WHERE), sealer.seal(b"same", WHERE)
    assert first != second
    assert first[1:HEADER_BYTES] != second[1:HEADER_BYTES]


def test_every_flipped_bit_is_detected() -> None:
    sealer = crypto.Sealer(KEY)
    blob = sealer.seal(b"hello", WHERE)
    # Every bit of the version byte, nonce, ciphertext and tag.
    for index in range(len(blob)):
        for bit in range(8):
            tampered = bytearray(blob)
            tampered[index] ^= 1 << bit
            with pytest.raises(CryptoError, match="cannot be opened"):
                sealer.open(bytes(tampered), WHERE)


def test_wrong_associated_data_is_refused() -> None:
    sealer = crypto.Sealer(KEY)
    blob = sealer.seal(b"hello", WHERE)
    with pytest.raises(CryptoError, match="moved or altered"):
        sealer.open(blob, crypto.aad("secret_values", "01HZY", "value"))


def test_wrong_key_is_refused() -> None:
    blob = crypto.Sealer(KEY).seal(b"hello", WHERE)
    with pytest.raises(CryptoError, match="wrong encryption key"):
        crypto.Sealer(OTHER_KEY).open(blob, WHERE)


@pytest.mark.parametrize("length", [0, 1, HEADER_BYTES, HEADER_BYTES + crypto.TAG_BYTES - 1])
def test_truncated_blob_is_refused(length: int) -> None:
    sealer = crypto.Sealer(KEY)
    blob = sealer.seal(b"", WHERE)
    with pytest.raises(CryptoError):
        sealer.open(blob[:length], WHERE)


def test_unknown_version_is_refused() -> None:
    sealer = crypto.Sealer(KEY)
    blob = sealer.seal(b"hello", WHERE)
    with pytest.raises(CryptoError):
        sealer.open(b"\x02" + blob[1:], WHERE)


def test_open_error_does_not_reveal_the_plaintext_or_key() -> None:
    blob = crypto.Sealer(KEY).seal(b"hunter2-password", WHERE)
    with pytest.raises(CryptoError) as info:
        crypto.Sealer(OTHER_KEY).open(blob, WHERE)
    assert "hunter2" not in str(info.value)
    assert OTHER_KEY.hex() not in str(info.value)


@pytest.mark.parametrize("length", [0, 16, 31, 33, 64])
def test_sealer_requires_a_32_byte_key(length: int) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        crypto.Sealer(b"k" * length)


def test_sealer_repr_does_not_show_the_key() -> None:
    sealer = crypto.Sealer(KEY)
    assert KEY.hex() not in repr(sealer)
    assert repr(KEY) not in repr(sealer)
