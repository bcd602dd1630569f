/**
 * One container under podman for the image benchmark: started detached with the flags the
 * local node's container mode uses (host network, read-only root, no capabilities, no
 * privilege escalation, uid 65532 from the image), waited on over HTTP, measured through
 * /proc of its main process, and removed.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ContainerStart {
  readonly name: string;
  readonly image: string;
  readonly entrypoint: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** host:container:ro mounts */
  readonly volumes?: readonly string[];
}

export class PodmanContainer {
  readonly #podman: string;
  readonly #name: string;

  private constructor(podman: string, name: string) {
    this.#podman = podman;
    this.#name = name;
  }

  /** `podman run -d`; resolves when podman has started it (not when it is ready). */
  static async start(repo: string, start: ContainerStart): Promise<PodmanContainer> {
    const podman = join(repo, 'scripts/image/podman.sh');
    await run(podman, ['rm', '--force', '--ignore', '--time=0', start.name]);
    await run(podman, [
      'run',
      '--detach',
      `--name=${start.name}`,
      '--pull=never',
      '--network=host',
      '--read-only',
      '--read-only-tmpfs=false',
      '--cap-drop=ALL',
      '--security-opt=no-new-privileges',
      ...Object.entries(start.env ?? {}).map(([k, v]) => `--env=${k}=${v}`),
      ...(start.volumes ?? []).map((v) => `--volume=${v}`),
      `--entrypoint=${JSON.stringify([start.entrypoint])}`,
      start.image,
      ...start.args,
    ]);
    return new PodmanContainer(podman, start.name);
  }

  /** Resident memory of the container's main process, in MiB. */
  async rssMiB(): Promise<number> {
    const { stdout } = await run(this.#podman, ['inspect', '--format={{.State.Pid}}', this.#name]);
    const status = await readFile(`/proc/${stdout.trim()}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
    if (!Number.isFinite(kb)) throw new Error(`no VmRSS for container ${this.#name}`);
    return kb / 1024;
  }

  async remove(): Promise<void> {
    await run(this.#podman, ['rm', '--force', '--ignore', '--time=0', this.#name]);
  }
}

/** Polls `url` until it answers 200; resolves with the milliseconds that took from `since`. */
export async function untilOk(url: string, since: number, timeoutMs = 60_000): Promise<number> {
  for (;;) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      await response.arrayBuffer();
      if (response.ok) return performance.now() - since;
    } catch {
      // not listening yet
    }
    if (performance.now() - since > timeoutMs)
      throw new Error(`${url} not ready in ${String(timeoutMs)} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
