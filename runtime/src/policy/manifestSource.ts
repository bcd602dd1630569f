/**
 * `--manifests <file-or-dir>`: the AgentDeployment, CircuitBreakerPolicy, RateLimitPolicy
 * (and optional client-key Secret and system-prompt ConfigMap) YAML a user would apply to a
 * cluster, resolved by the operator's own `resolvePolicy` and reloaded when the files change.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { AgentDeployment, CircuitBreakerPolicy, RateLimitPolicy } from '../api/resources.ts';
import { keysFromSecret } from '../access/clientKeys.ts';
import type { AgentRuntime } from '../agentRuntime.ts';
import type { Cancel } from '../time/clock.ts';
import { resolvePolicy } from './policyResolution.ts';
import type { SourceDeps } from './policySources.ts';

const SETTLE_MS = 50;
const EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

interface ManifestObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

export class ManifestSource {
  readonly #path: string;
  readonly #runtime: AgentRuntime;
  readonly #deps: SourceDeps;
  readonly #envKeys: string[] | undefined;
  #watcher: FSWatcher | undefined;
  #pending: Cancel | undefined;

  constructor(path: string, runtime: AgentRuntime, deps: SourceDeps) {
    this.#path = resolve(path);
    this.#runtime = runtime;
    this.#deps = deps;
    const raw = deps.env['BREAKWATER_CLIENT_KEYS'];
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
      this.#runtime.store.reject(`cannot read manifests: ${(err as Error).message}`, this.source);
      return;
    }
    const agents = objects.filter(
      (o) => o.kind === 'AgentDeployment',
    ) as unknown as AgentDeployment[];
    const agent = agents[0];
    if (agent === undefined || agents.length > 1) {
      this.#runtime.store.reject(
        `${this.#path} must hold exactly one AgentDeployment, found ${agents.length}`,
        this.source,
      );
      return;
    }
    const named = (kind: string, name: string | undefined): unknown =>
      name === undefined
        ? undefined
        : objects.find((o) => o.kind === kind && o.metadata?.name === name);
    const spec = agent.spec;
    const promptRef = spec.systemPromptFrom?.configMapKeyRef;
    const promptMap = named('ConfigMap', promptRef?.name) as ManifestObject | undefined;
    let doc;
    try {
      doc = resolvePolicy({
        agent,
        circuitBreakerPolicy: named('CircuitBreakerPolicy', spec.circuitBreakerPolicyRef?.name) as
          CircuitBreakerPolicy | undefined,
        rateLimitPolicy: named('RateLimitPolicy', spec.rateLimitPolicyRef?.name) as
          RateLimitPolicy | undefined,
        systemPromptFromRef: promptRef === undefined ? undefined : promptMap?.data?.[promptRef.key],
      });
    } catch (err) {
      this.#runtime.store.reject(
        `cannot resolve the manifests: ${(err as Error).message}`,
        this.source,
      );
      return;
    }
    this.#applyClientKeys(
      named('Secret', doc.access.clientKeysSecret) as ManifestObject | undefined,
      doc.access.clientKeysSecret,
    );
    this.#runtime.store.offerDocument(doc, this.source);
  }

  #applyClientKeys(secret: ManifestObject | undefined, secretName: string | undefined): void {
    if (this.#envKeys !== undefined) this.#runtime.clientKeys.set(this.#envKeys);
    else if (secretName === undefined) this.#runtime.clientKeys.set(undefined);
    else if (secret !== undefined) this.#runtime.clientKeys.set(keysFromSecret(secret));
    else {
      this.#deps.logger.warn(
        { secret: secretName },
        'client-key Secret not among the manifests: every call will get 401',
      );
      this.#runtime.clientKeys.set([]);
    }
  }
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
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) objects.push(value);
    }
  }
  return objects;
}
