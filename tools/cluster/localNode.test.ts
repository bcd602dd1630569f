/**
 * The local node against the real control plane: pods of a Deployment run as local
 * processes, answer on the ports the node gave them, get their env, follow their probes,
 * restart when they crash, and stop when they are deleted.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { kubectl, uniqueNamespace, waitFor, type TestNamespace } from '../../test/support/kube.ts';

const echoImage = 'breakwater.dev/test/http-echo:latest';
const portsAnnotation = 'localnode.breakwater.dev/ports';
const timeoutMs = 60_000;

interface PodJson {
  metadata: { name: string; uid: string; annotations?: Record<string, string> };
  status?: {
    phase?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: {
      name: string;
      ready: boolean;
      started?: boolean;
      restartCount: number;
      containerID?: string;
      state?: { waiting?: { reason?: string; message?: string }; running?: object };
      lastState?: { terminated?: { exitCode: number } };
    }[];
  };
}

interface DeploymentJson {
  status?: {
    availableReplicas?: number;
    readyReplicas?: number;
    conditions?: { type: string; status: string }[];
  };
}

// The integration project's testTimeout does not reach the tests (jest reads it globally only).
jest.setTimeout(120_000);

let ns: TestNamespace;

beforeAll(async () => {
  ns = await uniqueNamespace('local-node');
});

afterAll(async () => {
  await ns.cleanup();
});

async function apply(...objects: object[]): Promise<void> {
  await kubectl(['apply', '-n', ns.name, '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
  });
}

async function getJson<T>(...args: string[]): Promise<T> {
  const { stdout } = await kubectl(['get', '-n', ns.name, '-o', 'json', ...args]);
  return JSON.parse(stdout) as T;
}

async function podsOf(app: string): Promise<PodJson[]> {
  return (await getJson<{ items: PodJson[] }>('pods', '-l', `app=${app}`)).items;
}

const isReady = (pod: PodJson): boolean =>
  pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

function localPort(pod: PodJson, name = 'http'): number {
  const ports = JSON.parse(pod.metadata.annotations?.[portsAnnotation] ?? '{}') as Record<
    string,
    number
  >;
  const port = ports[name];
  if (port === undefined) throw new Error(`pod ${pod.metadata.name} has no local port ${name}`);
  return port;
}

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, body: await response.text() };
}

async function post(port: number, path: string): Promise<void> {
  await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST' });
}

async function refusesConnections(port: number): Promise<boolean> {
  try {
    await fetch(`http://127.0.0.1:${port}/`);
    return false;
  } catch {
    return true;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function pidOf(pod: PodJson): number {
  const id = pod.status?.containerStatuses?.[0]?.containerID ?? '';
  const pid = Number(id.replace(/^localnode:\/\//, ''));
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`pod ${pod.metadata.name} has no pid`);
  return pid;
}

interface EchoOptions {
  readonly replicas?: number;
  readonly env?: object[];
  readonly readinessProbe?: object;
  readonly args?: string[];
  readonly livenessProbe?: object;
  readonly terminationGracePeriodSeconds?: number;
}

/** A Deployment of the echo fixture written as for a real cluster: port 8080, $(PORT_HTTP) in args. */
function echoDeployment(name: string, options: EchoOptions = {}): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas: options.replicas ?? 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          terminationGracePeriodSeconds: options.terminationGracePeriodSeconds ?? 5,
          containers: [
            {
              name: 'echo',
              image: echoImage,
              args: options.args ?? ['--port=$(PORT_HTTP)'],
              ports: [{ name: 'http', containerPort: 8080 }],
              env: [
                { name: 'PORT_HTTP', value: '8080' },
                { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                ...(options.env ?? []),
              ],
              readinessProbe: options.readinessProbe ?? {
                httpGet: { path: '/readyz', port: 'http' },
                periodSeconds: 1,
              },
              ...(options.livenessProbe === undefined
                ? {}
                : { livenessProbe: options.livenessProbe }),
            },
          ],
        },
      },
    },
  };
}

async function waitForReadyPods(app: string, count: number): Promise<PodJson[]> {
  return waitFor(
    async () => {
      const pods = (await podsOf(app)).filter((p) => isReady(p));
      return pods.length === count ? pods : undefined;
    },
    { timeoutMs, description: `${count} ready pods of ${app}` },
  );
}

