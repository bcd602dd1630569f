import { describe, expect, it } from '@jest/globals';
import { EventEmitter } from 'node:events';
import {
  type AcknowledgingNodes,
  isUnacknowledged,
  onePrimary,
  PROBE_EVERY_MS,
  ReplicaAcknowledged,
  UnacknowledgedWriteError,
} from './replicaAcknowledged.ts';
import type { StoreCommands } from './storeCommands.ts';
import type { ClusterStoreClient } from './clusterClient.ts';
import { clusterPrimaries } from './clusterPrimaries.ts';

/** A connection whose WAITs answer only when the test says, and which records what it got. */
class ScriptedConnection extends EventEmitter {
  isOpen = true;
  isReady = true;
  readonly sent: string[] = [];
  /** Keys whose slot this node is moving away: a command on one meets ASK to that address. */
  readonly movingAway = new Map<string, string>();
  /** Keys whose slot this node is importing: served only right after ASKING, else MOVED. */
  readonly importing = new Set<string>();
  /** Keys whose slot lives on another node now: a command on one meets MOVED to that address. */
  readonly movedTo = new Map<string, string>();
  #asking = false;
  readonly #waits: ((replicas: number) => void)[] = [];

  /** Answers the oldest WAIT still held with `replicas`. */
  answerWait(replicas: number): void {
    const answer = this.#waits.shift();
    if (answer === undefined) throw new Error('no WAIT is held');
    answer(replicas);
  }

  get heldWaits(): number {
    return this.#waits.length;
  }

