/**
 * `make up`'s tool check (`make demo-tools`, scripts/ensure-tools.sh demo) as a user who is not
 * root (issue 52 item 4): with a tool missing it names the tool and how to get it on
 * Debian/Ubuntu, Fedora and macOS, and stops there, running neither apt-get nor sudo. Run as
 * root, the test drops to nobody itself (setpriv); apt-get and sudo on the PATH only record that
 * they ran.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

let dir: string;
let ran: string;

/** A command that records that it ran and fails. */
function recorder(bin: string, name: string): void {
  const file = join(bin, name);
  writeFileSync(file, `#!/bin/sh\necho "${name} $*" >>"${ran}"\nexit 1\n`);
  chmodSync(file, 0o755);
}

function asUser(path: string): { code: number | null; stdout: string; stderr: string } {
  const command = ['env', '-i', 'HOME=/tmp', 'LANG=C.UTF-8', `PATH=${path}`];
  const make = ['make', '-s', '-C', repoRoot, 'demo-tools'];
  const argv =
    process.geteuid?.() === 0
      ? ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', ...command, ...make]
      : [...command, ...make];
  // Standard input not a socket: bash would read /etc/bash.bashrc as if run by sshd.
  const result = spawnSync(argv[0] ?? 'env', argv.slice(1), {
    encoding: 'utf8',
    timeout: 60_000,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'bw-demo-tools-'));
  chmodSync(dir, 0o777);
  ran = join(dir, 'ran.log');
  for (const name of ['apt-get', 'apt', 'sudo']) {
    recorder(dir, name);
  }
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("make up's tool check as a user who is not root", () => {
  it('names the missing tools with their apt, dnf and Homebrew commands, and runs no apt-get or sudo', () => {
    // /usr/bin and /bin only: no docker (none answers here anyway) and no go (/usr/local/go).
    const { code, stdout, stderr } = asUser(`${dir}:/usr/bin:/bin`);
    expect(code).not.toBe(0);
    expect(stderr).not.toContain('bashrc');
    expect(stderr).toContain('ensure-tools: no Docker engine answers (docker info)');
    expect(stderr).toContain('which needs root');
    expect(stderr).toContain(
      [
        '  docker: the container engine kind runs its node in',
        '    Debian/Ubuntu: sudo apt-get install docker.io',
        '    Fedora:        sudo dnf install moby-engine',
        '    macOS:         brew install --cask docker (Docker Desktop; start it once)',
      ].join('\n'),
    );
    expect(stderr).toMatch(
      /\n {2}go: builds kind and kubectl[^\n]*\n {4}Debian\/Ubuntu: sudo apt-get install golang-go\n {4}Fedora: {8}sudo dnf install golang\n {4}macOS: {9}brew install go\n/,
    );
    expect(stdout).not.toContain('apt-get install');
    expect(existsSync(ran) ? readFileSync(ran, 'utf8') : '').toBe('');
  });

  it('asks nothing but Go of a user whose Docker answers: no podman, no Debian package, no root', () => {
    // No Docker engine runs here: a `docker` whose `info` succeeds stands for one, in a
    // directory of its own so that the recorders above stay off this PATH's front.
    const docker = join(dir, 'docker-bin');
    mkdirSync(docker, { mode: 0o755 });
    writeFileSync(join(docker, 'docker'), '#!/bin/sh\n[ "$1" = info ] && exit 0\nexit 1\n');
    chmodSync(join(docker, 'docker'), 0o755);
    const { code, stdout, stderr } = asUser(`${dir}:${docker}:/usr/bin:/bin`);
    expect(code).not.toBe(0);
    expect(stderr).toContain(
      'ensure-tools: the demo (with Docker) needs go:\n  go: builds kind and kubectl',
    );
    expect(stderr).not.toMatch(/podman|mmdebstrap|root/);
    expect(stdout).toBe('');
    expect(existsSync(ran) ? readFileSync(ran, 'utf8') : '').toBe('');
  });
});
