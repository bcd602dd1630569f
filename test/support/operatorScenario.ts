/**
 * The start every operator suite shares: the CRDs, a throwaway namespace, the LLM simulator,
 * an operator confined to that namespace, and the suite's objects applied there after the
 * provider-key Secret every fixture agent reads. `end()` undoes it.
 *
 *   const scenario = await startScenario({ prefix: 'op-client-keys', seed: 3 }, (sim) => [
 *     agentDeployment('gatekeeper', { providerURL: sim.url }),
 *   ]);
 *
 * A suite that needs its objects in place before the operator sees them (a restart, a leader
 * election) passes `operator: 'after'`; one that starts its own operators passes `false`.
 */
import { installCrds } from '../api/apiInstallation.ts';
import { providerSecret } from './agentFixtures.ts';
import { applyObjects } from './breakwaterCluster.ts';
import { uniqueNamespace, type TestNamespace } from './kube.ts';
import { startOperator, stopOperators, type OperatorProcess } from './operator.ts';
import { startSimulator, type SimulatorHandle, type SimulatorStartOptions } from './simulator.ts';

export interface Scenario {
  readonly ns: TestNamespace;
  readonly sim: SimulatorHandle;
  /** The operator it started, if it started one (a test may kill it and start another). */
  readonly operator: OperatorProcess;
  /** Stops the operators and the simulator, then deletes the namespace. */
  end(): Promise<void>;
}

export interface ScenarioOptions {
  /** The namespace's prefix, which names the suite in leftovers. */
  readonly prefix: string;
  /** The simulator's seed. */
  readonly seed: number;
  /** More of the simulator's options (a rate limit, an API key). */
  readonly simulator?: Omit<SimulatorStartOptions, 'seed'>;
  /**
   * When the operator starts: before the objects are applied (the default), after them, or not
   * at all (the suite starts its own; `end()` still stops every operator).
   */
  readonly operator?: 'before' | 'after' | false;
}

export async function startScenario(
  options: ScenarioOptions,
  objects: (sim: SimulatorHandle) => readonly object[] = () => [],
): Promise<Scenario> {
  await installCrds();
  const ns = await uniqueNamespace(options.prefix);
  const sim = await startSimulator({ ...options.simulator, seed: options.seed });
  const when = options.operator ?? 'before';
  let operator = when === 'before' ? await startOperator({ namespace: ns.name }) : undefined;
  await applyObjects(ns.name, providerSecret(), ...objects(sim));
  if (when === 'after') operator = await startOperator({ namespace: ns.name });
  return {
    ns,
    sim,
    get operator(): OperatorProcess {
      if (operator === undefined) throw new Error('this scenario started no operator');
      return operator;
    },
    end: async () => {
      await stopOperators();
      await sim.stop();
      await ns.cleanup();
    },
  };
}
