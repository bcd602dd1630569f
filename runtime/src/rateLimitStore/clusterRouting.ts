/**
 * Where a call goes in a Redis Cluster, worked out without a connection: a key's hash slot (the
 * server's CRC16 of its hash tag, or of the whole key), the key a raw command is routed by, and
 * an MGET's keys grouped by slot, since one MGET may name keys of one slot only, and where an
 * ASK reply sends a command.
 */

/** Slots in a Redis Cluster. */
export const SLOT_COUNT = 16384;

/** CRC16-CCITT (XModem: polynomial 0x1021, initial 0), the one Redis Cluster hashes keys with. */
const CRC16_TABLE = Uint16Array.from({ length: 256 }, (_, byte) => {
  let crc = byte << 8;
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
  return crc & 0xffff;
});

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const b of bytes) crc = ((crc << 8) & 0xffff) ^ (CRC16_TABLE[((crc >> 8) ^ b) & 0xff] ?? 0);
  return crc;
}

/**
 * The slot of `key`: when it holds a `{…}` with something between the first `{` and the next
 * `}`, only that part is hashed (a hash tag), so keys that share a tag share a slot.
 */
export function keySlot(key: string): number {
  const bytes = Buffer.from(key, 'utf8');
  const open = bytes.indexOf(0x7b);
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) return crc16(bytes.subarray(open + 1, close)) % SLOT_COUNT;
  }
  return crc16(bytes) % SLOT_COUNT;
}

/**
 * The key a raw command (as sendScript sends it) is routed by: a script's first key, the key of
 * a one-key command, none for a script without keys or a command that names none.
 */
export function routingKey(args: readonly string[]): string | undefined {
  const name = args[0]?.toUpperCase();
  if (name === 'EVAL' || name === 'EVALSHA' || name === 'EVAL_RO' || name === 'EVALSHA_RO')
    return Number(args[2]) > 0 ? args[3] : undefined;
  if (name === 'PING' || name === 'SCAN' || name === 'SCRIPT' || name === 'INFO') return undefined;
  return args[1];
}

/** `keys` grouped by slot, each group with the places its keys hold in `keys`. */
export function keysBySlot(
  keys: readonly string[],
): { readonly slot: number; readonly keys: string[]; readonly at: number[] }[] {
  const groups = new Map<number, { slot: number; keys: string[]; at: number[] }>();
  keys.forEach((key, i) => {
    const slot = keySlot(key);
    let group = groups.get(slot);
    if (group === undefined) groups.set(slot, (group = { slot, keys: [], at: [] }));
    group.keys.push(key);
    group.at.push(i);
  });
  return [...groups.values()];
}

/**
 * Where a redirect sends a command, or undefined for any other error: `ASK <slot> <host:port>`
 * (the slot is being moved there and the key is not on this node any more: sent there once,
 * behind `ASKING`), or `MOVED <slot> <host:port>` (the slot lives there now: this node ran
 * nothing, so the command may go there as it is).
 */
export function redirectOf(err: unknown): { address: string; asking: boolean } | undefined {
  if (!(err instanceof Error)) return undefined;
  const [, kind, address] = /^(ASK|MOVED) \d+ (\S+)$/.exec(err.message) ?? [];
  if (address === undefined) return undefined;
  return { address, asking: kind === 'ASK' };
}
