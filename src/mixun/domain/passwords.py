"""The password policy: which rules a candidate password fails (no hashing, no storage here)."""

from __future__ import annotations

import secrets
import string

SYMBOLS = set(string.punctuation) | set("·！￥…（）—【】、；：‘’“”，。《》？")


def password_rule_failures(password: str, username: str) -> list[str]:
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
    return failures


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
