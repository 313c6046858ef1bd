export { createEncryptedStore, type EncryptedStoreOptions } from './encrypted.js';
export { type LoadEncryptionKeyOptions, loadEncryptionKey, parseEncryptionKey } from './encryption-key.js';
export type { Clock } from './entry.js';
export { createFileStore, type FileStoreOptions, safeFileName } from './file.js';
export { createMemoryStore, type MemoryStoreOptions } from './memory.js';
export { type OpenStoreOptions, openStore } from './open.js';
export { createPostgresStore, type PostgresStoreOptions, postgresSchemaSql } from './postgres.js';
export { createRedisStore, type RedisStoreOptions } from './redis.js';
export { createSqliteStore, type SqliteStoreOptions } from './sqlite.js';
export { defaultStateDir, type StateDirEnvironment } from './state-dir.js';
export {
  type LockOptions,
  type SetOptions,
  type Store,
  StoreError,
  type StoreErrorCode,
  type StoreUpdate,
  updateEntry,
} from './store.js';
