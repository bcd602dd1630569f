/**
 * A seeded, mixed workload against three runtime replicas sharing one redis-server, and the
 * history it leaves (spendHistory.ts): plain and streamed calls, streams the client cuts at a
 * random event, calls with a tool, `/v1/agent/invoke` calls whose bundled agent calls an MCP
 * server's tool once or twice before it answers, the simulator answering some attempts 529
 * (retried, then the fallback model), over an agent budget and a budget per client key small
 * enough to be exhausted. Each call sends its own `x-request-id` (what the runtime records its budgets
 * under) and `traceparent` (which the runtime passes on and the simulator's bills name).
 *
 * Replicas die: at seeded points one of the three is SIGKILLed while a call of its own is open
 * and another started in its place (a lost node). Its holds never settle; the policy's short
 * bounds (4 s an attempt, 4 s a stream: leases of about 8 and 12 s) let them lapse within the
 * round, and after the last call the workload waits out the longest lease and makes one call
 * per key, whose admissions charge what lapsed (B10) before the history is read.
 *
 *   const run = await runSpendWorkload({ seed: 7, calls: 120 });
 *   expect(describeViolations(run.verdict.violations)).toBe('');
 */
import type Anthropic from '@anthropic-ai/sdk';
import { callCost, priceBook } from '../../contract/src/spend/callCost.ts';
import { seededRandom, type Random } from '../../platform/src/random/random.ts';
import { budgetAgent, sdk, PRICING, type BudgetAgent } from './budgetStoreFixture.ts';
import { FALLBACK_MODEL, PRIMARY_MODEL } from './standaloneRuntime.ts';
import {
  checkSpendHistory,
  type Bill,
  type BudgetAccountName,
  type ClientCall,
  type HistoryVerdict,
  type Settlement,
  type SpendHistory,
  type StoredAccount,
} from './spendHistory.ts';
import { startMcpServer } from './mcpServer.ts';
import { readAudit } from './spendAudit.ts';
import { killMidCall, killPoints, type Kill } from './spendKills.ts';
import { waitFor } from './waitFor.ts';

const KEYS = ['bw-history-key-a', 'bw-history-key-b', 'bw-history-key-c'] as const;

/**
 * The agent's $0.02 a day, each of three keys $0.0075: about fifteen worst cases of a plain
 * call ($0.0013) for the agent, five for a key (an invocation's turn holds more: the tools and
 * their prompt); the keys together could spend more than the agent may, so both are exhausted.
 */
export const HISTORY_BUDGETS = [
  { name: 'agent-daily', period: 'Day' as const, usd: '0.02', waitForHeld: '2s' },
  { name: 'key-daily', period: 'Day' as const, usd: '0.0075', per: 'ClientKey' as const },
];
const LIMITS = [
  { budget: 'agent-daily', limitPico: 20_000_000_000n },
  { budget: 'key-daily', limitPico: 7_500_000_000n },
];

export interface SpendWorkloadOptions {
  readonly seed: number;
  readonly calls: number;
  /** Calls in flight at once. @default 12 */
  readonly concurrency?: number;
  /** The store's `waitBudget`; null: left out, the policy's default (5 ms). @default '1s' */
  readonly waitBudget?: string | null;
  /** The chance the simulator answers an attempt 529. @default 0.2 */
  readonly overloadRate?: number;
  /** Replicas SIGKILLed mid-call and replaced, at seeded points of the round. @default 1 */
  readonly kills?: number;
}

export interface SpendWorkloadRun {
  readonly verdict: HistoryVerdict;
  readonly calls: readonly ClientCall[];
  /** How many calls ended each way, and how many of each shape were made. */
  readonly counts: Readonly<Record<string, number>>;
  readonly kills: readonly Kill[];
  /** What the checker read, for a failure's message (offendingHistory). */
  readonly history: SpendHistory;
}