  sendCommand(args: readonly string[]): Promise<unknown> {
    this.sent.push(args.join(' '));
    const asking = this.#asking;
    this.#asking = args[0] === 'ASKING';
    if (this.#asking) return Promise.resolve('OK');
    if (args[0] === 'WAIT') return new Promise((resolve) => this.#waits.push(resolve));
    const key = args[1] ?? '';
    const target = this.movingAway.get(key);
    if (target !== undefined) return Promise.reject(new Error(`ASK 866 ${target}`));
    const owner = this.movedTo.get(key);
    if (owner !== undefined) return Promise.reject(new Error(`MOVED 866 ${owner}`));
    if (this.importing.has(key) && !asking) return Promise.reject(new Error('MOVED 866 elsewhere'));
    return Promise.resolve(`${args.join(' ')}: done`);
  }

  connect = (): Promise<unknown> => Promise.resolve();
  close = (): Promise<unknown> => Promise.resolve();
  destroy = (): unknown => undefined;
}

const connections = () => {
  const inner = new ScriptedConnection();
  const lane = new ScriptedConnection();
  let now = 0;
  const client = new ReplicaAcknowledged(
    inner as unknown as StoreCommands,
    onePrimary(lane as unknown as StoreCommands, inner as unknown as StoreCommands),
    () => now,
  );
  return {
    inner,
    lane,
    client,
    advance: (ms: number) => {
      now += ms;
    },
  };
};

/** Lets the promises already settled run their callbacks. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

const outcome = (p: Promise<unknown>) =>
  p.then(
    (reply) => ({ confirmed: reply }),
    (err: unknown) => (isUnacknowledged(err) ? { unconfirmed: err.reply } : { failed: err }),
  );

describe('ReplicaAcknowledged', () => {
  it('sends a write and its WAIT on the lane, and answers once a replica confirms', async () => {
    const { inner, lane, client } = connections();
    const write = outcome(client.sendCommand(['SET', 'a', '1']));
    expect(lane.sent).toEqual(['SET a 1', 'WAIT 1 500']);
    lane.answerWait(1);
    expect(await write).toEqual({ confirmed: 'SET a 1: done' });
    expect(inner.sent).toEqual([]);
  });

  it('holds one WAIT at a time on the lane: writes meanwhile go out together behind the next', async () => {
    const { lane, client } = connections();
    const first = outcome(client.sendCommand(['SET', 'a', '1']));
    const second = outcome(client.sendCommand(['SET', 'b', '1']));
    const third = outcome(client.sendCommand(['SET', 'c', '1']));
    expect(lane.sent).toEqual(['SET a 1', 'WAIT 1 500']);
    lane.answerWait(1);
    await settle();
    expect(lane.sent).toEqual(['SET a 1', 'WAIT 1 500', 'SET b 1', 'SET c 1', 'WAIT 1 500']);
    lane.answerWait(1);
    expect(await Promise.all([first, second, third])).toEqual([
      { confirmed: 'SET a 1: done' },
      { confirmed: 'SET b 1: done' },
      { confirmed: 'SET c 1: done' },
    ]);
  });

  it('once no replica confirmed, sends what queued meanwhile and what follows on the other connection, unconfirmed at once', async () => {
    const { inner, lane, client } = connections();
    const first = outcome(client.sendCommand(['SET', 'a', '1']));
    const queued = outcome(client.sendCommand(['SET', 'b', '1']));
    lane.answerWait(0);
    expect(await first).toEqual({ unconfirmed: 'SET a 1: done' });
    expect(await queued).toEqual({ unconfirmed: 'SET b 1: done' });
    expect(await outcome(client.sendCommand(['SET', 'c', '1']))).toEqual({
      unconfirmed: 'SET c 1: done',
    });
    // No WAIT anywhere holds a connection for them.
    expect(inner.sent).toEqual(['SET b 1', 'SET c 1']);
    expect(lane.sent).toEqual(['SET a 1', 'WAIT 1 500']);
  });

  it('asks the lane again every PROBE_EVERY_MS, and goes back to it once a replica confirms', async () => {
    const { inner, lane, client, advance } = connections();
    const first = outcome(client.sendCommand(['SET', 'a', '1']));
    lane.answerWait(0);
    await first;
    advance(PROBE_EVERY_MS);
    const probe = outcome(client.sendCommand(['SET', 'b', '1']));
    expect(lane.sent.slice(2)).toEqual(['SET b 1', 'WAIT 1 500']);
    // While the probe's WAIT is out, writes do not wait for it.
    expect(await outcome(client.sendCommand(['SET', 'c', '1']))).toEqual({
      unconfirmed: 'SET c 1: done',
    });
    lane.answerWait(1);
    expect(await probe).toEqual({ confirmed: 'SET b 1: done' });
    const after = outcome(client.sendCommand(['SET', 'd', '1']));
    expect(lane.sent.slice(4)).toEqual(['SET d 1', 'WAIT 1 500']);
    lane.answerWait(1);
    expect(await after).toEqual({ confirmed: 'SET d 1: done' });
    expect(inner.sent).toEqual(['SET c 1']);
  });

  it('sends the write and its WAIT on the other connection while the lane is not connected', async () => {
    const { inner, lane, client } = connections();
    lane.isReady = false;
    const write = outcome(client.sendCommand(['SET', 'a', '1']));
    expect(inner.sent).toEqual(['SET a 1', 'WAIT 1 500']);
    inner.answerWait(1);
    expect(await write).toEqual({ confirmed: 'SET a 1: done' });
    expect(lane.sent).toEqual([]);
  });

  it('passes a write that failed on as it failed, not as unconfirmed', async () => {
    const { lane, client } = connections();
    const failing = new Error('NOSCRIPT No matching script');
    lane.sendCommand = (args) => {
      lane.sent.push(args.join(' '));
      return args[0] === 'WAIT' ? Promise.resolve(1) : Promise.reject(failing);
    };
    expect(await outcome(client.sendCommand(['EVALSHA', 'x']))).toEqual({ failed: failing });
  });

  it('reads on the other connection, never behind a WAIT', async () => {
    const { inner, lane, client } = connections();
    inner.sendCommand = (args) => {
      inner.sent.push(args.join(' '));
      return Promise.resolve('value');
    };
    void client.sendCommand(['SET', 'a', '1']);
    expect(lane.heldWaits).toBe(1);
    (inner as unknown as { get: (k: string) => Promise<string> }).get = (k) =>
      inner.sendCommand(['GET', k]) as Promise<string>;
    expect(await client.get('a')).toBe('value');
    expect(inner.sent).toEqual(['GET a']);
  });

  it('names +wait when the ACL user may not run WAIT', async () => {
    const { lane, client } = connections();
    lane.sendCommand = (args) =>
      args[0] === 'WAIT'
        ? Promise.reject(
            new Error("NOPERM User breakwater has no permissions to run the 'wait' command"),
          )
        : Promise.resolve('OK');
    const error = await client.sendCommand(['SET', 'a', '1']).catch((err: unknown) => err);
    expect(isUnacknowledged(error)).toBe(true);
    expect((error as Error).message).toContain('add +wait to its rule');
  });

  it('is an error the callers tell apart', () => {
    expect(isUnacknowledged(new UnacknowledgedWriteError('OK', 0))).toBe(true);
    expect(isUnacknowledged(new Error('x'))).toBe(false);
  });

  describe('on a cluster, a lane per primary', () => {
    /** Two primaries: keys starting with "a" live on the first, the others on the second. */
    const twoPrimaries = () => {
      const inner = new ScriptedConnection();
      const nodes = { a: new ScriptedConnection(), b: new ScriptedConnection() };
      const nodeOf = (key: string | undefined) => (key?.startsWith('a') === true ? 'a' : 'b');
      const primaries: AcknowledgingNodes = {
        nodeFor: nodeOf,
        connectionFor: (key) => nodes[nodeOf(key)],
        askedTo: (address) => {
          if (address !== 'a' && address !== 'b') throw new Error(`${address}: not a node`);
          return nodes[address];
        },
        connect: () => undefined,
        close: () => Promise.resolve(),
        destroy: () => undefined,
      };
      let now = 0;
      const client = new ReplicaAcknowledged(
        inner as unknown as StoreCommands,
        primaries,
        () => now,
      );
      return { inner, nodes, client, advance: (ms: number) => (now += ms) };
    };

    it('sends each write and a WAIT on the connection to the primary that owns its key', async () => {
      const { nodes, client } = twoPrimaries();
      const onA = outcome(client.sendCommand(['SET', 'a1', '1']));
      const onB = outcome(client.sendCommand(['EVALSHA', 'x', '1', 'b1', 'arg']));
      expect(nodes.a.sent).toEqual(['SET a1 1', 'WAIT 1 500']);
      expect(nodes.b.sent).toEqual(['EVALSHA x 1 b1 arg', 'WAIT 1 500']);
      nodes.a.answerWait(1);
      nodes.b.answerWait(1);
      expect(await onA).toEqual({ confirmed: 'SET a1 1: done' });
      expect(await onB).toEqual({ confirmed: 'EVALSHA x 1 b1 arg: done' });
    });

    it("groups the writes queued behind one primary's WAIT without waiting on the other's", async () => {
      const { nodes, client } = twoPrimaries();
      void client.sendCommand(['SET', 'a1', '1']);
      void client.sendCommand(['SET', 'a2', '1']);
      const onB = outcome(client.sendCommand(['SET', 'b1', '1']));
      expect(nodes.b.sent).toEqual(['SET b1 1', 'WAIT 1 500']);
      nodes.b.answerWait(1);
      expect(await onB).toEqual({ confirmed: 'SET b1 1: done' });
      expect(nodes.a.sent).toEqual(['SET a1 1', 'WAIT 1 500']);
      expect(nodes.a.heldWaits).toBe(1);
    });

    it("keeps confirming one primary's writes while the other's replica does not", async () => {
      const { inner, nodes, client } = twoPrimaries();
      const cut = outcome(client.sendCommand(['SET', 'a1', '1']));
      nodes.a.answerWait(0);
      expect(await cut).toEqual({ unconfirmed: 'SET a1 1: done' });
      // The cut primary's writes go unconfirmed at once, without a WAIT…
      expect(await outcome(client.sendCommand(['SET', 'a2', '1']))).toEqual({
        unconfirmed: 'SET a2 1: done',
      });
      expect(inner.sent).toEqual(['SET a2 1']);
      // …and the other primary's are still waited for and confirmed.
      const other = outcome(client.sendCommand(['SET', 'b1', '1']));
      expect(nodes.b.sent).toEqual(['SET b1 1', 'WAIT 1 500']);
      nodes.b.answerWait(1);
      expect(await other).toEqual({ confirmed: 'SET b1 1: done' });
    });

    /** `a-moving`'s slot half moved from primary a to b: a answers ASK, b serves it after ASKING. */
    const halfMoved = () => {
      const primaries = twoPrimaries();
      primaries.nodes.a.movingAway.set('a-moving', 'b');
      primaries.nodes.b.importing.add('a-moving');
      return primaries;
    };

    it("sends a write that met ASK again behind ASKING on the target's connection, with a WAIT of its own there", async () => {
      const { nodes, client } = halfMoved();
      const staying = outcome(client.sendCommand(['SET', 'a1', '1']));
      const moving = outcome(client.sendCommand(['SET', 'a-moving', '1']));
      await settle();
      // One batch on a: the write that stayed is waited for there, the moved one on b, at once.
      expect(nodes.a.sent).toEqual(['SET a1 1', 'WAIT 1 500']);
      nodes.a.answerWait(1);
      await settle();
      expect(nodes.a.sent.slice(2)).toEqual(['SET a-moving 1', 'WAIT 1 500']);
      expect(nodes.b.sent).toEqual(['ASKING', 'SET a-moving 1', 'WAIT 1 500']);
      nodes.b.answerWait(1);
      nodes.a.answerWait(1);
      expect(await staying).toEqual({ confirmed: 'SET a1 1: done' });
      expect(await moving).toEqual({ confirmed: 'SET a-moving 1: done' });
    });

    it("splits one batch over both nodes: a WAIT on each, each write confirmed by its own node's", async () => {
      const { nodes, client } = halfMoved();
      void client.sendCommand(['SET', 'a0', '1']);
      const staying = outcome(client.sendCommand(['SET', 'a1', '1']));
      const moving = outcome(client.sendCommand(['SET', 'a-moving', '1']));
      nodes.a.answerWait(1);
      await settle();
      expect(nodes.a.sent.slice(2)).toEqual(['SET a1 1', 'SET a-moving 1', 'WAIT 1 500']);
      // The target's WAIT goes out while the source's is still held.
      expect(nodes.b.sent).toEqual(['ASKING', 'SET a-moving 1', 'WAIT 1 500']);
      expect(nodes.a.heldWaits).toBe(1);
      nodes.a.answerWait(1);
      nodes.b.answerWait(0);
      expect(await staying).toEqual({ confirmed: 'SET a1 1: done' });
      expect(await moving).toEqual({ unconfirmed: 'SET a-moving 1: done' });
    });

    it('follows a MOVED to the node it names, with a WAIT there: the lane read its slot map before the move', async () => {
      const { nodes, client } = twoPrimaries();
      nodes.a.movedTo.set('a1', 'b');
      const moved = outcome(client.sendCommand(['SET', 'a1', '1']));
      nodes.a.answerWait(1);
      await settle();
      // As it is, no ASKING: the slot is the target's own now.
      expect(nodes.b.sent).toEqual(['SET a1 1', 'WAIT 1 500']);
      nodes.b.answerWait(1);
      expect(await moved).toEqual({ confirmed: 'SET a1 1: done' });
    });

    it("counts a MOVED write unconfirmed when the target's replica does not confirm it", async () => {
      const { nodes, client } = twoPrimaries();
      nodes.a.movedTo.set('a1', 'b');
      const moved = outcome(client.sendCommand(['SET', 'a1', '1']));
      nodes.a.answerWait(1);
      await settle();
      nodes.b.answerWait(0);
      expect(await moved).toEqual({ unconfirmed: 'SET a1 1: done' });
    });

    it('fails a write redirected to a node the slot map does not know, or redirected again', async () => {
      const { nodes, client } = twoPrimaries();
      nodes.a.movedTo.set('a1', 'elsewhere');
      nodes.a.movedTo.set('a2', 'b');
      nodes.b.movedTo.set('a2', 'a');
      const unknown = outcome(client.sendCommand(['SET', 'a1', '1']));
      const twice = outcome(client.sendCommand(['SET', 'a2', '1']));
      // Every replica confirms whatever is asked: only the redirects can fail these writes.
      for (let round = 0; round < 6; round++) {
        await settle();
        for (const node of [nodes.a, nodes.b]) while (node.heldWaits > 0) node.answerWait(1);
      }
      expect(await unknown).toEqual({ failed: new Error('elsewhere: not a node') });
      expect(await twice).toEqual({ failed: new Error('MOVED 866 a') });
    });

    it('fails a write whose primary has no connection, as the store would without a lane', async () => {
      const offline = new Error('The client is offline: the cluster slot map is not known');
      const failing = new ReplicaAcknowledged(
        new ScriptedConnection() as unknown as StoreCommands,
        {
          nodeFor: () => 'unknown',
          connectionFor: () => Promise.reject(offline),
          connect: () => undefined,
          close: () => Promise.resolve(),
          destroy: () => undefined,
        },
      );
      expect(await outcome(failing.sendCommand(['SET', 'a1', '1']))).toEqual({ failed: offline });
    });
  });
});

describe("the store hears the lanes' connection made ready, as well as the other's", () => {
  // The lanes follow a failover on their own (a Sentinel set's lane client, a cluster's lane
  // slot map): a settlement they answered on the old primary is sent again once they are ready
  // on the new one (recentSettlements.ts; test/rateLimitStore/clusterThawedPrimary.test.ts).
  it.each([
    [
      'one primary',
      (lane: ScriptedConnection, inner: ScriptedConnection) =>
        onePrimary(lane as unknown as StoreCommands, inner as unknown as StoreCommands),
    ],
    [
      "a cluster's primaries",
      (lane: ScriptedConnection, inner: ScriptedConnection) =>
        clusterPrimaries(
          lane as unknown as ClusterStoreClient,
          inner as unknown as ClusterStoreClient,
        ),
    ],
  ])('on %s', (_name, nodesOf) => {
    const inner = new ScriptedConnection();
    const lane = new ScriptedConnection();
    const client = new ReplicaAcknowledged(inner as unknown as StoreCommands, nodesOf(lane, inner));
    let heard = 0;
    client.on('ready', () => heard++);
    inner.emit('ready');
    lane.emit('ready');
    lane.emit('ready');
    expect(heard).toBe(3);
  });
});
