"""Logs never carry passwords, tokens or the content of messages (such as ID numbers)."""

from __future__ import annotations

import logging

import pytest

from tests.conftest import PASSWORD, Env
from tests.helpers import direct, send

ID_NUMBER = "11010519491231002X"


def test_no_passwords_tokens_or_id_numbers_in_logs(sqlite_env: Env, caplog: pytest.LogCaptureFixture) -> None:
    """At DEBUG, a login, a failed login, a password change and a message with an ID number leave
    none of the secrets in any log record."""
    env = sqlite_env
    b_id = env.make_user("lisi", "李四")
    env.make_user("zhangsan", "张三")
    new_password = "Brand!New2026pw"
    with caplog.at_level(logging.DEBUG):
        token = env.login("zhangsan")
        env.client.post("/api/v1/auth/login", json={"username": "zhangsan", "password": "Wrong!Guess99"})
        assert env.client.post("/api/v1/auth/password", headers=env.h(token),
                               json={"old_password": PASSWORD, "new_password": new_password}).status_code == 204
        conv = direct(env, token, b_id)
        r = send(env, token, conv, f"客户身份证号 {ID_NUMBER},请核对", confirm=True)
        assert r.status_code in (201, 422)
    secrets = [PASSWORD, new_password, "Wrong!Guess99", token, ID_NUMBER]
    for record in caplog.records:
        text = record.getMessage() + repr(record.args) + str(record.exc_info or "")
        for secret in secrets:
            assert secret not in text, (record.name, text[:300])
    assert caplog.text.count(token) == 0


def test_a_database_error_names_no_values(env: Env) -> None:
    """A failed statement's error (which the error handler logs with its traceback) names the SQL but
    not the values it carried, on both databases."""
    from sqlalchemy import text

    with pytest.raises(Exception) as failed, env.rt.db.write() as s:
        s.execute(text("INSERT INTO no_such_table (body) VALUES (:body)"), {"body": f"身份证 {ID_NUMBER}"})
    message = str(failed.value)
    assert "no_such_table" in message and ID_NUMBER not in message
