import { describe, expect, it } from '@jest/globals';
import type {
  BudgetSettings,
  PolicyDocument,
} from '../../../contract/src/policy/policyDocument.ts';
import { samplePolicyDocument } from '../../../contract/src/policy/policyFixtures.ts';
import { keylessBudgetFields } from './keylessBudgets.ts';

function withBudgets(pers: readonly BudgetSettings['per'][]): PolicyDocument {
  const doc = samplePolicyDocument();
  const budgets = pers.map((per, i): BudgetSettings => ({
    name: `b${String(i)}`,
    period: 'Day',
    limitMicroUsd: 1_000_000,
    per,
    onExhausted: 'Refuse',
    warnAtPercent: 80,
    waitForHeldMs: 5000,
  }));
  return {
    ...doc,
    rateLimit: { ...doc.rateLimit, spend: { shareOf: 1, timeZone: 'UTC', budgets } },
  };
}

describe('keylessBudgetFields', () => {
  it.each<[string, readonly BudgetSettings['per'][], boolean, string[]]>([
    [
      'names each per-key budget of an agent without keys',
      ['Agent', 'ClientKey', 'ClientKey'],
      false,
      ['budgets[1].per', 'budgets[2].per'],
    ],
    ['names none when the agent enforces keys', ['ClientKey'], true, []],
    ['names none when every budget is the whole agent', ['Agent'], false, []],
    ['names none without budgets', [], false, []],
  ])('%s', (_name, pers, enforced, expected) => {
    expect(keylessBudgetFields(withBudgets(pers), enforced)).toEqual(expected);
  });
});
