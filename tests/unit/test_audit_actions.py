"""Every audit action the code records is a member of AuditAction (mixun/domain/audit_actions.py), and
every event type it emits a member of EventType (mixun/domain/events.py): the values are what the
audit trail and the WebSocket frames carry, so a new one is added to the enum, never made up in place."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from mixun.domain.audit_actions import REVIEW_DECISIONS, AuditAction
from mixun.domain.events import EventType

SRC = Path(__file__).resolve().parents[2] / "src" / "mixun"
DOTTED = re.compile(r"^[a-z_]+\.[a-z_]+$")
EMITTERS = {"emit", "ephemeral", "_changed"}  # _changed: conversations.py, its type 4th


def _strings(node: ast.AST | None) -> list[str]:
    """A literal's value, or ``AuditAction.NAME`` as its value (a misspelt name stays unknown)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _strings(node.body) + _strings(node.orelse)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "AuditAction":
        return [AuditAction[node.attr].value if node.attr in AuditAction.__members__ else f"AuditAction.{node.attr}"]
    return []


def _event_types(node: ast.AST) -> list[str]:
    """A literal type's value, or ``EventType.NAME`` as its value (a misspelt name stays unknown)."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "EventType":
        return [EventType[node.attr].value if node.attr in EventType.__members__ else f"EventType.{node.attr}"]
    return _strings(node)


def _name(call: ast.Call) -> str:
    return call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")


def recorded_actions() -> dict[str, str]:
    """Audit actions written in the code (value -> where): the action of ``record``, the first item of
    ``record_many``'s entries, ``action=`` arguments and defaults, and dotted ``action = ...`` assignments;
    as a literal or as a member. (mypy holds ``record`` to AuditAction; this also catches a string given
    where the type is loose, as in a test.)"""
    found: dict[str, str] = {}
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = str(path.relative_to(SRC))
        values: list[ast.AST | None] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = _name(node)
                if name == "record" and len(node.args) >= 3:
                    values.append(node.args[2])
                if name == "record_many" and len(node.args) >= 3 and isinstance(node.args[2], ast.List | ast.ListComp):
                    entries = node.args[2].elts if isinstance(node.args[2], ast.List) else [node.args[2].elt]
                    values += [e.elts[0] for e in entries if isinstance(e, ast.Tuple)]
                if name != "add_argument":
                    values += [kw.value for kw in node.keywords if kw.arg == "action"]
            elif isinstance(node, ast.FunctionDef):
                args = node.args.args[-len(node.args.defaults):] if node.args.defaults else []
                values += [d for a, d in zip(args, node.args.defaults, strict=True) if a.arg == "action"]
                values += [d for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults, strict=True)
                           if a.arg == "action"]
            elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "action" for t in node.targets):
                values.append(node.value)
        for value in values:
            for text in _strings(value):
                if DOTTED.match(text) or text.startswith("AuditAction."):
                    found.setdefault(text, where)
    return found


def test_every_recorded_audit_action_is_a_member() -> None:
    found = recorded_actions()
    assert len(found) > 100  # the scan sees the code (it found them once: keep it seeing them)
    unknown = {a: w for a, w in found.items() if a not in set(AuditAction)}
    assert not unknown, f"add these to AuditAction: {unknown}"
    # The one action built at run time: a review decision, one per decided status.
    assert {f"review.{d}" for d in REVIEW_DECISIONS} <= set(AuditAction)


def test_every_emitted_event_type_is_a_member() -> None:
    found: dict[str, str] = {}
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and _name(node) in EMITTERS and len(node.args) >= 4:
                for text in _event_types(node.args[3]):
                    found.setdefault(text, str(path))
            if isinstance(node, ast.Tuple) and len(node.elts) == 3 and isinstance(node.elts[2], ast.Dict):
                for text in _event_types(node.elts[1]):  # (recipients, type, body), as emit_many takes them
                    if DOTTED.match(text) or not text.islower():
                        found.setdefault(text, str(path))
    assert len(found) > 15  # the scan sees the emitters (it found them once: keep it seeing them)
    unknown = {t: w for t, w in found.items() if t not in set(EventType)}
    assert not unknown, f"add these to EventType: {unknown}"
