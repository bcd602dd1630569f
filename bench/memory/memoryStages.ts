/**
 * The memory bench's start-up stages and heap by script (issue 53 item 1): what a runtime holds
 * after each group of its imports, replayed in a fresh process in the order it made them
 * (bench/memory/startupStages.js), ending with the process as measured at idle; and the V8 heap
 * its code holds by package and folder, from a heap snapshot of an idle runtime
 * (bench/memory/heapByScript.ts).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { heapByScript, scriptGroup, type ScriptGroup } from './heapByScript.ts';

const run = promisify(execFile);
const repo = join(dirname(fileURLToPath(import.meta.url)), '../..');
const STAGES = join(repo, 'bench/memory/startupStages.js');
const TYPE_STRIPPING = join(repo, 'bench/memory/typeStripping.ts');

/** What the probe reported of an idle runtime: its packages and own modules, in order. */
export interface ProbeModules {
  readonly packages: Readonly<Record<string, readonly string[]>>;
  readonly own: readonly string[];
}

export interface Stage {
  readonly stage: string;
  readonly added_rss_mb: number;
  readonly added_heap_mb: number;
  readonly rss_mb: number;
  readonly heap_used_mb: number;
  readonly error?: string;
}

const mb = (bytes: number): number => Number((bytes / 1e6).toFixed(1));

/**
 * The import groups of a runtime in the order it first asked for them: Node's type stripper
 * (run from source), then each npm package its own code imported, then its own modules by
 * folder (what a folder imports from folders not yet loaded counts at it).
 */
export function stageGroups(modules: ProbeModules): { name: string; urls: string[] }[] {
  const fromSource = modules.own.some((u) => u.endsWith('.ts'));
  const groups: { name: string; urls: string[] }[] = fromSource
    ? [{ name: 'type stripping (first .ts module)', urls: [`file://${TYPE_STRIPPING}`] }]
    : [];
  for (const [name, urls] of Object.entries(modules.packages))
    groups.push({ name: `pkg:${name}`, urls: [...urls] });
  // Its own modules in the reverse of the order they were first asked for, so that a folder's
  // imports are mostly loaded before it (the leaves first, the runtime's assembly last); the
  // entry point is left out: importing it starts a runtime (in the bundle, its main and the
  // chunk that holds runtimeMain and the code only it imports).
  const byFolder = new Map<string, string[]>();
  const entry = /\/runtime\/(src\/(main|runtimeMain)\.[jt]s|bundle\/(main|runtimeMain-\w+)\.js)$/;
  for (const url of [...modules.own].reverse()) {
    const folder = scriptGroup(url);
    if (folder.startsWith('bench') || entry.test(url)) continue;
    byFolder.set(folder, [...(byFolder.get(folder) ?? []), url]);
  }
  for (const [name, urls] of byFolder) groups.push({ name, urls });
  return groups;
}

