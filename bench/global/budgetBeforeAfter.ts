/**
 * A change to the budgets' store path against the code before it, in one run, interleaved:
 *
 *   node bench/global/budgetBeforeAfter.ts --before /work/main [--rounds 8] [--calls-per-round 150]
 *
 * - through runtimes: one with limits in Redis and no budget (the baseline of budgetCost.ts),
 *   one with the same limits and a dollar budget running the `--before` checkout's runtime, one
 *   running this checkout's; calls in rotating order (ABC, BCA, CAB …), each round's p50 per
 *   runtime, the median over rounds of each budget runtime's p50 less the baseline's, and each
 *   runtime's CPU (user + system, /proc/<pid>/stat) per call over the measured rounds;
 * - the script alone: admit.lua with one budget account and the previous call's settlement
 *   riding in front (as the runtime sends it), the `--before` checkout's script and arguments
 *   (its own budgetScenario.ts) against this one's, alternating on one connection to one
 *   redis-server: the round trip's p50, and Redis's own time per call (INFO commandstats,
 *   blocks of 250 alternating).
 *
 * The machine is shared: what is compared runs in the same rounds, so load moves both.
 * Writes bench/results/global-budgets-before-after.json.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createHash } from 'node:crypto';
import { createClient, type RedisClientType } from '@redis/client';
import type { PolicyDocument } from '../../contract/src/policy/policyDocument.ts';
import { ADMIT_SCRIPT } from '../../runtime/src/rateLimitStore/luaScripts.ts';
import { call } from '../../test/support/rateLimitStoreFixture.ts';
import { cpuMs } from '../runtime/processProbe.ts';
import { startRedis } from '../../test/support/redisServer.ts';
import { serverHost } from '../../test/support/podReach.ts';
import { startRuntime, type RuntimeHandle } from '../../test/support/runtimeProcess.ts';
import { startSimulator } from '../../test/support/simulator.ts';
import { median } from '../../tools/stats/samples.ts';
import {
  BUDGET,
  budgetDocument,
  deciding,
  limitsDocument,
  round,
  scriptCalls,
} from './budgetScenario.ts';

const { values: flags } = parseArgs({
  options: {
    before: { type: 'string' },
    rounds: { type: 'string', default: '8' },
    'calls-per-round': { type: 'string', default: '150' },
    'script-calls': { type: 'string', default: '5000' },
  },
});
if (flags.before === undefined) throw new Error('--before names the checkout to compare against');
const BEFORE = resolve(flags.before);
const ROUNDS = Number(flags.rounds);
const CALLS = Number(flags['calls-per-round']);
const SCRIPT_CALLS = Number(flags['script-calls']);

const log = (line: string) => process.stderr.write(`${line}\n`);

function commitOf(dir: string): string {
  const head = execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], {
    encoding: 'utf8',
  });
  const dirty = execFileSync('git', ['-C', dir, 'status', '--porcelain', '--', 'runtime'], {
    encoding: 'utf8',
  });
  return `${head.trim()}${dirty.trim() === '' ? '' : '+'}`;
}

/** The `--before` checkout's admit.lua, as its luaScripts.ts loads it (budget.lua in front). */
function beforeAdmitScript() {
  const dir = join(BEFORE, 'runtime/src/rateLimitStore');
  const source = ['budget', 'admit']
    .map((n) => readFileSync(join(dir, `${n}.lua`), 'utf8'))
    .join('\n');
  return { name: 'admit', source, sha: createHash('sha1').update(source).digest('hex') };
}

/** admit.lua with one account and a riding settlement: before's script against this one's. */
async function scripts(port: number) {
  const client: RedisClientType = createClient({ socket: { host: serverHost(), port } });
  await client.connect();
  const scriptsBy = { before: beforeAdmitScript(), after: ADMIT_SCRIPT };
  // Each checkout's script on keys of its own, its arguments made by its own code: their
  // hashes and arguments may not read alike.
  const beforeScenario = (await import(join(BEFORE, 'bench/global/budgetScenario.ts'))) as {
    scriptCalls: typeof scriptCalls;
  };
  const calls = {
    before: beforeScenario.scriptCalls(client, 'before'),
    after: scriptCalls(client, 'after'),
  };
  const once = (which: 'before' | 'after') => calls[which].budget(scriptsBy[which], true);
  const samples = { before: [] as number[], after: [] as number[] };
  for (let i = 0; i < SCRIPT_CALLS; i++) {
    const order = i % 2 === 0 ? (['before', 'after'] as const) : (['after', 'before'] as const);
    for (const which of order) {
      const start = performance.now();
      await once(which);
      samples[which].push((performance.now() - start) * 1000);
    }
  }
  // Redis's own time running each script (INFO commandstats), without the client or the
  // network: blocks of 250 calls, alternating, the stats reset before each.
  const inRedis = { before: 0, after: 0 };
  const BLOCK = 250;
  for (let b = 0; b < SCRIPT_CALLS / BLOCK; b++) {
    const order = b % 2 === 0 ? (['before', 'after'] as const) : (['after', 'before'] as const);
    for (const which of order) {
      await client.configResetStat();
      for (let i = 0; i < BLOCK; i++) await once(which);
      const info = await client.info('commandstats');
      inRedis[which] += Number(/cmdstat_evalsha:calls=\d+,usec=(\d+)/.exec(info)?.[1] ?? NaN);
    }
  }
  client.destroy();
  const p50 = (s: number[]) => round(median(s.slice(SCRIPT_CALLS / 10)), 1);
  return {
    what: 'admit.lua with one budget account and the previous call settlement riding, one connection',
    before_p50_us: p50(samples.before),
    after_p50_us: p50(samples.after),
    before_in_redis_us_per_call: round(inRedis.before / SCRIPT_CALLS, 1),
    after_in_redis_us_per_call: round(inRedis.after / SCRIPT_CALLS, 1),
    calls: SCRIPT_CALLS,
  };
}

