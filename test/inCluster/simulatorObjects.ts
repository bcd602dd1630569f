/**
 * The LLM simulator as a workload of the cluster, from the Breakwater image's
 * `breakwater-llm-sim` entrypoint: a Deployment under the restricted security context the
 * runtime gets (non-root, read-only root, no capabilities) and a Service the agents use as
 * their provider. It listens on every address (`--host=0.0.0.0`): its default, loopback, is
 * unreachable from other pods on a real node.
 */
export const SIMULATOR = 'llm-sim';

export function simulatorObjects(image: string, seed: number): object[] {
  const labels = { 'app.kubernetes.io/name': SIMULATOR };
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: SIMULATOR, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            automountServiceAccountToken: false,
            securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
            terminationGracePeriodSeconds: 5,
            containers: [
              {
                name: 'simulator',
                image,
                imagePullPolicy: 'IfNotPresent',
                command: ['breakwater-llm-sim'],
                args: ['--host=0.0.0.0', '--port=$(PORT_HTTP)', `--seed=${String(seed)}`],
                env: [{ name: 'PORT_HTTP', value: '8080' }],
                ports: [{ name: 'http', containerPort: 8080 }],
                readinessProbe: { tcpSocket: { port: 'http' }, periodSeconds: 1 },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ['ALL'] },
                },
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: SIMULATOR, labels },
      spec: { selector: labels, ports: [{ name: 'http', port: 8080, targetPort: 'http' }] },
    },
  ];
}
