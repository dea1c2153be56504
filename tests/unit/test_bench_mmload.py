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


def _out(posts=(), arrivals=(), connected=(), reconnects=()) -> dict[str, object]:
    return {"posts": list(posts), "arrivals": list(arrivals), "connected": list(connected),
            "reconnects": list(reconnects)}


def test_a_post_is_owed_only_to_members_connected_before_it_was_sent() -> None:
    ledger = mmload.Deliveries({7: [0, 1, 2, 3]})
    # users 0 and 1 connected before the send at t=10, user 2 after it, user 3 never
    ledger.add(_out(posts=[("p", 7, 10.0, 0)], connected=[(0, 1.0), (1, 2.0), (2, 11.0)],
                    arrivals=[("p", 0, 0.02), ("p", 1, 0.03), ("p", 2, 0.5)]))
    out = ledger.judge(5.0, 20.0)
    assert (out["posts_judged"], out["expected_deliveries"], out["deliveries"]) == (1, 2, 2)
    assert out["delivered_fraction"] == 1.0 and out["missing_count"] == 0


def test_a_late_frame_counts_with_its_latency_and_a_duplicate_counts_once() -> None:
    ledger = mmload.Deliveries({7: [0, 1]})
    ledger.add(_out(posts=[("p", 7, 10.0, 0)], connected=[(0, 1.0), (1, 1.0)], arrivals=[("p", 0, 0.01)]))
    ledger.add(_out(arrivals=[("p", 1, 6.0), ("p", 1, 6.5)]))  # after the window closed, and again on a resume
    out = ledger.judge(5.0, 20.0)
    assert out["deliveries"] == 2 and out["delivery_ms"]["max"] == 6000.0


def test_a_missing_frame_counts_and_is_watched_for_afterwards() -> None:
    ledger = mmload.Deliveries({7: [0, 1]})
    ledger.add(_out(posts=[("p", 7, 10.0, 0), ("early", 7, 2.0, 0)], connected=[(0, 1.0), (1, 1.0)],
                    arrivals=[("p", 0, 0.01)], reconnects=[(1, 9.9, 10.2)]))
    out = ledger.judge(5.0, 20.0)
    assert out["posts_judged"] == 1  # "early" was sent before the window: forgotten, not judged
    assert (out["expected_deliveries"], out["deliveries"], out["missing_count"]) == (2, 1, 1)
    miss = out["missing"][0]
    assert (miss["post"], miss["user"], miss["reconnects_near_send"]) == ("p", 1, [(-0.1, 0.2)])
    ledger.add(_out(arrivals=[("p", 1, 31.0)]))
    assert ledger.missing[("p", 1)]["arrived_after_s"] == 31.0
