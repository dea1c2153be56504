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
- period-wrapped:   0x05 | period YYYYMM (4) | alg(1) | nonce(12) | ciphertext + tag - a conversation's data
  key under its month's period key (``PeriodKeys``); the ring stores this blob wrapped again by a KEK
- group-wrapped:    0x06 | period YYYYMM (4) | tag length (1) | group tag | alg(1) | nonce(12) | ciphertext + tag -
  the same under the period key of a retention group's month (ADR 0020, "Groups")
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
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

from mixun.config import period_keys_root, period_keys_root_given

_LEGACY = b"\x01"
_SEALED = b"\x02"
_WRAPPED = b"\x03"
_HSM_WRAPPED = b"\x04"
_PERIOD_WRAPPED = b"\x05"
_GROUP_WRAPPED = b"\x06"
ALG_AES = 1
ALG_SM4 = 2
CIPHERS = {"aes-256-gcm": ALG_AES, "sm4-gcm": ALG_SM4}
CIPHER_NAMES = {v: k for k, v in CIPHERS.items()}
_KEY_BYTES = {ALG_AES: 32, ALG_SM4: 16}
POINTER = "kek-current"


class KeyMissing(RuntimeError):
    """A key-encryption key that a wrapped data key names is not in the key directory."""


class PeriodKeyGone(KeyMissing):
    """The period key a conversation's data key is wrapped under is not in this key store: destroyed by
    retention (crypto-shredding), or never restored here (a backup restored without the period escrow)."""


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


def shred_file(path: Path) -> None:
    """Overwrite a key file with random bytes, fsync, remove it: a KEK retired and destroyed, or a
    month's period key destroyed by retention, and the standby's mirror of one (ADR 0005, 0020)."""
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.write(secrets.token_bytes(size))
        fh.flush()
        os.fsync(fh.fileno())
    path.unlink()


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


