/**
 * The baseline of `bench/runtime.ts`: a bare node:http pass-through proxy, run as its own
 * process like the runtime. It forwards method, path, headers and bytes both ways and does
 * nothing else; upstream connections are kept alive and reused, as the runtime's are.
 *
 *   node bench/runtime/passThroughProxy.ts --target 8787
 *   {"msg":"listening","port":41234}
 */
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { target: { type: 'string' } } });
const target = Number(values.target);
if (!Number.isInteger(target) || target <= 0) {
  process.stderr.write('usage: passThroughProxy.ts --target PORT\n');
  process.exit(2);
}

const upstream = new Agent({ keepAlive: true });
const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const out = request(
    {
      host: '127.0.0.1',
      port: target,
      path: req.url,
      method: req.method,
      headers: req.headers,
      agent: upstream,
    },
    (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    },
  );
  out.on('error', () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  req.pipe(out);
});
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port })}\n`);
});
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  upstream.destroy();
});
