/**
 * What a store connection made ready costs the store: each runtime sends the budget
 * settlements answered in the last two minutes again (recentSettlements.ts, at most
 * RECENT_AT_MOST, in script calls of RESEND_BATCH, one at a time: RedisStore's #resendFrom),
 * and Redis runs a connection's pipelined scripts back to back while every other client's
 * commands wait their turn.
 *
 * `node bench/runtime/resendBurst.ts [--settlements N] [--runtimes R] [--at-once] [--batch B]`,
 * on a real redis-server: N settlements (one account each, the common shape) are settled once,
 * as the calls did, then each of R runtimes' connections sends all N again in batches of B, as
 * after a failover, one batch at a time (or, `--at-once`, every batch written at once, as the
 * store did before 2026-11-29), while another client sends a PING every millisecond.
 * `--settlements 10000` is the kept-unsent settlements' path (unsentSettlements.ts: at most
 * 10,000, sent the same way when the store answers again); `--batch 16 --at-once` is how it
 * sent them before (through the settlement queue, 16 a script call, all written at once).
 *
 * Printed, per burst: how long until every batch was answered, Redis's CPU time for it (INFO's
 * used_cpu), the longest script call SLOWLOG logged (threshold 0), and the PINGs' wait during
 * it (p50, p99, max): what another runtime's admission waits behind the burst. Every resent
 * settlement must change nothing (its marker is there): the account's spend is checked
 * unchanged.
 */
import { parseArgs } from 'node:util';
import { createClient } from '@redis/client';
import type { StoreBudgetSettlement } from '../../runtime/src/guard/rateLimitStore.ts';
import { SETTLE_SCRIPT, runScript } from '../../runtime/src/rateLimitStore/luaScripts.ts';
import {
  RECENT_AT_MOST,
  RESEND_BATCH,
} from '../../runtime/src/rateLimitStore/recentSettlements.ts';
import {
  LIMITS_UNTOUCHED,
  settlementCall,
} from '../../runtime/src/rateLimitStore/storeScriptCalls.ts';
import { startRedis } from '../../test/support/redisServer.ts';
import { percentile } from '../../tools/stats/samples.ts';

const PREFIX = 'breakwater:{bench/resend}';
const LIMITER_KEYS = [`${PREFIX}:requests`, `${PREFIX}:input_tokens`, `${PREFIX}:output_tokens`];
const ACCOUNT = 'agent:daily:1764374400000';

async function connectTo(address: string) {
  const client = createClient({ url: `redis://${address}` });
  await client.connect();
  return client;
}

type Client = Awaited<ReturnType<typeof connectTo>>;

function settlements(n: number): StoreBudgetSettlement[] {
  const keepUntilMs = Date.now() + 8 * 86_400_000;
  return Array.from({ length: n }, (_, i) => ({
    accounts: [
      { key: ACCOUNT, limitPico: 10n ** 15n, limitTokens: undefined, keepUntilMs, refuses: true },
    ],
    reservationId: `r-${String(i).padStart(6, '0')}-${'x'.repeat(20)}`,
    worstPico: 1_236_000_000n,
    worstTokens: 4_000n,
    costPico: 66_000_000n,
    costTokens: 300n,
  }));
}

/**
 * Every settlement of `list` in the runtime's batches: written at once, or `paced`, one batch
 * at a time as the store sends them now (RedisStore's #resendFrom); resolves when all answered.
 */
async function sendAll(
  client: Client,
  list: readonly StoreBudgetSettlement[],
  paced: boolean,
  batch = RESEND_BATCH,
): Promise<void> {
  const calls: Promise<unknown>[] = [];
  for (let i = 0; i < list.length; i += batch) {
    const call = settlementCall(PREFIX, list.slice(i, i + batch), LIMITER_KEYS);
    const sent = runScript(client, SETTLE_SCRIPT, call.keys, [...LIMITS_UNTOUCHED, ...call.args]);
    if (paced) await sent;
    else calls.push(sent);
  }
  await Promise.all(calls);
}

