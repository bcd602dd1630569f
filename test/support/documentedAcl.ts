/** The Redis ACL rule docs/rate-limit-store.md gives users for the store, as they would paste it. */
import { readFileSync } from 'node:fs';

export function documentedAclRule(): string {
  const doc = readFileSync(new URL('../../docs/rate-limit-store.md', import.meta.url), 'utf8');
  const line = doc.split('\n').find((l) => l.trim().startsWith('ACL SETUSER breakwater '));
  if (line === undefined) throw new Error('docs/rate-limit-store.md has no ACL SETUSER line');
  return line.trim();
}
