import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import type { Binaries } from './binaries.ts';
import type { ClusterPorts } from './layout.ts';
import type { NodeKind } from './realNode/nodeLayout.ts';

/**
 * What the running cluster was started with, so that `status`, `down` and a later `up` use
 * the same ports and the test harness the kubectl that matches the server.
 */
export interface ClusterRecord {
  readonly ports: ClusterPorts;
  readonly binaries: Binaries;
  readonly startedAt: string;
  /** Which node it runs (a record from before the kubelet may say `local`: a retired node). */
  readonly node?: NodeKind;
}

export async function readClusterRecord(path: string): Promise<ClusterRecord | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as ClusterRecord;
  } catch {
    return undefined;
  }
}

export async function writeClusterRecord(path: string, record: ClusterRecord): Promise<void> {
  await writeFile(`${path}.partial`, `${JSON.stringify(record, null, 2)}\n`);
  await rename(`${path}.partial`, path);
}

export async function removeClusterRecord(path: string): Promise<void> {
  await rm(path, { force: true });
}
