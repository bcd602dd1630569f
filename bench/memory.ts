/**
 * `make bench-memory`: what the runtime holds at idle, beside a bare node:http server on the
 * same Node, and what each package it loads at start adds. No cluster: the runtime starts on a
 * policy file (`--policy`) and on the sample manifests (`--manifests config/samples`), the
 * baseline is a node:http server answering 200, and each is measured --idle-s after it
 * listens (median of --runs, interleaved). Both carry the same preload (bench/memory/
 * memoryProbe.ts), which reports `process.memoryUsage()` and the packages loaded.
 *
 * The table: every npm package the runtime loaded by idle (in the order it first loaded), with
 * what importing it adds to a fresh Node process alone (`alone`: what not loading it saves at
 * most) and in the runtime's order after the ones before it (`in turn`: shared dependencies
 * count once, at the first), each read after a full collection (bench/memory/importCost.ts);
 * and the packages of features a pod may not use (OPTIONAL), loaded or not. The rest of the
 * runtime's RSS over the baseline is its own modules, their objects and type stripping.
 *
 * Start-up stages: for each scenario, what the process holds after each group of its imports,
 * replayed in a fresh process in the order the runtime made them (type stripping, each npm
 * package, the project's folders), ending with the runtime at idle (bench/memory/
 * memoryStages.ts); and the V8 heap its code holds by package and folder, from a heap snapshot
 * of one more idle runtime (bench/memory/heapByScript.ts). `--built` measures the runtime
 * `make build` leaves in dist/ as well (what the image runs: its bundle, or in a checkout from
 * before the bundle the compiled files; no type stripping either way); `--main`
 * and `--dist` point at another checkout's, for a before and after.
 *
 * Writes bench/results/memory.json (`--label NAME` keeps earlier labels beside it, for a
 * before/after) and ends with
 *
 *   memory: runtime_rss_mb=A bare_rss_mb=B ratio=R manifests_rss_mb=C
 *
 *   node --no-warnings=ExperimentalWarning bench/memory.ts [--runs 3] [--idle-s 3]
 *        [--label NAME] [--main FILE] [--built] [--dist DIR] [--no-write]
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { samplePolicyDocument } from '../contract/src/policy/policyFixtures.ts';
import { median } from '../tools/stats/samples.ts';
import { heapLines, stageLines, startupReport } from './memory/memoryStages.ts';

const run = promisify(execFile);
const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const PROBE = join(repo, 'bench/memory/memoryProbe.js');
const IMPORT_COST = join(repo, 'bench/memory/importCost.ts');
const RESULTS = join(repo, 'bench/results/memory.json');
/** What a dist/ runs as `breakwater-runtime`: its bundle, or an older build's compiled main. */
function builtMain(dist: string): string {
  const bundle = join(dist, 'runtime/bundle/main.js');
  return existsSync(bundle) ? bundle : join(dist, 'runtime/src/main.js');
}

const flags = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    'idle-s': { type: 'string', default: '3' },
    label: { type: 'string', default: 'current' },
    main: { type: 'string', default: join(repo, 'runtime/src/main.ts') },
    built: { type: 'boolean', default: false },
    dist: { type: 'string', default: join(repo, 'dist') },
    'no-write': { type: 'boolean', default: false },
  },
}).values;
const runs = Number(flags.runs);
const idleMs = Number(flags['idle-s']) * 1000;
const NODE_FLAGS = ['--no-warnings=ExperimentalWarning'];

/** Packages of features a pod may not use: the table names them whether loaded or not. */
const OPTIONAL: Readonly<Record<string, readonly string[]>> = {
  'Bedrock credentials': ['@aws-sdk/credential-providers'],
  'Vertex credentials': ['google-auth-library'],
  'MCP client and server': [
    '@modelcontextprotocol/sdk/client/index.js',
    '@modelcontextprotocol/sdk/client/streamableHttp.js',
    '@modelcontextprotocol/sdk/server/mcp.js',
    '@modelcontextprotocol/sdk/server/streamableHttp.js',
  ],
  'store client': ['@redis/client'],
  'tracing SDK': ['@opentelemetry/sdk-node', '@opentelemetry/sdk-metrics'],
  'Kubernetes client': ['@kubernetes/client-node'],
  'CEL (manifests admission)': ['@bufbuild/cel'],
};

const BARE_SERVER = `
const server = require('node:http').createServer((req, res) => res.end('ok'));
server.listen(0, '127.0.0.1', () =>
  process.stdout.write(JSON.stringify({ msg: 'listening', port: server.address().port }) + '\\n'));
process.on('SIGTERM', () => process.exit(0));`;

