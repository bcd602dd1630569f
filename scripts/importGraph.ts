/**
 * The import graph of the project's own TypeScript, and the rules it must keep:
 *
 * - operator/, runtime/, simulator/ and plugin/ are programs; they meet only in contract/ (what
 *   they agree on) and platform/ (what every program runs on: the Kubernetes client, the clock,
 *   randomness, the Node check); platform/ imports nothing of ours, contract/ only platform/;
 *   tools/ (kind and what its node image is built from) imports only contract/, platform/ and itself; demo/ uses tools/,
 *   and demo/ and test/ do not import each other (the demo's own tests excepted);
 * - the guard (runtime/src/guard/) knows no provider: it imports neither @anthropic-ai/sdk nor
 *   runtime/src/provider/ (the provider layer plugs its error classifier into the guard);
 * - the guard sees budgets through the one interface it declares (runtime/src/guard/budgetGate.ts),
 *   as it sees the rate-limit store through rateLimitStore.ts: no shipped guard file imports
 *   budget/ but the GuardSet, which makes the budgets' gate, and the metrics, which export them;
 * - requests flow one way, server/ → durable/: the durable runs (runtime/src/durable/) import
 *   nothing from runtime/src/server/ and no HTTP package (node:http, fastify), so the journal
 *   and the runs it executes know no request, reply, header or status code;
 * - nothing the operator loads reaches @anthropic-ai/sdk (the operator never calls a model);
 * - no import cycle among the shipped sources (contract, operator, runtime, simulator, plugin).
 *
 *   node scripts/importGraph.ts           # checks; prints one line per rule, exits 1 on a breach
 *
 * Static `import … from`, `export … from` and `import('…')` with a literal are followed; type-only
 * imports count too (a type cycle is still a design cycle). `make lint` runs it.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The folders that are programs or libraries of their own, and what each may import. */
const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  platform: ['platform'],
  contract: ['contract', 'platform'],
  operator: ['operator', 'contract', 'platform'],
  runtime: ['runtime', 'contract', 'platform'],
  simulator: ['simulator', 'contract', 'platform'],
  plugin: ['plugin', 'contract', 'platform'],
  tools: ['tools', 'contract', 'platform'],
  demo: ['demo', 'contract', 'platform', 'tools'],
  // The test support and the suites; only the demo's own tests may import the demo.
  test: [
    'test',
    'contract',
    'platform',
    'operator',
    'runtime',
    'simulator',
    'plugin',
    'tools',
    'scripts',
  ],
};
const SHIPPED = ['platform', 'contract', 'operator', 'runtime', 'simulator', 'plugin'];
const GUARD = 'runtime/src/guard/';
const PROVIDER = 'runtime/src/provider/';
const PROVIDER_SDK = '@anthropic-ai/sdk';
const DURABLE = 'runtime/src/durable/';
const SERVER = 'runtime/src/server/';
const HTTP_PACKAGES = ['node:http', 'node:http2', 'fastify'];
const BUDGET = 'runtime/src/budget/';
/** The one budget/ file the rest of the runtime may import: the budgets' face. */
const BUDGET_FACE = 'runtime/src/budget/budgets.ts';
/** The guard files that may import the budgets' face: where the gate is made, and the metrics. */
const GUARD_BUDGET_WIRING = [
  'runtime/src/guard/guardSet/guardSet.ts',
  'runtime/src/guard/metrics.ts',
];
const OPERATOR_ENTRY = 'operator/src/main.ts';
const FORBIDDEN_FOR_OPERATOR = '@anthropic-ai/sdk';

export interface ImportGraph {
  /** Repository-relative file → the repository-relative files it imports. */
  readonly files: ReadonlyMap<string, readonly string[]>;
  /** Repository-relative file → the packages it imports (`@scope/name`, `name`, `node:name`). */
  readonly packages: ReadonlyMap<string, readonly string[]>;
}

const SPECIFIER =
  /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;(])import\s*\(\s*['"]([^'"]+)['"]\s*\)|^import\s+['"]([^'"]+)['"]/gm;

