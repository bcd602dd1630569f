import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TlsFiles } from './tlsFiles.ts';

let dir: string;
const text = (value: Buffer | undefined): string | undefined => value?.toString();

/** Replaces `name` the way a Secret volume or cert-manager does: a new file renamed into place. */
function replace(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(`${path}.new`, content);
  renameSync(`${path}.new`, path);
  return path;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tls-files-test-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('TlsFiles', () => {
  it('hands out what it read while no file changes', () => {
    const tls = new TlsFiles({
      ca: { file: replace('ca.crt', 'CA one') },
      cert: undefined,
      key: undefined,
    });
    const first = tls.forConnection();
    expect(text(first.ca)).toBe('CA one');
    expect(tls.forConnection()).toBe(first);
    expect(tls.rotations).toBe(0);
  });

  it('takes a replaced CA file for the next connection, and only then', () => {
    const tls = new TlsFiles({
      ca: { file: replace('ca.crt', 'CA one') },
      cert: undefined,
      key: undefined,
    });
    replace('ca.crt', 'CA two');
    expect(text(tls.current.ca)).toBe('CA one');
    expect(text(tls.forConnection().ca)).toBe('CA two');
    expect(tls.rotations).toBe(1);
  });

  it('keeps the last good set when the new files make no TLS context, and looks again next time', () => {
    const tls = new TlsFiles({
      ca: undefined,
      cert: { file: replace('client.crt', 'not a certificate') },
      key: { file: replace('client.key', 'not a key') },
    });
    replace('client.crt', 'half-written certificate');
    expect(text(tls.forConnection().cert)).toBe('not a certificate');
    expect(tls.rotations).toBe(0);
    replace('client.crt', 'still not a certificate');
    expect(text(tls.forConnection().cert)).toBe('not a certificate');
  });

  it('carries inline data and the fixed settings unchanged', () => {
    const tls = new TlsFiles(
      { ca: { data: Buffer.from('CA DATA') }, cert: undefined, key: undefined },
      { servername: 'kubernetes', rejectUnauthorized: false },
    );
    expect(tls.forConnection()).toEqual({
      ca: Buffer.from('CA DATA'),
      servername: 'kubernetes',
      rejectUnauthorized: false,
    });
    expect(tls.forConnection()).toBe(tls.current);
  });
});
