/**
 * A RedisStore as the store tests open one: named `agent`, on the system clock, with no
 * password or CA file (a loopback redis-server without auth or TLS).
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StoreSettings } from '../../contract/src/policy/policyDocument.ts';
import { systemClock } from '../../platform/src/time/clock.ts';
import { RedisStore } from '../../runtime/src/rateLimitStore/redisStore.ts';

export function openRedisStore(settings: StoreSettings, onStateChange?: () => void): RedisStore {
  return new RedisStore({
    name: 'agent',
    settings,
    clock: systemClock,
    secretFiles: {
      password: join(tmpdir(), 'none'),
      ca: join(tmpdir(), 'none'),
      sentinelPassword: join(tmpdir(), 'none'),
    },
    ...(onStateChange === undefined ? {} : { onStateChange }),
  });
}