async function runtimeOn(doc: PolicyDocument, main: string, dir: string, name: string) {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(doc));
  return startRuntime(
    ['--policy', file, '--log-level', 'warn'],
    { ANTHROPIC_API_KEY: 'sk-bench' },
    { main },
  );
}

const sim = await startSimulator({ latencyMs: 2 });
const redis = await startRedis();
const dir = mkdtempSync(join(tmpdir(), 'bw-bench-before-after-'));
const runtimes: RuntimeHandle[] = [];
try {
  const script = await scripts(redis.port);
  log(`admit.lua: ${JSON.stringify(script)}`);
  const plainDoc = limitsDocument(sim.url, redis.address);
  const budgetDoc = (suffix: string) => budgetDocument(sim.url, redis.address, suffix);
  const here = new URL('../../runtime/src/main.ts', import.meta.url).pathname;
  const paths = {
    plain: await runtimeOn(plainDoc, here, dir, 'plain'),
    before: await runtimeOn(
      budgetDoc('before'),
      join(BEFORE, 'runtime/src/main.ts'),
      dir,
      'before',
    ),
    after: await runtimeOn(budgetDoc('after'), here, dir, 'after'),
  };
  runtimes.push(...Object.values(paths));
  for (const r of runtimes) await deciding(r);
  const names = ['plain', 'before', 'after'] as const;
  const agents = Object.fromEntries(
    names.map((n) => [n, new Agent({ keepAlive: true, maxSockets: 1 })]),
  ) as Record<(typeof names)[number], Agent>;
  const oneRound = async () => {
    const samples = { plain: [] as number[], before: [] as number[], after: [] as number[] };
    for (let i = 0; i < CALLS; i++) {
      for (let k = 0; k < names.length; k++) {
        const name = names[(i + k) % names.length] ?? 'plain';
        const start = performance.now();
        const { status } = await call(paths[name].url, agents[name]);
        if (status !== 200) throw new Error(`${name} answered ${String(status)}`);
        samples[name].push(performance.now() - start);
      }
    }
    return {
      plain: median(samples.plain),
      before: median(samples.before),
      after: median(samples.after),
    };
  };
  await oneRound(); // warm-up
  const cpuOf = () => names.map((n) => cpuMs(paths[n].child.pid ?? 0));
  const cpuBefore = cpuOf();
  const rounds: Awaited<ReturnType<typeof oneRound>>[] = [];
  for (let r = 0; r < ROUNDS; r++) rounds.push(await oneRound());
  const cpuAfter = cpuOf();
  // Each runtime's own CPU per call, microseconds (10 ms ticks: ±10 ms over all the rounds).
  const cpuUsPerCall = Object.fromEntries(
    names.map((n, i) => [
      n,
      round((((cpuAfter[i] ?? 0) - (cpuBefore[i] ?? 0)) * 1000) / (ROUNDS * CALLS), 1),
    ]),
  );
  for (const a of Object.values(agents)) a.destroy();
  const added = (which: 'before' | 'after') => round(median(rounds.map((r) => r[which] - r.plain)));
  const results = {
    benchmark: 'global-budgets-before-after',
    date: new Date().toISOString(),
    machine: { cpus: availableParallelism(), loadavg: loadavg().map((l) => round(l, 2)) },
    before: { dir: BEFORE, commit: commitOf(BEFORE) },
    after: { commit: commitOf(new URL('../..', import.meta.url).pathname) },
    config: { rounds: ROUNDS, calls_per_round: CALLS, budget: BUDGET },
    redis_path: {
      baseline: 'the same limits in Redis, no budget (this checkout)',
      budget_p50_added_ms_before: added('before'),
      budget_p50_added_ms_after: added('after'),
      runtime_cpu_us_per_call: cpuUsPerCall,
      round_p50s_ms: rounds.map((r) => ({
        plain: round(r.plain),
        before: round(r.before),
        after: round(r.after),
      })),
    },
    script: script,
  };
  log(JSON.stringify(results.redis_path));
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(
    'bench/results/global-budgets-before-after.json',
    `${JSON.stringify(results, null, 2)}\n`,
  );
} finally {
  await Promise.all(runtimes.map((r) => r.stop()));
  await redis.remove();
  await sim.stop();
  rmSync(dir, { recursive: true, force: true });
}
