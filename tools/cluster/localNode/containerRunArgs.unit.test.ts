import { describe, expect, it } from '@jest/globals';
import { containerRunArgs, nonRootRefusal, type ContainerRunInput } from './containerRunArgs.ts';
import type { Pod } from './podTypes.ts';

const pod: Pod = {
  metadata: { name: 'agent-0', namespace: 'team', uid: 'u-1' },
  spec: {
    securityContext: { runAsNonRoot: true, fsGroup: 2000 },
    containers: [
      {
        name: 'runtime',
        image: 'ghcr.io/breakwater-dev/breakwater:0.1.0',
        args: ['--port=$(PORT_HTTP)', '--literal=$$(PORT_HTTP)'],
        securityContext: {
          runAsUser: 65532,
          runAsGroup: 65532,
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
        },
      },
    ],
  },
};
const container = pod.spec.containers[0] ?? { name: '' };

const input = (overrides: Partial<ContainerRunInput> = {}): ContainerRunInput => ({
  pod,
  container,
  name: 'k8s_runtime_agent-0_team_u-1',
  image: 'ghcr.io/breakwater-dev/breakwater:0.1.0',
  imageUser: '65532:65532',
  env: new Map([['PORT_HTTP', '41234']]),
  mounts: [
    {
      hostPath: '/state/sa',
      mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
      readOnly: true,
    },
    { hostPath: '/state/scratch', mountPath: '/scratch', readOnly: false },
  ],
  ...overrides,
});

describe('containerRunArgs', () => {
  it('runs the image with args as CMD, the environment, the mounts and the security context', () => {
    const result = containerRunArgs(input());
    expect(result).toEqual({
      ok: true,
      args: [
        '--rm',
        '--name=k8s_runtime_agent-0_team_u-1',
        '--label=localnode.breakwater.dev/pod-uid=u-1',
        '--pull=never',
        '--network=host',
        '--uts=private',
        '--hostname=agent-0',
        '--env=PORT_HTTP=41234',
        '--volume=/state/sa:/var/run/secrets/kubernetes.io/serviceaccount:ro',
        '--volume=/state/scratch:/scratch',
        '--user=65532:65532',
        '--group-add=2000',
        '--read-only',
        '--read-only-tmpfs=false',
        '--security-opt=no-new-privileges',
        '--cap-drop=ALL',
        'ghcr.io/breakwater-dev/breakwater:0.1.0',
        '--port=41234',
        '--literal=$(PORT_HTTP)',
      ],
    });
  });

  it('replaces the ENTRYPOINT with command, expanded like args', () => {
    const result = containerRunArgs(
      input({
        container: {
          ...container,
          command: ['breakwater-llm-sim', '--port=$(PORT_HTTP)'],
          args: [],
        },
      }),
    );
    expect(result.ok && result.args).toContain(
      '--entrypoint=["breakwater-llm-sim","--port=41234"]',
    );
  });

  it('refuses runAsNonRoot when the image would run as root, as kubelet does', () => {
    const rootPod: Pod = { ...pod, spec: { ...pod.spec, securityContext: { runAsNonRoot: true } } };
    const result = containerRunArgs(
      input({ pod: rootPod, container: { name: 'runtime' }, imageUser: '' }),
    );
    expect(result).toEqual({
      ok: false,
      reason: 'CreateContainerConfigError',
      message:
        'container has runAsNonRoot and image will run as root (pod: "team/agent-0", container: runtime)',
    });
  });
});

describe('nonRootRefusal', () => {
  it.each([
    [undefined, '65532', undefined],
    [undefined, '65532:65532', undefined],
    [1000, '', undefined],
    [0, '65532', "container's runAsUser breaks non-root policy (x)"],
    [undefined, '0:0', 'container has runAsNonRoot and image will run as root (x)'],
    [
      undefined,
      'nonroot',
      'container has runAsNonRoot and image has non-numeric user (nonroot), cannot verify user is non-root (x)',
    ],
  ])('runAsUser %p with image user %p', (runAsUser, imageUser, expected) => {
    expect(nonRootRefusal(runAsUser, imageUser, '(x)')).toBe(expected);
  });
});
