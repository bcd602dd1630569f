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