/** Each attempt's bound, and a stream's: short, so that a killed replica's holds lapse soon. */
const ATTEMPT_MS = 4_000;
const STREAM_MS = 4_000;
const RETRY = { maxAttempts: 2, initialDelayMs: 10, maxDelayMs: 50 };
/** The longest lease a call holds (budgetOptions: attempts and backoff, and a stream). */
const LONGEST_LEASE_MS = RETRY.maxAttempts * (ATTEMPT_MS + RETRY.maxDelayMs) + STREAM_MS;

const TOOL = {
  name: 'lookup_tide',
  description: 'Looks up the tide at a harbour.',
  input_schema: { type: 'object' as const, properties: { harbour: { type: 'string' } } },
};

type Shape = 'plain' | 'stream' | 'cut' | 'tools' | 'invoke';
const SHAPES: readonly Shape[] = ['plain', 'stream', 'cut', 'tools', 'invoke'];
/** The MCP server the bundled agent's invocations call (test/support/mcpServer.ts). */
const MCP_NAME = 'tides';

export async function runSpendWorkload(options: SpendWorkloadOptions): Promise<SpendWorkloadRun> {
  const mcp = await startMcpServer();
  const agent = await budgetAgent({
    spec: { budgets: HISTORY_BUDGETS },
    waitBudget: options.waitBudget === undefined ? '1s' : options.waitBudget,
    sim: { seed: options.seed },
    change: (doc) => {
      doc.audit = { ...doc.audit, enabled: true };
      doc.access = { ...doc.access, clientKeysSecret: 'keys' };
      // An invocation's turns reserve `model.maxTokens` of output, as the plain calls' 64.
      doc.model = { ...doc.model, fallbacks: [FALLBACK_MODEL], maxTokens: 64 };
      doc.mcpServers = [
        {
          name: MCP_NAME,
          url: mcp.url,
          timeoutMs: 2_000,
          maxConcurrent: 10,
          onUnknownOutcome: 'Fail',
          tools: ['echo'],
        },
      ];
      doc.retry = { ...RETRY };
      doc.timeoutMs = ATTEMPT_MS;
      doc.maxStreamDurationMs = STREAM_MS;
    },
    env: { BREAKWATER_CLIENT_KEYS: KEYS.join(',') },
  }).catch(async (error: unknown) => {
    await mcp.stop();
    throw error;
  });
  try {
    const random = seededRandom(options.seed);
    const plans = Array.from({ length: options.calls }, (_, i) => plan(random, options.seed, i));
    const killAt = killPoints(random, options.calls, options.kills ?? 1);
    const kills: Promise<Kill & { atMs: number }>[] = [];
    const calls: ClientCall[] = [];
    // The round opens with an invocation, alone, on budgets still empty and before the
    // provider starts answering 529: its turns, which hold more than a plain call, are served
    // at least there, whatever the budgets and the faults do later. (Run beside the first
    // workers it lost the race for the room to their plain calls whenever its first turn was
    // slower to reserve, as it is while the bundled agent loads its client.)
    const [first] = plans;
    if (first !== undefined) {
      plans[0] = { ...first, shape: 'invoke' };
      calls.push(await callOnce(agent, plans[0]));
    }
    await agent.sim.setFault({ status: 529, rate: options.overloadRate ?? 0.2 });
    let next = 1;
    const worker = async () => {
      while (next < plans.length) {
        const at = next;
        const p = plans[next++] as Plan;
        const victim = killAt.get(at);
        if (victim !== undefined) kills.push(killMidCall(agent, victim, at));
        calls.push(await callOnce(agent, p));
      }
    };
    await Promise.all(Array.from({ length: options.concurrency ?? 12 }, worker));
    const killed = await Promise.all(kills);
    await agent.sim.clearFaults();
    if (killed.length > 0) {
      // Past the last lease a killed replica's call can hold, one call per key charges it.
      const lastLapse = Math.max(...killed.map((k) => k.atMs)) + LONGEST_LEASE_MS + 500;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, lastLapse - Date.now())));
      for (const [i, key] of KEYS.entries()) {
        const sweep: Plan = {
          ...plan(random, options.seed, options.calls + i),
          requestId: `history-${String(options.seed)}-sweep-${String(i)}`,
          replica: i,
          key,
          shape: 'plain',
        };
        calls.push(await callOnce(agent, sweep));
      }
    }
    const simulated = await agent.sim.stats();
    const replicas = agent.agent.started.map((r) => r.runtime);
    const killedNames = killed.map((k) => k.replica);
    const { verdict, bills, settlements, checked } = await history(agent, calls, killedNames);
    const counts: Record<string, number> = {};
    const add = (name: string) => {
      counts[name] = (counts[name] ?? 0) + 1;
    };
    for (const c of calls) add(c.outcome);
    for (const p of plans) add(p.shape);
    for (const c of calls) if (c.fallback) add('fallback');
    for (const c of calls) if (c.invoke === true && c.outcome === 'served') add('invokeServed');
    counts.mcpToolCalls = mcp.calls.get('echo') ?? 0;
    const attempts = new Map<string, number>();
    for (const b of bills) attempts.set(b.traceId ?? '', (attempts.get(b.traceId ?? '') ?? 0) + 1);
    for (const n of attempts.values()) if (n > 1) add('billedMoreThanOnce');
    for (const d of settlements) add(`decided ${d.decision}`);
    counts.bills = bills.length;
    counts.providerRequests = simulated.requests;
    counts.provider529s = simulated.byOutcome['error_529'] ?? 0;
    counts.kills = killed.length;
    counts.lapses = verdict.lapses;
    counts.replicasStarted = replicas.length;
    return {
      verdict,
      calls,
      counts,
      kills: killed.map(({ replica, afterCalls, open }) => ({ replica, afterCalls, open })),
      history: checked,
    };
  } finally {
    await agent.stop();
    await mcp.stop();
  }
}

