import { describe, expect, it } from '@jest/globals';
import {
  boundaryBreaches,
  cycles,
  budgetBreaches,
  gateBreaches,
  durableBreaches,
  guardBreaches,
  reach,
  readGraph,
  type ImportGraph,
} from '../scripts/importGraph.ts';

function graph(
  edges: Record<string, string[]>,
  packages: Record<string, string[]> = {},
): ImportGraph {
  return {
    files: new Map(Object.entries(edges)),
    packages: new Map(Object.entries(packages)),
  };
}

describe('the import rules', () => {
  it('find the shipped guard knowing a provider, by file or by SDK, and let its tests use one', () => {
    const g = graph(
      {
        'runtime/src/guard/guard.ts': ['runtime/src/provider/backendPool.ts'],
        'runtime/src/guard/classification.ts': [],
        'runtime/src/guard/guard.test.ts': ['runtime/src/provider/anthropic/httpMapping.ts'],
        'runtime/src/guard/guardFixture.ts': [],
        'runtime/src/provider/backendPool.ts': ['runtime/src/guard/guard.ts'],
      },
      {
        'runtime/src/guard/classification.ts': ['@anthropic-ai/sdk'],
        'runtime/src/guard/guardFixture.ts': ['@anthropic-ai/sdk'],
        'runtime/src/provider/backendPool.ts': ['@anthropic-ai/sdk'],
      },
    );
    expect(guardBreaches(g)).toEqual([
      'runtime/src/guard/guard.ts → runtime/src/provider/backendPool.ts',
      'runtime/src/guard/classification.ts → @anthropic-ai/sdk',
    ]);
  });

  it('find the shipped durable runs importing server/ or an HTTP package, and let their tests', () => {
    const g = graph(
      {
        'runtime/src/durable/durableRuns.ts': ['runtime/src/server/errorReplies.ts'],
        'runtime/src/durable/ownedRunExecution.ts': ['runtime/src/budget/budgets.ts'],
        'runtime/src/durable/durableTools.ts': [],
        'runtime/src/durable/runs.test.ts': ['runtime/src/server/runHeaders.ts'],
        'runtime/src/server/durableMessages.ts': ['runtime/src/durable/durableRuns.ts'],
      },
      {
        'runtime/src/durable/durableTools.ts': ['node:http', 'node:crypto'],
        'runtime/src/durable/durableRuns.ts': ['fastify'],
        'runtime/src/server/durableMessages.ts': ['fastify'],
      },
    );
    expect(durableBreaches(g)).toEqual([
      'runtime/src/durable/durableRuns.ts → runtime/src/server/errorReplies.ts',
      'runtime/src/durable/durableRuns.ts → fastify',
      'runtime/src/durable/durableTools.ts → node:http',
    ]);
  });

  it('find platform/ importing the contract, and contract/ importing a program', () => {
    const g = graph({
      'platform/src/kube/kubeClient.ts': ['contract/src/api/resources.ts'],
      'contract/src/api/resources.ts': ['platform/src/kube/kubeObject.ts'],
      'contract/src/pod/x.ts': ['runtime/src/b.ts'],
      'platform/src/kube/kubeObject.ts': [],
      'runtime/src/b.ts': ['platform/src/kube/kubeObject.ts'],
    });
    expect(boundaryBreaches(g)).toEqual([
      'platform/src/kube/kubeClient.ts → contract/src/api/resources.ts',
      'contract/src/pod/x.ts → runtime/src/b.ts',
    ]);
  });

  it('find an operator file importing the runtime, and a runtime file importing the operator', () => {
    const g = graph({
      'operator/src/a.ts': ['runtime/src/b.ts', 'contract/src/c.ts'],
      'runtime/src/b.ts': ['operator/src/a.ts'],
      'contract/src/c.ts': [],
    });
    expect(boundaryBreaches(g)).toEqual([
      'operator/src/a.ts → runtime/src/b.ts',
      'runtime/src/b.ts → operator/src/a.ts',
    ]);
  });

  it('find contract/ reaching into a program, and test support reaching into the demo', () => {
    const g = graph({
      'contract/src/c.ts': ['runtime/src/b.ts'],
      'test/support/x.ts': ['demo/kubectl.ts'],
      'test/demo/demo.test.ts': ['demo/kubectl.ts'],
      'runtime/src/b.ts': [],
      'demo/kubectl.ts': [],
    });
    expect(boundaryBreaches(g)).toEqual([
      'contract/src/c.ts → runtime/src/b.ts',
      'test/support/x.ts → demo/kubectl.ts',
    ]);
  });

  it('follow the operator through contract/ to a package two files away', () => {
    const g = graph(
      {
        'operator/src/main.ts': ['contract/src/a.ts'],
        'contract/src/a.ts': ['contract/src/b.ts'],
        'contract/src/b.ts': [],
      },
      { 'contract/src/b.ts': ['@anthropic-ai/sdk'] },
    );
    expect(reach(g, 'operator/src/main.ts').packages.has('@anthropic-ai/sdk')).toBe(true);
  });

  it('find a cycle of three files, type-only or not', () => {
    const g = graph({
      'runtime/src/a.ts': ['runtime/src/b.ts'],
      'runtime/src/b.ts': ['runtime/src/c.ts'],
      'runtime/src/c.ts': ['runtime/src/a.ts'],
      'runtime/src/d.ts': ['runtime/src/a.ts'],
    });
    expect(cycles(g)).toEqual([['runtime/src/a.ts', 'runtime/src/b.ts', 'runtime/src/c.ts']]);
  });

  it("find the runtime reaching past the budgets' face, and let budget/ and tests", () => {
    const g = graph({
      'runtime/src/guard/guardSet/guardSet.ts': ['runtime/src/budget/budgetLedger.ts'],
      'runtime/src/server/messagesRoute.ts': ['runtime/src/budget/budgets.ts'],
      'runtime/src/budget/budgets.ts': ['runtime/src/budget/budgetLedger.ts'],
      'runtime/src/guard/guardSet/guardSet.test.ts': ['runtime/src/budget/budgetTicket.ts'],
      'test/support/spendHistory.ts': ['runtime/src/budget/budgetAudit.ts'],
    });
    expect(budgetBreaches(g)).toEqual([
      'runtime/src/guard/guardSet/guardSet.ts → runtime/src/budget/budgetLedger.ts',
    ]);
  });

  it('find a guard file knowing budgets past its gate, and let the wiring and tests', () => {
    const g = graph({
      'runtime/src/guard/guardSet/modelAttempt.ts': ['runtime/src/budget/budgets.ts'],
      'runtime/src/guard/guardSet/answerSettlements.ts': ['runtime/src/guard/budgetGate.ts'],
      'runtime/src/guard/guardSet/guardSet.ts': ['runtime/src/budget/budgets.ts'],
      'runtime/src/guard/metrics.ts': ['runtime/src/budget/budgets.ts'],
      'runtime/src/guard/guardSet/budgetRetries.test.ts': ['runtime/src/budget/budgetLedger.ts'],
      'runtime/src/budget/budgetGate.ts': ['runtime/src/guard/budgetGate.ts'],
    });
    expect(gateBreaches(g)).toEqual([
      'runtime/src/guard/guardSet/modelAttempt.ts → runtime/src/budget/budgets.ts',
    ]);
  });

  it('hold for this repository', () => {
    const g = readGraph();
    expect(boundaryBreaches(g)).toEqual([]);
    expect(durableBreaches(g)).toEqual([]);
    expect(budgetBreaches(g)).toEqual([]);
    expect(gateBreaches(g)).toEqual([]);
    expect([...reach(g, 'operator/src/main.ts').packages]).not.toContain('@anthropic-ai/sdk');
    expect(cycles(g)).toEqual([]);
  });
});
