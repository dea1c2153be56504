// Builds the Mixun web client into ../src/mixun/web/dist (index.html + hashed assets).
// No inline scripts or styles: the server's CSP forbids them.
import * as esbuild from 'esbuild';
import { mkdirSync, rmSync, writeFileSync, readFileSync, readdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
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
  assetNames: '[name]-[hash]',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  loader: { '.svg': 'file', '.png': 'file' },
  metafile: true,
  legalComments: 'none',
  define: { 'process.env.NODE_ENV': JSON.stringify(watch ? 'development' : 'production') },
  logLevel: 'info',
};

function writeIndex(metafile) {
  const outputs = Object.keys(metafile.outputs).map((p) => relative(assets, join(process.cwd(), p)));
  const js = outputs.find((p) => /^app-.*\.js$/.test(p));
  const css = outputs.find((p) => /^app-.*\.css$/.test(p));
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
</head>
<body>
<div id="app"><noscript>密讯需要启用 JavaScript / Mixun needs JavaScript.</noscript></div>
</body>
</html>
`;
  writeFileSync(join(outdir, 'index.html'), html);
  let total = 0;
  for (const f of readdirSync(assets)) {
    if (!/\.(js|css)$/.test(f)) continue;
    const gz = gzipSync(readFileSync(join(assets, f)), { level: 9 }).length;
    total += gz;
    console.log(`  ${f}  ${(gz / 1024).toFixed(1)} KB gzipped`);
  }
  console.log(`  total JS+CSS: ${(total / 1024).toFixed(1)} KB gzipped`);
}

rmSync(outdir, { recursive: true, force: true });
mkdirSync(assets, { recursive: true });
process.chdir(here);
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
