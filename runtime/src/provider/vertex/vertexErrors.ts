/**
 * Vertex AI's refusals. Two shapes arrive: the Anthropic API's own (`{"type":"error",
 * "error":{"type":"overloaded_error",…}}`, passed through by Vertex from the model) and
 * Google's (`{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","message":…}}`, from the
 * platform: quota, auth, routing). The first is generated as the SDK would; the second is
 * mapped to its Anthropic equivalent (cloudErrors.ts).
 */
import { APIError } from '@anthropic-ai/sdk/core/error';
import type { AnthropicErrorType } from '../../../../contract/src/anthropic/errorTypes.ts';
import { anthropicError, errorTypeForStatus, messageOf, parseJson } from '../cloudErrors.ts';

const BY_STATUS: Readonly<Record<string, AnthropicErrorType>> = {
  RESOURCE_EXHAUSTED: 'rate_limit_error',
  UNAVAILABLE: 'overloaded_error',
  INTERNAL: 'api_error',
  UNKNOWN: 'api_error',
  DEADLINE_EXCEEDED: 'timeout_error',
  INVALID_ARGUMENT: 'invalid_request_error',
  FAILED_PRECONDITION: 'invalid_request_error',
  OUT_OF_RANGE: 'invalid_request_error',
  UNAUTHENTICATED: 'authentication_error',
  PERMISSION_DENIED: 'permission_error',
  NOT_FOUND: 'not_found_error',
};

export function vertexStatusError(
  backend: string,
  status: number,
  text: string,
  headers: Headers,
): APIError {
  const body = parseJson(text);
  if (typeof body === 'object' && body !== null && (body as { type?: unknown }).type === 'error')
    return APIError.generate(status, body, undefined, headers);
  const google = (body as { error?: { status?: unknown } } | undefined)?.error?.status;
  const type =
    (typeof google === 'string' ? BY_STATUS[google] : undefined) ?? errorTypeForStatus(status);
  const said = messageOf(body, text === '' ? `HTTP ${status}` : text);
  const name = typeof google === 'string' ? google : `HTTP ${status}`;
  const message =
    type === 'authentication_error' || type === 'permission_error'
      ? `Vertex backend ${backend} was refused (${name}: ${said}); check spec.backends[${backend}].credentialsSecretRef or the pod's Google identity (Workload Identity) and its roles/aiplatform.user`
      : `Vertex backend ${backend}: ${name}: ${said}`;
  return anthropicError(type, message, headers);
}
