"""File type judged from content, text extraction, and the DLP verdict on documents."""

from __future__ import annotations

import io
import zipfile

import pytest
from files_samples import make_docx, make_ole, make_pdf, make_pptx, make_xlsx

from mixun.domain.dlp import DEFAULT_POLICY, DlpEngine
from mixun.files.inspect import FileKind, UnsupportedFile, extract_text, inspect_document, sniff
from mixun.files.packing import secure_pack

ENGINE = DlpEngine()
ID18 = "11010519491231002X"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 32
GIF = b"GIF89a" + b"\0" * 32
WEBP = b"RIFF\x10\0\0\0WEBPVP8 " + b"\0" * 16


def inspect(data: bytes, name: str = "x", channel: str = "file"):
    return inspect_document(data, name, ENGINE, DEFAULT_POLICY, channel=channel, roles=(), unit_path="总行")


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (make_docx(["你好"]), FileKind.DOCX),
        (make_xlsx([["a", 1]]), FileKind.XLSX),
        (make_pptx(["标题"]), FileKind.PPTX),
        (make_pdf(["hello"]), FileKind.PDF),
        (make_ole("WordDocument", b"x" * 4096), FileKind.DOC),
        (make_ole("Workbook", b"x" * 4096), FileKind.XLS),
        (make_ole("PowerPoint Document", b"x" * 4096), FileKind.PPT),
        ("会议纪要\n明天开会".encode(), FileKind.TEXT),
        ("会议纪要\n明天开会".encode("gb18030"), FileKind.TEXT),
        ("姓名,部门\n张三,零售部\n李四,科技部\n".encode(), FileKind.CSV),
        (PNG, FileKind.PNG),
        (JPEG, FileKind.JPEG),
        (GIF, FileKind.GIF),
        (WEBP, FileKind.WEBP),
    ],
)
def test_allowed_types_are_recognised_from_content(data, kind):
    """Word, Excel, PowerPoint (new and legacy), PDF, text, CSV and images are recognised by content."""
    assert sniff(data) == kind


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for n, d in entries.items():
            zf.writestr(n, d)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64, "unsupported_type"),  # a Windows executable
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 64, "unsupported_type"),
        (_zip({"evil.exe": b"MZ"}), "archive_not_allowed"),
        (make_ole("Something Else", b"x" * 4096), "unsupported_type"),
        (b"", "empty_file"),
        (b"PK\x03\x04garbage", "corrupt_archive"),
    ],
)
def test_other_content_is_refused_with_a_reason(data, reason):
    """Executables, plain archives, unknown compound files and junk are refused, saying why."""
    with pytest.raises(UnsupportedFile) as exc:
        sniff(data)
    assert exc.value.reason == reason
    v = inspect(data, "report.docx")
    assert v.action == "block" and v.reason == reason and not v.allowed


def test_a_renamed_executable_is_not_a_document():
    """Calling an executable report.pdf does not make it a PDF."""
    assert inspect(b"MZ\x90\x00" + b"\x00" * 100, "report.pdf").reason == "unsupported_type"


def test_a_name_that_lies_about_an_allowed_type_is_noted():
    """A Word file named .pdf is inspected as Word and the mismatch is reported."""
    v = inspect(make_docx(["普通内容"]), "report.pdf")
    assert v.kind == FileKind.DOCX and v.name_mismatch and v.action == "allow"


@pytest.mark.parametrize(
    "data",
    [
        make_docx(["正文"], header="机密★5年"),
        make_xlsx([["密级：绝密"], ["内容"]]),
        make_pptx(["标题", "正文"], notes="【绝密】"),
        make_pdf(["Hello", "机密★长期"]),
        make_ole("WordDocument", ("正文 机密★长期 " * 300).encode("utf-16-le")),
        "抬头\n机密\n正文".encode(),
    ],
)
def test_a_classified_marking_anywhere_blocks_the_document(data):
    """A marking in a header, a cell, speaker notes, a PDF page or a legacy .doc blocks the file."""
    v = inspect(data, "文件")
    assert v.action == "block" and v.reason == "classified_marking"


def test_marking_in_the_file_name_blocks():
    """A file named with a marking is blocked even when its body is clean."""
    assert inspect(make_docx(["正文"]), "绝密★长期-方案.docx").reason == "classified_marking"


def test_personal_data_in_a_document_needs_confirmation_and_bulk_is_blocked():
    """One ID number in a spreadsheet asks the sender to confirm; a customer list is blocked."""
    one = inspect(make_xlsx([["姓名", "身份证"], ["张三", ID18]]), "a.xlsx")
    assert one.action == "warn" and one.allowed
    from mixun.domain.dlp.checksums import gb11643_check_char

    rows = [["姓名", "身份证"]]
    for n in range(6):
        body = f"1101051949123100{n}"
        rows.append([f"客户{n}", body + gb11643_check_char(body)])
    bulk = inspect(make_xlsx(rows), "clients.xlsx")
    assert bulk.action == "block" and bulk.reason == "dlp_blocked"


def test_group_masking_turns_into_a_warning_for_files():
    """A file cannot be masked in place, so what would be masked in a group needs confirmation."""
    assert inspect(make_docx([f"身份证{ID18}"]), "a.docx", channel="group").action == "warn"


def test_text_extraction_reads_every_part():
    """Body, tables and headers of Word; all sheets of Excel; slides and notes of PowerPoint."""
    assert {"正文一", "表格单元", "页眉"} <= set(extract_text(make_docx(["正文一"], header="页眉"), FileKind.DOCX).split("\n"))
    assert "13912345678" in extract_text(make_xlsx([["张三", 13912345678]]), FileKind.XLSX)
    text = extract_text(make_pptx(["标题", "第二行"], notes="讲稿"), FileKind.PPTX)
    assert "第二行" in text and "讲稿" in text
    assert "手机13912345678" in extract_text(make_pdf(["手机13912345678"]), FileKind.PDF)


def test_legacy_office_text_is_best_effort():
    """Text stored as UTF-16 in a legacy .doc is found (the format is not fully parsed)."""
    data = make_ole("WordDocument", ("客户手机13912345678。" * 300).encode("utf-16-le"))
    v = inspect(data, "old.doc")
    assert v.kind == FileKind.DOC and "legacy_format_best_effort" in v.notes
    assert any(d.finding.detector == "cn_mobile" for d in v.verdict.decisions)


def test_encrypted_archives_follow_policy_unless_packed_by_the_server():
    """An encrypted ZIP nobody can look into is refused by default; our own secure pack is not."""
    packed = secure_pack([("a.txt", b"hello")], "Str0ng!pass")
    assert sniff(packed) == FileKind.ENCRYPTED_ZIP
    assert inspect(packed, "a.zip").action == "block"
    assert inspect(packed, "a.zip").reason == "encrypted_content"
    v = inspect_document(packed, "a.zip", ENGINE, DEFAULT_POLICY, channel="file", packed_by_server=True)
    assert v.action == "allow"


def test_images_are_allowed_without_text_inspection():
    """Images pass type checks; their pixels are not read (no OCR), and the result says so."""
    v = inspect(PNG, "photo.png")
    assert v.action == "allow" and "image_text_not_inspected" in v.notes
