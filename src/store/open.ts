/**
 * One string picks a backend: what `--store` and `PORTCULLIS_STORE` hold.
 *
 *   memory:                  in-process, gone on exit
 *   file:<dir> | file:///…   one file per entry (empty: `defaultStateDir()`)
 *   sqlite:<path>            one database file (`sqlite::memory:` for an in-memory one)
 *   redis://… | rediss://…   Redis
 *   postgres://… | postgresql://…
 */
import { fileURLToPath } from 'node:url';
import type { Logger } from '../logger.js';
import { createEncryptedStore } from './encrypted.js';
import type { Clock } from './entry.js';
import { createFileStore } from './file.js';
import { createMemoryStore } from './memory.js';
import { defaultStateDir } from './state-dir.js';
import type { Store } from './store.js';

export interface OpenStoreOptions {
  /** For memory, file and sqlite; Redis and Postgres expire entries by their own clocks. */
  clock?: Clock;
  logger?: Logger;
  /** When given, every value is encrypted at rest with this 32-byte key (see `loadEncryptionKey`). */
  encryptionKey?: Uint8Array;
  /** Redis key prefix. */
  prefix?: string;
  /** Postgres schema. */
  schema?: string;
}

/** Drops absent options, as `exactOptionalPropertyTypes` wants. */
function withoutUndefined<T extends Record<string, unknown>>(
  value: T,
): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}

async function openBackend(spec: string, opts: OpenStoreOptions): Promise<Store> {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(spec)?.[1]?.toLowerCase();
  const clock = withoutUndefined({ clock: opts.clock });
  switch (scheme) {
    case 'memory':
      return createMemoryStore(clock);
    case 'file': {
      const rest = spec.slice('file:'.length);
      const dir = rest.startsWith('//') ? fileURLToPath(spec) : rest || defaultStateDir();
      return createFileStore({ dir, ...clock });
    }
    case 'sqlite': {
      const path = spec.slice('sqlite:'.length);
      if (path === '') throw new TypeError('store spec "sqlite:" needs a path, e.g. sqlite:./portcullis.db');
      const { createSqliteStore } = await import('./sqlite.js');
      return createSqliteStore({ path, ...clock });
    }
    case 'redis':
    case 'rediss': {
      const { createRedisStore } = await import('./redis.js');
      return createRedisStore({
        url: spec,
        ...withoutUndefined({ prefix: opts.prefix, logger: opts.logger }),
      });
    }
    case 'postgres':
    case 'postgresql': {
      const { createPostgresStore } = await import('./postgres.js');
      return createPostgresStore({
        connectionString: spec,
        ...withoutUndefined({ schema: opts.schema, logger: opts.logger }),
      });
    }
    default:
      // Only the scheme is echoed: a URL may carry a password.
      throw new TypeError(
        `unknown store "${scheme ?? ''}:"; use memory:, file:<dir>, sqlite:<path>, redis://… or postgres://…`,
      );
  }
}

/** Opens the store `spec` names, wrapped in at-rest encryption when `encryptionKey` is given. */
export async function openStore(spec: string, opts: OpenStoreOptions = {}): Promise<Store> {
  const store = await openBackend(spec, opts);
  return opts.encryptionKey === undefined ? store : createEncryptedStore(store, { key: opts.encryptionKey });
}
