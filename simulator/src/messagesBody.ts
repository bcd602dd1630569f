/**
 * A Messages request body as every route reads it: JSON first, then the fields the Messages
 * API checks, with the API's 400 for either; and `count_tokens`, which reads the same body
 * without `max_tokens`.
 */
import type { ServerResponse } from 'node:http';
import { invalid, type ApiErrorReply } from './anthropicError.ts';
import { sendApiError, sendJson } from './httpReplies.ts';
import type { NewId } from './ids.ts';
import { parseMessagesRequest, type MessagesRequest } from './messagesRequest.ts';
import { toolUseSystemPromptTokens } from './replyPlan.ts';
import { estimateInputTokens } from './tokenEstimate.ts';

export type ReadResult =
  | { readonly ok: true; readonly request: MessagesRequest }
  | { readonly ok: false; readonly error: ApiErrorReply };

/** `POST /v1/messages/count_tokens`: the same body without `max_tokens`, no faults or budget. */
export function handleCountTokens(res: ServerResponse, body: Buffer, newId: NewId): void {
  const requestId = newId('req');
  const request = readRequest(body, false);
  if (!request.ok) {
    sendApiError(res, request.error, requestId);
    return;
  }
  // As the API counts it: the tool-use system prompt is part of the input.
  const inputTokens =
    estimateInputTokens(request.request) + toolUseSystemPromptTokens(request.request);
  sendJson(res, 200, JSON.stringify({ input_tokens: inputTokens }), { 'request-id': requestId });
}

/** The `model` of a request body, read ahead of validation for faults that target a model. */
export function requestedModel(body: Buffer): string | undefined {
  try {
    const json = JSON.parse(body.toString('utf8')) as unknown;
    const model =
      typeof json === 'object' && json !== null ? (json as { model?: unknown }).model : undefined;
    return typeof model === 'string' ? model : undefined;
  } catch {
    return undefined;
  }
}

export function readRequest(body: Buffer, requireMaxTokens: boolean): ReadResult {
  const json = parseJsonBody(body);
  if (!json.ok) return json;
  return validateMessagesRequest(json.value, requireMaxTokens);
}

/** The body as JSON, or the API's error for a body that is not. */
export function parseJsonBody(
  body: Buffer,
):
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: ApiErrorReply } {
  try {
    return { ok: true, value: JSON.parse(body.toString('utf8')) as unknown };
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return { ok: false, error: invalid(`body: the request body is not valid JSON (${detail})`) };
  }
}

/** A parsed body validated as a Messages request (`count_tokens` needs no `max_tokens`). */
export function validateMessagesRequest(json: unknown, requireMaxTokens: boolean): ReadResult {
  const parsed = parseMessagesRequest(json, { requireMaxTokens });
  return parsed.ok ? parsed : { ok: false, error: invalid(parsed.message) };
}