export function readGraph(folders: readonly string[] = Object.keys(MAY_IMPORT)): ImportGraph {
  const files = new Map<string, string[]>();
  const packages = new Map<string, string[]>();
  for (const folder of folders) {
    for (const file of walk(join(root, folder))) {
      const rel = relative(root, file);
      const text = readFileSync(file, 'utf8');
      const local: string[] = [];
      const external: string[] = [];
      for (const match of text.matchAll(SPECIFIER)) {
        const spec = match[1] ?? match[2] ?? match[3];
        if (spec === undefined) continue;
        if (spec.startsWith('.')) local.push(relative(root, resolve(dirname(file), spec)));
        else external.push(packageName(spec));
      }
      files.set(rel, local);
      packages.set(rel, external);
    }
  }
  return { files, packages };
}

/** Imports that cross a boundary MAY_IMPORT does not allow: `from → to`. */
export function boundaryBreaches(graph: ImportGraph): string[] {
  const breaches: string[] = [];
  for (const [from, targets] of graph.files) {
    // Tests and their fixtures (never built into dist/) may also use the shared test support
    // (test/) and the generators they check (scripts/).
    const allowed = [
      ...(MAY_IMPORT[topFolder(from)] ?? []),
      ...(isTestCode(from) ? ['test', 'scripts'] : []),
      ...(from.startsWith('test/demo/') ? ['demo'] : []),
    ];
    for (const to of targets) {
      if (!allowed.includes(topFolder(to))) breaches.push(`${from} → ${to}`);
    }
  }
  return breaches;
}

/** Imports by which the guard would know a provider: `from → to` (a file or a package). */
export function guardBreaches(graph: ImportGraph): string[] {
  const breaches: string[] = [];
  for (const [from, targets] of graph.files) {
    // Its tests may drive it with a provider's real errors; the shipped guard may not know them.
    if (!from.startsWith(GUARD) || isTestCode(from)) continue;
    for (const to of targets) if (to.startsWith(PROVIDER)) breaches.push(`${from} → ${to}`);
    if (graph.packages.get(from)?.includes(PROVIDER_SDK))
      breaches.push(`${from} → ${PROVIDER_SDK}`);
  }
  return breaches;
}

/** Imports by which durable/ would handle HTTP or reach back into server/: `from → to`. */
export function durableBreaches(graph: ImportGraph): string[] {
  const breaches: string[] = [];
  for (const [from, targets] of graph.files) {
    // Its tests may drive it through the routes; the shipped runs may not know them.
    if (!from.startsWith(DURABLE) || isTestCode(from)) continue;
    for (const to of targets) if (to.startsWith(SERVER)) breaches.push(`${from} → ${to}`);
    for (const p of graph.packages.get(from) ?? [])
      if (HTTP_PACKAGES.includes(p)) breaches.push(`${from} → ${p}`);
  }
  return breaches;
}

/** Shipped imports of a budget/ file other than its face, from outside budget/: `from → to`. */
export function budgetBreaches(graph: ImportGraph): string[] {
  const breaches: string[] = [];
  for (const [from, targets] of graph.files) {
    // Tests and their support may drive any budget file; budget/ itself is one folder.
    if (!from.startsWith('runtime/src/') || from.startsWith(BUDGET) || isTestCode(from)) continue;
    for (const to of targets)
      if (to.startsWith(BUDGET) && to !== BUDGET_FACE) breaches.push(`${from} → ${to}`);
  }
  return breaches;
}

/** Shipped guard files that know budgets past guard/budgetGate.ts: `from → to`. */
export function gateBreaches(graph: ImportGraph): string[] {
  const breaches: string[] = [];
  for (const [from, targets] of graph.files) {
    if (!from.startsWith(GUARD) || isTestCode(from) || GUARD_BUDGET_WIRING.includes(from)) continue;
    for (const to of targets) if (to.startsWith(BUDGET)) breaches.push(`${from} → ${to}`);
  }
  return breaches;
}

function isTestCode(file: string): boolean {
  return /(\.test|Fixtures?)\.ts$/.test(file);
}

/** Every file reachable from `entry`, and the packages they import. */
export function reach(
  graph: ImportGraph,
  entry: string,
): { files: string[]; packages: Set<string> } {
  const seen = new Set<string>();
  const stack = [entry];
  const packages = new Set<string>();
  while (stack.length > 0) {
    const file = stack.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const p of graph.packages.get(file) ?? []) packages.add(p);
    for (const next of graph.files.get(file) ?? []) stack.push(next);
  }
  return { files: [...seen], packages };
}

