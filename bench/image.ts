/**
 * `make bench-image`: the image as it runs. Builds it first (scripts/image/build-image.sh
 * with podman; IMAGE, default the chart's tag), then measures
 *
 *   size_mb          the image's size in podman's storage
 *   ready_s          `podman run` → the runtime's /health/ready answers 200 (median of --runs),
 *                    on a policy file, read-only root, uid 65532, no capabilities
 *   runtime_rss_mb   the runtime's resident memory after --idle-s seconds of idling (median)
 *   bare_*           the same two for the baseline (issue 53): a bare node:http server
 *                    answering 200, run in the same image by the image's node with the same
 *                    flags and user, in turn with the runtime (runtime, bare, runtime, …);
 *                    the runtime's over the bare server's as ready_ratio and rss_ratio
 *   uncached_*       the runtime again with the image's compile cache of its start-up code
 *                    (Dockerfile, `warm` stage) turned off (NODE_DISABLE_COMPILE_CACHE=1):
 *                    cache_ready_ratio (default over uncached) is what the cache saves,
 *                    cache_rss_mb the memory it costs
 *   operator_*       the operator's `podman run` → /readyz 200 and its RSS idle, on kind
 *                    (brought up when not running, stopped again unless
 *                    BREAKWATER_KEEP_CLUSTER=1), confined to an empty namespace, with the
 *                    kubeconfig mounted read-only
 *
 * Writes bench/results/image.json and ends with
 *
 *   image: size_mb=A ready_s=B runtime_rss_mb=C operator_rss_mb=D operator_ready_s=… bare_ready_s=E bare_rss_mb=F
 *          ready_ratio=B/E ready_ratio_by_round=… uncached_ready_ratio=G/E rss_ratio=C/F
 *
 *   node --no-warnings=ExperimentalWarning bench/image.ts [--runs 5] [--idle-s 10] [--no-operator]
 *
 * `--no-operator` leaves the operator's part out (it needs kind): operator_* are null.
 */
import { execFile } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { samplePolicyDocument } from '../contract/src/policy/policyFixtures.ts';
import { installCrds } from '../test/api/apiInstallation.ts';
import { uniqueNamespace } from '../test/support/kube.ts';
import { freePort } from '../test/support/podReach.ts';
import { benchCluster } from './benchCluster.ts';
import { PodmanContainer, untilOk } from './image/podmanContainer.ts';
import { median } from '../tools/stats/samples.ts';

const run = promisify(execFile);
const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const flags = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    'idle-s': { type: 'string', default: '10' },
    'no-operator': { type: 'boolean', default: false },
  },
}).values;
const runs = Number(flags.runs);
const idleMs = Number(flags['idle-s']) * 1000;
const version = (
  JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }
).version;
const image = process.env['IMAGE'] ?? `ghcr.io/breakwater-dev/breakwater:${version}`;
const podman = join(repo, 'scripts/image/podman.sh');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const round = (n: number, digits = 1): number => Number(n.toFixed(digits));

async function buildImage(): Promise<void> {
  process.stderr.write(`>> building ${image}\n`);
  await run(join(repo, 'scripts/image/build-image.sh'), [image], {
    env: { ...process.env, CONTAINER_TOOL: 'podman' },
    maxBuffer: 64 * 1024 * 1024,
  });
}

async function imageSizeMb(): Promise<number> {
  const { stdout } = await run(podman, ['image', 'inspect', '--format={{.Size}}', image]);
  return Number(stdout.trim()) / 1e6;
}

/** The baseline: node:http answering 200 to anything, on the port its argument names. */
const BARE_SERVER =
  "require('node:http').createServer((req, res) => res.end('ok')).listen(Number(process.argv[1]), '127.0.0.1')";

/**
 * One container, the runtime on a policy file or the bare server: milliseconds from `podman
 * run` to a 200 from /health/ready, and its RSS after idling.
 */
