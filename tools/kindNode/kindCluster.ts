/**
 * A kind cluster from TypeScript (`BREAKWATER_CLUSTER=kind`; issue 37, decision 0045):
 * tools/kindNode/kind-cluster.sh brings it up and down, loads images into its node and runs
 * commands there; this file is how the demo, the integration suites' global setup and the
 * suites call it. The cluster's name travels in BREAKWATER_KIND_CLUSTER (`kind-cluster.sh env`
 * prints it).
 */
import { fileURLToPath } from 'node:url';
import { runCommand, type RunResult } from '../cluster/runCommand.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const script = `${repoRoot}tools/kindNode/kind-cluster.sh`;

/** The kind cluster the suites run on, or undefined when they run on another one. */
export function kindClusterName(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const name = env['BREAKWATER_KIND_CLUSTER'];
  return name === undefined || name === '' ? undefined : name;
}

function kindCluster(
  name: string,
  args: readonly string[],
  options: { timeoutMs: number; streamStderr?: boolean; allowFailure?: boolean },
): Promise<RunResult> {
  return runCommand('bash', [script, ...args], {
    ...options,
    env: { ...process.env, BREAKWATER_KIND_CLUSTER: name },
  });
}

/**
 * Whether the cluster runs: kind lists it and its node answers. A listed cluster whose node is
 * gone (a reboot, a killed session) is not running: `up` deletes and recreates it, and whoever
 * calls `up` then owns it.
 */
export async function kindClusterRunning(name: string): Promise<boolean> {
  const { stdout } = await kindCluster(name, ['status'], { timeoutMs: 60_000 });
  return stdout.trim() === 'running';
}

/**
 * `up` (the node image built once, the host prepared, the cluster checked) unless the cluster
 * runs already, the project's image built meanwhile and loaded into the node as soon as both
 * the image and the node's containerd are there (a no-op when the node holds that build);
 * returns what `env` exports for the suites. With `redis`, the Redis image the suites run a
 * store in pods from (scripts/image/build-redis-image.sh) is built and loaded the same way, and
 * its reference exported as BREAKWATER_REDIS_IMAGE.
 */
export async function kindUp(
  name: string,
  image: string,
  running: boolean,
  options: { readonly redis?: boolean } = {},
): Promise<Record<string, string>> {
  // The image builds while the cluster comes up: `up` mostly waits (on kubeadm, the node, the
  // check pod), and a checkout's changed image takes a minute or more to build. Its load (about
  // 9 s: containerd unpacks it) then runs beside the rest of `up` (kubeadm init, the check)
  // instead of after it. Everything started is waited for before a failure is told, so that
  // nothing runs on behind the caller's clean-up.
  const up = running
    ? Promise.resolve(undefined)
    : kindCluster(name, ['up'], { timeoutMs: 30 * 60_000, streamStderr: true });
  const upSettled = up.then(
    () => undefined,
    () => undefined,
  );
  const early = async (ref: string): Promise<boolean> => {
    if (!running && !(await nodeContainerdAnswers(name, upSettled))) return false;
    // An early load that fails (containerd restarted under it, say) is tried again after `up`.
    return loadIntoKindNode(name, ref).then(
      () => true,
      () => false,
    );
  };
  const loaded = runCommand('bash', [`${repoRoot}scripts/image/build-image.sh`, image], {
    timeoutMs: 30 * 60_000,
    streamStderr: true,
  }).then(() => early(image));
  const redis = options.redis === true ? buildRedisImage() : Promise.resolve(undefined);
  const redisLoaded = redis.then((ref) => (ref === undefined ? true : early(ref)));
  const outcomes = await Promise.allSettled([up, loaded, redisLoaded]);
  for (const outcome of outcomes) if (outcome.status === 'rejected') throw outcome.reason;
  if (!(await loaded)) await loadIntoKindNode(name, image);
  const redisRef = await redis;
  if (redisRef !== undefined && !(await redisLoaded)) await loadIntoKindNode(name, redisRef);
  const { stdout } = await kindCluster(name, ['env', image], { timeoutMs: 60_000 });
  return {
    ...Object.fromEntries(
      [...stdout.matchAll(/^export ([A-Z_]+)=(.*)$/gm)].map((m) => [m[1] ?? '', m[2] ?? '']),
    ),
    ...(redisRef === undefined ? {} : { BREAKWATER_REDIS_IMAGE: redisRef }),
  };
}

/** The Redis image made from Debian's packages (cached by its inputs); its reference. */
async function buildRedisImage(): Promise<string> {
  const { stdout: tool } = await runCommand('bash', [`${repoRoot}scripts/image/container-tool.sh`]);
  const { stdout } = await runCommand(
    'bash',
    [`${repoRoot}scripts/image/build-redis-image.sh`, tool.trim()],
    { timeoutMs: 30 * 60_000, streamStderr: true },
  );
  const ref = /^REDIS_IMAGE=(.+)$/m.exec(stdout)?.[1];
  if (ref === undefined) throw new Error(`build-redis-image.sh printed no reference: ${stdout}`);
  return ref;
}

/**
 * Waits until the node's containerd answers (`ctr version` in the node); false when `up`
 * settles first, whichever way.
 */
async function nodeContainerdAnswers(name: string, upSettled: Promise<void>): Promise<boolean> {
  const up = { settled: false };
  void upSettled.then(() => (up.settled = true));
  while (!up.settled) {
    const { code } = await inKindNode(name, ['ctr', 'version'], { allowFailure: true });
    if (code === 0) return true;
    await Promise.race([upSettled, new Promise((resolve) => setTimeout(resolve, 500))]);
  }
  return false;
}

/** `kind delete cluster`, then the host put back as `up` found it (and checked). */
export async function kindDown(name: string): Promise<void> {
  await kindCluster(name, ['down'], { timeoutMs: 5 * 60_000, streamStderr: true });
}

/** An image from this machine's podman (or Docker) storage into the node's containerd. */
export async function loadIntoKindNode(name: string, image: string): Promise<void> {
  await kindCluster(name, ['load', image], { timeoutMs: 10 * 60_000 });
}

/** A command inside the node's container (crictl, the static pods' manifests). */
export function inKindNode(
  name: string,
  command: readonly string[],
  options: { allowFailure?: boolean } = {},
): Promise<RunResult> {
  return kindCluster(name, ['exec', ...command], { timeoutMs: 60_000, ...options });
}
