/**
 * An outside attack on the budget promises (docs/guarantees.md B1, B3, B4) through a Redis
 * Sentinel failover, on real processes: Debian's redis-server and redis-sentinel on loopback,
 * N runtime processes (the runtime's own binary, `--policy`) on one RateLimitPolicy whose store is
 * `sentinel`, the simulator behind them, a budgeted load through the real SDK (no retries).
 * Every figure is read from the provider's bills (the simulator's /_sim/usage at the agent's
 * prices) and the runtimes' audit logs (`audit.enabled`), never from the runtimes' counters.
 *
 *   export PATH=$PWD/.breakwater/node/bin:$PATH
 *   node attacks/store-failover/attack.ts --fault kill --at 0.9 --runtimes 3 --callers 1
 *
 * One JSON line of figures on stdout (and appended to attacks/store-failover/runs.jsonl).
 *
 * Faults (--fault):
 *   kill        the primary SIGKILLed
 *   stop        the primary SIGSTOPped for --stopMs, then SIGCONTed
 *   double      the primary SIGKILLed, then, once every runtime is back, the promoted one too
 *   restartOld  the primary SIGKILLed and, once a replica is promoted, started again (empty,
 *               no persistence: a pod's container restarted on its old address)
 *   stopReplica one replica SIGSTOPped first (under --acknowledge Replicas only the other can
 *               confirm), then the primary SIGKILLed
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import Anthropic from '@anthropic-ai/sdk';
import { moneyToUsdNumber, parseMoney } from '../../contract/src/spend/money.ts';
import { resolveRateLimit } from '../../contract/src/policy/policyResolution.ts';
import { PRICING, REQUEST, sdk, storedPico } from '../../test/support/budgetStoreFixture.ts';
import { billedPico } from '../../test/support/budgetedLoad.ts';
import { AGENT_NAME, ratePolicy } from '../../test/support/rateLimitStoreFixture.ts';
import {
  ask,
  startSentinelSet,
  waitForAReplicaPromoted,
} from '../../test/support/redisSentinel.ts';
import { startSimulator } from '../../test/support/simulator.ts';
import {
  policyDocument,
  standaloneRuntime,
  type StandaloneRuntime,
} from '../../test/support/standaloneRuntime.ts';
import { waitFor } from '../../test/support/waitFor.ts';

const { values: opt } = parseArgs({
  options: {
    fault: { type: 'string', default: 'kill' },
    at: { type: 'string', default: '0.9' },
    runtimes: { type: 'string', default: '3' },
    callers: { type: 'string', default: '1' },
    streamed: { type: 'string', default: '0' },
    budget: { type: 'string', default: '0.015' },
    perSecond: { type: 'string', default: '10' },
    acknowledge: { type: 'string', default: 'Primary' },
    stopMs: { type: 'string', default: '4000' },
    downAfterMs: { type: 'string', default: '1000' },
    eventGapMs: { type: 'string', default: '8' },
    label: { type: 'string', default: '' },
    /** A directory to write each runtime's output to, for explaining a run. */
    dumpLog: { type: 'string', default: '' },
    /** The budget's time zone (a Day budget's midnight there). */
    timeZone: { type: 'string', default: 'UTC' },
    /**
     * After the load, wait this long (holds' leases lapse in 5 min, B10) and read again;
     * negative: only when holds are left.
     */
    lapseWaitMs: { type: 'string', default: '0' },
    /**
     * Redis's own guard, on every server: a primary with fewer replicas than this acknowledging
     * within `--minReplicasMaxLag` s refuses writes (NOREPLICAS). 0: off, Redis's default.
     */
    minReplicasToWrite: { type: 'string', default: '0' },
    minReplicasMaxLag: { type: 'string', default: '1' },
    /** The fault not before this UTC time of day, HH:MM:SS.mmm (a period's edge). */
    faultAtUtc: { type: 'string', default: '' },
  },
});