async function containerRun(
  which: 'runtime' | 'uncached' | 'bare',
  dir: string,
): Promise<{ readyMs: number; rssMb: number }> {
  const [http, metrics] = [await freePort(), await freePort()];
  const started = performance.now();
  const container = await PodmanContainer.start(
    repo,
    which !== 'bare'
      ? {
          name: 'breakwater-bench-runtime',
          image,
          entrypoint: 'breakwater-runtime',
          args: [
            '--policy=/policy/policy.json',
            `--port=${String(http)}`,
            `--metrics-port=${String(metrics)}`,
          ],
          env: {
            ANTHROPIC_API_KEY: 'sk-bench-not-a-key',
            ...(which === 'uncached' ? { NODE_DISABLE_COMPILE_CACHE: '1' } : {}),
          },
          volumes: [`${dir}:/policy:ro`],
        }
      : {
          name: 'breakwater-bench-bare',
          image,
          entrypoint: '/nodejs/bin/node',
          args: ['-e', BARE_SERVER, String(http)],
        },
  );
  try {
    const readyMs = await untilOk(`http://127.0.0.1:${String(http)}/health/ready`, started);
    await sleep(idleMs);
    return { readyMs, rssMb: await container.rssMiB() };
  } finally {
    await container.remove();
  }
}

/** The operator in its container on kind: `podman run` → /readyz 200, and its RSS idle. */
async function operatorIdle(): Promise<{ readyMs: number; rssMb: number }> {
  const cluster = await benchCluster((line) => process.stderr.write(`[cluster] ${line}\n`));
  const kubeconfig = process.env['BREAKWATER_KUBECONFIG'] ?? '';
  // The operator lists its kinds before it says ready: a fresh cluster needs them installed.
  await installCrds();
  const ns = await uniqueNamespace('bench-image');
  // A copy the container's user (65532) may read; the original is root's alone. Removed below.
  const kube = mkdtempSync(join(tmpdir(), 'bw-bench-kube-'));
  chmodSync(kube, 0o755);
  copyFileSync(kubeconfig, join(kube, 'kubeconfig'));
  chmodSync(join(kube, 'kubeconfig'), 0o644);
  const [metrics, health] = [await freePort(), await freePort()];
  const started = performance.now();
  const container = await PodmanContainer.start(repo, {
    name: 'breakwater-bench-operator',
    image,
    entrypoint: 'breakwater-operator',
    args: [
      '--kubeconfig=/kube/kubeconfig',
      `--namespace=${ns.name}`,
      `--metrics-port=${String(metrics)}`,
      `--health-port=${String(health)}`,
    ],
    env: { NODE_OPTIONS: '--max-semi-space-size=4' },
    volumes: [`${kube}:/kube:ro`],
  });
  try {
    const readyMs = await untilOk(`http://127.0.0.1:${String(health)}/readyz`, started);
    await sleep(idleMs);
    return { readyMs, rssMb: await container.rssMiB() };
  } finally {
    await container.remove();
    rmSync(kube, { recursive: true, force: true });
    await ns.cleanup();
    await cluster.release();
  }
}

