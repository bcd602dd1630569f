/**
 * The floor under the operator's 1,000 agents (issue 53, item 7): with no operator running, a
 * bare client creates the same AgentDeployments and, for each, writes what the operator would
 * write (its six children, server-side applied with the operator's field manager, and its
 * status, rendered by the operator's own pure functions: bareRender.ts), as fast as the API
 * server takes them with a fixed number of requests in flight. It waits for the same
 * convergence the operator phase waits for (agentsAtScale.ts `statusCurrent`), seen through the
 * same kind of watch.
 *
 * The client is node's https on the kubeconfig's credentials, one keep-alive pool sized to the
 * requests in flight: none of the operator's machinery (no queue, no informers, no caches).
 * Each of `concurrency` workers takes the next agent and sends its writes one after another:
 * create, the four pod prerequisites, the Deployment and the Service, the status.
 */
import { Agent, request, type RequestOptions } from 'node:https';
import type {
  AgentDeployment,
  CircuitBreakerPolicy,
  RateLimitPolicy,
} from '../../contract/src/api/resources.ts';
import type { KubeObject } from '../../platform/src/kube/kubeObject.ts';
import { Kinds, resourcePath, type ResourceKind } from '../../platform/src/kube/resourceKinds.ts';
import { kubeConfig } from '../../test/support/kube.ts';
import type { WatchedCache } from './watchedCache.ts';
import { apiServerWrites, writesBetween } from './apiServerWrites.ts';
import { cpuBetween, sampleCpu } from './clusterCpu.ts';
import { renderAgent } from './bareRender.ts';

/** The operator's field manager (operator/src/controller/operatorContext.ts). */
const FIELD_MANAGER = 'breakwater-operator';

export interface BareInputs {
  readonly namespace: string;
  readonly count: number;
  /** Requests in flight at once (one per worker). */
  readonly concurrency: number;
  /** The agent `name` as the operator phase creates it (namespace set here). */
  readonly agent: (name: string) => AgentDeployment;
  readonly breakerPolicy: CircuitBreakerPolicy;
  readonly rateLimitPolicy: RateLimitPolicy;
  readonly runtimeImage: string;
  readonly serviceMonitorAvailable: boolean;
  readonly agents: WatchedCache<AgentDeployment>;
  /** The condition the operator phase waits for, on every agent. */
  readonly converged: (agent: AgentDeployment) => boolean;
  readonly timeoutMs: number;
  readonly log: (line: string) => void;
}

export interface BareResult {
  readonly agents: number;
  readonly concurrency: number;
  /** From the first create until the bare client's last write was accepted. */
  readonly writes_s: number;
  /** From the first create until the watch saw every agent converged. */
  readonly converged_s: number;
  /** The bare client's writes per agent: the create, each child, the status. */
  readonly writes_per_agent: Record<string, number>;
  /** The bench's own CPU rendering the objects (the operator's pure functions), seconds. */
  readonly render_cpu_s: number;
  readonly api_server_writes: {
    readonly first_create_to_convergence: Record<string, number>;
    readonly per_agent: number;
    readonly per_second: number;
  };
  /** CPU seconds by process from the first create to convergence; `bench` is the bare client. */
  readonly cpu_seconds: Record<string, number>;
}

/** Writes with node's https and nothing else: a keep-alive pool, JSON in, JSON out. */
export class BareClient {
  readonly #server: URL;
  readonly #options: RequestOptions;
  readonly #agent: Agent;

  private constructor(server: URL, options: RequestOptions, maxSockets: number) {
    this.#server = server;
    this.#options = options;
    this.#agent = new Agent({
      keepAlive: true,
      maxSockets,
      ca: options.ca,
      cert: options.cert,
      key: options.key,
    });
  }

  static async open(maxSockets: number): Promise<BareClient> {
    const config = kubeConfig();
    const cluster = config.getCurrentCluster();
    if (cluster === null) throw new Error('the kubeconfig has no current cluster');
    const options: RequestOptions = { headers: {} };
    await config.applyToHTTPSOptions(options);
    return new BareClient(new URL(cluster.server), options, maxSockets);
  }

  create<T extends KubeObject>(kind: ResourceKind, obj: T): Promise<T> {
    const path = resourcePath(kind, { namespace: obj.metadata?.namespace });
    return this.#send<T>('POST', path, 'application/json', obj);
  }

  /** Server-side apply as the operator sends it: its field manager, force. */
  apply<T extends KubeObject>(kind: ResourceKind, obj: T, subresource?: string): Promise<T> {
    const path = resourcePath(kind, {
      namespace: obj.metadata?.namespace,
      name: obj.metadata?.name,
      subresource,
    });
    return this.#send<T>(
      'PATCH',
      `${path}?fieldManager=${FIELD_MANAGER}&force=true`,
      'application/apply-patch+yaml',
      obj,
    );
  }

  close(): void {
    this.#agent.destroy();
  }

  #send<T>(method: string, path: string, contentType: string, body: unknown): Promise<T> {
    const text = JSON.stringify(body);
    return new Promise<T>((resolve, reject) => {
      const req = request(new URL(path, this.#server), {
        method,
        agent: this.#agent,
        headers: {
          ...(this.#options.headers as Record<string, string>),
          accept: 'application/json',
          'content-type': contentType,
          'content-length': String(Buffer.byteLength(text)),
        },
      });
      req.once('error', reject);
      req.once('response', (res) => {
        let answer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (answer += chunk));
        res.once('error', reject);
        res.once('end', () => {
          const code = res.statusCode ?? 0;
          if (code >= 200 && code < 300) resolve(JSON.parse(answer) as T);
          else reject(new Error(`${method} ${path}: ${String(code)} ${answer.slice(0, 300)}`));
        });
      });
      req.end(text);
    });
  }
}

