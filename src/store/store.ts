/**
 * The Store contract: every piece of state portcullis keeps (tokens, registrations, discovery
 * results, PKCE verifiers, codes, grants, consent, sessions) goes through these verbs.
 * Modelled on node-oidc-provider's adapters: the protocol code never knows the backend.
 *
 * Values are JSON-serialisable. `ns` is a namespace ("tokens", "clients", …), `key` any string
 * (backends must accept any characters, e.g. a full server URL), except U+0000, which Postgres
 * text cannot hold: every backend rejects it with a TypeError so they all behave alike.
 *
 * Keys are identifiers, not secrets: backends keep them in the clear (file names, row keys, and
 * next to the ciphertext under the encryption wrapper). Key one-time values and tokens by their hash.
 *
 * Failures of the backend itself reject with `StoreError`; `close()` is idempotent, and a closed
 * store rejects every further call with `StoreError('store_unavailable')`.
 */
export interface SetOptions {
  /** Seconds until the entry expires; absent = never. */
  ttlSeconds?: number;
}

export interface LockOptions {
  /** How long to wait for the lock before failing with `StoreError('lock_timeout')`. Default 30 s. */
  timeoutMs?: number;
}

export interface Store {
  get<T>(ns: string, key: string): Promise<T | undefined>;
  set<T>(ns: string, key: string, value: T, opts?: SetOptions): Promise<void>;
  delete(ns: string, key: string): Promise<void>;
  /** Atomic get-and-delete, for one-time values (state, codes): two concurrent takers never both win. */
  take<T>(ns: string, key: string): Promise<T | undefined>;
  /**
   * Mutual exclusion on (ns, key) across callers, processes and replicas sharing the backend.
   * Locks are independent of values: locking a key neither reads nor creates it. Not re-entrant:
   * calling `withLock` on the same (ns, key) from inside `fn` waits for itself and times out.
   */
  withLock<R>(ns: string, key: string, fn: () => Promise<R>, opts?: LockOptions): Promise<R>;
  /** Every key in a namespace (unexpired). Used by `status` and `logout --all`. */
  list(ns: string): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * - `store_unavailable`: the backend cannot be reached or used (down, unreadable, closed, driver
 *   not installed, a held lock lost to staleness).
 * - `lock_timeout`: `withLock` waited `timeoutMs` without getting the lock.
 * - `corrupt_value`: a stored value is not what the store wrote (unparseable JSON, bad envelope).
 * - `decrypt_failed`: the encryption wrapper could not authenticate a value (wrong key, tampered,
 *   or moved to another key).
 */
export type StoreErrorCode = 'store_unavailable' | 'lock_timeout' | 'corrupt_value' | 'decrypt_failed';

/**
 * A failure of the storage layer itself, with a stable code a host can switch on. Its message
 * never holds a stored value (nor, for the encryption wrapper, anything about the key).
 */
export class StoreError extends Error {
  override readonly name = 'StoreError';
  readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
