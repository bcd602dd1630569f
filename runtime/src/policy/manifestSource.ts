/**
 * `--manifests <file-or-dir>`: the AgentDeployment, CircuitBreakerPolicy, RateLimitPolicy
 * (and optional Secrets and system-prompt ConfigMap) YAML a user would apply to a cluster,
 * gathered and resolved as the operator does (`gatherAgentInputs`, then `resolvePolicy`: every
 * reference the API has, through the one gather step) and reloaded when the files change. With
 * several AgentDeployments (`config/samples/`), `--agent NAME` picks one.
 *
 * Secrets stand in for what the operator would put in the pod's environment: the provider
 * keys an agent's `apiKeySecretRef`s name (a key in the environment is used only when its
 * Secret is not among the manifests) and the client keys of `access.clientKeysSecretRef`
 * (BREAKWATER_CLIENT_KEYS, when set, wins).
 */
import { CLIENT_KEYS_ENV } from '../../../contract/src/pod/runtimeEnvironment.ts';
import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { AgentDeployment } from '../../../contract/src/api/resources.ts';
import { ADMISSION_SCHEMA } from '../../../contract/src/api/admissionSchema.ts';
import { FIELD_SHAPES } from '../../../contract/src/api/fieldShapes.ts';
import { describeUnknownFields, unknownFields } from '../../../contract/src/api/unknownFields.ts';
import { celViolations, describeViolations } from './celAdmission.ts';
import { schemaViolations } from './schemaChecks.ts';
import { keysFromSecret } from '../access/clientKeys.ts';
import type { Cancel } from '../../../platform/src/time/clock.ts';
import { apiKeySources, resolvePolicy } from '../../../contract/src/policy/policyResolution.ts';
import { checkPolicyDocument } from '../../../contract/src/policy/policyValidation.ts';
import { inManifestTerms } from '../../../contract/src/policy/specPaths.ts';
import {
  gatherAgentInputs,
  type DataObject,
  type ObjectLookup,
  type ReferencedObjects,
} from '../../../contract/src/policy/policyGather.ts';
import type { PolicyIntake, SourceDeps } from './sourceDeps.ts';

const SETTLE_MS = 50;
const EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/** The Breakwater kinds whose fields are checked as kubectl's strict validation would. */
const CHECKED_KINDS = new Set(['AgentDeployment', 'CircuitBreakerPolicy', 'RateLimitPolicy']);

export interface ManifestObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

export class ManifestSource {
  readonly #path: string;
  readonly #agentName: string | undefined;
  readonly #intake: PolicyIntake;
  readonly #deps: SourceDeps;
  readonly #envKeys: string[] | undefined;
  #watcher: FSWatcher | undefined;
  #pending: Cancel | undefined;

  constructor(
    options: { readonly path: string; readonly agent?: string | undefined },
    intake: PolicyIntake,
    deps: SourceDeps,
  ) {
    this.#path = resolve(options.path);
    this.#agentName = options.agent;
    this.#intake = intake;
    this.#deps = deps;
    const raw = deps.env[CLIENT_KEYS_ENV];
    this.#envKeys = raw
      ?.split(',')
      .map((k) => k.trim())
      .filter((k) => k !== '');
  }

  get source(): string {
    return `manifests:${this.#path}`;
  }

