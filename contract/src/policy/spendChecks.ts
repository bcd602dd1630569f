/**
 * The document's check of what an agent may spend: RateLimitPolicy `timeZone` and `budgets[]`
 * (`rateLimit.spend`) and AgentDeployment `pricing[]` (`pricing`). Bounds from the schema
 * (generated/documentBounds.ts, specLimits.ts); what the schema says in a list-map key — one
 * budget per name, one price per model — is checked here too, for manifests that never went
 * through admission. A time zone is checked against the zone database, which admission cannot.
 */
import {
  AGENT_DEPLOYMENT_LIMITS as AGENT,
  RATE_LIMIT_POLICY_LIMITS as RATE,
} from '../api/specLimits.ts';
import { isTimeZone } from '../spend/calendarPeriod.ts';
import { arr, checkSection, fail, int, obj, str } from './documentChecks.ts';
import { DOCUMENT_BOUNDS as BOUNDS } from './generated/documentBounds.ts';

/** Each of `names` once; the first repeated one is refused at its own index. */
function unique(names: readonly string[], path: (i: number) => string, what: string): void {
  names.forEach((name, i) => {
    if (names.indexOf(name) !== i) fail(path(i), `must name each ${what} once`, name);
  });
}

/**
 * `rateLimit.spend`, when present. A `per: Policy` budget (the team's, every agent on the
 * policy together) is counted in the store, under its `teamKeyPrefix`, or on shares of every
 * agent's replicas (`teamShareOf`, the operator's count): without either each agent would
 * spend the whole of it.
 */
export function checkSpend(v: unknown, store?: Readonly<Record<string, unknown>>): void {
  const at = 'rateLimit.spend';
  const spend = obj(v, at);
  checkSection(spend, at, BOUNDS.rateLimit.spend);
  int(spend.shareOf, `${at}.shareOf`, 1, AGENT.replicas.maximum);
  if (!isTimeZone(spend.timeZone as string))
    fail(`${at}.timeZone`, 'must be a time zone the IANA database knows', spend.timeZone);
  const budgets = arr(spend.budgets, `${at}.budgets`, { minItems: 1, ...RATE.budgets });
  const names = budgets.map((b, i) => {
    const path = `${at}.budgets[${i}]`;
    const budget = obj(b, path);
    const name = str(budget.name, `${path}.name`, RATE['budgets[].name']);
    checkSection(budget, path, BOUNDS.budget['']);
    if (budget.limitMicroUsd === undefined && budget.limitTokens === undefined)
      fail(path, 'must limit dollars (limitMicroUsd), tokens (limitTokens) or both', budget);
    if (budget.teamShareOf !== undefined)
      int(budget.teamShareOf, `${path}.teamShareOf`, 1, Number.MAX_SAFE_INTEGER);
    if (
      budget.per === 'Policy' &&
      typeof store?.teamKeyPrefix !== 'string' &&
      budget.teamShareOf === undefined
    )
      fail(
        `${path}.per`,
        'Policy is shared by every agent on the policy, which count it together only in a store or on shares of all their replicas: set the RateLimitPolicy spec.store (rateLimit.store.teamKeyPrefix), run the agents under the operator (teamShareOf), or per Agent',
        budget.per,
      );
    return name;
  });
  unique(names, (i) => `${at}.budgets[${i}].name`, 'budget');
}

/** `pricing`, when present. */
export function checkPricing(v: unknown): void {
  const prices = arr(v, 'pricing', { minItems: 1, ...AGENT.pricing });
  const models = prices.map((p, i) => {
    const path = `pricing[${i}]`;
    const price = obj(p, path);
    checkSection(price, path, BOUNDS.price['']);
    return str(price.model, `${path}.model`, AGENT['pricing[].model']);
  });
  unique(models, (i) => `pricing[${i}].model`, 'model');
}
