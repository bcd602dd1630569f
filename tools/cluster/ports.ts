import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { promisify } from 'node:util';

export interface PortClaim {
  readonly port: number;
  /** What needs it: "kube-apiserver secure port". */
  readonly purpose: string;
  /** The environment variable that moves it. */
  readonly variable: string;
}

export interface PortConflict extends PortClaim {
  /** Who holds it, when the system tells: `pid 123 (etcd --data-dir ...)`. */
  readonly holder: string | undefined;
}

/** The claims whose port cannot be bound on 127.0.0.1 right now, with their holders. */
export async function findPortConflicts(claims: readonly PortClaim[]): Promise<PortConflict[]> {
  const taken = await Promise.all(
    claims.map(async (claim) => ((await isPortFree(claim.port)) ? undefined : claim)),
  );
  return Promise.all(
    taken
      .filter((claim) => claim !== undefined)
      .map(async (claim) => ({ ...claim, holder: await portHolder(claim.port) })),
  );
}

export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => {
      resolve(false);
    });
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
      server.close(() => {
        resolve(true);
      });
    });
  });
}

const execFileAsync = promisify(execFile);

/** Asks `ss` (iproute2), then `lsof`, which process listens on the port. */
export async function portHolder(port: number): Promise<string | undefined> {
  const pid = (await pidFromSs(port)) ?? (await pidFromLsof(port));
  if (pid === undefined) return undefined;
  return `pid ${pid} (${commandLineOf(pid) ?? 'command unknown'})`;
}

async function pidFromSs(port: number): Promise<number | undefined> {
  try {
    const { stdout } = await execFileAsync('ss', ['-ltnpH', `sport = :${port}`]);
    const match = /pid=(\d+)/.exec(stdout);
    return match?.[1] === undefined ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
}

async function pidFromLsof(port: number): Promise<number | undefined> {
  try {
    const { stdout } = await execFileAsync('lsof', ['-nP', `-iTCP:${port}`, '-sTCP:LISTEN', '-t']);
    const first = stdout.trim().split('\n')[0];
    return first === undefined || first === '' ? undefined : Number(first);
  } catch {
    return undefined;
  }
}

function commandLineOf(pid: number): string | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    return line.length > 120 ? `${line.slice(0, 117)}...` : line;
  } catch {
    return undefined;
  }
}
