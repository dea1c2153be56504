"""What the response-model tests of one router share (test_response_models_people.py, _org, _chat, _dlp,
_ops): a recorder of the answers a scenario got, and the check that every answer is exactly its route's
model in the OpenAPI document (the checker of test_response_models.py, extra keys refused) and that
every JSON route of the router was called."""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute

from tests.api.test_response_models import violations
from tests.conftest import Env


class Answers:
    """name -> (method, route path, status, the JSON answered), as a scenario calls the routes."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.out: dict[str, tuple[str, str, str, Any]] = {}

    def call(self, name: str, method: str, route: str, token: str, status: int = 200, url: str | None = None,
             **kw: Any) -> Any:
        """Call ``route`` (``url`` when its path has parameters) as ``token``; the answer must have ``status``."""
        headers = {**self.env.h(token), **kw.pop("headers", {})}
        r = self.env.client.request(method.upper(), url or route, headers=headers, **kw)
        assert r.status_code == status, (name, r.status_code, r.text)
        assert name not in self.out, name
        self.out[name] = (method, route, str(status), r.json())
        return r.json()


def json_routes(doc: dict[str, Any], router: Any) -> set[tuple[str, str]]:
    """(method, path) of every route of ``router`` whose success answer is JSON, as the document says."""
    found = set()
    for route in router.routes:
        if not isinstance(route, APIRoute):
            continue
        for method in route.methods:
            op = doc["paths"][route.path][method.lower()]
            ok = [r for status, r in op["responses"].items() if status.startswith("2")]
            if any("application/json" in r.get("content", {}) for r in ok):
                found.add((method.lower(), route.path))
    return found


def check(doc: dict[str, Any], answers: Answers, router: Any) -> None:
    """Every answer is exactly the model its route names for its status; every JSON route was called."""
    problems = []
    for name, (method, route, status, value) in answers.out.items():
        schema = doc["paths"][route][method]["responses"][status]["content"]["application/json"]["schema"]
        named = [schema] if "$ref" in schema else schema.get("anyOf", [])  # a model, or a union of models
        assert named and all("$ref" in x for x in named), (method, route, status, "names no model")
        problems += [f"{name}: {p}" for p in violations(doc, schema, value)]
    assert not problems, "\n".join(problems)
    missing = json_routes(doc, router) - {(m, r) for m, r, _s, _v in answers.out.values()}
    assert not missing, f"JSON routes not called: {sorted(missing)}"
