"""Signing keys and the JWKS.

Tokens are signed with an asymmetric key (RS256 or ES256) named by a ``kid``. Keys live as
PEM files in the key folder (``JWT_KEY_DIR``, by default ``<data dir>/keys``); the identity
subgraph creates one on first start and is the only signer: it notices a key added to its
folder (``media-gateway keys rotate``) within seconds and signs with it. Verifiers read the
same folder (the embedded mode) or, in the distributed mode, fetch the identity service's
JWKS (``JWT_JWKS_URL``): once at start, again when a token names a key they do not know (a
rotation; at most once per ``JWKS_REFETCH_SECONDS``, one fetch at a time) and in the
background once what they hold is older than ``JWKS_MAX_AGE_SECONDS``. A verifier never
creates a key of its own. Rotating adds a key: older keys stay published in the JWKS so that
tokens signed with them stay valid until they expire.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose import jwk

log = logging.getLogger(__name__)

# a token naming an unknown key fetches the JWKS again, at most this often
JWKS_REFETCH_SECONDS = 5.0
# keys learnt from the JWKS are refreshed in the background once older than this
JWKS_MAX_AGE_SECONDS = 300.0
# how often the signer looks for a key added to its folder
KEY_FOLDER_RECHECK_SECONDS = 5.0


@dataclass(frozen=True)
class SigningKey:
    kid: str
    algorithm: str
    private_pem: bytes | None
    public_jwk: dict[str, Any]


def _kid_for(public_der: bytes) -> str:
    return hashlib.sha256(public_der).hexdigest()[:16]


def _generate_private_key(algorithm: str) -> Any:
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class KeyRing:
    """The signing keys in a folder (newest active) plus keys learned from a JWKS."""

    def __init__(self, key_dir: Path, algorithm: str, jwks_url: str | None = None) -> None:
        self.key_dir = key_dir
        self.algorithm = algorithm
        self.jwks_url = jwks_url
        self._keys: dict[str, SigningKey] = {}
        self._active: SigningKey | None = None
        self._lock = threading.Lock()
        self._last_reload = 0.0
        self._files: dict[str, tuple[int, SigningKey | None]] = {}  # name -> (mtime, key)
        self._jwks_kids: set[str] = set()  # keys learnt from the JWKS (not from the folder)
        self._last_fetch = float("-inf")  # when the JWKS was last asked for
        self._fetched_at = float("-inf")  # when it last answered
        self._inflight: asyncio.Task[bool] | None = None
        self._background: asyncio.Future[bool] | None = None
        self.reload()

    # -- loading -------------------------------------------------------------------------
    def reload(self) -> None:
        """Read the key folder; the newest key file is the active (signing) key. Files read
        before and unchanged since are not parsed again."""
        with self._lock:
            self._last_reload = time.monotonic()
            if not self.key_dir.is_dir():
                return
            stamped = []
            for path in self.key_dir.glob("*.pem"):
                try:
                    stamped.append((path.stat().st_mtime_ns, path.name, path))
                except OSError:  # removed meanwhile
                    continue
            for mtime, name, path in sorted(stamped):
                known = self._files.get(name)
                if known is None or known[0] != mtime:
                    try:
                        key = self._load_pem(path.read_bytes())
                    except OSError:
                        continue
                    self._files[name] = known = (mtime, key)
                key = known[1]
                if key is not None:
                    self._keys[key.kid] = key
                    self._active = key

    def _load_pem(self, pem: bytes) -> SigningKey | None:
        try:
            private = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError):
            log.warning("ignoring an unreadable key file")
            return None
        is_ec = isinstance(private, ec.EllipticCurvePrivateKey)
        algorithm = "ES256" if is_ec else "RS256"
        if algorithm != self.algorithm:
            return None
        public = private.public_key()
        public_der = public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        public_pem = public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        kid = _kid_for(public_der)
        public_jwk = jwk.construct(public_pem.decode(), algorithm).to_dict()
        public_jwk = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in public_jwk.items()}
        public_jwk.update({"kid": kid, "use": "sig", "alg": algorithm})
        return SigningKey(kid=kid, algorithm=algorithm, private_pem=pem, public_jwk=public_jwk)

    def ensure_signing_key(self) -> SigningKey:
        """The active signing key, created (and kept in the key folder) when there is none."""
        if time.monotonic() - self._last_reload > KEY_FOLDER_RECHECK_SECONDS:
            self.reload()  # a key added to the folder (a rotation) becomes the active one
        if self._active is not None and self._active.private_pem is not None:
            return self._active
        self.reload()
        if self._active is not None and self._active.private_pem is not None:
            return self._active
        return self.rotate()

    def rotate(self) -> SigningKey:
        """Create a new active key; older keys stay in the JWKS so issued tokens stay valid."""
        private = _generate_private_key(self.algorithm)
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self.key_dir.mkdir(parents=True, exist_ok=True)
        key = self._load_pem(pem)
        assert key is not None
        target = self.key_dir / f"{key.kid}.pem"
        temporary = self.key_dir / f".{key.kid}.{uuid.uuid4().hex}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        os.replace(temporary, target)
        with self._lock:
            self._keys[key.kid] = key
            self._active = key
        log.info("created a signing key", extra={"kid": key.kid, "alg": self.algorithm})
        return key

    def learn_jwks(self, document: Mapping[str, Any], *, replace: bool = False) -> None:
        """Learn the public keys of a JWKS document; ``replace``: it is the whole current
        set, so keys learnt from an earlier one and no longer published are forgotten."""
        published = set()
        for entry in document.get("keys", []):
            if not isinstance(entry, Mapping):
                continue
            kid = entry.get("kid")
            if not isinstance(kid, str) or not kid:
                continue
            if entry.get("alg", self.algorithm) != self.algorithm:
                continue
            published.add(kid)
            with self._lock:
                if kid not in self._keys:
                    self._keys[kid] = SigningKey(kid, self.algorithm, None, dict(entry))
                    self._jwks_kids.add(kid)
        if replace:
            with self._lock:
                for kid in self._jwks_kids - published:
                    self._keys.pop(kid, None)
                self._jwks_kids &= published

    async def refresh_jwks(self, *, force: bool = False) -> bool:
        """Fetch the JWKS from ``JWT_JWKS_URL``: one fetch at a time (callers arriving
        meanwhile share it) and, unless ``force``, not more often than once per
        ``JWKS_REFETCH_SECONDS``. Whether the JWKS answered."""
        if not self.jwks_url:
            return False
        loop = asyncio.get_running_loop()
        task = self._inflight
        if task is None or task.done() or task.get_loop() is not loop:
            if not force and time.monotonic() - self._last_fetch < JWKS_REFETCH_SECONDS:
                return False
            self._last_fetch = time.monotonic()
            task = self._inflight = loop.create_task(self._download(self.jwks_url))
        return await asyncio.shield(task)

    async def _download(self, url: str) -> bool:
        import httpx

        try:
            async with httpx.AsyncClient(timeout=3.0) as client:
                response = await client.get(url)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning(
                "could not fetch the identity JWKS (JWT_JWKS_URL); tokens signed with a key "
                "not yet learnt are refused until it answers",
                extra={"error": type(exc).__name__},
            )
            return False
        if not isinstance(document, Mapping):
            log.warning("the identity JWKS (JWT_JWKS_URL) is not a JSON object")
            return False
        self.learn_jwks(document, replace=True)
        self._fetched_at = time.monotonic()
        return True

    async def ensure_key(self, kid: str) -> None:
        """Make the key ``kid`` known if it can be: from the folder, else from the JWKS.
        Keys learnt from the JWKS are refreshed in the background once they are old."""
        if kid in self._keys:
            if (
                self.jwks_url
                and kid in self._jwks_kids
                and time.monotonic() - self._fetched_at > JWKS_MAX_AGE_SECONDS
                and time.monotonic() - self._last_fetch > JWKS_REFETCH_SECONDS
            ):
                self._background = asyncio.ensure_future(self.refresh_jwks())
            return
        if self.public_key(kid) is None:
            await self.refresh_jwks()

    def has_keys(self) -> bool:
        """Whether any key to verify tokens with is known."""
        return bool(self._keys)

    def public_key(self, kid: str) -> SigningKey | None:
        """The key ``kid`` among those known (the folder is read again when it is unknown,
        at most every few seconds; the JWKS is fetched by ``ensure_key``, never here: this
        runs on the event loop)."""
        key = self._keys.get(kid)
        if key is None and time.monotonic() - self._last_reload > KEY_FOLDER_RECHECK_SECONDS:
            self.reload()
            key = self._keys.get(kid)
        return key

    def jwks(self) -> dict[str, Any]:
        with self._lock:
            return {"keys": [key.public_jwk for key in self._keys.values()]}
