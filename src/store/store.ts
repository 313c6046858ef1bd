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

/** What an `update` does: store `set` (as `set(ns, key, value, { ttlSeconds })`), delete, or neither. */
export interface StoreUpdate<T, R> {
  /** What `update` resolves to. */
  result: R;
  set?: { value: T; ttlSeconds?: number };
  delete?: boolean;
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
  /**
   * Optional: an atomic read-modify-write of one entry in a single backend round, for hot paths
   * (a refresh-token rotation). `fn` gets the current value (undefined when absent or expired)
   * and returns the `StoreUpdate` to apply; it runs excluded from every `withLock(ns, key)` holder
   * and every other `update` of the key, in this process and any other sharing the backend.
   * `fn` is synchronous and must not do I/O. When `fn` throws, nothing is written and the error
   * passes through. Backends without it: use `withLock` + `get` + `set` (see `updateEntry`).
   */
  update?<T, R>(
    ns: string,
    key: string,
    fn: (current: T | undefined) => StoreUpdate<T, R>,
    opts?: LockOptions,
  ): Promise<R>;
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

/**
 * `store.update` where the backend has it, else the same read-modify-write under `withLock`
 * (two or three round trips instead of one, same guarantees).
 */
export async function updateEntry<T, R>(
  store: Store,
  ns: string,
  key: string,
  fn: (current: T | undefined) => StoreUpdate<T, R>,
  opts?: LockOptions,
): Promise<R> {
  if (store.update) return store.update(ns, key, fn, opts);
  return store.withLock(
    ns,
    key,
    async () => {
      const change = fn(await store.get<T>(ns, key));
      if (change.delete) await store.delete(ns, key);
      else if (change.set) {
        const { value, ttlSeconds } = change.set;
        await store.set(ns, key, value, ttlSeconds === undefined ? undefined : { ttlSeconds });
      }
      return change.result;
    },
    opts,
  );
}
