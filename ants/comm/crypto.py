"""Sealing gossip frames with the cluster key, and the keyring that contains it.

With a keyring, each side of a connection sends a random 16-byte challenge
before anything else: the connecting side at once, the accepting side when
it accepts. Each later frame is sealed with ChaCha20-Poly1305 under a fresh
random nonce, and its associated data binds the protocol version, the
message type, the key id, both challenges, the direction and a
per-connection sequence number. A receiver checks every frame against the
challenge it chose for this connection, so a frame recorded on another
connection fails authentication on either side, and one replayed or
reordered on the same connection fails the sequence check. No clock is
involved.

Challenge frame body: b"C" | challenge (16)

Sealed body layout (after the 4-byte length prefix):

    b"S" | version (1) | type (1) | key id (4) | nonce (12) | ciphertext
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import secrets
import threading
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from ants.errors import ConfigError, ProtocolError

logger = logging.getLogger(__name__)

KEY_BYTES = 32
NONCE_BYTES = 12
CHALLENGE_BYTES = 16
CHALLENGE_FRAME_BYTES = 1 + CHALLENGE_BYTES
"""Body length of a challenge frame, the mark and the challenge, in bytes."""
SEALED_MARK = b"S"
CHALLENGE_MARK = b"C"
HEADER_BYTES = 1 + 1 + 1 + 4 + NONCE_BYTES
SECRET_ENV = "ANTS_SECRET"


class AuthenticationFailed(ProtocolError):
    """A sealed frame that no accepted key opens, or one out of sequence."""


def generate_key() -> str:
    """Return a new random cluster key, base64-encoded."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def key_id(key: bytes) -> bytes:
    return hashlib.blake2b(key, digest_size=4, person=b"ants-key").digest()


def decode_key(text: str, source: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{source}: the key is not valid base64; "
                          "create a key with 'ants keygen'") from None
    if len(key) != KEY_BYTES:
        raise ConfigError(f"{source}: key is {len(key)} bytes, expected {KEY_BYTES}; "
                          "create a key with 'ants keygen'")
    return key


class Keyring:
    """The primary key that seals outgoing frames and the other keys still accepted.

    Rotating a running cluster: add the new key as a second line of every
    node's secret file (accepted), then move it to the first line (primary)
    everywhere, then delete the old line. Nodes re-read the file when it
    changes, and at every step each node still opens what the others seal.
    """

    def __init__(self, keys: list[bytes], path: Path | None = None) -> None:
        if not keys:
            raise ConfigError("a keyring needs at least one key")
        self._lock = threading.Lock()
        self.path = path
        self._mtime: float | None = None
        self._set(keys)

    def _set(self, keys: list[bytes]) -> None:
        with self._lock:
            self.primary = keys[0]
            self.primary_id = key_id(keys[0])
            self._ciphers = {key_id(key): ChaCha20Poly1305(key) for key in keys}

    @property
    def key_count(self) -> int:
        return len(self._ciphers)

    @classmethod
    def from_file(cls, path: str | Path) -> Keyring:
        """Read keys from a file: one base64 key per line, the first is primary."""
        path = Path(path)
        keyring = cls(_read_keys(path), path)
        keyring._mtime = _mtime(path)
        _warn_if_shared(path)
        return keyring

    @classmethod
    def from_env(cls, value: str) -> Keyring:
        keys = [decode_key(part, SECRET_ENV) for part in value.replace(",", " ").split()]
        return cls(keys)

    def refresh(self) -> bool:
        """Re-read the secret file if it changed; return whether the keys changed."""
        if self.path is None:
            return False
        mtime = _mtime(self.path)
        if mtime is None or mtime == self._mtime:
            return False
        self._mtime = mtime
        try:
            keys = _read_keys(self.path)
        except ConfigError as exc:
            logger.error("secret file changed but was not loaded, keeping the old keys: %s", exc)
            return False
        self._set(keys)
        logger.info("reloaded %d cluster key(s) from %s", len(keys), self.path)
        return True

    def seal(self, message_type: int, version: int, plaintext: bytes, context: bytes) -> bytes:
        with self._lock:
            kid = self.primary_id
            cipher = self._ciphers[kid]
        nonce = os.urandom(NONCE_BYTES)
        header = SEALED_MARK + bytes((version, message_type)) + kid + nonce
        return header + cipher.encrypt(nonce, plaintext, header[:7] + context)

    def open(self, body: bytes, context: bytes, peer: str) -> tuple[int, int, bytes]:
        """Return (version, message type, plaintext) or raise AuthenticationFailed."""
        if len(body) < HEADER_BYTES + 16 or body[:1] != SEALED_MARK:
            raise AuthenticationFailed(
                f"frame from {peer} is not sealed; the peer has no cluster key"
            )
        version, message_type = body[1], body[2]
        kid = body[3:7]
        nonce = body[7:HEADER_BYTES]
        with self._lock:
            cipher = self._ciphers.get(kid)
        if cipher is None:
            raise AuthenticationFailed(
                f"frame from {peer} is sealed with key id {kid.hex()}, which this node "
                "does not hold; check the cluster key"
            )
        try:
            plaintext = cipher.decrypt(nonce, body[HEADER_BYTES:], body[:7] + context)
        except InvalidTag:
            raise AuthenticationFailed(
                f"frame from {peer} failed authentication (wrong key, replayed or altered)"
            ) from None
        return version, message_type, plaintext


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime_ns / 1e9
    except OSError:
        return None


def _read_keys(path: Path) -> list[bytes]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read secret file {path}: {exc.strerror}") from exc
    lines = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    keys = [decode_key(line, f"{path}:{number}")
            for number, line in enumerate(lines, 1) if line]
    if not keys:
        raise ConfigError(f"secret file {path} contains no key; create one with 'ants keygen'")
    return keys


class Channel:
    """One connection's sealing state: both challenges and a sequence number each way."""

    def __init__(
        self,
        keyring: Keyring,
        server_challenge: bytes,
        client_challenge: bytes,
        is_server: bool,
    ) -> None:
        self.keyring = keyring
        self.challenges = server_challenge + client_challenge
        self.is_server = is_server
        self.sent = 0
        self.received = 0

    def _context(self, from_server: bool, seq: int) -> bytes:
        return self.challenges + (b"\x01" if from_server else b"\x00") + seq.to_bytes(8, "big")

    def seal(self, message_type: int, version: int, plaintext: bytes) -> bytes:
        context = self._context(self.is_server, self.sent)
        self.sent += 1
        return self.keyring.seal(message_type, version, plaintext, context)

    def open(self, body: bytes, peer: str) -> tuple[int, int, bytes]:
        context = self._context(not self.is_server, self.received)
        result = self.keyring.open(body, context, peer)
        self.received += 1
        return result


def make_challenge() -> bytes:
    return secrets.token_bytes(CHALLENGE_BYTES)


def challenge_frame(challenge: bytes) -> bytes:
    """Return the length-prefixed frame that sends `challenge` to the peer."""
    return (1 + len(challenge)).to_bytes(4, "big") + CHALLENGE_MARK + challenge


def is_challenge(body: bytes | None) -> bool:
    return (
        body is not None and body[:1] == CHALLENGE_MARK and len(body) == CHALLENGE_FRAME_BYTES
    )


def _warn_if_shared(path: Path) -> None:
    """Log a warning when users other than the owner may read the secret file."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & 0o077:
        logger.warning(
            "secret file %s can be read by other users (mode %o); run chmod 600 %s",
            path, mode & 0o777, path,
        )
