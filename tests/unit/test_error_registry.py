"""The one error registry: every error a client can get has its zh-CN and English text.

A custom message is a (zh-CN, English) pair or nothing; these tests read the source so that a
Chinese-only message fails here, before any client with ``Accept-Language: en`` sees one.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from mixun.errors import ERRORS, MixunError

SRC = Path(__file__).resolve().parents[2] / "src" / "mixun"
CJK = re.compile(r"[\u3400-\u9fff]")
# Half-width punctuation touching a Chinese character: zh-CN text uses ，。：；！？ instead.
HALF_WIDTH = re.compile(r"(?<=[\u3400-\u9fff])[,.:;!?]|[,:;!?](?=[\u3400-\u9fff])")
# Calls that hand on a message built elsewhere (already a pair, checked where it is built).
FORWARDED = {
    ("errors.py", "message"),                                 # error_body passes its argument on
    ("sendpath/wire.py", "self.message"),                       # an outcome read back from the writer
    ("services/dlp.py", "_REFUSAL_TEXT.get(doc.reason or '')"),  # pairs, tested below
    ("services/retention.py", "problem"),                     # domain.retention.check_days returns a pair
}


def _message_args() -> list[tuple[str, int, ast.expr]]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), rel)):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            if name not in ("MixunError", "error_body"):
                continue
            at = 1 if name == "MixunError" else 2  # error_body(code, locale, message)
            args = node.args[at:at + 1] + [k.value for k in node.keywords if k.arg == "message"]
            found += [(rel, node.lineno, a) for a in args if not (isinstance(a, ast.Constant) and a.value is None)]
    return found


def _texts(node: ast.expr) -> str:
    """The literal text of a str or f-string node (placeholders left out)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value for v in node.values if isinstance(v, ast.Constant))
    return ""


def test_every_registered_error_has_chinese_and_english_text() -> None:
    """Every error code a client can get has a status, a Chinese text and an English text."""
    for code, (status, zh, en) in ERRORS.items():
        assert 400 <= status < 600, code
        assert zh.strip() and CJK.search(zh), f"{code}: no Chinese text"
        assert en.strip() and not CJK.search(en), f"{code}: no English text"


def test_chinese_error_texts_use_full_width_punctuation() -> None:
    """Chinese error texts are punctuated ，。：；！？ like the rest of the interface."""
    bad = {code: zh for code, (_s, zh, _e) in ERRORS.items() if re.search(r"[,;:!?]", zh)}
    assert not bad


def test_no_error_is_raised_with_a_chinese_only_message() -> None:
    """No MixunError in the source carries one language alone: custom messages are (zh-CN, English)."""
    problems = []
    for rel, line, arg in _message_args():
        if isinstance(arg, ast.Tuple) and len(arg.elts) == 2:
            zh, en = (_texts(e) for e in arg.elts)
            if not CJK.search(zh) or not en.strip() or CJK.search(en):
                problems.append(f"{rel}:{line}: the pair is not (zh-CN, English)")
            elif HALF_WIDTH.search(zh):
                problems.append(f"{rel}:{line}: half-width punctuation in the Chinese text")
        elif (rel, ast.unparse(arg)) not in FORWARDED:
            problems.append(f"{rel}:{line}: {ast.unparse(arg)} is not a (zh-CN, English) pair; register a code")
    assert not problems, "\n".join(problems)


def test_a_one_language_message_is_refused_at_once() -> None:
    """A string message (one language only) fails where it is raised, not in a client's language."""
    with pytest.raises(TypeError):
        MixunError("conflict", "操作冲突")
    err = MixunError("conflict", ("已处理", "Already done"))
    assert (err.message_for("en"), err.message_for("zh-CN")) == ("Already done", "已处理")


def test_file_refusal_texts_are_pairs() -> None:
    """Each reason a file is refused for has its Chinese and English text."""
    from mixun.domain.retention import check_days
    from mixun.services.dlp import _REFUSAL_TEXT

    pairs = list(_REFUSAL_TEXT.values()) + [check_days("audit", 1, 1), check_days("default", 0, 0)]
    for zh, en in pairs:  # type: ignore[misc]
        assert CJK.search(zh) and not HALF_WIDTH.search(zh) and en and not CJK.search(en), (zh, en)


# Where each error-making call takes its code: MixunError(code), error_body(code), render(request, code),
# _send_error(send, status, code, scope).
_CODE_AT = {"MixunError": 0, "error_body": 0, "render": 1, "_send_error": 2}


def _literal_codes() -> list[tuple[str, int, str]]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), rel)):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            at = _CODE_AT.get(name or "")
            if at is None:
                continue
            args = node.args[at:at + 1] + [k.value for k in node.keywords if k.arg == "code"]
            found += [(rel, node.lineno, a.value) for a in args
                      if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    return found


def test_every_error_code_in_the_source_is_registered() -> None:
    """A code the source raises or renders is in the one registry, so it has its status and both texts
    (an unregistered one would reach a client with neither)."""
    found = _literal_codes()
    assert len(found) > 100  # the scan sees the calls
    missing = [f"{rel}:{line}: {code}" for rel, line, code in found if code not in ERRORS]
    assert not missing, "\n".join(missing)


def test_an_unregistered_code_is_refused_at_once() -> None:
    with pytest.raises(ValueError):
        MixunError("no_such_code_anywhere")
