/**
 * The simulator's HTTP server and routes:
 *
 *   POST   /v1/messages               the Messages API (plain and streaming)
 *   POST   /v1/messages/count_tokens  the token estimate of a request
 *   GET    /_sim/faults               active faults
 *   POST   /_sim/faults               add a fault (stacks with those already active)
 *   DELETE /_sim/faults               remove every fault
 *   GET    /_sim/stats                requests seen, by outcome
 *   DELETE /_sim/stats                reset the counters, answering with the ones cleared
 *   GET    /_sim/usage                what each Messages call was billed, cut streams too
 *   DELETE /_sim/usage                forget them, answering with the ones cleared
 *   GET    /health                    liveness for probes
 *   GET    /_sim/credentials          the Bedrock key ids and Vertex service accounts accepted
 *   POST   /_sim/credentials          accept one more (rotation: post the new, then delete all
 *                                     and post the new again)
 *   DELETE /_sim/credentials          forget them all and revoke issued Vertex tokens
 *
 * and, beside the Anthropic API, Amazon Bedrock's runtime API (bedrockRoutes.ts) and Google
 * Vertex AI's (vertexRoutes.ts), sharing its reply planning, faults, pacing and playback.
 *
 * Anything else is a 404 (405 for a known path with the wrong method), in the API's error shape.
 */
import { BilledUsageLog } from './billedUsage.ts';
import { randomInt } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../../platform/src/time/clock.ts';
import { invalid, type ApiErrorReply } from './anthropicError.ts';
import { FaultInjector } from './faultInjector.ts';
import { parseFaultSpec } from './faultSpec.ts';
import { sendApiError, sendJson } from './httpReplies.ts';
import { idGenerator, uuidGenerator, type NewId } from './ids.ts';
import { handleMessages, type MessagesCall, type MessagesContext } from './messagesHandler.ts';
import { handleCountTokens } from './messagesBody.ts';
import { anthropicCall } from './anthropicRoute.ts';
import * as bedrock from './bedrockRoutes.ts';
import { parseCredentialRequest } from './credentialRequest.ts';
import { SigV4Verifier, type AwsCredentials } from './sigV4Verifier.ts';
import * as vertex from './vertexRoutes.ts';
import { VertexTokenIssuer, type ServiceAccountKey } from './vertexTokenIssuer.ts';
import type { WireDialect } from './wireDialect.ts';
import { RateLimitBudget, type BudgetLimits } from './rateLimitBudget.ts';
import { seededRandom } from '../../platform/src/random/random.ts';
import { SimulatorStats } from './simulatorStats.ts';
import { PromptCache } from './promptCache.ts';
import type { StreamPacing } from './streamPacing.ts';
import { SEARCH_RESULT_TOKENS } from './replyPlan.ts';

export interface SimulatorConfig {
  readonly latencyMs: number;
  readonly pacing: StreamPacing;
  /** Seeds fault rolls, ids and stream pacing; unset, a random seed. */
  readonly seed: number | undefined;
  readonly limits: BudgetLimits;
  readonly apiKey: string | undefined;
  /** Credentials Bedrock requests may be signed with; none: every Bedrock request is refused. */
  readonly awsCredentials?: readonly AwsCredentials[];
  /** Service accounts that may get Vertex tokens; none: every token request is refused. */
  readonly vertexServiceAccounts?: readonly ServiceAccountKey[];
  /** The shortest prefix the prompt cache keeps; unset: the API's minimum per model family. */
  readonly cacheMinTokens?: number | undefined;
  /** The lifetime of a five-minute cache entry; unset: five minutes. */
  readonly cacheTtlMs?: number | undefined;
  /** Input tokens each web search's results are billed at; unset: SEARCH_RESULT_TOKENS. */
  readonly searchResultTokens?: number | undefined;
}

/** The real API takes request bodies of up to 32 MB. */
const MAX_BODY_BYTES = 32 * 1024 * 1024;

type Route = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

export class Simulator {
  readonly server: Server;
  readonly stats = new SimulatorStats();
  /** What each Messages call was billed (`GET /_sim/usage`). */
  readonly billed = new BilledUsageLog();
  /** Every backend's prompt cache (by account); tests clear it for a cold start. */
  readonly promptCache: PromptCache;
  readonly faults: FaultInjector;
  /** The AWS credentials Bedrock requests are checked against; tests add and clear them. */
  readonly awsCredentials = new SigV4Verifier();
  /** The service accounts and tokens of Vertex requests; tests add and clear accounts. */
  readonly vertexTokens = new VertexTokenIssuer();
  readonly #clock: Clock;
  readonly #bedrock: bedrock.BedrockContext;
  readonly #bedrockDialect: WireDialect;
  readonly #vertex: vertex.VertexContext;
  readonly #newId: NewId;
  readonly #messages: MessagesContext;
  readonly #hanging = new Set<ServerResponse>();
  readonly #routes: ReadonlyMap<string, Readonly<Partial<Record<string, Route>>>>;

