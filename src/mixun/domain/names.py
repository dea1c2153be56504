"""Search keys for people: Chinese names, full pinyin and initials (every reading of a polyphonic name)."""

from __future__ import annotations

import itertools

from pypinyin import Style, pinyin

_MAX_READINGS = 8


def pinyin_keys(name: str) -> tuple[str, str]:
    """(full pinyin forms, initials forms), each a space-separated list of alternatives.

    张三 -> ("zhangsan", "zs"); 曾 reads zeng or ceng, so both forms are kept and either finds it.
    """
    full_readings = pinyin(name, style=Style.NORMAL, heteronym=True, errors="default")
    full_alts: list[str] = []
    init_alts: list[str] = []
    for combo in itertools.islice(itertools.product(*full_readings), _MAX_READINGS):
        full_alts.append("".join(combo).lower().replace(" ", ""))
        init_alts.append("".join(part[:1] for part in combo).lower())
    return " ".join(dict.fromkeys(full_alts)), " ".join(dict.fromkeys(init_alts))


def search_keys(name: str, username: str, employee_no: str | None, position: str) -> list[tuple[str, int]]:
    """(key, rank) pairs; a lower rank sorts first. Matching is by key prefix."""
    keys: dict[str, int] = {}

    def add(key: str, rank: int) -> None:
        key = key.strip().lower()[:200]
        if key and (key not in keys or keys[key] > rank):
            keys[key] = rank

    add(name, 0)
    for i in range(1, len(name)):
        add(name[i:], 2)  # given name: 三丰 finds 张三丰
    full, initials = pinyin_keys(name)
    for alt in full.split():
        add(alt, 1)
    for alt in initials.split():
        add(alt, 1)
    add(username, 1)
    if employee_no:
        add(employee_no, 1)
    if position:
        add(position, 4)
    return sorted(keys.items())


def normalise_query(q: str) -> str:
    return "".join(q.split()).lower()[:100]
