/**
 * AWS Signature Version 4 for the runtime's requests to Bedrock: header signing with
 * `x-amz-content-sha256`, no query string — the one shape the Bedrock wire sends.
 *
 * Written here rather than taken from `@smithy/signature-v4` for the hot path's sake: the
 * library's general signer (any query, presigning, event-stream signing, a credentials cache
 * keyed by an HMAC of the secret) costs 28 µs of CPU a request on this machine, this one 7 µs
 * (one-shot `crypto.hash` for the two digests, one HMAC on a signing key kept per day and
 * secret). On a streamed answer through the runtime that is about a tenth of what the
 * runtime spends beyond a bare proxy (docs/decisions/0023-bedrock-signing-and-frames-by-hand.md). The library stays
 * the reference: the unit tests sign the same requests with both and require the same
 * headers, and check AWS's published test vectors; the simulator verifies every request the
 * runtime sends with the library.
 */
import { createHmac, createSecretKey, hash, type KeyObject } from 'node:crypto';
import type { AwsCredentialIdentity } from '@smithy/types';

export interface SignableRequest {
  readonly method: string;
  /** The path as it goes on the wire (already percent-encoded once, as the AWS SDKs send it). */
  readonly path: string;
  /** Header names in lower case; `host` among them. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface SigV4Options {
  readonly service: string;
  readonly region: string;
  /** Adds `x-amz-content-sha256` (the AWS SDKs do; AWS's test suite does not). @default true */
  readonly contentHashHeader?: boolean;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
/** Headers the AWS SDKs never sign: hop-by-hop, or changed on the way by proxies. */
const UNSIGNABLE = new Set([
  'authorization',
  'cache-control',
  'connection',
  'expect',
  'from',
  'keep-alive',
  'max-forwards',
  'pragma',
  'referer',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'user-agent',
  'x-amzn-trace-id',
]);
const NEEDS_TRIM = /[\r\n\t]| {2}|^ | $/;

export class SigV4Signer {
  readonly #service: string;
  readonly #region: string;
  readonly #contentHashHeader: boolean;
  /** The signing key of one day and one secret: derived with four HMACs, then kept. */
  #key: { readonly day: string; readonly secret: string; readonly key: KeyObject } | undefined;

  constructor(options: SigV4Options) {
    this.#service = options.service;
    this.#region = options.region;
    this.#contentHashHeader = options.contentHashHeader ?? true;
  }

  /** The request's headers with `x-amz-date`, the token, the content hash and `authorization`. */
  sign(
    request: SignableRequest,
    credentials: AwsCredentialIdentity,
    now: Date,
  ): Record<string, string> {
    const longDate = amzDate(now);
    const day = longDate.slice(0, 8);
    const payloadHash = hash('sha256', request.body, 'hex');
    const headers: Record<string, string> = { ...request.headers, 'x-amz-date': longDate };
    if (credentials.sessionToken !== undefined && credentials.sessionToken !== '')
      headers['x-amz-security-token'] = credentials.sessionToken;
    if (this.#contentHashHeader && headers['x-amz-content-sha256'] === undefined)
      headers['x-amz-content-sha256'] = payloadHash;

    const names = Object.keys(headers)
      .filter(
        (name) => !UNSIGNABLE.has(name) && !name.startsWith('proxy-') && !name.startsWith('sec-'),
      )
      .sort();
    let canonical = `${request.method}\n${canonicalPath(request.path)}\n\n`;
    for (const name of names) canonical += `${name}:${canonicalValue(headers[name] as string)}\n`;
    const signedHeaders = names.join(';');
    canonical += `\n${signedHeaders}\n${payloadHash}`;

    const scope = `${day}/${this.#region}/${this.#service}/aws4_request`;
    const stringToSign = `${ALGORITHM}\n${longDate}\n${scope}\n${hash('sha256', canonical, 'hex')}`;
    const signature = createHmac('sha256', this.#signingKey(day, credentials.secretAccessKey))
      .update(stringToSign)
      .digest('hex');
    headers.authorization = `${ALGORITHM} Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
    return headers;
  }

  #signingKey(day: string, secret: string): KeyObject {
    const kept = this.#key;
    if (kept !== undefined && kept.day === day && kept.secret === secret) return kept.key;
    let key = createHmac('sha256', `AWS4${secret}`).update(day).digest();
    for (const part of [this.#region, this.#service, 'aws4_request'])
      key = createHmac('sha256', key).update(part).digest();
    const keyObject = createSecretKey(key);
    this.#key = { day, secret, key: keyObject };
    return keyObject;
  }
}

/** `20150830T123600Z`. */
function amzDate(now: Date): string {
  const iso = now.toISOString(); // 2015-08-30T12:36:00.000Z
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
}

/**
 * The path with `.`/`..`/empty segments resolved and each segment escaped once more (RFC 3986
 * unreserved characters stay), as SigV4 wants for every service but S3.
 */
function canonicalPath(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(escapeUri(segment));
  }
  const trailing = segments.length > 0 && path.endsWith('/') ? '/' : '';
  return `${path.startsWith('/') ? '/' : ''}${segments.join('/')}${trailing}`;
}

function escapeUri(segment: string): string {
  return encodeURIComponent(segment).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** Line breaks as spaces, runs of spaces and tabs as one, no space at either end. */
function canonicalValue(value: string): string {
  if (!NEEDS_TRIM.test(value)) return value;
  return value
    .replace(/[\r\n]/g, ' ')
    .replace(/[ \t]+/g, ' ')
    .replace(/^ | $/g, '');
}
