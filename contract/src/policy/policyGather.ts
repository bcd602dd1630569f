/**
 * The one way in: every object an AgentDeployment refers to, listed once (`agentReferences`),
 * collected from whatever holds the objects (`gatherAgentInputs` with an `ObjectLookup`: the
 * operator's informer caches, a folder of manifests, one manifest file), and handed to
 * `resolvePolicy` as its inputs. A reference the API gains is added here, and every source
 * honours it; none can resolve an agent with one of its references quietly dropped.
 */
import type { AgentDeployment, CircuitBreakerPolicy, RateLimitPolicy } from '../api/resources.ts';
import type { ResolveInputs } from './policyResolution.ts';
import { storeSecretReads } from './storeSecretReads.ts';

/** The kinds an agent's spec names by `name` in its own namespace. */
export type ReferencedKind = 'CircuitBreakerPolicy' | 'RateLimitPolicy' | 'ConfigMap' | 'Secret';

export interface AgentReference {
  readonly kind: ReferencedKind;
  readonly name: string;
  /** The spec field that names it, for messages: `mcpServers[notes].circuitBreakerPolicyRef`. */
  readonly field: string;
  /** For a ConfigMap or Secret: the key read, when the reference names one. */
  readonly key?: string;
}

/** A ConfigMap or Secret as far as the gather step reads it. */
export interface DataObject {
  readonly data?: Readonly<Record<string, string>>;
  readonly stringData?: Readonly<Record<string, string>>;
}

/** What each kind's lookup returns. */
export interface ReferencedObjects {
  readonly CircuitBreakerPolicy: CircuitBreakerPolicy;
  readonly RateLimitPolicy: RateLimitPolicy;
  readonly ConfigMap: DataObject;
  readonly Secret: DataObject;
}

/**
 * Reads one object the agent refers to, in the agent's namespace; undefined when it does not
 * exist. Synchronous for caches and files, asynchronous for an API read.
 */
export type ObjectLookup = <K extends ReferencedKind>(
  kind: K,
  name: string,
) => ReferencedObjects[K] | undefined | Promise<ReferencedObjects[K] | undefined>;

/** Every object the agent's spec refers to, in spec order; one entry per field that names one. */
export function agentReferences(agent: Readonly<AgentDeployment>): AgentReference[] {
  const spec = agent.spec;
  const refs: AgentReference[] = [];
  const add = (ref: AgentReference | undefined): void => {
    if (ref !== undefined) refs.push(ref);
  };
  const named = (
    kind: ReferencedKind,
    field: string,
    ref: { readonly name: string; readonly key?: string } | undefined,
  ): AgentReference | undefined =>
    ref === undefined
      ? undefined
      : { kind, name: ref.name, field, ...(ref.key === undefined ? {} : { key: ref.key }) };

  add(named('CircuitBreakerPolicy', 'circuitBreakerPolicyRef', spec.circuitBreakerPolicyRef));
  add(named('RateLimitPolicy', 'rateLimitPolicyRef', spec.rateLimitPolicyRef));
  add(
    named('ConfigMap', 'systemPromptFrom.configMapKeyRef', spec.systemPromptFrom?.configMapKeyRef),
  );
  add(named('Secret', 'provider.apiKeySecretRef', spec.provider.apiKeySecretRef));
  for (const backend of spec.backends ?? []) {
    add(named('Secret', `backends[${backend.name}].apiKeySecretRef`, backend.apiKeySecretRef));
    add(
      named(
        'Secret',
        `backends[${backend.name}].credentialsSecretRef`,
        backend.credentialsSecretRef,
      ),
    );
  }
  for (const server of spec.mcpServers ?? []) {
    const at = `mcpServers[${server.name}]`;
    add(
      named(
        'CircuitBreakerPolicy',
        `${at}.circuitBreakerPolicyRef`,
        server.circuitBreakerPolicyRef,
      ),
    );
    add(named('Secret', `${at}.headersSecretRef`, server.headersSecretRef));
  }
  add(named('Secret', 'access.clientKeysSecretRef', spec.access?.clientKeysSecretRef));
  const durability = spec.durability;
  if (durability !== undefined) {
    const redis = durability.store.redis;
    add(named('Secret', 'durability.encryptionKeySecretRef', durability.encryptionKeySecretRef));
    add(named('Secret', 'durability.store.redis.passwordSecretRef', redis.passwordSecretRef));
    add(named('Secret', 'durability.store.redis.tls.caSecretRef', redis.tls?.caSecretRef));
    add(
      named(
        'Secret',
        'durability.store.redis.sentinel.passwordSecretRef',
        redis.sentinel?.passwordSecretRef,
      ),
    );
  }
  return refs;
}

/** Whether the agent's document depends on this object (a change of it must reach the agent). */
export function refersTo(
  agent: Readonly<AgentDeployment>,
  kind: ReferencedKind,
  name: string,
): boolean {
  return agentReferences(agent).some((r) => r.kind === kind && r.name === name);
}

