/**
 * The cache-affinity part of `make bench-runtime`, in the same run as the rest. Two runtimes
 * with the same two Anthropic keys and Bedrock behind them, one with `cacheAffinity: Sticky`,
 * the other `Off` (the baseline):
 *
 * - added p50: requests that carry `cache_control` (conversations at several turns), in the
 *   closed loop's interleaved rounds, Sticky against Off; beside it, the in-process cost of a
 *   call's key, lookup and pin, timed over many calls;
 * - cost: 20 conversations of 10 turns through each, through the Anthropic SDK, priced from
 *   the contract's price table with the usage the simulator's per-key prompt cache reports,
 *   and the share of cacheable input read from cache.
 */
import Anthropic from '@anthropic-ai/sdk';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BACKEND_CREDENTIALS_DIR_ENV } from '../../contract/src/pod/runtimeEnvironment.ts';
import { systemClock } from '../../platform/src/time/clock.ts';
import { CacheAffinity } from '../../runtime/src/provider/cacheAffinity/cacheAffinity.ts';
import { prefixKeys } from '../../runtime/src/provider/cacheAffinity/prefixKeys.ts';
import {
  CACHE_MODEL,
  CACHE_MODEL_BEDROCK,
  Conversation,
  converse,
  costUsd,
  shareReadFromCache,
} from '../../test/support/cacheConversations.ts';
import { startRuntime, type RuntimeHandle } from '../../test/support/runtimeProcess.ts';
import type { SimulatorHandle } from '../../test/support/simulator.ts';
import { encodePost } from './closedLoopLoad.ts';
import type { ComparisonOptions } from './providerComparison.ts';

export interface CacheAffinityOptions {
  readonly sim: SimulatorHandle;
  readonly policy: Readonly<Record<string, unknown>>;
  readonly dir: string;
  readonly env: Readonly<Record<string, string>>;
  readonly clientKey: string;
  /** The AWS credentials the simulator accepts for Bedrock. */
  readonly aws: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly compare: ComparisonOptions['compare'];
}

const CONVERSATIONS = 20;
const TURNS = 10;
const KEYS = { BENCH_KEY_ONE: 'sk-bench-key-one', BENCH_KEY_TWO: 'sk-bench-key-two' };
const round3 = (x: number) => Math.round(x * 1000) / 1000;

async function runtimeWith(o: CacheAffinityOptions, affinity: 'Sticky' | 'Off') {
  const file = join(o.dir, `cache-${affinity}.json`);
  const policy = {
    ...o.policy,
    model: { ...(o.policy.model as object), name: CACHE_MODEL, fallbacks: [] },
    cacheAffinity: affinity,
    loadBalancing: 'RoundRobin',
    backends: [
      { name: 'key-one', baseURL: o.sim.url, apiKeyEnv: 'BENCH_KEY_ONE', weight: 1 },
      { name: 'key-two', baseURL: o.sim.url, apiKeyEnv: 'BENCH_KEY_TWO', weight: 1 },
      {
        name: 'bedrock',
        type: 'Bedrock',
        region: 'us-east-1',
        baseURL: o.sim.url,
        credentialsSecret: 'bench-aws',
        weight: 1,
        priority: 1,
        models: { [CACHE_MODEL]: CACHE_MODEL_BEDROCK },
      },
    ],
  };
  writeFileSync(file, JSON.stringify(policy));
  return startRuntime(['--policy', file, '--log-level', 'warn'], {
    ...o.env,
    ...KEYS,
    [BACKEND_CREDENTIALS_DIR_ENV]: join(o.dir, 'cache-credentials'),
  });
}

/** Conversation `i` at turn `turn`: a system prompt and the newest message as breakpoints. */
function cachedBody(i: number, turn: number): Record<string, unknown> {
  const messages: unknown[] = [];
  for (let t = 1; t <= turn; t++) {
    const text = `conversation ${String(i)}, question ${String(t)} about the berth rules`;
    messages.push({
      role: 'user',
      content: [
        t === turn
          ? { type: 'text', text, cache_control: { type: 'ephemeral' } }
          : { type: 'text', text },
      ],
    });
    if (t < turn) messages.push({ role: 'assistant', content: `You said: ${text}` });
  }
  return {
    model: CACHE_MODEL,
    max_tokens: 64,
    system: [
      {
        type: 'text',
        text: 'You answer from the harbour rules. '.repeat(150),
        cache_control: { type: 'ephemeral' },
      },
    ],
    messages,
  };
}

