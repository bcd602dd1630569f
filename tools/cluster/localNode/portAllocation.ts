/**
 * Local ports for named container ports. Every pod on the local node shares 127.0.0.1, so
 * each named port gets its own free TCP port; the process learns it from `PORT_<NAME>` and
 * the pod records the mapping in the `localnode.breakwater.dev/ports` annotation.
 */
import { createServer } from 'node:net';
import type { Container, Pod, PortRef } from './podTypes.ts';

export const portsAnnotation = 'localnode.breakwater.dev/ports';

/** Port name → local TCP port. */
export type PortMap = Readonly<Record<string, number>>;

/** `http-metrics` → `PORT_HTTP_METRICS`. */
export function portEnvName(portName: string): string {
  return `PORT_${portName.toUpperCase().replace(/-/g, '_')}`;
}

/** The named ports of every container in the pod, in spec order, without duplicates. */
export function namedPorts(pod: Pod): string[] {
  const names = new Set<string>();
  for (const container of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
    for (const port of container.ports ?? []) {
      if (port.name !== undefined && port.name !== '') names.add(port.name);
    }
  }
  return [...names];
}

/** The mapping a pod already carries (after a local-node restart), ignoring junk. */
export function portsFromAnnotation(pod: Pod): PortMap {
  const raw = pod.metadata.annotations?.[portsAnnotation];
  if (raw === undefined) return {};
  try {
    const parsed: unknown = JSON.parse(raw);
    if (typeof parsed !== 'object' || parsed === null) return {};
    const out: Record<string, number> = {};
    for (const [name, port] of Object.entries(parsed)) {
      if (typeof port === 'number' && Number.isInteger(port) && port > 0 && port < 65536) {
        out[name] = port;
      }
    }
    return out;
  } catch {
    return {};
  }
}

/**
 * Where a probe or a client reaches `port` of `container`: a named port maps to its local
 * port; a number maps through the named container port that declares it, else stays as is.
 */
export function resolvePort(
  port: PortRef,
  pod: Pod,
  container: Container,
  ports: PortMap,
): number | undefined {
  if (typeof port === 'string') {
    if (/^\d+$/.test(port)) return resolvePort(Number(port), pod, container, ports);
    return ports[port];
  }
  const declared =
    container.ports?.find((p) => p.containerPort === port && p.name !== undefined) ??
    pod.spec.containers
      .flatMap((c) => c.ports ?? [])
      .find((p) => p.containerPort === port && p.name !== undefined);
  return declared?.name === undefined ? port : (ports[declared.name] ?? port);
}

/** Hands out free local ports and never the same one twice while it is held. */
export class PortAllocator {
  readonly #held = new Set<number>();

  /** A free port for each name, keeping the `preferred` port of a name when it is still free. */
  async allocate(names: readonly string[], preferred: PortMap = {}): Promise<PortMap> {
    const out: Record<string, number> = {};
    try {
      for (const name of names) {
        const wanted = preferred[name];
        out[name] =
          wanted !== undefined && !this.#held.has(wanted) && (await isFree(wanted))
            ? this.#hold(wanted)
            : await this.#fresh();
      }
    } catch (err) {
      this.release(out);
      throw err;
    }
    return out;
  }

  release(ports: PortMap): void {
    for (const port of Object.values(ports)) this.#held.delete(port);
  }

  #hold(port: number): number {
    this.#held.add(port);
    return port;
  }

  async #fresh(): Promise<number> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const port = await ephemeralPort();
      if (!this.#held.has(port)) return this.#hold(port);
    }
    throw new Error('no free local port found after 20 attempts');
  }
}

/** Binds without a host (every address, IPv6 and IPv4), so the port is free however the process listens. */
function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => {
      resolve(false);
    });
    server.listen({ port, exclusive: true }, () => {
      server.close(() => {
        resolve(true);
      });
    });
  });
}

function ephemeralPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port: 0, exclusive: true }, () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('listening socket has no port'));
      });
    });
  });
}
