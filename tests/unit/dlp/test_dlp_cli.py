"""`mixun dlp scan`: one JSON line per finding, code-point offsets into the text as read."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "files"))
from files_samples import make_docx  # noqa: E402

from mixun.cli.dlp import scan_command  # noqa: E402

TEXT = "客户张三 身份证11010519491231002X，手机 139-1234-5678，密码：Abc@12345\n机密★5年\n"


def run(path=None, stdin: bytes = b"") -> tuple[int, list[dict], str]:
    out, err = io.StringIO(), io.StringIO()
    code = scan_command(path, out, stdin=io.BytesIO(stdin), stderr=err)
    return code, [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def test_scan_stdin_prints_findings_with_offsets_into_the_text():
    """Piping text prints each finding with its detector, offsets, action and masked value."""
    code, rows, _ = run(stdin=TEXT.encode())
    assert code == 0
    assert [r["detector"] for r in rows] == ["cn_id_card", "cn_mobile", "credential", "classified_marking"]
    for r in rows:
        assert set(r) == {"detector", "start", "end", "action", "masked"}
    idr = rows[0]
    assert TEXT[idr["start"] : idr["end"]] == "11010519491231002X" and idr["masked"] == "110105********002X"
    assert TEXT[rows[1]["start"] : rows[1]["end"]] == "139-1234-5678"
    assert {r["detector"]: r["action"] for r in rows} == {
        "cn_id_card": "warn", "cn_mobile": "warn", "credential": "block", "classified_marking": "block"}
    assert "Abc@12345" not in json.dumps(rows)


def test_scan_a_file_and_a_document(tmp_path):
    """A text file and a Word document are both scanned; the document as channel 'file'."""
    p = tmp_path / "msg.txt"
    p.write_text(TEXT, encoding="utf-8")
    assert run(str(p))[1] == run(stdin=TEXT.encode())[1]
    d = tmp_path / "report.bin"
    d.write_bytes(make_docx(["身份证11010519491231002X"], header="机密★5年"))
    code, rows, _ = run(str(d))
    assert code == 0 and {r["detector"] for r in rows} == {"cn_id_card", "classified_marking"}


def test_clean_input_prints_nothing_and_exits_zero():
    """Nothing found: no output, exit status 0 (also for empty input)."""
    assert run(stdin="明天上午开会".encode()) == (0, [], "")
    assert run(stdin=b"") == (0, [], "")


def test_binary_and_missing_files_are_errors(tmp_path):
    """An executable is refused (exit 2) and a missing file is reported (exit 1) on stderr."""
    exe = tmp_path / "a.exe"
    exe.write_bytes(b"MZ\x90\x00\xff\xfe\x00\x00" * 20)
    code, rows, err = run(str(exe))
    assert code == 2 and rows == [] and "not a text or document" in err
    code, _, err = run(str(tmp_path / "missing.txt"))
    assert code == 1 and "cannot read" in err