def _sealed_key_template() -> dict[Any, Any]:
    from pkcs11 import Attribute

    # Never leaves the token, and cannot be copied or relabelled by anyone holding the PIN: a copy, or a
    # key renamed away from its label, would survive the label-based destroy (retention's shredding).
    return {Attribute.EXTRACTABLE: False, Attribute.SENSITIVE: True, Attribute.COPYABLE: False,
            Attribute.MODIFIABLE: False}


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
        from pkcs11 import KeyType

        with self._lock:
            self._open().generate_key(KeyType.AES, 256, label=f"{self.PREFIX}{version:06d}", store=True,
                                      template=_sealed_key_template())

    @staticmethod
    def _gcm_seal(key: Any, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        from pkcs11 import GCMParams, Mechanism

        return bytes(key.encrypt(plaintext, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(nonce, aad, 128)))

    @staticmethod
    def _gcm_open(key: Any, nonce: bytes, sealed: bytes, aad: bytes, what: str) -> bytes:
        from pkcs11 import GCMParams, Mechanism
        from pkcs11.exceptions import PKCS11Error

        try:
            return bytes(key.decrypt(sealed, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(nonce, aad, 128)))
        except PKCS11Error as exc:  # a changed wrapped key fails its tag inside the token
            raise ValueError(f"{what} does not authenticate") from exc

    def encrypt(self, version: int, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        with self._lock:
            return self._gcm_seal(self._key(version), nonce, plaintext, aad)

    def decrypt(self, version: int, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        with self._lock:
            return self._gcm_open(self._key(version), nonce, sealed, aad, "wrapped key")

    def destroy(self, version: int) -> None:
        with self._lock:
            self._key(version).destroy()
            self._keys.pop(version, None)

    # ---- period keys (one AES-256 key per month, never extractable: ``PeriodKeys``) -------------------

    PERIOD_PREFIX = "mixun-period-"

    def _period_key(self, period: int, group: str = "") -> Any:
        from pkcs11 import ObjectClass
        from pkcs11.exceptions import NoSuchKey

        label = period_label(period, group)
        try:
            return self._open().get_key(label=f"{self.PERIOD_PREFIX}{label}", object_class=ObjectClass.SECRET_KEY)
        except NoSuchKey:
            raise PeriodKeyGone(f"period key {label} is not in the HSM") from None

    def periods(self) -> list[tuple[str, int]]:
        """(group tag, period) of every period key in the token (labels ``mixun-period-YYYYMM[-tag]``)."""
        from pkcs11 import Attribute, ObjectClass

        with self._lock:
            found = set()
            for obj in self._open().get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY}):
                label = obj.label or ""
                if label.startswith(self.PERIOD_PREFIX):
                    pid = parse_period_label(label[len(self.PERIOD_PREFIX):])
                    if pid is not None:
                        found.add(pid)
            return sorted(found, key=lambda pid: (pid[1], pid[0]))

    def ensure_period(self, period: int, group: str = "") -> None:
        """Make the period key in the token unless it is there (callers hold the ring's write lock, so
        two processes do not both make it)."""
        from pkcs11 import KeyType

        with self._lock:
            try:
                self._period_key(period, group)
            except PeriodKeyGone:
                self._open().generate_key(KeyType.AES, 256, label=f"{self.PERIOD_PREFIX}{period_label(period, group)}",
                                          store=True, template=_sealed_key_template())

    def period_encrypt(self, period: int, nonce: bytes, plaintext: bytes, aad: bytes, group: str = "") -> bytes:
        with self._lock:
            return self._gcm_seal(self._period_key(period, group), nonce, plaintext, aad)

    def period_decrypt(self, period: int, nonce: bytes, sealed: bytes, aad: bytes, group: str = "") -> bytes:
        with self._lock:
            return self._gcm_open(self._period_key(period, group), nonce, sealed, aad, "period-wrapped key")

    def has_period(self, period: int, group: str = "") -> bool:
        with self._lock:
            try:
                self._period_key(period, group)
            except PeriodKeyGone:
                return False
            return True

    def destroy_period(self, period: int, group: str = "") -> None:
        with self._lock, contextlib.suppress(PeriodKeyGone):
            self._period_key(period, group).destroy()


class KeyStore:
    def __init__(self, path: Path, cipher: str = "aes-256-gcm", hsm: Pkcs11Keks | None = None,
                 periods_root: Path | None = None) -> None:
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
        # Where period key files live: a host directory outside the data directory (ADR 0020, "Where period
        # keys live"), one sub-directory per key ring.
        self.periods_root = periods_root if periods_root is not None else period_keys_root()
        # Whether the operator chose it (a setting or MIXUN_PERIOD_KEYS_DIR); otherwise it is the default
        # under this account's home, and the place the ring recorded wins (``PeriodKeys._root``).
        self.periods_root_given = periods_root is not None or period_keys_root_given() is not None

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
        shred_file(self.kek_path(version))
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


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def period_label(period: int, group: str = "") -> str:
    """How a period key is named outside the ring (files, HSM labels, the escrow, ``keys status``):
    ``YYYYMM`` for a month-wide key (legacy, and callers that name no group), ``YYYYMM-<tag>`` for a
    retention group's key of that month. The tag is opaque (``PeriodKeys.tag``)."""
    return f"{period}-{group}" if group else str(period)


def parse_period_label(label: str) -> tuple[str, int] | None:
    """(group tag, period) of a label ``period_label`` wrote; None for anything else."""
    head, _, tag = label.partition("-")
    if len(head) != 6 or not head.isdigit():
        return None
    if tag and (len(tag) != GROUP_TAG_CHARS or any(ch not in "0123456789abcdef" for ch in tag)):
        return None
    return tag, int(head)


GROUP_TAG_CHARS = 12
PeriodId = tuple[str, int]  # (group tag, period): one period key


ORIGIN = "origin"  # in a store directory made by a restore: the ring id of the store it was copied from
OWNER = "owner"  # in a store directory: the key directory of the deployment that uses it


def ring_id_in(keys_dir: Path) -> str | None:
    """The id of the SQLite key ring in ``keys_dir``, read without writing: None when there is no ring or
    it has no id; ``"?"`` when it cannot be read (locked, damaged: callers treat it as in use)."""
    path = keys_dir / DataKeyRing.FILE
    if not path.is_file():
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            row = conn.execute("SELECT value FROM ring_meta WHERE name = 'ring_id'").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return "?"
    return str(row[0]) if row is not None else None


def derived_stores(store: Path) -> list[Path]:
    """The period key stores on this host copied, directly or through other copies, from ``store`` (each
    names its origin's ring id in its ``origin`` file): a restore's copy of a deployment."""
    root, found, frontier = store.parent, [], {store.name}
    try:
        candidates = [d for d in root.iterdir() if d.name != store.name and not d.is_symlink() and d.is_dir()
                      and (d / ORIGIN).is_file()]
    except OSError:
        return []
    origins: dict[str, str] = {}
    for d in candidates:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            origins[d.name] = (d / ORIGIN).read_text().strip()
    while frontier:
        step = {name for name, origin in origins.items() if origin in frontier and root / name not in found}
        found += [root / name for name in sorted(step)]
        frontier = step
    return found


class PeriodKeys:
    """Per-(retention group, month) key-encryption keys ("period keys", ADR 0020): every conversation's data
    key of a month is wrapped by the period key of its retention group and month *inside* the KEK wrapping
    the ring stores, so reading it needs the ring, a KEK and the period key. The group is the retention
    scope that governed the conversation when its data key was made (``default``, ``kind:direct``,
    ``kind:group``, ``unit:<path>``, several joined by ``+``, or ``hold:<conversation>``): conversations that
    expire together share a key. It is named by an opaque tag (a keyed hash, ``tag``) wherever a key is
    named outside the ring; the ring's ``period_groups`` table maps tags to names for ``keys status``.
    The group ``""`` is the month-wide key of before groups (still read, and destroyed as before).
    Period keys are kept where no backup of Mixun reaches:

    - ``keys/periods/period-YYYYMM[-tag].key`` (32 bytes, 0600): a sub-store of the key directory that
      ``mixun backup`` does not copy (the default);
    - with ``MIXUN_KEK_PROVIDER=pkcs11``, AES-256 keys ``mixun-period-YYYYMM[-tag]`` inside the HSM, never
      extractable (periods already in files keep reading from their files);
    - with a shared ring (``MIXUN_KEYRING_URL``) and no HSM, the ring database's ``period_keys`` table
      (back that database up without the table's data: docs/keys.md).

    Retention destroys a (group, month)'s period key once no conversation's data key wrapped under it is
    left in the ring (``DataKeyRing.destroy_spent_periods``): every backup's copy of those ring entries is
    then unreadable. For disaster recovery the operator keeps an escrow of the period keys
    (``mixun keys export-periods``) under its own, short retention; an HSM keeps them by its replication."""

    DIR = "periods"

    def __init__(self, ring: DataKeyRing) -> None:
        self.ring = ring
        self.keys = ring.keys
        # Where period key files lived before they moved out of the data directory: files found there are
        # adopted (copied into the host store, then shredded), and a standby mirror or an escrow restore
        # may put keys there for the same reason.
        self.legacy_dir = ring.keys.dir / self.DIR
        self._dir: Path | None = None
        self.fallback: str = ""  # why the host store could not be used (then the legacy dir is; keys status)
        self._material: dict[PeriodId, bytes] = {}
        self._tombstones_seen = -1  # how many tombstones the ring had when the cache was last checked

    @property
    def dir(self) -> Path:
        """The host's directory of this ring's period key files: ``<periods root>/<ring id>``, outside the
        data directory (ADR 0020, "Where period keys live"), found on first use."""
        if self._dir is None:
            self._dir = self._locate()
        return self._dir

    def _root(self) -> Path:
        """The host directory of period key stores. The ring records the one its period keys were first
        filed under: a process with no explicit setting uses the recorded one, so ``sudo mixun ...``, a
        cron job as another account or ``su`` without ``-`` (another home) never splits a month between
        two stores. An explicit setting (a move, another host restoring) wins and is recorded."""
        chosen = self.keys.periods_root.expanduser().resolve()
        db = self.ring._db()
        row = db.execute("SELECT value FROM ring_meta WHERE name = 'period_root'").fetchone()
        if row is not None and not self.keys.periods_root_given:
            return Path(str(row[0]))
        if row is None:
            db.execute("INSERT INTO ring_meta (name, value) VALUES ('period_root', ?) ON CONFLICT (name) DO NOTHING",
                       (str(chosen),))
        elif str(row[0]) != str(chosen):
            db.execute("UPDATE ring_meta SET value = ? WHERE name = 'period_root'", (str(chosen),))
        return chosen

    def _locate(self) -> Path:
        root = self._root()
        data_dir = self.keys.dir.parent.resolve()
        if root == data_dir or root.is_relative_to(data_dir):
            raise RuntimeError(f"MIXUN_PERIOD_KEYS_DIR ({root}) is inside the data directory ({data_dir}): "
                               "backups would hold the period keys; choose a directory outside it")
        where = root / self.ring.ring_id()
        # The ring's store must be a real directory of this account: a link or a directory planted by
        # someone who can write the root (and read the ring id from any backup) would receive the keys.
        existed = os.path.lexists(where)
        if existed and (where.is_symlink() or not where.is_dir() or where.stat().st_uid != os.geteuid()):
            raise RuntimeError(f"the period key directory {where} is not a directory of this account (a link, "
                               "a file, or another account's): remove it, or set MIXUN_PERIOD_KEYS_DIR")
        try:
            where.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(where, 0o700, follow_symlinks=False)
            probe = where / f".probe-{os.getpid()}"
            _write_new(probe, b"")
            probe.unlink()
        except OSError as exc:
            if existed or os.path.lexists(where):
                # The store exists (other processes may be using it): switching this process to the key
                # directory would read every month as missing and make a second key for a new month.
                raise RuntimeError(f"the period key directory {where} is not usable ({exc.strerror or exc}); "
                                   "period keys are kept there, so Mixun stops rather than use another "
                                   "place") from exc
            # No host directory can be made (an unusual account without a home, a read-only mount): keep
            # working from the key directory, loudly - its period keys are then in every backup.
            import logging

            self.fallback = f"{where}: {exc.strerror or exc}"
            logging.getLogger("mixun.keys").warning(
                "period keys kept in the key directory, which backups hold: %s is not usable (%s); set "
                "MIXUN_PERIOD_KEYS_DIR", where, exc.strerror or exc)
            return self.legacy_dir
        self._claim(where)
        self._adopt(where)
        return where

    def _claim(self, where: Path) -> None:
        """Write down which key directory uses this store (``mixun restore`` reads it to tell a drill's
        copy, which gets a store of its own, from the replacement of a lost deployment, which takes the
        store over): when nobody has, or when the one named no longer holds this ring."""
        me = str(self.keys.dir.resolve())
        owner_file = where / OWNER
        try:
            owner = owner_file.read_text().strip()
        except (OSError, UnicodeDecodeError):
            owner = ""
        if owner == me:
            return
        if owner and ring_id_in(Path(owner)) == where.name:
            return  # another live key directory with this ring (a copy by hand, a same-host standby)
        tmp = where / f".owner-{os.getpid()}-{secrets.token_hex(4)}"
        _write_new(tmp, me.encode())
        os.replace(tmp, owner_file)

    def _adopt(self, where: Path) -> None:
        """Move period keys left in the key directory (an older version, a standby mirror, an escrow
        restore) into the host store: each copied whole, then shredded where it was. A key of a month the
        host store already holds differently is left in place and never used (``keys status`` names it)."""
        legacy = self.legacy_dir
        if not legacy.is_dir():
            return
        destroyed = set(self.ring.destroyed_periods())
        for path in sorted(legacy.iterdir()):
            name = path.name
            if name.startswith(".period-"):  # an interrupted write's temporary: holds a key, used by none
                with contextlib.suppress(FileNotFoundError):  # another process adopting meanwhile
                    shred_file(path)
                continue
            if not (name.startswith("period-") and name.endswith(".key")):
                continue
            pid = parse_period_label(name[len("period-"):-len(".key")])
            if pid is not None and pid in destroyed:  # retention destroyed that key here: never back
                with contextlib.suppress(FileNotFoundError):
                    shred_file(path)
                continue
            try:
                material = path.read_bytes()
            except FileNotFoundError:  # another process of the deployment adopted it meanwhile
                continue
            target = where / name
            if not target.exists():
                tmp = where / f".adopt-{os.getpid()}-{secrets.token_hex(4)}"
                _write_new(tmp, material)
                try:
                    os.link(tmp, target)
                except FileExistsError:
                    pass
                finally:
                    tmp.unlink()
                _fsync_dir(where)
            if target.read_bytes() == material:
                with contextlib.suppress(FileNotFoundError):  # shredded by another process meanwhile
                    shred_file(path)
        with contextlib.suppress(OSError):
            legacy.rmdir()  # only when empty

    @property
    def where(self) -> str:
        """Where new period keys are made: ``hsm``, ``ring`` (the shared ring's database) or ``file``."""
        if self.keys.hsm is not None:
            return "hsm"
        return "ring" if self.ring.url else "file"

    def tag(self, group: str) -> str:
        """The opaque tag of a retention group: a keyed hash (HKDF of KEK version 1, which every node holds
        and which is never destroyed), so a unit's path (Chinese, slashes) never shows in a file name or an
        HSM label, and two nodes name the same group alike without asking each other. ``""`` stays ``""``."""
        if not group:
            return ""
        import hmac

        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=b"mixun period group tag v1").derive(self.keys.master)
        return hmac.new(key, group.encode(), "sha256").hexdigest()[:GROUP_TAG_CHARS]

    @staticmethod
    def file_name(period: int, group: str = "") -> str:
        return f"period-{period_label(period, group)}.key"

    def path(self, period: int, group: str = "") -> Path:
        return self.dir / self.file_name(period, group)

    def _in_hsm(self, period: int, group: str = "") -> bool:
        """With an HSM, a period's key is the token's whenever the token holds one: a file of the same
        period key (planted, or left over) is never used then. Only a key made in a file before the HSM
        was configured reads from its file."""
        if self.keys.hsm is None:
            return False
        return not self.path(period, group).exists() or self.keys.hsm.has_period(period, group)

    def where_is(self, period: int, group: str = "") -> str:
        if self.keys.hsm is not None:
            return "hsm" if self._in_hsm(period, group) else "file"
        return "file" if self.path(period, group).exists() else self.where

    def stray_file(self, period: int, protects: int, group: str = "") -> bool:
        """With an HSM: a key file for a period key the token keeps, or one no data key is wrapped under
        yet - never used (``ensure`` makes such a key in the token), and worth a look: nobody but an
        operator with a shell puts one there."""
        return (self.keys.hsm is not None and self.path(period, group).exists()
                and (protects == 0 or self.keys.hsm.has_period(period, group)))

    def present(self) -> list[PeriodId]:
        """(group tag, period) of every period key this store holds."""
        found: set[PeriodId] = set()
        if self.dir.is_dir():
            for p in self.dir.glob("period-*.key"):
                pid = parse_period_label(p.stem.split("-", 1)[1])
                if pid is not None:
                    found.add(pid)
        if self.ring.url:
            found |= {(str(g), int(p)) for g, p in self.ring._db().execute("SELECT grp, period FROM period_keys")}
        if self.keys.hsm is not None:
            found |= set(self.keys.hsm.periods())
        return sorted(found, key=lambda pid: (pid[1], pid[0]))

    def _needed(self, period: int, group: str = "") -> bool:
        """Whether the ring holds data keys wrapped under this period key (then a missing key is lost,
        not new: making another would split the group's month, and the escrow's key could never come back)."""
        return self.ring._db().execute("SELECT 1 FROM data_keys WHERE period = ? AND pgroup = ? AND period_wrapped = 1 "
                                       "LIMIT 1", (period, group)).fetchone() is not None

    def ensure(self, period: int, group: str = "") -> None:
        """Make the period key unless it exists (callers hold the ring's write lock). Never for a (group,
        month) retention destroyed (its tombstone), nor for one whose key is missing while the ring holds
        data keys wrapped under it (a restore without the escrow): ``PeriodKeyGone`` - the key must come
        back from the escrow (``mixun keys import-periods``), a fresh one would make that impossible."""
        db = self.ring._db()
        name = period_label(period, group)
        if db.execute("SELECT 1 FROM destroyed_period_keys WHERE grp = ? AND period = ?",
                      (group, period)).fetchone() is not None:
            self._material.pop((group, period), None)
            raise PeriodKeyGone(f"the period key {name} was destroyed by retention: it is not made again")
        hsm = self.keys.hsm
        if hsm is not None:
            # Only in the token: a file is used only for a key made in files before the HSM (data keys
            # are wrapped under it); a file for any other is ignored (``keys status`` flags it).
            if hsm.has_period(period, group) or (self.path(period, group).exists() and self._needed(period, group)):
                return
            if self._needed(period, group):
                raise PeriodKeyGone(f"the period key {name} is not in the HSM, and data keys are wrapped under it")
            hsm.ensure_period(period, group)
            return
        if (group, period) in self._material or self.path(period, group).exists():
            return
        if self.ring.url and db.execute("SELECT 1 FROM period_keys WHERE grp = ? AND period = ?",
                                        (group, period)).fetchone():
            return
        if self._needed(period, group):
            raise PeriodKeyGone(f"the period key {name} is not in this key store, and data keys are wrapped under "
                                "it: restore it from the escrow (mixun keys import-periods)")
        if self.ring.url:
            self.ring._db().execute("INSERT INTO period_keys (grp, period, material, created_at) VALUES (?, ?, ?, ?) "
                                    "ON CONFLICT (grp, period) DO NOTHING",
                                    (group, period, secrets.token_bytes(32), datetime.now(UTC).isoformat()))
        else:
            self._write(period, secrets.token_bytes(32), group)

    def _write(self, period: int, material: bytes, group: str = "") -> bool:
        """The key file written whole or not at all (a temporary, then a hard link that fails if another
        process got there first). True when this call wrote it."""
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        tmp = self.dir / f".period-{period_label(period, group)}.{os.getpid()}.{secrets.token_hex(4)}"
        _write_new(tmp, material)
        try:
            os.link(tmp, self.path(period, group))
            wrote = True
        except FileExistsError:
            wrote = False
        finally:
            tmp.unlink()
        _fsync_dir(self.dir)
        return wrote

    def _forget_destroyed(self) -> None:
        """Drop from this process's cache the bytes of every period key another process destroyed since
        the last look (one count of the ring's tombstones when the cache holds anything)."""
        if not self._material:
            return
        db = self.ring._db()
        n = int(db.execute("SELECT count(*) FROM destroyed_period_keys").fetchone()[0])
        if n != self._tombstones_seen:
            gone = {(str(g), int(p)) for g, p in db.execute("SELECT grp, period FROM destroyed_period_keys")}
            for pid in list(self._material):
                if pid in gone:
                    del self._material[pid]
            self._tombstones_seen = n

    def material(self, period: int, group: str = "") -> bytes:
        """The key bytes of a period key kept in a file or the ring database (not an HSM's)."""
        self._forget_destroyed()
        key = self._material.get((group, period))
        if key is not None:
            return key
        name = period_label(period, group)
        try:
            key = self.path(period, group).read_bytes()
        except FileNotFoundError:
            key = None
            if self.ring.url:
                row = self.ring._db().execute("SELECT material FROM period_keys WHERE grp = ? AND period = ?",
                                              (group, period)).fetchone()
                key = bytes(row[0]) if row is not None else None
            if key is None:
                raise PeriodKeyGone(f"period key {name} is not in this key store") from None
        if len(key) != 32:
            raise RuntimeError(f"period key {name} is not 32 bytes")
        self._material[(group, period)] = key
        return key

    @staticmethod
    def _aad(header: bytes, scope: str) -> bytes:
        return header + b"period-dek:" + scope.encode()

    def wrap(self, period: int, dek: bytes, scope: str, group: str = "") -> bytes:
        """``dek`` wrapped under the (group, period)'s key (made first when missing), bound to its scope.
        The month-wide key (group ``""``) writes the format of before groups."""
        self.ensure(period, group)
        in_hsm = self._in_hsm(period, group)
        alg = ALG_AES if in_hsm else self.keys.alg
        if group:
            header = _GROUP_WRAPPED + period.to_bytes(4, "big") + bytes([len(group)]) + group.encode() + bytes([alg])
        else:
            header = _PERIOD_WRAPPED + period.to_bytes(4, "big") + bytes([alg])
        nonce = secrets.token_bytes(12)
        if in_hsm:
            assert self.keys.hsm is not None
            body = self.keys.hsm.period_encrypt(period, nonce, dek, self._aad(header, scope), group)
        else:
            body = _encrypt(alg, _kek_for(alg, self.material(period, group)), nonce, dek, self._aad(header, scope))
        return header + nonce + body

    @staticmethod
    def _split(blob: bytes) -> tuple[str, int, bytes, int, bytes, bytes]:
        """(group, period, header, alg, nonce, sealed) of a period-wrapped blob."""
        if blob[:1] == _PERIOD_WRAPPED and len(blob) >= 6 + 12 + 16:
            return "", int.from_bytes(blob[1:5], "big"), blob[:6], blob[5], blob[6:18], blob[18:]
        if blob[:1] == _GROUP_WRAPPED and len(blob) > 6:
            n = blob[5]
            end = 6 + n + 1
            if len(blob) >= end + 12 + 16:
                return (blob[6:6 + n].decode("ascii"), int.from_bytes(blob[1:5], "big"), blob[:end], blob[end - 1],
                        blob[end:end + 12], blob[end + 12:])
        raise ValueError("not a period-wrapped key")

    @classmethod
    def period_of_wrapped(cls, blob: bytes) -> int:
        return cls._split(blob)[1]

    def unwrap(self, blob: bytes, scope: str) -> bytes:
        """The data key inside a period-wrapped blob; ``PeriodKeyGone`` when its period key is not here."""
        group, period, header, alg, nonce, sealed = self._split(blob)
        if self._in_hsm(period, group):
            assert self.keys.hsm is not None
            return self.keys.hsm.period_decrypt(period, nonce, sealed, self._aad(header, scope), group)
        return _decrypt(alg, _kek_for(alg, self.material(period, group)), nonce, sealed, self._aad(header, scope))

    def destroy(self, period: int, group: str = "") -> None:
        """The period key gone from this store: a file overwritten, fsynced and removed; a row of the
        ring database deleted (vacuumed by the caller); an HSM object destroyed in the token."""
        self._material.pop((group, period), None)
        path = self.path(period, group)
        # A temporary ``_write`` left behind (a process killed between writing and linking) holds the key too.
        leftovers = (list(self.dir.glob(f".period-{period_label(period, group)}.*")) if self.dir.is_dir() else [])
        for p in [path, *leftovers]:
            if p.exists():
                shred_file(p)
        if self.dir.is_dir():
            _fsync_dir(self.dir)
        if not self.fallback:
            # Copies of this deployment restored on this host (``mixun restore`` gives each a store of its
            # own, copied from this one, ADR 0020): what retention destroys here is destroyed there too.
            for store in derived_stores(self.dir):
                for p in [store / path.name, *store.glob(f".period-{period_label(period, group)}.*")]:
                    if p.exists() and not p.is_symlink():
                        shred_file(p)
        if self.ring.url:
            self.ring._db().execute("DELETE FROM period_keys WHERE grp = ? AND period = ?", (group, period))
        if self.keys.hsm is not None:
            self.keys.hsm.destroy_period(period, group)

    def export(self) -> tuple[dict[PeriodId, bytes], list[PeriodId]]:
        """({(group, period): key bytes} of every period key kept in a file or the ring database,
        [(group, period) of the keys in the HSM], which cannot leave it)."""
        out: dict[PeriodId, bytes] = {}
        in_hsm: list[PeriodId] = []
        for group, period in self.present():
            if self._in_hsm(period, group):
                in_hsm.append((group, period))
            else:
                out[(group, period)] = self.material(period, group)
        return out, in_hsm

    def load(self, period: int, material: bytes, group: str = "") -> bool:
        """Put back a period key from an escrow: True when written, False when it was already here (the
        same key); a different key for the period is refused."""
        if len(material) != 32:
            raise ValueError(f"period key {period_label(period, group)} is not 32 bytes")
        try:
            have = self.material(period, group)
        except PeriodKeyGone:
            have = None
        if have is not None:
            if have != material:
                raise ValueError(f"a different key for period {period_label(period, group)} is already here")
            return False
        if self.ring.url and self.keys.hsm is None:
            self.ring._db().execute("INSERT INTO period_keys (grp, period, material, created_at) VALUES (?, ?, ?, ?) "
                                    "ON CONFLICT (grp, period) DO NOTHING",
                                    (group, period, material, datetime.now(UTC).isoformat()))
            return True
        return self._write(period, material, group)


