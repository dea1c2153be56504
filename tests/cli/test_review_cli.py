"""`mixun review accounts` as a real subprocess (issue 21 item 9: the review for cron, besides the daily run)."""

from __future__ import annotations

from pathlib import Path

from tests.cli.test_cli import mixun


def test_review_accounts_prints_counts_and_writes_csv(tmp_path: Path) -> None:
    """The review runs from the CLI: the administrators without two-factor are counted and listed in the CSV."""
    data = tmp_path / "data"
    assert mixun(data, "init").returncode == 0
    out = tmp_path / "review.csv"
    r = mixun(data, "review", "accounts", "--csv", str(out))
    assert r.returncode == 0, r.stderr
    assert "no_two_factor 3" in r.stdout
    text = out.read_text(encoding="utf-8-sig")
    assert text.splitlines()[0].startswith("kind,finding,username")
    assert {"sysadmin", "secadmin", "auditor"} <= {line.split(",")[2] for line in text.splitlines()[1:]}