interface Sample {
  readonly rssMb: number;
  readonly heapUsedMb: number;
  readonly heapTotalMb: number;
  readonly externalMb: number;
  readonly packages: Readonly<Record<string, readonly string[]>>;
  readonly own: readonly string[];
  readonly spaces: Readonly<Record<string, { size: number; used: number }>>;
}

const mb = (bytes: number, digits = 1): number => Number((bytes / 1e6).toFixed(digits));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts `args` under the probe, waits for its listening line, idles, and reads the probe. */
async function measure(
  args: readonly string[],
  env: Record<string, string>,
  snapshot?: string,
): Promise<Sample> {
  const dir = mkdtempSync(join(tmpdir(), 'bw-memory-'));
  const probeFile = join(dir, 'probe.json');
  if (snapshot !== undefined) writeFileSync(`${probeFile}.snapshot`, snapshot);
  const child = spawn(process.execPath, [...NODE_FLAGS, '--import', PROBE, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env['PATH'] ?? '', BW_MEMORY_PROBE_FILE: probeFile, ...env },
  });
  const stderr: string[] = [];
  child.stderr.setEncoding('utf8').on('data', (c: string) => stderr.push(c));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`no listening line in 30 s:\n${stderr.join('')}`));
      }, 30_000);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`exited (${String(code)}) before listening:\n${stderr.join('')}`));
      });
      createInterface({ input: child.stdout }).on('line', (line) => {
        if (line.includes('"msg":"listening"')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    await sleep(idleMs);
    child.kill('SIGUSR2');
    for (let i = 0; i < 1200 && !existsSync(probeFile); i++) await sleep(25);
    const probe = JSON.parse(readFileSync(probeFile, 'utf8')) as {
      memory: NodeJS.MemoryUsage;
      packages: Record<string, string[]>;
      own: string[];
      spaces: Record<string, { size: number; used: number }>;
    };
    return {
      rssMb: mb(probe.memory.rss),
      heapUsedMb: mb(probe.memory.heapUsed),
      heapTotalMb: mb(probe.memory.heapTotal),
      externalMb: mb(probe.memory.external),
      packages: probe.packages,
      own: probe.own,
      spaces: probe.spaces,
    };
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

interface ImportRow {
  readonly name: string;
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly error?: string;
}

async function importCosts(groups: readonly { name: string; urls: readonly string[] }[]) {
  const { stdout } = await run(
    process.execPath,
    [...NODE_FLAGS, '--expose-gc', IMPORT_COST, JSON.stringify(groups)],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  return JSON.parse(stdout) as ImportRow[];
}

/** Each group alone, in a fresh process; then all in order, in one. */
async function importTable(groups: readonly { name: string; urls: readonly string[] }[]) {
  const alone: ImportRow[] = [];
  for (const group of groups) alone.push(...(await importCosts([group])));
  const inTurn = await importCosts(groups);
  return groups.map((g, i) => {
    const one = alone[i];
    return {
      name: g.name,
      alone_rss_mb: mb(one?.rss ?? 0),
      alone_heap_mb: mb(one?.heapUsed ?? 0),
      in_turn_rss_mb: mb(inTurn[i]?.rss ?? 0),
      in_turn_heap_mb: mb(inTurn[i]?.heapUsed ?? 0),
      ...(one?.error === undefined ? {} : { error: one.error }),
    };
  });
}

const summarize = (samples: readonly Sample[]) => ({
  rss_mb: median(samples.map((s) => s.rssMb)),
  heap_used_mb: median(samples.map((s) => s.heapUsedMb)),
  heap_total_mb: median(samples.map((s) => s.heapTotalMb)),
  external_mb: median(samples.map((s) => s.externalMb)),
  rss_mb_each: samples.map((s) => s.rssMb),
});

async function main(): Promise<void> {
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'bw-memory-policy-'));
  const policyFile = join(dir, 'policy.json');
  writeFileSync(policyFile, JSON.stringify(samplePolicyDocument()));
  const listen = ['--port', '0', '--metrics-port', '0', '--host', '127.0.0.1'];
  const scenarios: Record<string, { args: string[]; env: Record<string, string> }> = {
    bare: { args: ['-e', BARE_SERVER], env: {} },
    policy: {
      args: [flags.main, ...listen, '--policy', policyFile],
      env: { ANTHROPIC_API_KEY: 'sk-bench-memory' },
    },
    manifests: {
      args: [
        flags.main,
        ...listen,
        '--manifests',
        join(repo, 'config/samples'),
        '--agent',
        'assistant-production',
      ],
      env: {},
    },
    // What the image runs: the compiled JavaScript, no type stripping.
    ...(flags.built
      ? {
          built: {
            args: [builtMain(flags.dist), ...listen, '--policy', policyFile],
            env: { ANTHROPIC_API_KEY: 'sk-bench-memory' },
          },
        }
      : {}),
  };
  const samples: Record<string, Sample[]> = Object.fromEntries(
    Object.keys(scenarios).map((name) => [name, []]),
  );
  let startup: Awaited<ReturnType<typeof startupReport>>;
  try {
    for (let i = 0; i < runs; i++) {
      for (const [name, scenario] of Object.entries(scenarios)) {
        const s = await measure(scenario.args, scenario.env);
        samples[name]?.push(s);
        process.stderr.write(
          `run ${String(i + 1)}/${String(runs)} ${name}: rss ${String(s.rssMb)} MB\n`,
        );
      }
    }
    const staged = Object.keys(scenarios).filter((name) => name !== 'bare');
    startup = await startupReport(staged, scenarios, samples, measure);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const bare = summarize(samples['bare'] ?? []);
  const policy = summarize(samples['policy'] ?? []);
  const manifests = summarize(samples['manifests'] ?? []);
  const built = samples['built'] === undefined ? undefined : summarize(samples['built']);

  // The packages either runtime loaded, in the order the file run first loaded them.
  const loaded = new Map<string, Set<string>>();
  for (const s of [...(samples['policy'] ?? []), ...(samples['manifests'] ?? [])])
    for (const [name, urls] of Object.entries(s.packages)) {
      const set = loaded.get(name) ?? new Set<string>();
      for (const u of urls) set.add(u);
      loaded.set(name, set);
    }
  const policyPackages = new Set(Object.keys(samples['policy']?.[0]?.packages ?? {}));
  const groups = [...loaded].map(([name, urls]) => ({ name, urls: [...urls] }));
  const packages = (await importTable(groups)).map((row) => ({
    ...row,
    loaded_by: policyPackages.has(row.name) ? 'policy, manifests' : 'manifests',
  }));
  const optionalGroups = Object.entries(OPTIONAL).map(([name, specifiers]) => ({
    name,
    urls: specifiers.map((s) => import.meta.resolve(s)),
  }));
  const optional = (await importTable(optionalGroups)).map((row, i) => {
    const specifiers = Object.values(OPTIONAL)[i] ?? [];
    const pkgOf = (s: string) => /^(@[^/]+\/[^/]+|[^/]+)/.exec(s)?.[1] ?? s;
    return {
      ...row,
      packages: [...new Set(specifiers.map(pkgOf))],
      loaded_with_policy: specifiers.some((s) => policyPackages.has(pkgOf(s))),
      loaded_with_manifests: specifiers.some((s) =>
        Object.keys(samples['manifests']?.[0]?.packages ?? {}).includes(pkgOf(s)),
      ),
    };
  });
  const packagesRss = packages
    .filter((p) => policyPackages.has(p.name))
    .reduce((sum, p) => sum + p.in_turn_rss_mb, 0);

  const round2 = (n: number) => Number(n.toFixed(2));
  const result = {
    label: flags.label,
    startedAt: new Date(started).toISOString(),
    durationSeconds: Math.round((Date.now() - started) / 100) / 10,
    node: process.version,
    cpus: cpus().length,
    loadAverage: loadavg().map((l) => Number(l.toFixed(2))),
    main: flags.main.startsWith(repo) ? flags.main.slice(repo.length + 1) : flags.main,
    method: {
      idle:
        'each process started (interleaved: bare, policy, manifests per run), measured ' +
        `${String(idleMs / 1000)} s after its listening line by process.memoryUsage() through ` +
        'the preload bench/memory/memoryProbe.js (the same in all three); medians of runs',
      bare: 'node -e: a node:http server answering 200 on 127.0.0.1',
      policy: 'runtime/src/main.ts --policy <the sample policy document>',
      manifests: 'runtime/src/main.ts --manifests config/samples --agent assistant-production',
      ...(built === undefined
        ? {}
        : {
            built:
              'the runtime as make build leaves it in dist/ and the image runs it (its bundle, dist/runtime/bundle/main.js; before 2026-11-29 the compiled files, dist/runtime/src/main.js), --policy <the same document>',
          }),
      stages:
        'per scenario, its imports replayed in a fresh node --expose-gc process in the order it ' +
        'made them (type stripping, npm packages, its own modules by folder), memoryUsage() ' +
        'after a full gc after each; the last row is the idle runtime itself',
      heap_by_script:
        'one more idle run writes a heap snapshot; the code each script holds (source, ' +
        'functions, bytecode, feedback, scope infos), each object once, by package and folder',
      packages:
        'every npm package the runtime imported by idle, in the order first loaded: alone = ' +
        'what importing its modules adds to a fresh node process; in turn = what it adds ' +
        'after the ones before it (shared dependencies count at the first); after a full gc',
      runs,
    },
    results: {
      bare,
      policy,
      manifests,
      ...(built === undefined
        ? {}
        : { built, ratio_rss_built_to_bare: round2(built.rss_mb / bare.rss_mb) }),
      heap_spaces_policy_mb: Object.fromEntries(
        Object.entries(samples['policy']?.[0]?.spaces ?? {}).map(([k, v]) => [
          k,
          { size: mb(v.size), used: mb(v.used) },
        ]),
      ),
      ratio_rss_policy_to_bare: round2(policy.rss_mb / bare.rss_mb),
      ratio_rss_manifests_to_bare: round2(manifests.rss_mb / bare.rss_mb),
      ratio_heap_policy_to_bare: round2(policy.heap_used_mb / bare.heap_used_mb),
      policy_packages_in_turn_rss_mb: Number(packagesRss.toFixed(1)),
      policy_own_rss_mb: Number((policy.rss_mb - bare.rss_mb - packagesRss).toFixed(1)),
      packages,
      optional,
      stages: startup.stages,
      heap_by_script: startup.heapByScript,
    },
  };

  const pad = (s: string | number, n: number) => String(s).padStart(n);
  const lines = [
    'idle           rss MB  heap MB  ext MB',
    ...[bare, policy, manifests, ...(built === undefined ? [] : [built])].map((r, i) => {
      const n = ['bare', 'policy', 'manifests', 'built'][i] ?? '';
      return `${n.padEnd(12)} ${pad(r.rss_mb, 8)} ${pad(r.heap_used_mb, 8)} ${pad(r.external_mb, 7)}`;
    }),
    `ratio to bare: policy rss ${String(result.results.ratio_rss_policy_to_bare)} heap ` +
      `${String(result.results.ratio_heap_policy_to_bare)}, manifests rss ` +
      String(result.results.ratio_rss_manifests_to_bare) +
      (built === undefined ? '' : `, built rss ${String(round2(built.rss_mb / bare.rss_mb))}`),
    '',
    'package (loaded at idle)                 alone rss/heap MB   in turn rss/heap MB   by',
    ...packages.map(
      (p) =>
        `${p.name.padEnd(40)} ${pad(p.alone_rss_mb, 7)} ${pad(p.alone_heap_mb, 7)}   ` +
        `${pad(p.in_turn_rss_mb, 9)} ${pad(p.in_turn_heap_mb, 7)}     ${p.loaded_by}`,
    ),
    `the runtime's own (policy rss - bare - packages in turn): ${String(result.results.policy_own_rss_mb)} MB`,
    '',
    'optional feature                         alone rss/heap MB   loaded: policy manifests',
    ...optional.map(
      (o) =>
        `${o.name.padEnd(40)} ${pad(o.alone_rss_mb, 7)} ${pad(o.alone_heap_mb, 7)}   ` +
        `${pad(o.loaded_with_policy ? 'yes' : 'no', 14)} ${pad(o.loaded_with_manifests ? 'yes' : 'no', 9)}`,
    ),
    ...Object.entries(startup.stages).flatMap(([name, stages]) => [
      '',
      ...stageLines(`start-up stages, ${name}`, stages),
    ]),
    ...Object.entries(startup.heapByScript).flatMap(([name, groups]) => [
      '',
      ...heapLines(name, groups),
    ]),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);

  if (!flags['no-write']) {
    const previous = existsSync(RESULTS)
      ? (JSON.parse(readFileSync(RESULTS, 'utf8')) as { runs?: Record<string, unknown> })
      : {};
    const all = {
      benchmark: 'memory',
      command: 'node bench/memory.ts',
      runs: { ...(previous.runs ?? {}), [flags.label]: result },
    };
    writeFileSync(RESULTS, `${JSON.stringify(all, null, 2)}\n`);
  }
  process.stdout.write(
    `memory: runtime_rss_mb=${String(policy.rss_mb)} bare_rss_mb=${String(bare.rss_mb)} ` +
      `ratio=${String(result.results.ratio_rss_policy_to_bare)} manifests_rss_mb=${String(manifests.rss_mb)}\n`,
  );
}

await main();
