import { describe, expect, it } from '@jest/globals';
import { createOperatorLogger } from './operatorLogger.ts';

const SECRET = 'c2stYW50LW5ldmVyLWxvZ2dlZA';

/** Logs `fields` at info and returns the line pino wrote. */
function logged(fields: object): string {
  const lines: string[] = [];
  createOperatorLogger('info', { write: (line: string) => lines.push(line) }).info(
    fields,
    'something happened',
  );
  expect(lines).toHaveLength(1);
  return lines[0] ?? '';
}

class ApiError extends Error {
  readonly request = { headers: { authorization: `Bearer ${SECRET}` } };
}

describe('the operator logger', () => {
  it.each<[string, object]>([
    ['a Secret logged whole', { kind: 'Secret', data: { 'api-key': SECRET } }],
    ['a Secret under a field', { secret: { kind: 'Secret', stringData: { 'api-key': SECRET } } }],
    ['an API key', { backend: { name: 'east', apiKey: SECRET } }],
    ['an x-api-key header', { headers: { 'x-api-key': SECRET } }],
    ['an Authorization header', { request: { headers: { authorization: `Bearer ${SECRET}` } } }],
    ['an error carrying its request headers', { err: new ApiError('403 Forbidden') }],
    ['a bearer token', { user: { token: SECRET } }],
    ['a kubeconfig client key', { user: { 'client-key-data': SECRET } }],
    ['a password in a nested object', { proxy: { auth: { password: SECRET } } }],
  ])('redacts %s', (_what, fields) => {
    const line = logged(fields);
    expect(line).not.toContain(SECRET);
    expect(line).toContain('[redacted]');
  });

  it('keeps what carries no secret, in pino’s own format', () => {
    const line = JSON.parse(logged({ kind: 'AgentDeployment', key: 'ns/agent' })) as object;
    expect(line).toMatchObject({
      level: 30,
      name: 'breakwater-operator',
      kind: 'AgentDeployment',
      key: 'ns/agent',
      msg: 'something happened',
    });
  });
});
