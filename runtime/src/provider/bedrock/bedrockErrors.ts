/**
 * Bedrock's exceptions, by the name in `x-amzn-ErrorType` (before its `:`) or in a stream's
 * `:exception-type` header, and the Anthropic error each is classified as (cloudErrors.ts).
 * Signature and key refusals become `authentication_error` with a message that names the
 * backend and the field to fix: the caller sees a 401, and on-call knows where to look.
 */
import type { AnthropicErrorType } from '../../../../contract/src/anthropic/errorTypes.ts';
import { anthropicError, errorTypeForStatus, messageOf, parseJson } from '../cloudErrors.ts';
import type { APIError } from '@anthropic-ai/sdk/core/error';

const BY_EXCEPTION: Readonly<Record<string, AnthropicErrorType>> = {
  throttlingexception: 'rate_limit_error',
  servicequotaexceededexception: 'rate_limit_error',
  modelnotreadyexception: 'overloaded_error',
  serviceunavailableexception: 'overloaded_error',
  internalserverexception: 'api_error',
  modelerrorexception: 'api_error',
  modelstreamerrorexception: 'api_error',
  modeltimeoutexception: 'timeout_error',
  validationexception: 'invalid_request_error',
  accessdeniedexception: 'permission_error',
  resourcenotfoundexception: 'not_found_error',
  unrecognizedclientexception: 'authentication_error',
  invalidsignatureexception: 'authentication_error',
  incompletesignatureexception: 'authentication_error',
  missingauthenticationtokenexception: 'authentication_error',
  expiredtokenexception: 'authentication_error',
};

/** The Anthropic error type of a Bedrock exception (case as either header spells it). */
export function bedrockErrorType(
  exception: string | undefined,
  status: number,
): AnthropicErrorType {
  if (exception !== undefined) {
    const known = BY_EXCEPTION[exception.toLowerCase()];
    if (known !== undefined) return known;
  }
  return errorTypeForStatus(status);
}

/** A failed Bedrock answer as the SDK's error, its message saying which backend and why. */
export function bedrockStatusError(
  backend: string,
  status: number,
  text: string,
  headers: Headers,
): APIError {
  const exception = headers.get('x-amzn-errortype')?.split(':')[0];
  const type = bedrockErrorType(exception, status);
  const said = messageOf(parseJson(text), text === '' ? `HTTP ${status}` : text);
  const name = exception ?? `HTTP ${status}`;
  const message =
    type === 'authentication_error'
      ? `Bedrock backend ${backend} refused its credentials (${name}: ${said}); check spec.backends[${backend}].credentialsSecretRef (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) or the pod's AWS identity`
      : `Bedrock backend ${backend}: ${name}: ${said}`;
  return anthropicError(type, message, headers);
}
