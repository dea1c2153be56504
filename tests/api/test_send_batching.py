"""Group commit of sends: many sends written in one transaction, each with its own outcome.

What a user would notice if batching went wrong: a seq gap or repeat, an event missing from someone's
stream or out of order, a resend creating a second message, or one bad send failing the others."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import orjson
from sqlalchemy import select

from mixun.errors import MixunError
from mixun.sendpath import batch, queue
from mixun.sendpath.request import SendOutcome, SendRequest
from mixun.services import events
from tests.conftest import Env
from tests.helpers import group, send


def _ctx(env: Env, uid: int) -> Any:
    from mixun.db.models import User
    from mixun.services.auth import _principal
    from mixun.services.runtime import Ctx

    with env.rt.db.read() as s:
        user = s.get(User, uid)
        return Ctx(rt=env.rt, principal=_principal(user, None, False), ip="127.0.0.1", client="tests")


def _result(outcome: SendOutcome) -> tuple[dict[str, Any], bool] | None:
    return (outcome.view, outcome.created) if outcome.view is not None else None


def _stream(env: Env, uid: int) -> list[tuple[int, dict[str, Any]]]:
    with env.rt.db.read() as s:
        return [(seq, orjson.loads(body)) for seq, body in events.read_events(s, uid, 0, 10_000)]


def _assert_streams_complete(env: Env, uids: list[int], conv: int, n: int) -> None:
    """Every member's event_seqs run 1..k with no gap, and they hold message.created for seqs 1..n of
    ``conv`` exactly once each, in seq order."""
    for uid in uids:
        stream = _stream(env, uid)
        assert [seq for seq, _ in stream] == list(range(1, len(stream) + 1)), uid
        created = [e["message"]["seq"] for _, e in stream
                   if e["type"] == "message.created" and e["conversation_id"] == conv]
        assert created == list(range(1, n + 1)), (uid, created)


def test_one_batch_gives_every_send_its_own_outcome(env: Env) -> None:
    a_id, a = env.person("zhangsan", "张三")
    b_id, _b = env.person("lisi", "李四")
    c_id, _c = env.person("wangwu", "王五")
    conv = group(env, a, "批量群", [b_id])
    other = group(env, a, "另一个群", [c_id])
    earlier = send(env, a, conv, "先发的一条", client_id="early").json()
    ca, cb, cc = _ctx(env, a_id), _ctx(env, b_id), _ctx(env, c_id)
    requests = [
        SendRequest(ca, conv, "第一条", client_id="k1"),
        SendRequest(cb, conv, "第二条", reply_to=earlier["id"]),
        SendRequest(cc, conv, "不是成员"),                                   # not a member: 404
        SendRequest(ca, other, "回复别的会话的消息", reply_to=earlier["id"]),  # reply from elsewhere
        SendRequest(ca, conv, "   "),                                       # empty
        SendRequest(ca, conv, "重发", client_id="early"),                   # resend of a committed one
        SendRequest(ca, conv, "第三条", client_id="k1"),                     # same client_id in batch
        SendRequest(ca, other, "另一个群的第一条"),
        SendRequest(ca, conv, "第四条"),
    ]
    jobs = batch.write_batch(requests)
    assert all(o.settled and (o.view is None) != (o.error is None) for o in jobs)
    ok = [_result(o) for o in jobs]
    assert ok[0] and ok[0][1] and ok[0][0]["seq"] == 2
    assert ok[1] and ok[1][0]["seq"] == 3 and ok[1][0]["reply_to"] == earlier["id"]
    assert isinstance(jobs[2].error, MixunError) and jobs[2].error.code == "not_found"
    assert isinstance(jobs[3].error, MixunError) and jobs[3].error.details.get("field") == "reply_to"
    assert isinstance(jobs[4].error, MixunError) and jobs[4].error.code == "empty_message"
    assert ok[5] == (dict(ok[5][0]), False) and ok[5][0]["id"] == earlier["id"]
    assert ok[6] and ok[6][1] is False and ok[6][0]["id"] == ok[0][0]["id"]  # the first k1, not a new one
    assert ok[7] and ok[7][0]["seq"] == 1
    assert ok[8] and ok[8][0]["seq"] == 4
    history = env.client.get(f"/api/v1/conversations/{conv}/messages", headers=env.h(a)).json()["messages"]
    assert [(m["seq"], m["text"]) for m in history] == [(1, "先发的一条"), (2, "第一条"), (3, "第二条"), (4, "第四条")]
    _assert_streams_complete(env, [a_id, b_id], conv, 4)
    # The sender has read up to its last message in the batch.
    mine = {c["id"]: c for c in env.client.get("/api/v1/conversations", headers=env.h(a)).json()["conversations"]}
    assert mine[conv]["read_seq"] == 4 and mine[conv]["unread_count"] == 0


def test_a_send_that_fails_in_the_write_does_not_fail_the_batch(env: Env) -> None:
    """A write error in the batch's transaction rolls it back; each send is then retried on its own."""
    a_id, a = env.person("zhangsan", "张三")
    b_id, _b = env.person("lisi", "李四")
    conv = group(env, a, "回退群", [b_id])
    ca = _ctx(env, a_id)
    requests = [SendRequest(ca, conv, f"好消息{i}") for i in range(3)]
    requests.insert(1, SendRequest(ca, conv, "带坏附件", attachments=({"no_such_column": 1},)))
    jobs = batch.write_batch(requests)
    assert jobs[1].error is not None and jobs[1].view is None
    assert [o.view["seq"] for i, o in enumerate(jobs) if i != 1 and o.view] == [1, 2, 3]
    _assert_streams_complete(env, [a_id, b_id], conv, 3)


