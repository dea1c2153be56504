"""The pure parts of the archive benchmark's side-by-side comparison (bench/archive.py --compare):
latencies are pooled per side and query kind over every round, ratios are today over before, and both
sides query the same names whatever the interpreter's hash seed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench import archive  # noqa: E402


def _round(side: str, rnd: int, word: list[float], name: list[float], cpu: float) -> dict[str, object]:
    return {"side": side, "round": rnd, "lat": {"word": word, "name": name},
            "cpu": {"word": [cpu] * len(word), "name": [cpu] * len(name)},
            "hits": {"word": 50 * len(word), "name": 10 * len(name)},
            "loadavg_before": 1.0, "loadavg_after": 2.0, "busy_pct": 50.0, "steal_pct": 0.5}


def test_percentiles_pool_every_round_of_a_side_and_ratios_are_today_over_before() -> None:
    result = {"before": "aaa", "today": "bbb", "n": 1000, "rounds": 2, "dbs": {"sqlite": {
        "load": {"before": {"load_s": 1, "postings": 5, "sealed_texts": 0, "busy_pct": 1, "steal_pct": 0,
                            "loadavg": [1, 1, 1]},
                 "today": {"load_s": 1, "postings": 5, "sealed_texts": 10, "busy_pct": 1, "steal_pct": 0,
                           "loadavg": [1, 1, 1]}},
        "rounds": [_round("before", 0, [10.0] * 50, [1.0] * 10, 2.0),
                   _round("today", 0, [20.0] * 50, [1.0] * 10, 3.0),
                   _round("today", 1, [30.0] * 50, [1.0] * 10, 3.0),
                   _round("before", 1, [10.0] * 49 + [100.0], [1.0] * 10, 2.0)]}}}
    rows = archive.summarise(result)["sqlite"]
    assert rows["word"]["before"]["n"] == 100 and rows["word"]["today"]["n"] == 100
    assert rows["word"]["before"]["p50"] == 10.0 and rows["word"]["before"]["p99"] == 100.0
    assert rows["word"]["today"]["p50"] == 30.0 and rows["word"]["today"]["p95"] == 30.0
    assert rows["word"]["ratio"]["p50"] == 3.0
    assert rows["word"]["ratio"]["cpu_mean"] == 1.5
    assert rows["all"]["before"]["n"] == 120 and rows["all"]["before"]["hits"] == 2 * (50 * 50 + 10 * 10)
    assert rows["name"]["ratio"] == {"p50": 1.0, "p95": 1.0, "p99": 1.0, "cpu_mean": 1.5}
    text = archive.render_compare(result)
    assert "| sqlite | word | 10.0 / 10.0 / 100.0 ms | 30.0 / 30.0 / 30.0 ms | 3.00 / 3.00 / 0.30 |" in text


def test_names_are_the_same_in_every_interpreter() -> None:
    code = "import sys; sys.path.insert(0, '.'); from bench import archive; print(','.join(archive._names()))"
    root = Path(__file__).resolve().parents[2]
    outs = {subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")}
    assert len(outs) == 1 and len(outs.pop().split(",")) == 300
