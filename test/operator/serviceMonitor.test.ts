/**
 * ServiceMonitors follow the cluster: while the monitoring.coreos.com CRD is absent an agent
 * that asks for one says `MonitoringConfigured=False` (ServiceMonitorCRDMissing) instead of
 * failing; once the CRD is installed the operator creates the ServiceMonitor without being
 * told, and removes it when the agent stops asking.
 *
 * The CRD is cluster-wide: this file installs a minimal stand-in and deletes it afterwards.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { KubeObject } from '../../platform/src/kube/kubeObject.ts';
import { Kinds } from '../../platform/src/kube/resourceKinds.ts';
import { agentDeployment, providerSecret } from '../support/agentFixtures.ts';
import {
  api,
  applyObjects,
  condition,
  getAgent,
  mergePatch,
} from '../support/breakwaterCluster.ts';
import { kubectl, type TestNamespace } from '../support/kube.ts';
import { eventually } from '../support/operator.ts';
import { startScenario, type Scenario } from '../support/operatorScenario.ts';

jest.setTimeout(180_000);

const AGENT = 'watched';
const CRD = 'servicemonitors.monitoring.coreos.com';

/** Just enough of the Prometheus Operator's CRD for the API server to store ServiceMonitors. */
function serviceMonitorCrd(): object {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: CRD, labels: { 'breakwater.dev/test': 'true' } },
    spec: {
      group: 'monitoring.coreos.com',
      scope: 'Namespaced',
      names: {
        kind: 'ServiceMonitor',
        listKind: 'ServiceMonitorList',
        plural: 'servicemonitors',
        singular: 'servicemonitor',
      },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
              },
            },
          },
        },
      ],
    },
  };
}

async function deleteCrd(): Promise<void> {
  await kubectl(['delete', 'crd', CRD, '--ignore-not-found', '--wait=true', '--timeout=60s']);
}

interface ServiceMonitor extends KubeObject {
  spec?: {
    selector?: { matchLabels?: Record<string, string> };
    endpoints?: { port?: string; path?: string; interval?: string }[];
  };
}

let scenario: Scenario;
let ns: TestNamespace;

beforeAll(async () => {
  // The operator must start without the ServiceMonitor CRD.
  await deleteCrd();
  scenario = await startScenario({ prefix: 'op-monitor', seed: 1 });
  ({ ns } = scenario);
}, 120_000);

afterAll(async () => {
  await scenario.end();
  await deleteCrd();
});

describe('an agent that asks for a ServiceMonitor', () => {
  it('says ServiceMonitorCRDMissing while the CRD is absent', async () => {
    await applyObjects(
      ns.name,
      providerSecret(),
      agentDeployment(AGENT, {
        providerURL: 'http://127.0.0.1:9',
        replicas: 0,
        spec: {
          monitoring: {
            serviceMonitor: { enabled: true, interval: '15s', labels: { release: 'prom' } },
          },
        },
      }),
    );
    // The rest of the agent is fine: a missing optional CRD is not a reason to stall, and the
    // agent becomes Ready. The first status may be written before its Deployment is observed,
    // so wait for Ready rather than read it off the first status that has the condition.
    const agent = await eventually(
      async () => {
        const a = await getAgent(ns.name, AGENT);
        return (
          condition(a, 'MonitoringConfigured') !== undefined &&
          condition(a, 'Ready')?.status === 'True' &&
          a
        );
      },
      { timeoutMs: 30_000, description: 'a MonitoringConfigured condition on a Ready agent' },
    );
    expect(condition(agent, 'MonitoringConfigured')).toMatchObject({
      status: 'False',
      reason: 'ServiceMonitorCRDMissing',
    });
    expect(condition(agent, 'Stalled')?.status).toBe('False');
  });

  it('gets its ServiceMonitor once the CRD is installed', async () => {
    await kubectl(['apply', '--server-side', '--force-conflicts', '-f', '-'], {
      input: JSON.stringify(serviceMonitorCrd()),
    });
    await kubectl(['wait', '--for=condition=Established', '--timeout=60s', `crd/${CRD}`]);
    const monitor = await eventually(
      () => api().get<ServiceMonitor>(Kinds.ServiceMonitor, ns.name, AGENT),
      { timeoutMs: 60_000, description: `ServiceMonitor ${AGENT}` },
    );
    const agent = await eventually(
      async () => {
        const a = await getAgent(ns.name, AGENT);
        return condition(a, 'MonitoringConfigured')?.status === 'True' && a;
      },
      { timeoutMs: 30_000, description: 'MonitoringConfigured=True' },
    );
    expect(condition(agent, 'MonitoringConfigured')?.reason).toBe('ServiceMonitorApplied');
    expect(monitor.metadata?.labels).toMatchObject({ release: 'prom' });
    expect(monitor.metadata?.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'AgentDeployment', uid: agent.metadata.uid }),
    ]);
    expect(monitor.spec).toEqual({
      selector: { matchLabels: { 'breakwater.dev/agent': AGENT } },
      endpoints: [{ port: 'metrics', path: '/metrics', interval: '15s' }],
    });
  });

  it('loses its ServiceMonitor when it stops asking for one', async () => {
    await mergePatch(ns.name, `agd/${AGENT}`, {
      spec: { monitoring: { serviceMonitor: { enabled: false } } },
    });
    await eventually(
      async () => (await api().get(Kinds.ServiceMonitor, ns.name, AGENT)) === undefined,
      { timeoutMs: 30_000, description: `ServiceMonitor ${AGENT} to be deleted` },
    );
    // The reconcile that deleted it writes status after the delete: wait for that write.
    const agent = await eventually(
      async () => {
        const a = await getAgent(ns.name, AGENT);
        return condition(a, 'MonitoringConfigured')?.reason === 'NotRequested' && a;
      },
      { timeoutMs: 30_000, description: 'MonitoringConfigured reason NotRequested' },
    );
    expect(condition(agent, 'MonitoringConfigured')).toMatchObject({
      status: 'True',
      reason: 'NotRequested',
    });
  });
});
