/**
 * Container mode's runtime: podman (through scripts/image/podman.sh, which picks runc and
 * ulimits this machine allows). A container is an attached `podman run --rm`, started as an
 * ordinary local process (containerProcess.ts) so the container worker's state machine,
 * logs and exit codes stay as they are: podman's exit status is the container's, and its
 * output the container's. SIGTERM reaches the container through podman's signal proxy;
 * SIGKILL cannot be proxied (it kills podman, not the container), so it goes through
 * `podman kill`, and whatever is left is removed once podman has exited.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  type ContainerProcess,
  type LaunchSpec,
  type ProcessLauncher,
} from './containerProcess.ts';
import { errorMessage, type Logger } from './log.ts';

const run = promisify(execFile);

/** What container mode needs to know about an image in local storage. */
export interface ImageConfig {
  /** The image's USER ('' means root). */
  readonly user: string;
}

/**
 * The label naming the local node (by its state directory) that started a container: podman's
 * storage is the machine's, shared by every local cluster on it, and one local node must
 * never remove another's containers.
 */
export const stateDirLabel = 'localnode.breakwater.dev/state-dir';

export class ContainerRuntime {
  readonly #podman: string;
  readonly #stateDir: string;
  readonly #log: Logger;

  /**
   * @param repo the checkout, whose scripts/image/podman.sh runs podman
   * @param stateDir this local node's state directory, which labels its containers
   */
  constructor(repo: string, stateDir: string, log: Logger) {
    this.#podman = join(repo, 'scripts/image/podman.sh');
    this.#stateDir = stateDir;
    this.#log = log;
  }

  /** The image's configuration when it is in local storage; undefined when it is not (or no podman). */
  async image(reference: string): Promise<ImageConfig | undefined> {
    try {
      const { stdout } = await run(this.#podman, [
        'image',
        'inspect',
        '--format={{.Config.User}}',
        reference,
      ]);
      return { user: stdout.trim() };
    } catch {
      return undefined;
    }
  }

  /** `podman run` plus `args` for container `name`, as a launch the local launcher can start. */
  launchSpec(
    name: string,
    args: readonly string[],
    base: Omit<LaunchSpec, 'argv' | 'containerName'>,
  ): LaunchSpec {
    return {
      ...base,
      argv: [this.#podman, 'run', `--label=${stateDirLabel}=${this.#stateDir}`, ...args],
      containerName: name,
    };
  }

  /**
   * Launches a spec that names a container (`containerName`) through podman — stale leftovers
   * of that name removed first, SIGKILL through `podman kill` — and any other with `processes`.
   */
  launcher(processes: ProcessLauncher): ProcessLauncher {
    return {
      launch: async (spec) => {
        const name = spec.containerName;
        if (name === undefined) return processes.launch(spec);
        await this.#remove(name);
        return this.#wrap(name, await processes.launch(spec));
      },
    };
  }

  /** Removes the containers an earlier local node of this state directory left behind (it was killed before stopping them). */
  async removeLeftovers(): Promise<number> {
    try {
      const { stdout } = await run(this.#podman, [
        'ps',
        '--all',
        '--quiet',
        `--filter=label=${stateDirLabel}=${this.#stateDir}`,
      ]);
      const ids = stdout.split('\n').filter((id) => id !== '');
      if (ids.length > 0) await run(this.#podman, ['rm', '--force', '--time=0', ...ids]);
      return ids.length;
    } catch (err) {
      // Without podman there is no container mode, and nothing left over to remove.
      if ((err as { code?: unknown }).code !== 127) {
        this.#log.warn('cannot list leftover containers', { error: errorMessage(err) });
      }
      return 0;
    }
  }

  #wrap(name: string, inner: ContainerProcess): ContainerProcess {
    const exited = inner.exited.then(async (status) => {
      await this.#remove(name);
      return status;
    });
    return {
      pid: inner.pid,
      exited,
      signal: (signal) => {
        if (signal !== 'SIGKILL') {
          inner.signal(signal);
          return;
        }
        run(this.#podman, ['kill', '--signal=KILL', name])
          .catch(() => undefined)
          .finally(() => {
            inner.signal('SIGKILL');
          });
      },
    };
  }

  async #remove(name: string): Promise<void> {
    try {
      await run(this.#podman, ['rm', '--force', '--ignore', '--time=0', name]);
    } catch (err) {
      this.#log.warn('cannot remove container', { container: name, error: errorMessage(err) });
    }
  }
}