def test_concurrent_http_sends_are_committed_in_batches(sqlite_env: Env) -> None:
    """Sends that arrive while a batch is being written go together in the next one; every request
    still gets its own 201 only after its commit, with gap-free seqs and complete event streams."""
    env = sqlite_env
    people = [env.person(f"user{i}", f"同事{i}") for i in range(5)]
    conv = group(env, people[0][1], "并发群", [uid for uid, _ in people[1:]])
    sizes: list[int] = []
    real = queue.write_batch

    def recording(requests: list[SendRequest], *, settle: bool = False) -> list[SendOutcome]:
        sizes.append(len(requests))
        return real(requests, settle=settle)

    queue.write_batch = recording  # type: ignore[assignment]
    results: list[tuple[int, int]] = []
    lock = env.rt.db._write_lock
    assert lock is not None
    try:
        lock.acquire()  # hold SQLite's write lock: sends queue up behind the first batch
        threads = [threading.Thread(target=lambda t=t, k=k: results.append(
            (send(env, t, conv, f"并发{k}").status_code, k))) for k, (_uid, t) in enumerate(people * 4)]
        for th in threads:
            th.start()
        time.sleep(1.0)
        assert results == []  # nothing acknowledged before its commit
        lock.release()
        for th in threads:
            th.join(30)
    finally:
        queue.write_batch = real  # type: ignore[assignment]
        if lock.locked():
            lock.release()
    assert sorted(code for code, _ in results) == [201] * 20
    assert max(sizes) > 1 and sum(sizes) == 20
    with env.rt.db.read() as s:
        from mixun.db.models import Message

        seqs = sorted(s.execute(select(Message.seq).where(Message.conversation_id == conv)).scalars())
    assert seqs == list(range(1, 21))
    _assert_streams_complete(env, [uid for uid, _ in people], conv, 20)


def test_the_direct_send_path_answers_like_the_route(sqlite_env: Env, monkeypatch: Any) -> None:
    """The busiest request skips the framework's routing, but a caller sees the same answers: the
    security headers, the cookie's same-origin check, 401, 404, validation details, chunked bodies."""
    import mixun.api.edge as app_module

    env = sqlite_env
    direct_answers: list[bool] = []
    real = app_module.send_direct

    async def counting(*args: Any) -> bool:
        direct_answers.append(await real(*args))
        return direct_answers[-1]

    monkeypatch.setattr(app_module, "send_direct", counting)
    _a_id, a = env.person("zhangsan", "张三")
    b_id, _b = env.person("lisi", "李四")
    _c_id, c = env.person("wangwu", "王五")
    conv = group(env, a, "直通群", [b_id])
    env.client.cookies.clear()  # logging in left the last person's session cookie on the client
    url = f"/api/v1/conversations/{conv}/messages"
    ok = env.client.post(url, headers=env.h(a), json={"text": "你好"})
    assert ok.status_code == 201 and ok.json()["seq"] == 1
    assert ok.headers["x-frame-options"] == "DENY" and "default-src" in ok.headers["content-security-policy"]
    assert env.client.post(url, json={"text": "无凭据"}).status_code == 401
    assert env.client.post(url, headers=env.h(c), json={"text": "非成员"}).json()["error"]["code"] == "not_found"
    bad = env.client.post(url, headers=env.h(a), json={"text": 5})
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == "text"
    broken = env.client.post(url, headers={**env.h(a), "Content-Type": "application/json"}, content=b'{"text": ')
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "invalid_json"
    chunked = env.client.post(url, headers={**env.h(a), "Content-Type": "application/json"},
                              content=iter(['{"text": "分块'.encode(), '发送"}'.encode()]))
    assert chunked.status_code == 201 and chunked.json()["text"] == "分块发送"
    env.client.cookies.set("mixun_session", a)
    try:
        foreign = env.client.post(url, headers={"Origin": "http://evil.example"}, json={"text": "跨站"})
        assert foreign.status_code == 403
        same = env.client.post(url, headers={"Origin": "http://testserver"}, json={"text": "本站"})
        assert same.status_code == 201 and same.json()["seq"] == 3
    finally:
        env.client.cookies.clear()
    long = env.client.post(url, headers=env.h(a), json={"text": "长" * (env.settings.max_message_length + 1)})
    assert long.status_code == 422 and long.json()["error"]["code"] == "message_too_long"
    # Answered directly: the sends, the non-member's 404 and the too-long text; by the route: the rest.
    assert direct_answers == [True, False, True, False, False, True, False, True, True]


