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

import base64
import contextlib
import os
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
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
        self._ring: DataKeyRing | None = None
        self._search: bytes | None = None
        self.ring_url: str | None = None  # where the data keys live when not in keys/ (MIXUN_KEYRING_URL)

    @property
    def data_keys(self) -> DataKeyRing:
        """The data keys of message text (``keys/datakeys.db``), made on first use."""
        if self._ring is None:
            self._ring = DataKeyRing(self, self.ring_url)
        return self._ring

    @property
    def search_key(self) -> bytes:
        """The key of the search postings' keyed hashes: derived (HKDF-SHA256) from KEK version 1, the
        ``master.key`` every node of a deployment already holds, so all nodes write and query the same
        postings without another file to distribute. KEK 1 is never destroyed (it also keys the login-name
        hash), so the postings stay searchable across rotations."""
        if self._search is None:
            self._search = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                                info=b"mixun search postings v1").derive(self.master)
        return self._search

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


TEXT_PREFIX = "\x1fm1"  # a sealed text (control characters are refused in user text, so none starts so)
_TEXT_AAD = b"mixun-text"


def period_of(at: datetime) -> int:
    """The retention period of a moment: its calendar month in UTC, as YYYYMM."""
    at = at.astimezone(UTC) if at.tzinfo else at
    return at.year * 100 + at.month