  constructor(config: SimulatorConfig, clock: Clock) {
    const seed = config.seed ?? randomInt(2 ** 32);
    this.#clock = clock;
    // Separate streams, so that ids and pauses drawn for a request do not shift the fault rolls.
    this.faults = new FaultInjector(seededRandom(seed));
    this.#newId = idGenerator(seededRandom(seed ^ 0x5eed));
    this.promptCache = new PromptCache({
      clock,
      minTokens: config.cacheMinTokens,
      fiveMinuteTtlMs: config.cacheTtlMs,
    });
    this.#messages = {
      clock,
      promptCache: this.promptCache,
      newId: this.#newId,
      faults: this.faults,
      budget: new RateLimitBudget(config.limits, clock),
      stats: this.stats,
      billed: this.billed,
      latencyMs: config.latencyMs,
      pacing: config.pacing,
      pacingRandom: seededRandom(seed ^ 0x9ace),
      apiKey: config.apiKey,
      hanging: this.#hanging,
      searchResultTokens: config.searchResultTokens ?? SEARCH_RESULT_TOKENS,
    };
    for (const credentials of config.awsCredentials ?? []) this.awsCredentials.add(credentials);
    for (const account of config.vertexServiceAccounts ?? []) this.vertexTokens.add(account);
    const paddingRandom = seededRandom(seed ^ 0xbed0);
    this.#bedrock = {
      clock,
      verifier: this.awsCredentials,
      newRequestId: uuidGenerator(seededRandom(seed ^ 0xa115)),
      paddingRandom,
    };
    this.#bedrockDialect = bedrock.bedrockDialect(paddingRandom);
    this.#vertex = { clock, issuer: this.vertexTokens };
    this.#routes = new Map([
      ['/v1/messages', { POST: this.#postMessages }],
      ['/v1/messages/count_tokens', { POST: this.#countTokens }],
      ['/_sim/faults', { GET: this.#listFaults, POST: this.#addFault, DELETE: this.#clearFaults }],
      ['/_sim/stats', { GET: this.#getStats, DELETE: this.#resetStats }],
      ['/_sim/usage', { GET: this.#getUsage, DELETE: this.#resetUsage }],
      ['/health', { GET: this.#health }],
      [
        '/_sim/credentials',
        { GET: this.#listCredentials, POST: this.#addCredentials, DELETE: this.#clearCredentials },
      ],
      ['/token', { POST: this.#token }],
    ]);
    this.server = createServer((req, res) => {
      this.#dispatch(req, res);
    });
  }

  /** Starts listening; resolves with the base URL, e.g. `http://127.0.0.1:8787`. */
  async listen(port: number, host: string): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const address = this.server.address() as AddressInfo;
    const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${hostPart}:${address.port}`;
  }

  /**
   * Stops accepting connections, cuts hung requests, stalled streams and idle keep-alive
   * connections, lets answers in progress finish, and after `graceMs` cuts whatever is left.
   */
  async close(graceMs: number): Promise<void> {
    const closed = new Promise<void>((resolve) =>
      this.server.close(() => {
        resolve();
      }),
    );
    for (const res of this.#hanging) res.destroy();
    this.#hanging.clear();
    this.server.closeIdleConnections();
    const cancel = this.#clock.setTimeout(() => {
      this.server.closeAllConnections();
    }, graceMs);
    await closed;
    cancel();
  }

  #dispatch(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query < 0 ? url : url.slice(0, query);
    const methods = this.#routes.get(path) ?? this.#providerRoute(path);
    const route = methods?.[req.method ?? 'GET'];
    if (route === undefined) {
      req.resume();
      const requestId = this.#newId('req');
      if (methods === undefined) {
        sendApiError(res, notFound(`${req.method ?? 'GET'} ${path}`), requestId);
      } else {
        const allowed = Object.keys(methods).join(', ');
        sendApiError(res, methodNotAllowed(req.method, allowed), requestId, { allow: allowed });
      }
      return;
    }
    readBody(req, (body) => {
      if (body === undefined) {
        sendApiError(res, tooLarge(), this.#newId('req'), { connection: 'close' });
      } else {
        route(req, res, body);
      }
    });
  }

  readonly #postMessages: Route = (req, res, body) => {
    this.#answerMessages(req, res, anthropicCall(req, body, this.#messages));
  };

  #answerMessages(req: IncomingMessage, res: ServerResponse, call: MessagesCall): void {
    // Open until the answer is over or the connection is: what a provider counts as concurrent.
    this.stats.enter();
    res.once('close', () => {
      this.stats.leave();
    });
    handleMessages(req, res, call, this.#messages);
  }

  /** Bedrock's and Vertex's paths carry the model (and project, region) in them. */
  #providerRoute(path: string): Readonly<Partial<Record<string, Route>>> | undefined {
    const invoke = bedrock.matchBedrockPath(path);
    if (invoke !== undefined) {
      return {
        POST: (req, res, body) => {
          void this.#postBedrock(req, res, body, invoke.modelId, invoke.operation);
        },
      };
    }
    const target = vertex.matchVertexPath(path);
    if (target !== undefined) {
      return {
        POST: (req, res, body) => {
          this.#postVertex(req, res, body, target);
        },
      };
    }
    return undefined;
  }

  async #postBedrock(
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
    modelId: string,
    operation: bedrock.BedrockOperation,
  ): Promise<void> {
    const requestId = this.#bedrock.newRequestId();
    const refusal = await bedrock.authenticate(req, body, requestId, this.#bedrock);
    if (operation === 'count-tokens') {
      bedrock.handleBedrockCountTokens(res, modelId, body, requestId, refusal);
      return;
    }
    const call = bedrock.bedrockCall(
      this.#bedrockDialect,
      requestId,
      refusal,
      modelId,
      operation,
      body,
      bedrock.accountOf(req),
    );
    this.#answerMessages(req, res, call);
  }

  #postVertex(
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
    target: vertex.VertexTarget,
  ): void {
    const requestId = this.#newId('req');
    const refusal = vertex.authenticate(req, this.#vertex);
    if (target.model === 'count-tokens' && target.method === 'rawPredict') {
      vertex.handleVertexCountTokens(res, body, requestId, refusal);
      return;
    }
    this.#answerMessages(req, res, vertex.vertexCall(requestId, refusal, target, body));
  }

  readonly #token: Route = (req, res, body) => {
    vertex.handleToken(req, res, body, this.#vertex);
  };

  readonly #listCredentials: Route = (_req, res) => {
    sendJson(res, 200, JSON.stringify(this.#credentialsView()));
  };

  readonly #addCredentials: Route = (_req, res, body) => {
    const parsed = parseCredentialRequest(body);
    if (!parsed.ok) {
      sendApiError(res, invalid(parsed.message), this.#newId('req'));
      return;
    }
    if (parsed.credential.provider === 'bedrock') this.awsCredentials.add(parsed.credential);
    else this.vertexTokens.add(parsed.credential);
    sendJson(res, 201, JSON.stringify(this.#credentialsView()));
  };

  readonly #clearCredentials: Route = (_req, res) => {
    const cleared = this.awsCredentials.clear() + this.vertexTokens.clear();
    sendJson(res, 200, JSON.stringify({ cleared }));
  };

  #credentialsView() {
    return {
      bedrock: { accessKeyIds: this.awsCredentials.accessKeyIds },
      vertex: { serviceAccounts: this.vertexTokens.accounts },
    };
  }

  readonly #countTokens: Route = (_req, res, body) => {
    handleCountTokens(res, body, this.#newId);
  };

  readonly #listFaults: Route = (_req, res) => {
    sendJson(res, 200, JSON.stringify({ faults: this.faults.list() }));
  };

  readonly #addFault: Route = (_req, res, body) => {
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      sendApiError(res, invalid('body: not valid JSON'), this.#newId('req'));
      return;
    }
    const parsed = parseFaultSpec(json);
    if (!parsed.ok) {
      sendApiError(res, invalid(parsed.message), this.#newId('req'));
      return;
    }
    sendJson(res, 201, JSON.stringify(this.faults.add(parsed.fault)));
  };

  readonly #clearFaults: Route = (_req, res) => {
    sendJson(res, 200, JSON.stringify({ cleared: this.faults.clear() }));
  };

  readonly #getStats: Route = (_req, res) => {
    sendJson(res, 200, JSON.stringify(this.stats.snapshot()));
  };

  readonly #resetStats: Route = (_req, res) => {
    const cleared = this.stats.snapshot();
    this.stats.reset();
    sendJson(res, 200, JSON.stringify(cleared));
  };

  readonly #getUsage: Route = (_req, res) => {
    sendJson(res, 200, JSON.stringify({ calls: this.billed.snapshot() }));
  };

  readonly #resetUsage: Route = (_req, res) => {
    const cleared = this.billed.snapshot();
    this.billed.reset();
    sendJson(res, 200, JSON.stringify({ calls: cleared }));
  };

  readonly #health: Route = (_req, res) => {
    sendJson(res, 200, '{"status":"ok"}');
  };
}

/** Collects the body; `undefined` when it is larger than the API accepts. */
function readBody(req: IncomingMessage, done: (body: Buffer | undefined) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  });
  req.on('end', () => {
    done(size <= MAX_BODY_BYTES ? Buffer.concat(chunks, size) : undefined);
  });
}

function notFound(what: string): ApiErrorReply {
  return { status: 404, type: 'not_found_error', message: `Not found: ${what}` };
}

function methodNotAllowed(method: string | undefined, allowed: string): ApiErrorReply {
  return {
    status: 405,
    type: 'invalid_request_error',
    message: `Method ${method ?? '?'} not allowed; use ${allowed}`,
  };
}

function tooLarge(): ApiErrorReply {
  return {
    status: 413,
    type: 'request_too_large',
    message: `Request body exceeds ${MAX_BODY_BYTES} bytes`,
  };
}
