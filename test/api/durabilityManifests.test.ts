/**
 * AgentDeployment `spec.durability` as the real API server admits it (issue 36): a reference
 * to the journal's key that cannot name a Secret's key is refused at admission, naming the
 * field (as invalidManifests.test.ts does for the rest of the API), before any pod would wait
 * on a volume that cannot be mounted; a full valid durability is admitted with its defaults.
 */
import { describe, expect, it } from '@jest/globals';
import { GROUP_VERSION } from '../../contract/src/api/group.ts';
import { FALLBACK_MODEL } from '../../contract/src/api/sampleModels.ts';
import {
  admissionNamespace,
  expectRefusal,
  type Manifest,
  type Refusal,
  type Spec,
} from './admission.ts';

const store = { redis: { address: 'redis.agents.svc:6379' } };
const keyRef = { name: 'journal-key', key: 'key' };

const durability = (fields: Spec): Record<string, unknown> => ({
  store,
  encryptionKeySecretRef: keyRef,
  ...fields,
});

/** An agent whose durability is `fields` over a valid one (undefined removes a field). */
const agent = (fields: Spec): Manifest => ({
  apiVersion: GROUP_VERSION,
  kind: 'AgentDeployment',
  metadata: {},
  spec: {
    model: { name: FALLBACK_MODEL },
    provider: { apiKeySecretRef: { name: 'llm-provider-key', key: 'api-key' } },
    durability: Object.fromEntries(
      Object.entries(durability(fields)).filter(([, value]) => value !== undefined),
    ),
  },
});
const withKeyRef = (ref: Spec): Manifest => agent({ encryptionKeySecretRef: ref });

const FIELD = 'spec.durability.encryptionKeySecretRef';

const rows: readonly Refusal[] = [
  {
    name: 'rejects durability without the journal key',
    manifest: agent({ encryptionKeySecretRef: undefined }),
    field: FIELD,
    says: 'Required value',
  },
  {
    name: 'rejects a key reference without its key',
    manifest: withKeyRef({ name: 'journal-key' }),
    field: `${FIELD}.key`,
    says: 'Required value',
  },
  {
    name: 'rejects a key reference without its Secret',
    manifest: withKeyRef({ key: 'key' }),
    field: `${FIELD}.name`,
    says: 'Required value',
  },
  {
    name: 'rejects a Secret name that is not a DNS subdomain',
    manifest: withKeyRef({ name: 'Journal_Key', key: 'key' }),
    field: `${FIELD}.name`,
    says: 'should match',
  },
  {
    name: 'rejects an empty key',
    manifest: withKeyRef({ name: 'journal-key', key: '' }),
    field: `${FIELD}.key`,
    says: 'at least 1 chars long',
  },
  {
    name: 'rejects a key that cannot be a Secret data key',
    manifest: withKeyRef({ name: 'journal-key', key: 'keys/journal' }),
    field: `${FIELD}.key`,
    says: 'should match',
  },
  {
    name: 'rejects durability without its store',
    manifest: agent({ store: undefined }),
    field: 'spec.durability.store',
    says: 'Required value',
  },
];

const { create, stored } = admissionNamespace('api-durability');

describe('durability', () => {
  it('admits a durable agent, filling in the retention', async () => {
    const result = await create(agent({}), 'durable');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const { spec } = await stored<{ spec: { durability: Spec } }>('agd/durable');
    expect(spec.durability).toMatchObject({ encryptionKeySecretRef: keyRef, retention: '24h' });
  });

  it.each(rows.map((row, index) => ({ ...row, index })))(
    '$name',
    async ({ manifest, field, says, index }) => {
      const result = await create(manifest, `invalid-${String(index)}`);
      expectRefusal(result, { field, says });
    },
  );
});
