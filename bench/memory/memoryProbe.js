/**
 * Preloaded (`--import`) into a process the memory bench measures: on SIGUSR2 it writes to
 * $BW_MEMORY_PROBE_FILE what the process holds (`process.memoryUsage()`) and the npm packages
 * it has loaded, each with the URLs its first importer outside node_modules asked for, in the
 * order they were first loaded. The same probe goes into the runtime and the bare baseline, so
 * whatever it costs lands on both. Plain JavaScript: a TypeScript preload would make the
 * bare server load Node's type stripper, which only the runtime (run from source) needs.
 *
 * The soak (bench/memory/soak.ts) starts the runtime with --expose-gc as well and, to read
 * what is retained apart from garbage, creates `$BW_MEMORY_PROBE_FILE.gc` before the signal:
 * the probe then collects fully (twice: weak references and finalizers free more on the
 * second) before it reads, and removes the request.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const out = process.env['BW_MEMORY_PROBE_FILE'];
/** @type {Map<string, Set<string>>} package name → the URLs the project's own code imported. */
const packages = new Map();

registerHooks({
  resolve(specifier, context, nextResolve) {
    const resolved = nextResolve(specifier, context);
    const parent = context.parentURL ?? '';
    const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(resolved.url)?.[1];
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
    writeFileSync(
      out,
      JSON.stringify({ memory: process.memoryUsage(), collected: gcAsked, packages: loaded }),
    );
  });
}
