/**
 * Checks AWS Signature Version 4 on a received request the way AWS does: the access key id
 * must be known, the credential scoped to the `bedrock` service, the `x-amz-date` within five
 * minutes of now, the session token the one issued with the key, and the signature equal to
 * the one recomputed here with @smithy/signature-v4 from the method, path, query, the headers
 * the client listed as signed, and the body as received (a tampered body changes the payload
 * hash, even when the client sent its own `x-amz-content-sha256`). Failures carry Bedrock's
 * exception names and messages.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { NodeSha256 } from '../../platform/src/crypto/nodeSha256.ts';
import { SignatureV4 } from '@smithy/signature-v4';

export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** When set, requests must carry it in `x-amz-security-token` (temporary credentials). */
  readonly sessionToken?: string | undefined;
}

/** The parts of a received request a signature covers. */
export interface SignedRequest {
  readonly method: string;
  /** The path and query exactly as received, percent-encoding included. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export type SigV4Result =
  | { readonly ok: true; readonly accessKeyId: string; readonly region: string }
  | {
      readonly ok: false;
      readonly exception:
        | 'MissingAuthenticationTokenException'
        | 'IncompleteSignatureException'
        | 'UnrecognizedClientException'
        | 'InvalidSignatureException';
      readonly message: string;
    };

export const SIGNING_SERVICE = 'bedrock';
/** How far the signing time may be from now, either way. */
export const MAX_SKEW_MS = 5 * 60_000;

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/\s,]+)\/(\d{8})\/([^/\s,]+)\/([^/\s,]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;_.-]+),\s*Signature=([0-9a-f]{64})$/;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

export class SigV4Verifier {
  readonly #byKeyId = new Map<string, AwsCredentials>();

  /** Accepts requests signed with these credentials (replacing any with the same key id). */
  add(credentials: AwsCredentials): void {
    this.#byKeyId.set(credentials.accessKeyId, credentials);
  }

  /** Forgets every credential; returns how many there were. */
  clear(): number {
    const cleared = this.#byKeyId.size;
    this.#byKeyId.clear();
    return cleared;
  }

  get accessKeyIds(): string[] {
    return [...this.#byKeyId.keys()];
  }

  async verify(request: SignedRequest, nowMs: number): Promise<SigV4Result> {
    const authorization = single(request.headers.authorization);
    if (authorization === undefined) {
      return refuse('MissingAuthenticationTokenException', 'Missing Authentication Token');
    }
    const match = AUTHORIZATION.exec(authorization);
    const amzDate = single(request.headers['x-amz-date']);
    const signingDate = amzDate === undefined ? undefined : parseAmzDate(amzDate);
    if (match === null || signingDate === undefined) {
      return refuse(
        'IncompleteSignatureException',
        `Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters and an x-amz-date header. Authorization=${authorization}`,
      );
    }
    const [, keyId = '', scopeDate = '', region = '', service = '', signed = '', signature = ''] =
      match;
    const credentials = this.#byKeyId.get(keyId);
    if (credentials === undefined) {
      return refuse('UnrecognizedClientException', INVALID_TOKEN);
    }
    if (single(request.headers['x-amz-security-token']) !== credentials.sessionToken) {
      return refuse('UnrecognizedClientException', INVALID_TOKEN);
    }
    if (service !== SIGNING_SERVICE) {
      return refuse(
        'InvalidSignatureException',
        `Credential should be scoped to correct service: '${SIGNING_SERVICE}'. `,
      );
    }
    if (amzDate?.slice(0, 8) !== scopeDate) {
      return refuse(
        'InvalidSignatureException',
        `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${scopeDate}' != '${amzDate?.slice(0, 8) ?? ''}'`,
      );
    }
    const skew = signingDate.getTime() - nowMs;
    if (skew < -MAX_SKEW_MS) {
      return refuse(
        'InvalidSignatureException',
        `Signature expired: ${amzDate} is now earlier than ${formatAmzDate(nowMs - MAX_SKEW_MS)} (${formatAmzDate(nowMs)} - 5 min.)`,
      );
    }
    if (skew > MAX_SKEW_MS) {
      return refuse(
        'InvalidSignatureException',
        `Signature not yet current: ${amzDate} is still later than ${formatAmzDate(nowMs + MAX_SKEW_MS)} (${formatAmzDate(nowMs)} + 5 min.)`,
      );
    }

    const expected = await recomputeSignature(request, credentials, region, signed, signingDate);
    if (!sameHex(expected, signature)) {
      return refuse(
        'InvalidSignatureException',
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
      );
    }
    return { ok: true, accessKeyId: keyId, region };
  }
}

const INVALID_TOKEN = 'The security token included in the request is invalid.';

function refuse(
  exception: Extract<SigV4Result, { ok: false }>['exception'],
  message: string,
): SigV4Result {
  return { ok: false, exception, message };
}

async function recomputeSignature(
  request: SignedRequest,
  credentials: AwsCredentials,
  region: string,
  signedHeaderList: string,
  signingDate: Date,
): Promise<string | undefined> {
  const signedNames = signedHeaderList.split(';');
  const headers: Record<string, string> = {};
  for (const name of signedNames) {
    const value = request.headers[name];
    if (value === undefined) return undefined;
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  // The hash the client declared is only trusted if it is the body's.
  const declared = headers['x-amz-content-sha256'];
  if (declared !== undefined && declared !== UNSIGNED_PAYLOAD) {
    headers['x-amz-content-sha256'] = createHash('sha256').update(request.body).digest('hex');
  }
  const queryAt = request.url.indexOf('?');
  const path = queryAt < 0 ? request.url : request.url.slice(0, queryAt);
  const query: Record<string, string | string[]> = {};
  if (queryAt >= 0) {
    for (const [key, value] of new URLSearchParams(request.url.slice(queryAt + 1))) {
      const seen = query[key];
      query[key] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
    }
  }
  const signer = new SignatureV4({
    credentials,
    region,
    service: SIGNING_SERVICE,
    sha256: NodeSha256,
    applyChecksum: false,
  });
  const signedRequest = await signer.sign(
    {
      method: request.method,
      protocol: 'https:',
      hostname: headers['host'] ?? '',
      path,
      query,
      headers,
      body: request.body,
    },
    { signingDate, signableHeaders: new Set(signedNames) },
  );
  const recomputed = signedRequest.headers['authorization'] ?? '';
  // The client's list must be the list the signer derived from the same headers.
  const match = AUTHORIZATION.exec(recomputed);
  return match?.[5] === signedHeaderList ? match[6] : undefined;
}

function sameHex(expected: string | undefined, presented: string): boolean {
  if (expected?.length !== presented.length) return false;
  return timingSafeEqual(Buffer.from(expected), Buffer.from(presented));
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function parseAmzDate(value: string): Date | undefined {
  const parts = AMZ_DATE.exec(value);
  if (parts === null) return undefined;
  const [, y, mo, d, h, mi, s] = parts.map(Number);
  return new Date(Date.UTC(y ?? 0, (mo ?? 1) - 1, d, h, mi, s));
}

/** `20240522T115159Z`, as AWS writes dates in its messages. */
export function formatAmzDate(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}
