/**
 * Child of the memory bench, run with --expose-gc: imports the groups of module URLs given as
 * JSON in argv[2] (`[{ "name": "fastify", "urls": ["file:///…"] }, …]`), one group at a time,
 * and prints one JSON line with what each group added to the process (RSS, V8 heap, memory
 * outside the heap), each read after a full collection. Groups that fail to load are named with
 * their error and add nothing.
 */
interface Group {
  readonly name: string;
  readonly urls: readonly string[];
}

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');
const groups = JSON.parse(process.argv[2] ?? '[]') as Group[];

const settle = async (): Promise<NodeJS.MemoryUsage> => {
  // Twice, with a turn of the loop between: finalizers and weak callbacks run in between.
  gc();
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  return process.memoryUsage();
};

const rows: { name: string; rss: number; heapUsed: number; external: number; error?: string }[] =
  [];
let before = await settle();
for (const group of groups) {
  let error: string | undefined;
  try {
    for (const url of group.urls) await import(url);
  } catch (err) {
    error = err instanceof Error ? err.message.split('\n')[0] : String(err);
  }
  const after = await settle();
  rows.push({
    name: group.name,
    rss: after.rss - before.rss,
    heapUsed: after.heapUsed - before.heapUsed,
    external: after.external - before.external,
    ...(error === undefined ? {} : { error }),
  });
  before = after;
}
process.stdout.write(`${JSON.stringify(rows)}\n`);
