/**
 * The inotify check of kind's cluster set-up (tools/kindNode/inotify.sh; issue 52 item 4): a
 * limit below what kind's node needs is explained with the command that raises it, and raised
 * only as root, saying so; never silently. The limit is read from a file of the test's
 * (BREAKWATER_INOTIFY_FILE), which anyone may write: only the check's own decision keeps it
 * unchanged for a user who is not root.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../../tools/kindNode/inotify.sh', import.meta.url));
const root = process.geteuid?.() === 0;

let dir: string;
let limit: string;

function check(
  value: string,
  asNobody: boolean,
): { code: number | null; stderr: string; after: string } {
  writeFileSync(limit, `${value}\n`);
  chmodSync(limit, 0o666);
  const command = ['env', `BREAKWATER_INOTIFY_FILE=${limit}`, 'bash', script, '512'];
  const argv = asNobody
    ? ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', ...command]
    : command;
  const result = spawnSync(argv[0] ?? 'env', argv.slice(1), {
    encoding: 'utf8',
    timeout: 30_000,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { code: result.status, stderr: result.stderr, after: readFileSync(limit, 'utf8').trim() };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'bw-inotify-'));
  chmodSync(dir, 0o755);
  limit = join(dir, 'max_user_instances');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

// Dropping to nobody and writing as root both need root.
(root ? describe : describe.skip)('the inotify limit at cluster set-up', () => {
  it('is explained with the command that raises it, and left alone, for a user who is not root', () => {
    const { code, stderr, after } = check('128', true);
    expect(code).toBe(0);
    expect(after).toBe('128');
    expect(stderr).toContain(
      '>> host: fs.inotify.max_user_instances is 128, below the 512 the node',
    );
    expect(stderr).toContain('"too many open files"');
    expect(stderr).toContain(
      '>>   Not raised: this is not root. Raise it with: sudo sysctl -w fs.inotify.max_user_instances=512\n',
    );
    expect(stderr).toContain('/etc/sysctl.d/');
  });

  it('is raised as root, and said so', () => {
    const { code, stderr, after } = check('128', false);
    expect(code).toBe(0);
    expect(after).toBe('512');
    expect(stderr).toMatch(/^>> host: fs\.inotify\.max_user_instances 128 -> 512, as root \(/);
  });

  it('is left alone and nothing said when it is high enough', () => {
    expect(check('512', true)).toEqual({ code: 0, stderr: '', after: '512' });
    expect(check('8192', false)).toEqual({ code: 0, stderr: '', after: '8192' });
  });
});
