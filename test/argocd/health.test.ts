/**
 * The Argo CD health checks in config/argocd, run by a real Lua 5.1 interpreter against their
 * test objects: one test per case, named after the kind and the test object.
 */
import { describe, expect, it } from '@jest/globals';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  HEALTH_CHECKS_DIR,
  loadHealthChecks,
  runHealthCheck,
  toLuaLiteral,
  type HealthResult,
} from './healthChecks.ts';

const checks = loadHealthChecks();

describe('the Argo CD health checks', () => {
  it('cover every Breakwater kind', () => {
    expect(checks.map((c) => c.resource)).toEqual([
      'breakwater.dev/AgentDeployment',
      'breakwater.dev/CircuitBreakerPolicy',
      'breakwater.dev/RateLimitPolicy',
    ]);
  });

  it.each(checks.map((c) => [c.resource, c] as const))(
    '%s tests every object in its testdata and each status Argo CD shows',
    (resource, check) => {
      const listed = check.cases.map((c) => c.inputPath).sort();
      const onDisk = readdirSync(join(HEALTH_CHECKS_DIR, resource, 'testdata'))
        .map((f) => `testdata/${f}`)
        .sort();
      expect(listed).toEqual(onDisk);
      const statuses = new Set(check.cases.map((c) => c.expected.status));
      expect([...statuses].sort()).toEqual(['Degraded', 'Healthy', 'Progressing']);
    },
  );
});

describe.each(checks.map((c) => [c.resource, c] as const))('%s health.lua', (_resource, check) => {
  let results: HealthResult[] | undefined;
  const resultFor = (inputPath: string): HealthResult | undefined => {
    results ??= runHealthCheck(check);
    return results.find((r) => r.name === inputPath);
  };

  it.each(check.cases.map((c) => [c.inputPath, c.expected.status, c] as const))(
    'gives %s the status %s with its message',
    (inputPath, _status, testCase) => {
      const result = resultFor(inputPath);
      expect(result?.error).toBeUndefined();
      expect({ status: result?.status, message: result?.message }).toEqual(testCase.expected);
    },
  );
});

describe('the objects handed to Lua', () => {
  it.each([
    ['a string with quotes, a backslash and a newline', 'a "b" \\ c\n', '"a \\"b\\" \\\\ c\\010"'],
    ['a number', 2.5, '2.5'],
    ['null, as a JSON decode gives it', null, 'nil'],
    ['an array', [1, 'x'], '{1, "x"}'],
    ['an object with a key that is a Lua keyword', { until: 'x' }, '{["until"] = "x"}'],
  ])('render %s as a Lua literal', (_name, value, literal) => {
    expect(toLuaLiteral(value)).toBe(literal);
  });
});
