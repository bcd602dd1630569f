/**
 * Leaves in a node_modules folder only the packages the bundled programs load from it at run
 * time (dist/node-modules.json, written by bundlePrograms.ts) and what those depend on; the
 * image's `deps` stage runs it after `npm install --omit=dev`. Everything else is in a bundle
 * already, and a copy on disk that nothing loads is weight in every pull and in every scan.
 *
 * A package's dependencies are found as Node finds them: in its own node_modules, then in each
 * folder above. A dependency that is not installed fails the run, unless it is optional or a
 * peer (npm installs neither for certain).
 *
 *   node tools/build/pruneNodeModules.ts <node_modules> <node-modules.json>
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

interface Manifest {
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
}

const manifest = (dir: string): Manifest =>
  JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;

/** Where `name` is found from the package in `from`, as Node looks: undefined when nowhere. */
function resolve(root: string, from: string, name: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === dirname(root) || dir === dirname(dir)) return undefined;
  }
}

/** The folders of `roots` and of everything they depend on, under `root` (a node_modules). */
export function packagesNeeded(root: string, roots: readonly string[]): Set<string> {
  const needed = new Set<string>();
  const visit = (from: string, name: string, required: boolean, by: string): void => {
    const dir = resolve(root, from, name);
    if (dir === undefined) {
      if (required) throw new Error(`${name}, which ${by} needs, is not installed in ${root}`);
      return;
    }
    if (needed.has(dir)) return;
    needed.add(dir);
    const m = manifest(dir);
    for (const dep of Object.keys(m.dependencies ?? {}))
      visit(dir, dep, !(dep in (m.optionalDependencies ?? {})), name);
    for (const dep of Object.keys({ ...m.optionalDependencies, ...m.peerDependencies }))
      visit(dir, dep, false, name);
  };
  for (const name of roots) visit(dirname(root), name, true, 'dist/node-modules.json');
  return needed;
}

/** Every package folder under a node_modules folder, nested ones included. */
function installed(modules: string, found: string[] = []): string[] {
  if (!existsSync(modules)) return found;
  for (const entry of readdirSync(modules, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const dirs = entry.name.startsWith('@')
      ? readdirSync(join(modules, entry.name)).map((n) => join(modules, entry.name, n))
      : [join(modules, entry.name)];
    for (const dir of dirs) {
      found.push(dir);
      installed(join(dir, 'node_modules'), found);
    }
  }
  return found;
}

/** Removes every package under `root` that `roots` do not need; returns what it removed. */
export function prune(root: string, roots: readonly string[]): string[] {
  const needed = packagesNeeded(root, roots);
  const removed = installed(root).filter(
    (dir) => !needed.has(dir) && ![...needed].some((keep) => keep.startsWith(`${dir}/`)),
  );
  for (const dir of removed) rmSync(dir, { recursive: true, force: true });
  for (const scope of readdirSync(root).filter((n) => n.startsWith('@'))) {
    if (readdirSync(join(root, scope)).length === 0) rmSync(join(root, scope), { recursive: true });
  }
  rmSync(join(root, '.bin'), { recursive: true, force: true });
  return removed.map((dir) => relative(root, dir));
}

if (import.meta.main) {
  const [root, list] = process.argv.slice(2);
  if (root === undefined || list === undefined) {
    process.stderr.write('usage: pruneNodeModules.ts <node_modules> <node-modules.json>\n');
    process.exit(2);
  }
  const { packages } = JSON.parse(readFileSync(list, 'utf8')) as { packages: string[] };
  const before = installed(root).length;
  const removed = prune(root, packages);
  process.stderr.write(
    `node_modules: kept ${String(before - removed.length)} of ${String(before)} packages, for ${packages.join(', ')}\n`,
  );
}