class DataKeyRing:
    """Data keys of message text, one per (scope, period) - a scope is ``c:<conversation id>``, a period a
    calendar month - each wrapped by a KEK, kept in the key directory (``keys/datakeys.db``, SQLite, 0600)
    and never in the database. The database holds only sealed texts naming their key's id, so neither the
    database nor a backup of it reads without this file, and destroying a key here (crypto-shredding)
    reaches every copy of the texts it sealed, backups included.

    A sealed text is ``TEXT_PREFIX`` + base64url(key id (8 bytes) | sealed value (algorithm recorded));
    the key's row records the KEK version that wraps it. Keys are cached per process: a batch of sends
    reads the ring only for a (conversation, month) it has not met yet, and makes any missing key in one
    local transaction (no database round trip)."""

    FILE = "datakeys.db"

    def __init__(self, keys: KeyStore, url: str | None = None) -> None:
        self.keys = keys
        self.path = keys.dir / self.FILE
        self.url = url  # a PostgreSQL ring shared by several nodes; None: the SQLite file in keys/
        self._lock = threading.RLock()
        self._conn: _RingDB | None = None
        self._pid = 0
        self._by_scope: dict[tuple[str, int], tuple[int, bytes]] = {}
        self._by_id: dict[int, bytes] = {}
        self._aeads: dict[int, AESGCM] = {}

    def _db(self) -> _RingDB:
        if self._conn is None or self._pid != os.getpid():
            self._conn = _RingDB.open(self.url, self.path)
            self._pid = os.getpid()
            self._by_scope, self._by_id = {}, {}
        return self._conn

    # ---- making and finding keys --------------------------------------------------------------------

    def keys_for(self, wanted: Iterable[tuple[str, int]]) -> dict[tuple[str, int], tuple[int, bytes]]:
        """(key id, plain data key) for each (scope, period), made when missing."""
        with self._lock:
            if self._pid != os.getpid():
                self._db()
            out = {w: self._by_scope[w] for w in wanted if w in self._by_scope}
            missing = [w for w in set(wanted) if w not in out]
            if not missing:
                return out
            db = self._db()
            db.begin()
            try:
                for scope, period in missing:
                    row = db.execute("SELECT id, wrapped FROM data_keys WHERE scope = ? AND period = ?",
                                     (scope, period)).fetchone()
                    if row is not None:
                        key_id, dek = int(row[0]), self.keys.unwrap(row[1])
                    else:
                        dek, wrapped = self.keys.new_data_key()
                        key_id = secrets.randbits(62) + 1
                        db.execute("INSERT INTO data_keys (id, scope, period, wrapped, kek_version, created_at) "
                                   "VALUES (?, ?, ?, ?, ?, ?)", (key_id, scope, period, wrapped,
                                                                 self.keys.wrapped_version(wrapped),
                                                                 datetime.now(UTC).isoformat()))
                    out[(scope, period)] = self._by_scope[(scope, period)] = (key_id, dek)
                    self._by_id[key_id] = dek
                db.commit()
            except BaseException:
                db.rollback()
                raise
            return out

    def dek(self, key_id: int) -> bytes | None:
        """The plain data key of ``key_id``; None when this ring does not hold it (destroyed, or another's)."""
        dek = self._by_id.get(key_id)  # the keys are the same in a forked child: no lock, no pid check
        if dek is not None:
            return dek
        with self._lock:
            if self._pid != os.getpid():
                self._db()
            dek = self._by_id.get(key_id)
            if dek is None:
                row = self._db().execute("SELECT wrapped FROM data_keys WHERE id = ?", (key_id,)).fetchone()
                if row is None:
                    return None
                dek = self._by_id[key_id] = self.keys.unwrap(row[0])
            return dek

    def was_destroyed(self, key_id: int) -> bool:
        with self._lock:
            return self._db().execute("SELECT 1 FROM destroyed_keys WHERE id = ?", (key_id,)).fetchone() is not None

    # ---- sealing text -------------------------------------------------------------------------------

    def seal_many(self, items: list[tuple[str, int, str]]) -> list[str]:
        """Sealed texts of (scope, period, text) items, in order (empty texts stay empty)."""
        keys = self.keys_for({(scope, period) for scope, period, text in items if text})
        out: list[str] = []
        for scope, period, text in items:
            if not text:
                out.append(text)
                continue
            key_id, dek = keys[(scope, period)]
            kid = key_id.to_bytes(8, "big")
            if len(dek) == _KEY_BYTES[ALG_AES]:
                aead = self._aeads.get(key_id)
                if aead is None:
                    aead = self._aeads[key_id] = AESGCM(dek)
                nonce = secrets.token_bytes(12)
                sealed = _SEALED + bytes([ALG_AES]) + nonce + aead.encrypt(nonce, text.encode(), _TEXT_AAD + kid)
            else:
                sealed = KeyStore._seal(dek, text.encode(), _TEXT_AAD + kid)
            out.append(TEXT_PREFIX + base64.urlsafe_b64encode(kid + sealed).decode().rstrip("="))
        return out

    def seal(self, scope: str, period: int, text: str) -> str:
        return self.seal_many([(scope, period, text)])[0]

    def open(self, value: str) -> str | None:
        """The text of a sealed value; None when this ring does not hold its key. (The read path of every
        message: the AES-GCM context of each key is kept, so a read is one base64 decode and one decrypt.)"""
        raw = _unb64(value[len(TEXT_PREFIX):])
        kid = raw[:8]
        key_id = int.from_bytes(kid, "big")
        if raw[8:10] == _SEALED + bytes([ALG_AES]):
            aead = self._aeads.get(key_id)
            if aead is None:
                dek = self.dek(key_id)
                if dek is None:
                    return None
                aead = self._aeads[key_id] = AESGCM(dek)
            return aead.decrypt(raw[10:22], raw[22:], _TEXT_AAD + kid).decode()
        dek = self.dek(key_id)
        if dek is None:
            return None
        return KeyStore._open(dek, raw[8:], _TEXT_AAD + kid).decode()

    # ---- destruction, rotation, status --------------------------------------------------------------

    def scopes(self) -> list[tuple[int, str, int]]:
        """(key id, scope, period) of every key held."""
        with self._lock:
            return [(int(a), str(b), int(c)) for a, b, c in
                    self._db().execute("SELECT id, scope, period FROM data_keys ORDER BY id")]

    def destroy(self, pairs: Iterable[tuple[str, int]], reason: str) -> list[int]:
        """Destroy the keys of these (scope, period) pairs: overwritten in the file (secure_delete), a
        tombstone left so readers can say the content was destroyed. Returns the key ids destroyed."""
        pairs = list(pairs)
        if not pairs:
            return []
        with self._lock:
            db = self._db()
            now = datetime.now(UTC).isoformat()
            gone: list[int] = []
            db.begin()
            try:
                for scope, period in pairs:
                    row = db.execute("SELECT id FROM data_keys WHERE scope = ? AND period = ?",
                                     (scope, period)).fetchone()
                    if row is None:
                        continue
                    db.execute("DELETE FROM data_keys WHERE id = ?", (row[0],))
                    db.execute("DELETE FROM destroyed_keys WHERE id = ?", (row[0],))
                    db.execute("INSERT INTO destroyed_keys (id, scope, period, destroyed_at, reason) "
                               "VALUES (?, ?, ?, ?, ?)", (row[0], scope, period, now, reason))
                    gone.append(int(row[0]))
                db.commit()
            except BaseException:
                db.rollback()
                raise
            if gone:
                db.scrub()  # a PostgreSQL ring: the deleted rows' bytes go at once, not at autovacuum
            for key_id in gone:
                self._by_id.pop(key_id, None)
                self._aeads.pop(key_id, None)
            for pair in pairs:
                self._by_scope.pop(pair, None)
            return gone

    def versions(self) -> dict[int, int]:
        """{KEK version: number of data keys it wraps}."""
        with self._lock:
            return {int(v): int(n) for v, n in
                    self._db().execute("SELECT kek_version, count(*) FROM data_keys GROUP BY kek_version")}

    def pending(self, version: int) -> int:
        with self._lock:
            row = self._db().execute("SELECT count(*) FROM data_keys WHERE kek_version != ?", (version,)).fetchone()
            return int(row[0])

    def rewrap(self, version: int, batch: int = 500, progress: Callable[[int], None] | None = None,
               should_stop: Callable[[], bool] | None = None) -> tuple[int, bool]:
        """Rewrap every data key not under KEK ``version``, ``batch`` keys a transaction; (done, stopped).
        A key destroyed meanwhile stays destroyed; the plain keys (and the texts) do not change."""
        done = 0
        after = 0
        while True:
            with self._lock:
                db = self._db()
                rows = db.execute("SELECT id, wrapped FROM data_keys WHERE kek_version != ? AND id > ? "
                                  "ORDER BY id LIMIT ?", (version, after, batch)).fetchall()
                if not rows:
                    return done, False
                after = int(rows[-1][0])
                new = [(self.keys.rewrap(w, version), version, int(i), w) for i, w in rows]
                db.begin()
                try:
                    for wrapped, v, key_id, old in new:
                        cur = db.execute("UPDATE data_keys SET wrapped = ?, kek_version = ? WHERE id = ? "
                                         "AND wrapped = ?", (wrapped, v, key_id, old))
                        done += cur.rowcount
                    db.commit()
                except BaseException:
                    db.rollback()
                    raise
            if progress:
                progress(done)
            if should_stop and should_stop():
                return done, True



