/**
 * The image's programs as it runs them, each bundled by esbuild with its dependencies' code:
 * the runtime (dist/runtime/src/main.js and all it imports) into dist/runtime/bundle/, and the
 * operator, the simulator, the kubectl plugin and the compile-cache warm-up into dist/bundle/
 * (scripts/build-dist.sh runs this after tsc). The runtime is a build of its own, so that its
 * start loads no chunk another program shares. What a program loads only when first used
 * (policy/policyModules.ts: the store, MCP, Bedrock, Vertex, tracing, the Kubernetes client)
 * stays a chunk of its own, loaded by the same `import()` as before.
 *
 * Why: the runtime loaded about 780 files before it was ready (300 of its own as ES modules,
 * 470 CommonJS files of its dependencies), and Node's loader (resolving, stat and realpath,
 * reading, wrapping each) took most of its start: 0.43–0.55 s to ready on the host, against
 * 0.20–0.36 s bundled; idle, 94–97 MB resident against 78.4 (in the image 91.0 MiB against
 * 76.4, a bare node:http server 48.6: make bench-image). And the image ships only what its
 * programs load: the bundles, and from node_modules only the packages left to Node at run
 * time (dist/node-modules.json, which tools/build/pruneNodeModules.ts keeps with what they
 * depend on). Whitespace and syntax are minified (not names: stack traces keep every
 * function's name); licence comments go to *.LEGAL.txt beside each file.
 *
 * Left to Node at run time, from the image's node_modules: node: built-ins, what the code
 * loads through `createRequire` (LOADED_BY_REQUIRE), and the CommonJS packages it loads with
 * `import()` (LOADED_AS_COMMONJS): esbuild's split chunk of a CommonJS module keeps only its
 * `default` export (evanw/esbuild#3245, open), so `(await import('google-auth-library'))
 * .GoogleAuth` would be undefined. They are features a policy loads when it first uses them,
 * never on the way to ready; the build fails if another such chunk appears.
 * The Lua scripts the store and the journal read beside their code are copied beside the
 * chunks, which all sit in one folder per build.
 *
 *   node tools/build/bundlePrograms.ts [dist]
 */
import {
  copyFileSync,
  existsSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { isBuiltin } from 'node:module';
import { join, relative } from 'node:path';
import { build, type Metafile } from 'esbuild';

const dist = process.argv[2] ?? 'dist';
/** CommonJS packages the programs (or a package they bundle) load with `import()`. */
const LOADED_AS_COMMONJS = [
  '@redis/client', // rateLimitStore/redisModule.ts: a store or durability
  '@aws-sdk/credential-providers', // provider/bedrock/awsCredentials.ts: Bedrock
  'google-auth-library', // provider/vertex/googleCredentials.ts: Vertex (and gaxios's proxy agent)
];
/** Packages the code loads with `createRequire(import.meta.url)(name)`, which esbuild cannot see. */
const LOADED_BY_REQUIRE = [
  'yaml', // platform/src/kube/kubeconfig.ts: a kubeconfig in YAML
  '@redis/client', // rateLimitStore/redisModule.ts: the store's client, once loaded
];

/** One esbuild run: its entries (name → file under dist/) and the folder under dist/ it writes. */
interface Bundle {
  readonly out: string;
  readonly entries: Readonly<Record<string, string>>;
}

const BUNDLES: readonly Bundle[] = [
  { out: 'runtime/bundle', entries: { main: 'runtime/src/main.js' } },
  {
    out: 'bundle',
    entries: {
      operator: 'operator/src/main.js',
      simulator: 'simulator/src/main.js',
      plugin: 'plugin/src/main.js',
      compileCacheWarmup: 'runtime/src/compileCacheWarmup.js',
    },
  },
];

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

/**
 * The npm package an import names (`@a/b/c.js` → `@a/b`); undefined for a built-in, and for a
 * package not installed here, which only a `require` in a `try` names (ws's `bufferutil`): had
 * it been needed, esbuild would have failed to resolve it.
 */
function packageOf(specifier: string): string | undefined {
  if (isBuiltin(specifier) || specifier.startsWith('.')) return undefined;
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
  return name !== undefined && existsSync(join('node_modules', name, 'package.json'))
    ? name
    : undefined;
}

/** The packages a build's output imports from node_modules at run time. */
function externalPackages(metafile: Metafile): string[] {
  return Object.values(metafile.outputs).flatMap((output) =>
    output.imports
      .filter((i) => i.external === true)
      .map((i) => packageOf(i.path))
      .filter((name): name is string => name !== undefined),
  );
}

async function bundle({ out, entries }: Bundle): Promise<Metafile> {
  const dir = join(dist, out);
  rmSync(dir, { recursive: true, force: true });
  const result = await build({
    entryPoints: Object.fromEntries(
      Object.entries(entries).map(([name, file]) => [name, join(dist, file)]),
    ),
    outdir: dir,
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
      file.endsWith('.js') &&
      /export default require_\w+\(\);\s*$/.test(readFileSync(file, 'utf8')),
  );
  if (broken.length > 0)
    throw new Error(
      `${broken.join(', ')}: a CommonJS package loaded with import() was bundled; add it to LOADED_AS_COMMONJS`,
    );
  const scripts = luaScripts(join(dist, 'runtime/src'));
  for (const [name, path] of scripts) copyFileSync(path, join(dir, name));
  const bytes = Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
  process.stderr.write(
    `bundled ${Object.keys(entries).join(', ')} into ${relative(process.cwd(), dir)}: ${String(Object.keys(result.metafile.outputs).length)} files, ${(bytes / 1e6).toFixed(1)} MB, and ${String(scripts.size)} Lua scripts\n`,
  );
  return result.metafile;
}

const external = new Set<string>(LOADED_BY_REQUIRE);
for (const b of BUNDLES) for (const name of externalPackages(await bundle(b))) external.add(name);
const packages = [...external].sort();
writeFileSync(join(dist, 'node-modules.json'), `${JSON.stringify({ packages }, null, 2)}\n`);
process.stderr.write(`the programs load from node_modules at run time: ${packages.join(', ')}\n`);
