/**
 * The Postgres store (pg, an optional peer loaded on demand), for multi-tenant host apps: one
 * `portcullis_kv` table migrated idempotently under an advisory lock, expiry against the
 * server's clock, `take` as `DELETE … RETURNING`, and `withLock` as a session advisory lock
 * polled with `pg_try_advisory_lock` on one dedicated connection.
 */
import type { Pool, PoolClient } from 'pg';
import { type Logger, silentLogger } from '../logger.js';
import { assertEntryName, assertOpen, decodeValue, encodeValue, ttlMilliseconds } from './entry.js';
import { KeyedMutex, lockLost, pollUntilAcquired, runExclusive } from './lock.js';
import { type LockOptions, type SetOptions, type Store, StoreError } from './store.js';

interface PostgresStoreCommonOptions {
  /** Where `portcullis_kv` lives; created if absent. Default `public`. */
  schema?: string;
  /** Default 2 s. */
  connectTimeoutMs?: number;
  logger?: Logger;
}

export type PostgresStoreOptions = PostgresStoreCommonOptions &
  (
    | { /** `postgres://…`; the store owns its pool. */ connectionString: string; pool?: never }
    | {
        /** A pool the caller owns: `close()` leaves it open. `withLock` keeps one of its connections. */
        pool: Pool;
        connectionString?: never;
      }
  );

/** The schema's SQL, run by every process at start; idempotent, and serialised by the caller. */
export function postgresSchemaSql(schema: string): string {
  const table = `${quoteIdentifier(schema)}.portcullis_kv`;
  return `
CREATE TABLE IF NOT EXISTS ${table} (
  ns text NOT NULL,
  key text NOT NULL,
  value jsonb NOT NULL,
  expires_at timestamptz,
  PRIMARY KEY (ns, key)
);
CREATE INDEX IF NOT EXISTS portcullis_kv_expires_at ON ${table} (expires_at) WHERE expires_at IS NOT NULL;
`;
}

/** A fixed advisory-lock id for migrations: two processes starting at once take turns. */
const MIGRATION_LOCK = 'portcullis:migrate';

function quoteIdentifier(name: string): string {
  if (name.length === 0 || name.includes('\0')) throw new TypeError('schema must be a non-empty name');
  return `"${name.replace(/"/g, '""')}"`;
}

/** A pg error as ours: the backend failing is `store_unavailable`; a value it cannot hold is a TypeError. */
function failure(err: unknown, what: string): StoreError | TypeError {
  if (err instanceof StoreError) return err;
  // 22P02 / 22P05: jsonb refuses U+0000 and unpaired surrogates in strings; retrying cannot help.
  // No cause: the pg error's `where` quotes the JSON text, which may hold a secret.
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : 'error';
  if (code === '22P02' || code === '22P05') {
    return new TypeError(
      `postgres store: jsonb cannot hold this value (${code}: U+0000 or a lone surrogate)`,
    );
  }
  // pg errors carry a SQLSTATE or an errno code; the connection string is never in them.
  return new StoreError('store_unavailable', `postgres store: cannot ${what} (${code})`, { cause: err });
}

async function createPool(connectionString: string, connectTimeoutMs: number, logger: Logger): Promise<Pool> {
  let PgPool: typeof Pool;
  try {
    PgPool = (await import('pg')).default.Pool;
  } catch (err) {
    throw new StoreError('store_unavailable', 'install pg to use the postgres store', { cause: err });
  }
  const pool = new PgPool({ connectionString, connectionTimeoutMillis: connectTimeoutMs });
  // An idle connection that drops emits 'error' on the pool; unheard, it would end the process.
  pool.on('error', (err) => logger.warn({ err: err.message }, 'postgres store connection error'));
  return pool;
}

async function migrate(pool: Pool, schema: string): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [MIGRATION_LOCK]);
    // CREATE SCHEMA needs CREATE on the database even when the schema exists: ask first.
    const found = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    if (found.rowCount === 0) await client.query(`CREATE SCHEMA ${quoteIdentifier(schema)}`);
    await client.query(postgresSchemaSql(schema));
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

/** The one connection that holds this store's advisory locks, and whether it has since broken. */
interface LockSession {
  client: PoolClient;
  broken: Error | undefined;
}

