/**
 * Every key one call of a store user touches lies in one Redis Cluster hash slot, and every key
 * a script touches was passed in its KEYS (issue 51, item 2): what a cluster needs of each call.
 * Each user is driven through its own TypeScript entry points on a real redis-server while
 * MONITOR records every command, the commands each script runs inside the server included
 * (monitoredCalls.ts); the keys of each come from the server's COMMAND GETKEYS, their slots from
 * CLUSTER KEYSLOT on a second server in cluster mode. The users and the rule each keeps:
 *
 * - a limiter (RedisStore: admit.lua with budgets and riding settlements, settle.lua, renew.lua,
 *   pause.lua): every key under its keyPrefix, `breakwater:{<namespace>/<policy>[/<agent>]}`;
 * - a limiter with a team's budget (`per: Policy`, store.sharing AllAgents): its keys and the
 *   team's account, `breakwater:{<namespace>/<policy>}:budget:<budget>:<period>`, one tag;
 * - its prompt-cache pins (StorePins: MGET and SET): `<keyPrefix>pin:<hash>`, the same tag;
 * - a run's journal (RunJournal: claim.lua, complete.lua, append.lua) and its record
 *   (AgentRunStore): `<prefix>:{<run>}:…`, the run's own tag;
 * - an agent's run leases (RunLeases, lease.lua): its two keys under the `{runs}` tag;
 * - the run listing (listRuns): a SCAN, which names no key, then runSummary.lua per run.
 */
import { moneyFromUsd } from '../../contract/src/spend/money.ts';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createClient, type RedisClientType } from '@redis/client';
import type { StoreSettings } from '../../contract/src/policy/policyDocument.ts';
import { systemClock } from '../../platform/src/time/clock.ts';
import { AgentRunStore } from '../../runtime/src/durable/agentRunStore.ts';
import { JournalCipher } from '../../runtime/src/durable/journalCipher.ts';
import { stepHeader } from '../../runtime/src/durable/journalEntry.ts';
import { RunJournal } from '../../runtime/src/durable/runJournal.ts';
import { RunLeases, leaseKeys } from '../../runtime/src/durable/runLeases.ts';
import { listRuns } from '../../runtime/src/durable/runListing.ts';
import type {
  StoreBudgetAccount,
  StoreBudgetRequest,
} from '../../runtime/src/guard/rateLimitStore.ts';
import { StorePins } from '../../runtime/src/rateLimitStore/cachePins.ts';
import type { RedisStore } from '../../runtime/src/rateLimitStore/redisStore.ts';
import {
  commandKeys,
  isScript,
  monitorCalls,
  SlotOracle,
  type MonitoredCall,
} from '../support/monitoredCalls.ts';
import { startRedis, type RedisHandle } from '../support/redisServer.ts';
import { openRedisStore } from '../support/redisStoreOpen.ts';
import { waitFor } from '../support/waitFor.ts';

/**
 * Prefixes of the shapes policyResolution.ts makes (a PerAgent limiter; an AllAgents one, which
 * is also the policy's, where a team's budget lives; an agent's journal).
 */
const LIMITER_PREFIX = 'breakwater:{tests/slots/agent}';
const POLICY_PREFIX = 'breakwater:{tests/slots}';
const JOURNAL_PREFIX = 'breakwater:run:tests/slots';
const RETENTION_MS = 60_000;

/** The slot rule each user keeps, named in every failure. */
const RULES = {
  limiter: `one limiter's keys (limits, pause, budget accounts, settled markers) share its keyPrefix's hash tag, ${LIMITER_PREFIX}`,
  team: `with a team's budget (per Policy) the agents share one limiter (store.sharing AllAgents, which admission requires on a Redis Cluster): its keys and the team's account share the policy's hash tag, ${POLICY_PREFIX}`,
  pins: `an agent's cache pins share its limiter's keyPrefix hash tag, ${LIMITER_PREFIX}pin:<hash>`,
  journal: `one run's keys (log, cursor, owner, counts, attempts, agent record) share the run's hash tag, ${JOURNAL_PREFIX}:{<run>}:…`,
  leases: `an agent's run leases (lease-ends, lease-holders) share the {runs} hash tag, ${JOURNAL_PREFIX}:{runs}:…`,
  listing: `a run listing's SCAN names no key; each runSummary.lua reads one run's keys, ${JOURNAL_PREFIX}:{<run>}:…`,
  selfCheck: 'the checker itself: a script that builds a key in Lua and one whose KEYS span slots',
} as const;
type User = keyof typeof RULES;

