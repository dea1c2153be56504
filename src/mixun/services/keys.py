"""Key-encryption keys: what each version protects, rotation online, destruction of retired versions.

Rotation makes a new KEK and moves the pointer to it first (every process wraps new data keys with it
from then on), then rewraps every stored data key in batches of one transaction each. What a data key
protects (a file's bytes, a two-factor secret, a DLP original) is never re-encrypted: only its wrapping
changes. A batch that loses a race with a concurrent change leaves that row for the next pass; an
interrupted rotation leaves every row readable (under the old or the new version) and a second
`mixun keys rotate` finishes the work under a newer version.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from mixun.db.models import Attachment, MessageVersion, User
from mixun.db.models_archive import RekeyPermit
from mixun.errors import MixunError
from mixun.keystore import CIPHER_NAMES, KeyStore
from mixun.services import audit
from mixun.services.runtime import Ctx, Runtime

BATCH = 500


@dataclass(frozen=True)
class Target:
    """A column holding wrapped data keys: ``wrapped`` a bare wrapped key, ``small`` an encrypt_small blob."""

    name: str
    label: str
    pk: InstrumentedAttribute[Any]
    column: InstrumentedAttribute[Any]
    form: str
    archive: bool = False


TARGETS: tuple[Target, ...] = (
    Target("attachments", "文件与图片 files and images", Attachment.id, Attachment.data_key_wrapped, "wrapped"),
    Target("totp_secrets", "两步验证密钥 two-factor secrets", User.id, User.totp_secret_enc, "small"),
    Target("dlp_originals", "脱敏前原文 DLP originals", MessageVersion.id, MessageVersion.original_enc, "small",
           archive=True),
)


def _version(keys: KeyStore, target: Target, value: bytes) -> int:
    return keys.wrapped_version(value) if target.form == "wrapped" else keys.small_version(value)


def _rewrap(keys: KeyStore, target: Target, value: bytes, version: int) -> bytes:
    return keys.rewrap(value, version) if target.form == "wrapped" else keys.rewrap_small(value, version)


def _rows(s: Session, target: Target, after: int, limit: int) -> list[tuple[int, bytes]]:
    rows = s.execute(select(target.pk, target.column).where(target.column.is_not(None), target.pk > after)
                     .order_by(target.pk).limit(limit)).all()
    return [(int(pk), bytes(value)) for pk, value in rows]


def status(rt: Runtime) -> dict[str, Any]:
    """Each KEK version: present, current, and how many data keys of each kind it wraps."""
    keys = rt.keys
    current = keys.current_version()
    counts: dict[int, dict[str, int]] = {}
    unreadable = 0
    with rt.db.read() as s:
        for target in TARGETS:
            after = 0
            while rows := _rows(s, target, after, 5000):
                for _pk, value in rows:
                    try:
                        v = _version(keys, target, value)
                    except ValueError:
                        unreadable += 1
                        continue
                    per = counts.setdefault(v, {})
                    per[target.name] = per.get(target.name, 0) + 1
                after = rows[-1][0]
    versions = sorted(set(keys.versions()) | set(counts))
    present = set(keys.versions())
    return {
        "current": current,
        "cipher": CIPHER_NAMES[keys.alg],
        "provider": "pkcs11" if keys.hsm is not None else "file",
        "versions": [{"version": v, "current": v == current, "present": v in present,
                      "where": "hsm" if keys.in_hsm(v) else "file",
                      "protects": {t.name: counts.get(v, {}).get(t.name, 0) for t in TARGETS},
                      "total": sum(counts.get(v, {}).values())} for v in versions],
        "labels": {t.name: t.label for t in TARGETS},
        "unreadable": unreadable,
    }


def _permit(s: Session) -> None:
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SET LOCAL mixun.rekey = 'on'"))
    else:
        s.add(RekeyPermit(id=1))
        s.flush()


def _close_permit(s: Session) -> None:
    if s.get_bind().dialect.name != "postgresql":
        s.execute(delete(RekeyPermit))


def _pending(rt: Runtime, version: int) -> int:
    n = 0
    with rt.db.read() as s:
        for target in TARGETS:
            after = 0
            while rows := _rows(s, target, after, 5000):
                n += sum(1 for _pk, value in rows if _version(rt.keys, target, value) != version)
                after = rows[-1][0]
    return n


def rotate(ctx: Ctx, progress: Callable[[int, int], None] | None = None,
           should_stop: Callable[[], bool] | None = None) -> dict[str, Any]:
    """A new KEK, then every data key not under it rewrapped; returns versions and counts."""
    rt = ctx.rt
    keys = rt.keys
    before = keys.current_version()
    version = keys.create_kek()
    with rt.db.write() as s:
        audit.record(s, ctx, "keys.rotation_started", target=f"kek:{version}", previous=before)
    total = _pending(rt, version)
    done = skipped = 0
    stopped = False
    if progress:
        progress(0, total)
    for target in TARGETS:
        after = 0
        while not stopped:
            with rt.db.read() as s:
                rows = _rows(s, target, after, BATCH)
            if not rows:
                break
            after = rows[-1][0]
            todo = [(pk, value) for pk, value in rows if _version(keys, target, value) != version]
            if not todo:
                continue
            with rt.db.write() as s:
                if target.archive:
                    _permit(s)
                for pk, old in todo:
                    res = s.execute(update(target.pk.class_).where(target.pk == pk, target.column == old)
                                    .values({target.column.key: _rewrap(keys, target, old, version)})
                                    .execution_options(synchronize_session=False))
                    if res.rowcount == 1:  # type: ignore[attr-defined]
                        done += 1
                    else:  # changed meanwhile (a re-enrolled secret): whatever is there now is newer
                        skipped += 1
                if target.archive:
                    _close_permit(s)
            if progress:
                progress(done + skipped, total)
            if should_stop and should_stop():
                stopped = True
    left = _pending(rt, version)
    result = {"version": version, "previous": before, "rewrapped": done, "changed_meanwhile": skipped,
              "left": left, "interrupted": stopped, "cipher": CIPHER_NAMES[keys.alg]}
    with rt.db.write() as s:
        audit.record(s, ctx, "keys.rotated" if not stopped else "keys.rotation_interrupted",
                     target=f"kek:{version}", previous=before, rewrapped=done, left=left)
    return result


def destroy(ctx: Ctx, version: int) -> dict[str, Any]:
    """Destroy a retired KEK that wraps nothing any more (refused for the current one and for version 1,
    which also keys the login-name hash)."""
    rt = ctx.rt
    if version == 1:
        raise MixunError("key_in_use", version=version, why="master")
    if version == rt.keys.current_version():
        raise MixunError("key_in_use", version=version, why="current")
    if version not in rt.keys.versions():
        raise MixunError("not_found")
    st = status(rt)
    row = next((v for v in st["versions"] if v["version"] == version), None)
    if row and row["total"]:
        raise MixunError("key_in_use", version=version, why="wraps", count=row["total"])
    rt.keys.destroy_kek(version)
    with rt.db.write() as s:
        audit.record(s, ctx, "keys.destroyed", target=f"kek:{version}")
    return {"version": version, "destroyed": True}