export interface GatheredAgent {
  /** Everything `resolvePolicy` takes but the ready replicas, which only the cluster knows. */
  readonly inputs: Omit<ResolveInputs, 'readyReplicas'>;
  /**
   * One line per referenced policy or ConfigMap key that does not exist: the agent runs with
   * the defaults until it does (the operator's PoliciesResolved condition lists these).
   */
  readonly missing: readonly string[];
  /** The Secrets the agent refers to that exist, by name (the manifest source reads keys from them). */
  readonly secrets: ReadonlyMap<string, DataObject>;
  /** Referenced Secrets that do not exist, with the fields that name them. */
  readonly missingSecrets: readonly AgentReference[];
  /**
   * Why the agent may not run as specified, one line per field: its own container reads a
   * Secret that holds its RateLimitPolicy's store password (`storeSecretReads`). A check across
   * two objects, which admission cannot make; every source refuses the agent while any is listed.
   */
  readonly forbidden: readonly string[];
}

/**
 * Collects what the agent refers to through `lookup` and returns `resolvePolicy`'s inputs.
 * Each object is read once however many fields name it.
 */
export async function gatherAgentInputs(
  agent: AgentDeployment,
  lookup: ObjectLookup,
): Promise<GatheredAgent> {
  const refs = agentReferences(agent);
  const found = new Map<string, ReferencedObjects[ReferencedKind] | undefined>();
  for (const ref of refs) {
    const id = `${ref.kind}/${ref.name}`;
    if (!found.has(id)) found.set(id, await lookup(ref.kind, ref.name));
  }
  const get = <K extends ReferencedKind>(kind: K, name: string) =>
    found.get(`${kind}/${name}`) as ReferencedObjects[K] | undefined;

  const missing: string[] = [];
  const reported = new Set<string>();
  const missingSecrets: AgentReference[] = [];
  const secrets = new Map<string, DataObject>();
  const mcpBreakerPolicies = new Map<string, CircuitBreakerPolicy>();
  let circuitBreakerPolicy: CircuitBreakerPolicy | undefined;
  let rateLimitPolicy: RateLimitPolicy | undefined;
  let systemPromptFromRef: string | undefined;

  for (const ref of refs) {
    switch (ref.kind) {
      case 'CircuitBreakerPolicy': {
        const policy = get('CircuitBreakerPolicy', ref.name);
        if (ref.field === 'circuitBreakerPolicyRef') circuitBreakerPolicy = policy;
        else if (policy !== undefined) mcpBreakerPolicies.set(ref.name, policy);
        if (policy === undefined) reportMissing(missing, reported, refs, ref);
        break;
      }
      case 'RateLimitPolicy':
        rateLimitPolicy = get('RateLimitPolicy', ref.name);
        if (rateLimitPolicy === undefined) reportMissing(missing, reported, refs, ref);
        break;
      case 'ConfigMap':
        systemPromptFromRef = dataValue(get('ConfigMap', ref.name), ref.key ?? '');
        if (systemPromptFromRef === undefined)
          missing.push(`ConfigMap ${ref.name} key ${ref.key ?? ''}`);
        break;
      case 'Secret': {
        const secret = get('Secret', ref.name);
        if (secret === undefined) missingSecrets.push(ref);
        else secrets.set(ref.name, secret);
        break;
      }
    }
  }
  return {
    inputs: {
      agent,
      circuitBreakerPolicy,
      rateLimitPolicy,
      systemPromptFromRef,
      mcpBreakerPolicies,
    },
    missing,
    secrets,
    missingSecrets,
    forbidden: storeSecretReads(agent, rateLimitPolicy),
  };
}

/**
 * `CircuitBreakerPolicy x` for the agent's own policy, and once per policy with the MCP servers
 * that name it (`CircuitBreakerPolicy x (mcpServers a, b)`) for the tools'.
 */
function reportMissing(
  missing: string[],
  reported: Set<string>,
  refs: readonly AgentReference[],
  ref: AgentReference,
): void {
  const own = !ref.field.startsWith('mcpServers[');
  const id = `${ref.kind}/${ref.name}/${own ? 'own' : 'mcp'}`;
  if (reported.has(id)) return;
  reported.add(id);
  if (own) {
    missing.push(`${ref.kind} ${ref.name}`);
    return;
  }
  const servers = refs
    .filter((r) => r.kind === ref.kind && r.name === ref.name && r.field.startsWith('mcpServers['))
    .map((r) => r.field.slice('mcpServers['.length, r.field.indexOf(']')));
  missing.push(`${ref.kind} ${ref.name} (mcpServers ${servers.join(', ')})`);
}

/** A key of a ConfigMap's data (plain text, unlike a Secret's). */
function dataValue(object: DataObject | undefined, key: string): string | undefined {
  return object?.data?.[key];
}
