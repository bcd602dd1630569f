/**
 * The pods bound to this node, from the API server: the project's Informer (re-lists on
 * 410 and errors with back-off, resumes ended watches, restarts a watch that went silent)
 * with a field selector on spec.nodeName, like kubelet's own pod source.
 */
import { Informer } from '../../../platform/src/kube/informer.ts';
import type { KubeClient } from '../../../platform/src/kube/kubeClient.ts';
import { Kinds } from '../../../platform/src/kube/resourceKinds.ts';
import type { Clock } from '../../../platform/src/time/clock.ts';
import { errorMessage, type Logger } from './log.ts';
import type { Pod } from './podTypes.ts';

export interface PodWatchOptions {
  readonly client: KubeClient;
  readonly clock: Clock;
  readonly log: Logger;
  readonly nodeName: string;
}

export function watchNodePods(options: PodWatchOptions): Informer<Pod> {
  return new Informer<Pod>({
    client: options.client,
    kind: Kinds.Pod,
    fieldSelector: `spec.nodeName=${options.nodeName}`,
    clock: options.clock,
    // Short server-side timeouts and a watchdog well under a minute: a stalled watch here
    // means pods that never start, and relisting one node's pods is cheap.
    watchTimeoutSeconds: 60,
    watchdogMs: 90_000,
    backoffMaxMs: 5_000,
    onRestart: (reason, error) => {
      if (reason === 'ended') return;
      options.log.warn('pod watch restarted', {
        reason,
        ...(error === undefined ? {} : { error: errorMessage(error) }),
      });
    },
    onHandlerError: (error) => {
      options.log.error('pod event handler failed', { error: errorMessage(error) });
    },
  });
}
