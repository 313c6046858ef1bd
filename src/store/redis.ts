/**
 * The Redis store (ioredis, an optional peer loaded on demand), for gateway replicas: native TTL
 * (`SET … PX`), `take` as `GETDEL`, and locks as `SET NX PX` leases released by a token-checked
 * Lua script. Fails fast when Redis is down: no offline queue, one retry per command.
 * A standalone server (or a primary behind Sentinel); `list` uses SCAN, which Cluster splits.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { type Logger, silentLogger } from '../logger.js';
import { assertEntryName, assertOpen, decodeValue, encodeValue, ttlMilliseconds } from './entry.js';
import {
  KeyedMutex,
  keepLeaseAlive,
  LOCK_LEASE_MS,
  lockLost,
  pollUntilAcquired,
  runExclusive,
} from './lock.js';
import { type LockOptions, type SetOptions, type Store, StoreError } from './store.js';

interface RedisStoreCommonOptions {
  /** Put before every key, so several deployments can share one Redis. Default `portcullis:`. */
  prefix?: string;
  /** Default 2 s. */
  connectTimeoutMs?: number;
  logger?: Logger;
}

export type RedisStoreOptions = RedisStoreCommonOptions &
  (
    | { /** `redis://` or `rediss://`; the store owns the connection. */ url: string; client?: never }
    | { /** A connected client the caller owns: `close()` leaves it open. */ client: Redis; url?: never }
  );

// Release and renew only a lock we still own: compare the token, then act, in one atomic step.
const RELEASE_LOCK = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
const RENEW_LOCK = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;

function unavailable(err: unknown, what: string): StoreError {
  if (err instanceof StoreError) return err;
  // ioredis messages name host and port at most; the URL (and its password) never reaches them.
  const detail = err instanceof Error ? err.message : String(err);
  return new StoreError('store_unavailable', `redis store: cannot ${what} (${detail})`, {
    cause: withoutCommandArguments(err),
  });
}

/** ioredis hangs the failed command's arguments (a value, a lock token) on its errors: drop them. */
function withoutCommandArguments(err: unknown): unknown {
  if (!(err instanceof Error) || !('command' in err)) return err;
  const copy = new Error(err.message);
  copy.name = err.name;
  return copy;
}

/** SCAN MATCH treats `* ? [ ] \` as glob syntax; the prefix and namespace are literal. */
function globLiteral(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

async function connect(url: string, connectTimeoutMs: number, logger: Logger): Promise<Redis> {
  let RedisClient: typeof Redis;
  try {
    RedisClient = (await import('ioredis')).Redis;
  } catch (err) {
    throw new StoreError('store_unavailable', 'install ioredis to use the redis store', { cause: err });
  }
  const client = new RedisClient(url, {
    lazyConnect: true,
    connectTimeout: connectTimeoutMs,
    enableOfflineQueue: false, // a command while disconnected fails now instead of waiting
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000), // reconnect in the background
  });
  // Without a listener, ioredis prints connection errors to the console; they reach callers as
  // failed commands anyway.
  client.on('error', (err: Error) => logger.warn({ err: err.message }, 'redis store connection error'));
  try {
    await client.connect();
  } catch (err) {
    client.disconnect();
    throw unavailable(err, 'connect');
  }
  return client;
}

export async function createRedisStore(options: RedisStoreOptions): Promise<Store> {
  const prefix = options.prefix ?? 'portcullis:';
  const logger = options.logger ?? silentLogger;
  const ownsClient = options.client === undefined;
  const client = options.client ?? (await connect(options.url, options.connectTimeoutMs ?? 2_000, logger));
  const mutex = new KeyedMutex();
  let closed = false;

  // The namespace is percent-encoded so it holds no `:`; whatever follows it is the key.
  const namespacePrefix = (ns: string) => `${prefix}kv:${encodeURIComponent(ns)}:`;
  const valueKey = (ns: string, key: string) => namespacePrefix(ns) + key;
  const lockKey = (ns: string, key: string) => `${prefix}lock:${encodeURIComponent(ns)}:${key}`;

  async function command<T>(what: string, send: () => Promise<T>): Promise<T> {
    assertOpen(closed, 'redis');
    try {
      return await send();
    } catch (err) {
      throw unavailable(err, what);
    }
  }

  return {
    async get<T>(ns: string, key: string): Promise<T | undefined> {
      assertEntryName(ns, key);
      const text = await command('read', () => client.get(valueKey(ns, key)));
      return text === null ? undefined : decodeValue<T>(text, `redis (namespace "${ns}")`);
    },

    async set<T>(ns: string, key: string, value: T, opts?: SetOptions): Promise<void> {
      assertEntryName(ns, key);
      const text = encodeValue(value);
      const ttl = ttlMilliseconds(opts);
      const target = valueKey(ns, key);
      // A plain SET also clears any TTL the previous value had.
      await command('write', () =>
        ttl === undefined ? client.set(target, text) : client.set(target, text, 'PX', ttl),
      );
    },

    async delete(ns: string, key: string): Promise<void> {
      assertEntryName(ns, key);
      await command('delete', () => client.del(valueKey(ns, key)));
    },

    async take<T>(ns: string, key: string): Promise<T | undefined> {
      assertEntryName(ns, key);
      const text = await command('take', () => client.getdel(valueKey(ns, key)));
      return text === null ? undefined : decodeValue<T>(text, `redis (namespace "${ns}")`);
    },

    async withLock<R>(ns: string, key: string, fn: () => Promise<R>, opts?: LockOptions): Promise<R> {
      assertEntryName(ns, key);
      assertOpen(closed, 'redis');
      const target = lockKey(ns, key);
      return runExclusive({
        mutex,
        ns,
        key,
        opts,
        fn,
        acquireRemote: async (deadline, timeout) => {
          const token = randomUUID();
          const tryClaim = async () =>
            (await command('take a lock', () => client.set(target, token, 'PX', LOCK_LEASE_MS, 'NX'))) ===
            'OK';
          await pollUntilAcquired(tryClaim, deadline, timeout);
          const lease = keepLeaseAlive(
            async () =>
              (await command('renew a lock', () =>
                client.eval(RENEW_LOCK, 1, target, token, LOCK_LEASE_MS),
              )) === 1,
            LOCK_LEASE_MS,
          );
          return async () => {
            const lost = await lease.stop();
            const released = await command('release a lock', () =>
              client.eval(RELEASE_LOCK, 1, target, token),
            );
            if (lost !== undefined) throw lockLost(ns, lost);
            if (released !== 1) throw lockLost(ns, new Error('the lock lease expired before release'));
          };
        },
      });
    },

    async list(ns: string): Promise<string[]> {
      assertEntryName(ns, '');
      const start = namespacePrefix(ns);
      const pattern = `${globLiteral(start)}*`;
      const keys = new Set<string>(); // SCAN may return a key more than once
      let cursor = '0';
      do {
        const [next, batch] = await command('list', () =>
          client.scan(cursor, 'MATCH', pattern, 'COUNT', 500),
        );
        for (const found of batch) keys.add(found.slice(start.length));
        cursor = next;
      } while (cursor !== '0');
      return [...keys].sort();
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      if (!ownsClient) return;
      try {
        await client.quit();
      } catch {
        client.disconnect(); // quit needs a live connection; disconnect does not
      }
    },
  };
}
