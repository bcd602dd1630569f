import { describe, expect, it } from '@jest/globals';
import { celEnv, isCelError, parse, plan } from '@bufbuild/cel';
import { ADMISSION_SCHEMA } from '../../../contract/src/api/admissionSchema.ts';
import type { AdmissionNode } from '../../../contract/src/api/admissionSchema.types.ts';
import { celViolations } from './celAdmission.ts';

const EXACTLY_ONE =
  "set exactly one of address, sentinel and cluster: address for one server, sentinel for a primary Sentinel watches, cluster for a Redis Cluster's nodes";

function allRules(node: AdmissionNode, found: string[] = []): string[] {
  for (const rule of node.rules ?? []) found.push(rule.rule);
  for (const child of Object.values(node.fields ?? {})) allRules(child, found);
  if (node.items !== undefined) allRules(node.items, found);
  if (node.values !== undefined) allRules(node.values, found);
  return found;
}

describe('the CEL rules of the schemas', () => {
  const rules = Object.values(ADMISSION_SCHEMA).flatMap((node) => allRules(node));

  it('are all there', () => {
    expect(rules.length).toBeGreaterThanOrEqual(50);
  });

  // The functions and operators of standard CEL the rules may call. A rule that calls one of
  // the Kubernetes library's (isSorted, quantity, url, lowerAscii…) fails here first: it
  // would fail every user's manifest in `--manifests`.
  const STANDARD = new Set([
    ...['_||_', '_&&_', '!_', '_?_:_', '_==_', '_!=_', '_<_', '_<=_', '_>_', '_>=_', '@in'],
    ...['_+_', '_-_', '_*_', '_/_', '_%_', '-_', '_[_]', 'size', 'matches', 'startsWith'],
    ...['endsWith', 'contains', 'duration', 'timestamp', 'int', 'uint', 'double', 'string', 'type'],
    // A duration's parts; and what the parser makes of `all` and `exists`.
    ...['getSeconds', 'getMilliseconds', '@not_strictly_false'],
  ]);
  const calls = (node: unknown, found: Set<string>): Set<string> => {
    if (node === null || typeof node !== 'object') return found;
    const kind = (node as { exprKind?: { case?: string; value?: { function?: string } } }).exprKind;
    if (kind?.case === 'callExpr' && kind.value?.function !== undefined)
      found.add(kind.value.function);
    for (const child of Object.values(node)) calls(child, found);
    return found;
  };

  it.each(rules)('%s calls standard CEL only, and runs', (rule) => {
    const parsed = parse(rule);
    expect([...calls(parsed.expr, new Set())].filter((f) => !STANDARD.has(f))).toEqual([]);
    const program = plan(celEnv(), parsed);
    for (const self of ['1s', new Map(), [], 1n]) {
      const answer = program({ self });
      if (isCelError(answer)) expect(answer.message).not.toMatch(/unbound/);
    }
  });
});

