/**
 * How the store reaches its server: the connection's identity, the address, the
 * mounted Secrets it authenticates with, and why a failure made it fall back.
 */
import { readFileSync } from 'node:fs';
import type { StoreSettings } from '../../../contract/src/policy/policyDocument.ts';
import type { StoreFallbackReason } from '../../../contract/src/reporting/storeReport.ts';

/** Settings that reach the same server the same way share one connection. */
export function connectionKey(s: StoreSettings): string {
  return JSON.stringify(s.redis);
}

export function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
}

export function readSecrets(
  s: StoreSettings,
  files: { readonly password: string; readonly ca: string },
): { password?: string; ca?: string } {
  const secrets: { password?: string; ca?: string } = {};
  // `kubectl create secret --from-file` keeps a file's last newline; a password has none.
  if (s.redis.passwordSecretRef !== undefined)
    secrets.password = readFileSync(files.password, 'utf8').replace(/\r?\n$/, '');
  if (s.redis.tls?.caSecretRef !== undefined) secrets.ca = readFileSync(files.ca, 'utf8');
  return secrets;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function reasonOf(err: unknown): StoreFallbackReason {
  const message = messageOf(err);
  if (/WRONGPASS|NOAUTH|invalid (username-)?password|AUTH failed/i.test(message))
    return 'AuthenticationFailed';
  if (/^(ERR|NOSCRIPT|BUSY|OOM|READONLY)/.test(message)) return 'StoreError';
  return 'Unreachable';
}