export async function createPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const schema = options.schema ?? 'public';
  const logger = options.logger ?? silentLogger;
  const ownsPool = options.pool === undefined;
  const pool =
    options.pool ?? (await createPool(options.connectionString, options.connectTimeoutMs ?? 2_000, logger));
  try {
    await migrate(pool, schema);
  } catch (err) {
    if (ownsPool) await pool.end().catch(() => {});
    throw failure(err, 'connect and migrate');
  }

  const table = `${quoteIdentifier(schema)}.portcullis_kv`;
  const mutex = new KeyedMutex();
  let closed = false;
  let lockSession: Promise<LockSession> | undefined;

  async function query<Row extends Record<string, unknown>>(what: string, text: string, values: unknown[]) {
    assertOpen(closed, 'postgres');
    try {
      return (await pool.query<Row>(text, values)).rows;
    } catch (err) {
      throw failure(err, what);
    }
  }

  /** Lazily opens the lock connection; a broken one is dropped and replaced on the next call. */
  function lockConnection(): Promise<LockSession> {
    if (lockSession === undefined) {
      const opening = pool.connect().then((client) => {
        const session: LockSession = { client, broken: undefined };
        const onBroken = (err?: Error) => {
          session.broken ??= err ?? new Error('the lock connection ended');
          if (lockSession === opening) lockSession = undefined;
        };
        client.on('error', onBroken);
        client.on('end', () => onBroken());
        return session;
      });
      lockSession = opening;
      opening.catch(() => {
        if (lockSession === opening) lockSession = undefined;
      });
    }
    return lockSession;
  }

  type ValueRow = { value: string; expired: boolean };
  const where = (ns: string) => `postgres ${schema}.portcullis_kv (namespace "${ns}")`;

  return {
    async get<T>(ns: string, key: string): Promise<T | undefined> {
      assertEntryName(ns, key);
      const [row] = await query<ValueRow>(
        'read',
        `SELECT value::text AS value, (expires_at IS NOT NULL AND expires_at <= now()) AS expired
         FROM ${table} WHERE ns = $1 AND key = $2`,
        [ns, key],
      );
      if (row === undefined) return undefined;
      if (row.expired) {
        // Conditional, so a value another process just wrote is never removed.
        await query('delete', `DELETE FROM ${table} WHERE ns = $1 AND key = $2 AND expires_at <= now()`, [
          ns,
          key,
        ]);
        return undefined;
      }
      return decodeValue<T>(row.value, where(ns));
    },

    async set<T>(ns: string, key: string, value: T, opts?: SetOptions): Promise<void> {
      assertEntryName(ns, key);
      const text = encodeValue(value);
      const ttl = ttlMilliseconds(opts) ?? null;
      await query(
        'write',
        `INSERT INTO ${table} (ns, key, value, expires_at)
         VALUES ($1, $2, $3::jsonb, now() + $4::double precision * interval '1 millisecond')
         ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
        [ns, key, text, ttl],
      );
    },

    async delete(ns: string, key: string): Promise<void> {
      assertEntryName(ns, key);
      await query('delete', `DELETE FROM ${table} WHERE ns = $1 AND key = $2`, [ns, key]);
    },

    async take<T>(ns: string, key: string): Promise<T | undefined> {
      assertEntryName(ns, key);
      const [row] = await query<ValueRow>(
        'take',
        `DELETE FROM ${table} WHERE ns = $1 AND key = $2
         RETURNING value::text AS value, (expires_at IS NOT NULL AND expires_at <= now()) AS expired`,
        [ns, key],
      );
      return row === undefined || row.expired ? undefined : decodeValue<T>(row.value, where(ns));
    },

    async withLock<R>(ns: string, key: string, fn: () => Promise<R>, opts?: LockOptions): Promise<R> {
      assertEntryName(ns, key);
      assertOpen(closed, 'postgres');
      // The schema is part of the lock id, so deployments in different schemas never contend.
      const lockId = [`${schema}:${ns}`, key];
      return runExclusive({
        mutex,
        ns,
        key,
        opts,
        fn,
        acquireRemote: async (deadline, timeout) => {
          let session: LockSession | undefined;
          const tryLock = async () => {
            assertOpen(closed, 'postgres');
            try {
              session = await lockConnection();
              const { rows } = await session.client.query<{ ok: boolean }>(
                'SELECT pg_try_advisory_lock(hashtext($1), hashtext($2)) AS ok',
                lockId,
              );
              return rows[0]?.ok === true;
            } catch (err) {
              throw failure(err, 'take a lock');
            }
          };
          await pollUntilAcquired(tryLock, deadline, timeout);
          const held = session!;
          return async () => {
            // A lock connection that broke while we held the lock took the lock with it.
            if (held.broken !== undefined) throw lockLost(ns, held.broken);
            try {
              await held.client.query('SELECT pg_advisory_unlock(hashtext($1), hashtext($2))', lockId);
            } catch (err) {
              throw lockLost(ns, err instanceof Error ? err : new Error(String(err)));
            }
          };
        },
      });
    },

    async list(ns: string): Promise<string[]> {
      assertEntryName(ns, '');
      await query('delete expired entries', `DELETE FROM ${table} WHERE ns = $1 AND expires_at <= now()`, [
        ns,
      ]);
      const rows = await query<{ key: string }>(
        'list',
        `SELECT key FROM ${table} WHERE ns = $1 AND (expires_at IS NULL OR expires_at > now()) ORDER BY key`,
        [ns],
      );
      return rows.map((row) => row.key);
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      const session = await lockSession?.catch(() => undefined);
      lockSession = undefined;
      // Releasing with an error destroys the connection, ending its session and any lock in it.
      session?.client.release(session.broken ?? true);
      if (ownsPool) await pool.end();
    },
  };
}
