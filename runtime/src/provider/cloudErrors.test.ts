import { describe, expect, it } from '@jest/globals';
import { classifyError } from './anthropic/errorClassification.ts';
import { bedrockStatusError } from './bedrock/bedrockErrors.ts';
import { vertexStatusError } from './vertex/vertexErrors.ts';

const bedrock = (status: number, exception: string) =>
  bedrockStatusError(
    'bedrock-us',
    status,
    JSON.stringify({ message: 'said so' }),
    new Headers({
      'x-amzn-errortype': `${exception}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
    }),
  );

const google = (status: number, code: string) =>
  vertexStatusError(
    'vertex',
    status,
    JSON.stringify({ error: { code: status, status: code, message: 'said so' } }),
    new Headers(),
  );

describe('cloud errors, classified like their Anthropic equivalents', () => {
  it.each([
    [bedrock(429, 'ThrottlingException'), 'RateLimited', true],
    [bedrock(503, 'ServiceUnavailableException'), 'Overloaded', true],
    [bedrock(500, 'InternalServerException'), 'ServerError', true],
    [bedrock(424, 'ModelErrorException'), 'ServerError', true],
    [bedrock(408, 'ModelTimeoutException'), 'Timeout', true],
    [bedrock(400, 'ValidationException'), 'ClientError', false],
    [bedrock(403, 'AccessDeniedException'), 'ClientError', false],
    [google(429, 'RESOURCE_EXHAUSTED'), 'RateLimited', true],
    [google(503, 'UNAVAILABLE'), 'Overloaded', true],
    [google(500, 'INTERNAL'), 'ServerError', true],
    [google(400, 'INVALID_ARGUMENT'), 'ClientError', false],
  ])('%#: %s', (err, outcome, retryable) => {
    expect(classifyError(err, 0)).toMatchObject({ outcome, retryable });
  });

  it('names the backend and the field to fix when the credentials are refused', () => {
    expect(bedrock(403, 'InvalidSignatureException').message).toMatch(
      /Bedrock backend bedrock-us refused its credentials \(InvalidSignatureException: said so\); check spec\.backends\[bedrock-us\]\.credentialsSecretRef/,
    );
    expect(google(401, 'UNAUTHENTICATED').message).toMatch(
      /Vertex backend vertex was refused \(UNAUTHENTICATED: said so\); check spec\.backends\[vertex\]\.credentialsSecretRef/,
    );
  });

  it('passes the Anthropic API’s own error through from Vertex as it is', () => {
    const err = vertexStatusError(
      'vertex',
      529,
      JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }),
      new Headers(),
    );
    expect(classifyError(err, 0)).toMatchObject({ outcome: 'Overloaded' });
  });
});
