import { describe, expect, it } from '@jest/globals';
import { buildChildren } from './childObjects.ts';
import { documentFor, ownContainerAgent, testOptions } from './builderFixtures.ts';
import type { Deployment } from './deployment.ts';

/** The own-container agent with durable runs: its key and store Secrets are the runtime's. */
function durableAgent() {
  const agent = ownContainerAgent();
  agent.spec.durability = {
    store: {
      redis: {
        address: 'redis.agents.svc:6379',
        passwordSecretRef: { name: 'journal-redis', key: 'password' },
        tls: { enabled: true, caSecretRef: { name: 'journal-redis', key: 'ca.crt' } },
      },
    },
    encryptionKeySecretRef: { name: 'journal-key', key: 'key' },
  };
  return agent;
}

function deployment(): Deployment {
  const agent = durableAgent();
  const children = buildChildren(agent, documentFor(agent), testOptions);
  const found = children.apply.find((o) => o.kind === 'Deployment');
  if (found === undefined) throw new Error('no Deployment');
  return found as Deployment;
}

describe('durability Secrets', () => {
  it('mounts the journal key and the store password and CA into the runtime container only', () => {
    const pod = deployment().spec.template.spec;
    if (pod === undefined) throw new Error('no pod spec');
    const runtime = pod.initContainers?.[0];
    const agent = pod.containers[0];
    expect(pod.volumes?.filter((v) => v.name.startsWith('durability-'))).toEqual([
      {
        name: 'durability-key',
        secret: { secretName: 'journal-key', items: [{ key: 'key', path: 'key' }], optional: true },
      },
      {
        name: 'durability-store-auth',
        secret: {
          secretName: 'journal-redis',
          items: [{ key: 'password', path: 'password' }],
          optional: true,
        },
      },
      {
        name: 'durability-store-tls',
        secret: {
          secretName: 'journal-redis',
          items: [{ key: 'ca.crt', path: 'ca.crt' }],
          optional: true,
        },
      },
    ]);
    expect(runtime?.env).toEqual(
      expect.arrayContaining([
        {
          name: 'BREAKWATER_DURABILITY_KEY_FILE',
          value: '/var/run/secrets/breakwater.dev/durability/key/key',
        },
        {
          name: 'BREAKWATER_DURABILITY_PASSWORD_FILE',
          value: '/var/run/secrets/breakwater.dev/durability/auth/password',
        },
      ]),
    );
    expect(runtime?.volumeMounts?.map((m) => m.name)).toEqual(
      expect.arrayContaining(['durability-key', 'durability-store-auth', 'durability-store-tls']),
    );
    expect(JSON.stringify(agent)).not.toContain('durability');
  });

  it('writes the settings into the document with the retention default and the run prefix', () => {
    expect(documentFor(durableAgent()).durability).toEqual({
      store: {
        redis: {
          address: 'redis.agents.svc:6379',
          passwordSecretRef: { name: 'journal-redis', key: 'password' },
          tls: { caSecretRef: { name: 'journal-redis', key: 'ca.crt' } },
        },
      },
      retentionMs: 86_400_000,
      encryptionKeySecretRef: { name: 'journal-key', key: 'key' },
      keyPrefix: 'breakwater:run:agents/triage-agent',
    });
  });
});
