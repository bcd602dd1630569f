/**
 * The start most operator suites share: the CRDs, a throwaway namespace, the LLM simulator, an
 * operator confined to that namespace, and the suite's objects applied there after the
 * provider-key Secret every fixture agent reads. `end()` undoes it.
 *
 *   const scenario = await startScenario({ prefix: 'op-client-keys', seed: 3 }, (sim) => [
 *     agentDeployment('gatekeeper', { providerURL: sim.url }),
 *   ]);
 */
import { installCrds } from '../api/apiInstallation.ts';
import { providerSecret } from './agentFixtures.ts';
import { applyObjects } from './breakwaterCluster.ts';
import { uniqueNamespace, type TestNamespace } from './kube.ts';
import { startOperator, stopOperators, type OperatorProcess } from './operator.ts';
import { startSimulator, type SimulatorHandle } from './simulator.ts';

export interface Scenario {
  readonly ns: TestNamespace;
  readonly sim: SimulatorHandle;
  /** The operator it started (a test may kill it and start another). */
  readonly operator: OperatorProcess;
  /** Stops the operators and the simulator, then deletes the namespace. */
  end(): Promise<void>;
}

export interface ScenarioOptions {
  /** The namespace's prefix, which names the suite in leftovers. */
  readonly prefix: string;
  /** The simulator's seed. */
  readonly seed: number;
}

export async function startScenario(
  options: ScenarioOptions,
  objects: (sim: SimulatorHandle) => readonly object[],
): Promise<Scenario> {
  await installCrds();
  const ns = await uniqueNamespace(options.prefix);
  const sim = await startSimulator({ seed: options.seed });
  const operator = await startOperator({ namespace: ns.name });
  await applyObjects(ns.name, providerSecret(), ...objects(sim));
  return {
    ns,
    sim,
    operator,
    end: async () => {
      await stopOperators();
      await sim.stop();
      await ns.cleanup();
    },
  };
}