def test_a_failing_step_after_commit_neither_fails_nor_repeats_the_batch(env: Env) -> None:
    """The SMS notice of an urgent message runs after the commit; if the gateway fails, the sends
    stay sent, once each, and every one of them gets its 201."""
    a_id, a = env.person("zhangsan", "张三")
    b_id, _b = env.person("lisi", "李四")
    conv = group(env, a, "紧急群", [b_id])

    class BrokenGateway:
        def send(self, *_args: Any) -> None:
            raise OSError("SMS gateway down")

    env.rt.notifier = BrokenGateway()
    ca = _ctx(env, a_id)
    jobs = batch.write_batch([SendRequest(ca, conv, "普通"), SendRequest(ca, conv, "紧急", urgent=True)])
    assert [o.error for o in jobs] == [None, None]
    assert [o.view["seq"] for o in jobs if o.view] == [1, 2]
    history = env.client.get(f"/api/v1/conversations/{conv}/messages", headers=env.h(a)).json()["messages"]
    assert [m["text"] for m in history] == ["普通", "紧急"]
    _assert_streams_complete(env, [a_id, b_id], conv, 2)


def test_one_sends_unexpected_failure_is_its_own(env: Env) -> None:
    """A failure outside the rules (here the rate limiter's store) fails that send only."""
    a_id, a = env.person("zhangsan", "张三")
    b_id, _b = env.person("lisi", "李四")
    conv = group(env, a, "限流群", [b_id])
    real = env.rt.rate_limiter
    assert real is not None

    class FlakyLimiter:
        def wait(self, user_id: int) -> float:
            if user_id == b_id:
                raise ConnectionError("rate-limit store unreachable")
            return float(real.wait(user_id))

    env.rt.rate_limiter = FlakyLimiter()
    jobs = batch.write_batch([SendRequest(_ctx(env, a_id), conv, "一"), SendRequest(_ctx(env, b_id), conv, "二"),
                              SendRequest(_ctx(env, a_id), conv, "三")])
    assert isinstance(jobs[1].error, ConnectionError) and jobs[1].view is None
    assert [o.view["seq"] for o in (jobs[0], jobs[2]) if o.view] == [1, 2]


def test_a_nul_character_is_refused_alike_on_both_databases(env: Env) -> None:
    _a_id, a = env.person("zhangsan", "张三")
    b_id, _b = env.person("lisi", "李四")
    conv = group(env, a, "控制字符", [b_id])
    r = send(env, a, conv, "前\x00后")
    assert r.status_code == 422 and r.json()["error"]["field"] == "text"
    assert send(env, a, conv, "正常").json()["seq"] == 1


@contextlib.contextmanager
def _held(env: Env, conv: int) -> Iterator[None]:
    """Another connection holds ``conv``'s row lock (as a stuck transaction would) inside the block."""
    from sqlalchemy import create_engine, text

    engine = create_engine(env.settings.database_url)
    conn = engine.connect()
    try:
        conn.execute(text("SELECT id FROM conversations WHERE id = :id FOR UPDATE"), {"id": conv})
        yield
    finally:
        conn.rollback()
        conn.close()
        engine.dispose()


def _two_groups(tmp_path: Any, lock_timeout: str) -> tuple[Env, Any, list[int], str, str, int, int]:
    """A PostgreSQL env with this lock timeout: (env, close, [a_id, b_id], a's token, b's token, the group
    to be locked, a free group)."""
    from tests.conftest import build_env

    env, close = build_env(tmp_path, "postgresql", MIXUN_DB_LOCK_TIMEOUT_SECONDS=lock_timeout)
    a_id, a = env.person("zhangsan", "张三")
    b_id, b = env.person("lisi", "李四")
    return env, close, [a_id, b_id], a, b, group(env, a, "被锁住的群", [b_id]), group(env, a, "正常的群", [b_id])


def _in_threads(calls: dict[str, Any]) -> tuple[dict[str, Any], list[threading.Thread]]:
    results: dict[str, Any] = {}
    threads = [threading.Thread(target=lambda k=k, f=f: results.__setitem__(k, f())) for k, f in calls.items()]
    for th in threads:
        th.start()
    return results, threads


