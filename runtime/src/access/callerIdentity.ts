/**
 * Who is calling, decided once per request from its headers and its peer: the one place that
 * reads `x-api-key` and `Authorization` (test/callerHeaders.unit.test.ts holds every other file
 * to that). Access control, budgets, the audit trail, durable runs and MCP sessions all take
 * this answer, so a request cannot be one caller to one of them and another caller to the next.
 *
 * The headers are read from `rawHeaders`, where a repeat is visible (Node keeps the first
 * `Authorization` and joins repeated `x-api-key` values with ", "). A credential that could be
 * read two ways is refused with 401 naming the header: a repeated header, an empty one beside
 * the other, two different keys, an `Authorization` that is not `Bearer <key>`. The same key
 * in both headers names one caller and is accepted. While access control is off nothing is
 * refused and every caller is the one open caller, whatever it sends (a made-up key names
 * nobody, so it cannot have an account, a trail or runs of its own), but for the pod key from
 * inside the pod, which is the pod still.
 */
import { clientFingerprint } from '../audit/auditLog.ts';

export type CallerIdentity =
  /** Access control is off (no `access.clientKeysSecretRef`): every caller is this one. */
  | {
      readonly kind: 'open';
      readonly fingerprint: undefined;
      readonly binding: 'open';
    }
  /** One of the agent's client keys. */
  | {
      readonly kind: 'clientKey';
      /** The key itself: durable runs derive their owner from it (an HMAC, never stored). */
      readonly key: string;
      /** `key-…` (auditLog.ts `clientFingerprint`): audit trail and per-ClientKey budgets. */
      readonly fingerprint: string;
      readonly binding: string;
    }
  /** The pod's own key, from inside the pod: every pod of the agent is this one caller. */
  | {
      readonly kind: 'pod';
      readonly fingerprint: 'pod-key';
      readonly binding: 'pod';
    };

export interface IdentityRefusal {
  /** The `agent_auth_failures_total` reason. */
  readonly reason: 'missing' | 'invalid' | 'ambiguous';
  /** Says what was wrong, naming the header. */
  readonly message: string;
}

export const OPEN_CALLER: CallerIdentity = Object.freeze({
  kind: 'open',
  fingerprint: undefined,
  binding: 'open',
});

export const POD_CALLER: CallerIdentity = Object.freeze({
  kind: 'pod',
  fingerprint: 'pod-key',
  binding: 'pod',
});

/** The caller an accepted client key names. */
export function clientKeyCaller(key: string): CallerIdentity {
  const fingerprint = clientFingerprint(key) ?? '';
  return Object.freeze({ kind: 'clientKey', key, fingerprint, binding: fingerprint });
}

/** Who is calling: only a loopback peer may present the pod key. */
export interface Peer {
  readonly loopback: boolean;
}

/** The agent's keys (clientKeys.ts): whether they are enforced, and whom a key names. */
export interface KeyJudge {
  readonly enforced: boolean;
  identify(presented: string, peer: Peer): CallerIdentity | undefined;
}

/** What a request (Node's `IncomingMessage`) shows of its caller. */
export interface CallerEvidence {
  /** Names and values alternating, repeats kept. */
  readonly rawHeaders: readonly string[];
  readonly socket: { readonly remoteAddress?: string | undefined };
}

export function isIdentity(answer: CallerIdentity | IdentityRefusal): answer is CallerIdentity {
  return 'kind' in answer;
}

/** Who is calling, or why the request is refused. */
export function callerIdentity(
  keys: KeyJudge,
  request: CallerEvidence,
): CallerIdentity | IdentityRefusal {
  if (!keys.enforced) return openCaller(keys, request);
  const presented = presentedCredential(request.rawHeaders);
  if (typeof presented !== 'string') return presented;
  if (presented === '')
    return {
      reason: 'missing',
      message: 'missing client key: send it as x-api-key or Authorization: Bearer',
    };
  const peer = { loopback: isLoopbackAddress(request.socket.remoteAddress) };
  const identity = keys.identify(presented, peer);
  return identity ?? { reason: 'invalid', message: 'invalid client key' };
}

/**
 * A caller of an agent without client keys: the one open caller, whatever it sends, refused for
 * nothing; but the pod's own agent, presenting the pod key from inside the pod, is still the
 * pod, so its runs stay its own from one pod to the next as they do with client keys on.
 */
function openCaller(keys: KeyJudge, request: CallerEvidence): CallerIdentity {
  if (!isLoopbackAddress(request.socket.remoteAddress)) return OPEN_CALLER;
  const presented = presentedCredential(request.rawHeaders);
  if (typeof presented !== 'string' || presented === '') return OPEN_CALLER;
  return keys.identify(presented, { loopback: true })?.kind === 'pod' ? POD_CALLER : OPEN_CALLER;
}

/** Whether a socket's remote address is this host's loopback (IPv4, IPv6 or IPv4-mapped). */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address === '::1' || /^(::ffff:)?127\./.test(address);
}

const BEARER = /^Bearer[ \t]+(\S+)$/i;

/**
 * The one key the headers present ('' for none), or the refusal of a credential that could be
 * read as more than one.
 */
export function presentedCredential(rawHeaders: readonly string[]): string | IdentityRefusal {
  const apiKeys: string[] = [];
  const authorizations: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] ?? '').toLowerCase();
    if (name === 'x-api-key') apiKeys.push(rawHeaders[i + 1] ?? '');
    else if (name === 'authorization') authorizations.push(rawHeaders[i + 1] ?? '');
  }
  if (apiKeys.length > 1) return ambiguous('header x-api-key is sent more than once');
  if (authorizations.length > 1) return ambiguous('header Authorization is sent more than once');
  const apiKey = apiKeys[0]?.trim();
  const authorization = authorizations[0]?.trim();
  let bearer: string | undefined;
  if (authorization !== undefined && authorization !== '') {
    bearer = BEARER.exec(authorization)?.[1];
    if (bearer === undefined)
      return ambiguous('header Authorization must be "Bearer <client key>"');
  }
  if (apiKey === undefined || apiKey === '') {
    if (apiKey === '' && bearer !== undefined)
      return ambiguous('header x-api-key is empty beside Authorization');
    return bearer ?? '';
  }
  if (authorization === '') return ambiguous('header Authorization is empty beside x-api-key');
  if (bearer !== undefined && bearer !== apiKey)
    return ambiguous('headers x-api-key and Authorization carry different client keys');
  return apiKey;
}

function ambiguous(what: string): IdentityRefusal {
  return { reason: 'ambiguous', message: `${what}: send one client key, once` };
}
