"""The audit trail's hash chain: how a record is hashed and how a chain is checked.

Each record's hash is SHA-256 over the previous record's hash and the record's canonical form, so a
changed, removed or inserted record breaks every hash after it. Anyone can compute such a hash, so each
record written since records were authenticated also carries a MAC: HMAC-SHA256 under a key the server
keeps in its key store (never in the database) over the record's id and hash. The hash covers every
record before it, so one authentic record vouches for the whole chain up to it, and a record appended by
someone with database access alone (who cannot compute the MAC) is named.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64
HASHED_FIELDS = ("id", "at", "actor_id", "actor_role", "ip", "client", "action", "target", "outcome", "details")


def canonical(record: Mapping[str, Any]) -> bytes:
    body = {name: record.get(name) for name in HASHED_FIELDS}
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str).encode()


def chain_hash(prev_hash: str, record: Mapping[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical(record)).hexdigest()


def record_mac(key: bytes, audit_id: int, hash_: str) -> str:
    return hmac.new(key, f"mixun-audit-record|{audit_id}|{hash_}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    count: int
    last_id: int | None
    last_hash: str
    first_bad_id: int | None = None
    reason: str = ""


def verify_chain(records: Iterable[Mapping[str, Any]], prev_hash: str = GENESIS,
                 prev_id: int | None = None, mac_key: bytes | None = None,
                 mac_from: int | None = None) -> ChainReport:
    """Walk records in id order; stop at the first one whose link or hash does not hold, or, from record
    ``mac_from`` on, whose MAC under ``mac_key`` does not (a record from before ``mac_from`` predates
    authenticated records and is vouched for by the first authenticated one after it)."""
    count = 0
    last_id = prev_id
    for rec in records:
        rid = int(rec["id"])
        if rec["prev_hash"] != prev_hash:
            return ChainReport(False, count, last_id, prev_hash, rid,
                               "previous-hash link broken (a record before it was removed or inserted)")
        if chain_hash(prev_hash, rec) != rec["hash"]:
            return ChainReport(False, count, last_id, prev_hash, rid, "content does not match its hash (altered)")
        if last_id is not None and rid != last_id + 1:
            return ChainReport(False, count, last_id, prev_hash, rid, f"ids jump from {last_id} to {rid}")
        if mac_from is not None and rid >= mac_from and (
                mac_key is None or not hmac.compare_digest(str(rec.get("mac") or ""),
                                                           record_mac(mac_key, rid, rec["hash"]))):
            return ChainReport(False, count, last_id, prev_hash, rid,
                               "record is not authenticated by the server's audit key (forged: written "
                               "outside the application)")
        prev_hash = rec["hash"]
        last_id = rid
        count += 1
    return ChainReport(True, count, last_id, prev_hash)
