// Builds the Mixun web client into ../src/mixun/web/dist (index.html + hashed assets).
// No inline scripts or styles: the server's CSP forbids them.
import * as esbuild from 'esbuild';
import { mkdirSync, rmSync, writeFileSync, readFileSync, readdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const outdir = join(here, '..', 'src', 'mixun', 'web', 'dist');
const assets = join(outdir, 'assets');
const watch = process.argv.includes('--watch');

const options = {
  entryPoints: { app: join(here, 'src', 'main.tsx') },
  bundle: true,
  minify: !watch,
  sourcemap: false,
  format: 'esm',
  target: ['chrome100', 'firefox100', 'safari15'],
  outdir: assets,
  entryNames: '[name]-[hash]',
  // Lazy parts (the PDF viewer) become chunks of their own, loaded only when used.
  splitting: true,
  chunkNames: 'chunk-[hash]',
  assetNames: '[name]-[hash]',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  loader: { '.svg': 'file', '.png': 'file' },
  metafile: true,
  legalComments: 'none',
  define: { 'process.env.NODE_ENV': JSON.stringify(watch ? 'development' : 'production'), PDF_WORKER: '""' },
  logLevel: 'info',
};

function writeIndex(metafile) {
  const outputs = Object.keys(metafile.outputs).map((p) => relative(assets, join(process.cwd(), p)));
  const js = outputs.find((p) => /^app-.*\.js$/.test(p));
  const css = outputs.find((p) => /^app-.*\.css$/.test(p));
  // What every page load fetches: the app's JS and CSS and every chunk they import statically (shared
  // code esbuild split out of the lazy parts); the rest is loaded only when used (dynamic import()).
  const eager = new Set();
  const visit = (out) => {
    const name = relative(assets, join(process.cwd(), out));
    if (eager.has(name)) return;
    eager.add(name);
    for (const imp of metafile.outputs[out]?.imports || []) if (imp.kind === 'import-statement') visit(imp.path);
    const css = metafile.outputs[out]?.cssBundle;
    if (css) visit(css);
  };
  for (const out of Object.keys(metafile.outputs)) if (/^app-/.test(relative(assets, join(process.cwd(), out)))) visit(out);
  const fav = readFileSync(join(here, 'src', 'favicon.svg'));
  const favName = 'favicon.svg';
  writeFileSync(join(assets, favName), fav);
  const html = `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>密讯</title>
<link rel="icon" type="image/svg+xml" href="/assets/${favName}">
${css ? `<link rel="stylesheet" href="/assets/${css}">` : ''}
<script type="module" src="/assets/${js}"></script>
${[...eager].filter((f) => /^chunk-.*\.js$/.test(f)).map((f) => `<link rel="modulepreload" href="/assets/${f}">`).join('\n')}
</head>
<body>
<div id="app"><noscript>密讯需要启用 JavaScript / Mixun needs JavaScript.</noscript></div>
</body>
</html>
`;
  writeFileSync(join(outdir, 'index.html'), html);
  let total = 0;
  let lazy = 0;
  for (const f of readdirSync(assets)) {
    if (!/\.(js|css)$/.test(f)) continue;
    const gz = gzipSync(readFileSync(join(assets, f)), { level: 9 }).length;
    if (eager.has(f)) total += gz; else lazy += gz;
    console.log(`  ${f}  ${(gz / 1024).toFixed(1)} KB gzipped${eager.has(f) ? '' : ' (lazy)'}`);
  }
  console.log(`  total JS+CSS: ${(total / 1024).toFixed(1)} KB gzipped (main); lazy parts ${(lazy / 1024).toFixed(1)} KB`);
}

rmSync(outdir, { recursive: true, force: true });
mkdirSync(assets, { recursive: true });
process.chdir(here);
// pdf.js's worker, copied as a hashed asset (it is already one self-contained module).
const worker = readFileSync(join(here, 'node_modules', 'pdfjs-dist', 'build', 'pdf.worker.min.mjs'));
const workerName = `pdf.worker-${createHash('sha256').update(worker).digest('hex').slice(0, 8)}.js`;
writeFileSync(join(assets, workerName), worker);
options.define.PDF_WORKER = JSON.stringify(`/assets/${workerName}`);
if (watch) {
  const ctx = await esbuild.context({
    ...options,
    plugins: [{ name: 'index', setup(b) { b.onEnd((r) => r.metafile && writeIndex(r.metafile)); } }],
  });
  await ctx.watch();
} else {
  const result = await esbuild.build(options);
  writeIndex(result.metafile);
}
