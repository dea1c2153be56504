// PDF pages drawn by pdf.js (npm pdfjs-dist) into canvases. Loaded on demand as its own chunk, with
// its worker a separate file (PDF_WORKER is the worker's hashed asset path, set by the build), so the
// main bundle does not carry it. The document is fetched with the session like any download; nothing
// of it is kept after the dialog closes.
import * as pdfjs from 'pdfjs-dist';

declare const PDF_WORKER: string;
pdfjs.GlobalWorkerOptions.workerSrc = PDF_WORKER;

export type PdfDoc = { pages: number; render: (n: number, canvas: HTMLCanvasElement, scale: number) => Promise<void>; close: () => void };

export async function openPdf(data: ArrayBuffer): Promise<PdfDoc> {
  // No fonts or maps fetched from anywhere (no URLs given): what the file embeds is what is drawn.
  const task = pdfjs.getDocument({ data, useSystemFonts: true, enableXfa: false, stopAtErrors: false });
  const doc = await task.promise;
  return {
    pages: doc.numPages,
    async render(n, canvas, scale) {
      const page = await doc.getPage(n);
      const ratio = window.devicePixelRatio || 1;
      const vp = page.getViewport({ scale });
      canvas.width = Math.floor(vp.width * ratio);
      canvas.height = Math.floor(vp.height * ratio);
      canvas.style.width = Math.floor(vp.width) + 'px';
      canvas.style.height = Math.floor(vp.height) + 'px';
      await page.render({ canvas, viewport: vp, transform: ratio !== 1 ? [ratio, 0, 0, ratio, 0, 0] : undefined }).promise;
    },
    close() { task.destroy(); },
  };
}
