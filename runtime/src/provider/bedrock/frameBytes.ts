/**
 * The byte work the event-stream transcoder does on every frame, in plain JavaScript: at a
 * few hundred bytes a frame, each call out of JavaScript (Buffer.compare, indexOf, a string,
 * a base64 write) costs more than the bytes it handles (docs/decisions/0023-bedrock-signing-and-frames-by-hand.md).
 */
export const QUOTE = 0x22;
export const NEWLINE = 0x0a;
const RETURN = 0x0d;
const EQUALS = 0x3d;

/** Whether `buffer[start..end)` holds exactly `bytes`; compared here, not by a call to C++. */
export function sameBytes(buffer: Buffer, start: number, end: number, bytes: Buffer): boolean {
  if (end - start !== bytes.length) return false;
  for (let i = 0; i < bytes.length; i++) if (buffer[start + i] !== bytes[i]) return false;
  return true;
}

/**
 * Whether `json[0..length)` holds a line break (whitespace between tokens, legal in JSON but
 * the end of a `data:` line in SSE). Scanned here: the decode buffer is longer than the frame's
 * JSON, and a call to `indexOf` costs more than the loop.
 */
export function breaksLine(json: Buffer, from: number, length: number): boolean {
  for (let i = from; i < from + length; i++) {
    const c = json[i];
    if (c === NEWLINE || c === RETURN) return true;
  }
  return false;
}

export function startsWith(buffer: Buffer, start: number, end: number, bytes: Buffer): boolean {
  return end - start >= bytes.length && sameBytes(buffer, start, start + bytes.length, bytes);
}

/** Each base64 letter's six bits; -1 for every other byte (`"` and `=` among them). */
const SEXTETS = new Int8Array(256).fill(-1);
const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
for (let i = 0; i < BASE64.length; i++) SEXTETS[BASE64.charCodeAt(i)] = i;

/**
 * Decodes the base64 that starts at `src[from]` and ends at a `"` before `end` into `dst` at
 * `at`; the number of bytes written, or -1 when it is not padded base64 closed by a quote.
 */
export function decodeBase64(
  src: Buffer,
  from: number,
  end: number,
  dst: Buffer,
  at: number,
): number {
  let i = from;
  let o = at;
  for (; i + 4 <= end; i += 4) {
    const a = SEXTETS[src[i] as number] as number;
    const b = SEXTETS[src[i + 1] as number] as number;
    const c = SEXTETS[src[i + 2] as number] as number;
    const d = SEXTETS[src[i + 3] as number] as number;
    if ((a | b | c | d) < 0) break;
    const n = (a << 18) | (b << 12) | (c << 6) | d;
    dst[o++] = n >> 16;
    dst[o++] = (n >> 8) & 0xff;
    dst[o++] = n & 0xff;
  }
  if (i < end && src[i] === QUOTE) return o - at;
  // The last group: two letters and `==`, or three and `=`, then the quote.
  if (i + 4 >= end || src[i + 4] !== QUOTE) return -1;
  const a = SEXTETS[src[i] as number] as number;
  const b = SEXTETS[src[i + 1] as number] as number;
  if ((a | b) < 0 || src[i + 3] !== EQUALS) return -1;
  if (src[i + 2] === EQUALS) {
    dst[o++] = ((a << 2) | (b >> 4)) & 0xff;
    return o - at;
  }
  const c = SEXTETS[src[i + 2] as number] as number;
  if (c < 0) return -1;
  dst[o++] = ((a << 2) | (b >> 4)) & 0xff;
  dst[o++] = ((b << 4) | (c >> 2)) & 0xff;
  return o - at;
}