/** Each group imported in turn in a fresh process; then the idle runtime measured whole. */
export async function startupStages(
  groups: readonly { name: string; urls: readonly string[] }[],
  idle: { readonly rssMb: number; readonly heapUsedMb: number },
): Promise<Stage[]> {
  const { stdout } = await run(
    process.execPath,
    ['--no-warnings=ExperimentalWarning', '--expose-gc', STAGES, JSON.stringify(groups)],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  const rows = JSON.parse(stdout) as {
    name: string;
    rss: number;
    heapUsed: number;
    addedRss: number;
    addedHeapUsed: number;
    error?: string;
  }[];
  const stages: Stage[] = rows.map((r) => ({
    stage: r.name,
    added_rss_mb: mb(r.addedRss),
    added_heap_mb: mb(r.addedHeapUsed),
    rss_mb: mb(r.rss),
    heap_used_mb: mb(r.heapUsed),
    ...(r.error === undefined ? {} : { error: r.error }),
  }));
  const last = stages.at(-1);
  if (last !== undefined)
    stages.push({
      stage: 'started: policy applied, listening, idle (no forced gc)',
      added_rss_mb: Number((idle.rssMb - last.rss_mb).toFixed(1)),
      added_heap_mb: Number((idle.heapUsedMb - last.heap_used_mb).toFixed(1)),
      rss_mb: idle.rssMb,
      heap_used_mb: idle.heapUsedMb,
    });
  return stages;
}

export function stageLines(title: string, stages: readonly Stage[]): string[] {
  const pad = (s: string | number, n: number) => String(s).padStart(n);
  return [
    `${title.padEnd(48)} +rss MB  +heap MB    rss MB  heap MB`,
    ...stages.map(
      (s) =>
        `${s.stage.slice(0, 48).padEnd(48)} ${pad(s.added_rss_mb, 7)} ${pad(s.added_heap_mb, 8)} ` +
        `${pad(s.rss_mb, 9)} ${pad(s.heap_used_mb, 8)}${s.error === undefined ? '' : `  (${s.error})`}`,
    ),
  ];
}

interface Scenario {
  readonly args: readonly string[];
  readonly env: Record<string, string>;
}

interface IdleSample extends ProbeModules {
  readonly rssMb: number;
  readonly heapUsedMb: number;
}

/** The groups a heap snapshot's table shows; the rest are summed as one. */
const HEAP_GROUPS_SHOWN = 24;

/**
 * For each of `names`: its start-up stages (from its first sample's modules, ending at its
 * median idle), and its code's heap by script from one more run that writes a heap snapshot.
 */
export async function startupReport(
  names: readonly string[],
  scenarios: Readonly<Record<string, Scenario>>,
  samples: Readonly<Record<string, readonly IdleSample[]>>,
  measure: (
    args: readonly string[],
    env: Record<string, string>,
    snapshot: string,
  ) => Promise<unknown>,
): Promise<{ stages: Record<string, Stage[]>; heapByScript: Record<string, ScriptGroup[]> }> {
  const stages: Record<string, Stage[]> = {};
  const heap: Record<string, ScriptGroup[]> = {};
  const dir = mkdtempSync(join(tmpdir(), 'bw-memory-snapshot-'));
  const middle = (xs: readonly number[]) =>
    [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1] ?? 0;
  try {
    for (const name of names) {
      const runs = samples[name] ?? [];
      const scenario = scenarios[name];
      const first = runs[0];
      if (first === undefined || scenario === undefined) continue;
      stages[name] = await startupStages(stageGroups(first), {
        rssMb: middle(runs.map((r) => r.rssMb)),
        heapUsedMb: middle(runs.map((r) => r.heapUsedMb)),
      });
      const file = join(dir, `${name}.heapsnapshot`);
      await measure(scenario.args, scenario.env, file);
      const groups = heapByScript(file);
      rmSync(file, { force: true });
      const rest = groups.slice(HEAP_GROUPS_SHOWN);
      heap[name] = [
        ...groups.slice(0, HEAP_GROUPS_SHOWN),
        ...(rest.length === 0
          ? []
          : [
              {
                group: `(${String(rest.length)} more groups)`,
                scripts: rest.reduce((n, g) => n + g.scripts, 0),
                bytes: rest.reduce((n, g) => n + g.bytes, 0),
              },
            ]),
      ];
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { stages, heapByScript: heap };
}

export function heapLines(name: string, groups: readonly ScriptGroup[]): string[] {
  const total = groups.reduce((n, g) => n + g.bytes, 0);
  return [
    `code in the V8 heap by script, ${name}: ${String(mb(total))} MB`.padEnd(48) +
      ' scripts       MB',
    ...groups.map(
      (g) =>
        `  ${g.group.slice(0, 46).padEnd(46)} ${String(g.scripts).padStart(7)} ${String(mb(g.bytes)).padStart(8)}`,
    ),
  ];
}