  async start(): Promise<void> {
    await this.reload();
    this.#watcher = watch(this.#path, { recursive: false }, () => {
      this.#pending?.();
      this.#pending = this.#deps.clock.setTimeout(() => void this.reload(), SETTLE_MS);
    });
  }

  stop(): void {
    this.#pending?.();
    this.#watcher?.close();
  }

  async reload(): Promise<void> {
    let objects: ManifestObject[];
    try {
      objects = await readManifests(this.#path);
    } catch (err) {
      this.#intake.store.reject(`cannot read manifests: ${(err as Error).message}`, this.source);
      return;
    }
    const unknown = admissionErrors(objects);
    if (unknown !== undefined) {
      this.#intake.store.reject(unknown, this.source);
      return;
    }
    const agents = objects.filter(
      (o) => o.kind === 'AgentDeployment',
    ) as unknown as AgentDeployment[];
    const chosen = chooseAgent(agents, this.#agentName, this.#path);
    if (typeof chosen === 'string') {
      this.#intake.store.reject(chosen, this.source);
      return;
    }
    const agent = chosen;
    const namespace = agent.metadata.namespace;
    // An object of the agent's namespace, or of none (manifests often leave it to kubectl).
    const find = <K extends keyof ReferencedObjects>(kind: K, name: string) =>
      objects.find(
        (o) =>
          o.kind === kind &&
          o.metadata?.name === name &&
          (o.metadata.namespace === undefined || o.metadata.namespace === namespace),
      ) as ReferencedObjects[K] | undefined;
    const lookup: ObjectLookup = find;
    let doc;
    let gathered;
    try {
      gathered = await gatherAgentInputs(agent, lookup);
      doc = resolvePolicy(gathered.inputs);
    } catch (err) {
      this.#intake.store.reject(
        `cannot resolve the manifests: ${(err as Error).message}`,
        this.source,
      );
      return;
    }
    // What admission cannot see across two objects, refused as admission would refuse a field.
    if (gathered.forbidden.length > 0) {
      this.#intake.store.reject(
        `AgentDeployment "${agent.metadata.name ?? '?'}" may not run as written: ${gathered.forbidden.join('; ')}`,
        this.source,
      );
      return;
    }
    for (const line of gathered.missing)
      this.#deps.logger.warn(
        { missing: line, path: this.#path },
        `${line} is not among the manifests: running with the schema's defaults for it`,
      );
    // A Secret not there leaves what it holds out, as a missing Secret volume does in a pod;
    // said once per reload. (A provider key may come from the environment instead, and a
    // missing client-key Secret is told below.)
    for (const ref of gathered.missingSecrets)
      if (!ref.field.endsWith('apiKeySecretRef') && ref.field !== 'access.clientKeysSecretRef')
        this.#deps.logger.warn(
          { missing: `Secret ${ref.name}`, field: ref.field, path: this.#path },
          `Secret ${ref.name} (spec.${ref.field}) is not among the manifests: what it holds is left out`,
        );
    this.#applyClientKeys(
      doc.access.clientKeysSecret === undefined
        ? undefined
        : gathered.secrets.get(doc.access.clientKeysSecret),
      doc.access.clientKeysSecret,
    );
    this.#intake.useProviderKeys(providerKeys(agent, (name) => gathered.secrets.get(name)));
    const keyRef = doc.durability?.encryptionKeySecretRef;
    this.#intake.useDurabilityKey?.(
      keyRef === undefined ? undefined : secretBytes(gathered.secrets.get(keyRef.name), keyRef.key),
    );
    // No admission named the field: the check's error is told in the manifest's words.
    const checked = checkPolicyDocument(doc);
    if (checked.ok) {
      this.#deps.mounts?.write(doc, (name) => find('Secret', name));
      this.#intake.store.offerDocument(doc, this.source);
      // A policy that waits for its modules is in force when this returns (start() waits for it).
      await this.#intake.store.settled();
    } else this.#intake.store.reject(inManifestTerms(checked.error), this.source);
  }

  #applyClientKeys(secret: DataObject | undefined, secretName: string | undefined): void {
    if (this.#envKeys !== undefined) this.#intake.clientKeys.set(this.#envKeys);
    else if (secretName === undefined) this.#intake.clientKeys.set(undefined);
    else if (secret !== undefined) this.#intake.clientKeys.set(keysFromSecret(secret));
    else {
      this.#deps.logger.warn(
        { secret: secretName },
        'client-key Secret not among the manifests: every call will get 401',
      );
      this.#intake.clientKeys.set([]);
    }
  }
}

