/**
 * The metrics port: `/metrics` for Prometheus and the `/debug/*` documents, unauthenticated
 * like any scrape endpoint, on a plain node:http server kept off the API's hot path.
 */
import type { Server } from 'node:http';
import type { Registry } from 'prom-client';
import { DEBUG_OFF, debugDocuments, debugEnabled, type DebugNeeds } from './debugRoutes.ts';
import { isDebugUnavailable } from './debugRuns.ts';

/**
 * node:http from its CommonJS exports: an ESM import of it reads every export of the module,
 * its lazy WebSocket getters included, and so loads Node's internal copy of undici into every
 * runtime (14 MB in a bare process, about 1 MB beside the npm undici; eslint.config.js
 * forbids the import).
 */
const { createServer } = process.getBuiltinModule('node:http');

export function buildMetricsServer(ctx: DebugNeeds, registries: () => Registry[]): Server {
  const debug = debugDocuments(ctx);
  return createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://runtime');
    const path = url.pathname;
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    if (path === '/metrics') {
      void Promise.all(registries().map((r) => r.metrics()))
        .then((texts) => {
          res.writeHead(200, { 'content-type': registries()[0]?.contentType ?? 'text/plain' });
          res.end(texts.join('\n'));
        })
        .catch((err: unknown) => {
          res.writeHead(500).end(String(err));
        });
      return;
    }
    const build = debug[path];
    if (build !== undefined && !debugEnabled(ctx)) {
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: DEBUG_OFF }));
      return;
    }
    if (build !== undefined) {
      const json = { 'content-type': 'application/json' };
      void Promise.resolve()
        .then(() => build(url.searchParams))
        .then(
          (document) => res.writeHead(200, json).end(JSON.stringify(document, null, 2)),
          (err: unknown) =>
            isDebugUnavailable(err)
              ? res.writeHead(err.status, json).end(JSON.stringify({ error: err.message }))
              : res.writeHead(500, json).end(JSON.stringify({ error: String(err) })),
        );
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
  });
}
