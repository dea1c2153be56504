"""Key-encryption keys (KEKs) and envelope encryption: AES-256-GCM by default, SM4-GCM selectable.

Each object is encrypted with its own data key; the data key is stored wrapped by a key-encryption key,
so destroying a wrapped data key destroys what it protected. KEKs live in files readable only by their
owner, apart from the database: ``keys/master.key`` is version 1 (it also keys the login-name hash and is
never destroyed), ``keys/kek-000002.key`` and later are made by ``mixun keys rotate``; ``keys/kek-current``
names the version new data keys are wrapped with. Every process reads that pointer when it makes a data
key, so a rotation reaches running servers at once.

With ``MIXUN_KEK_PROVIDER=pkcs11`` new KEKs are made inside an HSM reached through PKCS#11 (AES-256 keys
labelled ``mixun-kek-NNNNNN``, never extractable) and data keys are wrapped by the HSM itself (AES-GCM
inside the token); versions already in files keep reading from their files until rotated away.

Formats (every ciphertext records its algorithm; every wrapped key its KEK version):
- sealed, legacy:   0x01 | nonce(12) | AES-256-GCM(ciphertext + tag)
- sealed:           0x02 | alg(1) | nonce(12) | ciphertext + tag
- wrapped, legacy:  a legacy sealed data key under KEK version 1
- wrapped:          0x03 | KEK version (4, big-endian) | alg(1) | nonce(12) | ciphertext + tag, the header
  authenticated with the key
- wrapped in an HSM: 0x04 | KEK version (4) | nonce(12) | AES-256-GCM ciphertext + tag made by the token
"""

from __future__ import annotations

import os
import secrets
import threading
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_LEGACY = b"\x01"
_SEALED = b"\x02"
_WRAPPED = b"\x03"
_HSM_WRAPPED = b"\x04"
ALG_AES = 1
ALG_SM4 = 2
CIPHERS = {"aes-256-gcm": ALG_AES, "sm4-gcm": ALG_SM4}
CIPHER_NAMES = {v: k for k, v in CIPHERS.items()}
_KEY_BYTES = {ALG_AES: 32, ALG_SM4: 16}
POINTER = "kek-current"


class KeyMissing(RuntimeError):
    """A key-encryption key that a wrapped data key names is not in the key directory."""


