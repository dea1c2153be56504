"""Schemathesis against a real server (uvicorn, SQLite): as an employee and as each administrator role,
every operation in the OpenAPI document gets generated requests, valid and invalid. The run fails on any
5xx, any status the document does not list, and any response that does not match its schema.

CI runs a bounded number of cases per operation with a fixed seed (repeatable); a longer run with a
random seed is in the README:

    MIXUN_FUZZ_EXAMPLES=100 MIXUN_FUZZ_ALL=1 MIXUN_FUZZ_SEED=random .venv/bin/python -m pytest -q tests/api/test_openapi_fuzz.py

``MIXUN_FUZZ_DB=postgresql`` runs it against PostgreSQL instead of SQLite.

To keep CI's run to about two minutes, the employee gets every operation (which also shows each
administrator-only route's 401/403 documented) and each administrator role the operations only its own
permissions reach (the sign-in and account operations, the slowest for their password hashing, are
fuzzed once, as the employee). ``MIXUN_FUZZ_ALL=1`` gives every role every operation.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import PASSWORD, fresh_database
from tests.helpers import free_port

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.generation import GenerationMode  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.fuzz
EXAMPLES = int(os.environ.get("MIXUN_FUZZ_EXAMPLES", "8"))
_SEED = os.environ.get("MIXUN_FUZZ_SEED", "20261207")
SEED = random.randrange(2**32) if _SEED == "random" else int(_SEED)
DB = os.environ.get("MIXUN_FUZZ_DB", "sqlite")
ALL = os.environ.get("MIXUN_FUZZ_ALL") == "1"
ROLES = ("employee", "sysadmin", "secadmin", "auditor", "compliance")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Answers that end the caller's session or account: a new persona then takes over for the next cases.
ENDED = {"not_authenticated", "session_expired", "password_change_required", "account_disabled",
         "totp_enrollment_required", "otp_required", "session_locked"}


class Server:
    """A Mixun on a fresh database (SQLite unless MIXUN_FUZZ_DB says postgresql), served by uvicorn in
    this process (lifespan included)."""

    def __init__(self, tmp: Path) -> None:
        import uvicorn

        from mixun.api.app import create_app
        from mixun.config import load_settings
        from mixun.services.setup import initialise

        url, self.cleanup = fresh_database(DB, tmp)
        self.settings = load_settings({"MIXUN_DATA_DIR": str(tmp / "data"), "MIXUN_DATABASE_URL": url,
                                       "MIXUN_SEND_RATE_PER_MINUTE": "100000", "MIXUN_SEND_BURST": "100000",
                                       # generated logins fail by the hundred from one address; the
                                       # personas must still log in after them
                                       "MIXUN_LOGIN_ADDRESS_LIMIT": "1000000"})
        initialise(self.settings)
        self.app = create_app(self.settings)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                                    log_level="critical"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        self.count = 0

    def persona(self, role: str) -> dict[str, str]:
        """A new person holding ``role``, logged in: the Authorization header."""
        from mixun.services import users
        from mixun.services.runtime import Ctx
        from tests.helpers import enable_totp

        self.count += 1
        rt = self.app.state.runtime
        name = f"fuzz{role}{self.count}"
        u = users.create_user(Ctx(rt=rt, ip="127.0.0.1", client="tests"), username=name, name=f"模糊{self.count}",
                              unit="总行/信息科技部", password=PASSWORD, roles=[role], allow_reserved_roles=True,
                              must_change_password=False)
        r = requests.post(f"{self.url}/api/v1/auth/login", json={"username": name, "password": PASSWORD},
                          timeout=30)
        assert r.status_code == 200, r.text
        enable_totp(type("E", (), {"rt": rt})(), u.id)  # type: ignore[arg-type]
        return {"Authorization": f"Bearer {r.json()['token']}"}

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.cleanup()


def own_operations(app: Any, role: str) -> set[tuple[str, str]]:
    """(method, path) of the operations whose permission ``role`` holds and an employee does not."""
    from mixun.domain.roles import permissions_for
    from tests.api.test_permissions import route_permissions

    held, staff = permissions_for([role]), permissions_for(["employee"])
    return {(method, path) for method, path, perm in route_permissions(app)
            if perm is not None and perm in held and perm not in staff}


def _code(response: Any) -> str | None:
    try:
        return response.json()["error"]["code"]
    except Exception:
        return None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = Server(tmp_path_factory.mktemp("fuzz"))
    try:
        yield s
    finally:
        s.stop()


@pytest.mark.timeout(900)
@pytest.mark.parametrize("role", ROLES)
def test_api_conforms_to_its_openapi_document(server: Server, role: str) -> None:
    """No generated request, valid or not, gets a 5xx, an undocumented status or an off-schema answer."""
    document = requests.get(f"{server.url}/api/v1/openapi.json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(document)
    auth = {"headers": server.persona(role)}
    failures: list[str] = []
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) > 50
    if role != "employee" and not ALL:
        operations = [op for op in operations if (op.method.upper(), op.path) in own_operations(server.app, role)]
        assert operations, role
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            def check(case: Any) -> None:
                response = case.call(base_url=server.url, headers=auth["headers"])
                try:
                    case.validate_response(response, checks=CHECKS)
                except (Exception, BaseExceptionGroup) as exc:  # schemathesis's FailureGroup: collected
                    failures.append(f"{case.method} {case.formatted_path}: {str(exc)[:600]}")
                if response.status_code in (401, 403, 423) and _code(response) in ENDED:
                    auth["headers"] = server.persona(role)

            test = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=False,
                            phases=[Phase.explicit, Phase.generate], print_blob=False,
                            suppress_health_check=list(HealthCheck))(given(case=operation.as_strategy(mode))(check))
            started = time.monotonic()
            try:
                seed(SEED)(test)()
            except Unsatisfiable:
                pass  # nothing to make invalid (an operation without parameters has no negative cases)
            except Exception as exc:
                import traceback

                failures.append(f"{operation.label} ({mode.value}): {exc!r} "
                                f"{traceback.format_exc()[-800:]}")
            if os.environ.get("MIXUN_FUZZ_TIMES"):
                print(f"{time.monotonic() - started:6.2f}s {operation.label} {mode.value}")
    assert not failures, f"seed {SEED}: {len(failures)} failures\n" + "\n".join(failures[:40])
