import { describe, expect, it } from '@jest/globals';
import { APIConnectionError, APIError, APIConnectionTimeoutError } from '@anthropic-ai/sdk';
import { CancelledError, TimeoutError } from '../guard/errors.ts';
import { mayHaveBeenBilled } from './providerAttempt.ts';

const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), {
  code: 'ECONNREFUSED',
});

describe('whether an attempt that failed may have been billed', () => {
  it.each([
    [
      'the provider answered with an error status',
      APIError.generate(529, {}, 'overloaded', new Headers()),
      false,
    ],
    ['the connection was refused', new APIConnectionError({ message: 'x', cause: refused }), false],
    ['the caller left', new CancelledError(new Error('aborted')), true],
    ['the attempt timed out', new TimeoutError(1_000), true],
    ['the SDK timed out', new APIConnectionTimeoutError(), true],
    ['the connection was cut', new APIConnectionError({ message: 'socket hang up' }), true],
  ])('%s: %s', (_name, err, billed) => {
    expect(mayHaveBeenBilled(err)).toBe(billed);
  });
});
