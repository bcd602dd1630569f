/**
 * What budgets cost a call, the budgets part of `make bench-global` (or `--only budgets`):
 *
 * - on the Redis path: sequential calls to a replica whose policy keeps its limits in Redis,
 *   and to one whose policy has the same limits and a dollar budget (decided in the same
 *   admit.lua call, settled in the background), in interleaved rounds (AB BA …); the median of
 *   the per-round p50s of each, then their difference. Both agents share one Redis and one
 *   simulator, with their own keys.
 * - the script alone: admit.lua's round trip to the same redis-server with one budget account
 *   against limits alone, sequential, alternating (what Redis's side costs, without the
 *   processes' noise), and admit carrying the previous call's settlement, as the runtime sends it;
 * - inside Redis: after the timed rounds, more paired rounds with Redis's SLOWLOG taking every
 *   command, so that the added p50 splits into what Redis spends running admit.lua for each path
 *   (its execution time, no network) and the rest (the runtime's work, the client, the wire).
 *   Apart from the timed rounds: logging every command costs Redis a little per command.
 * - in process: BudgetLedger's reserve + note + settle of one call, against the same ledger
 *   with no budget (the named baseline: what every call pays without budgets), and the store
 *   path's own CPU per call (claim, mirror and settlement arguments, no network), and all of
 *   the store path's work per call (the claim, admit.lua's keys and arguments with a riding
 *   settlement, its answer read, the settlement).
 *
 * Writes bench/results/global-budgets.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { availableParallelism, loadavg } from 'node:os';
import { createClient, type RedisClientType } from '@redis/client';
import type { PolicyDocument } from '../../contract/src/policy/policyDocument.ts';
import { systemClock } from '../../platform/src/time/clock.ts';
import { ADMIT_SCRIPT } from '../../runtime/src/rateLimitStore/luaScripts.ts';
import { serverHost } from '../../test/support/podReach.ts';
import { BudgetLedger } from '../../runtime/src/budget/budgetLedger.ts';
import type { StoreBudgetSettlement } from '../../runtime/src/guard/rateLimitStore.ts';
import {
  admission,
  pushBudgetAdmit,
  pushSettlements,
} from '../../runtime/src/rateLimitStore/storeScriptCalls.ts';
import { call, startAgent } from '../../test/support/rateLimitStoreFixture.ts';
import { startRedis } from '../../test/support/redisServer.ts';
import { PRIMARY_MODEL } from '../../test/support/standaloneRuntime.ts';
import { startSimulator } from '../../test/support/simulator.ts';
import { median } from '../../tools/stats/samples.ts';
import {
  BUDGET,
  PRICE,
  budgetDocument,
  deciding,
  limitsDocument,
  round,
  scriptCalls,
} from './budgetScenario.ts';

async function timed(url: string, agent: Agent): Promise<number> {
  const start = performance.now();
  const { status } = await call(url, agent);
  if (status !== 200) throw new Error(`latency call answered ${String(status)}`);
  return performance.now() - start;
}

/** One round: `calls` pairs, alternating which path goes first; each path's p50. */
async function pairedRound(
  urls: { readonly plain: string; readonly budgets: string },
  agents: { readonly plain: Agent; readonly budgets: Agent },
  calls: number,
): Promise<{ plain: number; budgets: number }> {
  const plain: number[] = [];
  const budgets: number[] = [];
  for (let i = 0; i < calls; i++) {
    if (i % 2 === 0) {
      plain.push(await timed(urls.plain, agents.plain));
      budgets.push(await timed(urls.budgets, agents.budgets));
    } else {
      budgets.push(await timed(urls.budgets, agents.budgets));
      plain.push(await timed(urls.plain, agents.plain));
    }
  }
  return { plain: median(plain), budgets: median(budgets) };
}

/** Added p50 of a budget on the Redis path, against the same limits in Redis without one. */
async function onTheRedisPath(rounds: number, callsPerRound: number, log: (l: string) => void) {
  const sim = await startSimulator({ latencyMs: 2 });
  const redis = await startRedis();
  const scripts = await scriptRoundTrips({ host: serverHost(), port: redis.port }, 5_000);
  log(`admit.lua p50: ${JSON.stringify(scripts)}`);
  const limitsOnly = limitsDocument(sim.url, redis.address);
  const withBudget = budgetDocument(sim.url, redis.address, 'budgets');
  const plain = await startAgent(limitsOnly);
  const budgeted = await startAgent(withBudget);
  try {
    for (const agent of [plain, budgeted]) {
      const runtime = agent.replicas[0]?.runtime;
      if (runtime !== undefined) await deciding(runtime);
    }
    const agents = {
      plain: new Agent({ keepAlive: true, maxSockets: 1 }),
      budgets: new Agent({ keepAlive: true, maxSockets: 1 }),
    };
    const urls = {
      plain: plain.replicas[0]?.runtime.url ?? '',
      budgets: budgeted.replicas[0]?.runtime.url ?? '',
    };
    await pairedRound(urls, agents, callsPerRound); // warm-up
    const plainP50: number[] = [];
    const budgetP50: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const one = await pairedRound(urls, agents, callsPerRound);
      plainP50.push(one.plain);
      budgetP50.push(one.budgets);
    }
    const inRedis = await scriptTimesInRedis(redis.address, withBudget, () =>
      pairedRound(urls, agents, callsPerRound),
    );
    log(`admit.lua inside Redis, p50: ${JSON.stringify(inRedis)}`);
    agents.plain.destroy();
    agents.budgets.destroy();
    const added = median(budgetP50.map((b, i) => b - (plainP50[i] ?? b)));
    log(
      `p50 limits ${median(plainP50).toFixed(3)} ms, limits and a budget ${median(budgetP50).toFixed(3)} ms, added ${added.toFixed(3)} ms`,
    );
    return {
      baseline: 'the same limits in Redis, no budget',
      limits_only_p50_ms: round(median(plainP50)),
      limits_and_budget_p50_ms: round(median(budgetP50)),
      budget_p50_added_ms: round(added),
      limits_only_round_p50s_ms: plainP50.map((v) => round(v)),
      limits_and_budget_round_p50s_ms: budgetP50.map((v) => round(v)),
      script_round_trips: scripts,
      script_in_redis: inRedis,
    };
  } finally {
    await Promise.all([plain.stop(), budgeted.stop()]);
    await redis.remove();
    await sim.stop();
  }
}

