/**
 * Preloaded (`--import`) into a process the memory bench measures: on SIGUSR2 it writes to
 * $BW_MEMORY_PROBE_FILE what the process holds (`process.memoryUsage()`, and V8's heap by
 * space), Node's own modules it has loaded (`internals`: Node's internal undici among them once
 * anything reads the global fetch classes), the npm packages it has loaded, each with the URLs its first importer outside
 * node_modules asked for, in the order they were first loaded, and the project's own modules
 * in the order they were first resolved, and every npm package with a file in the CommonJS
 * cache (`required`: what packages load for themselves, which the import hook does not see).
 * The same probe goes into the runtime and the bare
 * baseline, so whatever it costs lands on both. Plain JavaScript: a TypeScript preload would
 * make the bare server load Node's type stripper, which only the runtime (run from source)
 * needs.
 *
 * The soak (bench/memory/soak.ts) starts the runtime with --expose-gc as well and, to read
 * what is retained apart from garbage, creates `$BW_MEMORY_PROBE_FILE.gc` before the signal:
 * the probe then collects fully (twice: weak references and finalizers free more on the
 * second) before it reads, and removes the request. The memory bench likewise creates
 * `$BW_MEMORY_PROBE_FILE.snapshot`, holding a path, to have a heap snapshot written there
 * (after that read: the snapshot itself costs memory).
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire, registerHooks } from 'node:module';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';

const out = process.env['BW_MEMORY_PROBE_FILE'];
/** @type {Map<string, Set<string>>} package name → the URLs the project's own code imported. */
const packages = new Map();
/** @type {Set<string>} the project's own modules (file: URLs outside node_modules), in order. */
const own = new Set();

registerHooks({
  resolve(specifier, context, nextResolve) {
    const resolved = nextResolve(specifier, context);
    const parent = context.parentURL ?? '';
    const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(resolved.url)?.[1];
    if (pkg === undefined && resolved.url.startsWith('file:')) own.add(resolved.url);
    if (pkg !== undefined && !parent.includes('/node_modules/')) {
      let urls = packages.get(pkg);
      if (urls === undefined) packages.set(pkg, (urls = new Set()));
      urls.add(resolved.url);
    }
    return resolved;
  },
});

if (out !== undefined) {
  process.on('SIGUSR2', () => {
    const gcAsked = existsSync(`${out}.gc`) && typeof globalThis.gc === 'function';
    if (gcAsked) {
      globalThis.gc();
      globalThis.gc();
      rmSync(`${out}.gc`, { force: true });
    }
    const loaded = Object.fromEntries([...packages].map(([name, urls]) => [name, [...urls]]));
    const spaces = Object.fromEntries(
      getHeapSpaceStatistics()
        .filter((s) => s.space_size > 0)
        .map((s) => [s.space_name, { size: s.space_size, used: s.space_used_size }]),
    );
    const memory = process.memoryUsage();
    const internals = process.moduleLoadList
      .filter((name) => name.startsWith('NativeModule '))
      .map((name) => name.slice('NativeModule '.length));
    const required = [
      ...new Set(
        Object.keys(createRequire(import.meta.url).cache).flatMap(
          (file) =>
            /\/node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*\/node_modules\/)/.exec(file)?.[1] ?? [],
        ),
      ),
    ];
    const snapshotAsked = existsSync(`${out}.snapshot`);
    if (snapshotAsked) {
      writeHeapSnapshot(readFileSync(`${out}.snapshot`, 'utf8'));
      rmSync(`${out}.snapshot`, { force: true });
    }
    writeFileSync(
      out,
      JSON.stringify({
        memory,
        spaces,
        collected: gcAsked,
        packages: loaded,
        own: [...own],
        internals,
        required,
      }),
    );
  });
}
