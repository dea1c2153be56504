"""`mixun export`, `mixun export public-key` and `mixun export verify --public-key` as real subprocesses,
as an assessor holding the server's public key would run them (INTERFACE.md, December additions)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tests.cli.test_cli import mixun


def test_an_assessor_verifies_an_export_and_catches_a_rewritten_manifest(tmp_path: Path) -> None:
    """The untouched export verifies with the printed public key (exit 0); after editing a file and its
    hash in the manifest, verification exits non-zero naming the manifest."""
    data = tmp_path / "data"
    assert mixun(data, "init").returncode == 0
    out = tmp_path / "exp"
    made = mixun(data, "export", "--out", str(out), "--reason", "监管调阅")
    assert made.returncode == 0, made.stderr
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".exp.partial")]
    pub = mixun(data, "export", "public-key")
    assert pub.returncode == 0 and pub.stdout.startswith("-----BEGIN PUBLIC KEY-----"), pub.stderr
    key = tmp_path / "server.pub"
    key.write_text(pub.stdout)
    ok = mixun(data, "export", "verify", str(out), "--public-key", str(key))
    assert ok.returncode == 0 and "export intact" in ok.stdout, ok.stdout + ok.stderr
    jl = out / "messages.jsonl"
    jl.write_text(jl.read_text() + '{"forged": true}\n')
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["files"]["messages.jsonl"]["sha256"] = hashlib.sha256(jl.read_bytes()).hexdigest()
    manifest["counts"]["versions"] += 1
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1))
    bad = mixun(data, "export", "verify", str(out), "--public-key", str(key))
    assert bad.returncode != 0 and "BAD manifest.json: the signature does not match" in bad.stdout, bad.stdout
    audit = mixun(data, "audit", "verify")
    assert audit.returncode == 0 and "intact" in audit.stdout, audit.stdout
