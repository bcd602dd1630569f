/**
 * admit.lua's answer read back, typed: limits alone, and with budgets, amounts past 2^53 kept
 * exact; a reply of any other shape is an error, never a guess.
 */
import { describe, expect, it } from '@jest/globals';
import {
  admission,
  budgetAdmitArgs,
  budgetKeys,
  lateAdmissionUndo,
  limitSettlement,
  settlementCall,
} from './storeScriptCalls.ts';

const ACCOUNT = {
  key: 'a:daily:1764028800000',
  limitPico: 9_007_199_254_740_995n,
  limitTokens: undefined,
  keepUntilMs: 1764720000000,
  refuses: true,
};

describe('admit.lua answers, read back', () => {
  it('reads limits alone', () => {
    expect(admission([1200, 1, 0])).toEqual({
      waitMs: 1200,
      reason: 'inputTokens',
      charged: false,
    });
  });

  it('reads a budget refusal with the refusing account and amounts past 2^53 exactly', () => {
    const read = admission(
      [0, 4, 0, 0, 2, 0, 0, 0, 0, 400, 0, 0, 2, 9_007_199_254, 740_993, 0, 1, 12, 7],
      2,
    );
    // The amounts are read when asked for.
    const amounts = read.budget?.accounts.map((a) => ({
      state: a.state,
      spentPico: a.spentPico,
      reservedPico: a.reservedPico,
      spentTokens: a.spentTokens,
      reservedTokens: a.reservedTokens,
    }));
    expect({ ...read, budget: { ...read.budget, accounts: amounts } }).toEqual({
      waitMs: 0,
      reason: 'budget',
      charged: false,
      budget: {
        held: false,
        refusedBy: 1,
        accounts: [
          { state: 'fits', spentPico: 0n, reservedPico: 400n, spentTokens: 0n, reservedTokens: 0n },
          {
            state: 'refuses',
            spentPico: 9_007_199_254_740_993n,
            reservedPico: 1n,
            spentTokens: 12n,
            reservedTokens: 7n,
          },
        ],
      },
    });
  });

  it.each([
    ['three values when budgets were asked', [0, 0, 1], 1],
    ['budget values when none were asked', [0, 0, 1, 1, 0], 0],
    ['an amount that is not a whole number', [0, 0, 1, 1, 0, 0, 1.5, 0, 0, 0, 0, 0], 1],
    ['an amount as a string', [0, 0, 1, 1, 0, 0, '1', 0, 0, 0, 0, 0], 1],
    ['picodollars past a microdollar', [0, 0, 1, 1, 0, 0, 0, 1_000_000, 0, 0, 0, 0], 1],
  ])('refuses %s', (_name, reply, accounts) => {
    expect(() => admission(reply, accounts)).toThrow(
      /admit\.lua answered|not a whole number|past its microdollars/,
    );
  });
});

