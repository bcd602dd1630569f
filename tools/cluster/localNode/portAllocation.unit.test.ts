import { afterEach, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:net';
import {
  namedPorts,
  portEnvName,
  PortAllocator,
  portsFromAnnotation,
  resolvePort,
} from './portAllocation.ts';
import type { Pod } from './podTypes.ts';

const pod: Pod = {
  metadata: {
    name: 'p',
    annotations: { 'localnode.breakwater.dev/ports': '{"http":41000,"bad":"x"}' },
  },
  spec: {
    containers: [
      {
        name: 'main',
        ports: [
          { name: 'http', containerPort: 8080 },
          { name: 'metrics', containerPort: 9090 },
          { containerPort: 7000 },
        ],
      },
      { name: 'sidecar', ports: [{ name: 'admin-api', containerPort: 8081 }] },
    ],
  },
};
const main = pod.spec.containers[0] ?? { name: 'main' };

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise((resolve) =>
          s.close(() => {
            resolve(undefined);
          }),
        ),
    ),
  );
});

function occupy(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    servers.push(server);
    server.listen({ port: 0 }, () => {
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : 0);
    });
  });
}

describe('port naming and mapping', () => {
  it('names the env variable after the port', () => {
    expect(portEnvName('admin-api')).toBe('PORT_ADMIN_API');
  });

  it('lists every named port of the pod', () => {
    expect(namedPorts(pod)).toEqual(['http', 'metrics', 'admin-api']);
  });

  it('reads the mapping a pod carries and ignores junk in it', () => {
    expect(portsFromAnnotation(pod)).toEqual({ http: 41000 });
  });

  it.each([
    ['a named port', 'http', 41000],
    ['a container port number that has a name', 8080, 41000],
    ['a number given as a string', '8080', 41000],
    ['an unnamed container port', 7000, 7000],
    ['an unknown name', 'grpc', undefined],
  ])('maps %s to the local port', (_name, port, expected) => {
    expect(resolvePort(port, pod, main, { http: 41000 })).toBe(expected);
  });
});

describe('PortAllocator', () => {
  it('hands out a different free port for each name', async () => {
    const ports = await new PortAllocator().allocate(['http', 'metrics']);
    expect(Object.keys(ports)).toEqual(['http', 'metrics']);
    expect(ports.http).not.toBe(ports.metrics);
  });

  it('keeps a preferred port that is still free', async () => {
    const allocator = new PortAllocator();
    const first = await allocator.allocate(['http']);
    allocator.release(first);
    expect(await allocator.allocate(['http'], first)).toEqual(first);
  });

  it('moves off a preferred port something else listens on', async () => {
    const taken = await occupy();
    const ports = await new PortAllocator().allocate(['http'], { http: taken });
    expect(ports.http).not.toBe(taken);
  });

  it('never gives a held port to a second pod', async () => {
    const allocator = new PortAllocator();
    const first = await allocator.allocate(['http']);
    const second = await allocator.allocate(['http'], first);
    expect(second.http).not.toBe(first.http);
  });
});