def test_a_conversation_locked_elsewhere_makes_only_its_sends_busy(tmp_path: Any) -> None:
    """PostgreSQL: a transaction that holds a conversation's row lock and does not end (an operator's
    forgotten psql session, say) gets that conversation's sends a 503 "busy" with Retry-After after
    the lock timeout; sends to other conversations go on; once the lock is gone the client's retry with
    the same client_id is stored once, with the next seq."""
    env, close, ids, a, b, held, free = _two_groups(tmp_path, "1")
    try:
        assert send(env, a, held, "锁之前的一条").status_code == 201
        jobs = [("held-1", a, held), ("held-2", b, held), ("free-1", a, free), ("free-2", b, free)]
        with _held(env, held):
            results, threads = _in_threads({k: (lambda k=k, t=t, c=c: send(env, t, c, f"消息 {k}", client_id=k))
                                            for k, t, c in jobs})
            for th in threads:
                th.join(60)
        for key in ("held-1", "held-2"):
            r = results[key]
            assert r.status_code == 503, r.text
            assert r.json()["error"]["code"] == "busy" and "繁忙" in r.json()["error"]["message"]
            assert r.headers["retry-after"] == "2"
        assert sorted(results[k].json()["seq"] for k in ("free-1", "free-2")) == [1, 2]
        # The lock is gone: the retries are stored, once each, after the message sent before.
        retry = send(env, a, held, "消息 held-1", client_id="held-1")
        assert retry.status_code == 201 and retry.json()["seq"] == 2
        again = send(env, a, held, "消息 held-1", client_id="held-1")
        assert again.status_code == 201 and again.json()["id"] == retry.json()["id"]
        history = env.client.get(f"/api/v1/conversations/{held}/messages", headers=env.h(a)).json()["messages"]
        assert [(m["seq"], m["text"]) for m in history] == [(1, "锁之前的一条"), (2, "消息 held-1")]
        _assert_streams_complete(env, ids, held, 2)
    finally:
        close()


def test_sends_waiting_for_a_locked_conversation_do_not_hold_up_the_others(tmp_path: Any) -> None:
    """PostgreSQL: while a conversation is locked elsewhere its sends wait (within the lock timeout),
    but the one writer of the process goes on writing every other conversation's sends; when the lock
    is released the waiting sends are stored in the order they were sent."""
    env, close, ids, a, b, held, free = _two_groups(tmp_path, "60")
    try:
        with _held(env, held):
            def in_order() -> list[Any]:  # one client sending twice in a row, each after the previous 201
                return [send(env, a, held, "等锁的第一条"), send(env, a, held, "等锁的第二条")]

            waiting, waiters = _in_threads({"held": in_order})
            time.sleep(0.5)  # the first of them is waiting for the lock by now
            for i in range(3):  # answered while the lock is still held
                done, senders = _in_threads({"free": lambda i=i: send(env, b, free, f"不受影响 {i}")})
                senders[0].join(30)
                assert done["free"].status_code == 201 and done["free"].json()["seq"] == i + 1
            assert waiters[0].is_alive() and "held" not in waiting
        waiters[0].join(30)
        assert [(r.status_code, r.json()["seq"]) for r in waiting["held"]] == [(201, 1), (201, 2)]
        _assert_streams_complete(env, ids, held, 2)
    finally:
        close()


def test_a_commit_of_unknown_outcome_that_stored_the_send_answers_it_as_new(tmp_path: Any, monkeypatch: Any) -> None:
    """PostgreSQL: the connection is lost right after the batch's COMMIT ran (the answer never came).
    The send is looked up by its client_id and answered as the new message it is, not as a resend (an
    upload would otherwise throw its stored files away as a duplicate's), and it is stored once."""
    from mixun.db import bulk
    from tests.conftest import build_env

    env, close = build_env(tmp_path, "postgresql")
    try:
        a_id, a = env.person("zhangsan", "张三")
        b_id, _b = env.person("lisi", "李四")
        conv = group(env, a, "不确定", [b_id])
        real = batch._statements_txn

        def committed_then_lost(s: Any, jobs: Any, results: Any, *rest: Any) -> None:
            real(s, jobs, results, *rest)  # its last round committed
            raise bulk.CommitUncertain()

        request = SendRequest(_ctx(env, a_id), conv, "提交结果未知", client_id="u-1")
        monkeypatch.setattr(batch, "_statements_txn", committed_then_lost)
        view, created = batch.send(request).unwrap()
        monkeypatch.setattr(batch, "_statements_txn", real)
        assert created is True and view["text"] == "提交结果未知"
        again, created_again = batch.send(request).unwrap()
        assert created_again is False and again["id"] == view["id"]  # a real resend
        history = env.client.get(f"/api/v1/conversations/{conv}/messages", headers=env.h(a)).json()["messages"]
        assert [m["text"] for m in history] == ["提交结果未知"]
    finally:
        close()
