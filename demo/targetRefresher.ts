/**
 * Keeps Prometheus' list of the demo agent's pods current (`make up PROMETHEUS=1`): lists
 * the pods through the API every two seconds and rewrites the file_sd file when they change.
 * A pod that replaces another comes with a new address, so the list does change.
 *
 *   node demo/targetRefresher.ts --kubeconfig PATH --out FILE [--forwards FILE]
 *
 * --forwards: the port-forward reach's map (demo/portForwards.ts): targets on loopback.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { HttpKubeClient } from '../platform/src/kube/httpKubeClient.ts';
import { agentTargets, writeTargets } from './scrapeTargets.ts';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      kubeconfig: { type: 'string' },
      out: { type: 'string' },
      forwards: { type: 'string' },
    },
    strict: true,
  });
  if (values.kubeconfig === undefined || values.out === undefined) {
    throw new Error('usage: node demo/targetRefresher.ts --kubeconfig PATH --out FILE');
  }
  const client = HttpKubeClient.fromKubeconfig(values.kubeconfig);
  const stop = new AbortController();
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      stop.abort();
    });
  }
  let written = '';
  while (!stop.signal.aborted) {
    try {
      const groups = await agentTargets(client, values.forwards);
      const text = JSON.stringify(groups);
      if (text !== written) {
        await writeTargets(values.out, groups);
        written = text;
        process.stdout.write(`${new Date().toISOString()} ${groups.length} agent pod(s)\n`);
      }
    } catch (err) {
      process.stdout.write(`${new Date().toISOString()} listing pods failed: ${String(err)}\n`);
    }
    await sleep(2_000, undefined, { signal: stop.signal }).catch(() => undefined);
  }
}

await main();
