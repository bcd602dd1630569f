/**
 * Keeps a `kubectl port-forward` to each of the demo agent's pods while the environment runs in
 * the port-forward reach (demo/reach.ts, demo/portForwards.ts): lists the pods every second,
 * forwards new ones, ends the forwards of pods gone, and rewrites the map file. On SIGTERM it
 * ends its kubectl children; `make down` signals its whole process group besides.
 *
 *   node demo/portForwarder.ts --kubeconfig PATH --kubectl PATH --out FILE
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { HttpKubeClient } from '../platform/src/kube/httpKubeClient.ts';
import { PodForwards } from './portForwards.ts';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      kubeconfig: { type: 'string' },
      kubectl: { type: 'string' },
      out: { type: 'string' },
    },
    strict: true,
  });
  const { kubeconfig, kubectl, out } = values;
  if (kubeconfig === undefined || kubectl === undefined || out === undefined) {
    throw new Error(
      'usage: node demo/portForwarder.ts --kubeconfig PATH --kubectl PATH --out FILE',
    );
  }
  const log = (line: string): void => {
    process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  };
  const forwards = new PodForwards({
    client: HttpKubeClient.fromKubeconfig(kubeconfig),
    kubectl,
    kubeconfig,
    out,
    log,
  });
  const stop = new AbortController();
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      stop.abort();
    });
  }
  while (!stop.signal.aborted) {
    await forwards.refresh().catch((err: unknown) => {
      log(`listing pods failed: ${String(err)}`);
    });
    await sleep(1_000, undefined, { signal: stop.signal }).catch(() => undefined);
  }
  forwards.stop();
}

await main();
