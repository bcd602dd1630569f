/**
 * `acknowledge: Replicas` on a Redis Cluster: the acknowledging lanes' connections, one to each
 * primary, taken from a second cluster client (`lane`) so that a WAIT held on one never delays
 * the reads and unconfirmed writes of `inner`. A batch and its WAIT go on the node's own
 * connection, never through the cluster client's redirects, so that a WAIT counts the node its
 * writes ran on: a write that meets `ASK` (its slot half moved) or `MOVED` (the slot map changed)
 * is sent again by the lane on the target's own connection with a WAIT there
 * (acknowledgingLane.ts), and on `MOVED` the lane's slot map is learnt again. Each connection's commands
 * are on its cluster client's stall watch (reconnectingClient.ts): a hung node is given up.
 *
 * The lanes route by their own slot map, which follows a failover on its own, not with
 * `inner`'s: the lane's client made ready (its 'connect', a node's 'node-ready', as `inner`'s)
 * is a connection made ready for the store too, whose lately answered settlements go to it
 * again (recentSettlements.ts). Without it, a settlement sent after `inner` learnt the
 * promoted replica but through a lane whose map still named the old primary, answered there
 * (its WAIT confirmed by another replica still following it) and dropped when the old primary
 * was made a replica, was never sent again.
 */
import type { ClusterStoreClient } from './clusterClient.ts';
import type { CommandSender } from './luaScripts.ts';
import type { AcknowledgingNodes } from './replicaAcknowledged.ts';

/** Until the lane's cluster client knows the slot map, `inner`'s is asked. */
export function clusterPrimaries(
  lane: ClusterStoreClient,
  inner: ClusterStoreClient,
): AcknowledgingNodes {
  const cluster = () => (lane.isReady ? lane : inner);
  return {
    nodeFor: (key) => {
      try {
        return cluster().primaryOf(key);
      } catch {
        // No slot map yet: the batch finds no connection and fails as `inner` would.
        return 'unknown';
      }
    },
    connectionFor: async (key) => {
      const on = cluster();
      const node = await on.primaryConnection(key);
      return redirectsRefresh(node, on, key);
    },
    askedTo: (address) => cluster().nodeConnection(address),
    connect: () => {
      lane.on('error', () => undefined);
      lane.connect().catch(() => undefined);
    },
    close: () => lane.close().catch(() => undefined),
    destroy: () => lane.destroy(),
    onReady: (listener) => {
      lane.on('ready', listener);
    },
  };
}

/** `node`, telling `cluster` to learn the slot map again when a command meets MOVED. */
function redirectsRefresh(
  node: CommandSender,
  cluster: ClusterStoreClient,
  key: string | undefined,
): CommandSender {
  return {
    sendCommand: (args) =>
      node.sendCommand(args).catch((err: unknown) => {
        if (key !== undefined && err instanceof Error && err.message.startsWith('MOVED'))
          cluster.refreshSlotOf(key);
        throw err;
      }),
  };
}
