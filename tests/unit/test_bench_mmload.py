"""The pure parts of the Mattermost-model load harness (bench/mmload.py): its scheduler follows the
published model, and its step judge trips on each of the thresholds."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench import mmload  # noqa: E402


def test_idle_time_is_uniform_between_one_and_thirty_nine_seconds_with_mean_twenty() -> None:
    rnd = random.Random(1)
    draws = [mmload.pick_idle(rnd) for _ in range(20000)]
    assert min(draws) >= 1.0 and max(draws) < 39.0
    assert sum(draws) / len(draws) == pytest.approx(20.0, abs=0.3)


def test_actions_are_drawn_with_mattermosts_weights() -> None:
    rnd = random.Random(2)
    n = 60000
    counts: dict[str, int] = {}
    for _ in range(n):
        a = mmload.pick_action(rnd)
        counts[a.name] = counts.get(a.name, 0) + 1
    total = sum(a.weight for a in mmload.ACTIONS)
    for name in ("SwitchChannel", "ScrollChannel", "CreatePost", "AddReaction"):
        weight = next(a.weight for a in mmload.ACTIONS if a.name == name)
        assert counts[name] / n == pytest.approx(weight / total, rel=0.1)


def test_the_model_per_user_per_minute() -> None:
    per_min = mmload.expected_per_minute()
    assert sum(v for k, v in per_min.items() if k not in ("typing", "status_poll")) == pytest.approx(3.0)
    # CreatePost has weight 1 of about 13.7: about 0.22 posts a minute, each after a typing event.
    assert per_min["post"] == pytest.approx(0.219, abs=0.005)
    assert per_min["typing"] == per_min["post"]
    assert per_min["status_poll"] == 1.0
    # What has no counterpart in Mixun is a small share of the model.
    assert per_min["skipped"] < 0.05


def test_every_mapped_action_has_a_handler_name_the_generator_knows() -> None:
    known = {"view_channel", "scroll", "post", "react", "edit", "recall", "list_conversations", "search_users",
             "search_posts", "profile", "status", "reconnect", "mark_read", "login"}
    assert {a.mixun for a in mmload.ACTIONS if a.mixun} <= known


def test_each_user_is_in_two_groups_of_fifty() -> None:
    groups = mmload.groups_of(1000)
    assert all(len(g) == 50 for g in groups)
    seen: dict[int, int] = {}
    for g in groups:
        for m in g:
            seen[m] = seen.get(m, 0) + 1
    assert set(seen) == set(range(1000))
    assert {v for k, v in seen.items() if 25 <= k < 975} == {2}
    assert mmload.active_members(groups[0], 30) == 30
    assert mmload.active_members(groups[-1], 30) == 0


def _healthy() -> dict[str, object]:
    return {"server_5xx_percent": 0.0, "timeout_percent": 0.0, "request_ms": {"avg": 20.0, "p99": 300.0},
            "server_and_db_cpu_percent": 100, "posts_judged": 10, "delivered_fraction": 1.0,
            "delivery_ms": {"p99": 50.0}}


@pytest.mark.parametrize(("key", "value", "name"), [
    ("server_5xx_percent", 0.03, "5xx"),
    ("timeout_percent", 0.025, "timeouts"),
    ("request_ms", {"avg": 100.0, "p99": 300.0}, "avg request time"),
    ("request_ms", {"avg": 20.0, "p99": 2000.0}, "p99 request time"),
    ("server_and_db_cpu_percent", 170, "CPU"),
    ("delivered_fraction", 0.998, "WebSocket delivered fraction"),
    ("delivery_ms", {"p99": 2000.0}, "WebSocket delivery p99"),
])
def test_each_threshold_trips(key: str, value: object, name: str) -> None:
    assert mmload.judge(_healthy(), cores=2) == []
    step = _healthy()
    step[key] = value
    assert mmload.judge(step, cores=2) == [name]