const LIMIT = parseMoney(opt.budget);
const N = Number(opt.runtimes);
const usd = (p: bigint) => moneyToUsdNumber(p);

interface Done {
  readonly at: number;
  readonly runtime: number;
  readonly streamed: boolean;
  readonly outcome: 'served' | 'budgetRefused' | 'rateLimited' | 'failed';
  readonly detail?: string;
}

async function oneCall(url: string, runtime: number, streamed: boolean): Promise<Done> {
  const at = Date.now();
  try {
    const client = sdk(url);
    if (streamed) await client.messages.stream(REQUEST).finalMessage();
    else await client.messages.create(REQUEST);
    return { at, runtime, streamed, outcome: 'served' };
  } catch (error) {
    if (error instanceof Anthropic.RateLimitError) {
      const message = (error.error as { error?: { message?: string } }).error?.message ?? '';
      return {
        at,
        runtime,
        streamed,
        outcome: message.startsWith('budget') ? 'budgetRefused' : 'rateLimited',
        detail: message.slice(0, 160),
      };
    }
    return { at, runtime, streamed, outcome: 'failed', detail: String(error).slice(0, 200) };
  }
}

/** The budget account's spent and reserved on one server; undefined when it does not answer. */
interface Held {
  readonly spent: bigint;
  readonly reserved: bigint;
  readonly leases?: number;
  readonly lapsed?: number;
}

async function account(address: string): Promise<Held | undefined> {
  // A frozen server takes the connection and answers nothing: given up after a second.
  return Promise.race([
    accountOn(address),
    new Promise<undefined>((resolve) =>
      setTimeout(() => {
        resolve(undefined);
      }, 1000),
    ),
  ]);
}

async function accountOn(address: string): Promise<Held | undefined> {
  try {
    const keys = (await ask(address, ['KEYS', '*:budget:*'])) as string[];
    const key = keys.find((k) => !k.endsWith(':leases'));
    if (key === undefined) return { spent: 0n, reserved: 0n, leases: 0, lapsed: 0 };
    const flat = (await ask(address, ['HGETALL', key])) as string[] | Record<string, string>;
    const hash: Record<string, string> = {};
    if (Array.isArray(flat))
      for (let i = 0; i + 1 < flat.length; i += 2) hash[flat[i] ?? ''] = flat[i + 1] ?? '';
    else Object.assign(hash, flat);
    return {
      spent: storedPico(hash, 'spent'),
      reserved: storedPico(hash, 'reserved'),
      leases: Object.keys(hash).filter((f) => f.startsWith('lease:')).length,
      lapsed: Object.keys(hash).filter((f) => f.startsWith('lapsed:')).length,
    };
  } catch {
    return undefined;
  }
}

/** Every budget account's settled spend on one server, in dollars, by key. */
async function accountsOn(address: string): Promise<Record<string, bigint>> {
  const out: Record<string, bigint> = {};
  try {
    const keys = (await ask(address, ['KEYS', '*:budget:*'])) as string[];
    for (const key of keys.filter((k) => !k.endsWith(':leases')).sort()) {
      const flat = (await ask(address, ['HGETALL', key])) as string[] | Record<string, string>;
      const hash: Record<string, string> = {};
      if (Array.isArray(flat))
        for (let i = 0; i + 1 < flat.length; i += 2) hash[flat[i] ?? ''] = flat[i + 1] ?? '';
      else Object.assign(hash, flat);
      out[key.slice(key.indexOf(':budget:') + 1)] = storedPico(hash, 'spent');
    }
  } catch {
    // a server that does not answer: nothing read
  }
  return out;
}

interface AuditRecord {
  readonly event?: string;
  readonly reservation?: string;
  readonly decision?: string;
  readonly costPico?: string;
  readonly worstPico?: string;
  readonly time?: string;
  readonly accounts?: readonly { readonly periodStartMs?: number }[];
}

