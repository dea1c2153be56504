"""Building the CLI's parser imports no service: `mixun serve` chooses prometheus-client's multiprocess
directory before anything imports it (a parser that imported services.users, and through it metrics,
left every worker counting alone: a scrape showed one worker's sends)."""

from __future__ import annotations

import subprocess
import sys


def test_the_parser_imports_neither_services_nor_prometheus_client() -> None:
    code = ("import sys, mixun.cli.main as m; m.build_parser(); "
            "print(sorted(n for n in sys.modules if n == 'prometheus_client' or n == 'mixun.metrics'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout
