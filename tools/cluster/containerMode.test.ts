/**
 * The local node's container mode against the real control plane: in a namespace labelled for
 * it, a pod runs as a podman container of the Breakwater image (built by the in-cluster
 * suite's helper), and what kubelet would enforce is enforced — the user, a read-only root
 * with no writable tmpfs, no capabilities, no privilege escalation — while what kubelet would
 * mount is there: Secret, ConfigMap and emptyDir volumes and the projected service-account
 * token that authenticates to the API server. runAsNonRoot refuses root as kubelet does, an
 * image not in local storage is never pulled, and a container that ignores SIGTERM is killed
 * when its grace period ends.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { repoRoot } from '../../test/chart/chartTools.ts';
import { imageUnderTest } from '../../test/inCluster/imageUnderTest.ts';
import { kubectl, uniqueNamespace, waitFor, type TestNamespace } from '../../test/support/kube.ts';

const run = promisify(execFile);
const portsAnnotation = 'localnode.breakwater.dev/ports';

jest.setTimeout(120_000);

let ns: TestNamespace;
let image: string;

beforeAll(async () => {
  image = await imageUnderTest();
  ns = await uniqueNamespace('container-mode', { 'localnode.breakwater.dev/containers': 'true' });
}, 20 * 60_000);

afterAll(async () => {
  await ns.cleanup();
});

interface PodJson {
  metadata: { name: string; uid: string; annotations?: Record<string, string> };
  status?: {
    conditions?: { type: string; status: string }[];
    containerStatuses?: {
      restartCount: number;
      state?: { waiting?: { reason?: string; message?: string }; running?: object };
      lastState?: { terminated?: { exitCode: number } };
    }[];
  };
}

async function apply(...objects: object[]): Promise<void> {
  await kubectl(['apply', '-n', ns.name, '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
  });
}

async function getPod(name: string): Promise<PodJson | undefined> {
  const { stdout, code } = await kubectl(['get', '-n', ns.name, '-o', 'json', 'pod', name], {
    allowFailure: true,
  });
  return code === 0 ? (JSON.parse(stdout) as PodJson) : undefined;
}

const isReady = (pod: PodJson | undefined): boolean =>
  pod?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

/** A container that serves, on PORT_HTTP, what it finds when it looks around itself. */
const inspector = `
const fs = require('node:fs');
const tryWrite = (path) => { try { fs.writeFileSync(path, 'x'); return 'written'; } catch (e) { return e.code; } };
const read = (path) => { try { return fs.readFileSync(path, 'utf8'); } catch (e) { return e.code; } };
const status = read('/proc/self/status');
const field = (name) => (new RegExp(name + ':\\\\s*(\\\\S+)').exec(status) ?? [])[1];
const sa = '/var/run/secrets/kubernetes.io/serviceaccount';
require('node:http').createServer(async (req, res) => {
  const host = process.env.KUBERNETES_SERVICE_HOST, port = process.env.KUBERNETES_SERVICE_PORT;
  const ns = read(sa + '/namespace');
  const api = await new Promise((resolve) => {
    require('node:https').get({ host, port, path: '/api/v1/namespaces/' + ns + '/secrets',
      ca: read(sa + '/ca.crt'), headers: { authorization: 'Bearer ' + read(sa + '/token') } },
      (r) => { r.resume(); resolve(r.statusCode); }).on('error', (e) => resolve(String(e)));
  });
  res.end(JSON.stringify({
    uid: process.getuid(), gid: process.getgid(), groups: process.getgroups(),
    hostname: require('node:os').hostname(),
    root: tryWrite('/written-to-root'), tmp: tryWrite('/tmp/x'), scratch: tryWrite('/scratch/x'),
    secret: read('/etc/keys/key'), config: read('/etc/prompt/prompt.txt'),
    namespace: ns, caPem: read(sa + '/ca.crt').startsWith('-----BEGIN CERTIFICATE-----'),
    env: { fromSecret: process.env.FROM_SECRET, podName: process.env.POD_NAME },
    capEff: field('CapEff'), noNewPrivs: field('NoNewPrivs'), api,
  }));
}).listen(Number(process.env.PORT_HTTP));
`;