function audit(runtimes: readonly StandaloneRuntime[], faultAt: number) {
  let settlements = 0;
  let reservations = 0;
  let onShares = 0n;
  let onSharesCalls = 0;
  let heldAtFault = 0n;
  let heldAtFaultCalls = 0;
  let settledTotal = 0n;
  const decisions: Record<string, number> = {};
  const byPeriod: Record<string, bigint> = {};
  for (const r of runtimes) {
    const reservedAt = new Map<string, number>();
    const periodOf = new Map<string, number>();
    for (const text of r.runtime.output) {
      if (!text.startsWith('{') || !text.includes('"budget_')) continue;
      let line: AuditRecord;
      try {
        line = JSON.parse(text) as AuditRecord;
      } catch {
        continue;
      }
      const at = Date.parse(line.time ?? '');
      if (line.event === 'budget_reserved') {
        reservations += 1;
        reservedAt.set(line.reservation ?? '', at);
        periodOf.set(line.reservation ?? '', line.accounts?.[0]?.periodStartMs ?? 0);
      }
      if (line.event !== 'budget_settled') continue;
      settlements += 1;
      const cost = BigInt(line.costPico ?? '0');
      settledTotal += cost;
      const period = String(periodOf.get(line.reservation ?? '') ?? 0);
      byPeriod[period] = (byPeriod[period] ?? 0n) + cost;
      const d = line.decision ?? '?';
      decisions[d] = (decisions[d] ?? 0) + 1;
      if (d === 'local') {
        onShares += cost;
        onSharesCalls += 1;
      }
      const reserved = reservedAt.get(line.reservation ?? '');
      if (d !== 'local' && reserved !== undefined && reserved < faultAt && at >= faultAt) {
        heldAtFault += cost;
        heldAtFaultCalls += 1;
      }
    }
  }
  return {
    settlements,
    reservations,
    onShares,
    onSharesCalls,
    heldAtFault,
    heldAtFaultCalls,
    settledTotal,
    decisions,
    byPeriod,
  };
}

interface View {
  readonly counters: { readonly sharedDecisions: number };
  readonly store?: {
    readonly report: { readonly state: string; readonly reason?: string };
    readonly counters?: { readonly unacknowledged?: number };
  };
}
const views = (runtimes: readonly StandaloneRuntime[]): Promise<View[]> =>
  Promise.all(
    runtimes.map(
      async (r) =>
        ((await r.runtime.debug('/debug/ratelimiter')) as { rateLimiter: View }).rateLimiter,
    ),
  );

async function backOnStore(runtimes: readonly StandaloneRuntime[]): Promise<number> {
  const before = (await views(runtimes)).map((v) => v.counters.sharedDecisions);
  await waitFor(
    async () =>
      (await views(runtimes)).every(
        (v, i) =>
          v.store?.report.state === 'Shared' && v.counters.sharedDecisions > (before[i] ?? 0),
      ),
    { description: 'every runtime back on the store', timeoutMs: 60_000, intervalMs: 25 },
  );
  return Date.now();
}

