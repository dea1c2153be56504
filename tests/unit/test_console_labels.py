"""Consoles in Chinese (issue 19 items 9-11): every audit action the server writes, every detail key it
records, every approval kind and review outcome has a label in web/src/labels_compliance.ts, so the
auditor's and compliance consoles never fall back to a raw code such as `approval.requested`."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from mixun.domain.audit_actions import AuditAction
from mixun.domain.roles import Role
from mixun.services.approvals import KINDS
from mixun.services.users import DEPARTURE_REASONS

ROOT = Path(__file__).resolve().parents[2]
LABELS = (ROOT / "web/src/labels_compliance.ts").read_text(encoding="utf-8")
I18N = (ROOT / "web/src/i18n.ts").read_text(encoding="utf-8")
_SKIP_KW = {"action", "target", "outcome", "actor_id"}


def _table(name: str) -> set[str]:
    body = LABELS.split(f"const {name}")[1].split("};")[0]
    return {a or b for a, b in re.findall(r"(?:'([^']+)'|(\w+)): \[", body)}


def _strings(node: ast.AST) -> set[str]:
    """String constants in ``node``, with ``AuditAction.X`` members read as their values."""
    out = {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    out.update(AuditAction[n.attr].value for n in ast.walk(node) if isinstance(n, ast.Attribute)
               and isinstance(n.value, ast.Name) and n.value.id == "AuditAction" and n.attr in AuditAction.__members__)
    return out


def _audit_calls() -> tuple[set[str], set[str], list[str]]:
    """(action codes, detail keys, review f-string prefixes) of every audit.record call in src/."""
    actions: set[str] = set()
    keys: set[str] = set()
    dynamic: list[str] = []
    for path in (ROOT / "src/mixun").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef | ast.Module):
                continue
            assigned: dict[str, set[str]] = {}
            for n in ast.walk(fn):
                if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name):
                    assigned.setdefault(n.targets[0].id, set()).update(_strings(n.value))
                if isinstance(n, ast.Call):  # callers passing action="..." to a helper that audits it
                    for kw in n.keywords:
                        if kw.arg == "action" and "." in "".join(found := _strings(kw.value)) and isinstance(
                                kw.value, ast.Constant | ast.Attribute):
                            actions.update(found)
            for n in ast.walk(fn):
                if not (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "record"
                        and isinstance(n.func.value, ast.Name) and n.func.value.id == "audit" and len(n.args) >= 3):
                    continue
                arg = n.args[2]
                if isinstance(arg, ast.Call) and isinstance(arg.func, ast.Name) and arg.func.id == "AuditAction":
                    arg = arg.args[0]  # AuditAction(f"review.{status}"): the value it is made from
                if isinstance(arg, ast.JoinedStr):
                    dynamic.append(str(arg.values[0].value) if isinstance(arg.values[0], ast.Constant) else "")
                elif isinstance(arg, ast.Name):
                    actions.update(x for x in assigned.get(arg.id, set()) if "." in x)
                else:
                    actions.update(x for x in _strings(arg) if "." in x)
                keys.update(kw.arg for kw in n.keywords if kw.arg and kw.arg not in _SKIP_KW)
    return actions, keys, dynamic


def test_every_audited_action_and_detail_has_a_label() -> None:
    actions, keys, dynamic = _audit_calls()
    assert len(actions) > 60 and "approval.requested" in actions and "account.enabled" in actions
    assert sorted(actions - _table("ACTIONS")) == []
    prefixes = _table("PREFIXES")
    assert all(any(a.startswith(p) for p in prefixes) for a in actions)
    assert sorted(keys - _table("DETAILS")) == []
    # review.{status}: every decision the review queue records
    assert set(dynamic) == {"review."}
    assert {f"review.{x}" for x in ("approved", "rejected", "escalated", "violation")} <= _table("ACTIONS")


def test_approval_kinds_roles_and_reasons_are_words() -> None:
    words = _table("WORDS")
    assert set(KINDS) <= words
    for kind in KINDS:
        assert f"approval_kind_{kind}:" in I18N
    for role in Role:
        assert I18N.count(f"role_{role.value}:") >= 2, role  # zh-CN and English
    # The login alerts' reasons (new_client, concurrent_session, locked_out…): word() reads login_reason_*.
    tree = ast.parse((ROOT / "src/mixun/services/auth.py").read_text(encoding="utf-8"))
    reasons = {str(n.args[0].value) for n in ast.walk(tree) if isinstance(n, ast.Call)
               and isinstance(n.func, ast.Attribute) and n.func.attr == "append"
               and isinstance(n.func.value, ast.Name) and n.func.value.id == "reasons"
               and n.args and isinstance(n.args[0], ast.Constant)}
    assert {"new_client", "concurrent_session"} <= reasons
    assert "'login_reason_'" in LABELS
    for reason in reasons | {"locked_out"}:
        assert I18N.count(f"login_reason_{reason}:") >= 2, reason
    # A departure's reason (resignation, transfer…) is offered in the console and shown as a word.
    assert "'depart_'" in LABELS
    for reason in DEPARTURE_REASONS:
        assert I18N.count(f"depart_{reason}:") >= 2, reason
        assert f"'{reason}'" in (ROOT / "web/src/labels_org.ts").read_text(encoding="utf-8"), reason  # DEPART_KINDS
