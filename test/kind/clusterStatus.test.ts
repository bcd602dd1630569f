/**
 * `kind-cluster.sh status` tells a live kind cluster from one kind still lists whose node is
 * dead. A CI run once found such a cluster (the processes of the run before it had been killed,
 * podman still said "Up"), took it for running, and failed on its first `exec` into the node;
 * `up` now recreates a dead one, and `kindClusterRunning` says false for it so that the caller
 * owns what `up` brings back.
 *
 * Two stand-in nodes of a cluster of this test's own: containers of the suite's node image
 * carrying kind's cluster label (which is all `kind get clusters` reads), one left running and
 * one whose processes are killed behind the engine's back, as a reboot or a killed session
 * leaves them. Only the suite's kind cluster is needed, for its node image and engine.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { runCommand } from '../../tools/cluster/runCommand.ts';
import { kindClusterName, kindClusterRunning } from '../../tools/kindNode/kindCluster.ts';

const suiteCluster = kindClusterName();
const script = new URL('../../tools/kindNode/kind-cluster.sh', import.meta.url).pathname;
const podmanScript = new URL('../../scripts/image/podman.sh', import.meta.url).pathname;
const name = `bw-status-${process.pid}`;
const node = `${name}-control-plane`;

async function engine(cluster: string): Promise<string> {
  const podman = await runCommand('podman', ['container', 'exists', `${cluster}-control-plane`], {
    allowFailure: true,
  }).catch(() => ({ code: 1 }));
  return podman.code === 0 ? 'podman' : 'docker';
}

async function status(): Promise<string> {
  const { stdout } = await runCommand('bash', [script, 'status'], {
    env: { ...process.env, BREAKWATER_KIND_CLUSTER: name },
    timeoutMs: 60_000,
  });
  return stdout.trim();
}

(suiteCluster === undefined ? describe.skip : describe)('kind-cluster.sh status', () => {
  let tool = 'podman';

  beforeAll(async () => {
    tool = await engine(suiteCluster ?? '');
  });

  afterAll(async () => {
    // podman's first rm of a container whose monitor was killed waits for an exit file nobody
    // writes, fails, and marks it exited; the second removes it (as `up` does: rm, then kind's
    // delete).
    let removed = { code: 1, stderr: '' };
    for (let attempt = 0; attempt < 2 && removed.code !== 0; attempt++) {
      removed = await runCommand(tool, ['rm', '--force', '--ignore', node], { allowFailure: true });
    }
    if (removed.code !== 0) throw new Error(`${tool} rm --force ${node}: ${removed.stderr}`);
  });

  async function startStandIn(): Promise<void> {
    const { stdout: image } = await runCommand(tool, [
      'container',
      'inspect',
      `${suiteCluster ?? ''}-control-plane`,
      '--format',
      '{{.Image}}',
    ]);
    // podman.sh runs podman with ulimits within this host's hard limits (its header says why).
    const run = tool === 'podman' ? podmanScript : tool;
    await runCommand(run, [
      'run',
      '--detach',
      '--name',
      node,
      '--label',
      `io.x-k8s.kind.cluster=${name}`,
      // No network: a node killed behind podman's back leaves its CNI rules on the host.
      '--network',
      'none',
      '--entrypoint',
      'sleep',
      image.trim(),
      'infinity',
    ]);
  }

  it('says absent for a cluster kind does not list', async () => {
    expect(await status()).toBe('absent');
    expect(await kindClusterRunning(name)).toBe(false);
  });

  it('says running while the node answers, and dead once its processes are killed', async () => {
    await startStandIn();
    expect(await status()).toBe('running');
    expect(await kindClusterRunning(name)).toBe(true);

    const { stdout } = await runCommand(tool, [
      'container',
      'inspect',
      node,
      '--format',
      tool === 'podman' ? '{{.State.Pid}} {{.State.ConmonPid}}' : '{{.State.Pid}}',
    ]);
    // The container's monitor first, so that nothing tells the engine the node went away.
    for (const pid of stdout.trim().split(/\s+/).reverse()) process.kill(Number(pid), 'SIGKILL');

    expect(await status()).toBe('dead');
    expect(await kindClusterRunning(name)).toBe(false);
    // kind still lists it: this is the state a plain `kind get clusters` took for a live one.
    const { stdout: listed } = await runCommand('bash', [
      new URL('../../tools/kindNode/kind.sh', import.meta.url).pathname,
      'get',
      'clusters',
    ]);
    expect(listed.split('\n')).toContain(name);
  });
});
