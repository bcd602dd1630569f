/**
 * The one rule admission cannot state: the team's agent container may not read a Secret that
 * holds the password of its RateLimitPolicy's store. The agent's CEL refuses the Secrets the
 * AgentDeployment itself names for the runtime; the store's live in the policy, another object,
 * so the gather step (which holds both) checks them. With the password, an agent could rewrite
 * its own budget accounts in Redis.
 *
 * A CA certificate (`tls.caSecretRef`) is not secret, and the agent may read it.
 */
import type { AgentDeployment, RateLimitPolicy } from '../api/resources.ts';

/** A Secret of the store's that only the runtime reads, and the policy field that names it. */
interface StoreSecret {
  readonly name: string;
  readonly field: string;
}

/** Where the agent container reads a Secret: its field, in the manifest's terms. */
interface AgentSecretRead {
  readonly name: string;
  readonly field: string;
}

/**
 * One line per field of the agent's that reads a store password Secret, naming the agent's
 * field, the Secret, the policy's field and the fix; empty when there is none. Each line opens
 * with the agent's field as the API server's refusals do (`spec.x: Forbidden: …`).
 */
export function storeSecretReads(
  agent: Readonly<AgentDeployment>,
  policy: Readonly<RateLimitPolicy> | undefined,
): string[] {
  const stored = storeSecrets(policy);
  if (stored.length === 0) return [];
  const policyName = policy?.metadata.name ?? '';
  const lines: string[] = [];
  for (const read of agentSecretReads(agent))
    for (const secret of stored)
      if (secret.name === read.name)
        lines.push(
          `${read.field}: Forbidden: Secret ${read.name} holds the rate-limit store's password ` +
            `(RateLimitPolicy ${policyName} ${secret.field}), which only the runtime reads: ` +
            `with it the agent could rewrite its own budgets in the store. Give the agent ` +
            `container credentials of its own, in a Secret the policy does not name`,
        );
  return lines;
}

function storeSecrets(policy: Readonly<RateLimitPolicy> | undefined): StoreSecret[] {
  const redis = policy?.spec.store?.redis;
  if (redis === undefined) return [];
  const secrets: StoreSecret[] = [];
  if (redis.passwordSecretRef !== undefined)
    secrets.push({
      name: redis.passwordSecretRef.name,
      field: 'spec.store.redis.passwordSecretRef',
    });
  if (redis.sentinel?.passwordSecretRef !== undefined)
    secrets.push({
      name: redis.sentinel.passwordSecretRef.name,
      field: 'spec.store.redis.sentinel.passwordSecretRef',
    });
  return secrets;
}

function agentSecretReads(agent: Readonly<AgentDeployment>): AgentSecretRead[] {
  const reads: AgentSecretRead[] = [];
  const container = agent.spec.agent;
  container?.env?.forEach((env, i) => {
    const ref = env.valueFrom?.secretKeyRef;
    if (ref !== undefined)
      reads.push({ name: ref.name, field: `spec.agent.env[${i}].valueFrom.secretKeyRef` });
  });
  container?.envFrom?.forEach((source, i) => {
    if (source.secretRef !== undefined)
      reads.push({ name: source.secretRef.name, field: `spec.agent.envFrom[${i}].secretRef` });
  });
  // Volumes are the agent container's alone: the runtime's mounts are the operator's own.
  agent.spec.podTemplate?.volumes?.forEach((volume, i) => {
    if (volume.secret !== undefined)
      reads.push({
        name: volume.secret.secretName,
        field: `spec.podTemplate.volumes[${i}].secret`,
      });
  });
  return reads;
}
