"""What a file really is (judged from its bytes, never its name), its text, and the DLP verdict on it.

REQUIREMENTS D1/D3: Word, Excel, PowerPoint (OOXML and legacy), PDF, TXT/CSV and images are allowed;
anything else is refused with the reason; a classified marking anywhere in a document blocks it.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
from collections.abc import Collection
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from mixun.domain.dlp import DlpEngine, Policy, Verdict, decide

# Refuse archives whose declared expansion is absurd rather than discovering it while extracting.
MAX_UNCOMPRESSED = 256 * 1024 * 1024
MAX_TEXT_CHARS = 20_000_000


class FileKind(StrEnum):
    DOCX = "docx"
    XLSX = "xlsx"
    PPTX = "pptx"
    DOC = "doc"
    XLS = "xls"
    PPT = "ppt"
    PDF = "pdf"
    TEXT = "text"
    CSV = "csv"
    PNG = "png"
    JPEG = "jpeg"
    GIF = "gif"
    WEBP = "webp"
    ENCRYPTED_ZIP = "encrypted_zip"
    ENCRYPTED_OFFICE = "encrypted_office"


IMAGES = frozenset({FileKind.PNG, FileKind.JPEG, FileKind.GIF, FileKind.WEBP})
ENCRYPTED = frozenset({FileKind.ENCRYPTED_ZIP, FileKind.ENCRYPTED_OFFICE})


class UnsupportedFile(ValueError):
    """The content is not an allowed type; `reason` is a stable snake_case code, `detail` for people."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def sniff(data: bytes) -> FileKind:
    """The file's kind from its content; raises UnsupportedFile for anything not allowed."""
    if not data:
        raise UnsupportedFile("empty_file", "the file is empty")
    head = data[:16]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return FileKind.PNG
    if head.startswith(b"\xff\xd8\xff"):
        return FileKind.JPEG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return FileKind.GIF
    if head[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return FileKind.WEBP
    if b"%PDF-" in data[:1024]:
        return FileKind.PDF
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _sniff_zip(data)
    if head.startswith(_OLE_MAGIC):
        return _sniff_ole(data)
    return _sniff_text(data)


def _sniff_zip(data: bytes) -> FileKind:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise UnsupportedFile("corrupt_archive", "the ZIP structure cannot be read") from exc
    if any(i.flag_bits & 0x1 for i in infos):
        return FileKind.ENCRYPTED_ZIP
    if sum(i.file_size for i in infos) > MAX_UNCOMPRESSED:
        raise UnsupportedFile("too_large_uncompressed", "the archive expands beyond the allowed size")
    names = {i.filename for i in infos}
    if "[Content_Types].xml" in names:
        if "word/document.xml" in names:
            return FileKind.DOCX
        if "xl/workbook.xml" in names:
            return FileKind.XLSX
        if "ppt/presentation.xml" in names:
            return FileKind.PPTX
    raise UnsupportedFile("archive_not_allowed", "ZIP archives other than Office documents are not allowed")


def _ole_streams(data: bytes) -> list[str]:
    """Names in a Compound File Binary directory (enough of MS-CFB to tell .doc/.xls/.ppt apart)."""
    if len(data) < 512:
        raise ValueError("short header")
    sector_shift, = struct.unpack_from("<H", data, 30)
    ssize = 1 << sector_shift
    if ssize not in (512, 4096):
        raise ValueError("bad sector size")
    n_fat, first_dir = struct.unpack_from("<I", data, 44)[0], struct.unpack_from("<I", data, 48)[0]
    difat = list(struct.unpack_from("<109I", data, 76))[: min(n_fat, 109)]

    def sector(n: int) -> bytes:
        off = (n + 1) * ssize
        if off + ssize > len(data):
            raise ValueError("sector beyond end")
        return data[off : off + ssize]

    fat: list[int] = []
    for s in difat:
        fat.extend(struct.unpack(f"<{ssize // 4}I", sector(s)))
    names: list[str] = []
    s, seen = first_dir, set[int]()
    while s < 0xFFFFFFFA and s not in seen and len(seen) < 10_000:
        seen.add(s)
        block = sector(s)
        for off in range(0, ssize, 128):
            nlen, = struct.unpack_from("<H", block, off + 64)
            if 2 <= nlen <= 64:
                names.append(block[off : off + nlen - 2].decode("utf-16-le", "replace"))
        s = fat[s] if s < len(fat) else 0xFFFFFFFE
    return names


def _sniff_ole(data: bytes) -> FileKind:
    try:
        names = set(_ole_streams(data))
    except (ValueError, struct.error) as exc:
        raise UnsupportedFile("corrupt_document", "the legacy Office structure cannot be read") from exc
    if "EncryptedPackage" in names or "EncryptionInfo" in names:
        return FileKind.ENCRYPTED_OFFICE
    if "WordDocument" in names:
        return FileKind.DOC
    if "Workbook" in names or "Book" in names:
        return FileKind.XLS
    if "PowerPoint Document" in names:
        return FileKind.PPT
    raise UnsupportedFile("unsupported_type", "a compound document that is not Word, Excel or PowerPoint")


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 with a BOM, else GB18030; raises UnicodeDecodeError."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def _sniff_text(data: bytes) -> FileKind:
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UnsupportedFile("unsupported_type", "binary content of an unknown type")
    try:
        text = decode_text(data)
    except UnicodeDecodeError as exc:
        raise UnsupportedFile("unsupported_type", "neither UTF-8 nor GB18030 text") from exc
    sample = text[:65536]
    if sample and len(_CONTROL.findall(sample)) > len(sample) // 100:
        raise UnsupportedFile("unsupported_type", "binary content of an unknown type")
    return FileKind.CSV if _looks_like_csv(sample) else FileKind.TEXT


def _looks_like_csv(sample: str) -> bool:
    lines = [ln for ln in sample.splitlines()[:20] if ln.strip()]
    if len(lines) < 2:
        return False
    for sep in (",", "\t", ";"):
        counts = {ln.count(sep) for ln in lines}
        if len(counts) == 1 and next(iter(counts)) >= 1:
            return True
    return False


# ---- extraction -------------------------------------------------------------------------------


def extract_text(data: bytes, kind: FileKind) -> str:
    """All readable text of a file of `kind` (see `sniff`); images and encrypted files give ''."""
    if kind in (FileKind.TEXT, FileKind.CSV):
        return decode_text(data)
    if kind == FileKind.DOCX:
        return _docx_text(data)
    if kind == FileKind.XLSX:
        return _xlsx_text(data)
    if kind == FileKind.PPTX:
        return _pptx_text(data)
    if kind == FileKind.PDF:
        return _pdf_text(data)
    if kind in (FileKind.DOC, FileKind.XLS, FileKind.PPT):
        return _legacy_text(data)
    return ""


_W_NS = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _docx_text(data: bytes) -> str:
    import docx
    from lxml import etree

    document = docx.Document(io.BytesIO(data))
    # Every WordprocessingML part: body, headers and footers (where markings usually sit), footnotes,
    # comments, text boxes. python-docx's paragraph API alone misses headers and text boxes.
    out: list[str] = []
    for part in document.part.package.iter_parts():
        name = str(part.partname)
        if not (name.startswith("/word/") and name.endswith(".xml")):
            continue
        try:
            root = etree.fromstring(part.blob)  # noqa: S320 - python-docx already parsed it safely
        except etree.XMLSyntaxError:
            continue
        for p in root.iter(f"{_W_NS}p"):
            line = "".join(t.text or "" for t in p.iter(f"{_W_NS}t"))
            if line:
                out.append(line)
    return "\n".join(out)


def _xlsx_text(data: bytes) -> str:
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    out: list[str] = []
    try:
        for ws in wb.worksheets:
            out.append(ws.title)
            for row in ws.iter_rows(values_only=True):
                cells = ["" if v is None else str(v) for v in row]
                if any(cells):
                    out.append("\t".join(cells).rstrip("\t"))
    finally:
        wb.close()
    return "\n".join(out)


def _pptx_text(data: bytes) -> str:
    from pptx import Presentation

    prs = Presentation(io.BytesIO(data))
    out: list[str] = []

    def walk(shapes: Any) -> None:  # python-pptx shape collections
        for shape in shapes:
            if getattr(shape, "shape_type", None) == 6:  # MSO_SHAPE_TYPE.GROUP
                walk(shape.shapes)
            if getattr(shape, "has_text_frame", False) and shape.has_text_frame:
                out.extend(p.text for p in shape.text_frame.paragraphs if p.text)
            if getattr(shape, "has_table", False) and shape.has_table:
                for row in shape.table.rows:
                    out.append("\t".join(c.text for c in row.cells))

    for slide in prs.slides:
        walk(slide.shapes)
        if slide.has_notes_slide:
            out.append(slide.notes_slide.notes_text_frame.text)
    return "\n".join(out)


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted and not reader.decrypt(""):
        return ""
    out: list[str] = []
    total = 0
    for page in reader.pages:
        t = page.extract_text() or ""
        out.append(t)
        total += len(t)
        if total > MAX_TEXT_CHARS:
            break
    return "\n".join(out)


# UTF-16LE code units: ASCII, general punctuation and symbols (★ is U+2605), CJK punctuation, CJK
# ideographs and full-width forms.
_UTF16_RUN = re.compile(rb"(?:[\x09\x0a\x0d\x20-\x7e]\x00|[\x00-\xff][\x20-\x27\x30\x4e-\x9f\xff]){4,}")


def _legacy_text(data: bytes) -> str:
    """Best effort for .doc/.xls/.ppt: runs of UTF-16LE text (how those formats store most strings).

    A real parser of the binary formats is out of scope; this finds body text, cell strings and slide
    text in files saved by Office 97+, but may miss text stored compressed as 8-bit runs (handled
    separately below for ASCII) and may include some noise. Markings and numbers are found reliably.
    """
    out: list[str] = []
    for m in _UTF16_RUN.finditer(data):
        start = m.start() + (m.start() % 2)  # Office stores these strings 2-byte aligned
        text = data[start : m.end() - ((m.end() - start) % 2)].decode("utf-16-le", "ignore")
        if sum(c.isprintable() for c in text) >= len(text) * 0.9:
            out.append(text)
    out.extend(s.decode("ascii") for s in re.findall(rb"[\x20-\x7e]{8,}", data))
    return "\n".join(out)


# ---- verdict ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentVerdict:
    """`action` is what to do with the file; `reason` says why when it is refused or blocked."""

    kind: FileKind | None
    action: str
    reason: str | None = None
    detail: str | None = None
    verdict: Verdict | None = None
    text_chars: int = 0
    name_mismatch: bool = False
    notes: tuple[str, ...] = field(default=())

    @property
    def allowed(self) -> bool:
        return self.action in ("allow", "mask", "warn")


_EXTENSIONS = {
    FileKind.DOCX: {"docx", "docm"}, FileKind.XLSX: {"xlsx", "xlsm"}, FileKind.PPTX: {"pptx", "ppsx"},
    FileKind.DOC: {"doc", "wps"}, FileKind.XLS: {"xls", "et"}, FileKind.PPT: {"ppt", "pps", "dps"},
    FileKind.PDF: {"pdf"}, FileKind.TEXT: {"txt", "log", "md", "text"}, FileKind.CSV: {"csv", "txt", "tsv"},
    FileKind.PNG: {"png"}, FileKind.JPEG: {"jpg", "jpeg"}, FileKind.GIF: {"gif"}, FileKind.WEBP: {"webp"},
    FileKind.ENCRYPTED_ZIP: {"zip"},
}


def inspect_document(
    data: bytes,
    filename: str,
    engine: DlpEngine,
    policy: Policy,
    *,
    channel: str,
    roles: Collection[str] = (),
    unit_path: str = "",
    packed_by_server: bool = False,
) -> DocumentVerdict:
    """Sniff, extract and scan a file. The file name is scanned too (a marking in the name counts).

    `packed_by_server` is set for archives produced by secure packing (already scanned before
    encryption); other encrypted files get the policy's `encrypted_file_action` since nobody can see in.
    """
    try:
        kind = sniff(data)
    except UnsupportedFile as exc:
        return DocumentVerdict(None, "block", exc.reason, exc.detail)
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    mismatch = bool(ext) and ext not in _EXTENSIONS.get(kind, set())
    if kind in ENCRYPTED:
        action = "allow" if packed_by_server else policy.encrypted_file_action
        return DocumentVerdict(kind, action, None if action == "allow" else "encrypted_content",
                               "encrypted content cannot be inspected", name_mismatch=mismatch)
    try:
        text = extract_text(data, kind)
    except Exception as exc:  # noqa: BLE001 - any parser failure means the content cannot be vouched for
        return DocumentVerdict(kind, "block", "unreadable_document", type(exc).__name__, name_mismatch=mismatch)
    notes = ("legacy_format_best_effort",) if kind in (FileKind.DOC, FileKind.XLS, FileKind.PPT) else ()
    if kind in IMAGES:
        notes = ("image_text_not_inspected",)
    name_findings = engine.scan(filename)
    findings = engine.scan(text) if text else []
    verdict = decide([*findings, *name_findings], policy, channel=channel, roles=roles, unit_path=unit_path)
    action, reason = verdict.action, None
    if any(f.detector == "classified_marking" for f in (*findings, *name_findings)):
        action, reason = "block", "classified_marking"  # D3, whatever the policy says
    elif verdict.action == "block":
        reason = "dlp_blocked"
    elif verdict.action == "mask":
        # A file cannot be masked in place; the sender confirms, or uses secure packing.
        action = "warn"
    return DocumentVerdict(kind, action, reason, None, verdict, len(text), mismatch, notes)
