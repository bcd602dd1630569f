import { describe, expect, it } from '@jest/globals';
import {
  checkSpendHistory,
  describeViolations,
  offendingHistory,
  pico,
  type BudgetAccountName,
  type ClientCall,
  type Reservation,
  type SpendHistory,
} from './spendHistory.ts';

const DAILY: BudgetAccountName = { budget: 'daily', per: 'Agent', who: '', periodStartMs: 0 };
const ALICE: BudgetAccountName = {
  budget: 'perKey',
  per: 'ClientKey',
  who: 'key-a11ce0000000',
  periodStartMs: 0,
};

/** A call served on replica r0: reserved at 10, settled at `cost`, billed `billed`. */
function served(
  id: string,
  cost: bigint,
  billed: bigint,
  shape: Partial<ClientCall> = {},
): SpendHistory {
  return {
    reservations: [
      {
        replica: 'r0',
        reservation: `res-${id}`,
        requestId: id,
        model: 'm',
        accounts: [DAILY, ALICE],
        worstPico: 10n,
      },
    ],
    settlements: [
      { replica: 'r0', reservation: `res-${id}`, requestId: id, decision: 'store', costPico: cost },
    ],
    calls: [
      {
        requestId: id,
        traceId: `t-${id}`,
        outcome: 'served',
        stream: false,
        cut: false,
        tools: false,
        fallback: false,
        ...shape,
      },
    ],
    bills: billed === 0n ? [] : [{ id: `bill-${id}`, traceId: `t-${id}`, billedPico: billed }],
    limits: [
      { budget: 'daily', limitPico: 20n },
      { budget: 'perKey', limitPico: 20n },
    ],
  };
}

function merge(...histories: SpendHistory[]): SpendHistory {
  return {
    reservations: histories.flatMap((h) => h.reservations),
    settlements: histories.flatMap((h) => h.settlements),
    calls: histories.flatMap((h) => h.calls),
    bills: histories.flatMap((h) => h.bills),
    limits: histories[0]?.limits ?? [],
    store: histories.flatMap((h) => h.store ?? []),
  };
}

/**
 * Call `id` on replica r1, SIGKILLed while it ran: reserved at 10, never settled, billed
 * `billed`; the store lapsed its hold (`lapsed`) or never held it.
 */
function killedMidCall(id: string, billed: bigint, lapsed = true): SpendHistory {
  const h = served(id, 0n, billed, { outcome: 'failed' });
  return {
    ...h,
    reservations: h.reservations.map((r) => ({ ...r, replica: 'r1' })),
    settlements: [],
    killed: ['r1'],
    store: lapsed
      ? [
          { account: DAILY, spentPico: 10n, reservedPico: 0n, lapsed: [`res-${id}`] },
          { account: ALICE, spentPico: 10n, reservedPico: 0n, lapsed: [`res-${id}`] },
        ]
      : [],
  };
}

const rows = (h: SpendHistory) => checkSpendHistory(h).violations.map((v) => v.row);

