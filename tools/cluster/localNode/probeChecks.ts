/**
 * The checks behind a probe, done from this host the way kubelet does them from the node:
 * an HTTP GET that counts 200-399 as success, a TCP connect, or a command that must exit 0.
 * gRPC probes are approximated by a TCP connect.
 */
import { execFile } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import { connect } from 'node:net';
import type { PortRef, Probe } from './podTypes.ts';
import type { ProbeCheck, ProbeOutcome } from './probeWorker.ts';

export interface ProbeTarget {
  /** The pod's address (127.0.0.1). */
  readonly host: string;
  /** Maps the probe's port to the local one; undefined when a named port is unknown. */
  readonly resolvePort: (port: PortRef) => number | undefined;
  /** Environment and working directory for exec probes. */
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
}

export function probeCheck(probe: Probe, target: ProbeTarget, timeoutMs: number): ProbeCheck {
  if (probe.httpGet !== undefined) {
    const get = probe.httpGet;
    return () =>
      withPort(target, get.port, (port) =>
        httpCheck({
          scheme: get.scheme ?? 'HTTP',
          host: get.host ?? target.host,
          port,
          path: get.path ?? '/',
          headers: get.httpHeaders ?? [],
          timeoutMs,
        }),
      );
  }
  if (probe.tcpSocket !== undefined) {
    const socket = probe.tcpSocket;
    return () =>
      withPort(target, socket.port, (port) =>
        tcpCheck(socket.host ?? target.host, port, timeoutMs),
      );
  }
  if (probe.grpc !== undefined) {
    const grpc = probe.grpc;
    return () => withPort(target, grpc.port, (port) => tcpCheck(target.host, port, timeoutMs));
  }
  const command = probe.exec?.command ?? [];
  return () => execCheck(command, target, timeoutMs);
}

function withPort(
  target: ProbeTarget,
  port: PortRef,
  check: (port: number) => Promise<ProbeOutcome>,
): Promise<ProbeOutcome> {
  const local = target.resolvePort(port);
  if (local === undefined) {
    return Promise.resolve({ success: false, message: `port ${String(port)} is not a known port` });
  }
  return check(local);
}

interface HttpCheck {
  readonly scheme: 'HTTP' | 'HTTPS';
  readonly host: string;
  readonly port: number;
  readonly path: string;
  readonly headers: readonly { name: string; value: string }[];
  readonly timeoutMs: number;
}

export function httpCheck(check: HttpCheck): Promise<ProbeOutcome> {
  const headers: Record<string, string> = { 'user-agent': 'kube-probe/local-node', accept: '*/*' };
  for (const header of check.headers) headers[header.name.toLowerCase()] = header.value;
  const url = `${check.scheme.toLowerCase()}://${check.host}:${check.port}${check.path}`;
  return new Promise((resolve) => {
    const options = { headers, timeout: check.timeoutMs, rejectUnauthorized: false };
    const onResponse = (res: http.IncomingMessage): void => {
      res.resume();
      const status = res.statusCode ?? 0;
      resolve(
        status >= 200 && status < 400
          ? { success: true }
          : { success: false, message: `HTTP probe failed with statuscode: ${status}` },
      );
    };
    const req =
      check.scheme === 'HTTPS'
        ? https.get(url, options, onResponse)
        : http.get(url, options, onResponse);
    req.on('timeout', () => {
      req.destroy(new Error(`Get "${url}": timeout after ${check.timeoutMs}ms`));
    });
    req.on('error', (err) => {
      resolve({ success: false, message: err.message });
    });
  });
}

export function tcpCheck(host: string, port: number, timeoutMs: number): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    socket.once('connect', () => {
      socket.destroy();
      resolve({ success: true });
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve({ success: false, message: `dial tcp ${host}:${port}: timeout` });
    });
    socket.once('error', (err) => {
      resolve({ success: false, message: `dial tcp ${host}:${port}: ${err.message}` });
    });
  });
}

function execCheck(
  command: readonly string[],
  target: ProbeTarget,
  timeoutMs: number,
): Promise<ProbeOutcome> {
  const [file, ...args] = command;
  if (file === undefined) {
    return Promise.resolve({ success: false, message: 'exec probe has no command' });
  }
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { env: target.env, cwd: target.cwd, timeout: timeoutMs, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        if (err === null) resolve({ success: true });
        else resolve({ success: false, message: `${err.message} ${stdout}${stderr}`.trim() });
      },
    );
  });
}
