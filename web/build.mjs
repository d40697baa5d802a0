// Builds web/dist, which the server embeds (crates/croupier-web): the lobby
// (index.html) and the console (console/index.html), each loading one
// content-hashed script and stylesheet from /assets/, with .br and .gz
// siblings. The output is committed; CI rebuilds it and fails on any
// difference, so it must depend on the sources alone (no timestamps).
import { build } from "esbuild";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";

const dist = "dist";
const apps = [
  { entry: "src/lobby/main.tsx", shell: "index.html", title: "Croupier" },
  { entry: "src/console/main.tsx", shell: "console/index.html", title: "Croupier console" },
];

rmSync(dist, { recursive: true, force: true });
const result = await build({
  entryPoints: apps.map((a) => a.entry),
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  splitting: true,
  outdir: join(dist, "assets"),
  entryNames: "[dir]-[hash]",
  chunkNames: "chunk-[hash]",
  assetNames: "[name]-[hash]",
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "none",
  metafile: true,
  write: true,
  logLevel: "warning",
});

for (const app of apps) {
  const [script, meta] = Object.entries(result.metafile.outputs).find(
    ([, m]) => m.entryPoint === app.entry,
  );
  const css = meta.cssBundle ? `\n    <link rel="stylesheet" href="/assets/${basename(meta.cssBundle)}">` : "";
  const html = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>${app.title}</title>
    <link rel="icon" href="data:,">${css}
    <script type="module" src="/assets/${basename(script)}"></script>
  </head>
  <body>
    <div id="app"></div>
    <noscript>This page needs JavaScript.</noscript>
  </body>
</html>
`;
  const file = join(dist, app.shell);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, html);
}

// Precompressed siblings for what compresses well; gzip's header carries no
// time (mtime 0), so both are functions of the input.
for (const file of Object.keys(result.metafile.outputs).concat(apps.map((a) => join(dist, a.shell)))) {
  if (!/\.(js|css|html)$/.test(file)) continue;
  const data = readFileSync(file);
  writeFileSync(`${file}.gz`, gzipSync(data, { level: 9 }));
  writeFileSync(
    `${file}.br`,
    brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
  );
}
console.log(`web: built ${Object.keys(result.metafile.outputs).length} files into ${dist}/`);
