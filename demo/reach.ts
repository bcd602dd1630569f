/**
 * How `make demo` and `make up` reach the agent's pods from this machine, chosen once at start
 * (issue 52 item 4):
 *
 *   routes        this machine routes kind's pod network through the node (`ip route replace`,
 *                 tools/kindNode/kind-cluster.sh): root on Linux only. Pods are called at their
 *                 own addresses.
 *   port-forward  `kubectl port-forward` to each pod's API and metrics ports on this machine's
 *                 loopback (demo/portForwards.ts): no root, and the only way on macOS, where
 *                 Docker Desktop's container addresses are not routable from the host.
 *
 * BREAKWATER_REACH asks for one; unset, routes where they can be made (root on Linux), else
 * port-forward. Either way the pods reach the simulator on this machine at the address the
 * cluster script exports (the kind network's gateway on Linux, host.docker.internal on macOS).
 */
import { EnvironmentError } from './environmentError.ts';

export type ReachMode = 'routes' | 'port-forward';

export interface ReachChoice {
  readonly mode: ReachMode;
  /** Why this mode, for the output. */
  readonly why: string;
}

export interface ReachFacts {
  /** BREAKWATER_REACH as set (undefined or empty: not set). */
  readonly requested: string | undefined;
  readonly platform: NodeJS.Platform;
  /** The effective user id (undefined where there is none: Windows). */
  readonly uid: number | undefined;
}

export function reachFacts(env: NodeJS.ProcessEnv = process.env): ReachFacts {
  return {
    requested: env['BREAKWATER_REACH'],
    platform: process.platform,
    uid: process.geteuid?.(),
  };
}

export function chooseReach(facts: ReachFacts): ReachChoice {
  const canRoute = facts.platform === 'linux' && facts.uid === 0;
  const requested = facts.requested ?? '';
  if (requested === 'port-forward') {
    return { mode: 'port-forward', why: 'BREAKWATER_REACH=port-forward' };
  }
  if (requested === 'routes') {
    if (!canRoute) {
      throw new EnvironmentError(
        'BREAKWATER_REACH=routes needs root on Linux (it routes the pod network with ' +
          '`ip route replace`); ' +
          (facts.platform === 'linux' ? 'this is not root' : `this is ${facts.platform}`) +
          ': unset it (or BREAKWATER_REACH=port-forward) to reach the pods through kubectl port-forward',
      );
    }
    return { mode: 'routes', why: 'BREAKWATER_REACH=routes' };
  }
  if (requested !== '') {
    throw new EnvironmentError(
      `BREAKWATER_REACH=${requested}: say routes or port-forward (or leave it unset)`,
    );
  }
  if (canRoute) return { mode: 'routes', why: 'root on Linux' };
  return {
    mode: 'port-forward',
    why:
      facts.platform === 'linux'
        ? 'not root: no route to the pod network can be made'
        : `${facts.platform}: container addresses are not routable from this machine`,
  };
}

/**
 * The mode a routes choice becomes when the cluster was found running without routes (brought
 * up earlier with BREAKWATER_REACH=port-forward): port-forward, said so.
 */
export function settleReach(choice: ReachChoice, clusterRouted: boolean): ReachChoice {
  if (choice.mode === 'routes' && !clusterRouted) {
    return {
      mode: 'port-forward',
      why: 'the running cluster was brought up without routes to its pod network',
    };
  }
  return choice;
}

/** The line the demo and `make up` print once the mode is known. */
export function reachLine(choice: ReachChoice): string {
  return choice.mode === 'routes'
    ? `▸ reach: routes (${choice.why}): this machine routes the pod network through the node and calls pods at their addresses`
    : `▸ reach: port-forward (${choice.why}): pods are called through kubectl port-forward on 127.0.0.1; no host route, no root`;
}

/** The demo summary's line on how the pods were reached, with the addresses used. */
export function reachNote(
  choice: ReachChoice | undefined,
  pods: readonly { readonly name: string; readonly url?: string | undefined }[],
): string {
  const how =
    choice?.mode === 'port-forward'
      ? 'through kubectl port-forward on this machine (no host route)'
      : 'at their own addresses, through the host route to the pod network';
  const where = pods.map((p) => `${p.name} ${p.url ?? '-'}`).join(', ');
  return `reach: ${choice?.mode ?? 'routes'}: the pods were called ${how}${where === '' ? '' : `: ${where}`}`;
}
