/**
 * `/debug/*`: what the runtime believes right now. Served on the metrics port, where anyone who
 * reaches the pod can read it, and but for `/debug/runs` on the API port (behind the client key
 * when access control is on). So secrets never appear: the policy names the environment variables that hold
 * keys, never their values; the system prompt is shown as its length and a SHA-256 prefix;
 * URLs lose any user:password they carry.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { PolicyDocument } from '../../../contract/src/policy/policyDocument.ts';
import { DEBUG_OFF, DEBUG_STATS_PATH } from '../../../contract/src/reporting/debugStats.ts';
import { DEBUG_RUNS_PATH } from '../../../contract/src/reporting/runsListing.ts';
import { encodeBudgetReport } from '../../../contract/src/reporting/budgetReport.ts';
import type { IdentityRefusal } from '../access/callerIdentity.ts';
import { refusal, sendError } from './errorReplies.ts';
import { isDebugUnavailable, runsDocument } from './debugRuns.ts';
import { planReport, type MessagesPlan } from './messagesPlan.ts';

export { DEBUG_OFF };
import type { RuntimeContext } from './runtimeContext.ts';
import { identify, type GateNeeds } from './requestGate.ts';

/** What the `/debug/*` documents read. */
export type DebugNeeds = Pick<
  RuntimeContext,
  'store' | 'active' | 'clientKeys' | 'cache' | 'stats' | 'durable'
>;

/** Builds a document from the request's query; may refuse with a DebugUnavailable. */
export type DebugDocument = (query: URLSearchParams) => unknown;

/** Whether the policy in force serves `/debug/*` (on unless it says `debugEndpoints: false`). */
export function debugEnabled(ctx: Pick<RuntimeContext, 'store'>): boolean {
  return ctx.store.current?.doc.debugEndpoints !== false;
}

export function debugDocuments(ctx: DebugNeeds): Record<string, DebugDocument> {
  return {
    '/debug/breakers': () => ({ breakers: ctx.active()?.guard.breakers() ?? {} }),
    '/debug/ratelimiter': () => ({ rateLimiter: ctx.active()?.guard.rateLimiter() ?? {} }),
    '/debug/policy': () => {
      const doc = ctx.store.current?.doc;
      return {
        ...ctx.store.status(),
        document: doc === undefined ? undefined : policyForDebug(doc),
        clientKeys: { enforced: ctx.clientKeys.enforced, count: ctx.clientKeys.count },
        cache: { entries: ctx.cache.size },
        // How /v1/messages serves this policy's calls (messagesPlan.ts).
        messagesRoute: planReportOf(ctx.active()?.messages),
      };
    },
    [DEBUG_STATS_PATH]: () => ctx.stats.snapshot(),
    // What the pod reports of durable runs: their counts, and whether the journal's store answers.
    '/debug/durable': () => ({ durable: ctx.durable.report() ?? null }),
    // What the pod reports of its budgets: its own spend, and a team budget's account in the
    // store as it last read it (the annotation's JSON, amounts in picodollars as strings).
    '/debug/budgets': () => {
      const report = ctx.active()?.guard.budgetReport?.();
      return {
        budgets: report === undefined ? null : (JSON.parse(encodeBudgetReport(report)) as unknown),
      };
    },
    [DEBUG_RUNS_PATH]: (query) => runsDocument(ctx.durable, query),
  };
}

function planReportOf(plan: MessagesPlan | undefined) {
  return plan === undefined ? undefined : planReport(plan);
}

/**
 * The policy document as `/debug/policy` shows it: every URL anywhere in it without its
 * user:password (not only the fields known today to hold one), the system prompt as a digest.
 */
function policyForDebug(doc: PolicyDocument): unknown {
  const shown = withoutCredentials(doc) as Record<string, unknown>;
  return doc.systemPrompt === undefined
    ? shown
    : { ...shown, systemPrompt: promptDigest(doc.systemPrompt) };
}

function withoutCredentials(value: unknown): unknown {
  if (typeof value === 'string') return value.includes('@') ? withoutUserinfo(value) : value;
  if (Array.isArray(value)) return value.map(withoutCredentials);
  if (typeof value === 'object' && value !== null)
    return Object.fromEntries(
      Object.entries(value).map(([key, v]) => [key, withoutCredentials(v)]),
    );
  return value;
}

/** Enough of a prompt to tell whether two pods run the same one, and nothing of its text. */
function promptDigest(prompt: string) {
  return {
    withheld: 'the system prompt is not served on /debug; these tell prompts apart',
    length: prompt.length,
    sha256Prefix: createHash('sha256').update(prompt).digest('hex').slice(0, 12),
  };
}

function withoutUserinfo(url: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return url;
  try {
    const parsed = new URL(url);
    if (parsed.username === '' && parsed.password === '') return url;
    parsed.username = 'redacted';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return url;
  }
}

/** The API port's `/debug/*`: the metrics port's documents but `/debug/runs`. */
export function registerDebugRoutes(
  app: FastifyInstance,
  ctx: DebugNeeds & Pick<GateNeeds, 'clientKeys' | 'metrics'>,
  { requireKey }: { requireKey: boolean },
): void {
  for (const [path, build] of Object.entries(debugDocuments(ctx))) {
    // Every caller's runs are listed there, and a caller's key owns its runs (I2): on-call reads
    // the listing on the metrics port; a caller reads its own runs on /v1/agent/runs/:id.
    if (path === DEBUG_RUNS_PATH) continue;
    app.get(path, async (request, reply) => {
      if (!debugEnabled(ctx)) {
        return sendError(reply, refusal(404, 'not_found_error', DEBUG_OFF));
      }
      const refused = (answer: IdentityRefusal) =>
        answer.reason === 'ambiguous' ? answer.message : 'a client key is required for /debug';
      if (requireKey && identify(ctx, request, reply, refused) === undefined) return reply;
      let document: unknown;
      try {
        document = await build(new URL(request.url, 'http://runtime').searchParams);
      } catch (err) {
        if (!isDebugUnavailable(err)) throw err;
        return sendError(reply, refusal(err.status, err.type, err.message));
      }
      return reply
        .header('content-type', 'application/json')
        .send(JSON.stringify(document, null, 2));
    });
  }
}
