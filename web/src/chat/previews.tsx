// File previews: PDF pages (pdf.js, loaded only when a PDF is opened), images with zoom, and Word, Excel
// and PowerPoint as HTML made on the server (sanitised, watermarked, never cached), framed here.
import { useEffect, useRef, useState } from 'preact/hooks';
import { t } from '../i18n';
import type { Attachment } from '../store';
import { Modal } from '../ui';

const OFFICE = /\.(docx|xlsx|pptx|txt|csv)$/i;
export function previewKind(a: Attachment): 'pdf' | 'office' | 'image' | null {
  const name = a.filename || '';
  if (a.kind === 'image' || a.mime?.startsWith('image/')) return 'image';
  if (a.mime === 'application/pdf' || /\.pdf$/i.test(name)) return 'pdf';
  if (OFFICE.test(name) || /officedocument|text\/(plain|csv)/.test(a.mime || '')) return 'office';
  return null;
}

export function PreviewButton({ a }: { a: Attachment }) {
  const [open, setOpen] = useState(false);
  const kind = previewKind(a);
  if (!kind || kind === 'image') return null;
  return (
    <>
      <button class="link preview-btn" data-testid="file-preview" onClick={(e) => { e.preventDefault(); e.stopPropagation(); setOpen(true); }}>{t('preview')}</button>
      {open && <FilePreview a={a} onClose={() => setOpen(false)} />}
    </>
  );
}

export function FilePreview({ a, onClose }: { a: Attachment; onClose: () => void }) {
  const name = a.filename || '';
  const kind = previewKind(a);
  return (
    <Modal title={name} onClose={onClose} wide testid="file-preview-dialog">
      <div class="preview-tools">
        <a class="button" data-testid="preview-download" href={`/api/v1/attachments/${a.id}`} download={name}>{t('download')}</a>
      </div>
      {kind === 'pdf' ? <PdfView id={a.id} /> : kind === 'image' ? <ZoomImage id={a.id} /> : (
        // Same origin, its own strict CSP (no scripts) and an empty sandbox: the page can only be shown.
        <iframe class="office-preview" data-testid="office-preview" sandbox="" referrerpolicy="no-referrer" src={`/api/v1/attachments/${a.id}/preview`} title={name} />
      )}
    </Modal>
  );
}

function Zoom({ scale, set }: { scale: number; set: (n: number) => void }) {
  return (
    <span class="zoom">
      <button data-testid="zoom-out" onClick={() => set(Math.max(0.25, +(scale - 0.25).toFixed(2)))}>－</button>
      <span data-testid="zoom-level">{Math.round(scale * 100)}%</span>
      <button data-testid="zoom-in" onClick={() => set(Math.min(4, +(scale + 0.25).toFixed(2)))}>＋</button>
    </span>
  );
}

export function ZoomImage({ id }: { id: number }) {
  const [scale, setScale] = useState(1);
  return (
    <div class="zoom-wrap">
      <Zoom scale={scale} set={setScale} />
      <div class="zoom-box"><img class="preview-img" src={`/api/v1/attachments/${id}`} alt={t('image_preview')}
        ref={(el) => { if (el) { el.style.transform = `scale(${scale})`; el.style.transformOrigin = '0 0'; } }} /></div>
    </div>
  );
}

function PdfView({ id }: { id: number }) {
  const [state, setState] = useState<{ pages: number; error?: string } | null>(null);
  const [scale, setScale] = useState(1.2);
  const box = useRef<HTMLDivElement>(null);
  const doc = useRef<any>(null);
  useEffect(() => {
    let gone = false;
    (async () => {
      try {
        const [{ openPdf }, res] = await Promise.all([import('./pdf_viewer'), fetch(`/api/v1/attachments/${id}`, { credentials: 'same-origin', cache: 'no-store' })]);
        if (!res.ok) { setState({ pages: 0, error: t('preview_failed') }); return; }
        const d = await openPdf(await res.arrayBuffer());
        if (gone) { d.close(); return; }
        doc.current = d; setState({ pages: d.pages });
      } catch { if (!gone) setState({ pages: 0, error: t('preview_failed') }); }
    })();
    return () => { gone = true; doc.current?.close(); doc.current = null; };
  }, [id]);
  useEffect(() => {
    const d = doc.current, el = box.current;
    if (!d || !el) return;
    const canvases = Array.from(el.querySelectorAll('canvas'));
    canvases.forEach((c, i) => { d.render(i + 1, c, scale).catch(() => {}); });
  }, [state, scale]);
  if (!state) return <div class="muted pad">{t('loading')}</div>;
  if (state.error) return <div class="error pad">{state.error}</div>;
  return (
    <div class="pdf-wrap">
      <div class="preview-tools"><Zoom scale={scale} set={setScale} /><span class="muted small" data-testid="pdf-pages">{t('pdf_pages', { n: state.pages })}</span></div>
      <div class="pdf-pages" ref={box} data-testid="pdf-preview">
        {Array.from({ length: Math.min(state.pages, 50) }, (_, i) => <canvas data-testid="pdf-page" data-page={i + 1} key={i} />)}
      </div>
    </div>
  );
}