/**
 * Calls that break a rule today, each with the reason it is let through: none. A finding goes
 * here, named, with a pointer to issue 51, rather than being fixed in a hurry.
 */
const KNOWN_EXCEPTIONS: readonly { user: User; script: string; why: string }[] = [];

/** The Lua files the scripts are made of: a script is named by the file its source ends with. */
const LUA_FILES = ['rateLimitStore', 'durable'].flatMap((dir) => {
  const url = new URL(`../../runtime/src/${dir}/`, import.meta.url);
  return readdirSync(url)
    .filter((f) => f.endsWith('.lua'))
    .map((f) => ({ name: f.replace(/\.lua$/, ''), source: readFileSync(new URL(f, url), 'utf8') }));
});

let redis: RedisHandle;
let slotServer: RedisHandle;
let oracle: SlotOracle;
let reader: RedisClientType;

beforeAll(async () => {
  [redis, slotServer] = await Promise.all([startRedis(), startRedis({ clusterEnabled: true })]);
  oracle = await SlotOracle.connect(slotServer.address);
  reader = createClient({ url: `redis://${redis.address}` });
  await reader.connect();
});

afterAll(async () => {
  reader.destroy();
  oracle.close();
  await Promise.all([redis.remove(), slotServer.remove()]);
});

interface CheckedCall {
  /** The script's name (its last Lua file), or the command's. */
  readonly name: string;
  readonly declared: readonly string[];
  readonly touched: readonly string[];
}

interface Checked {
  readonly calls: readonly CheckedCall[];
  readonly problems: readonly string[];
}

/** Names the scripts seen: by the Lua file an EVAL's source ends with, then by its SHA. */
function scriptNames(calls: readonly MonitoredCall[]): Map<string, string> {
  const names = new Map<string, string>();
  for (const c of calls) {
    if ((c.args[0] ?? '').toUpperCase() !== 'EVAL') continue;
    const source = c.args[1] ?? '';
    const file = LUA_FILES.find((f) => source.endsWith(f.source));
    names.set(sha1(source), file?.name ?? 'an unknown script');
  }
  return names;
}

/** Checks every call of `calls` against both rules; `user`'s rule names each failure. */
async function check(user: User, calls: readonly MonitoredCall[]): Promise<Checked> {
  const names = scriptNames(calls);
  const checked: CheckedCall[] = [];
  const problems: string[] = [];
  for (const call of calls) {
    const command = (call.args[0] ?? '').toUpperCase();
    const script = isScript(call.args);
    const name = script ? scriptName(call, names) : command;
    const declared = await commandKeys(reader, call.args);
    const touched = [
      ...new Set((await Promise.all(call.inner.map((inner) => commandKeys(reader, inner)))).flat()),
    ];
    const all = [...new Set([...declared, ...touched])];
    if (all.length === 0) continue;
    checked.push({ name, declared, touched });
    if (KNOWN_EXCEPTIONS.some((e) => e.user === user && e.script === name)) continue;
    if (script) {
      const undeclared = touched.filter((k) => !declared.includes(k));
      if (undeclared.length > 0)
        problems.push(
          `${user}: ${name} touched ${undeclared.join(', ')} without passing it in KEYS (${RULES[user]})`,
        );
    }
    const slots = await Promise.all(all.map(async (k) => `${k} → ${String(await oracle.slot(k))}`));
    if (new Set(slots.map((s) => s.split(' → ')[1])).size > 1)
      problems.push(
        `${user}: one ${name} call spans hash slots: ${slots.join(', ')} (${RULES[user]})`,
      );
  }
  return { calls: checked, problems };
}

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');

/** A script call's name, from `scriptNames`. */
function scriptName(call: MonitoredCall, names: ReadonlyMap<string, string>): string {
  const sha =
    (call.args[0] ?? '').toUpperCase() === 'EVAL' ? sha1(call.args[1] ?? '') : (call.args[1] ?? '');
  return names.get(sha) ?? `script ${sha.slice(0, 8)}`;
}

