"""`secret_key`: PEM private keys and well-known token formats (cloud keys, GitHub/Slack tokens, JWTs).

Formats with a fixed, distinctive prefix are reported on sight; a generic `secret=`/`token=` assignment
needs a long mixed value so that "token=true" or "api_key=请找运维" stay quiet.
"""

from __future__ import annotations

import re

from ..types import Candidate

NAME = "secret_key"

_PEM = re.compile(
    r"-----BEGIN ((?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?)-----"
    r"[\s\S]*?(?:-----END \1-----|\Z)"
)
_TOKENS = re.compile(
    r"(?<![A-Za-z0-9_\-])(?:"
    r"(?:AKIA|ASIA)[0-9A-Z]{16}"
    r"|gh[pousr]_[A-Za-z0-9]{36,255}"
    r"|github_pat_[A-Za-z0-9_]{22,255}"
    r"|xox[abprs]-[A-Za-z0-9\-]{10,200}"
    r"|AIza[0-9A-Za-z_\-]{35}"
    r"|sk-(?:proj-|ant-)?[A-Za-z0-9_\-]{32,200}"
    r"|(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{24,200}"
    r"|eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"
    r"|LTAI[0-9A-Za-z]{12,20}"
    r"|AKID[0-9A-Za-z]{32}"
    r")(?![A-Za-z0-9_\-])"
)
_ASSIGNED = re.compile(
    r"(?i:(?<![A-Za-z])(?:secret(?:[_\-]?key)?|token|api[_\-]?key|access[_\-]?key(?:[_\-]?(?:id|secret))?"
    r"|client[_\-]?secret|private[_\-]?key|app[_\-]?secret))"
    r"[\"']?[ \t]*[:=：][ \t]*[\"']?([A-Za-z0-9/+_\-]{16,256}={0,2})"
)


def _high_entropy(value: str) -> bool:
    has_alpha = any(c.isalpha() for c in value)
    has_digit = any(c.isdigit() for c in value)
    return has_alpha and has_digit and len(set(value)) >= 8


def _mask(value: str) -> str:
    if value.startswith("-----BEGIN"):
        return value[: value.index("-----", 5) + 5] + "******"
    return value[:4] + "******"


def find(text: str) -> list[Candidate]:
    out: list[Candidate] = []
    for m in _PEM.finditer(text):
        out.append(Candidate(NAME, m.start(), m.end(), 0.99, _mask(m.group()), priority=1))
    for m in _TOKENS.finditer(text):
        out.append(Candidate(NAME, m.start(), m.end(), 0.95, _mask(m.group()), priority=2))
    for m in _ASSIGNED.finditer(text):
        value = m.group(1)
        if _high_entropy(value):
            out.append(Candidate(NAME, m.start(1), m.end(1), 0.85, _mask(value), priority=3))
    return out
