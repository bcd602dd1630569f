/** `POST /v1/agent/invoke` `{input, sessionId?, history?}` → `{output, model, usage, fallbackUsed}`. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { runAgent } from '../agent/agentLoop.ts';
import { clientFingerprint } from '../audit/auditLog.ts';
import { callerText, scanForInjection } from '../security/promptInjection.ts';
import { endSpan, startRequestSpan, withAttemptSpan } from '../telemetry/tracing.ts';
import { badRequest, mapFailure, refusal, sendError } from './errorReplies.ts';
import { checkInvokeBody } from './messagesValidation.ts';
import { passGate, presentedKey } from './requestGate.ts';
import type { RuntimeContext } from './runtimeContext.ts';

const ROUTE = '/v1/agent/invoke';

export function registerInvokeRoute(app: FastifyInstance, ctx: RuntimeContext): void {
  app.post(ROUTE, (request, reply) => handle(ctx, request, reply));
}

async function handle(
  ctx: RuntimeContext,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  const active = passGate(ctx, request, reply);
  if (active === undefined) return;
  const checked = checkInvokeBody(request.body);
  if (!checked.ok) {
    sendError(reply, badRequest(checked.message));
    return;
  }
  const { doc, guard } = active;
  const model = doc.model.name;
  ctx.metrics.requests.inc({ route: ROUTE, model });
  const client = clientFingerprint(presentedKey(request));
  if (doc.security.promptInjection !== 'Off') {
    const finding = scanForInjection(
      callerText([...checked.history, { role: 'user', content: checked.input }]),
    );
    if (finding !== undefined) {
      const action = doc.security.promptInjection === 'Block' ? 'blocked' : 'flagged';
      ctx.metrics.securityIncidents.inc({ kind: finding.kind, action });
      ctx.audit.record({
        event: 'security_incident',
        requestId: request.id,
        kind: finding.kind,
        action,
        client,
      });
      if (action === 'blocked') {
        sendError(
          reply,
          refusal(
            400,
            'invalid_request_error',
            `request blocked by the prompt-injection policy (${finding.kind})`,
          ),
        );
        return;
      }
    }
  }
  const started = ctx.clock.now();
  const traced = startRequestSpan('POST /v1/agent/invoke', request.headers, {
    'breakwater.session': checked.sessionId ?? '',
  });
  const abort = new AbortController();
  const onClose = () => {
    if (!reply.raw.writableFinished) abort.abort(new Error('caller went away'));
  };
  reply.raw.once('close', onClose);
  ctx.lifecycle.enter();
  ctx.metrics.inFlight.inc();
  let status = 200;
  let failure: unknown;
  try {
    const result = await runAgent(
      doc,
      ctx.router,
      { guard, metrics: ctx.metrics, stats: ctx.stats, clock: ctx.clock },
      {
        input: checked.input,
        history: checked.history,
        headers: traced.outgoing,
        wrapAttempt: (info, run) =>
          withAttemptSpan(
            traced,
            {
              model: info.model,
              backend: info.backend.name,
              attempt: info.attempt,
              breakerState: guard.permits(info.backend.name, info.model) ? 'allowing' : 'open',
            },
            run,
          ),
      },
      abort.signal,
    );
    ctx.stats.record('model', result.model, ctx.clock.now() - started);
    reply
      .code(200)
      .header('content-type', 'application/json')
      .send(
        JSON.stringify({
          output: result.output,
          model: result.model,
          usage: result.usage,
          fallbackUsed: result.fallbackUsed,
        }),
      );
    ctx.audit.record({
      event: 'model_interaction',
      requestId: request.id,
      route: ROUTE,
      sessionId: checked.sessionId,
      client,
      model,
      servedBy: result.model,
      fallbackUsed: result.fallbackUsed,
      status: 200,
      inputTokens: result.usage.input_tokens,
      outputTokens: result.usage.output_tokens,
      durationMs: ctx.clock.now() - started,
    });
  } catch (err) {
    failure = err;
    const mapping = mapFailure(err, ctx.clock.now());
    status = mapping.status;
    ctx.metrics.requestsFailed.inc({
      route: ROUTE,
      model,
      status: String(status),
      error_type: mapping.type,
    });
    ctx.stats.record('model', model, ctx.clock.now() - started, mapping.type);
    if (!reply.sent) sendError(reply, mapping);
  } finally {
    reply.raw.off('close', onClose);
    endSpan(traced.span, status, failure);
    ctx.metrics.inFlight.dec();
    ctx.lifecycle.leave();
  }
}
