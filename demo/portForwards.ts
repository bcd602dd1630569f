/**
 * The port-forward reach (demo/reach.ts): one `kubectl port-forward` per agent pod, from two
 * loopback ports to the pod's API and metrics ports, kept current as pods come and go, and a
 * file that says which local ports lead to which pod (agentPods reads it).
 *
 * Why kubectl port-forward and not kind's extraPortMappings: mappings are fixed when the cluster
 * is created (a running cluster, the suites' own, cannot gain them), lead to one NodePort each
 * (a Service, so one replica at random per connection), and need host ports chosen up front; a
 * port-forward needs nothing of the cluster but its API server, which kind publishes on every
 * platform, and reaches each replica by name, so the demo can still tell their answers apart.
 *
 * demo/portForwarder.ts runs this in a process of its own (its process group holds the kubectl
 * children), which `make down` stops as a group.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { KubeClient } from '../platform/src/kube/kubeClient.ts';
import type { KubeObject } from '../platform/src/kube/kubeObject.ts';
import { Kinds } from '../platform/src/kube/resourceKinds.ts';
import { AGENT_LABEL } from '../contract/src/pod/podLabels.ts';
import { AGENT_NAME, DEMO_NAMESPACE } from './demoLayout.ts';
import { freePort } from './localPorts.ts';

/** Pod name to the local ports that lead to it. */
export type ForwardMap = Readonly<
  Record<string, { readonly http: number; readonly metrics: number }>
>;

export async function readForwards(file: string): Promise<ForwardMap> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as ForwardMap;
  } catch {
    return {};
  }
}

interface Pod extends KubeObject {
  spec?: { containers?: { ports?: { name?: string; containerPort: number }[] }[] };
  status?: { podIP?: string; phase?: string };
}

interface Forward {
  readonly child: ChildProcess;
  readonly http: number;
  readonly metrics: number;
  /** kubectl said "Forwarding from" for both ports. */
  listening: boolean;
  exited: boolean;
}

export interface PodForwardsOptions {
  readonly client: KubeClient;
  readonly kubectl: string;
  readonly kubeconfig: string;
  readonly out: string;
  readonly log?: (line: string) => void;
}

export class PodForwards {
  readonly #options: PodForwardsOptions;
  readonly #forwards = new Map<string, Forward>();
  #written = '';
  /** Writes one after another: a forward that starts listening writes too. */
  #writing: Promise<void> = Promise.resolve();

  constructor(options: PodForwardsOptions) {
    this.#options = options;
  }

  /** Starts a forward for each running pod without one, ends those of pods gone; writes the map. */
  async refresh(): Promise<void> {
    const { items } = await this.#options.client.list<Pod>(Kinds.Pod, {
      namespace: DEMO_NAMESPACE,
      labelSelector: `${AGENT_LABEL}=${AGENT_NAME}`,
    });
    const running = new Map<string, Pod>();
    for (const pod of items) {
      const name = pod.metadata?.name;
      if (
        name !== undefined &&
        pod.metadata?.deletionTimestamp === undefined &&
        pod.status?.phase === 'Running' &&
        (pod.status.podIP ?? '') !== ''
      ) {
        running.set(name, pod);
      }
    }
    for (const [name, forward] of this.#forwards) {
      if (forward.exited || !running.has(name)) {
        forward.child.kill('SIGTERM');
        this.#forwards.delete(name);
      }
    }
    for (const [name, pod] of running) {
      if (this.#forwards.has(name)) continue;
      const ports = containerPorts(pod);
      if (ports === undefined) continue;
      this.#forwards.set(name, await this.#start(name, ports));
    }
    await this.#write();
  }

  stop(): void {
    for (const forward of this.#forwards.values()) forward.child.kill('SIGTERM');
    this.#forwards.clear();
  }

  async #start(name: string, ports: { http: number; metrics: number }): Promise<Forward> {
    const [http, metrics] = [await freePort(), await freePort()];
    const { kubectl, kubeconfig, log } = this.#options;
    const child = spawn(
      kubectl,
      [
        '--kubeconfig',
        kubeconfig,
        '-n',
        DEMO_NAMESPACE,
        'port-forward',
        '--address',
        '127.0.0.1',
        `pod/${name}`,
        `${String(http)}:${String(ports.http)}`,
        `${String(metrics)}:${String(ports.metrics)}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const forward: Forward = { child, http, metrics, listening: false, exited: false };
    let heard = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      heard += chunk;
      if ((heard.match(/^Forwarding from /gm) ?? []).length >= 2 && !forward.listening) {
        forward.listening = true;
        log?.(
          `${name}: 127.0.0.1:${String(http)} -> http, 127.0.0.1:${String(metrics)} -> metrics`,
        );
        void this.#write();
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      log?.(`${name}: ${chunk.trim()}`);
    });
    child.on('error', (error) => {
      forward.exited = true;
      log?.(`${name}: could not run ${kubectl}: ${error.message}`);
    });
    child.on('exit', (code, signal) => {
      forward.exited = true;
      log?.(`${name}: kubectl port-forward ended (${signal ?? String(code)})`);
    });
    return forward;
  }

  #write(): Promise<void> {
    this.#writing = this.#writing.then(
      () => this.#writeNow(),
      () => this.#writeNow(),
    );
    return this.#writing;
  }

  async #writeNow(): Promise<void> {
    const map: Record<string, { http: number; metrics: number }> = {};
    for (const [name, f] of [...this.#forwards].sort(([a], [b]) => a.localeCompare(b))) {
      if (f.listening && !f.exited) map[name] = { http: f.http, metrics: f.metrics };
    }
    const text = `${JSON.stringify(map, null, 2)}\n`;
    if (text === this.#written) return;
    this.#written = text;
    const partial = `${this.#options.out}.partial`;
    await writeFile(partial, text);
    await rename(partial, this.#options.out);
  }
}

function containerPorts(pod: Pod): { http: number; metrics: number } | undefined {
  const ports = (pod.spec?.containers ?? []).flatMap((c) => c.ports ?? []);
  const http = ports.find((p) => p.name === 'http')?.containerPort;
  const metrics = ports.find((p) => p.name === 'metrics')?.containerPort;
  return http === undefined || metrics === undefined ? undefined : { http, metrics };
}