def ensure_master_key(path: Path) -> bool:
    """Create the key file (mode 0600) if missing. True when it was created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    if path.exists():
        os.chmod(path, 0o600)
        return False
    _write_new(path, secrets.token_bytes(32))
    return True


def _write_new(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _encrypt(alg: int, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    if alg == ALG_AES:
        return AESGCM(key).encrypt(nonce, plaintext, aad)
    enc = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    enc.authenticate_additional_data(aad)
    return enc.update(plaintext) + enc.finalize() + enc.tag


def _decrypt(alg: int, key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    if alg == ALG_AES:
        return AESGCM(key).decrypt(nonce, sealed, aad)
    if alg != ALG_SM4 or len(sealed) < 16:
        raise ValueError("unknown ciphertext algorithm")
    dec = Cipher(algorithms.SM4(key), modes.GCM(nonce, sealed[-16:])).decryptor()
    dec.authenticate_additional_data(aad)
    return dec.update(sealed[:-16]) + dec.finalize()


def _kek_for(alg: int, kek: bytes) -> bytes:
    """The KEK as a key of ``alg``: itself for AES-256, a 128-bit key derived by HKDF for SM4."""
    if alg == ALG_AES:
        return kek
    return HKDF(algorithm=hashes.SHA256(), length=16, salt=None, info=b"mixun-kek-sm4").derive(kek)


_HSM_SESSIONS: dict[tuple[str, str, int], Any] = {}
_HSM_LOCK = threading.RLock()  # one session per process is shared: one operation at a time


def _hsm_session(module: str, token_label: str, pin: str) -> Any:
    """One logged-in session per token and process (PKCS#11 logins are per application: a second
    login in the same process is refused with UserAlreadyLoggedIn)."""
    import pkcs11

    key = (module, token_label, os.getpid())
    with _HSM_LOCK:
        session = _HSM_SESSIONS.get(key)
        if session is None:
            token = pkcs11.lib(module).get_token(token_label=token_label)
            session = _HSM_SESSIONS[key] = token.open(user_pin=pin, rw=True)
        return session


class Pkcs11Keks:
    """Key-encryption keys held in an HSM through PKCS#11 (tested against SoftHSM): AES-256 keys that are
    sensitive and never extractable; wrapping and unwrapping happen inside the token. One session per
    process, opened on first use (uvicorn's workers and the writer are separate processes)."""

    PREFIX = "mixun-kek-"

    def __init__(self, module: str, token: str, pin: str) -> None:
        self.module, self.token_label, self._pin = module, token, pin
        self._session: Any = None
        self._pid = 0
        self._lock = _HSM_LOCK
        self._keys: dict[int, Any] = {}

    def _open(self) -> Any:
        if self._session is None or self._pid != os.getpid():
            self._session, self._pid, self._keys = _hsm_session(self.module, self.token_label, self._pin), os.getpid(), {}
        return self._session

    def _key(self, version: int) -> Any:
        from pkcs11 import ObjectClass
        from pkcs11.exceptions import NoSuchKey

        key = self._keys.get(version)
        if key is None:
            try:
                key = self._open().get_key(label=f"{self.PREFIX}{version:06d}", object_class=ObjectClass.SECRET_KEY)
            except NoSuchKey:
                raise KeyMissing(f"key-encryption key version {version} is not in the HSM") from None
            self._keys[version] = key
        return key

    def versions(self) -> list[int]:
        from pkcs11 import Attribute, ObjectClass

        with self._lock:
            found = []
            for obj in self._open().get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY}):
                label = obj.label or ""
                if label.startswith(self.PREFIX) and label[len(self.PREFIX):].isdigit():
                    found.append(int(label[len(self.PREFIX):]))
            return sorted(found)

    def create(self, version: int) -> None:
        from pkcs11 import Attribute, KeyType

        with self._lock:
            self._open().generate_key(KeyType.AES, 256, label=f"{self.PREFIX}{version:06d}", store=True,
                                      template={Attribute.EXTRACTABLE: False, Attribute.SENSITIVE: True})

    def encrypt(self, version: int, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        from pkcs11 import GCMParams, Mechanism

        with self._lock:
            return bytes(self._key(version).encrypt(plaintext, mechanism=Mechanism.AES_GCM,
                                                    mechanism_param=GCMParams(nonce, aad, 128)))

    def decrypt(self, version: int, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        from pkcs11 import GCMParams, Mechanism
        from pkcs11.exceptions import PKCS11Error

        with self._lock:
            try:
                return bytes(self._key(version).decrypt(sealed, mechanism=Mechanism.AES_GCM,
                                                        mechanism_param=GCMParams(nonce, aad, 128)))
            except PKCS11Error as exc:  # a changed wrapped key fails its tag inside the token
                raise ValueError("wrapped key does not authenticate") from exc

    def destroy(self, version: int) -> None:
        with self._lock:
            self._key(version).destroy()
            self._keys.pop(version, None)


class KeyStore:
    def __init__(self, path: Path, cipher: str = "aes-256-gcm", hsm: Pkcs11Keks | None = None) -> None:
        if cipher not in CIPHERS:
            raise ValueError(f"unknown cipher {cipher!r} (choose {', '.join(CIPHERS)})")
        self.path = path
        self.dir = path.parent
        self.alg = CIPHERS[cipher]
        self.hsm = hsm
        self._keks: dict[int, bytes] = {}
        self._pointer: tuple[int, int] | None = None  # (mtime_ns, version)

    # ---- key-encryption keys ------------------------------------------------------------------------

    @property
    def master(self) -> bytes:
        """KEK version 1 (``master.key``); also the key of the login-name hash."""
        return self.kek(1)

    def kek_path(self, version: int) -> Path:
        return self.path if version == 1 else self.dir / f"kek-{version:06d}.key"

    def kek(self, version: int) -> bytes:
        key = self._keks.get(version)
        if key is None:
            try:
                key = self.kek_path(version).read_bytes()
            except FileNotFoundError:
                raise KeyMissing(f"key-encryption key version {version} is not in {self.dir}") from None
            if len(key) != 32:
                raise RuntimeError(f"key-encryption key {self.kek_path(version)} is not 32 bytes")
            self._keks[version] = key
        return key

    def versions(self) -> list[int]:
        """KEK versions present, oldest first."""
        found = [1] if self.path.exists() else []
        for p in self.dir.glob("kek-*.key"):
            try:
                found.append(int(p.stem.split("-", 1)[1]))
            except ValueError:
                continue
        if self.hsm is not None:
            found += self.hsm.versions()
        return sorted(set(found))

    def in_hsm(self, version: int) -> bool:
        return self.hsm is not None and version != 1 and not self.kek_path(version).exists()

    def current_version(self) -> int:
        """The version new data keys are wrapped with (re-read when the pointer file changes)."""
        pointer = self.dir / POINTER
        try:
            mtime = pointer.stat().st_mtime_ns
        except FileNotFoundError:
            return 1
        if self._pointer is None or self._pointer[0] != mtime:
            self._pointer = (mtime, int(pointer.read_text().strip()))
        return self._pointer[1]

    def create_kek(self) -> int:
        """A new KEK (next version, file 0600, fsynced), then the pointer moved to it atomically."""
        version = max(self.versions() or [1]) + 1
        if self.hsm is not None:
            self.hsm.create(version)
        else:
            _write_new(self.kek_path(version), secrets.token_bytes(32))
        tmp = self.dir / f".{POINTER}.{os.getpid()}"
        tmp.write_text(f"{version}\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.dir / POINTER)
        self._pointer = None
        return version

    def destroy_kek(self, version: int) -> None:
        """Overwrite and remove a KEK file, or destroy it in the HSM (the caller has checked that it
        protects nothing)."""
        if self.in_hsm(version):
            assert self.hsm is not None
            self.hsm.destroy(version)
            return
        path = self.kek_path(version)
        size = path.stat().st_size
        with open(path, "r+b") as fh:
            fh.write(secrets.token_bytes(size))
            fh.flush()
            os.fsync(fh.fileno())
        path.unlink()
        self._keks.pop(version, None)

    # ---- data keys ----------------------------------------------------------------------------------

    def new_data_key(self) -> tuple[bytes, bytes]:
        """(plain data key, wrapped data key) under the current KEK and the configured algorithm."""
        dek = secrets.token_bytes(_KEY_BYTES[self.alg])
        return dek, self.wrap(dek, self.current_version())

    def wrap(self, dek: bytes, version: int) -> bytes:
        if self.in_hsm(version):
            assert self.hsm is not None
            header = _HSM_WRAPPED + version.to_bytes(4, "big")
            nonce = secrets.token_bytes(12)
            return header + nonce + self.hsm.encrypt(version, nonce, dek, header + b"dek")
        header = _WRAPPED + version.to_bytes(4, "big") + bytes([self.alg])
        nonce = secrets.token_bytes(12)
        return header + nonce + _encrypt(self.alg, _kek_for(self.alg, self.kek(version)), nonce, dek,
                                         header + b"dek")

    @staticmethod
    def wrapped_version(wrapped: bytes) -> int:
        """The KEK version a wrapped data key is under."""
        if wrapped[:1] == _LEGACY:
            return 1
        if wrapped[:1] in (_WRAPPED, _HSM_WRAPPED) and len(wrapped) > 6:
            return int.from_bytes(wrapped[1:5], "big")
        raise ValueError("unknown wrapped key format")

    def unwrap(self, wrapped: bytes) -> bytes:
        if wrapped[:1] == _LEGACY:
            return self._open(self.master, wrapped, b"dek")
        if wrapped[:1] == _HSM_WRAPPED and len(wrapped) >= 5 + 12 + 16:
            if self.hsm is None:
                raise KeyMissing("this data key is wrapped in an HSM: set MIXUN_KEK_PROVIDER=pkcs11")
            version = int.from_bytes(wrapped[1:5], "big")
            return self.hsm.decrypt(version, wrapped[5:17], wrapped[17:], wrapped[:5] + b"dek")
        if wrapped[:1] != _WRAPPED or len(wrapped) < 6 + 12 + 16:
            raise ValueError("unknown wrapped key format")
        header, alg = wrapped[:6], wrapped[5]
        kek = _kek_for(alg, self.kek(int.from_bytes(wrapped[1:5], "big")))
        return _decrypt(alg, kek, wrapped[6:18], wrapped[18:], header + b"dek")

    def rewrap(self, wrapped: bytes, version: int) -> bytes:
        """The same data key wrapped under KEK ``version`` (what it protects is not touched)."""
        return self.wrap(self.unwrap(wrapped), version)

    # ---- sealing ------------------------------------------------------------------------------------

    @staticmethod
    def _seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
        alg = ALG_SM4 if len(key) == 16 else ALG_AES
        nonce = secrets.token_bytes(12)
        return _SEALED + bytes([alg]) + nonce + _encrypt(alg, key, nonce, plaintext, aad)

    @staticmethod
    def _open(key: bytes, sealed: bytes, aad: bytes) -> bytes:
        if sealed[:1] == _LEGACY:
            return AESGCM(key).decrypt(sealed[1:13], sealed[13:], aad)
        if sealed[:1] == _SEALED:
            return _decrypt(sealed[1], key, sealed[2:14], sealed[14:], aad)
        raise ValueError("unknown ciphertext version")

    @staticmethod
    def sealed_algorithm(sealed: bytes) -> str:
        """The algorithm a sealed value records (legacy values are AES-256-GCM)."""
        if sealed[:1] == _LEGACY:
            return "aes-256-gcm"
        return CIPHER_NAMES.get(sealed[1], "unknown") if sealed[:1] == _SEALED else "unknown"

    def encrypt_small(self, plaintext: bytes, purpose: str) -> bytes:
        """Envelope-encrypt a small value: wrapped key length (2 bytes) + wrapped key + ciphertext."""
        dek, wrapped = self.new_data_key()
        body = self._seal(dek, plaintext, purpose.encode())
        return len(wrapped).to_bytes(2, "big") + wrapped + body

    def decrypt_small(self, blob: bytes, purpose: str) -> bytes:
        n = int.from_bytes(blob[:2], "big")
        dek = self.unwrap(blob[2 : 2 + n])
        return self._open(dek, blob[2 + n :], purpose.encode())

    @staticmethod
    def small_version(blob: bytes) -> int:
        n = int.from_bytes(blob[:2], "big")
        return KeyStore.wrapped_version(blob[2 : 2 + n])

    def rewrap_small(self, blob: bytes, version: int) -> bytes:
        n = int.from_bytes(blob[:2], "big")
        wrapped = self.rewrap(blob[2 : 2 + n], version)
        return len(wrapped).to_bytes(2, "big") + wrapped + blob[2 + n :]

    def encrypt_with(self, dek: bytes, plaintext: bytes, purpose: str) -> bytes:
        return self._seal(dek, plaintext, purpose.encode())

    def decrypt_with(self, dek: bytes, sealed: bytes, purpose: str) -> bytes:
        return self._open(dek, sealed, purpose.encode())


def keystore_from(settings: Any) -> KeyStore:
    """The key store the settings describe: KEK files only, or KEK files plus an HSM (PKCS#11)."""
    hsm = None
    if settings.kek_provider == "pkcs11":
        pin = settings.pkcs11_pin
        if settings.pkcs11_pin_file:
            pin = Path(settings.pkcs11_pin_file).read_text().strip()
        hsm = Pkcs11Keks(settings.pkcs11_module, settings.pkcs11_token, pin)
    return KeyStore(settings.key_file, settings.cipher, hsm)
