/**
 * The parts of undici the runtime uses: the keep-alive pool, the egress proxy agent and the
 * error classes, each from its own file. undici's index loads every other part with them
 * (fetch, WebSocket, EventSource, the HTTP cache, the mock agents: about 13 MB resident in a
 * fresh process), which no call of the runtime needs. The one thing the index does besides
 * loading is to give every dispatcher `request()`, `stream()` and the rest of its API, which
 * `upstreamFetch.ts` and the MCP tool calls use; it is done here the same way (idempotent, so a
 * later import of the index changes nothing). The classes are the index's own: its types hold
 * (undiciFiles.d.ts). Static imports, so that the runtime's bundle (tools/build/bundlePrograms.ts)
 * holds these files and no other of undici's: undici is CommonJS, and esbuild cannot leave the
 * rest of an index out. A version of undici that moves them fails the bundle's build, and every
 * test that calls a provider.
 */
import dispatcherApi from 'undici/lib/api/index.js';
import errors from 'undici/lib/core/errors.js';
import Dispatcher from 'undici/lib/dispatcher/dispatcher.js';
import EnvHttpProxyAgent from 'undici/lib/dispatcher/env-http-proxy-agent.js';
import Pool from 'undici/lib/dispatcher/pool.js';

Object.assign(Dispatcher.prototype, dispatcherApi);

export { EnvHttpProxyAgent, errors, Pool };
