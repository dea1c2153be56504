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
# Each alternative starts with a literal so the regex engine can skip ahead; the "not glued to a longer
# token" check on the left is done in Python (a leading look-behind would disable that skipping).
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_TOKENS = re.compile(
    r"(?:"
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
# Matched against a lower-cased copy (same length), so the keyword alternation stays case-free literals.
_ASSIGNED = re.compile(
    r"(?:secret(?:[_\-]?key)?|token|api[_\-]?key|access[_\-]?key(?:[_\-]?(?:id|secret))?"
    r"|client[_\-]?secret|private[_\-]?key|app[_\-]?secret)"
    r"[\"']?[ \t]*[:=：][ \t]*[\"']?([a-z0-9/+_\-]{16,256}={0,2})"
)


# Literal alternations the regex engine scans fast; the full patterns are tried only where these hit.
_TOKEN_START = re.compile(r"AKIA|ASIA|gh[pousr]_|github_pat_|xox[abprs]-|AIza|sk-|sk_|rk_|eyJ|LTAI|AKID")
_ASSIGNED_START = re.compile(r"[stacp](?:ecret|oken|pi|ccess|lient|rivate|pp)")


def _anchored(start_re: re.Pattern[str], full: re.Pattern[str], text: str):
    pos = 0
    for k in start_re.finditer(text):
        if k.start() < pos:
            continue
        m = full.match(text, k.start())
        if m is not None:
            pos = m.end()
            yield m


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
    for m in _anchored(_TOKEN_START, _TOKENS, text):
        if m.start() > 0 and text[m.start() - 1] in _TOKEN_CHARS:
            continue
        out.append(Candidate(NAME, m.start(), m.end(), 0.95, _mask(m.group()), priority=2))
    lowered = text.lower()
    if len(lowered) != len(text):
        return out  # a rare character whose lower case is longer; offsets would drift
    for m in _anchored(_ASSIGNED_START, _ASSIGNED, lowered):
        if m.start() > 0 and lowered[m.start() - 1].isascii() and lowered[m.start() - 1].isalpha():
            continue
        value = text[m.start(1) : m.end(1)]
        if _high_entropy(value):
            out.append(Candidate(NAME, m.start(1), m.end(1), 0.85, _mask(value), priority=3))
    return out