/** Drives `drive` under MONITOR, until `seen` holds of the calls recorded; checks them. */
async function record(
  user: User,
  drive: () => Promise<void>,
  seen: (calls: readonly MonitoredCall[]) => boolean = () => true,
): Promise<Checked> {
  // Every script's first use sends its source (NOSCRIPT, then EVAL): that names it.
  await reader.sendCommand(['SCRIPT', 'FLUSH']);
  const recording = await monitorCalls(redis.address);
  try {
    await drive();
    // MONITOR reaches its client on its own socket: a marker sent after the user's answered
    // calls, once seen, means every one of them was.
    const marker = `bw-marker-${randomBytes(4).toString('hex')}`;
    await reader.sendCommand(['ECHO', marker]);
    const marked = (calls: readonly MonitoredCall[]) =>
      calls.some((c) => c.args[0] === 'ECHO' && c.args[1] === marker);
    await waitFor(() => marked(recording.calls()) && seen(recording.calls()), {
      timeoutMs: 10_000,
      intervalMs: 10,
      description: `${user}'s calls to reach the server`,
    });
  } finally {
    await recording.stop();
  }
  return check(user, recording.calls());
}

const names = (c: Checked) => new Set(c.calls.map((call) => call.name));

/** The slots of every key of every call in `c`: one, for a user whose calls are all of one owner. */
async function slotsAcross(c: Checked): Promise<number[]> {
  const keys = new Set(c.calls.flatMap((call) => [...call.declared, ...call.touched]));
  return [...new Set(await Promise.all([...keys].map((k) => oracle.slot(k))))];
}
const touchedKeys = (c: Checked) => c.calls.flatMap((call) => call.touched);

describe('the checker', () => {
  it('catches a key built inside a script and KEYS that span slots', async () => {
    const checked = await record('selfCheck', async () => {
      await reader.sendCommand([
        'EVAL',
        "return redis.call('GET', KEYS[1] .. ':more')",
        '1',
        '{a}x',
      ]);
      await reader.sendCommand(['EVAL', "return redis.call('GET', KEYS[2])", '2', '{a}x', '{b}x']);
      await reader.mGet(['{a}x', '{a}y']);
    });
    expect(checked.problems).toEqual([
      expect.stringContaining('touched {a}x:more without passing it in KEYS'),
      expect.stringContaining('spans hash slots'),
    ]);
  });
});