/** One SLOWLOG entry: its id, when, microseconds, the command's arguments (the first 32). */
type SlowlogEntry = [number, number, number, string[]];

/** Rounds of calls run with SLOWLOG on while Redis logs every command. */
const LOGGED_ROUNDS = 3;

/**
 * What Redis spends running admit.lua (SLOWLOG's execution time: no network, no queueing) for
 * each path, microseconds at p50, while `round` runs LOGGED_ROUNDS times; the budgeted
 * runtime's calls are told apart by its key prefix.
 */
async function scriptTimesInRedis(
  address: string,
  budgeted: PolicyDocument,
  round: () => Promise<unknown>,
) {
  const [host = '', port = ''] = address.split(':');
  const client: RedisClientType = createClient({ socket: { host, port: Number(port) } });
  await client.connect();
  const budgetPrefix = `${budgeted.rateLimit.store?.keyPrefix ?? ''}:`;
  const plain: number[] = [];
  const withBudget: number[] = [];
  try {
    await client.sendCommand(['CONFIG', 'SET', 'slowlog-max-len', '100000']);
    await client.sendCommand(['CONFIG', 'SET', 'slowlog-log-slower-than', '0']);
    for (let r = 0; r < LOGGED_ROUNDS; r++) {
      await client.sendCommand(['SLOWLOG', 'RESET']);
      await round();
      const entries = await client.sendCommand<SlowlogEntry[]>(['SLOWLOG', 'GET', '-1']);
      for (const [, , micros, args] of entries) {
        // EVALSHA <sha> <number of keys> <first key>: admissions only (not settle.lua).
        if (args[0]?.toUpperCase() !== 'EVALSHA' || args[1] !== ADMIT_SCRIPT.sha) continue;
        (args[3]?.startsWith(budgetPrefix) === true ? withBudget : plain).push(micros);
      }
    }
  } finally {
    await client.sendCommand(['CONFIG', 'SET', 'slowlog-log-slower-than', '10000']);
    client.destroy();
  }
  return {
    baseline: 'admit.lua with limits alone, from the runtime without budgets',
    limits_only_p50_us: median(plain),
    limits_and_budget_p50_us: median(withBudget),
    budget_added_p50_us: median(withBudget) - median(plain),
    admissions: { limits_only: plain.length, limits_and_budget: withBudget.length },
    rounds: LOGGED_ROUNDS,
  };
}

/** admit.lua round trips on one connection, microseconds at p50. */
async function scriptRoundTrips(address: { host: string; port: number }, calls: number) {
  const client: RedisClientType = createClient({ socket: address });
  await client.connect();
  const limitsAlone = scriptCalls(client, 'l');
  const oneBudget = scriptCalls(client, 'b');
  const settling = scriptCalls(client, 's');
  const paths = {
    limits: () => limitsAlone.limits(ADMIT_SCRIPT),
    budget: () => oneBudget.budget(ADMIT_SCRIPT, false),
    // The previous call's settlement rides with this admission, as the runtime sends it.
    budgetAndSettle: () => settling.budget(ADMIT_SCRIPT, true),
  };
  const samples = {
    limits: [] as number[],
    budget: [] as number[],
    budgetAndSettle: [] as number[],
  };
  const names = ['limits', 'budget', 'budgetAndSettle'] as const;
  for (let i = 0; i < calls; i++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(i + k) % names.length] ?? 'limits';
      const start = performance.now();
      await paths[name]();
      samples[name].push((performance.now() - start) * 1000);
    }
  }
  client.destroy();
  const p50 = (name: (typeof names)[number]) => round(median(samples[name].slice(calls / 10)), 1);
  return {
    baseline: 'admit.lua with limits alone',
    limits_only_p50_us: p50('limits'),
    limits_and_budget_p50_us: p50('budget'),
    limits_and_budget_and_a_riding_settlement_p50_us: p50('budgetAndSettle'),
    calls,
  };
}

