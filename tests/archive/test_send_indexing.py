"""A send batch indexes its own messages for the archive search, in its own transaction, from the text
in hand; should that indexing fail, the send is still written and acknowledged, and the archive's
catch-up indexer indexes the message (issue 23: the separate indexer's cost per message)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import BigInteger, Column, MetaData, String, Table, select

from mixun.db.models import MessageVersion, User
from mixun.db.models_archive import PendingVersion, SearchTerm
from mixun.domain import search_terms
from mixun.sendpath import batch
from mixun.sendpath.request import SendRequest
from mixun.services import archive
from tests.archive.conftest import group, officer, send
from tests.conftest import Env

S = "/api/v1/compliance/archive/search"
WHY = {"category": "internal_investigation", "reason": "反洗钱专项检查，核对相关人员往来记录"}


def _version_of(env: Env, message_id: int) -> int:
    with env.rt.db.read() as s:
        return int(s.execute(select(MessageVersion.id).where(MessageVersion.message_id == message_id)).scalar_one())


def _pending(env: Env) -> set[int]:
    with env.rt.db.read() as s:
        return set(s.execute(select(PendingVersion.version_id)).scalars())


def _postings_of(env: Env, version_id: int) -> set[str]:
    with env.rt.db.read() as s:
        return set(s.execute(select(SearchTerm.term).where(SearchTerm.version_id == version_id)).scalars())


def _found(env: Env, token: str, q: str) -> list[str]:
    r = env.client.get(S, headers=env.h(token), params={"q": q, **WHY})
    assert r.status_code == 200, r.text
    return [x["text"] for x in r.json()["results"]]


def _ctx(env: Env, uid: int) -> Any:
    from mixun.services.auth import _principal
    from mixun.services.runtime import Ctx

    with env.rt.db.read() as s:
        return Ctx(rt=env.rt, principal=_principal(s.get(User, uid), None, False), ip="127.0.0.1", client="tests")


def test_a_sent_message_is_indexed_by_its_own_batch(env: Env) -> None:
    """Nothing is left pending, and the postings are exactly those the catch-up indexer would write."""
    a, ta = env.person("zhangsan", "张三")
    b, _tb = env.person("lisi", "李四")
    conv = group(env, ta, [b])
    text = "本周贷款利率下调了吗? Loan RATE 2026"
    vid = _version_of(env, send(env, ta, conv, text)["id"])
    assert vid not in _pending(env)
    terms, _versions = search_terms.postings(env.rt.keys.search_key, [(vid, text)])
    assert _postings_of(env, vid) == set(terms) and terms
    _, tok = officer(env)
    assert _found(env, tok, "贷款利率") == [text]
    assert _found(env, tok, "rate") == [text]


def test_indexing_that_fails_before_the_database_leaves_the_send_to_the_catch_up_indexer(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    a, ta = env.person("zhangsan", "张三")
    b, _tb = env.person("lisi", "李四")
    conv = group(env, ta, [b])

    def broken(*_args: Any, **_kw: Any) -> Any:
        raise RuntimeError("indexing broke")

    monkeypatch.setattr(search_terms, "postings", broken)
    vid = _version_of(env, send(env, ta, conv, "跨境汇款需要再次核查")["id"])  # acknowledged: 201
    monkeypatch.undo()
    assert vid in _pending(env) and not _postings_of(env, vid)
    _, tok = officer(env)
    assert _found(env, tok, "跨境汇款") == ["跨境汇款需要再次核查"]  # the search catches up first
    assert vid not in _pending(env)


def test_indexing_that_the_database_refuses_costs_no_send(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """The postings' statement fails inside the batch's transaction (here: a table that does not exist):
    every send of the batch is written again without indexing, acknowledged, and later found."""
    people = [env.person(f"user{i}", f"同事{i}") for i in range(3)]
    ids = [uid for uid, _ in people]
    convs = [group(env, people[0][1], ids[1:], name=f"群{i}") for i in range(2)]
    ctxs = [_ctx(env, uid) for uid in ids]
    gone = Table("archive_search_terms_gone", MetaData(), Column("term", String(8), primary_key=True),
                 Column("version_id", BigInteger, primary_key=True))
    monkeypatch.setattr(batch, "_terms", gone)
    texts = [f"第{i}条 反洗钱名单核查" for i in range(5)]
    outcomes = batch.write_batch([SendRequest(ctxs[i % 3], convs[i % 2], t, client_id=f"k{i}")
                                  for i, t in enumerate(texts)])
    monkeypatch.undo()
    assert all(o.view is not None and o.created for o in outcomes), [o.error for o in outcomes]
    vids = [_version_of(env, o.view["id"]) for o in outcomes if o.view is not None]
    assert set(vids) <= _pending(env)
    _, tok = officer(env)
    assert sorted(_found(env, tok, "反洗钱")) == sorted(texts)
    assert not set(vids) & _pending(env)


def test_the_idle_indexer_takes_no_write_transaction(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """With nothing pending, the background indexer's poll is a read: it no longer takes the write lock
    and commits four times a second."""
    _a, ta = env.person("zhangsan", "张三")
    b, _tb = env.person("lisi", "李四")
    send(env, ta, group(env, ta, [b]), "今天午饭吃什么")
    assert not _pending(env)

    def no_write() -> Any:
        raise AssertionError("a write transaction with nothing to index")

    monkeypatch.setattr(env.rt.db, "write", no_write)
    assert archive.index_slice(env.rt) == 0