describe('container mode', () => {
  it('runs the pod as its image and security context say, with its volumes and token', async () => {
    await apply(
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'keys' },
        stringData: { key: 's3cret' },
      },
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'prompt' },
        data: { 'prompt.txt': 'Be brief.' },
      },
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'inspector' },
        spec: {
          securityContext: { runAsNonRoot: true, fsGroup: 2000 },
          volumes: [
            { name: 'keys', secret: { secretName: 'keys' } },
            { name: 'prompt', configMap: { name: 'prompt' } },
            { name: 'scratch', emptyDir: {} },
          ],
          containers: [
            {
              name: 'inspector',
              image,
              command: ['/nodejs/bin/node', '-e', inspector],
              env: [
                { name: 'PORT_HTTP', value: '8080' },
                { name: 'FROM_SECRET', valueFrom: { secretKeyRef: { name: 'keys', key: 'key' } } },
                { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              ],
              ports: [{ name: 'http', containerPort: 8080 }],
              readinessProbe: { tcpSocket: { port: 'http' }, periodSeconds: 1 },
              volumeMounts: [
                { name: 'keys', mountPath: '/etc/keys' },
                { name: 'prompt', mountPath: '/etc/prompt' },
                { name: 'scratch', mountPath: '/scratch' },
              ],
              securityContext: {
                readOnlyRootFilesystem: true,
                allowPrivilegeEscalation: false,
                capabilities: { drop: ['ALL'] },
              },
            },
          ],
        },
      },
    );
    const pod = await waitFor(
      async () => isReady(await getPod('inspector')) && getPod('inspector'),
      {
        timeoutMs: 60_000,
        description: 'pod inspector to be ready',
      },
    );
    const port = (
      JSON.parse(pod.metadata.annotations?.[portsAnnotation] ?? '{}') as { http: number }
    ).http;
    const seen = (await (await fetch(`http://127.0.0.1:${String(port)}/`)).json()) as Record<
      string,
      unknown
    >;
    expect(seen).toEqual({
      uid: 65532,
      gid: 65532,
      groups: expect.arrayContaining([2000]) as unknown,
      hostname: 'inspector',
      root: 'EROFS',
      tmp: 'EROFS',
      scratch: 'written',
      secret: 's3cret',
      config: 'Be brief.',
      namespace: ns.name,
      caPem: true,
      env: { fromSecret: 's3cret', podName: 'inspector' },
      capEff: '0000000000000000',
      noNewPrivs: '1',
      // The token authenticates (a rejected one would be 401); the default account may not list Secrets.
      api: 403,
    });
    // It is a container of the image, not a process of this checkout.
    const { stdout } = await run(join(repoRoot, 'scripts/image/podman.sh'), [
      'ps',
      '--format={{.Image}}',
      `--filter=label=localnode.breakwater.dev/pod-uid=${pod.metadata.uid}`,
    ]);
    expect(stdout.trim()).toBe(image);
  });

  it('refuses runAsNonRoot for a root user, and never pulls an image it does not have', async () => {
    await apply(
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'as-root' },
        spec: {
          securityContext: { runAsNonRoot: true, runAsUser: 0 },
          containers: [
            {
              name: 'c',
              image,
              command: ['/nodejs/bin/node', '-e', 'setInterval(() => {}, 1000)'],
            },
          ],
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'not-here' },
        spec: { containers: [{ name: 'c', image: 'registry.invalid/nothing:1' }] },
      },
    );
    const waiting = (name: string) =>
      waitFor(
        async () => {
          const state = (await getPod(name))?.status?.containerStatuses?.[0]?.state?.waiting;
          return state?.reason !== 'ContainerCreating' && state;
        },
        {
          timeoutMs: 30_000,
          description: `pod ${name} to wait`,
        },
      );
    expect(await waiting('as-root')).toEqual({
      reason: 'CreateContainerConfigError',
      message: `container's runAsUser breaks non-root policy (pod: "${ns.name}/as-root", container: c)`,
    });
    expect(await waiting('not-here')).toMatchObject({ reason: 'ErrImageNeverPull' });
  });

  it('restarts a crashing container, with its exit code as the last state', async () => {
    await apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'crasher' },
      spec: {
        containers: [
          {
            name: 'c',
            image,
            command: ['/nodejs/bin/node', '-e', 'setTimeout(() => process.exit(3), 300)'],
          },
        ],
      },
    });
    const status = await waitFor(
      async () => {
        const s = (await getPod('crasher'))?.status?.containerStatuses?.[0];
        return s !== undefined && s.restartCount >= 1 && s;
      },
      { timeoutMs: 60_000, description: 'a restart of the crashing container' },
    );
    expect(status.lastState?.terminated?.exitCode).toBe(3);
  });

  it('kills a container that ignores SIGTERM when its grace period ends', async () => {
    await apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'stubborn' },
      spec: {
        terminationGracePeriodSeconds: 2,
        containers: [
          {
            name: 'c',
            image,
            command: [
              '/nodejs/bin/node',
              '-e',
              "process.on('SIGTERM', () => {}); require('node:http').createServer().listen(Number(process.env.PORT_HTTP))",
            ],
            env: [{ name: 'PORT_HTTP', value: '8080' }],
            ports: [{ name: 'http', containerPort: 8080 }],
            readinessProbe: { tcpSocket: { port: 'http' }, periodSeconds: 1 },
          },
        ],
      },
    });
    const pod = await waitFor(async () => isReady(await getPod('stubborn')) && getPod('stubborn'), {
      timeoutMs: 60_000,
      description: 'pod stubborn to be ready',
    });
    const deletedAt = Date.now();
    await kubectl(['delete', '-n', ns.name, 'pod', 'stubborn', '--wait=true', '--timeout=30s']);
    const tookMs = Date.now() - deletedAt;
    // Not before the grace period: SIGTERM alone did nothing.
    expect(tookMs).toBeGreaterThanOrEqual(2_000);
    const { stdout } = await run(join(repoRoot, 'scripts/image/podman.sh'), [
      'ps',
      '--all',
      '--quiet',
      `--filter=label=localnode.breakwater.dev/pod-uid=${pod.metadata.uid}`,
    ]);
    expect(stdout.trim()).toBe('');
  });
});
