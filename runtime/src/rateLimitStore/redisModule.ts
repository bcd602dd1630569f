/**
 * @redis/client, loaded when a policy first names a store or durability rather than at start:
 * it holds about 25 MB of a process alone and takes 0.1–0.3 s to load on a busy node
 * (bench/results/memory.json), which a pod without a store need not pay. The policy's modules
 * (policy/policyModules.ts) load it before such a policy is applied; a client made without
 * that (a test that opens a store itself) loads it there, synchronously.
 */
import { createRequire } from 'node:module';

type RedisClientModule = typeof import('@redis/client');

let loaded: RedisClientModule | undefined;
let loading: Promise<RedisClientModule> | undefined;

/** Loads the package once; every caller after the first gets the same promise. */
export function loadRedisClient(): Promise<RedisClientModule> {
  loading ??= import('@redis/client').then((m) => (loaded = m));
  return loading;
}

export function redisClientLoaded(): boolean {
  return loaded !== undefined;
}

/** The package, loaded by now (or loaded here: it is CommonJS, the same module either way). */
export function redisClientModule(): RedisClientModule {
  loaded ??= createRequire(import.meta.url)('@redis/client') as RedisClientModule;
  return loaded;
}
