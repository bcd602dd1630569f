import { describe, expect, it } from '@jest/globals';
import { clusterKindFromEnv } from './clusterChoice.ts';

describe('the cluster chosen by BREAKWATER_CLUSTER', () => {
  it.each([
    [{}, 'local'],
    [{ BREAKWATER_CLUSTER: '' }, 'local'],
    [{ BREAKWATER_CLUSTER: 'local' }, 'local'],
    [{ BREAKWATER_CLUSTER: 'kind' }, 'kind'],
  ] as const)('%j chooses %s', (env, kind) => {
    expect(clusterKindFromEnv(env)).toBe(kind);
  });

  it('refuses another value, naming the variable and the values it takes', () => {
    expect(() => clusterKindFromEnv({ BREAKWATER_CLUSTER: 'minikube' })).toThrow(
      /BREAKWATER_CLUSTER=minikube .*unset .*kind/,
    );
  });
});
