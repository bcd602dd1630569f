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
 *   GET    /health                    liveness for probes
 *
 * Anything else is a 404 (405 for a known path with the wrong method), in the API's error shape.
 */
import { randomInt } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../../platform/src/time/clock.ts';
import type { ApiErrorReply } from './anthropicError.ts';
import { FaultInjector } from './faultInjector.ts';
import { parseFaultSpec } from './faultSpec.ts';
import { sendApiError, sendJson } from './httpReplies.ts';
import { idGenerator, type NewId } from './ids.ts';
import { handleCountTokens, handleMessages, type MessagesContext } from './messagesHandler.ts';
import { RateLimitBudget, type BudgetLimits } from './rateLimitBudget.ts';
import { seededRandom } from '../../platform/src/random/random.ts';
import { SimulatorStats } from './simulatorStats.ts';
import type { StreamPacing } from './streamPacing.ts';

export interface SimulatorConfig {
  readonly latencyMs: number;
  readonly pacing: StreamPacing;
  /** Seeds fault rolls, ids and stream pacing; unset, a random seed. */
  readonly seed: number | undefined;
  readonly limits: BudgetLimits;
  readonly apiKey: string | undefined;
}

/** The real API takes request bodies of up to 32 MB. */
const MAX_BODY_BYTES = 32 * 1024 * 1024;

type Route = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

export class Simulator {
  readonly server: Server;
  readonly stats = new SimulatorStats();
  readonly faults: FaultInjector;
  readonly #clock: Clock;
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
    this.#messages = {
      clock,
      newId: this.#newId,
      faults: this.faults,
      budget: new RateLimitBudget(config.limits, clock),
      stats: this.stats,
      latencyMs: config.latencyMs,
      pacing: config.pacing,
      pacingRandom: seededRandom(seed ^ 0x9ace),
      apiKey: config.apiKey,
      hanging: this.#hanging,
    };
    this.#routes = new Map([
      ['/v1/messages', { POST: this.#postMessages }],
      ['/v1/messages/count_tokens', { POST: this.#countTokens }],
      ['/_sim/faults', { GET: this.#listFaults, POST: this.#addFault, DELETE: this.#clearFaults }],
      ['/_sim/stats', { GET: this.#getStats, DELETE: this.#resetStats }],
      ['/health', { GET: this.#health }],
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
    const methods = this.#routes.get(path);
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
    // Open until the answer is over or the connection is: what a provider counts as concurrent.
    this.stats.enter();
    res.once('close', () => {
      this.stats.leave();
    });
    handleMessages(req, res, body, this.#messages);
  };

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

function invalid(message: string): ApiErrorReply {
  return { status: 400, type: 'invalid_request_error', message };
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