interface Plan {
  readonly requestId: string;
  readonly traceId: string;
  readonly replica: number;
  readonly key: string;
  readonly shape: Shape;
  /** A cut stream: the client hangs up after this many events. */
  readonly cutAfter: number;
  /** An invocation: how many times the model calls the tool before it answers. */
  readonly toolCalls: number;
}

function plan(random: Random, seed: number, i: number): Plan {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const hex = (n: number) =>
    Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('');
  return {
    requestId: `history-${String(seed)}-${String(i)}`,
    traceId: hex(32),
    replica: Math.floor(random() * 3),
    key: pick(KEYS),
    shape: pick(SHAPES),
    cutAfter: 1 + Math.floor(random() * 8),
    toolCalls: 1 + Math.floor(random() * 2),
  };
}

async function callOnce(agent: BudgetAgent, p: Plan): Promise<ClientCall> {
  const client = sdk(agent.urls[p.replica] ?? '', p.key);
  const headers = {
    'x-request-id': p.requestId,
    traceparent: `00-${p.traceId}-${p.traceId.slice(0, 16)}-01`,
  };
  const body: Anthropic.MessageCreateParamsNonStreaming = {
    model: PRIMARY_MODEL,
    max_tokens: 64,
    messages: [{ role: 'user', content: 'How high is the tide at Brest today?' }],
    ...(p.shape === 'tools' ? { tools: [TOOL] } : {}),
  };
  if (p.shape === 'invoke') return invokeOnce(agent, p, headers);
  const base = { requestId: p.requestId, traceId: p.traceId, tools: p.shape === 'tools' };
  try {
    if (p.shape === 'plain' || p.shape === 'tools') {
      const answer = await client.messages.create(body, { headers });
      return {
        ...base,
        outcome: 'served',
        stream: false,
        cut: false,
        fallback: answer.model !== PRIMARY_MODEL,
      };
    }
    const stream = client.messages.stream(body, { headers });
    let events = 0;
    let model = PRIMARY_MODEL as string;
    for await (const event of stream) {
      if (event.type === 'message_start') model = event.message.model;
      events++;
      if (p.shape === 'cut' && events >= p.cutAfter) {
        stream.abort();
        break;
      }
    }
    // Cut after its last event, a stream was read whole.
    const cut = p.shape === 'cut' && events >= p.cutAfter;
    return { ...base, outcome: 'served', stream: true, cut, fallback: model !== PRIMARY_MODEL };
  } catch (error) {
    const status = (error as { status?: unknown }).status;
    const outcome = status === 429 ? 'refused' : 'failed';
    return { ...base, outcome, stream: p.shape !== 'plain', cut: false, fallback: false };
  }
}