describe('every key of one call in one hash slot, and in the script’s KEYS', () => {
  const account = (key: string): StoreBudgetAccount => ({
    key,
    limitPico: moneyFromUsd(1),
    limitTokens: 1_000_000n,
    keepUntilMs: Date.now() + 86_400_000,
    refuses: true,
  });
  // The agent's budget and a per-key one (budgetLedger's account shapes).
  const ACCOUNTS = [account('agent:daily:0'), account('agent:daily:0:fp-0123456789ab')];
  // A team's budget beside them: under the policy's prefix, whichever agent charges it.
  const TEAM_ACCOUNTS = [...ACCOUNTS, { ...account('team:0'), keyPrefix: POLICY_PREFIX }];
  let accounts = ACCOUNTS;
  const hold = (reservationId: string): StoreBudgetRequest => ({
    accounts,
    reservationId,
    leaseMs: 60_000,
    worstPico: 1_000_000n,
    worstTokens: 100n,
  });
  const settlement = (reservationId: string) => ({
    accounts,
    reservationId,
    worstPico: 1_000_000n,
    worstTokens: 100n,
    costPico: 400_000n,
    costTokens: 40n,
  });

  it.each([
    [`a limiter: ${RULES.limiter}`, 'limiter' as const, LIMITER_PREFIX, ACCOUNTS],
    [`a team: ${RULES.team}`, 'team' as const, POLICY_PREFIX, TEAM_ACCOUNTS],
  ])('%s', async (_, user, prefix, used) => {
    accounts = used;
    const settings: StoreSettings = {
      redis: { address: redis.address },
      waitBudgetMs: 2_000,
      keyPrefix: prefix,
      requests: { perSecond: 1_000, burst: 1_000 },
      tokens: { inputPerMinute: 1_000_000, outputPerMinute: 1_000_000 },
    };
    let store: RedisStore | undefined;
    /** The calls of script `name` that ran (NOSCRIPT answers run nothing). */
    const count = (calls: readonly MonitoredCall[], name: string) => {
      const known = scriptNames(calls);
      return calls.filter(
        (c) => isScript(c.args) && c.inner.length > 0 && scriptName(c, known) === name,
      ).length;
    };
    const checked = await record(
      user,
      async () => {
        store = openRedisStore(settings);
        const s = store;
        await waitFor(() => s.available, { description: 'the store', timeoutMs: 10_000 });
        const call = {
          estimate: { inputTokens: 10, outputTokens: 10 },
          localWaitMs: 0,
          maxWaitMs: 0,
        };
        expect(await s.admit(call)).toMatchObject({ charged: true });
        expect(await s.admit({ ...call, budget: hold('r1') })).toMatchObject({
          budget: { held: true },
        });
        // r1's settlement rides with the next admission (settlementQueue.ts).
        s.settleBudget(settlement('r1'));
        expect(await s.admit({ ...call, budget: hold('r2') })).toMatchObject({
          budget: { held: true },
        });
        s.renewBudgets([{ accounts, reservationId: 'r2', leaseMs: 120_000 }]);
        // Sent alone: the replica is idle.
        s.settleBudget(settlement('r2'));
        s.settle({ requests: -1, inputTokens: -5, outputTokens: 3 });
        s.pause(1_000);
      },
      (calls) =>
        count(calls, 'renew') >= 1 && count(calls, 'pause') >= 1 && count(calls, 'settle') >= 2,
    );
    store?.close();
    expect(checked.problems).toEqual([]);
    expect(names(checked)).toEqual(new Set(['admit', 'settle', 'renew', 'pause']));
    expect(await slotsAcross(checked)).toEqual([await oracle.slot(prefix)]);
    const touched = touchedKeys(checked);
    for (const part of [
      ':requests',
      ':input_tokens',
      ':output_tokens',
      ':provider_pause',
      ':budget:',
      ':settled:',
    ])
      expect(touched.some((k) => k.startsWith(prefix) && k.includes(part))).toBe(true);
    if (user === 'team') expect(touched).toContain(`${POLICY_PREFIX}:budget:team:0`);
    // The riding settlement: an admission that touched r1's settled marker.
    expect(
      checked.calls.some((c) => c.name === 'admit' && c.touched.includes(`${prefix}:settled:r1`)),
    ).toBe(true);
  });

  it(`cache pins: ${RULES.pins}`, async () => {
    const settings: StoreSettings = {
      redis: { address: redis.address },
      waitBudgetMs: 2_000,
      keyPrefix: LIMITER_PREFIX,
    };
    const store = openRedisStore(settings);
    await waitFor(() => store.available, { description: 'the store', timeoutMs: 10_000 });
    const pins = new StorePins(() => store, systemClock);
    const checked = await record('pins', async () => {
      pins.save(123_456, 'backend-a', 60_000);
      pins.save(987_654, 'backend-b', 60_000);
      await waitFor(async () => (await pins.find([123_456, 987_654]))?.[1] === 'backend-b', {
        description: 'the pins to be saved',
        timeoutMs: 5_000,
      });
    });
    store.close();
    expect(checked.problems).toEqual([]);
    expect(names(checked)).toEqual(new Set(['SET', 'MGET']));
    expect(checked.calls.find((c) => c.name === 'MGET')?.declared).toHaveLength(2);
    expect(await slotsAcross(checked)).toEqual([await oracle.slot(LIMITER_PREFIX)]);
  });

  it(`a run's journal and record: ${RULES.journal}`, async () => {
    const client = createClient({ url: `redis://${redis.address}` });
    await client.connect();
    const journal = new RunJournal(client, JOURNAL_PREFIX, RETENTION_MS);
    const cipher = new JournalCipher(randomBytes(32));
    const records = new AgentRunStore({
      client: client,
      deadline: (op) => op,
      cipher,
      prefix: JOURNAL_PREFIX,
      retentionMs: RETENTION_MS,
    });
    const owner = `${cipher.keyId}:pods`;
    const h = (c: string) => c.repeat(64);
    const done = (kind: 'model' | 'tool', c: string) =>
      `${stepHeader(kind, 'done', h(c))}sealed-${c}`;
    const checked = await record('journal', async () => {
      const run = 'run-slots-1';
      expect(
        await records.create(run, {
          state: 'running',
          owner,
          client: undefined,
          request: { input: 'hi', history: [] },
          startedAt: Date.now(),
        }),
      ).toBe(true);
      const first = await journal.claim(run, owner, 'model', h('a'), 'attempt-1');
      expect(first).toMatchObject({ verdict: 'live', position: 0 });
      expect(await journal.complete(run, 0, 'model', h('a'), done('model', 'a'))).toBe(true);
      expect(await journal.append(run, owner, 1, done('tool', 'b'), 'attempt-1')).toBe(1);
      const third = await journal.claim(run, owner, 'tool', h('c'), 'attempt-1');
      expect(third).toMatchObject({ verdict: 'live', position: 2 });
      await journal.abandon(run, 2, 'tool', h('c'), 'attempt-1');
      // Another attempt replays the first step.
      expect(await journal.claim(run, owner, 'model', h('a'), 'attempt-2')).toMatchObject({
        verdict: 'replay',
      });
      expect(await records.read(run)).toMatchObject({ state: 'running' });
      expect(await records.steps(run)).toBe(2);
    });
    client.destroy();
    expect(checked.problems).toEqual([]);
    expect(names(checked)).toEqual(new Set(['claim', 'complete', 'append', 'SET', 'GET', 'LLEN']));
    expect(await slotsAcross(checked)).toEqual([await oracle.slot('{run-slots-1}')]);
  });

  it(`run leases: ${RULES.leases}`, async () => {
    const client = createClient({ url: `redis://${redis.address}` });
    await client.connect();
    const lease = (replica: string) =>
      new RunLeases(client, JOURNAL_PREFIX, replica, 60_000, (op) => op);
    const checked = await record('leases', async () => {
      expect(await lease('a').acquire('run-1')).toBe(true);
      expect(await lease('a').renew('run-1')).toBe(true);
      await lease('a').handOver('run-1');
      expect(await lease('b').takeOver('run-1')).toBe('a');
      expect(await lease('b').lapsed(10)).toEqual([]);
      await lease('b').release('run-1');
    });
    client.destroy();
    expect(checked.problems).toEqual([]);
    expect(names(checked)).toEqual(new Set(['lease']));
    expect(new Set(touchedKeys(checked))).toEqual(new Set(leaseKeys(JOURNAL_PREFIX)));
    expect(await slotsAcross(checked)).toEqual([await oracle.slot('{runs}')]);
  });

  it(`the run listing: ${RULES.listing}`, async () => {
    const client = createClient({ url: `redis://${redis.address}` });
    await client.connect();
    const journal = new RunJournal(client, JOURNAL_PREFIX, RETENTION_MS);
    for (const run of ['listed-1', 'listed-2']) {
      await journal.claim(run, 'key:pods', 'model', 'a'.repeat(64), 'attempt');
    }
    const checked = await record('listing', async () => {
      const listed = await listRuns(client, {
        prefix: JOURNAL_PREFIX,
        retentionMs: RETENTION_MS,
        now: Date.now(),
        limit: 20,
      });
      expect(listed.runs.map((r) => r.run)).toEqual(
        expect.arrayContaining(['listed-1', 'listed-2']),
      );
    });
    client.destroy();
    expect(checked.problems).toEqual([]);
    expect(names(checked)).toEqual(new Set(['runSummary']));
  });
});

describe('known exceptions (issue 51)', () => {
  it('a run’s lease is not in the run’s slot: leases are per agent, under the literal {runs} tag', async () => {
    // Not one call: lease.lua and the journal's scripts never share a call. But every agent's
    // two lease keys hash to the one slot of `runs`, cluster-wide: one node holds every lease.
    const [ends, holders] = leaseKeys(JOURNAL_PREFIX);
    const runsSlot = await oracle.slot('{runs}');
    expect(await oracle.slot(ends ?? '')).toBe(runsSlot);
    expect(await oracle.slot(holders ?? '')).toBe(runsSlot);
    expect(await oracle.slot(leaseKeys('breakwater:run:other/agent')[0] ?? '')).toBe(runsSlot);
  });
});
