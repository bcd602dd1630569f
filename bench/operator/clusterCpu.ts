/**
 * Where the machine's time goes while agents converge: the CPU each process of the local
 * cluster (API server, etcd, controller-manager, scheduler and, with the real node, kubelet,
 * containerd and kube-proxy) and the operator used in each phase, from /proc/<pid>/stat. On a
 * two-core machine they all share the cores the API server needs, so a ratio of convergence to
 * creates is only read together with who else was busy.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { clusterLayoutFromEnv } from '../../tools/cluster/layout.ts';
import { cpuMs } from '../runtime/processProbe.ts';

/** CPU milliseconds used so far, by process name. */
export type CpuSample = Readonly<Record<string, number>>;

/** The cluster's processes as its run directory records them; none when it is not ours. */
function clusterPids(): Map<string, number> {
  const runDir = clusterLayoutFromEnv(process.env).runDir;
  const pids = new Map<string, number>();
  let files: string[];
  try {
    files = readdirSync(runDir).filter((f) => f.endsWith('.pid'));
  } catch {
    return pids;
  }
  for (const file of files) {
    try {
      const record = JSON.parse(readFileSync(join(runDir, file), 'utf8')) as { pid?: unknown };
      if (typeof record.pid === 'number') pids.set(file.slice(0, -'.pid'.length), record.pid);
    } catch {
      // A record being rewritten is left out of this sample.
    }
  }
  return pids;
}

/** CPU used so far by the cluster's processes and the named extra ones (the operator). */
export function sampleCpu(extra: Readonly<Record<string, number>>): CpuSample {
  const sample: Record<string, number> = {};
  for (const [name, pid] of [...clusterPids(), ...Object.entries(extra)]) {
    try {
      sample[name] = cpuMs(pid);
    } catch {
      // Gone (or not ours to read): no figure rather than a wrong one.
    }
  }
  return sample;
}

/** CPU seconds each process used between two samples, with the machine's total as `total`. */
export function cpuBetween(before: CpuSample, after: CpuSample): Record<string, number> {
  const seconds: Record<string, number> = {};
  let total = 0;
  for (const [name, ms] of Object.entries(after)) {
    const start = before[name];
    if (start === undefined) continue;
    const s = Math.round(ms - start) / 1000;
    seconds[name] = s;
    total += s;
  }
  return { ...seconds, total: Math.round(total * 1000) / 1000 };
}
