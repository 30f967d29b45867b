// Bundles GraphiQL, the explorer plugin and Monaco's workers into one folder of static assets.
//
//   node build.mjs [OUT_DIR]
//
// Writes graphiql.js, graphiql.css, the three worker scripts, fonts, and a manifest.json that
// lists the exact package versions the bundle was built from.
import { readFile, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

import * as esbuild from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const outDir = path.resolve(process.argv[2] || path.join(here, 'dist'));

const common = {
  bundle: true,
  minify: true,
  legalComments: 'linked',
  target: ['es2022'],
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
};

await rm(outDir, { recursive: true, force: true });
await mkdir(outDir, { recursive: true });

await Promise.all([
  esbuild.build({
    ...common,
    entryPoints: { graphiql: path.join(here, 'src/index.jsx') },
    outdir: outDir,
    format: 'esm',
    jsx: 'automatic',
    loader: { '.ttf': 'file', '.woff': 'file', '.woff2': 'file', '.svg': 'dataurl' },
    assetNames: '[name]-[hash]',
  }),
  esbuild.build({
    ...common,
    entryPoints: {
      'editor.worker': require.resolve('monaco-editor/esm/vs/editor/editor.worker.js'),
      'json.worker': require.resolve('monaco-editor/esm/vs/language/json/json.worker.js'),
      'graphql.worker': require.resolve('monaco-graphql/esm/graphql.worker.js'),
    },
    outdir: outDir,
    format: 'iife',
  }),
]);

const lock = JSON.parse(await readFile(path.join(here, 'package-lock.json'), 'utf8'));
const versions = {};
for (const name of ['graphiql', '@graphiql/plugin-explorer', '@graphiql/toolkit', 'graphql',
  'graphql-ws', 'react', 'react-dom', 'monaco-editor', 'monaco-graphql']) {
  const entry = lock.packages[`node_modules/${name}`];
  if (entry) versions[name] = entry.version;
}
await writeFile(
  path.join(outDir, 'manifest.json'),
  JSON.stringify({ entry: 'graphiql.js', stylesheet: 'graphiql.css', versions }, null, 2) + '\n',
);
console.log(`GraphiQL assets written to ${outDir}`);
