"""`secret_key`: PEM private keys and well-known token formats (cloud keys, GitHub/Slack tokens, JWTs).

Formats with a fixed, distinctive prefix are reported on sight; a generic `secret=`/`token=` assignment
needs a long mixed value so that "token=true" or "api_key=请找运维" stay quiet.
"""

from __future__ import annotations

import re

from ..types import Candidate
from .anchored import anchored, keyword_starts

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
# Matched without regard to ASCII case, so the keyword alternation stays plain literals.
# Words may be joined by up to three separators, spaces included ("api key", "secret - key", "access.key id").
_J = r"[_\-. \t]{0,3}"
# Each word may also be typed letter by letter ("a p i k e y", "t.o.k.e.n"): one separator between letters.
LETTER_SEPARATORS = " ._*-"
_L = "[" + re.escape(LETTER_SEPARATORS) + "]?"


def _w(word: str) -> str:
    return _L.join(word)


_ASSIGNED = re.compile(
    r"(?:" + _w("secret") + r"(?:" + _J + _w("key") + r")?|" + _w("token") + r"|" + _w("api") + _J + _w("key")
    + r"|" + _w("access") + _J + _w("key") + r"(?:" + _J + r"(?:" + _w("id") + r"|" + _w("secret") + r"))?"
    r"|" + _w("client") + _J + _w("secret") + r"|" + _w("private") + _J + _w("key") + r"|" + _w("app") + _J
    + _w("secret") + r")"
    r"[\"']?[ \t]*[:=：][ \t]*[\"']?([a-z0-9/+_\-]{16,256}={0,2})",
    re.IGNORECASE | re.ASCII,
)


# Where the patterns can start, for when there is no prescan: literal alternations the regex engine
# scans fast; the full patterns are tried only where these hit.
# The prescan looks for TOKEN_PREFIXES (case as written) and ASSIGNED_WORDS (ASCII letters in any case);
# the two regexes below find the same words.
TOKEN_PREFIXES = (
    "AKIA", "ASIA", "github_pat_", "AIza", "sk-", "sk_", "rk_", "eyJ", "LTAI", "AKID",
    *(f"gh{c}_" for c in "pousr"), *(f"xox{c}-" for c in "abprs"),
)
ASSIGNED_WORDS = ("secret", "token", "api", "access", "client", "private", "app")
ASSIGNED_PREFIXES = tuple(dict.fromkeys(w[:3] for w in ASSIGNED_WORDS))  # letter by letter: s e c, t o k…
TOKEN_KEYWORDS = re.compile(r"AKIA|ASIA|gh[pousr]_|github_pat_|xox[abprs]-|AIza|sk-|sk_|rk_|eyJ|LTAI|AKID")
# secret, token, api, access, client, private, app in any case; the first letter as a plain class keeps
# the regex engine's fast skipping (a case-insensitive alternation would try every position).
# Letter by letter, the first three letters with at least one separator among them mark the start (the
# prescan's gates hold the same three forms of each prefix).
_S = "[" + re.escape(LETTER_SEPARATORS) + "]"


def _spaced_prefix(prefix: str) -> str:
    a, b, c = (f"[{ch.lower()}{ch.upper()}]" for ch in prefix)
    return f"(?<={a})(?:{_S}{b}{c}|{b}{_S}{c}|{_S}{b}{_S}{c})"


ASSIGNED_KEYWORDS = re.compile(
    r"[sStTaAcCpP](?:(?<=[sS])(?i:ecret)|(?<=[tT])(?i:oken)|(?<=[aA])(?i:pi|ccess|pp)|(?<=[cC])(?i:lient)"
    r"|(?<=[pP])(?i:rivate)|"
    + "|".join(_spaced_prefix(w[:3]) for w in dict.fromkeys(("secret", "token", "api", "access", "client",
                                                               "private", "app"))) + ")",
    re.ASCII,
)


def _high_entropy(value: str) -> bool:
    has_alpha = any(c.isalpha() for c in value)
    has_digit = any(c.isdigit() for c in value)
    return has_alpha and has_digit and len(set(value)) >= 8


# Groups of at least two characters, one or two spaces or dashes between them (issue 19 item 19).
_G3 = r"[ \-]{0,2}[0-9A-Z]{2,}"
_GROUPED_TOKENS = re.compile(
    r"(?:(?:AKIA|ASIA)(?=(?:[ \-]{0,2}[0-9A-Z]){16}(?![0-9A-Za-z]))(?:" + _G3 + r")+"
    r"|LTAI(?=(?:[ \-]{0,2}[0-9A-Za-z]){12,20}(?![0-9A-Za-z]))(?:[ \-]{0,2}[0-9A-Za-z]{2,})+"
    r"|AKID(?=(?:[ \-]{0,2}[0-9A-Za-z]){32}(?![0-9A-Za-z]))(?:[ \-]{0,2}[0-9A-Za-z]{2,})+"
    r")(?![0-9A-Za-z])"
)


_GROUPED_LENGTHS = {"AKIA": (20, 20), "ASIA": (20, 20), "LTAI": (16, 24), "AKID": (36, 36)}


def _mask(value: str) -> str:
    if value.startswith("-----BEGIN"):
        return value[: value.index("-----", 5) + 5] + "******"
    return value[:4] + "******"


def find(
    text: str,
    token_starts: list[tuple[int, int]] | None = None,
    assigned_starts: list[tuple[int, int]] | None = None,
) -> list[Candidate]:
    """The starts are the keywords' (start, length) from the prescan; None finds them here."""
    out: list[Candidate] = []
    if "-----BEGIN" in text:
        for m in _PEM.finditer(text):
            out.append(Candidate(NAME, m.start(), m.end(), 0.99, _mask(m.group()), priority=1))
    if token_starts is None:
        token_starts = keyword_starts(TOKEN_KEYWORDS, text)
    for m in anchored(_TOKENS, text, token_starts):
        if m.start() > 0 and text[m.start() - 1] in _TOKEN_CHARS:
            continue
        out.append(Candidate(NAME, m.start(), m.end(), 0.95, _mask(m.group()), priority=2))
    # The same cloud keys written in groups ("AKIA IOSF ODNN 7EXA MPLE"): found at the same starts.
    for m in anchored(_GROUPED_TOKENS, text, token_starts):
        raw = m.group()
        if not any(c in raw for c in " -") or (m.start() > 0 and text[m.start() - 1] in _TOKEN_CHARS):
            continue
        value = raw.replace(" ", "").replace("-", "")
        lo, hi = _GROUPED_LENGTHS[value[:4]]
        if not lo <= len(value) <= hi or sum(c.isdigit() for c in value[4:]) < 1 \
                or sum(c.isalpha() for c in value[4:]) < 2:
            continue
        out.append(Candidate(NAME, m.start(), m.end(), 0.9, _mask(value), priority=2))
    if assigned_starts is None:
        assigned_starts = keyword_starts(ASSIGNED_KEYWORDS, text)
    for m in anchored(_ASSIGNED, text, assigned_starts):
        if m.start() > 0 and text[m.start() - 1].isascii() and text[m.start() - 1].isalpha():
            continue
        value = m.group(1)
        if _high_entropy(value):
            out.append(Candidate(NAME, m.start(1), m.end(1), 0.85, _mask(value), priority=3))
    return out