async function main(): Promise<void> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const started = Date.now();
  try {
    const set = await startSentinelSet({ downAfterMs: Number(opt.downAfterMs) });
    cleanups.push(() => set.remove());
    const servers = [set.primary, ...set.replicas];
    if (opt.minReplicasToWrite !== '0')
      for (const server of servers)
        await ask(
          server.address,
          ['CONFIG', 'SET', 'min-replicas-to-write', opt.minReplicasToWrite],
          ['CONFIG', 'SET', 'min-replicas-max-lag', opt.minReplicasMaxLag],
        );
    cleanups.push(() => {
      for (const s of servers) s.thaw();
      return Promise.resolve();
    });
    const sim = await startSimulator({ seed: 57, eventGapMs: Number(opt.eventGapMs) });
    cleanups.push(() => sim.stop());
    const policy = ratePolicy({
      timeZone: opt.timeZone,
      requests: { perSecond: Number(opt.perSecond), burst: Number(opt.perSecond) },
      budgets: [{ name: 'daily', period: 'Day', usd: opt.budget }],
      store: {
        redis: {
          sentinel: { masterName: set.masterName, addresses: [...set.sentinels] },
          acknowledge: opt.acknowledge as 'Primary' | 'Replicas',
        },
        waitBudget: '1s',
      },
    });
    // The document the operator writes for N ready replicas, with the agent's prices and audit.
    const doc = policyDocument(sim.url, (d) => {
      d.agent = { ...d.agent, name: AGENT_NAME, namespace: 'default' };
      d.rateLimit = resolveRateLimit(policy, N, AGENT_NAME);
      d.pricing = PRICING.map((p) => ({ ...p }));
      d.audit = { ...d.audit, enabled: true };
    });
    const runtimes: StandaloneRuntime[] = [];
    for (let i = 0; i < N; i++) {
      const rt = await standaloneRuntime(doc).catch(() => standaloneRuntime(doc));
      runtimes.push(rt);
      cleanups.push(() => rt.stop());
    }
    await waitFor(
      async () => (await views(runtimes)).every((v) => v.store?.report.state === 'Shared'),
      {
        description: 'every runtime on the store',
        timeoutMs: 30_000,
        intervalMs: 50,
      },
    );

    // The load: `callers` loops per runtime; one in `streamed` calls streamed (0: none).
    const done: Done[] = [];
    let running = true;
    const every = Number(opt.streamed);
    let k = 0;
    const loops = runtimes.flatMap((rt, i) =>
      Array.from({ length: Number(opt.callers) }, async () => {
        while (running) {
          const streamed = every > 0 && k++ % every === 0;
          done.push(await oneCall(rt.runtime.url, i, streamed));
          await new Promise((r) => setTimeout(r, 20));
        }
      }),
    );

    const at = Number(opt.at);
    await waitFor(
      async () => (await billedPico(sim)) >= (LIMIT * BigInt(Math.round(at * 1000))) / 1000n,
      {
        description: `${String(at)} of the budget billed`,
        timeoutMs: 120_000,
        intervalMs: 20,
      },
    );
    if (opt.faultAtUtc !== '') {
      const when = Date.parse(`${new Date().toISOString().slice(0, 10)}T${opt.faultAtUtc}Z`);
      if (when > Date.now()) await new Promise((r) => setTimeout(r, when - Date.now()));
    }
    const billedAtFault = await billedPico(sim);
    const was = set.primary.address;
    const stopReplica = opt.fault === 'stopReplica' ? set.replicas[0] : undefined;
    if (stopReplica !== undefined) {
      stopReplica.freeze();
      await new Promise((r) => setTimeout(r, 1500));
    }
    // What every server held just before the fault.
    const snapshot = await Promise.all(servers.map((s) => account(s.address)));
    const faultAt = Date.now();
    // Each runtime's store state (and reason) as it changes, ms after the fault.
    const timeline: string[][] = runtimes.map(() => []);
    const sampling = { on: true };
    let midway: unknown;
    setTimeout(() => {
      void Promise.all(
        runtimes.map((r) => r.runtime.debug('/debug/ratelimiter').catch(() => undefined)),
      ).then((all) => (midway = all[0]));
    }, 10_000);
    const sampler = (async () => {
      const last: string[] = runtimes.map(() => '');
      while (sampling.on) {
        const now = await views(runtimes).catch(() => []);
        now.forEach((v, i) => {
          const state = `${v.store?.report.state ?? '?'}/${v.store?.report.reason ?? ''}`;
          if (state !== last[i]) timeline[i]?.push(`${String(Date.now() - faultAt)}:${state}`);
          last[i] = state;
        });
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    if (opt.fault === 'stop' || opt.fault === 'blip' || opt.fault === 'blipEarly')
      set.primary.freeze();
    else await set.primary.kill();
    let thawedAfterMs: number | undefined;
    if (opt.fault === 'blipEarly') {
      // Thawed the moment a replica says it is a primary (REPLICAOF NO ONE), before the
      // sentinels announce the switch: the runtimes still write to the old one meanwhile.
      await waitForAReplicaPromoted(set.replicas, 60_000);
      set.primary.thaw();
      thawedAfterMs = Date.now() - faultAt;
    }
    const promoted = await set.waitForNewPrimary(was, 60_000);
    const promotedAt = Date.now();
    const promotedIndex = servers.findIndex((s) => s.address === promoted);
    // Measured from the promotion on, whatever the fault does next (a thaw, a restart).
    const back = backOnStore(runtimes);
    back.catch(() => undefined);
    if (opt.fault === 'blip') set.primary.thaw();
    if (opt.fault === 'stop') {
      const left = Number(opt.stopMs) - (promotedAt - faultAt);
      if (left > 0) await new Promise((r) => setTimeout(r, left));
      set.primary.thaw();
    }
    if (opt.fault === 'restartOld') await set.primary.start();
    const backAt = await back;
    let second: Record<string, unknown> = {};
    let current = promoted;
    if (opt.fault === 'double') {
      const victim = servers[promotedIndex];
      if (victim === undefined) throw new Error('the promoted server is not one of the set');
      const snap2 = await Promise.all(
        servers.map(async (s) => (s === set.primary ? undefined : account(s.address))),
      );
      const secondAt = Date.now();
      await victim.kill();
      current = await set.waitForNewPrimary(promoted, 60_000);
      const back2 = await backOnStore(runtimes);
      second = {
        secondPromotedAfterMs: Date.now() - secondAt,
        secondBackAfterMs: back2 - secondAt,
        snapshot2Usd: snap2.map((a) => (a === undefined ? null : usd(a.spent))),
      };
    }
    if (stopReplica !== undefined) stopReplica.thaw();

    // The load goes on until every runtime refuses for the budget, or 90 s.
    const until = Date.now() + 90_000;
    await waitFor(
      async () => {
        const outcomes = await Promise.all(
          runtimes.map(async (rt, i) => (await oneCall(rt.runtime.url, i, false)).outcome),
        );
        return outcomes.every((o) => o === 'budgetRefused') || Date.now() > until;
      },
      { description: 'the budget refused everywhere', timeoutMs: 120_000, intervalMs: 100 },
    );
    running = false;
    sampling.on = false;
    await Promise.all(loops);
    await sampler;
    const billed = await billedPico(sim);
    const end = await account(current);
    const settledOnCurrent = end?.spent ?? 0n;
    let lapse: Record<string, unknown> = {};
    // A negative wait: only when holds are left (their leases lapse within five minutes).
    const lapseWait = Number(opt.lapseWaitMs);
    if (lapseWait > 0 || (lapseWait < 0 && (end?.leases ?? 0) > 0)) {
      await new Promise((r) => setTimeout(r, Math.abs(lapseWait)));
      // The next admission charges a lapsed hold (B10): one call, then the account.
      const probe = await oneCall(runtimes[0]?.runtime.url ?? '', 0, false);
      const later = await account(current);
      lapse = {
        afterLapseWaitUsd: later === undefined ? null : usd(later.spent),
        afterLapseReservedUsd: later === undefined ? null : usd(later.reserved),
        afterLapseLeases: later?.leases,
        afterLapseLapsed: later?.lapsed,
        afterLapseProbe: `${probe.outcome} ${probe.detail ?? ''}`,
        billedAfterLapseUsd: usd(await billedPico(sim)),
      };
    }
    const periods = await accountsOn(current);
    const a = audit(runtimes, faultAt);
    const v = await views(runtimes);
    const primaryAtFault = snapshot[0]?.spent ?? 0n;
    const promotedAtFault = snapshot[promotedIndex]?.spent ?? 0n;
    const lostAtFault = primaryAtFault > promotedAtFault ? primaryAtFault - promotedAtFault : 0n;
    const past = billed > LIMIT ? billed - LIMIT : 0n;
    const bound = lostAtFault + a.onShares + a.heldAtFault;
    const looseBound =
      (billed > settledOnCurrent ? billed - settledOnCurrent : 0n) + a.onShares + a.heldAtFault;
    const count = (o: Done['outcome']) => done.filter((c) => c.outcome === o).length;
    const figures = {
      label: opt.label,
      when: new Date(started).toISOString(),
      options: opt,
      calls: done.length,
      served: count('served'),
      streamedServed: done.filter((c) => c.streamed && c.outcome === 'served').length,
      budgetRefused: count('budgetRefused'),
      rateLimited: count('rateLimited'),
      failed: count('failed'),
      failedDetails: [
        ...new Set(done.flatMap((c) => (c.outcome === 'failed' ? [c.detail ?? ''] : []))),
      ].slice(0, 5),
      promotedAfterMs: promotedAt - faultAt,
      thawedAfterMs,
      backOnStoreAfterMs: backAt - faultAt,
      ...second,
      budgetUsd: usd(LIMIT),
      billedAtFaultUsd: usd(billedAtFault),
      snapshotUsd: snapshot.map((s) => (s === undefined ? null : usd(s.spent))),
      lostAtFaultUsd: usd(lostAtFault),
      billedUsd: usd(billed),
      pastBudgetUsd: usd(past),
      ratio: Number((billed * 10000n) / LIMIT) / 10000,
      settledOnCurrentUsd: usd(settledOnCurrent),
      reservedOnCurrentUsd: end === undefined ? null : usd(end.reserved),
      leasesOnCurrent: end?.leases,
      ...lapse,
      refusals: [
        ...new Set(done.flatMap((c) => (c.outcome === 'budgetRefused' ? [c.detail ?? ''] : []))),
      ].slice(0, 4),
      storePeriodsUsd: Object.fromEntries(Object.entries(periods).map(([k, v]) => [k, usd(v)])),
      auditPeriodsUsd: Object.fromEntries(
        Object.entries(a.byPeriod).map(([k, v]) => [new Date(Number(k)).toISOString(), usd(v)]),
      ),
      forgottenUsd: usd(a.settledTotal - Object.values(periods).reduce((x, y) => x + y, 0n)),
      auditSettledUsd: usd(a.settledTotal),
      auditSettlements: a.settlements,
      auditDecisions: a.decisions,
      onSharesUsd: usd(a.onShares),
      onSharesCalls: a.onSharesCalls,
      heldAtFaultUsd: usd(a.heldAtFault),
      heldAtFaultCalls: a.heldAtFaultCalls,
      boundUsd: usd(bound),
      withinBound: past <= bound,
      withinLooseBound: past <= looseBound,
      withinTwice: billed <= 2n * LIMIT,
      unacknowledged: v.reduce((s, x) => s + (x.store?.counters?.unacknowledged ?? 0), 0),
      timeline,
      midway: opt.dumpLog === '' ? undefined : midway,
      sameProcesses: runtimes.every((r) => r.runtime.child.exitCode === null),
      load: (await import('node:os')).loadavg().map((x) => Math.round(x * 100) / 100),
    };
    if (opt.dumpLog !== '')
      runtimes.forEach((r, i) => {
        writeFileSync(`${opt.dumpLog}/runtime${String(i)}.log`, r.runtime.output.join('\n'));
      });
    const line = JSON.stringify(figures);
    console.log(line);
    appendFileSync(new URL('./runs.jsonl', import.meta.url), `${line}\n`);
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  }
}

await main();
process.exit(0);
