/** The undici files undiciParts.ts loads, typed as undici's index exports them. */
declare module 'undici/lib/api/index.js' {
  const api: object;
  export default api;
}
declare module 'undici/lib/core/errors.js' {
  import type { errors } from 'undici';
  const value: typeof errors;
  export default value;
}
declare module 'undici/lib/dispatcher/dispatcher.js' {
  import type { Dispatcher } from 'undici';
  const value: typeof Dispatcher;
  export default value;
}
declare module 'undici/lib/dispatcher/env-http-proxy-agent.js' {
  import type { EnvHttpProxyAgent } from 'undici';
  const value: typeof EnvHttpProxyAgent;
  export default value;
}
declare module 'undici/lib/dispatcher/pool.js' {
  import type { Pool } from 'undici';
  const value: typeof Pool;
  export default value;
}
