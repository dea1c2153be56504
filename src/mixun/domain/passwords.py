"""The password policy: which rules a candidate password fails (no hashing, no storage here).

Beyond length and character classes, a password is refused when it is one of the commonest leaked
passwords once its decoration is taken off (``P@ssw0rd2026!`` is ``password``), when it contains the
organisation's own words (mixun, 密讯 and those configured in MIXUN_ORG_WORDS), when it is mostly one
character repeated (``aaaaaaaA1!``), or when it is the demo's published password. The common-password
list is the 30,000 most frequent passwords from leaked sets, as shipped by zxcvbn (Dropbox's strength
estimator, PyPI ``zxcvbn``; its ``frequency_lists.passwords``).
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Iterable
from functools import lru_cache

SYMBOLS = set(string.punctuation) | set("·！￥…（）—【】、；：‘’“”，。《》？")
# The demo's published password (README): never acceptable for an account of one's own.
DEMO_PASSWORD = "Mixun@2026"  # noqa: S105 - documented in the README, refused here for that reason
ORG_WORDS = ("mixun", "密讯", "mi xun")
_LEET = str.maketrans({"0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s",
                       "!": "i", "|": "l", "+": "t"})
_LEET_I = str.maketrans({"1": "i", "!": "i", "|": "i", "0": "o", "@": "a", "$": "s", "5": "s", "3": "e"})
_EDGE = re.compile(r"^[\d\W_]+|[\d\W_]+$")


@lru_cache(maxsize=1)
def _common() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def _is_common(password: str) -> bool:
    """The password, or its core once the digits and symbols around it are taken off (and leet undone),
    is on the common list."""
    low = password.lower()
    common = _common()
    if low in common:
        return True
    for core in {_EDGE.sub("", low), _EDGE.sub("", low.translate(_LEET)), low.translate(_LEET)}:
        if len(core) >= 4 and core in common:
            return True
    return False


def _is_repetitive(password: str) -> bool:
    """Four or more of one character in a row, or a password of at most three distinct characters once
    case is ignored, or a straight run of five (abcde, 12345, 54321)."""
    low = password.lower()
    if re.search(r"(.)\1{3,}", low) or len(set(low)) <= 3:
        return True
    for i in range(len(low) - 4):
        steps = {ord(low[j + 1]) - ord(low[j]) for j in range(i, i + 4)}
        if steps in ({1}, {-1}) and low[i].isalnum():
            return True
    return False


def password_rule_failures(password: str, username: str, org_words: Iterable[str] = ()) -> list[str]:
    """Rule ids the password fails, in a stable order; empty when it passes."""
    failures: list[str] = []
    if len(password) < 8:
        failures.append("min_length")
    if not any(c.isalpha() and c.isascii() for c in password):
        failures.append("letters")
    if not any(c.isdigit() for c in password):
        failures.append("digits")
    if not any(c in SYMBOLS for c in password):
        failures.append("symbols")
    if username and username.lower() in password.lower():
        failures.append("contains_username")
    if password.lower() == DEMO_PASSWORD.lower():
        failures.append("demo_password")
    low = password.lower()
    forms = {low, low.replace(" ", ""), low.translate(_LEET).replace(" ", ""), low.translate(_LEET_I).replace(" ", "")}
    words = [w.lower().replace(" ", "") for w in (*ORG_WORDS, *org_words) if w.strip()]
    if any(w in form for w in words for form in forms):
        failures.append("organisation")
    if _is_common(password):
        failures.append("common")
    if _is_repetitive(password):
        failures.append("repeated")
    return failures


def configured_words(extra: dict[str, str]) -> tuple[str, ...]:
    """The organisation's own words from MIXUN_ORG_WORDS (comma-separated: the bank's name, its
    abbreviations), added to mixun and 密讯."""
    return tuple(w.strip() for w in extra.get("MIXUN_ORG_WORDS", "").replace("，", ",").split(",") if w.strip())


def generate_password(length: int = 16) -> str:
    """A random one-time password that always satisfies the policy."""
    alphabet = string.ascii_letters + string.digits
    symbols = "!@#$%^&*-_=+?"
    while True:
        chars = [secrets.choice(alphabet) for _ in range(length - 2)]
        chars.insert(secrets.randbelow(len(chars)), secrets.choice(symbols))
        chars.insert(secrets.randbelow(len(chars)), secrets.choice(string.digits))
        pw = "".join(chars)
        if not password_rule_failures(pw, ""):
            return pw