const kindOf = (obj: KubeObject): ResourceKind => {
  const kind = Object.values(Kinds).find(
    (k) => k.kind === obj.kind && k.apiVersion === obj.apiVersion,
  );
  if (kind === undefined) throw new Error(`no REST mapping for ${String(obj.kind)}`);
  return kind;
};

export async function measureBareFloor(inputs: BareInputs): Promise<BareResult> {
  const { count, namespace } = inputs;
  const client = await BareClient.open(inputs.concurrency);
  const converged = inputs.agents.when(
    (items) => items.length === count && items.every(inputs.converged),
    inputs.timeoutMs,
    `${String(count)} bare agents with a current status`,
  );
  const writes: Record<string, number> = {};
  const count1 = (key: string): void => {
    writes[key] = (writes[key] ?? 0) + 1;
  };
  let renderMs = 0;
  const cpu = () => sampleCpu({ bench: process.pid });
  const writesAtStart = await apiServerWrites();
  const cpuAtStart = cpu();
  const started = Date.now();
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: inputs.concurrency }, async () => {
        while (next < count) {
          const name = `agent-${String(next++).padStart(4, '0')}`;
          const agent = inputs.agent(name);
          const stored = await client.create(Kinds.AgentDeployment, {
            ...agent,
            metadata: { ...agent.metadata, namespace },
          });
          count1('create/AgentDeployment');
          const renderStart = performance.now();
          const rendered = await renderAgent({
            agent: stored,
            breakerPolicy: inputs.breakerPolicy,
            rateLimitPolicy: inputs.rateLimitPolicy,
            runtimeImage: inputs.runtimeImage,
            serviceMonitorAvailable: inputs.serviceMonitorAvailable,
            nowMs: Date.now(),
          });
          renderMs += performance.now() - renderStart;
          for (const child of rendered.children) {
            await client.apply(kindOf(child), child);
            count1(child.kind ?? 'unknown');
          }
          await client.apply(Kinds.AgentDeployment, rendered.status, 'status');
          count1('status/AgentDeployment');
        }
      }),
    );
  } finally {
    client.close();
  }
  const writtenAt = Date.now();
  inputs.log(`bare: wrote every agent's objects in ${String(writtenAt - started)} ms`);
  const convergedAt = await converged;
  const cpuAtConverged = cpu();
  const writesAtConverged = await apiServerWrites();
  inputs.log(`bare: every agent converged after ${String(convergedAt - started)} ms`);
  const apiWrites = writesBetween(writesAtStart, writesAtConverged);
  const seconds = (convergedAt - started) / 1000;
  const perAgent = Object.fromEntries(
    Object.entries(writes).map(([k, n]) => [k, Math.round((n / count) * 100) / 100]),
  );
  const total = Object.values(writes).reduce((a, b) => a + b, 0);
  return {
    agents: count,
    concurrency: inputs.concurrency,
    writes_s: (writtenAt - started) / 1000,
    converged_s: seconds,
    writes_per_agent: { ...perAgent, total: Math.round((total / count) * 100) / 100 },
    render_cpu_s: Math.round(renderMs) / 1000,
    api_server_writes: {
      first_create_to_convergence: apiWrites,
      per_agent: Math.round(((apiWrites['total'] ?? 0) / count) * 100) / 100,
      per_second: Math.round((apiWrites['total'] ?? 0) / seconds),
    },
    cpu_seconds: cpuBetween(cpuAtStart, cpuAtConverged),
  };
}