class _RingDB:
    """The key ring's store: a SQLite file in the key directory (one node), or a PostgreSQL database
    of its own shared by several nodes (``MIXUN_KEYRING_URL``) - never the content database, whose backups
    must not hold the keys. Statements are written with ``?`` placeholders; a transaction that writes
    holds the ring's write lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: a table lock), so two nodes making
    the same (conversation, month) key wait for each other and both use the first one's."""

    _SCHEMA = ("CREATE TABLE IF NOT EXISTS data_keys (id BIGINT PRIMARY KEY, scope TEXT NOT NULL, "
               "period INTEGER NOT NULL, wrapped {blob} NOT NULL, kek_version INTEGER NOT NULL, "
               "created_at TEXT NOT NULL)",
               "CREATE UNIQUE INDEX IF NOT EXISTS data_keys_scope ON data_keys (scope, period)",
               "CREATE TABLE IF NOT EXISTS destroyed_keys (id BIGINT PRIMARY KEY, scope TEXT NOT NULL, "
               "period INTEGER NOT NULL, destroyed_at TEXT NOT NULL, reason TEXT NOT NULL)")

    def __init__(self, conn: Any, pg: bool) -> None:
        self.conn = conn
        self.pg = pg

    @classmethod
    def open(cls, url: str | None, path: Path) -> _RingDB:
        if url:
            import psycopg

            conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1), autocommit=True)
            ring = cls(conn, True)
            ring.execute("SELECT pg_advisory_lock(74171)")  # one node creates the tables at a time
            try:
                for stmt in cls._SCHEMA:
                    ring.execute(stmt.format(blob="BYTEA"))
            finally:
                ring.execute("SELECT pg_advisory_unlock(74171)")
            return ring
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            with contextlib.suppress(FileExistsError):
                _write_new(path, b"")
        os.chmod(path, 0o600)
        lite = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        lite.execute("PRAGMA secure_delete = ON")  # a destroyed key's bytes are overwritten in the file
        lite.execute("PRAGMA journal_mode = DELETE")
        lite.execute("PRAGMA synchronous = FULL")
        for stmt in cls._SCHEMA:
            lite.execute(stmt.format(blob="BLOB"))
        return cls(lite, False)

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        if self.pg:
            return self.conn.execute(sql.replace("?", "%s"), params)
        return self.conn.execute(sql, params)

    def begin(self) -> None:
        if self.pg:
            self.conn.execute("BEGIN")
            self.conn.execute("LOCK TABLE data_keys IN SHARE ROW EXCLUSIVE MODE")
        else:
            self.conn.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.conn.execute("COMMIT")

    def rollback(self) -> None:
        self.conn.execute("ROLLBACK")

    def scrub(self) -> None:
        if self.pg:
            self.conn.execute("VACUUM data_keys")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def keystore_from(settings: Any) -> KeyStore:
    """The key store the settings describe: KEK files only, or KEK files plus an HSM (PKCS#11)."""
    hsm = None
    if settings.kek_provider == "pkcs11":
        pin = settings.pkcs11_pin
        if settings.pkcs11_pin_file:
            pin = Path(settings.pkcs11_pin_file).read_text().strip()
        hsm = Pkcs11Keks(settings.pkcs11_module, settings.pkcs11_token, pin)
    store = KeyStore(settings.key_file, settings.cipher, hsm)
    store.ring_url = getattr(settings, "keyring_url", "") or None
    return store
