"""Online previews of Office documents as HTML made on the server (Word by mammoth, Excel by openpyxl,
PowerPoint by python-pptx as text per slide), sanitised by nh3 (ammonia) to plain structure: no scripts,
no styles, no links or images from anywhere, every text escaped; watermarked with the viewer's name.
Only for files the viewer may download (the same checks as a download: member, not held, not
recalled, past the virus scan). PDF and images are shown by the browser itself from the download."""

from __future__ import annotations

import html
import io
from datetime import UTC, datetime

import nh3

from mixun.domain.audit_actions import AuditAction
from mixun.errors import MixunError
from mixun.files.inspect import FileKind, decode_text, sniff
from mixun.services import attachments
from mixun.services.runtime import Ctx

MAX_ROWS = 500
MAX_COLS = 50
MAX_SHEETS = 10
# Structure only: no <a>, <img>, style or class, so nothing can load or run.
TAGS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "b", "i", "u", "s", "sub", "sup", "br",
        "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td", "blockquote", "pre", "code", "section",
        "header", "div", "span"}
ATTRS = {"td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; script-src 'none'; "
       "form-action 'none'; frame-ancestors 'self'; base-uri 'none'; sandbox")
STYLE = """
body{font:14px/1.6 -apple-system,"PingFang SC","Microsoft YaHei",sans-serif;margin:0;padding:24px;color:#222;
background:#fff;position:relative;min-height:100vh}
main{position:relative;z-index:1;max-width:960px;margin:0 auto}
table{border-collapse:collapse;margin:8px 0 24px}td,th{border:1px solid #ccc;padding:2px 6px;white-space:pre-wrap}
section.slide{border:1px solid #ddd;border-radius:6px;padding:12px 16px;margin:0 0 16px}
h2.sheet,h2.slide-no{font-size:15px;color:#555}
.wm{position:fixed;inset:0;z-index:2;pointer-events:none;overflow:hidden;display:flex;flex-wrap:wrap;
align-content:flex-start;gap:80px 120px;padding:40px;transform:rotate(-24deg) scale(1.5);opacity:.13;
font-size:18px;color:#000;user-select:none}
.wm span{white-space:nowrap}
"""


def preview(ctx: Ctx, attachment_id: int) -> str:
    """The preview page of one attachment, or preview_unsupported / preview_failed."""
    data, _mime, name = attachments.read_attachment(ctx, attachment_id, thumbnail=False, action=AuditAction.FILE_PREVIEWED)
    kind = sniff(data)
    try:
        if kind == FileKind.DOCX:
            body = _docx(data)
        elif kind == FileKind.XLSX:
            body = _xlsx(data)
        elif kind == FileKind.PPTX:
            body = _pptx(data)
        elif kind in (FileKind.TEXT, FileKind.CSV):
            body = f"<pre>{html.escape(decode_text(data)[:500_000])}</pre>"
        else:
            raise MixunError("preview_unsupported")
    except MixunError:
        raise
    except Exception as exc:  # a damaged or hostile document: no preview, never a 500
        raise MixunError("preview_failed") from exc
    viewer = ctx.principal.name if ctx.principal else ""
    return page(name, nh3.clean(body, tags=TAGS, attributes=ATTRS, url_schemes=set(), link_rel=None), viewer)


def page(title: str, body: str, viewer: str) -> str:
    stamp = f"{viewer} {datetime.now(UTC).astimezone().strftime('%Y-%m-%d')}"
    mark = "".join(f"<span>{html.escape(stamp)}</span>" for _ in range(60))
    return (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f'<meta name="referrer" content="no-referrer"><style>{STYLE}</style></head><body>'
            f'<main data-testid="preview-doc">{body}</main>'
            f'<div class="wm" data-testid="preview-watermark" aria-hidden="true">{mark}</div></body></html>')


def _docx(data: bytes) -> str:
    import mammoth

    # Images are dropped (not inlined): the preview shows text and structure only.
    result = mammoth.convert_to_html(io.BytesIO(data), convert_image=mammoth.images.img_element(lambda _i: {}))
    return str(result.value)


def _xlsx(data: bytes) -> str:
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    parts = []
    for ws in wb.worksheets[:MAX_SHEETS]:
        parts.append(f'<h2 class="sheet">{html.escape(ws.title)}</h2><table><tbody>')
        for n, row in enumerate(ws.iter_rows(values_only=True, max_col=MAX_COLS)):
            if n >= MAX_ROWS:
                parts.append(f"<tr><td>…（仅显示前 {MAX_ROWS} 行）</td></tr>")
                break
            cells = "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in row)
            parts.append(f"<tr>{cells}</tr>")
        parts.append("</tbody></table>")
    wb.close()
    return "".join(parts)


def _pptx(data: bytes) -> str:
    from pptx import Presentation

    prs = Presentation(io.BytesIO(data))
    parts = []
    for n, slide in enumerate(prs.slides, 1):
        parts.append(f'<section class="slide"><h2 class="slide-no">第 {n} 页</h2>')
        for shape in slide.shapes:
            if getattr(shape, "has_text_frame", False) and shape.has_text_frame:
                for para in shape.text_frame.paragraphs:
                    text = "".join(r.text for r in para.runs).strip()
                    if text:
                        parts.append(f"<p>{html.escape(text)}</p>")
            elif getattr(shape, "has_table", False) and shape.has_table:
                parts.append("<table><tbody>")
                for row in shape.table.rows:
                    parts.append("<tr>" + "".join(f"<td>{html.escape(c.text)}</td>" for c in row.cells) + "</tr>")
                parts.append("</tbody></table>")
        parts.append("</section>")
    return "".join(parts)
