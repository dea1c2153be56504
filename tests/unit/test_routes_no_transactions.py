"""Routes open no transaction: a service call is one (STYLE, docs/adr/0012-*.md). The import contract
`routes-no-transactions` keeps SQL out of api/routes/; this keeps out the runtime's database handle."""

from __future__ import annotations

import re
from pathlib import Path

ROUTES = Path(__file__).resolve().parents[2] / "src" / "mixun" / "api" / "routes"
OPENS = re.compile(r"\.db\.(read|write)\(")


def test_no_route_opens_a_transaction() -> None:
    found = [f"{path.name}:{n}" for path in sorted(ROUTES.rglob("*.py"))
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if OPENS.search(line)]
    assert found == []
