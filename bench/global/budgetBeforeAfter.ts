/**
 * A change to the budgets' store path against the code before it, in one run, interleaved:
 *
 *   node bench/global/budgetBeforeAfter.ts --before /work/main [--rounds 8] [--calls-per-round 150]
 *
 * - through runtimes: one with limits in Redis and no budget (the baseline of budgetCost.ts),
 *   one with the same limits and a dollar budget running the `--before` checkout's runtime, one
 *   running this checkout's; calls in rotating order (ABC, BCA, CAB …), each round's p50 per
 *   runtime, the median over rounds of each budget runtime's p50 less the baseline's;
 * - the script alone: admit.lua with one budget account and the previous call's settlement
 *   riding in front (as the runtime sends it), the `--before` checkout's script against this
 *   one's, alternating on one connection to one redis-server: the round trip's p50, and
 *   Redis's own time per call (INFO commandstats, blocks of 250 alternating).
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
import { createClient } from '@redis/client';
import type {
  ModelPriceSettings,
  PolicyDocument,
} from '../../contract/src/policy/policyDocument.ts';
import { ADMIT_SCRIPT, runScript } from '../../runtime/src/rateLimitStore/luaScripts.ts';
import {
  budgetAdmitArgs,
  budgetKeys,
  settlementCall,
} from '../../runtime/src/rateLimitStore/storeScriptCalls.ts';
import { agentDocument, call, ratePolicy } from '../../test/support/rateLimitStoreFixture.ts';
import { startRedis } from '../../test/support/redisServer.ts';
import { serverHost } from '../../test/support/podReach.ts';
import { startRuntime, type RuntimeHandle } from '../../test/support/runtimeProcess.ts';
import { PRIMARY_MODEL, type Mutable } from '../../test/support/standaloneRuntime.ts';
import { startSimulator } from '../../test/support/simulator.ts';
import { median } from '../../tools/stats/samples.ts';

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

const FAR_ABOVE = { perSecond: 100_000, burst: 100_000 };
const PRICE: ModelPriceSettings = {
  model: PRIMARY_MODEL,
  inputMicroUsdPerMTok: 3_000_000,
  outputMicroUsdPerMTok: 15_000_000,
  cacheWrite5mMicroUsdPerMTok: 3_750_000,
  cacheWrite1hMicroUsdPerMTok: 6_000_000,
  cacheReadMicroUsdPerMTok: 300_000,
};
const BUDGET = { name: 'monthly', period: 'Month' as const, usd: '999999' };
const round = (n: number, digits = 3): number => Number(n.toFixed(digits));
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
  const client = createClient({ socket: { host: serverHost(), port } });
  await client.connect();
  const keys = ['b:requests', 'b:input_tokens', 'b:output_tokens', 'b:provider_pause'];
  const limits = ['100', '100000', '1', '0', '0', '0', '0', '0', '0', '0', '0'];
  const account = {
    key: 'bench:monthly:0',
    limitPico: 999_999_000_000_000_000n,
    limitTokens: undefined,
    keepUntilMs: 99_999_999_999_999,
    refuses: true,
  };
  const accountKeys = budgetKeys('b', [account]);
  let id = 0;
  const request = () => ({
    accounts: [account],
    reservationId: `bench-${String(++id)}`,
    leaseMs: 600_000,
    worstPico: 600_000_000_000n,
    worstTokens: 3_024n,
  });
  const scriptsBy = { before: beforeAdmitScript(), after: ADMIT_SCRIPT };
  const previous: Partial<Record<'before' | 'after', ReturnType<typeof request>>> = {};
  const once = async (which: 'before' | 'after') => {
    const r = request();
    const last = previous[which];
    const riding =
      last === undefined
        ? { keys: [], args: [] }
        : settlementCall('b', [{ ...last, costPico: 1_000_000n, costTokens: 100n }]);
    await runScript(
      client,
      scriptsBy[which],
      [...keys, ...accountKeys, ...riding.keys],
      [...limits, ...budgetAdmitArgs(r, false), ...riding.args],
    );
    previous[which] = r;
  };
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

async function deciding(runtime: RuntimeHandle): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    const view = (await runtime.debug('/debug/ratelimiter')) as {
      rateLimiter: { store?: { report: { state: string } } };
    };
    if (view.rateLimiter.store?.report.state === 'Shared') return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('the store never decided');
}

const sim = await startSimulator({ latencyMs: 2 });
const redis = await startRedis();
const dir = mkdtempSync(join(tmpdir(), 'bw-bench-before-after-'));
const runtimes: RuntimeHandle[] = [];
try {
  const script = await scripts(redis.port);
  log(`admit.lua: ${JSON.stringify(script)}`);
  const store = { redis: { address: redis.address } };
  const plainDoc = agentDocument(sim.url, ratePolicy({ requests: FAR_ABOVE, store }));
  const budgetDoc = (suffix: string) => {
    const doc = structuredClone(
      agentDocument(sim.url, ratePolicy({ requests: FAR_ABOVE, store, budgets: [BUDGET] })),
    ) as Mutable<PolicyDocument>;
    doc.pricing = [PRICE];
    if (doc.rateLimit.store !== undefined)
      doc.rateLimit.store = {
        ...doc.rateLimit.store,
        keyPrefix: `${doc.rateLimit.store.keyPrefix}-${suffix}`,
      };
    return doc;
  };
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
  const rounds: Awaited<ReturnType<typeof oneRound>>[] = [];
  for (let r = 0; r < ROUNDS; r++) rounds.push(await oneRound());
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