describe('celViolations', () => {
  const agent = (spec: Record<string, unknown>) => ({
    kind: 'AgentDeployment',
    metadata: { name: 'a' },
    spec: { model: { name: 'm' }, provider: { apiKeySecretRef: { name: 'k', key: 'k' } }, ...spec },
  });
  const rules = ADMISSION_SCHEMA['AgentDeployment'] as AdmissionNode;

  it('sets the schema defaults first: a backend with no type is an Anthropic one', () => {
    expect(celViolations(agent({ backends: [{ name: 'b' }] }), rules)).toEqual([
      { path: 'spec.backends[0].baseURL', message: 'an Anthropic backend needs baseURL' },
    ]);
  });

  it.each([
    ['an address', { address: 'redis:6379' }, []],
    ['a sentinel', { sentinel: { masterName: 'm', addresses: ['s:26379'] } }, []],
    ['a cluster', { cluster: { addresses: ['c:6379'] } }, []],
    [
      'both an address and a sentinel',
      { address: 'redis:6379', sentinel: { masterName: 'm', addresses: ['s:26379'] } },
      [EXACTLY_ONE],
    ],
    [
      'both an address and a cluster',
      { address: 'redis:6379', cluster: { addresses: ['c:6379'] } },
      [EXACTLY_ONE],
    ],
    ['neither', { username: 'u' }, [EXACTLY_ONE]],
  ])("takes a store's redis with %s", (_, redis, messages) => {
    const durability = { store: { redis }, encryptionKeySecretRef: { name: 'k', key: 'k' } };
    const violations = celViolations(agent({ durability }), rules);
    expect(violations.map((v) => v.message)).toEqual(messages);
    expect(violations.every((v) => v.path === 'spec.durability.store.redis')).toBe(true);
  });

  it('checks a field only where it is, and every item of a list', () => {
    expect(celViolations(agent({}), rules)).toEqual([]);
    const backends = [
      { name: 'ok', baseURL: 'https://api.anthropic.com' },
      { name: 'b', type: 'Bedrock', models: { m: 'id' } },
    ];
    expect(celViolations(agent({ backends }), rules).map((v) => v.path)).toEqual([
      'spec.backends[1].region',
    ]);
  });

  it('reads whole numbers of integer fields as int, and compares them with literals', () => {
    const autoscaling = (minReplicas: number) => ({
      autoscaling: { minReplicas, maxReplicas: 3, targetCPUUtilizationPercentage: 70 },
    });
    expect(celViolations(agent(autoscaling(3)), rules)).toEqual([]);
    expect(celViolations(agent(autoscaling(4)), rules)).toHaveLength(1);
  });

  it('names a duration out of its bounds in the rule’s words', () => {
    const [violation] = celViolations(agent({ timeout: '45m' }), rules);
    expect(violation?.path).toBe('spec.timeout');
    expect(violation?.message).toMatch(/1s and 30m/);
  });

  it('leaves a value of the wrong type to the type checks, as admission does', () => {
    expect(celViolations(agent({ timeout: 5 }), rules)).toEqual([]);
  });
});

describe('a team budget (per Policy) at admission', () => {
  const policy = (spec: Record<string, unknown>) => ({
    kind: 'RateLimitPolicy',
    metadata: { name: 'team' },
    spec: {
      budgets: [{ name: 'monthly', period: 'Month', usd: '2000', per: 'Policy' }],
      ...spec,
    },
  });
  const rules = ADMISSION_SCHEMA['RateLimitPolicy'] as AdmissionNode;
  const NEEDS_ALL_AGENTS =
    "budgets[].per Policy on a Redis Cluster needs store.sharing AllAgents, so that every agent's keys and the team's account share one hash slot: set store.sharing to AllAgents, or use a Redis address or Sentinel";
  const store = (redis: object, sharing?: string) => ({
    scope: 'Cluster',
    store: { redis, ...(sharing === undefined ? {} : { sharing }) },
  });

  it.each([
    ['without a store (on shares)', {}, []],
    ['with one Redis', store({ address: 'redis:6379' }), []],
    ['with a Sentinel', store({ sentinel: { masterName: 'm', addresses: ['s:26379'] } }), []],
    [
      'on a Redis Cluster, each agent its own keys',
      store({ cluster: { addresses: ['c:6379'] } }),
      [{ path: 'spec.store.sharing', message: NEEDS_ALL_AGENTS }],
    ],
    [
      'on a Redis Cluster, every agent one set of keys',
      store({ cluster: { addresses: ['c:6379'] } }, 'AllAgents'),
      [],
    ],
  ])('is judged %s', (_, spec, violations) => {
    expect(celViolations(policy(spec), rules)).toEqual(violations);
  });

  it('leaves budgets per Agent and per ClientKey on a Redis Cluster alone', () => {
    for (const per of ['Agent', 'ClientKey']) {
      const budgets = [{ name: 'monthly', period: 'Month', usd: '500', per }];
      const spec = { ...store({ cluster: { addresses: ['c:6379'] } }), budgets };
      expect(celViolations(policy(spec), rules)).toEqual([]);
    }
  });
});
