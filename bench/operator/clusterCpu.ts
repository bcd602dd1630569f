/**
 * Where the machine's time goes while agents converge: the CPU each process of the cluster (API
 * server, etcd, controller-manager, scheduler, kubelet, containerd and kube-proxy, which run in
 * kind's node container and so are this machine's processes too) and the operator used in each
 * phase, from /proc/<pid>/stat. On a two-core machine they all share the cores the API server
 * needs, so a ratio of convergence to creates is only read together with who else was busy.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { cpuMs } from '../runtime/processProbe.ts';

/** CPU milliseconds used so far, by process name. */
export type CpuSample = Readonly<Record<string, number>>;

const clusterProcesses = new Set([
  'etcd',
  'kube-apiserver',
  'kube-controller',
  'kube-scheduler',
  'kubelet',
  'containerd',
  'kube-proxy',
]);

/** The cluster's processes by name (the kernel's 15-character `comm`); one pid per name. */
function clusterPids(): Map<string, number> {
  const pids = new Map<string, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const name = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
      if (clusterProcesses.has(name) && !pids.has(name)) pids.set(name, Number(entry));
    } catch {
      // Gone between the listing and the read.
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