describe('local node', () => {
  it('runs a Deployment until it is Available 2/2, each pod answering on its annotated port', async () => {
    await apply(echoDeployment('echo', { replicas: 2 }));
    await waitFor(
      async () => {
        const d = await getJson<DeploymentJson>('deployment', 'echo');
        return d.status?.availableReplicas === 2;
      },
      { timeoutMs, description: 'Deployment echo to be Available 2/2' },
    );
    const pods = await podsOf('echo');
    expect(pods).toHaveLength(2);
    const ports = pods.map((p) => localPort(p));
    expect(new Set(ports).size).toBe(2);
    for (const pod of pods) {
      const answer = await get(localPort(pod), '/');
      expect(JSON.parse(answer.body)).toMatchObject({
        pod: pod.metadata.name,
        port: localPort(pod),
      });
    }
  });

  it('replaces a deleted pod and stops its process', async () => {
    await apply(echoDeployment('replaced'));
    const [first] = await waitForReadyPods('replaced', 1);
    if (first === undefined) throw new Error('no pod');
    const pid = pidOf(first);
    const port = localPort(first);
    expect(processAlive(pid)).toBe(true);

    await kubectl(['delete', 'pod', '-n', ns.name, first.metadata.name, '--wait=true']);

    expect(processAlive(pid)).toBe(false);
    expect(await refusesConnections(port)).toBe(true);
    const [second] = await waitForReadyPods('replaced', 1);
    expect(second?.metadata.uid).not.toBe(first.metadata.uid);
  });

  it('keeps a pod unready while its readiness probe fails, and the Deployment unavailable', async () => {
    await apply(echoDeployment('unready', { env: [{ name: 'READY', value: 'false' }] }));
    const pod = await waitFor(
      async () => {
        const [p] = await podsOf('unready');
        return p?.status?.containerStatuses?.[0]?.started === true ? p : undefined;
      },
      { timeoutMs, description: 'the unready pod to start' },
    );
    const port = localPort(pod);
    // Enough failed probes (periodSeconds 1, failureThreshold 3) that readiness had its chances.
    await waitFor(
      async () => (JSON.parse((await get(port, '/stats')).body) as { readyz: number }).readyz >= 5,
      { timeoutMs, description: 'five readiness probes' },
    );
    const [after] = await podsOf('unready');
    expect(after?.status?.phase).toBe('Running');
    expect(after?.status?.conditions).toContainEqual(
      expect.objectContaining({ type: 'Ready', status: 'False' }),
    );
    const deployment = await getJson<DeploymentJson>('deployment', 'unready');
    expect(deployment.status?.availableReplicas ?? 0).toBe(0);

    await post(port, '/ready/true');
    await waitForReadyPods('unready', 1);
    await post(port, '/ready/false');
    await waitFor(async () => !isReady((await podsOf('unready'))[0] ?? ({} as PodJson)), {
      timeoutMs,
      description: 'the pod to turn unready again',
    });
  });

  it('passes env from fieldRef, a Secret and a ConfigMap to the process', async () => {
    await apply(
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'creds' },
        stringData: { key: 's3cret' },
      },
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'settings' },
        data: { mode: 'fast' },
      },
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'bulk' },
        data: { ONE: '1', TWO: '2' },
      },
    );
    const deployment = echoDeployment('env', {
      env: [
        { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
        { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
        { name: 'APP_LABEL', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
        { name: 'API_KEY', valueFrom: { secretKeyRef: { name: 'creds', key: 'key' } } },
        { name: 'MODE', valueFrom: { configMapKeyRef: { name: 'settings', key: 'mode' } } },
        {
          name: 'ABSENT',
          valueFrom: { configMapKeyRef: { name: 'settings', key: 'nope', optional: true } },
        },
        { name: 'GREETING', value: 'hello from $(POD_NAME)' },
      ],
    }) as { spec: { template: { spec: { containers: Record<string, unknown>[] } } } };
    const container = deployment.spec.template.spec.containers[0];
    if (container !== undefined)
      container['envFrom'] = [{ configMapRef: { name: 'bulk' }, prefix: 'BULK_' }];
    await apply(deployment);
    const [pod] = await waitForReadyPods('env', 1);
    if (pod === undefined) throw new Error('no pod');
    const port = localPort(pod);
    const env = async (name: string): Promise<string> => {
      const answer = await get(port, `/env/${name}`);
      return answer.status === 200 ? answer.body : '<unset>';
    };
    expect({
      POD_NAME: await env('POD_NAME'),
      POD_NAMESPACE: await env('POD_NAMESPACE'),
      POD_IP: await env('POD_IP'),
      APP_LABEL: await env('APP_LABEL'),
      API_KEY: await env('API_KEY'),
      MODE: await env('MODE'),
      ABSENT: await env('ABSENT'),
      GREETING: await env('GREETING'),
      BULK_ONE: await env('BULK_ONE'),
      PORT_HTTP: await env('PORT_HTTP'),
      KUBERNETES_SERVICE_HOST: await env('KUBERNETES_SERVICE_HOST'),
    }).toEqual({
      POD_NAME: pod.metadata.name,
      POD_NAMESPACE: ns.name,
      POD_IP: '127.0.0.1',
      APP_LABEL: 'env',
      API_KEY: 's3cret',
      MODE: 'fast',
      ABSENT: '<unset>',
      GREETING: `hello from ${pod.metadata.name}`,
      BULK_ONE: '1',
      PORT_HTTP: String(port),
      KUBERNETES_SERVICE_HOST: '<unset>',
    });
  });

  it('holds a container with CreateContainerConfigError until its Secret exists', async () => {
    await apply(
      echoDeployment('late-secret', {
        env: [{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'late', key: 'token' } } }],
      }),
    );
    const waiting = await waitFor(
      async () => {
        const [p] = await podsOf('late-secret');
        const reason = p?.status?.containerStatuses?.[0]?.state?.waiting?.reason;
        return reason === 'CreateContainerConfigError' ? p : undefined;
      },
      { timeoutMs, description: 'CreateContainerConfigError' },
    );
    expect(waiting.status?.phase).toBe('Pending');
    expect(waiting.status?.containerStatuses?.[0]?.state?.waiting?.message).toBe(
      'secret "late" not found',
    );

    await apply({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'late' },
      stringData: { token: 'now' },
    });
    const [pod] = await waitForReadyPods('late-secret', 1);
    if (pod === undefined) throw new Error('no pod');
    expect((await get(localPort(pod), '/env/TOKEN')).body).toBe('now');
  });

  it('reports an image the node cannot run as ErrImagePull, naming the image table', async () => {
    const deployment = echoDeployment('unknown-image') as {
      spec: { template: { spec: { containers: { image: string }[] } } };
    };
    const container = deployment.spec.template.spec.containers[0];
    if (container !== undefined) container.image = 'registry.example/nothing:1.0';
    await apply(deployment);
    const waiting = await waitFor(
      async () => {
        const [p] = await podsOf('unknown-image');
        const state = p?.status?.containerStatuses?.[0]?.state?.waiting;
        return state?.reason === 'ErrImagePull' ? state : undefined;
      },
      { timeoutMs, description: 'ErrImagePull' },
    );
    expect(waiting).toEqual({
      reason: 'ErrImagePull',
      message:
        'image registry.example/nothing:1.0 has no local command in tools/cluster/images.json',
    });
  });

  it('restarts a crashing container and counts the restart', async () => {
    await apply(
      echoDeployment('crasher', {
        env: [
          { name: 'EXIT_AFTER_MS', value: '300' },
          { name: 'EXIT_CODE', value: '3' },
        ],
      }),
    );
    const status = await waitFor(
      async () => {
        const s = (await podsOf('crasher'))[0]?.status?.containerStatuses?.[0];
        return s !== undefined && s.restartCount >= 1 ? s : undefined;
      },
      { timeoutMs, description: 'a restart of the crashing container' },
    );
    expect(status.lastState?.terminated?.exitCode).toBe(3);
  });

  it('restarts a container whose liveness probe fails', async () => {
    await apply(
      echoDeployment('unlive', {
        // A numeric probe port reaches the container port's local port.
        livenessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1 },
      }),
    );
    const [pod] = await waitForReadyPods('unlive', 1);
    if (pod === undefined) throw new Error('no pod');
    const pid = pidOf(pod);
    await post(localPort(pod), '/live/false');
    const restarted = await waitFor(
      async () => {
        const [p] = await podsOf('unlive');
        const s = p?.status?.containerStatuses?.[0];
        return s !== undefined && s.restartCount >= 1 && s.state?.running !== undefined
          ? p
          : undefined;
      },
      { timeoutMs, description: 'the unlive container to be restarted' },
    );
    expect(processAlive(pid)).toBe(false);
    expect(pidOf(restarted)).not.toBe(pid);
  });

  it('kills a process that ignores SIGTERM once the grace period is over', async () => {
    await apply(
      echoDeployment('stubborn', {
        env: [{ name: 'IGNORE_SIGTERM', value: 'true' }],
        terminationGracePeriodSeconds: 1,
      }),
    );
    const [pod] = await waitForReadyPods('stubborn', 1);
    if (pod === undefined) throw new Error('no pod');
    const pid = pidOf(pod);

    await kubectl(['delete', 'pod', '-n', ns.name, pod.metadata.name, '--wait=true']);

    expect(processAlive(pid)).toBe(false);
  });

  it('gives the process a kubeconfig with a token of its service account', async () => {
    await apply(echoDeployment('identity'));
    const [pod] = await waitForReadyPods('identity', 1);
    if (pod === undefined) throw new Error('no pod');
    const kubeconfig = (await get(localPort(pod), '/env/KUBECONFIG')).body;
    const whoami = await kubectl([
      '--kubeconfig',
      kubeconfig,
      'auth',
      'whoami',
      '-o',
      'jsonpath={.status.userInfo.username}',
    ]);
    expect(whoami.stdout).toBe(`system:serviceaccount:${ns.name}:default`);
  });

  it('stops every process when the Deployment is deleted', async () => {
    await apply(echoDeployment('doomed', { replicas: 2 }));
    const pods = await waitForReadyPods('doomed', 2);
    const pids = pods.map(pidOf);
    const ports = pods.map((p) => localPort(p));

    await kubectl(['delete', 'deployment', '-n', ns.name, 'doomed']);
    await waitFor(async () => (await podsOf('doomed')).length === 0, {
      timeoutMs,
      description: 'the pods of doomed to be gone',
    });

    expect(pids.map(processAlive)).toEqual([false, false]);
    expect(await Promise.all(ports.map(refusesConnections))).toEqual([true, true]);
  });
});
