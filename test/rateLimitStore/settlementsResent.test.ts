/**
 * A settlement sent again to a replica promoted in its primary's place counts exactly once, for
 * every kind of settlement, on real redis-servers (a primary and its replica): the runtime
 * sends the settlements its store answered in the last two minutes again to every connection
 * made ready (recentSettlements.ts), and budget.lua's `settled` marker, written in the same
 * script call as the settlement's effect and replicated with it, decides.
 *
 * Each kind twice: settled before the promotion (the replica has the settlement: the resend
 * changes nothing) and settled on the old primary after it (a primary frozen and thawed after
 * the sentinels promoted its replica: the replica lacks it, and the resend counts it once).
 * And a call whose hold the old primary took after the promotion (lost with it): its
 * settlement charges its cost once on the promoted replica and leaves nothing held.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createClient } from '@redis/client';
import {
  ADMIT_SCRIPT,
  SETTLE_SCRIPT,
  runScript,
} from '../../runtime/src/rateLimitStore/luaScripts.ts';
import { serverHost } from '../support/podReach.ts';
import { startRedis, type RedisHandle } from '../support/redisServer.ts';
import { waitFor } from '../support/waitFor.ts';
import { admit, hashKey, settle, type Acct, type ScriptStep } from './budgetScriptCases.ts';

type Client = ReturnType<typeof createClient>;

const WORST = '100';
const COST = '40';

/** The kinds: what reaches the primary before the promotion, and what after (lost). */
interface Kind {
  readonly name: string;
  /** The call's settlements, in the order the runtime sends them. */
  readonly settlements: (a: Acct, id: string) => ScriptStep[];
  /** Whether the store held the call (admit.lua) before its settlements. */
  readonly held: boolean;
  /** What the account holds once every settlement counted once. */
  readonly spent: string;
}

const cost = (a: Acct, id: string) => settle(0, [a], { id, worstPico: WORST, pico: COST });
const KINDS: readonly Kind[] = [
  {
    name: 'a held call settled at its cost',
    held: true,
    spent: COST,
    settlements: (a, id) => [cost(a, id)],
  },
  {
    name: 'a call decided on a share (no hold in the store) settled at its cost',
    held: false,
    spent: COST,
    settlements: (a, id) => [cost(a, id)],
  },
  {
    name: 'a held call given back (it never went out)',
    held: true,
    spent: '0',
    settlements: (a, id) => [settle(0, [a], { id, worstPico: WORST, pico: '0' })],
  },
  {
    name: 'a late admission given back, then its call settled at its cost',
    held: true,
    spent: COST,
    settlements: (a, id) => [
      settle(0, [a], { id, worstPico: WORST, pico: '0', marker: `t:settled:${id}:late` }),
      cost(a, id),
    ],
  },
];

async function account(client: Client, a: Acct) {
  const h = await client.hGetAll(hashKey(a));
  return {
    spent: h.spent_pico ?? '0',
    reserved: h.reserved_pico ?? '0',
    leases: Object.keys(h).filter((f) => f.startsWith('lease:')),
  };
}

const run = (client: Client, step: ScriptStep) =>
  runScript(
    client,
    step.script === 'admit' ? ADMIT_SCRIPT : SETTLE_SCRIPT,
    [...step.keys],
    [...step.argv],
  );

describe('settlements sent again to a promoted replica', () => {
  let primary: RedisHandle;
  let replica: RedisHandle;
  let old: Client;
  let promoted: Client;
  beforeAll(async () => {
    primary = await startRedis();
    replica = await startRedis({ replicaOf: primary.address });
    old = createClient({ socket: { host: serverHost(), port: primary.port } });
    promoted = createClient({ socket: { host: serverHost(), port: replica.port } });
    await old.connect();
    await promoted.connect();
    await waitFor(async () => /master_link_status:up/.test(await promoted.info('replication')), {
      description: 'the replica linked',
      timeoutMs: 10_000,
      intervalMs: 20,
    });
  });
  afterAll(async () => {
    old.destroy();
    promoted.destroy();
    await replica.remove();
    await primary.remove();
  });

  it('counts every kind exactly once, whether the promoted replica had it or not; a hold lost with the old primary leaves nothing held', async () => {
    const cases = KINDS.flatMap((kind, i) =>
      (['before', 'after'] as const).map((when) => ({
        kind,
        when,
        a: { key: `a:${String(i)}${when}:0`, pico: '1000000' },
        id: `${String(i)}${when}`,
      })),
    );
    // Held: their holds reach the replica.
    for (const c of cases)
      if (c.kind.held) await run(old, admit(0, [c.a], { id: c.id, pico: WORST }));
    for (const c of cases)
      if (c.when === 'before') for (const s of c.kind.settlements(c.a, c.id)) await run(old, s);
    expect(await old.sendCommand(['WAIT', '1', '2000'])).toBe(1);
    // Promoted: what the old primary answers from now on, the promoted replica never has.
    await promoted.sendCommand(['REPLICAOF', 'NO', 'ONE']);
    for (const c of cases)
      if (c.when === 'after') for (const s of c.kind.settlements(c.a, c.id)) await run(old, s);
    // A call the old primary held after the promotion, and settled there: both lost.
    const lost: Acct = { key: 'a:lost:0', pico: '1000000' };
    await run(old, admit(0, [lost], { id: 'lost', pico: WORST }));
    await run(old, cost(lost, 'lost'));
    expect((await account(promoted, lost)).spent).toBe('0');

    // The runtime connects to the promoted replica and sends every settlement again, twice
    // (a second connection made ready, or a settlement kept unsent and sent once more).
    for (let round = 0; round < 2; round++) {
      for (const c of cases) for (const s of c.kind.settlements(c.a, c.id)) await run(promoted, s);
      await run(promoted, cost(lost, 'lost'));
    }
    for (const c of cases) {
      const expected = { spent: c.kind.spent, reserved: '0', leases: [] };
      expect({ name: `${c.kind.name}, ${c.when}`, ...(await account(promoted, c.a)) }).toEqual({
        name: `${c.kind.name}, ${c.when}`,
        ...expected,
      });
      // And the old primary, which took each once, agrees.
      expect(await account(old, c.a)).toEqual(expected);
    }
    expect(await account(promoted, lost)).toEqual({ spent: COST, reserved: '0', leases: [] });
  });
});
