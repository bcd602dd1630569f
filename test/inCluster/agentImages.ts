/**
 * The two agents of the in-cluster suite that are not Breakwater code (test/inCluster/agents/):
 * built as images here, with podman and the bases scripts/image/build-bases.sh makes (no
 * registry to pull python or node images from), then handed to the cluster's node. A
 * TLS-intercepting proxy's CA (NODE_EXTRA_CA_CERTS) reaches pip and npm as the build secret
 * `ca`, never a layer. The image then goes where the Breakwater image went: kind's node
 * (`kind load image-archive`, when BREAKWATER_KIND_CLUSTER names the cluster); another cluster
 * must be able to pull it.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../chart/chartTools.ts';
import { kindClusterName, loadIntoKindNode } from '../../tools/kindNode/kindCluster.ts';

const run = promisify(execFile);
const podman = join(repoRoot, 'scripts/image/podman.sh');

export type AgentLanguage = 'python' | 'typescript';

/** A tag, not `latest`, so the kubelet's default pull policy is IfNotPresent: never pulled. */
export const agentImage = (language: AgentLanguage): string =>
  `localhost/breakwater-test-agent-${language}:e2e`;

async function bases(): Promise<{ build: string; runtime: string }> {
  const { stdout } = await run(join(repoRoot, 'scripts/image/build-bases.sh'), ['podman'], {
    maxBuffer: 16 * 1024 * 1024,
  });
  const refs = Object.fromEntries(
    stdout
      .split('\n')
      .filter((line) => line.includes('='))
      .map((line) => line.split('=', 2) as [string, string]),
  );
  const build = refs['NODE_IMAGE'];
  const runtime = refs['RUNTIME_IMAGE'];
  if (build === undefined || runtime === undefined)
    throw new Error(`build-bases.sh printed no base references: ${stdout}`);
  return { build, runtime };
}

/** Builds the agent's image and makes it available to the cluster's node; returns its reference. */
export async function buildAgentImage(language: AgentLanguage): Promise<string> {
  const { build, runtime } = await bases();
  const image = agentImage(language);
  const context = join(repoRoot, 'test/inCluster/agents', language);
  const ca = process.env['NODE_EXTRA_CA_CERTS'];
  const args = [
    'build',
    '--network',
    'host',
    '--layers',
    '--tag',
    image,
    '--file',
    join(context, 'Containerfile'),
    '--build-arg',
    `BASE=${build}`,
    '--build-arg',
    `BUILD_BASE=${build}`,
    '--build-arg',
    `RUNTIME_BASE=${runtime}`,
    ...(ca === undefined || ca === '' ? [] : ['--secret', `id=ca,src=${ca}`]),
    context,
  ];
  try {
    await run(podman, args, { maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    const { stderr = '', stdout = '' } = err as { stderr?: string; stdout?: string };
    throw new Error(`building ${image} failed:\n${(stdout + stderr).slice(-4000)}`);
  }
  const kind = kindClusterName();
  if (kind !== undefined) await loadIntoKindNode(kind, image);
  return image;
}
