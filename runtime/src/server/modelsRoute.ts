/**
 * `GET /v1/models` and `GET /v1/models/{id}`: the agent's models (its model, then its
 * fallbacks), in the Models API's shapes, so that a client's `models.list()` and
 * `models.retrieve()` work through the runtime. Behind the same gate as `/v1/messages`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { refusal, sendError } from './errorReplies.ts';
import { modelChain } from './messagesRoute.ts';
import { passGate, type GateNeeds } from './requestGate.ts';

/**
 * The runtime knows a model by its name alone: the release date the API gives is not in the
 * policy, so every model says the epoch rather than a date the runtime would make up.
 */
const UNKNOWN_CREATION = '1970-01-01T00:00:00Z';

export interface ModelInfo {
  readonly type: 'model';
  readonly id: string;
  readonly display_name: string;
  readonly created_at: string;
}

export function modelInfo(id: string): ModelInfo {
  return { type: 'model', id, display_name: id, created_at: UNKNOWN_CREATION };
}

/** The list page: every model at once, so never more to fetch. */
export function modelList(models: readonly string[]): {
  data: ModelInfo[];
  has_more: false;
  first_id: string | null;
  last_id: string | null;
} {
  return {
    data: models.map(modelInfo),
    has_more: false,
    first_id: models[0] ?? null,
    last_id: models.at(-1) ?? null,
  };
}

export function registerModelsRoute(app: FastifyInstance, ctx: GateNeeds): void {
  app.get('/v1/models', (request, reply) => {
    const models = agentModels(ctx, request, reply);
    if (models !== undefined) void reply.code(200).send(modelList(models));
  });
  app.get('/v1/models/:id', (request, reply) => {
    const models = agentModels(ctx, request, reply);
    if (models === undefined) return;
    const { id } = request.params as { id: string };
    if (models.includes(id)) void reply.code(200).send(modelInfo(id));
    else
      sendError(
        reply,
        refusal(
          404,
          'not_found_error',
          `model: ${id} is not one of this agent's models (${models.join(', ')})`,
        ),
      );
  });
}

function agentModels(
  ctx: GateNeeds,
  request: FastifyRequest,
  reply: FastifyReply,
): string[] | undefined {
  const admitted = passGate(ctx, request, reply);
  if (admitted === undefined) return undefined;
  const doc = admitted.active.doc;
  return modelChain(doc.model.name, admitted.active);
}