const PLANNED = { inputTokens: 2_000, maxTokens: 1_024 };
const USAGE = { inputTokens: 1_800, outputTokens: 300 };

function ledger(budgets: boolean): BudgetLedger {
  return new BudgetLedger({
    name: 'bench',
    clock: systemClock,
    spend: budgets
      ? {
          shareOf: 3,
          timeZone: 'Europe/Berlin',
          budgets: [
            {
              name: 'monthly',
              period: 'Month',
              limitMicroUsd: 999_999_999_999,
              per: 'Agent',
              onExhausted: 'Refuse',
              warnAtPercent: 80,
              waitForHeldMs: 5_000,
            },
          ],
        }
      : undefined,
    pricing: [PRICE],
    shareOf: 3,
    leaseMs: 600_000,
  });
}

/** Median ns per call over `rounds` rounds of `n` calls of `fn`. */
function nsPerCall(fn: () => void, n: number, rounds: number): number {
  for (let i = 0; i < n; i++) fn(); // warm-up
  const perRound: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    perRound.push(Number(process.hrtime.bigint() - start) / n);
  }
  return median(perRound);
}

/** The in-process check: one call's reserve, usage and settlement. */
function inProcess() {
  const none = ledger(false);
  const one = ledger(true);
  const call = { model: PRIMARY_MODEL, planned: PLANNED };
  const cycle = (l: BudgetLedger) => () => {
    const ticket = l.reserve(call);
    ticket?.note(1, 'default', USAGE);
    ticket?.settle();
  };
  const settlements: StoreBudgetSettlement[] = [];
  const settler = {
    settleBudget: (s: StoreBudgetSettlement) => {
      if (settlements.length < 1) settlements.push(s);
    },
  };
  const storeSide = () => {
    const claim = one.claim(call, settler);
    claim?.held({
      held: true,
      refusedBy: undefined,
      accounts: [
        { state: 'fits', spentPico: 0n, reservedPico: 0n, spentTokens: 0n, reservedTokens: 0n },
      ],
    });
    claim?.note(1, 'default', USAGE);
    claim?.settle();
  };
  // All of it as the store path runs it, without the network: the claim, admit.lua's keys and
  // arguments with the previous call's settlement riding, its answer read, the settlement.
  const reply = [0, 0, 1, 1, 0, 0, 12_345, 678, 1_234, 5_678, 100, 3_024];
  let riding: StoreBudgetSettlement[] = [];
  const queue = { settleBudget: (s: StoreBudgetSettlement) => riding.push(s) };
  const storePath = () => {
    const claim = one.claim(call, queue);
    if (claim === undefined) return;
    const keys = ['requests', 'input_tokens', 'output_tokens', 'provider_pause'];
    const args = ['1', '100000', '1', '0', '0', '0', '0', '0', '0', '0', '0'];
    pushBudgetAdmit(args, claim.request, false, { list: keys, prefix: 'bench' });
    if (riding.length > 0) pushSettlements(keys, args, 'bench', riding);
    riding = [];
    const verdict = admission(reply, 1).budget;
    if (verdict !== undefined) claim.held(verdict);
    claim.note(1, 'default', USAGE);
    claim.settle();
  };
  const n = 100_000;
  const rounds = 7;
  const baseline = nsPerCall(cycle(none), n, rounds);
  const budget = nsPerCall(cycle(one), n, rounds);
  const store = nsPerCall(storeSide, n, rounds);
  const wholeStorePath = nsPerCall(storePath, n, rounds);
  return {
    baseline: 'the same ledger with no budget (reserve answers at once)',
    no_budget_ns_per_call: round(baseline, 0),
    one_budget_ns_per_call: round(budget, 0),
    budget_check_us_per_call: round((budget - baseline) / 1000, 3),
    store_claim_cpu_ns_per_call: round(store, 0),
    store_path_cpu_ns_per_call: round(wholeStorePath, 0),
    calls_per_round: n,
    rounds,
  };
}

export async function budgetCost(options: {
  readonly rounds: number;
  readonly callsPerRound: number;
  readonly write: boolean;
  readonly log: (line: string) => void;
}) {
  options.log('budgets in process: reserve + settle per call');
  const local = inProcess();
  options.log(JSON.stringify(local));
  options.log(
    'budgets on the Redis path: interleaved rounds, limits alone against limits and a budget',
  );
  const redisPath = await onTheRedisPath(options.rounds, options.callsPerRound, options.log);
  const results = {
    benchmark: 'global-budgets',
    date: new Date().toISOString(),
    machine: { cpus: availableParallelism(), loadavg: loadavg().map((l) => round(l, 2)) },
    config: { rounds: options.rounds, calls_per_round: options.callsPerRound, budget: BUDGET },
    goals: { budget_p50_added_ms: 0.05, budget_check_us_per_call: 2 },
    redis_path: redisPath,
    in_process: local,
  };
  if (options.write) {
    mkdirSync('bench/results', { recursive: true });
    writeFileSync('bench/results/global-budgets.json', `${JSON.stringify(results, null, 2)}\n`);
  }
  return results;
}