/** The AgentDeployment to run, or why there is none to pick. */
export function chooseAgent(
  agents: readonly AgentDeployment[],
  name: string | undefined,
  path: string,
): AgentDeployment | string {
  const names = agents.map((a) => a.metadata.name).join(', ');
  if (name !== undefined) {
    const agent = agents.find((a) => a.metadata.name === name);
    if (agent !== undefined) return agent;
    return agents.length === 0
      ? `${path} holds no AgentDeployment (looking for "${name}")`
      : `${path} holds no AgentDeployment named "${name}"; it holds: ${names}`;
  }
  const [only] = agents;
  if (only !== undefined && agents.length === 1) return only;
  return agents.length === 0
    ? `${path} holds no AgentDeployment`
    : `${path} holds ${agents.length} AgentDeployments (${names}); choose one with --agent NAME`;
}

/**
 * The API keys the agent's Secrets among the manifests hold, by the environment variable
 * the policy document names for each (what the operator's Deployment would set).
 */
export function providerKeys(
  agent: AgentDeployment,
  secret: (name: string) => DataObject | undefined,
): Record<string, string> {
  const keys: Record<string, string> = {};
  for (const { env, secret: ref } of apiKeySources(agent)) {
    const value = secretValue(secret(ref.name), ref.key);
    if (value !== undefined) keys[env] = value;
  }
  return keys;
}

function secretValue(secret: DataObject | undefined, key: string): string | undefined {
  const plain = secret?.stringData?.[key];
  const encoded = secret?.data?.[key];
  const value =
    plain ?? (encoded === undefined ? undefined : Buffer.from(encoded, 'base64').toString('utf8'));
  const trimmed = value?.trim();
  return trimmed === '' ? undefined : trimmed;
}

/** A Secret key's bytes as they are (a key need not be text). */
function secretBytes(secret: DataObject | undefined, key: string): Buffer | undefined {
  const plain = secret?.stringData?.[key];
  if (plain !== undefined) return Buffer.from(plain, 'utf8');
  const encoded = secret?.data?.[key];
  return encoded === undefined ? undefined : Buffer.from(encoded, 'base64');
}

/** Where each object was read from, for errors that name the file. */
const fileOf = new WeakMap<object, string>();

/**
 * What admission would say of the manifests, or undefined when it would take them all: the
 * fields their kind's schema does not have (strict field validation), then its structural
 * keywords (types, bounds, patterns, required fields, list types) and the rules it states in
 * CEL. Every object is checked, not just the chosen agent's: a typo in a
 * policy no agent uses yet is still a typo.
 */
export function admissionErrors(objects: readonly ManifestObject[]): string | undefined {
  const problems: string[] = [];
  for (const object of objects) {
    const kind = object.kind;
    const shape = kind === undefined ? undefined : FIELD_SHAPES[kind];
    if (kind === undefined || shape === undefined || !CHECKED_KINDS.has(kind)) continue;
    const file = fileOf.get(object) ?? '?';
    const fields = unknownFields(object, shape);
    if (fields.length > 0) {
      problems.push(describeUnknownFields(kind, object.metadata?.name, file, fields));
      continue;
    }
    const schema = ADMISSION_SCHEMA[kind];
    const broken =
      schema === undefined
        ? []
        : [...schemaViolations(object, schema), ...celViolations(object, schema)];
    if (broken.length > 0)
      problems.push(describeViolations(kind, object.metadata?.name, file, broken));
  }
  return problems.length === 0 ? undefined : problems.join('\n');
}

async function readManifests(path: string): Promise<ManifestObject[]> {
  const info = await stat(path);
  const files = info.isDirectory()
    ? (await readdir(path))
        .filter((f) => EXTENSIONS.has(extname(f)))
        .sort()
        .map((f) => join(path, f))
    : [path];
  const objects: ManifestObject[] = [];
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    for (const document of parseAllDocuments(text)) {
      if (document.errors.length > 0)
        throw new Error(`${file}: ${document.errors[0]?.message ?? 'invalid YAML'}`);
      const value = document.toJS() as unknown;
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
        fileOf.set(value, file);
        objects.push(value);
      }
    }
  }
  return objects;
}
