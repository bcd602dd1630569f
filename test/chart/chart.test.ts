/**
 * `make chart-test` inside `make test`: every chart check (chartChecks.ts) as a test of its
 * own, against the suite's cluster. The first run builds helm from its Go module (minutes).
 */
import { beforeAll, describe, it, jest } from '@jest/globals';
import { chartChecks } from './chartChecks.ts';
import { findHelm, type ChartTools } from './chartTools.ts';
import { kubeconfigPath } from '../support/kube.ts';

// jest reads testTimeout only from the global config, not from a project's.
jest.setTimeout(120_000);

const tools: { -readonly [K in keyof ChartTools]: ChartTools[K] } = {
  helm: '',
  kubectl: process.env['BREAKWATER_KUBECTL'] ?? '',
  kubeconfig: '',
};

beforeAll(async () => {
  tools.helm = await findHelm();
  tools.kubeconfig = kubeconfigPath();
}, 30 * 60_000);

describe('the Helm chart and config/default', () => {
  // Built once the tools are known: the checks read them when they run.
  for (const check of chartChecks(tools)) {
    it(check.name, () => check.run());
  }
});
