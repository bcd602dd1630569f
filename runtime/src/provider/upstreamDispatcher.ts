/**
 * The connection a backend's calls go out on: a keep-alive pool to its origin, or, when the
 * environment names an egress proxy (`HTTPS_PROXY`, `HTTP_PROXY`, and `NO_PROXY` for the
 * exceptions, upper or lower case, as curl reads them), undici's proxy agent. Clusters that
 * reach the internet only through a proxy set these on the pod, and every provider call of
 * the runtime honours them.
 */
import type { Dispatcher } from 'undici';
import { EnvHttpProxyAgent, Pool } from './undiciParts.ts';

type Env = Readonly<Record<string, string | undefined>>;

export interface UpstreamDispatcher {
  readonly dispatcher: Dispatcher;
  /** The dispatch option `origin`: required by the proxy agent, harmless to a pool. */
  readonly origin: string;
  readonly proxied: boolean;
}

const either = (env: Env, name: string): string | undefined => {
  const value = env[name.toUpperCase()] ?? env[name.toLowerCase()];
  return value === '' ? undefined : value;
};

export function upstreamDispatcher(baseURL: string, env: Env): UpstreamDispatcher {
  const origin = new URL(baseURL).origin;
  const httpProxy = either(env, 'http_proxy');
  const httpsProxy = either(env, 'https_proxy');
  if (httpProxy === undefined && httpsProxy === undefined) {
    return { dispatcher: new Pool(origin), origin, proxied: false };
  }
  const noProxy = either(env, 'no_proxy');
  return {
    dispatcher: new EnvHttpProxyAgent({
      ...(httpProxy === undefined ? {} : { httpProxy }),
      ...(httpsProxy === undefined ? {} : { httpsProxy }),
      ...(noProxy === undefined ? {} : { noProxy }),
    }),
    origin,
    proxied: true,
  };
}
