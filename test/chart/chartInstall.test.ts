/**
 * The chart installed for real: `helm install` into a throwaway namespace, confined to it with
 * watchNamespace (the cluster is shared with other suites' operators), two replicas behind the
 * lease and a PDB. The operator Deployment becomes Available with the chart's RBAC and
 * security context, one replica leads, and it reconciles the sample agents — which proves
 * its ServiceAccount may create every child, the Roles it hands to runtimes included.
 *
 * BREAKWATER_CHART_IMAGE names an image the nodes have: on the suites' kind cluster, the one
 * the global setup built from this checkout and `kind load`ed.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { AgentDeployment } from '../../contract/src/api/resources.ts';
import type { KubeObject } from '../../platform/src/kube/kubeObject.ts';
import { Kinds, type ResourceKind } from '../../platform/src/kube/resourceKinds.ts';
import { installCrds } from '../api/apiInstallation.ts';
import {
  api,
  condition,
  exists,
  getAgent,
  isPodReady,
  isReadyAgent,
  type PodView,
} from '../support/breakwaterCluster.ts';
import {
  kubeconfigPath,
  kubectl,
  uniqueNamespace,
  waitFor,
  type TestNamespace,
} from '../support/kube.ts';
import { chartDir, findHelm, repoRoot, run } from './chartTools.ts';

jest.setTimeout(180_000);

let ns: TestNamespace;
let helm: string;
let release: string;
let installed = false;

const helmArgs = (...args: string[]): string[] => [...args, '--kubeconfig', kubeconfigPath()];

/** `--set image.*` for BREAKWATER_CHART_IMAGE (repository:tag); none means the chart's default. */
function imageValues(): string[] {
  const image = process.env['BREAKWATER_CHART_IMAGE'];
  if (image === undefined || image === '') return [];
  const colon = image.lastIndexOf(':');
  const [repository, tag] =
    colon > image.lastIndexOf('/') ? [image.slice(0, colon), image.slice(colon + 1)] : [image, ''];
  return ['--set', `image.repository=${repository}`, '--set', `image.tag=${tag}`];
}

/** What the operator names each child of an agent. */
function childName(kind: ResourceKind, agent: string): string {
  if (kind === Kinds.ConfigMap) return `${agent}-policy`;
  if (kind === Kinds.ServiceAccount) return `breakwater-runtime-${agent}`;
  return agent;
}

interface DeploymentView extends KubeObject {
  status?: { availableReplicas?: number; conditions?: { type: string; status: string }[] };
}
interface LeaseView extends KubeObject {
  spec?: { holderIdentity?: string | null };
}

beforeAll(async () => {
  helm = await findHelm();
  await installCrds();
  ns = await uniqueNamespace('chart-install');
  release = `bw-${ns.name.slice(-6)}`;
  await run(
    helm,
    helmArgs(
      'install',
      release,
      chartDir,
      '--namespace',
      ns.name,
      // The suites share the cluster's CRDs, installed from crds/ by installCrds().
      '--skip-crds',
      '--set',
      `watchNamespace=${ns.name}`,
      '--set',
      'replicaCount=2',
      '--set',
      'podDisruptionBudget.enabled=true',
      ...imageValues(),
    ),
  );
  installed = true;
}, 30 * 60_000);

afterAll(async () => {
  if (installed) {
    await run(helm, helmArgs('uninstall', release, '--namespace', ns.name, '--wait'), {
      allowFailure: true,
    });
  }
  await ns.cleanup();
});

describe('helm install', () => {
  it('brings up both operator replicas under the chart RBAC and security context', async () => {
    const name = `${release}-breakwater`;
    const deployment = await waitFor(
      async () => {
        const d = await api().get<DeploymentView>(Kinds.Deployment, ns.name, name);
        if (d?.status?.availableReplicas === 2) return d;
        // Why not yet, for the timeout message: each pod's phase and readiness.
        const { items } = await api().list<PodView>(Kinds.Pod, {
          namespace: ns.name,
          labelSelector: `app.kubernetes.io/instance=${release}`,
        });
        const pods = items.map(
          (p) => `${p.metadata?.name ?? '?'} ${p.status?.phase ?? '?'} ready=${isPodReady(p)}`,
        );
        throw new Error(
          `${d?.status?.availableReplicas ?? 0} available; pods: ${pods.join(', ') || 'none'}`,
        );
      },
      { timeoutMs: 120_000, description: `Deployment ${name} to have 2 available replicas` },
    );
    expect(deployment.status?.conditions).toContainEqual(
      expect.objectContaining({ type: 'Available', status: 'True' }),
    );
  });

  it('lets exactly one replica hold the leader lease', async () => {
    const lease = await waitFor(
      async () => {
        const l = await api().get<LeaseView>(Kinds.Lease, ns.name, 'breakwater-operator');
        return typeof l?.spec?.holderIdentity === 'string' && l.spec.holderIdentity !== ''
          ? l
          : undefined;
      },
      { timeoutMs: 60_000, description: 'Lease breakwater-operator to have a holder' },
    );
    expect(lease.spec?.holderIdentity).toMatch(/\S/);
  });

  it('reconciles the sample agents: every child applied and status written', async () => {
    await kubectl([
      'apply',
      '--server-side',
      '-n',
      ns.name,
      '-k',
      join(repoRoot, 'config/samples'),
    ]);
    // The development agent runs one replica and comes up Ready: its runtime reads its policy
    // ConfigMap and patches its Pod through the Role the operator gave it.
    await waitFor(async () => isReadyAgent(await getAgent(ns.name, 'assistant-development')), {
      timeoutMs: 150_000,
      description: 'AgentDeployment assistant-development to be Ready',
    });
    // The production agent has every optional child the operator may create (an HPA, a PDB)
    // and its client-keys Secret mounted into its pods.
    const production = 'assistant-production';
    await waitFor(
      async () => {
        const agent = await getAgent(ns.name, production);
        const resolved = condition(agent, 'PoliciesResolved')?.status === 'True';
        const children = await Promise.all(
          [
            Kinds.ConfigMap,
            Kinds.ServiceAccount,
            Kinds.Role,
            Kinds.RoleBinding,
            Kinds.Deployment,
            Kinds.Service,
            Kinds.HorizontalPodAutoscaler,
            Kinds.PodDisruptionBudget,
          ].map((kind) => exists(kind, ns.name, childName(kind, production))),
        );
        return resolved && children.every(Boolean);
      },
      { timeoutMs: 90_000, description: `every child of ${production} and PoliciesResolved=True` },
    );
    const agent = (await getAgent(ns.name, production)) as AgentDeployment;
    expect(agent.status?.observedGeneration).toBe(agent.metadata.generation);
  });
});