describe('budget arguments', () => {
  it('names each account under the prefix, one key holding its leases too', () => {
    expect(budgetKeys('breakwater:{ns/p}', [ACCOUNT])).toEqual([
      'breakwater:{ns/p}:budget:a:daily:1764028800000',
    ]);
  });

  it('passes money as microdollars and the picodollars past them, an absent limit as empty', () => {
    const request = {
      accounts: [ACCOUNT],
      reservationId: 'r-1',
      leaseMs: 90_000.5,
      worstPico: 600_000_000_000n,
      worstTokens: 200_000n,
    };
    expect(budgetAdmitArgs(request, true)).toEqual([
      '1',
      'r-1',
      '90001',
      '600000',
      '0',
      '200000',
      '1',
      '9007199254',
      '740995',
      '',
      '1764720000000',
      '1',
    ]);
    const settling = settlementCall('p', [{ ...request, costPico: 1_000_012n, costTokens: 3n }]);
    expect(settling.args).toEqual([
      '1',
      ...['1', 'r-1', '600000', '0', '200000', '1', '12', '3'],
      ...['1', '1764720000000'],
      '2',
    ]);
  });

  it("names a settlement's accounts by their place in KEYS, each key listed once", () => {
    const other = { ...ACCOUNT, key: 'a:monthly:1761955200000' };
    const settlement = (reservationId: string, accounts: (typeof ACCOUNT)[]) => ({
      accounts,
      reservationId,
      worstPico: 1n,
      worstTokens: 0n,
      costPico: 1n,
      costTokens: 0n,
    });
    // An admission of ACCOUNT: its key is already there, at 5 after the limits'.
    const admitting = ['p:requests', 'p:input_tokens', 'p:output_tokens', 'p:provider_pause'];
    admitting.push('p:budget:a:daily:1764028800000');
    const { keys, args } = settlementCall(
      'p',
      [settlement('r-1', [ACCOUNT, other]), settlement('r-2', [other, ACCOUNT])],
      admitting,
    );
    expect(keys).toEqual([
      ...admitting,
      'p:budget:a:monthly:1761955200000',
      'p:settled:r-1',
      'p:settled:r-2',
    ]);
    expect(args).toEqual([
      '2',
      ...['2', 'r-1', '0', '1', '0', '0', '1', '0'],
      ...['5', '1764720000000', '6', '1764720000000'],
      '7',
      ...['2', 'r-2', '0', '1', '0', '0', '1', '0'],
      ...['6', '1764720000000', '5', '1764720000000'],
      '8',
    ]);
  });

  it('names the same account under the prefix the store has now', () => {
    const settlement = {
      accounts: [ACCOUNT],
      reservationId: 'r-2',
      worstPico: 1n,
      worstTokens: 1n,
      costPico: 1n,
      costTokens: 1n,
    };
    expect(settlementCall('old', [settlement]).keys).toEqual([
      'old:budget:a:daily:1764028800000',
      'old:settled:r-2',
    ]);
    expect(settlementCall('new', [settlement]).keys).toEqual([
      'new:budget:a:daily:1764028800000',
      'new:settled:r-2',
    ]);
  });

  it("marks a late admission's release apart from the call's own settlement, in the same hash slot", () => {
    const request = {
      estimate: { inputTokens: 10, outputTokens: 20 },
      localWaitMs: 0,
      maxWaitMs: 0,
      budget: {
        accounts: [ACCOUNT],
        reservationId: 'r-3',
        leaseMs: 60_000,
        worstPico: 5n,
        worstTokens: 0n,
      },
    };
    const held = [0, 0, 1, 1, 0, 0, 0, 0, 0, 5, 0, 0];
    const release = lateAdmissionUndo(request, held).budget;
    if (release === undefined) throw new Error('a late hold is given back');
    // The call, decided on the replica's share meanwhile, settles its cost under the same id.
    const own = { ...request.budget, costPico: 3n, costTokens: 0n };
    const prefix = 'breakwater:{ns/p}';
    expect(settlementCall(prefix, [release, own]).keys).toEqual([
      'breakwater:{ns/p}:budget:a:daily:1764028800000',
      'breakwater:{ns/p}:settled:r-3:late',
      'breakwater:{ns/p}:settled:r-3',
    ]);
  });
});

describe('a late admission put right', () => {
  const estimate = { inputTokens: 10, outputTokens: 20 };
  it.each([
    ['gives back a charge for a call the share refused', [0, 0, 1], false, 1],
    ['gives back a charge when the caller never said (not the limiter)', [0, 0, 1], undefined, 1],
    ['keeps the charge of a call the share let go', [0, 0, 1], true, 0],
    ['charges a call the share let go where the store had refused it', [120, 0, 0], true, -1],
    ['leaves a refusal the share agreed with alone', [120, 0, 0], false, 0],
  ] as const)('%s', (_name, reply, wentOnShare, back) => {
    const request = {
      estimate,
      localWaitMs: 0,
      maxWaitMs: 0,
      ...(wentOnShare === undefined ? {} : { wentOnShare }),
    };
    const { limits } = lateAdmissionUndo(request, [...reply]);
    expect(limits).toEqual(
      back === 0 ? undefined : { requests: back, inputTokens: back * 10, outputTokens: back * 20 },
    );
  });
});

describe("settle.lua's limit arguments", () => {
  const amounts = { requests: 1, inputTokens: -40, outputTokens: 0 };
  it.each([
    ['sends each rate with its amount', ['2', '3', '4'], ['2', '1', '3', '-40', '4', '0']],
    [
      'sends a limit the store does not keep as rate 0',
      ['0', '3', '4'],
      ['0', '1', '3', '-40', '4', '0'],
    ],
    ['sends nothing when every touched limit has rate 0', ['0', '0', '4'], undefined],
  ])('%s', (_name, rates, expected) => {
    expect(limitSettlement(rates, amounts)).toEqual(expected);
  });

  it('sends nothing for a settlement of zero', () => {
    expect(limitSettlement(['2', '3', '4'], { requests: 0, inputTokens: 0, outputTokens: 0 })).toBe(
      undefined,
    );
  });
});