const startedAt = new Date();
await buildImage();
const sizeMb = await imageSizeMb();
const dir = mkdtempSync(join(tmpdir(), 'bw-bench-image-'));
// The container runs as 65532: mkdtemp's 0700 would hide the file from it.
chmodSync(dir, 0o755);
writeFileSync(join(dir, 'policy.json'), JSON.stringify(samplePolicyDocument()), { mode: 0o644 });
const samples = {
  runtime: { ready: [] as number[], rss: [] as number[] },
  uncached: { ready: [] as number[], rss: [] as number[] },
  bare: { ready: [] as number[], rss: [] as number[] },
};
try {
  for (let i = 0; i < runs; i++) {
    // In turn, so that what else the machine does lands on both alike; who goes first alternates.
    for (const which of i % 2 === 0
      ? (['runtime', 'uncached', 'bare'] as const)
      : (['bare', 'uncached', 'runtime'] as const)) {
      const result = await containerRun(which, dir);
      samples[which].ready.push(result.readyMs);
      samples[which].rss.push(result.rssMb);
      process.stderr.write(
        `run ${String(i + 1)}/${String(runs)} ${which}: ready ${String(round(result.readyMs))} ms, rss ${String(round(result.rssMb))} MB\n`,
      );
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const operator = flags['no-operator'] ? null : await operatorIdle();
const [readyS, bareReadyS] = [
  median(samples.runtime.ready) / 1000,
  median(samples.bare.ready) / 1000,
];
const uncachedReadyS = median(samples.uncached.ready) / 1000;
/** The median of each round's `a` over its `b`: a loaded machine's pace changes between rounds. */
const byRound = (a: readonly number[], b: readonly number[]): number =>
  median(a.map((x, i) => x / (b[i] ?? x)));
const [runtimeRss, bareRss] = [median(samples.runtime.rss), median(samples.bare.rss)];

const result = {
  benchmark: 'image',
  command: 'node bench/image.ts',
  image,
  cpus: cpus().length,
  loadAverage: loadavg(),
  startedAt: startedAt.toISOString(),
  durationSeconds: round((Date.now() - startedAt.getTime()) / 1000),
  method: {
    ready:
      'podman run --detach (runc, host network, --read-only, --cap-drop=ALL, no-new-privileges, the image user 65532) → GET /health/ready answers 200, polled every 20 ms; median of runs',
    rss: 'VmRSS of the container main process (/proc/<pid>/status) after idling; median of runs',
    bare: "node -e <a node:http server answering 200> in the same image, same flags and user; runs interleaved with the runtime's",
    uncached:
      'the runtime as above with NODE_DISABLE_COMPILE_CACHE=1: every file it loads compiled at start, as before the image had a compile cache; interleaved too',
    byRound:
      "*_by_round: the median of each round's ratio, steadier than the ratio of medians on a loaded machine",
    idleSeconds: idleMs / 1000,
    runs,
  },
  results: {
    size_mb: round(sizeMb),
    ready_s: round(readyS, 2),
    ready_s_each: samples.runtime.ready.map((ms) => round(ms / 1000, 2)),
    runtime_rss_mb: round(runtimeRss),
    runtime_rss_mb_each: samples.runtime.rss.map((mb) => round(mb)),
    operator_rss_mb: operator === null ? null : round(operator.rssMb),
    operator_ready_s: operator === null ? null : round(operator.readyMs / 1000, 2),
    uncached_ready_s: round(uncachedReadyS, 2),
    uncached_ready_s_each: samples.uncached.ready.map((ms) => round(ms / 1000, 2)),
    uncached_rss_mb: round(median(samples.uncached.rss)),
    uncached_rss_mb_each: samples.uncached.rss.map((mb) => round(mb)),
    bare_ready_s: round(bareReadyS, 2),
    bare_ready_s_each: samples.bare.ready.map((ms) => round(ms / 1000, 2)),
    bare_rss_mb: round(bareRss),
    bare_rss_mb_each: samples.bare.rss.map((mb) => round(mb)),
    ready_ratio: round(readyS / bareReadyS, 2),
    ready_ratio_by_round: round(byRound(samples.runtime.ready, samples.bare.ready), 2),
    uncached_ready_ratio: round(uncachedReadyS / bareReadyS, 2),
    cache_ready_ratio_by_round: round(byRound(samples.runtime.ready, samples.uncached.ready), 2),
    cache_rss_mb: round(runtimeRss - median(samples.uncached.rss)),
    rss_ratio: round(runtimeRss / bareRss, 2),
  },
};
mkdirSync(join(repo, 'bench/results'), { recursive: true });
writeFileSync(join(repo, 'bench/results/image.json'), `${JSON.stringify(result, null, 2)}\n`);
const r = result.results;
process.stdout.write(
  `image: size_mb=${String(r.size_mb)} ready_s=${String(r.ready_s)} runtime_rss_mb=${String(r.runtime_rss_mb)} operator_rss_mb=${String(r.operator_rss_mb)} operator_ready_s=${String(r.operator_ready_s)} bare_ready_s=${String(r.bare_ready_s)} bare_rss_mb=${String(r.bare_rss_mb)} ready_ratio=${String(r.ready_ratio)} ready_ratio_by_round=${String(r.ready_ratio_by_round)} uncached_ready_ratio=${String(r.uncached_ready_ratio)} rss_ratio=${String(r.rss_ratio)}\n`,
);
