/**
 * The runtime as the image and `breakwater-runtime` run it: dist/runtime/src/main.js and all
 * it imports, its dependencies' code included, bundled by esbuild into dist/runtime/bundle/
 * (scripts/build-dist.sh runs this after tsc). What the runtime loads only when a policy first
 * uses it (policy/policyModules.ts: the store, MCP, Bedrock, Vertex, tracing, the Kubernetes
 * client) stays a chunk of its own, loaded by the same `import()` as before.
 *
 * Why: the runtime loaded about 780 files before it was ready (300 of its own as ES modules,
 * 470 CommonJS files of its dependencies), and Node's loader (resolving, stat and realpath,
 * reading, wrapping each) took most of its start: 0.43–0.55 s to ready on the host, against
 * 0.20–0.36 s bundled; idle, 94–97 MB resident against 78.4 (in the image 91.0 MiB against
 * 76.4, a bare node:http server 48.6: make bench-image). Whitespace and syntax are minified (not names:
 * stack traces keep every function's name); licence comments go to *.LEGAL.txt beside each file.
 *
 * Left to Node at run time, from the image's node_modules: node: built-ins, what the code
 * loads through `createRequire` (`yaml` in the kubeconfig reader), and the CommonJS packages it
 * loads with `import()` (LOADED_AS_COMMONJS): esbuild's split chunk of a CommonJS module keeps
 * only its `default` export (evanw/esbuild#3245, open), so `(await import('google-auth-library'))
 * .GoogleAuth` would be undefined. They are features a policy loads when it first uses them,
 * never on the way to ready; the build fails if another such chunk appears.
 * The Lua scripts the store and the journal read beside their code are copied beside the
 * chunks, which all sit in one folder.
 *
 *   node tools/build/bundleRuntime.ts [dist]
 */
import { copyFileSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { build } from 'esbuild';

const dist = process.argv[2] ?? 'dist';
/** CommonJS packages the runtime (or a package it bundles) loads with `import()`. */
const LOADED_AS_COMMONJS = [
  '@redis/client', // rateLimitStore/redisModule.ts: a store or durability
  '@aws-sdk/credential-providers', // provider/bedrock/awsCredentials.ts: Bedrock
  'google-auth-library', // provider/vertex/googleCredentials.ts: Vertex (and gaxios's proxy agent)
];
const out = join(dist, 'runtime/bundle');

/** Every `.lua` under `dir`, by file name; two of one name could not share the folder. */
function luaScripts(dir: string, found = new Map<string, string>()): Map<string, string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) luaScripts(path, found);
    else if (entry.name.endsWith('.lua')) {
      const other = found.get(entry.name);
      if (other !== undefined)
        throw new Error(`two Lua scripts named ${entry.name} (${other}, ${path}): rename one`);
      found.set(entry.name, path);
    }
  }
  return found;
}

rmSync(out, { recursive: true, force: true });
const result = await build({
  entryPoints: { main: join(dist, 'runtime/src/main.js') },
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'external',
  external: LOADED_AS_COMMONJS,
  metafile: true,
  logLevel: 'warning',
  // The dependencies' CommonJS calls `require`, which an ES module lacks: one made here.
  banner: {
    js: "import { createRequire as __breakwaterCreateRequire } from 'node:module'; const require = __breakwaterCreateRequire(import.meta.url);",
  },
});
// A chunk that is a CommonJS module alone exports `default` only: an `import()` of it is broken.
const broken = Object.keys(result.metafile.outputs).filter(
  (file) =>
    file.endsWith('.js') && /export default require_\w+\(\);\s*$/.test(readFileSync(file, 'utf8')),
);
if (broken.length > 0)
  throw new Error(
    `${broken.join(', ')}: a CommonJS package loaded with import() was bundled; add it to LOADED_AS_COMMONJS`,
  );
const scripts = luaScripts(join(dist, 'runtime/src'));
for (const [name, path] of scripts) copyFileSync(path, join(out, name));
const bytes = Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
process.stderr.write(
  `bundled the runtime into ${relative(process.cwd(), out)}: ${String(Object.keys(result.metafile.outputs).length)} files, ${(bytes / 1e6).toFixed(1)} MB, and ${String(scripts.size)} Lua scripts\n`,
);