/**
 * `POST /v1/agent/invoke` with a plan of `toolCalls` calls of the MCP server's `echo`: the
 * simulated model calls it once a turn, then answers; each turn a call of its own to the
 * provider, reserved and settled under the invocation's `x-request-id`, billed under its trace.
 */
async function invokeOnce(
  agent: BudgetAgent,
  p: Plan,
  headers: Readonly<Record<string, string>>,
): Promise<ClientCall> {
  const base = {
    requestId: p.requestId,
    traceId: p.traceId,
    tools: true,
    invoke: true,
    stream: false,
    cut: false,
  };
  try {
    const response = await fetch(`${agent.urls[p.replica] ?? ''}/v1/agent/invoke`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', 'x-api-key': p.key },
      body: JSON.stringify({
        input: `Read the tide table: use tool ${MCP_NAME}__echo ${String(p.toolCalls)} times.`,
      }),
    });
    const answer = (await response.json()) as { fallbackUsed?: boolean };
    const outcome =
      response.status === 200 ? 'served' : response.status === 429 ? 'refused' : 'failed';
    return { ...base, outcome, fallback: answer.fallbackUsed === true };
  } catch {
    return { ...base, outcome: 'failed', fallback: false };
  }
}

/** Waits for every hold to settle, then reads the replicas' records, the bills and the store. */
async function history(
  agent: BudgetAgent,
  calls: readonly ClientCall[],
  killed: readonly string[],
): Promise<{
  verdict: HistoryVerdict;
  bills: Bill[];
  settlements: Settlement[];
  checked: SpendHistory;
}> {
  const read = () => readAudit(agent);
  await waitFor(
    async () => {
      const { reservations, settlements } = read();
      // A retry's room has no settlement of its own: its call's releases it.
      const live = reservations.filter((r) => !killed.includes(r.replica) && r.of === undefined);
      const settledHere = settlements.filter((s) => !killed.includes(s.replica));
      const stored = await agent.accounts();
      return live.length === settledHere.length && stored.every((a) => a.reservedPico === 0n);
    },
    { description: 'every reservation settled, in the records and in Redis', timeoutMs: 20_000 },
  ).catch(() => undefined);
  const { reservations, settlements } = read();
  const book = priceBook(PRICING);
  const bills: Bill[] = (await agent.sim.billed()).map((b) => {
    const cost = callCost(b.model, b.usage, book);
    if (!cost.priced) throw new Error(`the simulator billed ${b.model}, which has no price`);
    return { id: b.requestId, traceId: b.traceId, billedPico: cost.picoUsd };
  });
  const store: StoredAccount[] = (await agent.accounts()).map((a) => ({
    account: accountOfKey(a.key),
    spentPico: a.spentPico,
    reservedPico: a.reservedPico,
    lapsed: a.lapsed,
  }));
  const checked: SpendHistory = {
    reservations,
    settlements,
    calls,
    bills,
    limits: LIMITS,
    store,
    killed,
  };
  return { verdict: checkSpendHistory(checked), bills, settlements, checked };
}

/** `…:budget:<agent>:<budget>:<periodStartMs>[:<key fingerprint>]`, as budget.lua keeps it. */
function accountOfKey(key: string): BudgetAccountName {
  const parts = key.slice(key.indexOf(':budget:') + ':budget:'.length).split(':');
  const [, budget = '', period = '0', who] = parts;
  return {
    budget,
    per: who === undefined ? 'Agent' : 'ClientKey',
    who: who ?? '',
    periodStartMs: Number(period),
  };
}