class DataKeyRing:
    """Data keys of message text, one per (scope, period) - a scope is ``c:<conversation id>``, a period a
    calendar month - each wrapped by a KEK, kept in the key directory (``keys/datakeys.db``, SQLite, 0600)
    and never in the database. The database holds only sealed texts naming their key's id, so neither the
    database nor a backup of it reads without this file. Destroying a key here (crypto-shredding) reaches
    every copy of the database; a conversation's key is also wrapped under its month's period key
    (``PeriodKeys``, kept outside every backup), so destroying that once the whole month is destroyed
    reaches the copies of this ring inside old backups too (ADR 0020).

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
        self.periods = PeriodKeys(self)

    @staticmethod
    def period_wrapped_scope(scope: str) -> bool:
        """Conversations' keys are wrapped under period keys (crypto-shredding destroys them); the ``dlp``
        and ``notify`` scopes' keys are never destroyed, so they stay under the KEK alone (a period key they
        needed could never be destroyed)."""
        return scope.startswith("c:")

    def _wrap_new(self, scope: str, period: int, dek: bytes, group: str = "") -> tuple[bytes, int]:
        """(what the ring stores, 1 when period-wrapped) for a new data key; ``group`` the period key's tag."""
        if self.period_wrapped_scope(scope):
            return self.keys.wrap(self.periods.wrap(period, dek, scope, group), self.keys.current_version()), 1
        return self.keys.wrap(dek, self.keys.current_version()), 0

    def _unwrap_row(self, wrapped: bytes, period_wrapped: int, scope: str) -> bytes:
        inner = self.keys.unwrap(bytes(wrapped))
        return self.periods.unwrap(inner, scope) if period_wrapped else inner

    def ring_id(self) -> str:
        """This ring's own name, made once and kept in the ring (so a backup's copy of the ring carries
        it): where its period keys are filed on a host."""
        with self._lock:
            value = str(self._db().execute("SELECT value FROM ring_meta WHERE name = 'ring_id'").fetchone()[0])
        # A path component under the host's period key directory: whoever can write the ring (a shared
        # ring's database administrator, a planted file) must not name another directory with it
        # ("/etc", "../..": made, chmodded 0700, filled with and shredded of key files).
        if not re.fullmatch(r"[0-9a-f]{16}", value):
            raise RuntimeError(f"the key ring's id {value[:40]!r} is not one Mixun makes (16 hex digits): "
                               "the ring was changed by hand")
        return value

    def _db(self) -> _RingDB:
        if self._conn is None or self._pid != os.getpid():
            self._conn = _RingDB.open(self.url, self.path)
            self._pid = os.getpid()
            self._by_scope, self._by_id = {}, {}
        return self._conn

    # ---- making and finding keys --------------------------------------------------------------------

    def _groups(self, missing: list[tuple[str, int]],
                group_of: Callable[[list[int]], dict[int, str]] | None) -> dict[str, tuple[str, str]]:
        """{scope: (group tag, group name)} for the conversations among ``missing`` whose key is not in the
        ring yet: ``group_of`` (the retention rules, services/texts.py) names each conversation's group;
        without it, or for a conversation it does not name, the month-wide key (group ``""``). Asked
        outside the ring's write lock (it reads the content database)."""
        convs = sorted({int(sc[2:]) for sc, _p in missing if self.period_wrapped_scope(sc) and sc[2:].isdigit()})
        if group_of is None or not convs:
            return {}
        db = self._db()
        new = [c for c in convs if any(db.execute("SELECT 1 FROM data_keys WHERE scope = ? AND period = ?",
                                                  (f"c:{c}", p)).fetchone() is None
                                       for sc, p in missing if sc == f"c:{c}")]
        if not new:
            return {}
        names = group_of(new)
        return {f"c:{c}": (self.periods.tag(names[c]), names[c]) for c in new if names.get(c)}

    def keys_for(self, wanted: Iterable[tuple[str, int]],
                 group_of: Callable[[list[int]], dict[int, str]] | None = None
                 ) -> dict[tuple[str, int], tuple[int, bytes]]:
        """(key id, plain data key) for each (scope, period), made when missing - a conversation's under the
        period key of the retention group ``group_of`` names for it (ADR 0020, "Groups")."""
        with self._lock:
            if self._pid != os.getpid():
                self._db()
            out = {w: self._by_scope[w] for w in wanted if w in self._by_scope}
            missing = [w for w in set(wanted) if w not in out]
            if not missing:
                return out
            groups = self._groups(missing, group_of)
            db = self._db()
            db.begin()
            try:
                for scope, period in missing:
                    row = db.execute("SELECT id, wrapped, period_wrapped FROM data_keys WHERE scope = ? AND "
                                     "period = ?", (scope, period)).fetchone()
                    if row is not None:
                        try:
                            key_id, dek = int(row[0]), self._unwrap_row(row[1], row[2], scope)
                        except PeriodKeyGone:
                            raise PeriodKeyGone(
                                f"the period key of {period} (group {groups.get(scope, ('', ''))[1] or '-'}) is not in this key store, so the data key of "
                                f"{scope} in {period} cannot be used: restore the period keys' escrow "
                                "(mixun keys import-periods), or the period was destroyed by retention") from None
                    else:
                        dek = secrets.token_bytes(_KEY_BYTES[self.keys.alg])
                        tag, name = groups.get(scope, ("", ""))
                        if tag:
                            db.execute("INSERT INTO period_groups (tag, name) VALUES (?, ?) ON CONFLICT (tag) "
                                       "DO NOTHING", (tag, name))
                        wrapped, pw = self._wrap_new(scope, period, dek, tag)
                        key_id = secrets.randbits(62) + 1
                        db.execute("INSERT INTO data_keys (id, scope, period, wrapped, kek_version, created_at, "
                                   "period_wrapped, pgroup) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                   (key_id, scope, period, wrapped, self.keys.wrapped_version(wrapped),
                                    datetime.now(UTC).isoformat(), pw, tag if pw else ""))
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
                row = self._db().execute("SELECT wrapped, period_wrapped, scope FROM data_keys WHERE id = ?",
                                         (key_id,)).fetchone()
                if row is None:
                    return None
                try:
                    dek = self._unwrap_row(row[0], row[1], row[2])
                except PeriodKeyGone:  # its month's period key was destroyed (or never restored here)
                    return None
                self._by_id[key_id] = dek
            return dek

    def was_destroyed(self, key_id: int) -> bool:
        with self._lock:
            db = self._db()
            if db.execute("SELECT 1 FROM destroyed_keys WHERE id = ?", (key_id,)).fetchone() is not None:
                return True
            row = db.execute("SELECT period, pgroup FROM data_keys WHERE id = ? AND period_wrapped = 1",
                             (key_id,)).fetchone()
            return (row is not None and (str(row[1]), int(row[0])) not in self.periods.present()
                    and db.execute("SELECT 1 FROM destroyed_period_keys WHERE grp = ? AND period = ?",
                                   (row[1], row[0])).fetchone() is not None)

    # ---- sealing text -------------------------------------------------------------------------------

    def seal_many(self, items: list[tuple[str, int, str]],
                  group_of: Callable[[list[int]], dict[int, str]] | None = None) -> list[str]:
        """Sealed texts of (scope, period, text) items, in order (empty texts stay empty); ``group_of`` names
        the retention group of a conversation whose key is made now (``keys_for``)."""
        keys = self.keys_for({(scope, period) for scope, period, text in items if text}, group_of)
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

    def group_names(self) -> dict[str, str]:
        """{group tag: retention group name} of every group a period key was made for."""
        with self._lock:
            return {str(t): str(n) for t, n in self._db().execute("SELECT tag, name FROM period_groups")}

    def period_key_of(self, scope: str, period: int) -> PeriodId | None:
        """(group tag, period) of the period key a data key is wrapped under; None when it is not (KEK
        alone, or no such key)."""
        with self._lock:
            row = self._db().execute("SELECT pgroup FROM data_keys WHERE scope = ? AND period = ? AND "
                                     "period_wrapped = 1", (scope, period)).fetchone()
            return (str(row[0]), period) if row is not None else None

    def regroup(self, scope: str, group: str) -> int:
        """Move a conversation's period-wrapped data keys under the period keys of ``group`` (a legal hold
        placed on it: ``hold:<id>``), so that, kept, it no longer keeps its old group's keys alive. Only
        the wrapping changes; a key whose period key is not here is left where it is. Old backups still
        hold the old wrapping: that copy goes when the old group's month is spent. Returns the keys moved."""
        tag = self.periods.tag(group)
        moved = 0
        with self._lock:
            db = self._db()
            db.begin()
            try:
                db.execute("INSERT INTO period_groups (tag, name) VALUES (?, ?) ON CONFLICT (tag) DO NOTHING",
                           (tag, group))
                rows = db.execute("SELECT id, period, wrapped FROM data_keys WHERE scope = ? AND period_wrapped = 1 "
                                  "AND pgroup != ?", (scope, tag)).fetchall()
                version = self.keys.current_version()
                for key_id, period, wrapped in rows:
                    try:
                        dek = self.periods.unwrap(self.keys.unwrap(bytes(wrapped)), scope)
                        again = self.keys.wrap(self.periods.wrap(int(period), dek, scope, tag), version)
                    except PeriodKeyGone:
                        continue
                    moved += db.execute("UPDATE data_keys SET wrapped = ?, kek_version = ?, pgroup = ? WHERE id = ? "
                                        "AND wrapped = ?", (again, self.keys.wrapped_version(again), tag, key_id,
                                                            bytes(wrapped))).rowcount
                db.commit()
            except BaseException:
                db.rollback()
                raise
        return moved

    def period_status(self) -> list[dict[str, Any]]:
        """Each period key (retention group, month) the ring or the period store knows: whether it is here,
        where, how many conversations' data keys it wraps, how many of that month's conversation keys are
        still under the KEK alone (from before period keys: counted on the month-wide key, which the next
        rotation wraps them under), and when it was destroyed."""
        with self._lock:
            db = self._db()
            wraps = {(str(g), int(p)): int(n) for g, p, n in db.execute(
                "SELECT pgroup, period, count(*) FROM data_keys WHERE period_wrapped = 1 GROUP BY pgroup, period")}
            legacy = {("", int(p)): int(n) for p, n in db.execute(
                "SELECT period, count(*) FROM data_keys WHERE period_wrapped = 0 AND substr(scope, 1, 2) = 'c:' GROUP BY period")}
            destroyed = {(str(g), int(p)): str(at) for g, p, at in db.execute(
                "SELECT grp, period, destroyed_at FROM destroyed_period_keys")}
            names = {str(t): str(n) for t, n in db.execute("SELECT tag, name FROM period_groups")}
            present = set(self.periods.present())
        out = []
        for pid in sorted(present | set(wraps) | set(legacy) | set(destroyed), key=lambda pid: (pid[1], pid[0])):
            group, period = pid
            here = pid in present
            out.append({"period": period, "group": group, "group_name": names.get(group, ""),
                        "label": period_label(period, group), "present": here,
                        "state": "present" if here else ("destroyed" if pid in destroyed else "missing"),
                        "where": self.periods.where_is(period, group) if here else None,
                        "protects": wraps.get(pid, 0), "legacy": legacy.get(pid, 0),
                        "destroyed_at": destroyed.get(pid),
                        "stray_file": self.periods.stray_file(period, wraps.get(pid, 0), group)})
        return out

    def destroy_spent_periods(self, before: int, reason: str) -> list[PeriodId]:
        """Destroy every period key (retention group, month) of a month before ``before`` that no
        conversation's data key in the ring needs any more - none wrapped under it left; for a month-wide
        key (group ``""``) none of the month's conversation keys still under the KEK alone either (a key
        from before period keys, say of a held conversation, would be wrapped under it by the next
        rotation): every backup's copy of those ring entries becomes unreadable. A group's key is spent
        whatever the group's policy is now: what counts is what is wrapped under it. The tombstones are
        checked and committed under the ring's write lock first (from then on no process makes that key:
        ``PeriodKeys.ensure`` refuses, and an escrow import checks under the same lock), then the keys are
        destroyed; a run also destroys any tombstoned key still present (a run that failed between the
        two), so a destroyed key never looks merely missing, which an escrow could fill again. Returns the
        (group tag, period) destroyed."""
        with self._lock:
            db = self._db()
            gone: list[PeriodId] = []
            db.begin()
            try:
                present = self.periods.present()  # under the lock: an import committed before is seen
                tombstoned = {(str(g), int(p)) for g, p in db.execute("SELECT grp, period FROM destroyed_period_keys")}
                now = datetime.now(UTC).isoformat()
                for group, period in present:
                    if period >= before or (group, period) in tombstoned:
                        continue
                    if db.execute("SELECT 1 FROM data_keys WHERE period = ? AND pgroup = ? AND "
                                  "substr(scope, 1, 2) = 'c:' LIMIT 1", (period, group)).fetchone() is not None:
                        continue
                    db.execute("INSERT INTO destroyed_period_keys (grp, period, destroyed_at, reason) "
                               "VALUES (?, ?, ?, ?)", (group, period, now, reason))
                    gone.append((group, period))
                db.commit()
            except BaseException:
                db.rollback()
                raise
            gone = sorted(set(gone) | {pid for pid in present if pid in tombstoned}, key=lambda pid: (pid[1], pid[0]))
            for group, period in gone:
                self.periods.destroy(period, group)
            if gone and self.url:
                db.execute("VACUUM period_keys")
            return gone

    def ensure_periods(self, periods: Iterable[int]) -> None:
        """Make these months' keys now (under the ring's write lock) unless they exist - the month-wide key
        and every retention group's the ring knows: the escrow taken next then covers the months ahead
        too (a group first met later is not in it: take the escrow again)."""
        with self._lock:
            db = self._db()
            db.begin()
            try:
                groups = ["", *sorted(str(r[0]) for r in db.execute("SELECT tag FROM period_groups"))]
                for period in periods:
                    for group in groups:
                        self.periods.ensure(period, group)
                db.commit()
            except BaseException:
                db.rollback()
                raise

    def destroyed_periods(self) -> set[PeriodId]:
        """(group tag, period) of every period key retention destroyed here."""
        with self._lock:
            return {(str(g), int(p)) for g, p in self._db().execute("SELECT grp, period FROM destroyed_period_keys")}

    def load_periods(self, escrow: dict[PeriodId, bytes], written: list[PeriodId] | None = None
                     ) -> dict[str, list[PeriodId]]:
        """Put an escrow's period keys into the store under the ring's write lock, the tombstones read
        inside it (a retention run destroying one meanwhile either committed its tombstone first - the key
        is not brought back - or waits and sees the key). A key already here (the same bytes) is left;
        a destroyed one is not brought back; every entry is checked first (32 bytes, no different key
        here): one bad entry refuses the whole escrow (ValueError) before anything is written."""
        with self._lock:
            db = self._db()
            db.begin()
            try:
                destroyed = {(str(g), int(p)) for g, p in db.execute("SELECT grp, period FROM destroyed_period_keys")}
                todo: list[PeriodId] = []
                present: list[PeriodId] = []
                refused: list[PeriodId] = []
                for pid, material in sorted(escrow.items(), key=lambda kv: (kv[0][1], kv[0][0])):
                    group, period = pid
                    if pid in destroyed:
                        refused.append(pid)
                        continue
                    if len(material) != 32:
                        raise ValueError(f"period key {period_label(period, group)} in the escrow is not 32 bytes: "
                                         "nothing was imported")
                    try:
                        have = self.periods.material(period, group)
                    except PeriodKeyGone:
                        have = None
                    if have is not None and have != material:
                        raise ValueError(f"a different key for period {period_label(period, group)} is already "
                                         "here: nothing was imported")
                    (present if have is not None else todo).append(pid)
                loaded = written if written is not None else []
                for group, period in todo:
                    if self.periods.load(period, escrow[(group, period)], group):
                        loaded.append((group, period))
                    else:
                        present.append((group, period))
                db.commit()
            except BaseException:
                db.rollback()
                raise
        return {"loaded": sorted(loaded, key=lambda pid: (pid[1], pid[0])),
                "already_present": sorted(present, key=lambda pid: (pid[1], pid[0])),
                "destroyed_not_loaded": refused}

    def versions(self) -> dict[int, int]:
        """{KEK version: number of data keys it wraps}."""
        with self._lock:
            return {int(v): int(n) for v, n in
                    self._db().execute("SELECT kek_version, count(*) FROM data_keys GROUP BY kek_version")}

    # Rows a rotation to ``version`` still has to rewrite: under another KEK, or a conversation's key from
    # before period keys (wrapped by the KEK alone: the rotation wraps it under its period key as well).
    # A month whose period key retention destroyed is left out of the second part: its keys (there should
    # be none) stay under the KEK alone - no period key of that month is made again (ADR 0020).
    _TODO = ("(kek_version != ? OR (period_wrapped = 0 AND substr(scope, 1, 2) = 'c:' "
             "AND period NOT IN (SELECT period FROM destroyed_period_keys WHERE grp = '')))")

    def pending(self, version: int) -> int:
        with self._lock:
            row = self._db().execute(f"SELECT count(*) FROM data_keys WHERE {self._TODO}", (version,)).fetchone()
            return int(row[0])

    def _rewrapped(self, wrapped: bytes, period_wrapped: int, scope: str, period: int,
                   version: int, group: str) -> tuple[bytes, int, str]:
        """A row's key under KEK ``version``, a conversation's key also under a period key (a key from
        before period keys: the month-wide one, group ``""``): only the wrapping changes (the plain data
        key, and the texts, do not). Returns (wrapped, period_wrapped, group tag)."""
        inner = self.keys.unwrap(wrapped)
        if not period_wrapped and self.period_wrapped_scope(scope):
            try:
                return self.keys.wrap(self.periods.wrap(period, inner, scope), version), 1, ""
            except PeriodKeyGone:  # a destroyed month (or one whose key awaits its escrow): KEK alone
                pass
        return self.keys.wrap(inner, version), period_wrapped, group

    def rewrap(self, version: int, batch: int = 500, progress: Callable[[int], None] | None = None,
               should_stop: Callable[[], bool] | None = None) -> tuple[int, bool]:
        """Rewrap every data key not under KEK ``version``, ``batch`` keys a transaction; (done, stopped).
        A key destroyed meanwhile stays destroyed; the plain keys (and the texts) do not change."""
        done = 0
        after = 0
        while True:
            with self._lock:
                db = self._db()
                rows = db.execute(f"SELECT id, wrapped, period_wrapped, scope, period, pgroup FROM data_keys WHERE "
                                  f"{self._TODO} AND id > ? ORDER BY id LIMIT ?", (version, after, batch)).fetchall()
                if not rows:
                    return done, False
                after = int(rows[-1][0])
                db.begin()
                try:
                    new = [(*self._rewrapped(bytes(w), int(pw), str(sc), int(pe), version, str(g)), int(i), bytes(w))
                           for i, w, pw, sc, pe, g in rows]  # period keys made under the ring's write lock
                    for wrapped, pw, group, key_id, old in new:
                        cur = db.execute("UPDATE data_keys SET wrapped = ?, kek_version = ?, period_wrapped = ?, "
                                         "pgroup = ? WHERE id = ? AND wrapped = ?",
                                         (wrapped, version, pw, group, key_id, old))
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
               "period INTEGER NOT NULL, destroyed_at TEXT NOT NULL, reason TEXT NOT NULL)",
               "CREATE TABLE IF NOT EXISTS destroyed_periods (period INTEGER PRIMARY KEY, "
               "destroyed_at TEXT NOT NULL, reason TEXT NOT NULL)",
               "CREATE TABLE IF NOT EXISTS ring_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
               # Period keys per (retention group, month), ADR 0020 "Groups": the tombstones name the group's
               # tag ('' the month-wide key of before); the tags' names, for ``keys status``.
               "CREATE TABLE IF NOT EXISTS destroyed_period_keys (grp TEXT NOT NULL, period INTEGER NOT NULL, "
               "destroyed_at TEXT NOT NULL, reason TEXT NOT NULL, PRIMARY KEY (grp, period))",
               "CREATE TABLE IF NOT EXISTS period_groups (tag TEXT PRIMARY KEY, name TEXT NOT NULL)")
    # The month-wide tombstones of before groups, carried into the per-group table (idempotent; the old table
    # is kept, no longer written).
    _CARRY_TOMBSTONES = ("INSERT INTO destroyed_period_keys (grp, period, destroyed_at, reason) SELECT '', period, "
                         "destroyed_at, reason FROM destroyed_periods WHERE true ON CONFLICT (grp, period) DO NOTHING")
    # The tag of the period key a row's key is wrapped under ('' the month-wide key, or not period-wrapped).
    _GROUP_COLUMN = "ALTER TABLE data_keys ADD COLUMN {if_not_exists}pgroup TEXT NOT NULL DEFAULT ''"
    # 1 when the row's key is wrapped under its month's period key inside the KEK wrapping (ADR 0020); rings
    # from before have 0 everywhere and read as before, and the next rotation wraps their conversations'
    # keys under period keys too.
    _PERIOD_COLUMN = "ALTER TABLE data_keys ADD COLUMN {if_not_exists}period_wrapped INTEGER NOT NULL DEFAULT 0"
    # Period keys of a shared ring without an HSM (the SQLite ring never holds any: it is in every backup).
    _PG_PERIODS = ("CREATE TABLE IF NOT EXISTS period_keys (grp TEXT NOT NULL DEFAULT '', period INTEGER NOT NULL, "
                   "material BYTEA NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (grp, period))")
    # A table made before groups: keyed by the period alone; its rows are the month-wide keys (grp '').
    _PG_PERIODS_GROUPED = ("ALTER TABLE period_keys ADD COLUMN grp TEXT NOT NULL DEFAULT ''",
                           "ALTER TABLE period_keys DROP CONSTRAINT IF EXISTS period_keys_pkey",
                           "ALTER TABLE period_keys ADD PRIMARY KEY (grp, period)")

    # The ring's id (where its period keys are filed on a host), made once when the ring is first opened -
    # outside any transaction, so a rolled-back write can never lose it after a process has used it.
    _RING_ID = "INSERT INTO ring_meta (name, value) VALUES ('ring_id', ?) ON CONFLICT (name) DO NOTHING"

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
                ring.execute(cls._PERIOD_COLUMN.format(if_not_exists="IF NOT EXISTS "))
                ring.execute(cls._GROUP_COLUMN.format(if_not_exists="IF NOT EXISTS "))
                ring.execute(cls._PG_PERIODS)
                ring.execute(cls._RING_ID, (secrets.token_hex(8),))
                if ring.execute("SELECT 1 FROM information_schema.columns WHERE table_name = 'period_keys' AND "
                                "column_name = 'grp' AND table_schema = current_schema()").fetchone() is None:
                    ring.execute("BEGIN")
                    for stmt in cls._PG_PERIODS_GROUPED:
                        ring.execute(stmt)
                    ring.execute("COMMIT")
                ring.execute(cls._CARRY_TOMBSTONES)
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
        have = {r[1] for r in lite.execute("PRAGMA table_info(data_keys)")}
        for column, stmt in (("period_wrapped", cls._PERIOD_COLUMN), ("pgroup", cls._GROUP_COLUMN)):
            if column not in have:
                try:  # online: a column with a default, added once (another process may win the race)
                    lite.execute(stmt.format(if_not_exists=""))
                except sqlite3.OperationalError as exc:
                    if "duplicate column" not in str(exc):
                        raise
        if lite.execute("SELECT 1 FROM destroyed_periods LIMIT 1").fetchone() is not None:
            lite.execute(cls._CARRY_TOMBSTONES)
        lite.execute(cls._RING_ID, (secrets.token_hex(8),))
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
    root = Path(settings.period_keys_dir) if getattr(settings, "period_keys_dir", "") else None
    store = KeyStore(settings.key_file, settings.cipher, hsm, periods_root=root)
    store.ring_url = getattr(settings, "keyring_url", "") or None
    return store
