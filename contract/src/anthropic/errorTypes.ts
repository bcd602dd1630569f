/**
 * The Messages API's `error.type` values and the HTTP status the real API pairs with each:
 * what the runtime answers with (in the Anthropic error shape, so the SDKs understand it) and
 * what the simulator imitates.
 */
export const STATUS_BY_ERROR_TYPE = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
} as const;

export type AnthropicErrorType = keyof typeof STATUS_BY_ERROR_TYPE;
