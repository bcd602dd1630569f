/**
 * Where the demo environment keeps its state (all under the gitignored `.breakwater/demo`)
 * and the names it uses in the cluster. `make demo`, `make up` and `make down` share them.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('..', import.meta.url));

/** The one namespace the demo works in; its operator watches nothing else. */
export const DEMO_NAMESPACE = 'breakwater-demo';
export const AGENT_NAME = 'demo-agent';
export const BREAKER_POLICY_NAME = 'demo-breaker';
export const RATE_LIMIT_POLICY_NAME = 'demo-limits';
export const PROVIDER_SECRET_NAME = 'llm-provider-key';
export const REPLICAS = 3;

export interface DemoLayout {
  readonly repoRoot: string;
  readonly dir: string;
  /** What the running environment started, so `down` and Ctrl-C stop exactly that. */
  readonly stateFile: string;
  readonly logDir: string;
  readonly runDir: string;
  /** The manifests as applied, for a reader who wants to see or re-apply them. */
  readonly manifestsFile: string;
  readonly prometheusDir: string;
  readonly lockFile: string;
  /** The port-forward reach's map of pods to local ports (demo/portForwards.ts). */
  readonly forwardsFile: string;
}

export function demoLayout(root: string = repoRoot): DemoLayout {
  const dir = join(root, '.breakwater', 'demo');
  return {
    repoRoot: root,
    dir,
    stateFile: join(dir, 'state.json'),
    logDir: join(dir, 'logs'),
    runDir: join(dir, 'run'),
    manifestsFile: join(dir, 'manifests.yaml'),
    prometheusDir: join(dir, 'prometheus'),
    lockFile: join(dir, 'environment.lock'),
    forwardsFile: join(dir, 'run', 'forwards.json'),
  };
}
