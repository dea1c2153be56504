"""GET /metrics (issue 22 item 4): Prometheus text, who may read it, what it counts — in one process and
added up over the worker processes of `mixun serve --workers 2`."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import PASSWORD, Env, build_env, fresh_database, need, redis_available
from tests.helpers import Server, add_people, direct, send

REDIS = "redis://127.0.0.1:6379/14"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


def total(text: str, name: str, **labels: str) -> float:
    """The sum over the series of ``name`` that carry ``labels`` (whatever their other labels)."""
    return sum(v for (n, ls), v in samples(text).items() if n == name and set(labels.items()) <= set(ls))


def scrape(env: Env) -> str:
    r = env.client.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=")
    return r.text


def test_metrics_count_sends_deliveries_dlp_logins_and_connections(env: Env) -> None:
    a, ta = env.person("zhangsan", "张三")
    b, tb = env.person("lisi", "李四")
    conv = direct(env, ta, b)
    before = scrape(env)
    assert value(before, "mixun_database_up") == 1.0 and value(before, "mixun_bus_up") == 1.0
    with env.client.websocket_connect(f"/api/v1/ws?token={tb}") as ws:
        assert ws.receive_json()["type"] == "hello"
        ws.send_json({"type": "resume", "after_event_seq": 0})
        during = scrape(env)
        assert value(during, "mixun_websocket_connections") == value(before, "mixun_websocket_connections") + 1
        for i in range(3):
            assert send(env, ta, conv, f"第{i}条").status_code == 201
        got = 0
        while got < 3:
            frame = ws.receive_json()
            if frame.get("type") == "message.created":
                got += 1
    assert send(env, ta, conv, "机密★5年 批复").status_code == 422  # a DLP block
    bad = env.client.post("/api/v1/auth/login", json={"username": "lisi", "password": "wrong-password"})
    assert bad.status_code == 401
    after = scrape(env)
    assert value(after, "mixun_messages_sent_total") == value(before, "mixun_messages_sent_total") + 3
    assert value(after, "mixun_send_seconds_count") == value(before, "mixun_send_seconds_count") + 3
    assert value(after, "mixun_deliveries_total") >= value(before, "mixun_deliveries_total") + 3
    assert value(after, "mixun_delivery_latency_seconds_count") >= value(before, "mixun_delivery_latency_seconds_count") + 1
    assert value(after, "mixun_writer_batches_total") >= value(before, "mixun_writer_batches_total") + 1
    assert (value(after, "mixun_dlp_findings_total", detector="classified_marking", action="block")
            == value(before, "mixun_dlp_findings_total", detector="classified_marking", action="block") + 1)
    assert total(after, "mixun_dlp_verdicts_total", action="block") == total(before, "mixun_dlp_verdicts_total",
                                                                            action="block") + 1
    assert (value(after, "mixun_send_failures_total", code="dlp_blocked")
            == value(before, "mixun_send_failures_total", code="dlp_blocked") + 1)
    assert (value(after, "mixun_login_failures_total", reason="bad_password")
            == value(before, "mixun_login_failures_total", reason="bad_password") + 1)
    assert value(after, "mixun_errors_total", code="invalid_credentials") >= 1 or \
        value(after, "mixun_errors_total", code=bad.json()["error"]["code"]) >= 1
    assert value(after, "mixun_websocket_connections") == value(before, "mixun_websocket_connections")
    assert value(after, "mixun_send_queue_depth") == 0


def test_metrics_token_and_networks(tmp_path: Path) -> None:
    e, close = build_env(tmp_path, "sqlite", MIXUN_METRICS_TOKEN="s3cret-scrape-token")
    try:
        r = e.client.get("/metrics")
        assert r.status_code == 401 and r.json()["error"]["code"] == "not_authenticated"
        assert e.client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        r = e.client.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape-token"})
        assert r.status_code == 200 and "mixun_messages_sent_total" in r.text
        # With the token, from any address (no networks configured).
        far = TestClient(e.app, client=("203.0.113.9", 5000))
        assert far.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape-token"}).status_code == 200
        # A user's session token is not the metrics token.
        uid, token = e.person("zhangsan", "张三")
        assert e.client.get("/metrics", headers=e.h(token)).status_code == 401
    finally:
        close()


def test_metrics_networks_and_default_loopback(tmp_path: Path) -> None:
    e, close = build_env(tmp_path, "sqlite", MIXUN_METRICS_NETWORKS="10.20.0.0/16")
    try:
        assert e.client.get("/metrics").status_code == 403  # 127.0.0.1 is not in the configured network
        inside = TestClient(e.app, client=("10.20.3.4", 5000))
        assert inside.get("/metrics").status_code == 200
        outside = TestClient(e.app, client=("10.21.3.4", 5000))
        r = outside.get("/metrics")
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    finally:
        close()
    (tmp_path / "b").mkdir()
    e, close = build_env(tmp_path / "b", "sqlite")
    try:
        assert e.client.get("/metrics").status_code == 200  # nothing configured: this machine only
        lan = TestClient(e.app, client=("192.168.1.20", 5000))
        assert lan.get("/metrics").status_code == 403
    finally:
        close()
    (tmp_path / "c").mkdir()
    e, close = build_env(tmp_path / "c", "sqlite", MIXUN_METRICS_NETWORKS="10.0.0.0/33")
    try:
        assert e.client.get("/metrics").status_code == 403  # malformed: nobody, never a 500
    finally:
        close()


@pytest.mark.postgres
@pytest.mark.redis
def test_metrics_add_up_over_worker_processes(tmp_path: Path) -> None:
    """`mixun serve --workers 2`: sends land on either worker; every scrape shows the sum of both."""
    need("Redis", redis_available())
    from mixun.config import load_settings

    url, cleanup = fresh_database("postgresql", tmp_path)
    data = tmp_path / "data"
    ids = add_people(load_settings({"MIXUN_DATA_DIR": str(data), "MIXUN_DATABASE_URL": url}))
    server = Server(data, url, REDIS, serve_args=("--workers", "2"), MIXUN_METRICS_TOKEN="tok",
                    MIXUN_ARGON2_PROFILE="fast")
    try:
        server.wait(60)
        h = {"Authorization": "Bearer tok"}
        tokens = []
        for _ in range(2):
            r = httpx.post(server.url + "/api/v1/auth/login", json={"username": "zhangsan", "password": PASSWORD})
            assert r.status_code == 200, r.text
            tokens.append(r.json()["token"])
        r = httpx.post(server.url + "/api/v1/conversations", headers={"Authorization": f"Bearer {tokens[0]}"},
                       json={"kind": "direct", "members": [ids["lisi"]]})
        conv = r.json()["id"]
        sent = 0
        # New connections each time: the kernel spreads them over both workers.
        for i in range(20):
            with httpx.Client() as c:
                r = c.post(f"{server.url}/api/v1/conversations/{conv}/messages",
                           headers={"Authorization": f"Bearer {tokens[i % 2]}"}, json={"text": f"m{i}"})
                assert r.status_code == 201, r.text
                sent += 1
        totals = set()
        for _ in range(6):  # each scrape on a new connection, answered by whichever worker takes it
            with httpx.Client() as c:
                totals.add(value(c.get(server.url + "/metrics", headers=h).text, "mixun_messages_sent_total"))
        assert totals == {float(sent)}, (totals, server.output())
        files = list((data / "run" / "metrics").glob("*.db"))
        assert len({f.stem.rsplit("_", 1)[-1] for f in files}) >= 2, files  # values written by several processes
    finally:
        server.stop()
        cleanup()
