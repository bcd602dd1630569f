import { describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../../platform/src/kube/kubeObject.ts';
import type { DeploymentView, PodView } from '../status/views.ts';
import {
  deploymentView,
  ownedView,
  podView,
  viewChanged,
  withoutManagedFields,
} from './cacheViews.ts';

const owner = [
  { apiVersion: 'breakwater.dev/v1alpha1', kind: 'AgentDeployment', name: 'a', uid: 'u' },
];

interface Role extends KubeObject {
  rules?: unknown[];
  status?: unknown;
}

const role = (overrides: Partial<Role> = {}, rv = '1'): Role => ({
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'Role',
  metadata: {
    name: 'a',
    namespace: 'ns',
    resourceVersion: rv,
    ownerReferences: owner,
    ...({ managedFields: [{ manager: 'breakwater-operator' }] } as object),
  },
  rules: [{ verbs: ['get'] }],
  ...overrides,
});

describe('owned objects in the drift caches', () => {
  it.each([
    ['a new resourceVersion alone', role({}, '2'), false],
    ['a status update', role({ status: { observed: true } }, '2'), false],
    ['a hand edit of the rules', role({ rules: [{ verbs: ['*'] }] }, '2'), true],
  ])('%s changes the applied digest: %s', (_what, after, edited) => {
    expect(ownedView(after).applied !== ownedView(role()).applied).toBe(edited);
  });

  it('keep identity and owner, not the body', () => {
    const view = ownedView(role());
    expect(view.metadata).toEqual(
      expect.objectContaining({ name: 'a', namespace: 'ns', ownerReferences: owner }),
    );
    expect(view).not.toHaveProperty('rules');
    expect(view.metadata).not.toHaveProperty('managedFields');
  });
});

describe('cached agents and policies', () => {
  it('lose managedFields and keep everything else', () => {
    const view = withoutManagedFields(role());
    expect(view.metadata).not.toHaveProperty('managedFields');
    expect(view.rules).toEqual([{ verbs: ['get'] }]);
  });
});

describe('cached Deployments and Pods', () => {
  const deployment = (readyReplicas: number, rv: string, revision = '1'): DeploymentView => ({
    metadata: {
      name: 'a',
      namespace: 'ns',
      generation: 1,
      resourceVersion: rv,
      annotations: { 'deployment.kubernetes.io/revision': revision },
    },
    spec: { replicas: 2 },
    status: { observedGeneration: 1, replicas: 2, readyReplicas },
  });

  it('a Deployment annotated by its controller has not changed for the agent', () => {
    expect(
      viewChanged(deploymentView(deployment(1, '3', '2')), deploymentView(deployment(1, '2'))),
    ).toBe(false);
  });

  it('a Deployment whose ready replicas changed has', () => {
    expect(
      viewChanged(deploymentView(deployment(2, '3')), deploymentView(deployment(1, '2'))),
    ).toBe(true);
  });

  it.each([
    ['a Progressing reason moving on', { reason: 'NewReplicaSetAvailable' }, false],
    ['more available replicas', { availableReplicas: 2 }, false],
    [
      'a stalled rollout',
      { status: 'False', reason: 'ProgressDeadlineExceeded', availableReplicas: 1 },
      true,
    ],
  ])('a Deployment status update with %s changes the view: %s', (_what, change, changed) => {
    const withStatus = (status: string, reason: string, availableReplicas: number) => ({
      ...deployment(1, '2'),
      status: {
        observedGeneration: 1,
        replicas: 2,
        readyReplicas: 1,
        availableReplicas,
        conditions: [
          { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable' },
          { type: 'Progressing', status, reason },
        ],
      },
    });
    const before = withStatus('True', 'NewReplicaSetCreated', 1);
    const after = {
      status: 'True',
      reason: 'NewReplicaSetCreated',
      availableReplicas: 1,
      ...change,
    };
    expect(
      viewChanged(
        deploymentView(withStatus(after.status, after.reason, after.availableReplicas)),
        deploymentView(before),
      ),
    ).toBe(changed);
  });

  it('a Pod keeps the labels, annotations and readiness status is computed from', () => {
    const pod = {
      metadata: {
        name: 'p',
        namespace: 'ns',
        labels: { 'breakwater.dev/agent': 'a' },
        annotations: { 'breakwater.dev/policy-hash': 'h' },
      },
      spec: { containers: [] },
      status: {
        phase: 'Running',
        conditions: [{ type: 'Ready', status: 'True', lastProbeTime: null }],
        podIP: '10.0.0.1',
      },
    } as unknown as PodView;
    expect(podView(pod)).toEqual({
      metadata: {
        name: 'p',
        namespace: 'ns',
        labels: { 'breakwater.dev/agent': 'a' },
        annotations: { 'breakwater.dev/policy-hash': 'h' },
      },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
    });
  });
});
