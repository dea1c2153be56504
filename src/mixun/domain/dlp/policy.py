"""DLP policy: which action each finding gets per channel and sender, thresholds, and the verdict.

Rules are checked in order and the first that matches a finding decides its action, like a firewall:
`secadmin` puts exceptions (a role, a unit) before the general rules. Policies are plain JSON.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .masking import mask_text
from .types import DETECTORS, Finding

CHANNELS = ("direct", "group", "announcement", "file", "drive")
# Weakest to strongest; a verdict takes the strongest action of its findings and thresholds.
ACTIONS = ("allow", "mask", "warn", "hold", "block")
_RANK = MappingProxyType({a: i for i, a in enumerate(ACTIONS)})
PERSONAL_DATA = ("cn_id_card", "bank_card", "cn_mobile")


def strongest(actions: Iterable[str]) -> str:
    return max(actions, key=_RANK.__getitem__, default="allow")


def _names(value: Any, allowed: Collection[str] | None, what: str) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    names = frozenset(value)
    if allowed is not None and (unknown := names - set(allowed) - {"*"}):
        raise ValueError(f"unknown {what}: {', '.join(sorted(unknown))}")
    return None if "*" in names else names


def _action(value: Any) -> str:
    if value not in _RANK:
        raise ValueError(f"unknown action: {value!r} (expected one of {', '.join(ACTIONS)})")
    return str(value)


@dataclass(frozen=True)
class Rule:
    """`None` in a selector means "any". `unit_prefix` matches a unit path and everything under it."""

    action: str
    detectors: frozenset[str] | None = None
    channels: frozenset[str] | None = None
    roles: frozenset[str] | None = None
    unit_prefix: str | None = None
    min_confidence: float = 0.0

    def matches(self, f: Finding, channel: str, roles: Collection[str], unit_path: str) -> bool:
        if self.detectors is not None and f.detector not in self.detectors:
            return False
        if self.channels is not None and channel not in self.channels:
            return False
        if self.roles is not None and self.roles.isdisjoint(roles):
            return False
        if self.unit_prefix is not None and not _under(unit_path, self.unit_prefix):
            return False
        return f.confidence >= self.min_confidence

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"action": self.action}
        for key in ("detectors", "channels", "roles"):
            v = getattr(self, key)
            if v is not None:
                d[key] = sorted(v)
        if self.unit_prefix is not None:
            d["unit_prefix"] = self.unit_prefix
        if self.min_confidence:
            d["min_confidence"] = self.min_confidence
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Rule:
        return cls(
            action=_action(d.get("action")),
            detectors=_names(d.get("detectors"), DETECTORS, "detector"),
            channels=_names(d.get("channels"), CHANNELS, "channel"),
            roles=_names(d.get("roles"), None, "role"),
            unit_prefix=d.get("unit_prefix"),
            min_confidence=float(d.get("min_confidence", 0.0)),
        )


def _under(unit_path: str, prefix: str) -> bool:
    prefix = prefix.rstrip("/")
    return unit_path == prefix or unit_path.startswith(prefix + "/")


@dataclass(frozen=True)
class Threshold:
    """`count` or more findings of `detectors` (together) in one item raise the verdict to `action`."""

    detectors: frozenset[str]
    count: int
    action: str
    channels: frozenset[str] | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"detectors": sorted(self.detectors), "count": self.count, "action": self.action}
        if self.channels is not None:
            d["channels"] = sorted(self.channels)
        if self.reason:
            d["reason"] = self.reason
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Threshold:
        detectors = _names(d.get("detectors"), DETECTORS, "detector")
        count = int(d.get("count", 0))
        if count < 1:
            raise ValueError("threshold count must be at least 1")
        return cls(
            detectors=frozenset(DETECTORS) if detectors is None else detectors,
            count=count,
            action=_action(d.get("action")),
            channels=_names(d.get("channels"), CHANNELS, "channel"),
            reason=str(d.get("reason", "")),
        )


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...]
    thresholds: tuple[Threshold, ...] = ()
    default_action: str = "allow"
    # What happens to an encrypted file the server cannot open (not produced by secure packing).
    encrypted_file_action: str = "block"

    def action_for(self, f: Finding, channel: str, roles: Collection[str], unit_path: str) -> tuple[str, int]:
        """The action for one finding and the index of the rule that decided it (-1: the default)."""
        for i, rule in enumerate(self.rules):
            if rule.matches(f, channel, roles, unit_path):
                return rule.action, i
        return self.default_action, -1

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "default_action": self.default_action,
            "encrypted_file_action": self.encrypted_file_action,
            "rules": [r.to_dict() for r in self.rules],
            "thresholds": [t.to_dict() for t in self.thresholds],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Policy:
        if not isinstance(d, Mapping):
            raise ValueError("policy must be an object")
        if d.get("version", 1) != 1:
            raise ValueError(f"unsupported policy version: {d.get('version')!r}")
        return cls(
            rules=tuple(Rule.from_dict(r) for r in d.get("rules", ())),
            thresholds=tuple(Threshold.from_dict(t) for t in d.get("thresholds", ())),
            default_action=_action(d.get("default_action", "allow")),
            encrypted_file_action=_action(d.get("encrypted_file_action", "block")),
        )


def _r(action: str, detectors: Iterable[str], channels: Iterable[str] | None = None) -> Rule:
    return Rule(action, frozenset(detectors), None if channels is None else frozenset(channels))


# REQUIREMENTS D2–D5: state-secret markings, credentials, keys and prohibited content never go through;
# personal data is masked where many read it (groups, announcements), needs the sender's confirmation
# 1:1 and in files (which cannot be masked: the safe way is secure packing), and bulk personal data —
# five or more ID or card numbers, or ten personal items together — is customer data and blocked.
DEFAULT_POLICY = Policy(
    rules=(
        _r("block", ["classified_marking"]),
        _r("block", ["credential", "secret_key"]),
        _r("block", ["prohibited"]),
        _r("mask", PERSONAL_DATA, ["group", "announcement"]),
        _r("warn", PERSONAL_DATA, ["direct", "file", "drive"]),
        _r("mask", ["uscc", "email"], ["announcement"]),
        _r("allow", ["uscc", "email"]),
    ),
    thresholds=(
        Threshold(frozenset({"cn_id_card"}), 5, "block", reason="bulk_id_numbers"),
        Threshold(frozenset({"bank_card"}), 5, "block", reason="bulk_card_numbers"),
        Threshold(frozenset(PERSONAL_DATA), 10, "block", reason="bulk_personal_data"),
    ),
)


@dataclass(frozen=True)
class Decision:
    finding: Finding
    action: str
    rule: int  # index into Policy.rules, -1 for the default action


@dataclass(frozen=True)
class Verdict:
    """The outcome for one message or document. `action` is the strongest of all decisions."""

    action: str
    decisions: tuple[Decision, ...] = ()
    thresholds: tuple[str, ...] = field(default=())  # reasons of the thresholds that fired

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(d.finding for d in self.decisions)

    @property
    def blocked(self) -> bool:
        return self.action == "block"

    @property
    def held(self) -> bool:
        return self.action == "hold"

    @property
    def needs_confirmation(self) -> bool:
        return self.action == "warn"

    def masked_text(self, text: str) -> str:
        """What recipients see: findings whose action is `mask` replaced by their masked form."""
        return mask_text(text, (d.finding for d in self.decisions if d.action == "mask"))


def decide(
    findings: Iterable[Finding],
    policy: Policy,
    *,
    channel: str,
    roles: Collection[str] = (),
    unit_path: str = "",
) -> Verdict:
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel: {channel!r}")
    decisions = []
    for f in findings:
        action, idx = policy.action_for(f, channel, roles, unit_path)
        decisions.append(Decision(f, action, idx))
    actions = [d.action for d in decisions]
    fired: list[str] = []
    for t in policy.thresholds:
        if t.channels is not None and channel not in t.channels:
            continue
        if sum(1 for d in decisions if d.finding.detector in t.detectors) >= t.count:
            fired.append(t.reason or f"threshold_{'_'.join(sorted(t.detectors))}_{t.count}")
            actions.append(t.action)
    return Verdict(strongest(actions), tuple(decisions), tuple(fired))
