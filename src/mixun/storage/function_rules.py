"""Function switches and group limits (services/functions.py decides which rule wins)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mixun.db.models_people import FunctionRule

# Every rule's fields the services' cache keeps; built once (it runs every few seconds in each process).
_ALL_RULES = select(FunctionRule.scope, FunctionRule.target_id, FunctionRule.function, FunctionRule.allowed,
                    FunctionRule.limit, FunctionRule.id)


def list_rule_rows(s: Session) -> list[Any]:
    """(scope, target_id, function, allowed, limit, id) of every rule."""
    return list(s.execute(_ALL_RULES).all())


def list_rules(s: Session) -> list[FunctionRule]:
    """Every rule, by scope, target and function."""
    return list(s.execute(select(FunctionRule).order_by(FunctionRule.scope, FunctionRule.target_id,
                                                        FunctionRule.function)).scalars().all())


def find_rule(s: Session, rule_id: int) -> FunctionRule | None:
    return s.get(FunctionRule, rule_id)


def find_rule_for(s: Session, scope: str, target_id: int, function: str) -> FunctionRule | None:
    """The rule on ``function`` for this unit or person, if one is set."""
    return s.execute(select(FunctionRule).where(FunctionRule.scope == scope, FunctionRule.target_id == target_id,
                                                FunctionRule.function == function)).scalar_one_or_none()


def delete_rule(s: Session, rule_id: int) -> None:
    s.execute(delete(FunctionRule).where(FunctionRule.id == rule_id))
