import { describe, expect, it } from '@jest/globals';
import { closingError, runCommand } from './runCommand.ts';

describe('a failed command', () => {
  it('names the command and says what it printed', async () => {
    await expect(runCommand('sh', ['-c', 'echo one >&2; echo two >&2; exit 3'])).rejects.toThrow(
      'sh -c echo one >&2; echo two >&2; exit 3 exited with 3: one\ntwo',
    );
  });

  it('repeats only the closing error of what it already streamed', () => {
    const streamed = [
      '>> kind delete cluster: 26.7s',
      '>> host: removed the route to 10.244.0.0/16',
      'error: the host is not as up found it:',
      '  - iptables rules differ (4 lines)',
      '',
    ].join('\n');
    expect(closingError(streamed)).toBe(
      'error: the host is not as up found it:\n  - iptables rules differ (4 lines)',
    );
    expect(closingError('a\nb\nc\nd\n')).toBe('b\nc\nd');
  });
});
