/**
 * The SQLite store (better-sqlite3, an optional peer loaded on demand): one `kv` table in WAL
 * mode, `take` as `DELETE … RETURNING`, and cross-process locks as lease rows in a `locks` table
 * claimed inside `BEGIN IMMEDIATE`. `update` is one `BEGIN IMMEDIATE` transaction (read, `fn`,
 * write: one commit instead of the three of claim + set + release), behind the same in-process
 * mutex as `withLock`, and waiting while another process holds a lease row on the key.
 * The embedded default for the gateway.
 */
import { randomUUID } from 'node:crypto';
import { chmod, mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import {
  assertEntryName,
  assertOpen,
  type Clock,
  decodeValue,
  encodeValue,
  expiresAtFrom,
  isExpired,
} from './entry.js';
import {
  DEFAULT_LOCK_TIMEOUT_MS,
  KeyedMutex,
  keepLeaseAlive,
  LOCK_LEASE_MS,
  lockLost,
  lockTimeout,
  pollUntilAcquired,
  runExclusive,
} from './lock.js';
import { type LockOptions, type SetOptions, type Store, StoreError, type StoreUpdate } from './store.js';

export interface SqliteStoreOptions {
  /** The database file (its directory is created 0700, the file 0600), or `:memory:`. */
  path: string;
  clock?: Clock;
  /** How long one statement waits for another connection's write lock. Default 5 s. */
  busyTimeoutMs?: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS kv (
  ns TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  expires_at INTEGER,
  PRIMARY KEY (ns, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS locks (
  ns TEXT NOT NULL,
  key TEXT NOT NULL,
  owner TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (ns, key)
) WITHOUT ROWID;
`;

interface Row {
  value: string;
  expiresAt: number | null;
}

function unavailable(err: unknown, what: string): StoreError {
  if (err instanceof StoreError) return err;
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : 'error';
  return new StoreError('store_unavailable', `sqlite store: cannot ${what} (${code})`, { cause: err });
}

async function loadDriver(): Promise<typeof BetterSqlite3> {
  try {
    return (await import('better-sqlite3')).default;
  } catch (err) {
    throw new StoreError('store_unavailable', 'install better-sqlite3 to use the sqlite store', {
      cause: err,
    });
  }
}

/** Creates the database file 0600 before SQLite does, so it (and its -wal, -shm) never exist wider. */
async function prepareDatabaseFile(file: string): Promise<void> {
  const dir = path.dirname(file);
  if ((await mkdir(dir, { recursive: true, mode: 0o700 })) !== undefined) await chmod(dir, 0o700);
  const handle = await open(file, 'a', 0o600);
  await handle.close();
  await chmod(file, 0o600);
}

export async function createSqliteStore(options: SqliteStoreOptions): Promise<Store> {
  const Database = await loadDriver();
  const clock = options.clock ?? Date.now;
  const inMemory = options.path === ':memory:';
  let db: BetterSqlite3.Database;
  try {
    if (!inMemory) await prepareDatabaseFile(options.path);
    db = new Database(options.path, { timeout: options.busyTimeoutMs ?? 5_000 });
  } catch (err) {
    throw unavailable(err, `open ${options.path}`);
  }
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL'); // with WAL: durable at checkpoints, never corrupt
    db.exec(SCHEMA);
  } catch (err) {
    db.close();
    throw unavailable(err, `set up ${options.path}`);
  }

  const sql = {
    get: db.prepare<[string, string], Row>(
      'SELECT value, expires_at AS expiresAt FROM kv WHERE ns = ? AND key = ?',
    ),
    removeIfExpired: db.prepare('DELETE FROM kv WHERE ns = ? AND key = ? AND expires_at <= ?'),
    upsert: db.prepare(
      `INSERT INTO kv (ns, key, value, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
    ),
    delete: db.prepare('DELETE FROM kv WHERE ns = ? AND key = ?'),
    take: db.prepare<[string, string], Row>(
      'DELETE FROM kv WHERE ns = ? AND key = ? RETURNING value, expires_at AS expiresAt',
    ),
    sweep: db.prepare('DELETE FROM kv WHERE ns = ? AND expires_at <= ?'),
    list: db.prepare<[string, number], { key: string }>(
      'SELECT key FROM kv WHERE ns = ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY key',
    ),
    // Claim a free lock, or one whose holder's lease ran out.
    claimLock: db.prepare(
      `INSERT INTO locks (ns, key, owner, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (ns, key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
       WHERE locks.expires_at <= ?`,
    ),
    renewLock: db.prepare('UPDATE locks SET expires_at = ? WHERE ns = ? AND key = ? AND owner = ?'),
    lockHeld: db.prepare<[string, string, number], { one: number }>(
      'SELECT 1 AS one FROM locks WHERE ns = ? AND key = ? AND expires_at > ?',
    ),
    releaseLock: db.prepare('DELETE FROM locks WHERE ns = ? AND key = ? AND owner = ?'),
  };
  const claimLock = db.transaction((ns: string, key: string, owner: string, now: number) => {
    return sql.claimLock.run(ns, key, owner, now + LOCK_LEASE_MS, now).changes === 1;
  });
  /**
   * One read-modify-write in one immediate transaction; `undefined` (nothing done) while another
   * process holds a `withLock` lease on the key. `fn` throwing rolls back.
   */
  const updateOnce = db.transaction(
    (ns: string, key: string, fn: (current: unknown) => StoreUpdate<unknown, unknown>) => {
      if (sql.lockHeld.get(ns, key, Date.now()) !== undefined) return undefined;
      const row = sql.get.get(ns, key);
      const now = clock();
      const live = row !== undefined && !isExpired(row.expiresAt, now);
      const change = fn(
        live ? decodeValue(row.value, `sqlite ${options.path} (namespace "${ns}")`) : undefined,
      );
      if (change.delete) sql.delete.run(ns, key);
      else if (change.set) {
        const { value, ttlSeconds } = change.set;
        const text = encodeValue(value);
        const expiresAt = expiresAtFrom(ttlSeconds === undefined ? undefined : { ttlSeconds }, now) ?? null;
        sql.upsert.run(ns, key, text, expiresAt);
      } else if (row !== undefined && !live) sql.removeIfExpired.run(ns, key, now);
      return { result: change.result };
    },
  );
  const mutex = new KeyedMutex();
  let closed = false;

  function run<T>(what: string, statement: () => T): T {
    assertOpen(closed, 'sqlite');
    try {
      return statement();
    } catch (err) {
      throw unavailable(err, what);
    }
  }

  function liveValue<T>(row: Row | undefined, ns: string): T | undefined {
    if (row === undefined || isExpired(row.expiresAt, clock())) return undefined;
    return decodeValue<T>(row.value, `sqlite ${options.path} (namespace "${ns}")`);
  }

  return {
    async get<T>(ns: string, key: string): Promise<T | undefined> {
      assertEntryName(ns, key);
      const row = run('read', () => sql.get.get(ns, key));
      if (row !== undefined && isExpired(row.expiresAt, clock())) {
        // Conditional, so a value another process just wrote is never removed.
        run('delete', () => sql.removeIfExpired.run(ns, key, clock()));
      }
      return liveValue<T>(row, ns);
    },

    async set<T>(ns: string, key: string, value: T, opts?: SetOptions): Promise<void> {
      assertEntryName(ns, key);
      const text = encodeValue(value);
      const expiresAt = expiresAtFrom(opts, clock()) ?? null;
      run('write', () => sql.upsert.run(ns, key, text, expiresAt));
    },

    async delete(ns: string, key: string): Promise<void> {
      assertEntryName(ns, key);
      run('delete', () => sql.delete.run(ns, key));
    },

    async take<T>(ns: string, key: string): Promise<T | undefined> {
      assertEntryName(ns, key);
      return liveValue<T>(
        run('take', () => sql.take.get(ns, key)),
        ns,
      );
    },

    async withLock<R>(ns: string, key: string, fn: () => Promise<R>, opts?: LockOptions): Promise<R> {
      assertEntryName(ns, key);
      assertOpen(closed, 'sqlite');
      return runExclusive({
        mutex,
        ns,
        key,
        opts,
        fn,
        acquireRemote: async (deadline, timeout) => {
          const owner = randomUUID();
          // Lease times are wall-clock: they are compared across processes.
          const tryClaim = async () => {
            try {
              assertOpen(closed, 'sqlite');
              return claimLock.immediate(ns, key, owner, Date.now());
            } catch (err) {
              if (err instanceof Error && 'code' in err && err.code === 'SQLITE_BUSY') return false;
              throw unavailable(err, 'take a lock');
            }
          };
          await pollUntilAcquired(tryClaim, deadline, timeout);
          const lease = keepLeaseAlive(
            async () =>
              run('renew a lock', () => sql.renewLock.run(Date.now() + LOCK_LEASE_MS, ns, key, owner))
                .changes === 1,
            LOCK_LEASE_MS,
          );
          return async () => {
            const lost = await lease.stop();
            run('release a lock', () => sql.releaseLock.run(ns, key, owner));
            if (lost !== undefined) throw lockLost(ns, lost);
          };
        },
      });
    },

    async update<T, R>(
      ns: string,
      key: string,
      fn: (current: T | undefined) => StoreUpdate<T, R>,
      opts?: LockOptions,
    ): Promise<R> {
      assertEntryName(ns, key);
      assertOpen(closed, 'sqlite');
      const apply = fn as (current: unknown) => StoreUpdate<unknown, unknown>;
      const attempt = (): { result: unknown } | undefined => {
        assertOpen(closed, 'sqlite');
        try {
          return updateOnce.immediate(ns, key, apply);
        } catch (err) {
          if (err instanceof Error && 'code' in err && err.code === 'SQLITE_BUSY') return undefined;
          // fn's own errors pass through untouched; the database's become store_unavailable.
          if (err instanceof Error && 'code' in err && String(err.code).startsWith('SQLITE_')) {
            throw unavailable(err, 'update');
          }
          throw err;
        }
      };
      // The common case, with no waiting: nobody in this process holds or awaits the key, and the
      // transaction runs synchronously, so nothing of ours can come between (no mutex needed).
      if (!mutex.isHeld(`${ns}\0${key}`)) {
        const done = attempt();
        if (done !== undefined) return done.result as R;
      }
      const timeoutMs = opts?.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
      const deadline = performance.now() + timeoutMs;
      return runExclusive({
        mutex,
        ns,
        key,
        opts,
        fn: async () => {
          let done: { result: unknown } | undefined;
          await pollUntilAcquired(
            async () => {
              done = attempt();
              return done !== undefined;
            },
            deadline,
            () => lockTimeout(ns, timeoutMs),
          );
          return done!.result as R;
        },
      });
    },

    async list(ns: string): Promise<string[]> {
      assertEntryName(ns, '');
      const now = clock();
      run('delete expired entries', () => sql.sweep.run(ns, now));
      return run('list', () => sql.list.all(ns, now)).map((row) => row.key);
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      db.close();
    },
  };
}
