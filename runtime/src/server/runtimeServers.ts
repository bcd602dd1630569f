/**
 * The runtime's two listening servers: the API (`:8080` by default: Messages, the agent, MCP,
 * probes) and the metrics server (`:9090`: `/metrics` and `/debug/*`, no key). Started together
 * once the composition root is built; on shutdown the API closes first, once the calls in flight
 * have had their grace, and the metrics server last, so the final scrape still sees the drain.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { buildApiServer } from './apiServer.ts';
import { buildMetricsServer } from './metricsServer.ts';
import type { RuntimeContext } from './runtimeContext.ts';

export interface RuntimeServers {
  readonly port: number;
  readonly metricsPort: number;
  closeApi(): Promise<void>;
  closeMetrics(): Promise<void>;
}

export async function startRuntimeServers(
  context: RuntimeContext,
  registry: Registry,
  listen: { readonly host: string; readonly port: number; readonly metricsPort: number },
): Promise<RuntimeServers> {
  const api: FastifyInstance = buildApiServer(context);
  await api
    .listen({ port: listen.port, host: listen.host })
    .catch((err: unknown) => Promise.reject(cannotListen(err, '--port', listen)));
  const port = (api.server.address() as AddressInfo).port;
  const metrics: Server = buildMetricsServer(context, () => [registry]);
  try {
    await new Promise<void>((resolve, reject) => {
      metrics.once('error', reject);
      metrics.listen(listen.metricsPort, listen.host, () => {
        resolve();
      });
    });
  } catch (err) {
    await api.close();
    throw cannotListen(err, '--metrics-port', { ...listen, port: listen.metricsPort });
  }
  const metricsPort = (metrics.address() as AddressInfo).port;
  return {
    port,
    metricsPort,
    // Called once the requests in flight finished or their grace ran out: what is left is idle
    // keep-alive connections and clients still sending a request (never counted in flight),
    // which must not hold the process open.
    closeApi: async () => {
      const closing = api.close();
      api.server.closeAllConnections();
      await closing;
    },
    closeMetrics: () =>
      new Promise<void>((resolve) => {
        metrics.close(() => {
          resolve();
        });
        metrics.closeAllConnections();
      }),
  };
}

/** A port that cannot be had, named by the flag that asked for it. */
function cannotListen(
  err: unknown,
  flag: '--port' | '--metrics-port',
  at: { readonly host: string; readonly port: number },
): Error {
  const code = (err as NodeJS.ErrnoException).code;
  const why =
    code === 'EADDRINUSE'
      ? 'another process listens there'
      : code === 'EACCES'
        ? 'not allowed to listen there'
        : err instanceof Error
          ? err.message
          : String(err);
  return new Error(
    `cannot listen on ${at.host}:${String(at.port)} (${flag}): ${why}; choose another ${flag}`,
    { cause: err },
  );
}
