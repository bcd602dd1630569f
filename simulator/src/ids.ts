import type { Random } from '../../platform/src/random/random.ts';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export type IdPrefix = 'msg' | 'toolu' | 'req';

/** Makes ids shaped like the real API's (`msg_01` + 22 base62 characters). */
export type NewId = (prefix: IdPrefix) => string;

export function idGenerator(random: Random): NewId {
  return (prefix) => {
    let id = `${prefix}_01`;
    for (let i = 0; i < 22; i++) id += ALPHABET.charAt(Math.floor(random() * ALPHABET.length));
    return id;
  };
}

/** Makes request ids shaped like AWS's (a version 4 UUID), from the seeded generator. */
export function uuidGenerator(random: Random): () => string {
  const hex = (n: number) =>
    Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('');
  return () =>
    `${hex(8)}-${hex(4)}-4${hex(3)}-${(8 + Math.floor(random() * 4)).toString(16)}${hex(3)}-${hex(12)}`;
}