/** Strongly connected components of more than one file (or a file importing itself). */
export function cycles(graph: ImportGraph, within: readonly string[] = SHIPPED): string[][] {
  const nodes = [...graph.files.keys()].filter((f) => within.includes(topFolder(f)));
  const inScope = new Set(nodes);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const found: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next += 1;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.files.get(v) ?? []) {
      if (!inScope.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.files.get(v) ?? []).includes(v))
        found.push(component.sort());
    }
  };
  for (const v of nodes) if (!index.has(v)) visit(v);
  return found;
}

function topFolder(file: string): string {
  return file.split('/')[0] ?? '';
}

function packageName(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? spec);
}

function* walk(dir: string): Generator<string> {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of entries) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* walk(path);
    else if (name.endsWith('.ts')) yield path;
  }
}

function main(): number {
  const graph = readGraph();
  let failed = false;
  const breaches = boundaryBreaches(graph);
  console.log(
    breaches.length === 0
      ? `boundaries: ${graph.files.size} files; operator, runtime, simulator, plugin and tools meet only in contract/ and platform/; platform/ imports none of ours; demo and test apart`
      : `boundaries: ${breaches.length} import(s) cross a boundary:\n  ${breaches.join('\n  ')}`,
  );
  failed ||= breaches.length > 0;
  const guard = guardBreaches(graph);
  console.log(
    guard.length === 0
      ? `guard: ${[...graph.files.keys()].filter((f) => f.startsWith(GUARD) && !isTestCode(f)).length} shipped files in ${GUARD}, none imports ${PROVIDER} or ${PROVIDER_SDK}`
      : `guard: ${guard.length} import(s) make the guard know a provider:\n  ${guard.join('\n  ')}`,
  );
  failed ||= guard.length > 0;
  const durable = durableBreaches(graph);
  console.log(
    durable.length === 0
      ? `durable: ${[...graph.files.keys()].filter((f) => f.startsWith(DURABLE) && !isTestCode(f)).length} shipped files in ${DURABLE}, none imports ${SERVER} or ${HTTP_PACKAGES.join(', ')}`
      : `durable: ${durable.length} import(s) make durable runs handle HTTP (server/ → durable/ only):\n  ${durable.join('\n  ')}`,
  );
  failed ||= durable.length > 0;
  const budget = budgetBreaches(graph);
  console.log(
    budget.length === 0
      ? `budget: the runtime outside ${BUDGET} imports it through ${BUDGET_FACE} only`
      : `budget: ${budget.length} import(s) reach past ${BUDGET_FACE}:\n  ${budget.join('\n  ')}`,
  );
  failed ||= budget.length > 0;
  const gate = gateBreaches(graph);
  console.log(
    gate.length === 0
      ? `gate: the guard knows budgets through ${GUARD}budgetGate.ts; only ${GUARD_BUDGET_WIRING.join(' and ')} import ${BUDGET}`
      : `gate: ${gate.length} guard import(s) of ${BUDGET} past ${GUARD}budgetGate.ts:\n  ${gate.join('\n  ')}`,
  );
  failed ||= gate.length > 0;
  const operator = reach(graph, OPERATOR_ENTRY);
  const sdk = operator.packages.has(FORBIDDEN_FOR_OPERATOR);
  console.log(
    sdk
      ? `operator: reaches ${FORBIDDEN_FOR_OPERATOR} (through ${operator.files.filter((f) => graph.packages.get(f)?.includes(FORBIDDEN_FOR_OPERATOR)).join(', ')})`
      : `operator: ${operator.files.length} files loaded from ${OPERATOR_ENTRY}, none reaches ${FORBIDDEN_FOR_OPERATOR}`,
  );
  failed ||= sdk;
  const loops = cycles(graph);
  console.log(
    loops.length === 0
      ? `cycles: none among ${SHIPPED.join(', ')}`
      : `cycles: ${loops.length}:\n  ${loops.map((c) => c.join(' ⇄ ')).join('\n  ')}`,
  );
  failed ||= loops.length > 0;
  return failed ? 1 : 0;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main();
}
