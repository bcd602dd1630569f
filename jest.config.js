// Three projects: `unit` is pure logic with injected clocks (fast, no I/O beyond loopback);
// `local` runs real processes (runtimes, the simulator, redis-server, MCP servers, lua5.1) and
// needs no cluster, so `make test` runs it while kind's node image may still be building;
// `integration` runs against a one-node kind cluster (test/support/globalSetup.ts brings it up)
// and real processes.
// ESM throughout: @kubernetes/client-node is ESM-only, so jest runs with
// NODE_OPTIONS=--experimental-vm-modules (the Makefile sets it).

const tsJest = [
  'ts-jest',
  { useESM: true, tsconfig: 'tsconfig.json', diagnostics: { ignoreCodes: ['TS151001'] } },
];

const shared = {
  extensionsToTreatAsEsm: ['.ts'],
  // ts-jest emits with rewriteRelativeImportExtensions, so './x.ts' arrives as './x.js'.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': tsJest },
  testEnvironment: 'node',
  // The cluster tools' state (kind's kubeconfig, logs, caches) lives there: nothing for jest.
  modulePathIgnorePatterns: ['<rootDir>/.breakwater/', '<rootDir>/dist/'],
};

// The integration files that need no cluster: whole folders, or single files where a folder
// mixes both. A file that needs the cluster fails here on its first request (no
// BREAKWATER_KUBECONFIG); test/localProject.unit.test.ts checks that none reaches the cluster's
// support code through its imports. A new file not listed runs in `integration`, which is
// always correct, only later in `make test`.
export const LOCAL_FILES = [
  'test/adversarial/*.test.ts',
  'test/argocd/*.test.ts',
  'test/clients/*.test.ts',
  'test/demo/demoParts.test.ts',
  'test/demo/demoTools.test.ts',
  'test/demo/inotifyCheck.test.ts',
  'test/durable/*.test.ts',
  'test/rateLimitStore/budgetLeases.test.ts',
  'test/rateLimitStore/budgetRetries.test.ts',
  'test/rateLimitStore/budgetsRetried.test.ts',
  'test/rateLimitStore/budgetScripts.test.ts',
  'test/rateLimitStore/budgetsOnSlowStore.test.ts',
  'test/rateLimitStore/budgetsBilled.test.ts',
  'test/rateLimitStore/budgetsThinking.test.ts',
  'test/rateLimitStore/budgetsWebSearch.test.ts',
  'test/rateLimitStore/budgetsDocuments.test.ts',
  'test/rateLimitStore/budgetsReplayed.test.ts',
  'test/rateLimitStore/budgetStore.property.test.ts',
  'test/rateLimitStore/budgetsAcrossReplicas.test.ts',
  'test/rateLimitStore/budgetsByKeyAndFallback.test.ts',
  'test/rateLimitStore/keySlots.test.ts',
  'test/rateLimitStore/teamBudgets.test.ts',
  'test/rateLimitStore/teamBudgetReads.test.ts',
  'test/rateLimitStore/redisStore.test.ts',
  'test/rateLimitStore/evictedKeys.test.ts',
  'test/rateLimitStore/sentinelFailover.test.ts',
  'test/rateLimitStore/sentinelAcl.test.ts',
  'test/rateLimitStore/clusterFailover.test.ts',
  'test/rateLimitStore/clusterAcknowledged.test.ts',
  'test/rateLimitStore/clusterDownAtStart.test.ts',
  'test/rateLimitStore/clusterLanes.test.ts',
  'test/rateLimitStore/acknowledgedFailover.test.ts',
  'test/rateLimitStore/sentinelFaults.test.ts',
  'test/rateLimitStore/sentinelThawedPrimary.test.ts',
  'test/rateLimitStore/clusterThawedPrimary.test.ts',
  'test/rateLimitStore/settlementsResent.test.ts',
  'test/rateLimitStore/storePartition.test.ts',
  'test/rateLimitStore/replicaAcknowledged.test.ts',
  'test/rateLimitStore/luaScripts.test.ts',
  'test/rateLimitStore/spendHistory.test.ts',
  'test/runtime/agentInvoke.test.ts',
  'test/runtime/errorIds.test.ts',
  'test/runtime/openAnswer.test.ts',
  'test/runtime/genAiMetrics.test.ts',
  'test/runtime/leanRoute.test.ts',
  'test/runtime/drainUpload.test.ts',
  'test/telemetry/otelCollector.test.ts',
  'test/telemetry/replayedAgentSpans.test.ts',
  'test/telemetry/telemetryModes.test.ts',
  'test/runtime/audit.test.ts',
  'test/runtime/budgetInvoke.test.ts',
  'test/runtime/budgets.test.ts',
  'test/runtime/callerIdentity.test.ts',
  'test/runtime/cacheAffinity.test.ts',
  'test/runtime/cacheAffinityFailback.test.ts',
  'test/runtime/durableAgentRuns.test.ts',
  'test/runtime/durableManifests.test.ts',
  'test/runtime/durableRunOwnership.test.ts',
  'test/runtime/durableRuns.test.ts',
  'test/runtime/durableRunsListing.test.ts',
  'test/runtime/malformedInput.test.ts',
  'test/runtime/manifests.test.ts',
  'test/runtime/mcp.test.ts',
  'test/runtime/policyModules.test.ts',
  'test/runtime/policyReload.test.ts',
  'test/runtime/providers.test.ts',
  'test/runtime/requestMetrics.test.ts',
  'test/runtime/resilience.test.ts',
  'test/runtime/telemetry.test.ts',
  'test/simulator/*.test.ts',
];

/** @type {import('jest').Config} */
export default {
  projects: [
    {
      ...shared,
      displayName: 'unit',
      testMatch: [
        '<rootDir>/contract/**/*.test.ts',
        '<rootDir>/platform/**/*.test.ts',
        '<rootDir>/runtime/**/*.test.ts',
        '<rootDir>/operator/**/*.test.ts',
        '<rootDir>/simulator/**/*.test.ts',
        '<rootDir>/plugin/**/*.test.ts',
        // Pure tests of the test infrastructure and the cluster tools need no cluster.
        '<rootDir>/test/**/*.unit.test.ts',
        '<rootDir>/tools/**/*.unit.test.ts',
        '<rootDir>/bench/**/*.unit.test.ts',
      ],
    },
    {
      ...shared,
      displayName: 'local',
      testMatch: LOCAL_FILES.map((file) => `<rootDir>/${file}`),
      testPathIgnorePatterns: ['\\.unit\\.test\\.ts$'],
    },
    {
      ...shared,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/**/*.test.ts', '<rootDir>/tools/**/*.test.ts'],
      testPathIgnorePatterns: [
        '\\.unit\\.test\\.ts$',
        ...LOCAL_FILES.map((file) => `<rootDir>/${file.replaceAll('*', '[^/]*')}$`),
      ],
      globalSetup: '<rootDir>/test/support/globalSetup.ts',
      globalTeardown: '<rootDir>/test/support/globalTeardown.ts',
    },
  ],
  // Integration tests wait on real processes and a real API server; jest reads this only at
  // the top level (a project's own testTimeout is ignored).
  testTimeout: 120_000,
  // Integration files share one cluster and one restarts its API server: never run two at
  // once, however many cores the machine has.
  maxWorkers: 1,
  reporters: ['default', '<rootDir>/test/support/summaryReporter.js'],
};
