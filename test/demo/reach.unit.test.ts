/**
 * How `make demo` and `make up` choose to reach the pods (demo/reach.ts; issue 52 item 4), and
 * what they say about it.
 */
import { describe, expect, it } from '@jest/globals';
import { EnvironmentError } from '../../demo/environmentError.ts';
import {
  chooseReach,
  reachLine,
  reachNote,
  settleReach,
  type ReachFacts,
} from '../../demo/reach.ts';

const linuxRoot: ReachFacts = { requested: undefined, platform: 'linux', uid: 0 };
const linuxUser: ReachFacts = { requested: undefined, platform: 'linux', uid: 1000 };
const mac: ReachFacts = { requested: undefined, platform: 'darwin', uid: 501 };

describe('the reach mode chosen at start', () => {
  it('routes as root on Linux, port-forward as a user and on macOS', () => {
    expect(chooseReach(linuxRoot)).toEqual({ mode: 'routes', why: 'root on Linux' });
    expect(chooseReach(linuxUser)).toEqual({
      mode: 'port-forward',
      why: 'not root: no route to the pod network can be made',
    });
    expect(chooseReach(mac)).toEqual({
      mode: 'port-forward',
      why: 'darwin: container addresses are not routable from this machine',
    });
    // macOS as root still cannot route Docker Desktop's containers.
    expect(chooseReach({ ...mac, uid: 0 }).mode).toBe('port-forward');
  });

  it('takes BREAKWATER_REACH, an empty one as unset', () => {
    expect(chooseReach({ ...linuxRoot, requested: 'port-forward' })).toEqual({
      mode: 'port-forward',
      why: 'BREAKWATER_REACH=port-forward',
    });
    expect(chooseReach({ ...linuxRoot, requested: 'routes' })).toEqual({
      mode: 'routes',
      why: 'BREAKWATER_REACH=routes',
    });
    expect(chooseReach({ ...linuxRoot, requested: '' }).mode).toBe('routes');
  });

  it('refuses routes where they cannot be made, and a mode it does not know, saying what to do', () => {
    expect(() => chooseReach({ ...linuxUser, requested: 'routes' })).toThrow(
      new EnvironmentError(
        'BREAKWATER_REACH=routes needs root on Linux (it routes the pod network with `ip route replace`); ' +
          'this is not root: unset it (or BREAKWATER_REACH=port-forward) to reach the pods through kubectl port-forward',
      ),
    );
    expect(() => chooseReach({ ...mac, requested: 'routes' })).toThrow(/this is darwin: unset it/);
    expect(() => chooseReach({ ...linuxRoot, requested: 'nodeport' })).toThrow(
      new EnvironmentError(
        'BREAKWATER_REACH=nodeport: say routes or port-forward (or leave it unset)',
      ),
    );
  });

  it('becomes port-forward when the running cluster has no routes, and says why', () => {
    const routes = chooseReach(linuxRoot);
    expect(settleReach(routes, true)).toBe(routes);
    expect(settleReach(routes, false)).toEqual({
      mode: 'port-forward',
      why: 'the running cluster was brought up without routes to its pod network',
    });
    const forwarded = chooseReach(linuxUser);
    expect(settleReach(forwarded, true)).toBe(forwarded);
  });
});

describe('what the demo and make up say about it', () => {
  it('names the mode and why at start', () => {
    expect(reachLine(chooseReach(linuxRoot))).toBe(
      '▸ reach: routes (root on Linux): this machine routes the pod network through the node and calls pods at their addresses',
    );
    expect(reachLine(chooseReach(mac))).toBe(
      '▸ reach: port-forward (darwin: container addresses are not routable from this machine): ' +
        'pods are called through kubectl port-forward on 127.0.0.1; no host route, no root',
    );
  });

  it("puts the addresses used in the demo's summary", () => {
    const pods = [
      { name: 'demo-agent-a', url: 'http://127.0.0.1:40001' },
      { name: 'demo-agent-b', url: undefined },
    ];
    expect(reachNote(chooseReach(linuxUser), pods)).toBe(
      'reach: port-forward: the pods were called through kubectl port-forward on this machine ' +
        '(no host route): demo-agent-a http://127.0.0.1:40001, demo-agent-b -',
    );
    // A state file of an earlier version has no reach: it routed.
    expect(reachNote(undefined, [{ name: 'demo-agent-a', url: 'http://10.244.0.5:8080' }])).toBe(
      'reach: routes: the pods were called at their own addresses, through the host route to the ' +
        'pod network: demo-agent-a http://10.244.0.5:8080',
    );
  });
});
