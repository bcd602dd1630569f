import { describe, expect, it } from '@jest/globals';
import { DEFAULT_TIMEOUT_MS, parsePluginArgs } from './pluginArgs.ts';

const command = (...argv: string[]) => {
  const parsed = parsePluginArgs(argv);
  if (parsed.kind !== 'command') throw new Error(`not a command: ${JSON.stringify(parsed)}`);
  return parsed.command;
};
const error = (...argv: string[]) => {
  const parsed = parsePluginArgs(argv);
  return parsed.kind === 'error' ? parsed.message : `not an error: ${parsed.kind}`;
};

describe('parsePluginArgs', () => {
  it("reads kubectl's flags in either spelling", () => {
    expect(command('status', 'support', '-n', 'prod', '-o', 'yaml', '--context', 'east')).toEqual({
      kind: 'status',
      agent: 'support',
      output: 'yaml',
      connection: {
        kubeconfig: undefined,
        context: 'east',
        namespace: 'prod',
        allNamespaces: false,
      },
    });
    expect(command('top', '--all-namespaces', '--kubeconfig', '/k').connection).toEqual({
      kubeconfig: '/k',
      context: undefined,
      namespace: undefined,
      allNamespaces: true,
    });
  });

  it('reads a trip with its duration, reason and timeout', () => {
    expect(
      command('trip', 'prod', '--for', '10m', '--reason', ' INC-1 ', '--timeout', '90s'),
    ).toMatchObject({
      kind: 'trip',
      policy: 'prod',
      forMs: 600_000,
      reason: 'INC-1',
      timeoutMs: 90_000,
    });
    expect(command('reset', 'prod')).toMatchObject({
      kind: 'reset',
      timeoutMs: DEFAULT_TIMEOUT_MS,
    });
  });

  it('reads runs with its limit', () => {
    expect(command('runs', 'triage')).toMatchObject({ kind: 'runs', agent: 'triage', limit: 20 });
    expect(command('runs', 'triage', '--limit', '50')).toMatchObject({ limit: 50 });
  });

  it.each([
    [
      ['frobnicate'],
      'unknown command "frobnicate": use one of status, top, trip, reset, explain, runs',
    ],
    [['runs'], "runs needs the AgentDeployment's name: runs <agent>"],
    [['runs', 'triage', '--limit', '0'], '--limit: expected a whole number from 1 to 200, got "0"'],
    [
      ['runs', 'triage', '--limit', '2.5'],
      '--limit: expected a whole number from 1 to 200, got "2.5"',
    ],
    [['top', '--limit', '5'], '--limit: only runs take it'],
    [['status', '-o', 'wide'], '-o/--output: expected json or yaml, got "wide"'],
    [['status', '-n', 'a', '-A'], '-n/--namespace and -A/--all-namespaces: use one, not both'],
    [['explain', 'x', '-A'], '-A/--all-namespaces: explain works on one object in one namespace'],
    [['explain'], "explain needs the AgentDeployment's name: explain <agent>"],
    [
      ['trip', 'prod', '--reason', 'x'],
      'trip needs --for (how long, such as 10m): an override without an end is easy to forget',
    ],
    [
      ['trip', 'prod', '--for', 'soon', '--reason', 'x'],
      '--for: invalid duration "soon": expected numbers with units ms, s, m or h, e.g. "500ms", "30s", "1m30s"',
    ],
    [['trip', 'prod', '--for', '0', '--reason', 'x'], '--for: must be longer than 0, got 0'],
    [['trip', 'prod', '--for', '1m', '--reason', '  '], '--reason: must not be empty'],
    [['status', '--for', '1m'], '--for: only trip take it'],
    [['top', 'extra'], 'top: unexpected "extra"; usage: top'],
  ])('refuses %j, naming the flag: %s', (argv, message) => {
    expect(error(...argv)).toBe(message);
  });

  it('prints help for no command or --help', () => {
    expect(parsePluginArgs([]).kind).toBe('help');
    expect(parsePluginArgs(['trip', '--help']).kind).toBe('help');
  });
});
