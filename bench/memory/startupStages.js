/**
 * Child of the memory bench, run with --expose-gc: what is resident after each stage of a
 * runtime's start-up, its imports replayed in the order the runtime made them. argv[2] is JSON,
 * `[{ "name": "pkg:fastify", "urls": ["file:///…"] }, …]`; each group is imported in turn and
 * `process.memoryUsage()` read after a full collection, and one JSON line gives, per group,
 * what it added and what the process then holds. The first line is the process before any:
 * Node and this file. Plain JavaScript, as the probe is: in TypeScript this file would load
 * Node's type stripper before the first reading, and the runtime from source pays for it
 * at its first .ts module, a stage of its own here.
 */
import { setImmediate } from 'node:timers';

const gc = globalThis.gc;
if (gc === undefined) throw new Error('run with --expose-gc');
/** @type {{ name: string, urls: string[] }[]} */
const groups = JSON.parse(process.argv[2] ?? '[]');

const settle = async () => {
  // Twice, with a turn of the loop between: finalizers and weak callbacks run in between.
  gc();
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  return process.memoryUsage();
};

const row = (name, before, after, error) => ({
  name,
  rss: after.rss,
  heapUsed: after.heapUsed,
  external: after.external,
  addedRss: after.rss - before.rss,
  addedHeapUsed: after.heapUsed - before.heapUsed,
  ...(error === undefined ? {} : { error }),
});

let before = await settle();
const rows = [row('node (before any import)', before, before)];
for (const group of groups) {
  let error;
  try {
    for (const url of group.urls) await import(url);
  } catch (err) {
    error = err instanceof Error ? err.message.split('\n')[0] : String(err);
  }
  const after = await settle();
  rows.push(row(group.name, before, after, error));
  before = after;
}
process.stdout.write(`${JSON.stringify(rows)}\n`);
