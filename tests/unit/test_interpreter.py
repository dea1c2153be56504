"""A serving process tunes its interpreter (mixun.api.interpreter); an embedded app leaves it alone.

Run in child processes: the switch interval and the collector are process-wide."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = r"""
import gc, json, sys
from fastapi.testclient import TestClient
from mixun.api.app import create_app
from mixun.config import load_settings
from mixun.services.setup import initialise

settings = load_settings({"MIXUN_DATA_DIR": sys.argv[1]})
initialise(settings, create_admins=False)
app = create_app(settings, serving=sys.argv[2] == "serving")
with TestClient(app) as client:
    ok = client.get("/api/v1/openapi.json").status_code
    garbage = []
    garbage.append(garbage)  # a reference cycle that only a collection frees
    del garbage
    freed = gc.collect()
    print(json.dumps({"status": ok, "switch": sys.getswitchinterval(), "frozen": gc.get_freeze_count(),
                      "threshold": gc.get_threshold(), "freed": freed}))
"""


def _run(tmp_path: Path, mode: str) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / mode), mode], capture_output=True, text=True,
                         timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_serving_process_switches_threads_often_and_keeps_start_up_objects_out_of_collections(tmp_path: Path) -> None:
    from mixun.api.interpreter import NEVER, SWITCH_INTERVAL_SECONDS

    served = _run(tmp_path, "serving")
    assert served["status"] == 200
    assert served["switch"] == SWITCH_INTERVAL_SECONDS
    assert served["frozen"] > 100_000  # the libraries' and the app's own objects
    assert served["threshold"][2] == NEVER  # full collections run on the clock instead
    assert served["freed"] >= 1  # cyclic garbage is still collected

    embedded = _run(tmp_path, "embedded")
    assert embedded["status"] == 200
    assert embedded["switch"] == 0.005
    assert embedded["frozen"] == 0
    assert embedded["threshold"][2] == 10


def test_full_collections_run_on_the_clock() -> None:
    import asyncio
    import gc

    from mixun.api import interpreter

    before = gc.get_stats()[2]["collections"]

    async def until_two_ran() -> int:
        task = asyncio.get_running_loop().create_task(interpreter.collect_periodically(every=0.01))
        for _ in range(1000):  # each full collection of the test process's heap takes a while
            await asyncio.sleep(0.01)
            if gc.get_stats()[2]["collections"] >= before + 2:
                break
        task.cancel()
        return int(gc.get_stats()[2]["collections"])

    # In a thread of its own: an earlier test's event loop (the browser tests') may still run in this one.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(asyncio.run, until_two_ran()).result(timeout=60) >= before + 2
