/**
 * What the admission suites share: the manifests they write, a namespace of their own with the
 * CRDs installed, and how a refusal must read — the API server naming the field (`spec.x:
 * Invalid value…` or `unknown field "spec.x"`) and saying why.
 */
import { afterAll, beforeAll, expect } from '@jest/globals';
import { kubectl, uniqueNamespace, type TestNamespace } from '../support/kube.ts';
import { installCrds } from './apiInstallation.ts';

export type Spec = Record<string, unknown>;

export interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { name?: string };
  readonly spec: Spec;
}

/** A manifest the API server must refuse, the field it must name and what it must say. */
export interface Refusal {
  readonly name: string;
  readonly manifest: Manifest;
  /** The field path the API server must name, as in `spec.failureThreshold: Invalid value`. */
  readonly field: string;
  /** A fragment of the server's explanation. */
  readonly says: string;
}

export interface AdmissionNamespace {
  /**
   * `kubectl create` into the suite's namespace, under the manifest's own name or `name`:
   * admission runs in full, and a wrongly accepted object really is created.
   */
  readonly create: (manifest: Manifest, name?: string) => ReturnType<typeof kubectl>;
  /** The object as the API server stored it (`kubectl get <resource> -o json`), defaults filled in. */
  readonly stored: <T>(resource: string) => Promise<T>;
}

/** Installs the CRDs and makes a namespace before the suite, and deletes it after. */
export function admissionNamespace(prefix: string): AdmissionNamespace {
  let ns: TestNamespace | undefined;
  beforeAll(async () => {
    await installCrds();
    ns = await uniqueNamespace(prefix);
  });
  afterAll(async () => {
    await ns?.cleanup();
  });
  const namespace = (): string => {
    if (ns === undefined) throw new Error('admissionNamespace: used before its beforeAll ran');
    return ns.name;
  };
  return {
    create: (manifest, name) => {
      const metadata = { name: manifest.metadata.name ?? name };
      return kubectl(['create', '-n', namespace(), '-f', '-'], {
        input: JSON.stringify({ ...manifest, metadata }),
        allowFailure: true,
      });
    },
    stored: async <T>(resource: string): Promise<T> => {
      const { stdout } = await kubectl(['get', '-n', namespace(), resource, '-o', 'json']);
      return JSON.parse(stdout) as T;
    },
  };
}

/** The refusal names the field and says why. */
export function expectRefusal(
  result: Awaited<ReturnType<typeof kubectl>>,
  refusal: Pick<Refusal, 'field' | 'says'>,
): void {
  expect(result.code).not.toBe(0);
  const namesField =
    result.stderr.includes(`${refusal.field}:`) || result.stderr.includes(`"${refusal.field}"`);
  expect({ namesField, stderr: result.stderr }).toEqual({
    namesField: true,
    stderr: expect.stringContaining(refusal.says),
  });
}
