/** RFC 3339 in UTC to the second, rounded up (`2026-11-21T21:10:43Z`): as providers and people write times. */
export function rfc3339Seconds(epochMs: number): string {
  return new Date(Math.ceil(epochMs / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