async function cpuSeconds(client: Client): Promise<number> {
  const info = await client.info('cpu');
  const read = (name: string) => Number(new RegExp(`${name}:([0-9.]+)`).exec(info)?.[1] ?? 0);
  return read('used_cpu_sys') + read('used_cpu_user');
}

/** The account's spend as budget.lua keeps it (micro-dollars and the pico-dollars below them). */
async function spent(client: Client): Promise<string> {
  const [micro, pico] = await client.hmGet(`${PREFIX}:budget:${ACCOUNT}`, [
    'spent_micro',
    'spent_pico',
  ]);
  return `${micro ?? '0'} µ$ ${pico ?? '0'} p$`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      settlements: { type: 'string', default: String(RECENT_AT_MOST) },
      runtimes: { type: 'string', default: '1' },
      'at-once': { type: 'boolean', default: false },
      batch: { type: 'string', default: String(RESEND_BATCH) },
    },
  });
  const paced = !values['at-once'];
  const batch = Number(values.batch);
  const n = Number(values.settlements);
  const runtimes = Number(values.runtimes);
  const redis = await startRedis();
  const connect = () => connectTo(redis.address);
  const admin = await connect();
  const pinger = await connect();
  const senders = await Promise.all(Array.from({ length: runtimes }, connect));
  try {
    const list = settlements(n);
    await sendAll(admin, list, false);
    const before = await spent(admin);
    if (before === '0 µ$ 0 p$') throw new Error('the settlements were not counted the first time');
    await admin.configSet('slowlog-log-slower-than', '0');
    await admin.configSet('slowlog-max-len', '100000');
    await admin.sendCommand(['SLOWLOG', 'RESET']);
    const cpuBefore = await cpuSeconds(admin);
    const burst = { on: true };
    const waits: number[] = [];
    const pinging = (async () => {
      while (burst.on) {
        const at = performance.now();
        await pinger.ping();
        waits.push(performance.now() - at);
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    })();
    const started = performance.now();
    await Promise.all(senders.map((c) => sendAll(c, list, paced, batch)));
    const tookMs = performance.now() - started;
    burst.on = false;
    await pinging;
    const cpuMs = ((await cpuSeconds(admin)) - cpuBefore) * 1000;
    const logged: unknown = await admin.sendCommand(['SLOWLOG', 'GET', '100000']);
    const log = logged as [number, number, number, string[]][];
    const scripts = log.filter((e) => e[3][0]?.toUpperCase() === 'EVALSHA').map((e) => e[2]);
    const after = await spent(admin);
    if (after !== before) throw new Error(`the resend changed the spend: ${before} → ${after}`);
    const sorted = [...waits].sort((a, b) => a - b);
    const round = (x: number) => Math.round(x * 10) / 10;
    process.stdout.write(
      `resend burst (${paced ? 'paced, a batch at a time' : 'written at once'}): ${String(runtimes)} runtime(s) × ${String(n)} settlements in ${String(Math.ceil(n / batch))} script calls each: ` +
        `all answered after ${String(round(tookMs))} ms; Redis CPU ${String(round(cpuMs))} ms; ` +
        `script calls ${String(scripts.length)}, longest ${String(round(Math.max(0, ...scripts) / 1000))} ms, ` +
        `median ${String(round(percentile(scripts, 0.5) / 1000))} ms; ` +
        `a PING during it waited p50 ${String(round(percentile(sorted, 0.5)))} / p99 ${String(round(percentile(sorted, 0.99)))} / max ${String(round(sorted.at(-1) ?? 0))} ms (${String(waits.length)} PINGs); spend unchanged\n`,
    );
  } finally {
    await Promise.all([admin, pinger, ...senders].map((c) => c.quit().catch(() => undefined)));
    await redis.remove();
  }
}

await main();