/** Microseconds per call of the key, the lookup and the pin, in this process. */
function inProcessCostUs(): number {
  const affinity = new CacheAffinity({ clock: systemClock });
  const bodies = Array.from({ length: 64 }, (_, i) => cachedBody(i, 1 + (i % 10)));
  const run = (n: number) => {
    for (let k = 0; k < n; k++) {
      const keys = prefixKeys(bodies[k % bodies.length] as Record<string, unknown>);
      if (keys === undefined) throw new Error('a cached body has no key');
      const found = affinity.lookup(keys);
      if (found instanceof Promise) throw new Error('no store: the lookup is synchronous');
      affinity.record(found, k % 2 === 0 ? 'key-one' : 'key-two');
    }
  };
  run(20_000);
  const calls = 100_000;
  const started = performance.now();
  run(calls);
  return ((performance.now() - started) * 1000) / calls;
}

export async function cacheAffinityBench(o: CacheAffinityOptions) {
  const bedrock = join(o.dir, 'cache-credentials', 'bedrock');
  mkdirSync(bedrock, { recursive: true });
  writeFileSync(join(bedrock, 'AWS_ACCESS_KEY_ID'), o.aws.accessKeyId);
  writeFileSync(join(bedrock, 'AWS_SECRET_ACCESS_KEY'), o.aws.secretAccessKey);
  const sticky = await runtimeWith(o, 'Sticky');
  const off = await runtimeWith(o, 'Off');
  try {
    const port = (r: RuntimeHandle) => Number(new URL(r.url).port);
    const requests = (r: RuntimeHandle) =>
      Array.from({ length: 8 }, (_, i) =>
        encodePost(
          '/v1/messages',
          port(r),
          { 'x-api-key': o.clientKey },
          JSON.stringify(cachedBody(i, 2 + i)),
        ),
      );
    const latency = await o.compare(
      { name: 'affinity-off', port: port(off), pid: off.child.pid ?? 0, requests: requests(off) },
      {
        name: 'affinity-sticky',
        port: port(sticky),
        pid: sticky.child.pid ?? 0,
        requests: requests(sticky),
      },
    );
    const client = (r: RuntimeHandle) =>
      new Anthropic({ baseURL: r.url, apiKey: o.clientKey, maxRetries: 0 });
    const make = (label: string) =>
      Array.from(
        { length: CONVERSATIONS },
        (_, i) => new Conversation(`${label}-${String(i)}`, label),
      );
    const [withAffinity, roundRobin] = await Promise.all([
      converse(client(sticky), make('bench-sticky'), TURNS),
      converse(client(off), make('bench-off'), TURNS),
    ]);
    return {
      method:
        'two runtimes, two Anthropic keys and Bedrock (priority 1) on one simulator that caches per key; ' +
        'added p50: cache_control requests (8 conversations at turns 2–9) in interleaved closed-loop rounds, ' +
        'Sticky minus Off; inProcessUsPerCall: prefix hash + lookup + pin over 100 000 calls; ' +
        `cost: ${String(CONVERSATIONS)} conversations × ${String(TURNS)} turns each (every third streamed) ` +
        `through the SDK, priced as ${CACHE_MODEL} from contract/src/api/modelPrices.ts`,
      p50AddedMs: round3(latency.second.ttfbP50 - latency.first.ttfbP50),
      p50Ms: { off: latency.first.ttfbP50, sticky: latency.second.ttfbP50 },
      throughputRatio: round3(latency.ratio),
      inProcessUsPerCall: round3(inProcessCostUs()),
      costUsd: { sticky: round3(costUsd(withAffinity)), off: round3(costUsd(roundRobin)) },
      shareReadFromCache: {
        sticky: round3(shareReadFromCache(withAffinity)),
        off: round3(shareReadFromCache(roundRobin)),
      },
    };
  } finally {
    await Promise.all([sticky.stop(), off.stop()]);
  }
}

export function cacheAffinityLine(r: Awaited<ReturnType<typeof cacheAffinityBench>>): string {
  return (
    `runtime cache affinity: p50_added_ms=${r.p50AddedMs.toFixed(3)} in_process_us=${r.inProcessUsPerCall.toFixed(2)} ` +
    `cost_usd sticky=${r.costUsd.sticky.toFixed(3)} off=${r.costUsd.off.toFixed(3)} ` +
    `read_from_cache sticky=${r.shareReadFromCache.sticky.toFixed(3)} off=${r.shareReadFromCache.off.toFixed(3)}\n`
  );
}