describe('checkSpendHistory', () => {
  it('finds nothing wrong when every call settles its bill within the limit, and sums each account', () => {
    const verdict = checkSpendHistory({
      ...merge(served('a', 8n, 8n), served('b', 9n, 7n)),
      store: [
        { account: DAILY, spentPico: 17n, reservedPico: 0n },
        { account: ALICE, spentPico: 17n, reservedPico: 0n },
      ],
    });
    expect(verdict.violations).toEqual([]);
    expect(verdict.accounts).toEqual([
      {
        account: 'daily/Agent@0',
        limitPico: 20n,
        settledPico: 17n,
        lapsedPico: 0n,
        billedPico: 15n,
        calls: 2,
      },
      {
        account: 'perKey/ClientKey/key-a11ce0000000@0',
        limitPico: 20n,
        settledPico: 17n,
        lapsedPico: 0n,
        billedPico: 15n,
        calls: 2,
      },
    ]);
    expect(verdict.billedPico).toBe(15n);
    expect(verdict.settledPico).toBe(17n);
  });

  it.each<[string, SpendHistory, string[]]>([
    [
      'B1 when an account settles past its limit',
      merge(served('a', 10n, 10n), served('b', 11n, 11n)),
      ['B1', 'B1'],
    ],
    ['M1 when a plain call settles less than it was billed', served('a', 5n, 6n), ['M1']],
    ['M2 for a whole stream', served('a', 5n, 6n, { stream: true }), ['M2']],
    ['M3 for a stream its client cut', served('a', 5n, 6n, { stream: true, cut: true }), ['M3']],
    ['M6 for a call with tools', served('a', 5n, 6n, { tools: true }), ['M6']],
    ['M9 for a fallback', served('a', 5n, 6n, { fallback: true }), ['M9']],
    [
      'M12 for an invocation of the bundled agent, its turns together',
      served('a', 5n, 6n, { tools: true, invoke: true }),
      ['M12'],
    ],
    [
      'M10 for a call billed twice, its attempts together',
      (() => {
        const h = served('a', 8n, 5n);
        return { ...h, bills: [...h.bills, { id: 'bill-a2', traceId: 't-a', billedPico: 5n }] };
      })(),
      ['M10'],
    ],
    [
      'B9 when a call the runtime refused was billed',
      (() => {
        const h = served('a', 0n, 6n, { outcome: 'refused' });
        return {
          ...h,
          settlements: h.settlements.map((x) => ({ ...x, decision: 'refused' as const })),
        };
      })(),
      ['B9', 'M1'],
    ],
    [
      'B9 when the provider billed a call no client made',
      {
        ...served('a', 8n, 8n),
        bills: [
          { id: 'stray', billedPico: 3n },
          { id: 'bill-a', traceId: 't-a', billedPico: 8n },
        ],
      },
      ['B9'],
    ],
    [
      'B1 when a call is served that its budgets never admitted',
      (() => {
        const h = served('a', 0n, 0n);
        return {
          ...h,
          settlements: h.settlements.map((x) => ({ ...x, decision: 'pending' as const })),
        };
      })(),
      ['B1'],
    ],
    [
      'B1 when a settlement has no reservation',
      { ...served('a', 8n, 8n), reservations: [] },
      ['B1'],
    ],
    [
      'B1 when a reservation is settled twice',
      (() => {
        const h = served('a', 8n, 8n);
        return { ...h, settlements: [...h.settlements, ...h.settlements] };
      })(),
      ['B1'],
    ],
    [
      'B10 when a reservation is never settled',
      { ...served('a', 8n, 0n, { outcome: 'failed' }), settlements: [] },
      ['B10'],
    ],
    [
      'B10 when the store still holds a worst case at the end',
      { ...served('a', 8n, 8n), store: [{ account: DAILY, spentPico: 8n, reservedPico: 10n }] },
      ['B10'],
    ],
    [
      'B1 when the store counts other spend than the replicas settled',
      { ...served('a', 8n, 8n), store: [{ account: DAILY, spentPico: 7n, reservedPico: 0n }] },
      ['B1'],
    ],
  ])('names %s', (_name, history, expected) => {
    expect(rows(history)).toEqual(expected);
  });

  it("charges a killed replica's lapsed hold at its worst case, against the limit with the rest", () => {
    const verdict = checkSpendHistory(killedMidCall('k', 7n));
    expect(verdict.violations).toEqual([]);
    expect(verdict).toMatchObject({
      lapses: 1,
      lapsedPico: 10n,
      lapsedBilledPico: 7n,
      settledPico: 10n,
      billedPico: 7n,
    });
    expect(verdict.accounts[0]).toMatchObject({
      settledPico: 10n,
      lapsedPico: 10n,
      billedPico: 7n,
    });
  });

  it("charges a killed replica's retry room with its call, and a live replica's room goes with its settlement", () => {
    const k = killedMidCall('k', 7n);
    const room = {
      ...(k.reservations[0] as Reservation),
      reservation: 'room-k',
      of: 'res-k',
      worstPico: 3n,
    };
    const lapsedToo = (k.store ?? []).map((a) => ({
      ...a,
      spentPico: 13n,
      lapsed: [...(a.lapsed ?? []), 'room-k'],
    }));
    const killed = checkSpendHistory({
      ...k,
      reservations: [...k.reservations, room],
      store: lapsedToo,
    });
    expect(killed.violations).toEqual([]);
    expect(killed).toMatchObject({ lapses: 2, lapsedPico: 13n });
    // Served on a live replica: the call's settlement released its room, nothing is open.
    const s = served('s', 4n, 4n);
    const liveRoom = {
      ...(s.reservations[0] as Reservation),
      reservation: 'room-s',
      of: 'res-s',
      worstPico: 3n,
    };
    expect(rows({ ...s, reservations: [...s.reservations, liveRoom] })).toEqual([]);
    // Without the room's record, the store's lapse of it is a charge no replica explains.
    expect(rows({ ...k, store: lapsedToo })).toContain('B10');
  });

  it("charges a killed replica's recorded settlement that never reached the store at its lapse's worst case", () => {
    // r1 recorded the call's cost (4), queued the settlement and died: the store lapsed the hold.
    const k = killedMidCall('k', 4n, true);
    const lost = {
      ...k,
      calls: k.calls.map((c) => ({ ...c, outcome: 'served' as const })),
      settlements: [
        {
          replica: 'r1',
          reservation: 'res-k',
          requestId: 'k',
          decision: 'store' as const,
          costPico: 4n,
        },
      ],
    };
    const verdict = checkSpendHistory(lost);
    expect(verdict.violations).toEqual([]);
    expect(verdict).toMatchObject({ lapses: 1, lapsedPico: 10n, settledPico: 10n });
    // The same record on a live replica is a settlement the store never applied.
    expect(rows({ ...lost, killed: [] })).toEqual(['B10', 'B1', 'B1']);
  });

  it("finds nothing wrong when a killed replica's call never reached the store: it held nothing", () => {
    expect(rows(killedMidCall('k', 0n, false))).toEqual([]);
  });

  it.each<[string, SpendHistory, string[]]>([
    [
      'B10 when a lapsed hold was charged less than its call was billed',
      killedMidCall('k', 11n),
      ['B10'],
    ],
    [
      'B1 when a lapsed hold takes an account past its limit',
      (() => {
        const k = killedMidCall('k', 7n);
        const h = merge(k, served('a', 12n, 12n));
        return {
          ...h,
          killed: ['r1'],
          store: (k.store ?? []).map((a) => ({ ...a, spentPico: 22n })),
        };
      })(),
      ['B1', 'B1'],
    ],
    [
      "B10 when a live replica's hold lapsed unsettled",
      { ...killedMidCall('k', 7n), killed: [] },
      ['B10', 'B9', 'M1', 'B1', 'B1'],
    ],
    [
      'B10 when the store lapsed a hold no replica recorded',
      { ...killedMidCall('k', 0n), reservations: [] },
      ['B10', 'B1', 'B1'],
    ],
    [
      "B9 when a killed replica's call the store never held was billed",
      killedMidCall('k', 7n, false),
      ['B9', 'M1'],
    ],
  ])('names %s', (_name, history, expected) => {
    expect(rows(history)).toEqual(expected);
  });

  it('prints every record of the calls a violation names', () => {
    const history = killedMidCall('k', 11n);
    expect(offendingHistory(history, checkSpendHistory(history).violations)).toBe(
      '  k: failed trace t-k; reserved $0.00000000001 on r1 (res-k, m), lapsed; billed $0.000000000011 (bill-k)',
    );
  });

  it('says which promise broke, why, and for which calls', () => {
    const { violations } = checkSpendHistory(served('a', 5n, 6n, { stream: true, cut: true }));
    expect(describeViolations(violations)).toBe(
      'M3: settled $0.000000000005, less than the $0.000000000006 billed [a]',
    );
  });

  it.each([
    [0n, '$0'],
    [1_500_000_000_000n, '$1.5'],
    [13_432_000_000n, '$0.013432'],
  ])('writes %s picodollars as %s', (amount, text) => {
    expect(pico(amount)).toBe(text);
  });
});
